//! JUnit XML for CI (GitLab's test report, Jenkins' JUnit plugin, …).
//!
//! Layout: one `<testsuite>` per scenario file, named after the scenario;
//! one `<testcase>` per case, `classname` = scenario, `name` = case name
//! (which carries the matrix cell), `file` = the YAML file. Jenkins builds
//! its tree from `classname` and GitLab shows `classname` as "Suite" and
//! `file` as "Filename", so both group by scenario whatever the suites are;
//! suites per file add per-scenario totals and times for the tools that show
//! suites (Azure, CircleCI, xunit viewers) and keep each file's properties
//! (seed, machine) next to its cases. A single "shadowsim" suite would show
//! one flat list of hundreds of matrix cases there.

use super::model::{CaseResult, RunResult, Status};
use super::text;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::HashMap;
use std::time::Duration;

/// How much of the daemon log goes into `<system-err>`: enough to see the
/// cause, little enough that CI servers render the page.
const LOG_LINES: usize = 200;
const LOG_BYTES: usize = 64 * 1024;

/// The run as a JUnit XML document. Every case is listed, skipped ones too.
pub fn junit_xml(run: &RunResult) -> String {
    let mut report = Report::new("shadowsim");
    report.set_time(Duration::from_millis(run.duration_ms));
    let names = unique_names(run);
    for group in by_file(run) {
        let mut suite = TestSuite::new(group.scenario);
        suite.add_properties([
            ("file", group.file),
            ("started", run.started.as_str()),
            ("machine", run.machine.as_str()),
            ("seed", run.seed.to_string().as_str()),
            ("jobs", run.jobs.to_string().as_str()),
        ]);
        // Case times summed, not wall time: cases of one file may run in parallel.
        suite.set_time(Duration::from_millis(group.cases.iter().map(|&i| run.cases[i].duration_ms).sum()));
        let skipped = group.cases.iter().filter(|&&i| run.cases[i].status == Status::Skipped).count();
        // quick-junit counts skips as `disabled`; most readers look for `skipped`.
        suite.extra.insert("skipped".into(), skipped.to_string().into());
        for &i in &group.cases {
            suite.add_test_case(test_case(&run.cases[i], &names[i]));
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("serializing JUnit XML into memory cannot fail")
}

/// The cases of one scenario file, by index, in run order.
struct Group<'a> {
    file: &'a str,
    scenario: &'a str,
    cases: Vec<usize>,
}

/// Cases grouped by (file, scenario), groups in order of first appearance.
fn by_file(run: &RunResult) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, case) in run.cases.iter().enumerate() {
        match groups.iter_mut().find(|g| g.file == case.file && g.scenario == case.scenario) {
            Some(g) => g.cases.push(i),
            None => groups.push(Group { file: &case.file, scenario: &case.scenario, cases: vec![i] }),
        }
    }
    groups
}

/// Test case names, made unique per scenario by appending ` #N` (the
/// repetition) where `--repeat` produced the same name more than once: CI
/// tools key results by classname + name and would merge or drop repeats.
fn unique_names(run: &RunResult) -> Vec<String> {
    let mut count: HashMap<(&str, &str), usize> = HashMap::new();
    for c in &run.cases {
        *count.entry((&c.scenario, &c.name)).or_default() += 1;
    }
    run.cases
        .iter()
        .map(|c| match count[&(c.scenario.as_str(), c.name.as_str())] {
            1 => c.name.clone(),
            _ => format!("{} #{}", c.name, c.repetition),
        })
        .collect()
}

fn test_case(case: &CaseResult, name: &str) -> TestCase {
    let status = match case.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Failed => failure(case),
        Status::Skipped => {
            let mut s = TestCaseStatus::skipped();
            if let Some(reason) = &case.message {
                s.set_message(text::first_line(reason));
                if reason.lines().nth(1).is_some() {
                    s.set_description(reason.as_str());
                }
            }
            s
        }
    };
    let mut tc = TestCase::new(name, status);
    tc.set_classname(case.scenario.as_str());
    tc.set_time(Duration::from_millis(case.duration_ms));
    tc.extra.insert("file".into(), case.file.as_str().into());
    tc.set_system_out(system_out(case));
    if case.status == Status::Failed {
        if let Some(log) = &case.daemon_log {
            tc.set_system_err(text::tail(log, LOG_LINES, LOG_BYTES));
        }
    }
    tc
}

/// `<failure message="first line" type="step kind">` with the failing step
/// (index, `file:line`, kind, label) and the full messages as its text.
fn failure(case: &CaseResult) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    let step = case.failing_step();
    let message = case.message.as_deref().or(step.and_then(|st| st.message.as_deref()));
    s.set_message(text::first_line(message.unwrap_or("failed")));
    let mut body = String::new();
    match step {
        Some(st) => {
            s.set_type(st.kind.as_str());
            body.push_str(&format!(
                "step {} failed at {}:{} ({}: {})\n",
                st.index, case.file, st.line, st.kind, st.label
            ));
            if let Some(m) = &st.message {
                body.push_str(m);
                body.push('\n');
            }
            // The case message may add to the step's (e.g. a cleanup error).
            let said = |m: &&str| st.message.as_deref().is_some_and(|sm| sm.contains(*m));
            if let Some(m) = case.message.as_deref().filter(|m| !said(m)) {
                body.push_str(&format!("\n{m}\n"));
            }
        }
        None => {
            body.push_str(&format!("failed outside any step, in {}\n", case.file));
            if let Some(m) = &case.message {
                body.push_str(m);
                body.push('\n');
            }
        }
    }
    s.set_description(body);
    s
}

/// What the case did, one line per step; repeated in every case so a CI
/// page shows the path to a failure without opening the HTML report.
fn system_out(case: &CaseResult) -> String {
    let mut out = format!("{}\nfile: {}\n", case.description, case.file);
    if !case.matrix.is_empty() {
        out.push_str(&format!("matrix: {}\n", text::matrix_cell(&case.matrix)));
    }
    if !case.tags.is_empty() {
        out.push_str(&format!("tags: {}\n", case.tags.join(", ")));
    }
    out.push_str(&format!("repetition: {}\n", case.repetition));
    if !case.steps.is_empty() {
        out.push('\n');
    }
    for step in &case.steps {
        out.push_str(&text::step_line(case, step));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use quick_junit::Report;

    fn parse(xml: &str) -> Report {
        Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("invalid JUnit XML: {e}\n{xml}"))
    }

    fn all_cases(r: &Report) -> Vec<&TestCase> {
        r.test_suites.iter().flat_map(|s| &s.test_cases).collect()
    }

    #[test]
    fn parses_and_lists_every_case_in_a_suite_per_file() {
        let run = fixture::run();
        let report = parse(&junit_xml(&run));
        assert_eq!(report.tests, 3);
        assert_eq!(report.failures, 1);
        let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(suites, ["takeover-accepted", fixture::HOSTILE, "gnome-consent"]);
        let cases = all_cases(&report);
        assert_eq!(cases.len(), run.cases.len());
        for (tc, case) in cases.iter().zip(&run.cases) {
            assert_eq!(tc.name.as_str(), case.name);
            assert_eq!(tc.classname.as_deref(), Some(case.scenario.as_str()));
            assert_eq!(tc.time, Some(Duration::from_millis(case.duration_ms)));
            assert_eq!(tc.extra.get("file").map(|f| f.as_str()), Some(case.file.as_str()));
        }
        assert_eq!(report.test_suites[2].extra.get("skipped").map(|s| s.as_str()), Some("1"));
    }

    #[test]
    fn statuses_map_to_failure_and_skipped_elements() {
        let report = parse(&junit_xml(&fixture::run()));
        let cases = all_cases(&report);
        assert!(matches!(cases[0].status, TestCaseStatus::Success { .. }));
        match &cases[1].status {
            TestCaseStatus::NonSuccess { kind, message, ty, description, .. } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert_eq!(message.as_deref(), Some("timed out after 5s waiting for a frame"));
                assert_eq!(ty.as_deref(), Some("expect_frame"));
                let d = description.as_deref().unwrap();
                assert!(d.contains("step 2 failed at scenarios/hostile.yaml:23"), "{d}");
                assert!(d.contains("viewer anna sees alice's display"), "{d}");
                assert!(d.contains("last frame differs in 12% of pixels"), "{d}");
                assert_eq!(d.matches("timed out after 5s").count(), 1, "{d}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        match &cases[2].status {
            TestCaseStatus::Skipped { message, .. } => {
                assert_eq!(message.as_deref(), Some("needs gnome-shell, not installed"))
            }
            other => panic!("expected skipped, got {other:?}"),
        }
    }

    #[test]
    fn output_has_steps_and_the_daemon_log_only_on_failure() {
        let mut run = fixture::run();
        run.cases[0].daemon_log = Some("a passing case's log\n".into());
        let report = parse(&junit_xml(&run));
        let cases = all_cases(&report);
        let out = cases[0].system_out.as_deref().unwrap();
        assert!(out.contains("PASS  #1  scenarios/takeover.yaml:12  request  request as anna for alice"), "{out}");
        assert!(cases[0].system_err.is_none());
        let err = cases[1].system_err.as_deref().unwrap();
        assert!(err.contains("gave up") && err.contains(fixture::HOSTILE), "{err}");
        assert!(cases[1].system_out.as_deref().unwrap().contains("FAIL  #2"));
    }

    #[test]
    fn long_daemon_logs_keep_their_last_lines() {
        let mut run = fixture::run();
        let log: String = (1..=1000).map(|i| format!("log line {i}\n")).collect();
        run.cases[1].daemon_log = Some(log);
        let report = parse(&junit_xml(&run));
        let err = all_cases(&report)[1].system_err.as_deref().unwrap().to_string();
        assert!(err.starts_with("[… 800 earlier lines omitted"), "{}", &err[..100]);
        // (quick-junit trims the output's trailing newline.)
        assert!(err.contains("\nlog line 801\n") && err.trim_end().ends_with("\nlog line 1000"), "{err}");
        assert!(!err.contains("log line 800\n"));
    }

    fn failure_text(run: &RunResult) -> String {
        let report = parse(&junit_xml(run));
        match &all_cases(&report)[1].status {
            TestCaseStatus::NonSuccess { description, .. } => description.as_deref().unwrap().to_string(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn failure_text_adds_a_different_case_message_and_handles_no_step() {
        let mut run = fixture::run();
        run.cases[1].message = Some("cleanup: Xvfb :7 did not exit".into());
        let d = failure_text(&run);
        assert!(d.contains("step 2 failed at") && d.ends_with("cleanup: Xvfb :7 did not exit"), "{d}");

        run.cases[1].steps.clear();
        run.cases[1].message = Some("daemon did not start".into());
        let d = failure_text(&run);
        assert_eq!(d.trim_end(), "failed outside any step, in scenarios/hostile.yaml\ndaemon did not start");
    }

    #[test]
    fn repeated_cases_get_distinct_names() {
        let mut run = fixture::run();
        let mut again = run.cases[0].clone();
        again.repetition = 2;
        run.cases.push(again);
        let report = parse(&junit_xml(&run));
        let names: Vec<&str> = all_cases(&report).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), 4);
        assert!(names.contains(&"takeover-accepted[backend=external,tls=off] #1"), "{names:?}");
        assert!(names.contains(&"takeover-accepted[backend=external,tls=off] #2"), "{names:?}");
        // Same scenario file: one suite holds both.
        assert_eq!(report.test_suites[0].test_cases.len(), 2);
    }
}
