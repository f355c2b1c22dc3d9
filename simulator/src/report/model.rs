//! The result of a run: cases (one scenario × one matrix cell × one
//! repetition), each with its steps. Plain data, serializable as the JSON
//! result; every report is made from this alone.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

impl Status {
    /// The lower-case word used in JSON, CSS classes and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    /// Four letters, so terminal lines and step lists stay aligned.
    pub fn tag(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Skipped => "SKIP",
        }
    }
}

/// A picture taken during a step: the user's display or what a viewer got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Screenshot {
    /// e.g. "display alice", "viewer anna", "diff".
    pub label: String,
    /// PNG bytes, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub png: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    /// 1-based position in the scenario's steps (after `repeat` expansion).
    pub index: usize,
    /// Source line of the step in its YAML file.
    pub line: usize,
    /// The step kind, e.g. "request", "expect_frame".
    pub kind: String,
    /// A one-line description, e.g. "request as anna for alice".
    pub label: String,
    pub status: Status,
    pub duration_ms: u64,
    /// What went wrong (failed), or why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenshots: Vec<Screenshot>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    /// e.g. `takeover-accepted[backend=external,tls=off]`.
    pub name: String,
    pub scenario: String,
    /// The YAML file.
    pub file: String,
    pub description: String,
    pub tags: Vec<String>,
    /// The matrix cell.
    pub matrix: BTreeMap<String, String>,
    /// 1-based repetition (`--repeat`).
    pub repetition: u32,
    pub status: Status,
    pub duration_ms: u64,
    /// The first failure, or the skip reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub steps: Vec<StepResult>,
    /// On failure: the daemon's log file (JSON lines) and its stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_log: Option<String>,
    /// On failure: the audit events the case saw, as JSON values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<serde_json::Value>,
    /// The audit trail normalized for comparison across runs (session
    /// names, numbered ports and shadows, no times): what snapshots hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// RFC 3339.
    pub started: String,
    pub duration_ms: u64,
    /// Host name, cores, OS: where the numbers were measured.
    pub machine: String,
    /// The `--seed` given or chosen, to reproduce the run.
    pub seed: u64,
    pub jobs: usize,
    pub cases: Vec<CaseResult>,
}

impl CaseResult {
    /// The first failed step: where a reader should look. `None` when the
    /// case failed outside any step (e.g. the daemon did not start).
    pub fn failing_step(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.status == Status::Failed)
    }

    /// `file:line` of the failing step, or the file alone: a location that
    /// editors and CI logs make clickable.
    pub fn location(&self) -> String {
        match self.failing_step() {
            Some(step) => format!("{}:{}", self.file, step.line),
            None => self.file.clone(),
        }
    }
}

impl RunResult {
    pub fn count(&self, status: Status) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
    }

    pub fn passed(&self) -> bool {
        self.count(Status::Failed) == 0
    }
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}
