//! What the terminal shows: a line per case as it finishes, and at the end
//! the failures with where to look, then the totals.
//!
//! The summary's last line is `N passed, N failed, N skipped` alone: CI
//! parses that exact form to count tests, so nothing else may share it.

use super::model::{CaseResult, RunResult, Status};
use super::text;

/// The end-of-run summary, one failed case a line, then totals:
///
/// ```text
/// FAIL  takeover-denied[backend=external,tls=off]  scenarios/takeover.yaml:23  expect_frame: timed out
///
/// 51 cases in 71.3s (jobs 2, seed 42)
/// 48 passed, 1 failed, 2 skipped
/// ```
pub fn summary(run: &RunResult) -> String {
    let mut out = String::new();
    let failed: Vec<&CaseResult> = run.cases.iter().filter(|c| c.status == Status::Failed).collect();
    for case in &failed {
        out.push_str(&failure_line(case));
        out.push('\n');
    }
    if !failed.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "{} cases in {} (jobs {}, seed {})\n",
        run.cases.len(),
        text::duration(run.duration_ms),
        run.jobs,
        run.seed
    ));
    out.push_str(&format!(
        "{} passed, {} failed, {} skipped\n",
        run.count(Status::Passed),
        run.count(Status::Failed),
        run.count(Status::Skipped)
    ));
    out
}

/// `FAIL  name  file:line  kind: first line of the message`.
fn failure_line(case: &CaseResult) -> String {
    let message = text::first_line(reason(case));
    let what = match case.failing_step() {
        Some(s) => format!("{}: {message}", s.kind),
        None => message.to_string(),
    };
    format!("FAIL  {}  {}  {what}", case.name, case.location())
}

/// Why a case failed: the failing step's message, which belongs to the
/// `file:line` shown next to it, else the case's.
fn reason(case: &CaseResult) -> &str {
    case.failing_step().and_then(|s| s.message.as_deref()).or(case.message.as_deref()).unwrap_or("failed")
}

/// One case as it finishes, for progress output:
/// `PASS  takeover-accepted[backend=external,tls=off]  3.2s`; a failure adds
/// where and why, a skip why.
pub fn case_line(case: &CaseResult) -> String {
    match case.status {
        Status::Passed => format!("PASS  {}  {}", case.name, text::duration(case.duration_ms)),
        Status::Failed => format!(
            "FAIL  {}  {}  {}: {}",
            case.name,
            text::duration(case.duration_ms),
            case.location(),
            text::first_line(reason(case))
        ),
        Status::Skipped => {
            format!("SKIP  {}  {}", case.name, text::first_line(case.message.as_deref().unwrap_or("skipped")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn last_line_is_the_ci_count() {
        let s = summary(&fixture::run());
        assert!(s.ends_with('\n'));
        assert_eq!(s.lines().last(), Some("1 passed, 1 failed, 1 skipped"));
        assert!(s.contains("\n3 cases in 71.3s (jobs 2, seed 42)\n"), "{s}");
    }

    #[test]
    fn one_line_per_failed_case_with_location_and_message() {
        let s = summary(&fixture::run());
        let fails: Vec<&str> = s.lines().filter(|l| l.starts_with("FAIL")).collect();
        assert_eq!(
            fails,
            [format!(
                "FAIL  {}[backend=builtin,tls=off]  scenarios/hostile.yaml:23  \
                 expect_frame: timed out after 5s waiting for a frame",
                fixture::HOSTILE
            )]
        );
        assert!(!s.contains("takeover-accepted") && !s.contains("gnome-consent"), "{s}");
    }

    #[test]
    fn a_clean_run_has_no_failure_block() {
        let mut run = fixture::run();
        run.cases.retain(|c| c.status != Status::Failed);
        let s = summary(&run);
        assert_eq!(s, "2 cases in 71.3s (jobs 2, seed 42)\n1 passed, 0 failed, 1 skipped\n");
    }

    #[test]
    fn a_failure_outside_steps_points_at_the_file() {
        let mut run = fixture::run();
        run.cases[1].steps.clear();
        run.cases[1].message = Some("daemon did not start\nexit status 1".into());
        let line = summary(&run).lines().next().unwrap().to_string();
        assert!(line.ends_with("  scenarios/hostile.yaml  daemon did not start"), "{line}");
    }

    #[test]
    fn case_lines() {
        let run = fixture::run();
        assert_eq!(case_line(&run.cases[0]), "PASS  takeover-accepted[backend=external,tls=off]  3.2s");
        assert_eq!(
            case_line(&run.cases[1]),
            format!(
                "FAIL  {}[backend=builtin,tls=off]  6.4s  scenarios/hostile.yaml:23: timed out after 5s waiting \
                 for a frame",
                fixture::HOSTILE
            )
        );
        assert_eq!(
            case_line(&run.cases[2]),
            "SKIP  gnome-consent[backend=external,tls=on]  needs gnome-shell, not installed"
        );
    }
}
