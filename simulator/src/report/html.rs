//! The HTML report: one self-contained file (inline CSS, a little inline JS,
//! screenshots as `data:` URIs) that can be mailed, attached to a CI job
//! or opened offline, and printed.
//!
//! Failed cases come first and open; the rest follow in run order, closed.
//! Everything that comes from a scenario, the daemon or the system is
//! escaped with [`escape`]: scenario names and logs are not trusted markup.

use super::model::{CaseResult, RunResult, Screenshot, Status, StepResult};
use super::text;
use base64::Engine;
use std::fmt::Write;

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// How much of a daemon log is shown: more than in JUnit (it is folded
/// away), still bounded so a report with many failures stays openable.
const LOG_LINES: usize = 1000;
const LOG_BYTES: usize = 256 * 1024;

/// Escapes text for HTML element content and quoted attribute values, and
/// drops control characters and ANSI colour codes (see
/// [`text::strip_control`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in text::strip_control(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The run as one HTML document.
pub fn html(run: &RunResult) -> String {
    let order = display_order(run);
    let mut h = String::with_capacity(64 * 1024);
    let (passed, failed, skipped) = (run.count(Status::Passed), run.count(Status::Failed), run.count(Status::Skipped));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>shadowsim: {passed} passed, {failed} failed, {skipped} skipped</title>\n<style>\n{CSS}</style>\n\
         </head>\n<body>\n"
    );
    header(&mut h, run);
    cases_table(&mut h, run, &order);
    h.push_str("<main>\n<h2>Details</h2>\n");
    for &i in &order {
        case_section(&mut h, i, &run.cases[i]);
    }
    h.push_str(
        "</main>\n<footer>Made by shadowsim. The full result, with complete daemon logs, is result.json.</footer>\n",
    );
    let _ = write!(h, "<script>\n{JS}</script>\n</body>\n</html>\n");
    h
}

/// Indexes into `run.cases`: failed ones first, then the rest, each group
/// in run order (which keeps a scenario's matrix cells together).
fn display_order(run: &RunResult) -> Vec<usize> {
    let (mut first, rest): (Vec<usize>, Vec<usize>) =
        (0..run.cases.len()).partition(|&i| run.cases[i].status == Status::Failed);
    first.extend(rest);
    first
}

fn header(h: &mut String, run: &RunResult) {
    let verdict = if run.passed() { Status::Passed } else { Status::Failed };
    let _ = write!(
        h,
        "<header>\n<h1>shadowsim report <span class=\"badge {cls}\">{word}</span></h1>\n\
         <p class=\"totals\"><span class=\"n passed\">{p} passed</span><span class=\"n failed\">{f} failed</span>\
         <span class=\"n skipped\">{s} skipped</span></p>\n<dl class=\"meta\">\n\
         <dt>Started</dt><dd>{started}</dd>\n<dt>Wall time</dt><dd>{wall}</dd>\n\
         <dt>Machine</dt><dd>{machine}</dd>\n<dt>Seed</dt><dd class=\"mono\">{seed}</dd>\n\
         <dt>Jobs</dt><dd>{jobs}</dd>\n</dl>\n</header>\n",
        cls = verdict.as_str(),
        word = if run.passed() { "PASSED" } else { "FAILED" },
        p = run.count(Status::Passed),
        f = run.count(Status::Failed),
        s = run.count(Status::Skipped),
        started = escape(&run.started),
        wall = text::duration(run.duration_ms),
        machine = escape(&run.machine),
        seed = run.seed,
        jobs = run.jobs,
    );
}

/// What the text filter matches: name, tags and matrix cell, lower-cased
/// here so the script only lower-cases the query.
fn search_key(case: &CaseResult) -> String {
    escape(&format!("{} {} {}", case.name, case.tags.join(" "), text::matrix_cell(&case.matrix)).to_lowercase())
}

fn cases_table(h: &mut String, run: &RunResult, order: &[usize]) {
    h.push_str(
        "<section>\n<h2>Cases</h2>\n<div class=\"filter\" hidden>\
         <input type=\"search\" placeholder=\"Filter by name, tag or matrix\" aria-label=\"Filter cases\">\
         <label><input type=\"checkbox\" value=\"failed\" checked> failed</label>\
         <label><input type=\"checkbox\" value=\"passed\" checked> passed</label>\
         <label><input type=\"checkbox\" value=\"skipped\" checked> skipped</label></div>\n\
         <table class=\"cases\">\n<thead><tr><th>Status</th><th>Case</th><th>Matrix</th>\
         <th class=\"num\">Duration</th></tr></thead>\n<tbody>\n",
    );
    for &i in order {
        let c = &run.cases[i];
        let st = c.status.as_str();
        let _ = writeln!(
            h,
            "<tr class=\"{st}\" data-status=\"{st}\" data-search=\"{key}\"><td><span class=\"st\">{tag}</span></td>\
             <td><a href=\"#case-{i}\">{name}</a></td><td class=\"mono\">{cell}</td><td class=\"num\">{dur}</td></tr>",
            key = search_key(c),
            tag = c.status.tag(),
            name = escape(&c.name),
            cell = escape(&text::matrix_cell(&c.matrix)),
            dur = text::duration(c.duration_ms),
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn case_section(h: &mut String, i: usize, c: &CaseResult) {
    let st = c.status.as_str();
    let _ = write!(
        h,
        "<section class=\"case {st}\" id=\"case-{i}\" data-status=\"{st}\" data-search=\"{key}\">\n\
         <details{open}>\n<summary><span class=\"st\">{tag}</span> {name}<span class=\"dur\">{dur}</span>\
         <a class=\"top\" href=\"#\">↑ top</a></summary>\n<div class=\"body\">\n",
        key = search_key(c),
        open = if c.status == Status::Failed { " open" } else { "" },
        tag = c.status.tag(),
        name = escape(&c.name),
        dur = text::duration(c.duration_ms),
    );
    if !c.description.is_empty() {
        let _ = writeln!(h, "<p class=\"desc\">{}</p>", escape(&c.description));
    }
    case_meta(h, c);
    if let Some(message) = &c.message {
        let class = if c.status == Status::Failed { "message" } else { "note" };
        let _ = writeln!(h, "<pre class=\"{class}\">{}</pre>", escape(message));
    }
    steps_table(h, c);
    screenshots(h, &c.steps);
    if c.status == Status::Failed {
        events_table(h, &c.events);
        if let Some(log) = &c.daemon_log {
            let _ = writeln!(
                h,
                "<details class=\"log\"><summary>Daemon log ({} lines)</summary><pre>{}</pre></details>",
                log.lines().count(),
                escape(&text::tail(log, LOG_LINES, LOG_BYTES))
            );
        }
    }
    h.push_str("</div>\n</details>\n</section>\n");
}

fn case_meta(h: &mut String, c: &CaseResult) {
    let _ = write!(
        h,
        "<dl class=\"meta\">\n<dt>File</dt><dd class=\"mono\">{file}</dd>\n<dt>Scenario</dt><dd>{scenario}</dd>\n",
        file = escape(&c.file),
        scenario = escape(&c.scenario)
    );
    if !c.matrix.is_empty() {
        let _ = writeln!(h, "<dt>Matrix</dt><dd class=\"mono\">{}</dd>", escape(&text::matrix_cell(&c.matrix)));
    }
    if c.repetition > 1 {
        let _ = writeln!(h, "<dt>Repetition</dt><dd>{}</dd>", c.repetition);
    }
    if !c.tags.is_empty() {
        h.push_str("<dt>Tags</dt><dd>");
        for tag in &c.tags {
            let _ = write!(h, "<span class=\"tag\">{}</span>", escape(tag));
        }
        h.push_str("</dd>\n");
    }
    h.push_str("</dl>\n");
}

fn steps_table(h: &mut String, c: &CaseResult) {
    if c.steps.is_empty() {
        return;
    }
    h.push_str(
        "<h3>Steps</h3>\n<table class=\"steps\">\n<thead><tr><th>Status</th><th class=\"num\">#</th>\
         <th class=\"num\">Line</th><th>Kind</th><th>Step</th><th class=\"num\">Duration</th><th>Message</th></tr>\
         </thead>\n<tbody>\n",
    );
    for s in &c.steps {
        let _ = writeln!(
            h,
            "<tr class=\"{st}\"><td><span class=\"st\">{tag}</span></td><td class=\"num\">{index}</td>\
             <td class=\"num\" title=\"{file}:{line}\">{line}</td><td class=\"mono\">{kind}</td><td>{label}</td>\
             <td class=\"num\">{dur}</td><td class=\"msg\">{msg}</td></tr>",
            st = s.status.as_str(),
            tag = s.status.tag(),
            index = s.index,
            file = escape(&c.file),
            line = s.line,
            kind = escape(&s.kind),
            label = escape(&s.label),
            dur = text::duration(s.duration_ms),
            msg = escape(s.message.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

/// The pictures of each step side by side (display, viewer, diff), so a
/// reader compares what the user saw with what the admin got.
fn screenshots(h: &mut String, steps: &[StepResult]) {
    let with_shots: Vec<&StepResult> = steps.iter().filter(|s| !s.screenshots.is_empty()).collect();
    if with_shots.is_empty() {
        return;
    }
    h.push_str("<h3>Screenshots</h3>\n");
    for s in with_shots {
        let _ = writeln!(
            h,
            "<h4>Step {} · line {} · {} · {}</h4>\n<div class=\"shots\">",
            s.index,
            s.line,
            escape(&s.kind),
            escape(&s.label)
        );
        for shot in &s.screenshots {
            figure(h, shot);
        }
        h.push_str("</div>\n");
    }
}

fn figure(h: &mut String, shot: &Screenshot) {
    let label = escape(&shot.label);
    let _ = writeln!(
        h,
        "<figure><img alt=\"{label}\" src=\"data:image/png;base64,{}\"><figcaption>{label}</figcaption></figure>",
        base64::engine::general_purpose::STANDARD.encode(&shot.png)
    );
}

/// The audit events as a compact table. Events are kept as JSON values (the
/// daemon's format may grow); a `{"audit": {...}}` log line is unwrapped.
fn events_table(h: &mut String, events: &[serde_json::Value]) {
    if events.is_empty() {
        return;
    }
    h.push_str(
        "<h3>Audit events</h3>\n<table class=\"events\">\n<thead><tr><th class=\"num\">Seq</th><th>Time</th>\
         <th>Event</th><th>Session</th><th>Admin</th><th class=\"num\">Port</th><th>Reason / error</th></tr>\
         </thead>\n<tbody>\n",
    );
    for e in events {
        let e = e.get("audit").filter(|a| a.is_object()).unwrap_or(e);
        let time = field(e, "time");
        // RFC 3339: the date is the run's; the time of day is what differs.
        let short = time.split_once('T').map_or(time.as_str(), |(_, t)| t);
        let detail: Vec<String> = [("", "reason"), ("", "error"), ("by ", "by")]
            .iter()
            .filter_map(|(prefix, key)| Some(field(e, key)).filter(|v| !v.is_empty()).map(|v| format!("{prefix}{v}")))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{seq}</td><td class=\"mono\" title=\"{time}\">{short}</td><td>{event}</td>\
             <td>{session}</td><td>{admin}</td><td class=\"num\">{port}</td><td>{detail}</td></tr>",
            seq = escape(&field(e, "seq")),
            time = escape(&time),
            short = escape(short),
            event = escape(&field(e, "event")),
            session = escape(&field(e, "session")),
            admin = escape(&field(e, "admin")),
            port = escape(&field(e, "port")),
            detail = escape(&detail.join("; ")),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

/// A field of a JSON object as text: strings bare, other values as JSON,
/// missing or null as nothing.
fn field(v: &serde_json::Value, key: &str) -> String {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn lists_every_case_in_table_and_details() {
        let run = fixture::run();
        let page = html(&run);
        for (i, c) in run.cases.iter().enumerate() {
            let name = escape(&c.name);
            assert!(page.contains(&format!("<a href=\"#case-{i}\">{name}</a>")), "table row of {name}");
            assert!(page.contains(&format!("id=\"case-{i}\"")), "section of {name}");
            assert!(page.contains(&escape(&c.description)));
        }
        assert!(page.contains("<span class=\"n passed\">1 passed</span>"));
        assert!(page.contains("<span class=\"n failed\">1 failed</span>"));
        assert!(page.contains("<dt>Seed</dt><dd class=\"mono\">42</dd>"));
        assert!(page.contains("<dt>Wall time</dt><dd>71.3s</dd>"));
        assert!(page.contains("ci-runner (2 cores, Linux 6.1)"));
    }

    #[test]
    fn embeds_screenshots_as_data_uris() {
        let page = html(&fixture::run());
        let b64 = base64::engine::general_purpose::STANDARD.encode(fixture::png());
        let uri = format!("src=\"data:image/png;base64,{b64}\"");
        assert_eq!(page.matches(&uri).count(), 2);
        assert!(page.contains("<figcaption>display alice</figcaption>"));
        assert!(page.contains("<figcaption>viewer anna</figcaption>"));
    }

    #[test]
    fn is_self_contained() {
        let page = html(&fixture::run());
        for external in ["http://", "https://", "<link", "src=\"/", "src=\"http", "@import", "url("] {
            assert!(!page.contains(external), "found {external}");
        }
    }

    #[test]
    fn escapes_hostile_names_messages_and_logs() {
        let page = html(&fixture::run());
        assert!(!page.contains("<script>alert"), "unescaped hostile markup");
        // Both the name (table, section) and the log line are there, escaped.
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
        assert!(page.matches(escaped).count() >= 4, "{}", page.matches(escaped).count());
        assert!(page.contains("Names &amp; logs with &lt;markup&gt; must be escaped."));
        // The only scripts are ours: one opening tag.
        assert_eq!(page.matches("<script").count(), 1);
    }

    #[test]
    fn escape_covers_attributes_and_controls() {
        assert_eq!(escape("a\"b'c<d>&\x1b[31me\x07"), "a&quot;b&#39;c&lt;d&gt;&amp;e");
    }

    #[test]
    fn failed_cases_come_first_and_open() {
        let run = fixture::run();
        let page = html(&run);
        let pos = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        // The failed case is second in the run but first in the table and the details.
        assert!(pos("href=\"#case-1\"") < pos("href=\"#case-0\""));
        assert!(pos("href=\"#case-0\"") < pos("href=\"#case-2\""));
        assert!(pos("id=\"case-1\"") < pos("id=\"case-0\""));
        assert!(page.contains("id=\"case-1\" data-status=\"failed\""));
        let failed = &page[pos("id=\"case-1\"")..pos("id=\"case-0\"")];
        assert!(failed.contains("<details open>"));
        let passed = &page[pos("id=\"case-0\"")..];
        assert!(passed.starts_with("id=\"case-0\"") && !passed[..400].contains("<details open>"));
    }

    #[test]
    fn failures_show_steps_events_and_log() {
        let mut run = fixture::run();
        run.cases[0].daemon_log = Some("a passing case's log\n".into());
        run.cases[0].events = run.cases[1].events.clone();
        let page = html(&run);
        assert!(page.contains("<tr class=\"failed\"><td><span class=\"st\">FAIL</span></td><td class=\"num\">2</td>"));
        assert!(page.contains("timed out after 5s waiting for a frame\nlast frame differs in 12% of pixels"));
        assert!(page.contains("<td class=\"mono\">expect_frame</td><td>viewer anna sees alice&#39;s display</td>"));
        assert!(page.contains("<summary>Daemon log (3 lines)</summary>"));
        assert!(page.contains("{&quot;child&quot;:&quot;x11vnc&quot;,&quot;line&quot;:&quot;gave up&quot;}"));
        // Events: plain, and unwrapped from a log line; time shortened to time of day.
        assert!(page.contains(
            "<tr><td class=\"num\">1</td><td class=\"mono\" title=\"2025-01-02T10:00:01.123Z\">10:00:01.123Z</td>\
             <td>requested</td><td>alice</td><td>anna</td><td class=\"num\"></td><td></td></tr>"
        ));
        assert!(page
            .contains("<td>ended</td><td>alice</td><td>anna</td><td class=\"num\">5901</td><td>backend_failed</td>"));
        // Only the failed case carries a log and events.
        assert_eq!(page.matches("<h3>Audit events</h3>").count(), 1);
        assert_eq!(page.matches("class=\"log\"").count(), 1);
    }
}
