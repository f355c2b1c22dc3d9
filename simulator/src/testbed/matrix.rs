//! The distro × scenario table of `shadowsim matrix`, and the combined run
//! result (case names prefixed with the distribution) for the reports.

use super::{DistroRun, Shape};
use crate::report::{CaseResult, RunResult, Status};
use std::fmt::Write;

/// A plain-text table (Markdown-compatible: it pastes into an issue),
/// followed by the reasons for skipped cells and the failures.
pub fn table(runs: &[DistroRun]) -> String {
    let mut rows: Vec<&str> = Vec::new();
    for run in runs {
        for c in &run.cases {
            if !rows.contains(&c.name.as_str()) {
                rows.push(&c.name);
            }
        }
    }
    let first = rows.iter().map(|r| r.len()).max().unwrap_or(8).max("scenario".len());
    let widths: Vec<usize> = runs.iter().map(|r| r.distro.len().max(4)).collect();
    let mut out = String::new();
    let _ = write!(out, "| {:first$} |", "scenario");
    for (r, w) in runs.iter().zip(&widths) {
        let _ = write!(out, " {:w$} |", r.distro);
    }
    let _ = write!(out, "\n|{}|", "-".repeat(first + 2));
    for w in &widths {
        let _ = write!(out, "{}|", "-".repeat(w + 2));
    }
    out.push('\n');
    for row in &rows {
        let _ = write!(out, "| {row:first$} |");
        for (r, w) in runs.iter().zip(&widths) {
            let cell = worst(r.cases.iter().filter(|c| c.name == *row)).map_or("—", |st| st.tag());
            let _ = write!(out, " {cell:w$} |");
        }
        out.push('\n');
    }
    out.push('\n');
    for r in runs {
        let (p, f, s) = counts(&r.cases);
        let _ = writeln!(out, "{}: {p} passed, {f} failed, {s} skipped ({})", r.distro, r.timings.describe());
        if let Some(reason) = &r.skipped {
            let _ = writeln!(out, "  skipped: {reason}");
        }
        for c in &r.cases {
            match c.status {
                Status::Failed => {
                    let _ = writeln!(out, "  FAIL {}: {}", label(c, &r.cases), first_line(c.message.as_deref()));
                }
                Status::Skipped if r.skipped.is_none() => {
                    let _ = writeln!(out, "  SKIP {}: {}", label(c, &r.cases), first_line(c.message.as_deref()));
                }
                _ => {}
            }
        }
    }
    out
}

/// A cell over `--repeat` repetitions: FAIL if any failed, else PASS if
/// any passed, else SKIP (a flaky case must not hide behind one pass).
fn worst<'a>(results: impl Iterator<Item = &'a CaseResult>) -> Option<Status> {
    results.map(|c| c.status).max_by_key(|st| match st {
        Status::Failed => 2,
        Status::Passed => 1,
        Status::Skipped => 0,
    })
}

/// The case's name, with the repetition when it ran more than once.
fn label(c: &CaseResult, all: &[CaseResult]) -> String {
    if all.iter().filter(|o| o.name == c.name).count() > 1 {
        format!("{} #{}", c.name, c.repetition)
    } else {
        c.name.clone()
    }
}

fn first_line(s: Option<&str>) -> &str {
    s.and_then(|s| s.lines().next()).unwrap_or("")
}

fn counts(cases: &[CaseResult]) -> (usize, usize, usize) {
    let n = |st| cases.iter().filter(|c| c.status == st).count();
    (n(Status::Passed), n(Status::Failed), n(Status::Skipped))
}

/// Whether every cell passed or was skipped.
pub fn passed(runs: &[DistroRun]) -> bool {
    runs.iter().all(|r| r.cases.iter().all(|c| c.status != Status::Failed))
}

/// One run result for the reports: `debian-12/consent-yes[…]`, with the
/// distribution as a matrix axis so the HTML report can group by it.
pub fn combined(runs: &[DistroRun], started: String, duration_ms: u64, machine: String, shape: Shape) -> RunResult {
    let cases = runs
        .iter()
        .flat_map(|r| {
            r.cases.iter().cloned().map(move |mut c| {
                c.name = format!("{}/{}", r.distro, c.name);
                c.matrix.insert("distro".into(), r.distro.clone());
                c
            })
        })
        .collect();
    RunResult { started, duration_ms, machine, seed: shape.seed, jobs: shape.jobs, cases }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::{CaseStub, Timings};

    fn stub(name: &str) -> CaseStub {
        CaseStub {
            name: name.into(),
            scenario: name.into(),
            file: format!("scenarios/{name}.yaml"),
            description: String::new(),
            tags: vec![],
            matrix: Default::default(),
        }
    }

    #[test]
    fn table_has_a_cell_per_distro_and_case_and_says_why_cells_were_skipped() {
        let ok = DistroRun {
            distro: "debian-12".into(),
            cases: vec![
                stub("a").result(Status::Passed, String::new()),
                stub("b").result(Status::Failed, "boom".into()),
            ],
            skipped: None,
            timings: Timings::default(),
        };
        let off = DistroRun {
            distro: "rocky-9".into(),
            cases: vec![stub("a").result(Status::Skipped, "x".into()), stub("b").result(Status::Skipped, "x".into())],
            skipped: Some("no registry".into()),
            timings: Timings::default(),
        };
        let runs = [ok, off];
        let t = table(&runs);
        assert!(t.contains("| a        | PASS      | SKIP    |"), "{t}");
        assert!(t.contains("| b        | FAIL      | SKIP    |"), "{t}");
        assert!(t.contains("  skipped: no registry") && t.contains("  FAIL b: boom"), "{t}");
        assert!(!passed(&runs));
        let all = combined(&runs, "now".into(), 1, "m".into(), Shape { jobs: 2, repeat: 1, seed: 7 });
        assert_eq!(all.cases[0].name, "debian-12/a");
        assert_eq!(all.cases[3].matrix["distro"], "rocky-9");
        assert_eq!(all.seed, 7, "the seed the cases ran with is reported");
    }

    #[test]
    fn a_case_repeated_is_failed_if_any_repetition_failed() {
        let mut again = stub("a").result(Status::Failed, "second time".into());
        again.repetition = 2;
        let run = DistroRun {
            distro: "debian-12".into(),
            cases: vec![stub("a").result(Status::Passed, String::new()), again],
            skipped: None,
            timings: Timings::default(),
        };
        let t = table(std::slice::from_ref(&run));
        assert!(t.contains("| a        | FAIL      |"), "{t}");
        assert!(t.contains("  FAIL a #2: second time"), "{t}");
        assert!(t.contains("debian-12: 1 passed, 1 failed, 0 skipped"), "{t}");
        assert!(!passed(&[run]));
    }
}
