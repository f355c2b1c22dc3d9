//! A hand-made run for the reports' tests: one passed, one failed (with a
//! screenshot, a daemon log and audit events) and one skipped case, in run
//! order passed → failed → skipped so "failed first" has something to do.
//! The failed case's scenario name and log are hostile HTML.

use super::model::*;
use crate::drivers::image::Image;
use serde_json::json;
use std::collections::BTreeMap;

pub(crate) const HOSTILE: &str = "<script>alert(1)</script>";

fn matrix(backend: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("backend".to_string(), backend.to_string()), ("tls".to_string(), "off".to_string())])
}

fn step(index: usize, line: usize, kind: &str, label: &str, status: Status, ms: u64) -> StepResult {
    StepResult {
        index,
        line,
        kind: kind.into(),
        label: label.into(),
        status,
        duration_ms: ms,
        message: None,
        screenshots: vec![],
    }
}

pub(crate) fn png() -> Vec<u8> {
    Image::new(4, 4, 0xff0000).to_png()
}

pub(crate) fn run() -> RunResult {
    let passed = CaseResult {
        name: "takeover-accepted[backend=external,tls=off]".into(),
        scenario: "takeover-accepted".into(),
        file: "scenarios/takeover.yaml".into(),
        description: "A second admin takes over an accepted shadow.".into(),
        tags: vec!["takeover".into(), "smoke".into()],
        matrix: matrix("external"),
        repetition: 1,
        status: Status::Passed,
        duration_ms: 3200,
        message: None,
        steps: vec![
            step(1, 12, "request", "request as anna for alice", Status::Passed, 120),
            step(2, 15, "consent", "alice accepts", Status::Passed, 800),
        ],
        daemon_log: None,
        events: vec![],
        trace: vec![],
    };

    let mut frame = step(2, 23, "expect_frame", "viewer anna sees alice's display", Status::Failed, 5000);
    frame.message = Some("timed out after 5s waiting for a frame\nlast frame differs in 12% of pixels".into());
    frame.screenshots = vec![
        Screenshot { label: "display alice".into(), png: png() },
        Screenshot { label: "viewer anna".into(), png: png() },
    ];
    let mut skipped_step = step(3, 30, "end", "anna ends the shadow", Status::Skipped, 0);
    skipped_step.message = Some("an earlier step failed".into());
    let failed = CaseResult {
        name: format!("{HOSTILE}[backend=builtin,tls=off]"),
        scenario: HOSTILE.into(),
        file: "scenarios/hostile.yaml".into(),
        description: "Names & logs with <markup> must be escaped.".into(),
        tags: vec!["security".into()],
        matrix: matrix("builtin"),
        repetition: 1,
        status: Status::Failed,
        duration_ms: 6400,
        message: Some("timed out after 5s waiting for a frame".into()),
        steps: vec![step(1, 20, "request", "request as anna for alice", Status::Passed, 150), frame, skipped_step],
        daemon_log: Some(format!(
            "{{\"child\":\"x11vnc\",\"line\":\"starting\"}}\n{HOSTILE}\n{{\"child\":\"x11vnc\",\"line\":\"gave up\"}}\n"
        )),
        events: vec![
            json!({"seq": 1, "time": "2025-01-02T10:00:01.123Z", "event": "requested", "session": "alice",
                   "admin": "anna"}),
            json!({"seq": 2, "time": "2025-01-02T10:00:02Z", "event": "accepted", "session": "alice",
                   "admin": "anna", "shadow": 1, "port": 5901}),
            json!({"audit": {"seq": 3, "time": "2025-01-02T10:00:09Z", "event": "ended", "session": "alice",
                   "admin": "anna", "shadow": 1, "port": 5901, "reason": "backend_failed"}}),
        ],
        trace: vec![],
    };

    let skipped = CaseResult {
        name: "gnome-consent[backend=external,tls=on]".into(),
        scenario: "gnome-consent".into(),
        file: "scenarios/gnome.yaml".into(),
        description: "Consent dialog under GNOME.".into(),
        tags: vec![],
        matrix: BTreeMap::from([
            ("backend".to_string(), "external".to_string()),
            ("tls".to_string(), "on".to_string()),
        ]),
        repetition: 1,
        status: Status::Skipped,
        duration_ms: 0,
        message: Some("needs gnome-shell, not installed".into()),
        steps: vec![],
        daemon_log: None,
        events: vec![],
        trace: vec![],
    };

    RunResult {
        started: "2025-01-02T10:00:00Z".into(),
        duration_ms: 71_349,
        machine: "ci-runner (2 cores, Linux 6.1)".into(),
        seed: 42,
        jobs: 2,
        cases: vec![passed, failed, skipped],
    }
}
