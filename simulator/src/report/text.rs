//! Small plain-text helpers shared by the reports, so a duration, a matrix
//! cell or a truncated log reads the same on the terminal, in CI and in the
//! browser.

use super::model::{CaseResult, StepResult};
use std::collections::BTreeMap;

/// `850ms` below a second, `3.2s` above: steps are often fast, cases and
/// runs are not, and one unit per magnitude keeps columns short.
pub(crate) fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// `backend=external,tls=off`, the same spelling as in case names, so a
/// cell can be searched for in either.
pub(crate) fn matrix_cell(matrix: &BTreeMap<String, String>) -> String {
    matrix.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The first line of a message, for places that hold one line (an XML
/// attribute, a progress line).
pub(crate) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The end of a log: its last `max_lines` lines and at most about
/// `max_bytes`, preceded by a note saying how much was left out. A failing
/// case's cause is nearly always at the end, and CI servers choke on
/// megabytes of XML; the full log stays in `result.json`.
pub(crate) fn tail(text: &str, max_lines: usize, max_bytes: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = lines.len().saturating_sub(max_lines);
    let mut bytes: usize = lines[start..].iter().map(|l| l.len() + 1).sum();
    // Keep at least the last line, even if it alone is too long: it is cut below.
    while bytes > max_bytes && start + 1 < lines.len() {
        bytes -= lines[start].len() + 1;
        start += 1;
    }
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("[… {start} earlier lines omitted; the full log is in result.json]\n"));
    }
    for line in &lines[start..] {
        if line.len() > max_bytes {
            let mut cut = line.len() - max_bytes;
            while !line.is_char_boundary(cut) {
                cut += 1;
            }
            out.push_str("[…]");
            out.push_str(&line[cut..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Removes ANSI escape sequences (colours from a child's stderr) and other
/// control characters except newline and tab: they are noise in a browser
/// and invalid in XML.
pub(crate) fn strip_control(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters… final byte in @..~; other escapes: ESC + one char.
            if chars.next_if_eq(&'[').is_some() {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if c == '\n' || c == '\t' || !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// One step as a line of plain text, with its message indented below:
/// `FAIL  #4  takeover.yaml:23  expect_frame  viewer sees alice  5.0s`.
pub(crate) fn step_line(case: &CaseResult, step: &StepResult) -> String {
    let mut line = format!(
        "{}  #{}  {}:{}  {}  {}  {}",
        step.status.tag(),
        step.index,
        case.file,
        step.line,
        step.kind,
        step.label,
        duration(step.duration_ms)
    );
    if let Some(message) = &step.message {
        for l in message.lines() {
            line.push_str("\n      ");
            line.push_str(l);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_switch_unit_at_a_second() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(999), "999ms");
        assert_eq!(duration(1000), "1.0s");
        assert_eq!(duration(71_349), "71.3s");
    }

    #[test]
    fn tail_keeps_the_end_and_says_what_it_dropped() {
        let log: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        assert_eq!(tail(&log, 20, 1000), log);
        let t = tail(&log, 3, 1000);
        assert_eq!(t, "[… 7 earlier lines omitted; the full log is in result.json]\nline 8\nline 9\nline 10\n");
        // The byte limit bites before the line limit: "line 10\n" is 8 bytes.
        let t = tail(&log, 10, 8);
        assert!(t.starts_with("[… 9 earlier lines omitted"), "{t}");
        assert!(t.ends_with("\nline 10\n"), "{t}");
    }

    #[test]
    fn tail_cuts_one_huge_line_on_a_char_boundary() {
        let log = "é".repeat(100); // 200 bytes
        let t = tail(&log, 10, 51);
        assert!(t.starts_with("[…]é"), "{t}");
        assert_eq!(t.trim_end().trim_start_matches("[…]").chars().count(), 25);
    }

    #[test]
    fn strip_control_removes_colours_and_controls() {
        assert_eq!(strip_control("\x1b[1;31merror\x1b[0m: bad\x07\r\n\tok"), "error: bad\n\tok");
    }

    #[test]
    fn matrix_cell_is_sorted_and_comma_joined() {
        let m = BTreeMap::from([("tls".to_string(), "off".to_string()), ("backend".into(), "external".into())]);
        assert_eq!(matrix_cell(&m), "backend=external,tls=off");
        assert_eq!(matrix_cell(&BTreeMap::new()), "");
    }
}
