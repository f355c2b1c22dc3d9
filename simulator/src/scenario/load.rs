//! Reading scenario files: YAML → [`Scenario`], then the semantic checks.
//! Nothing here touches anything but the files it is asked to read.

use super::located::Loc;
use super::model::Scenario;
use super::validate;
use serde_saphyr::MessageFormatter;
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest scenario file read: a scenario is a page of YAML, not a data set.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// What went wrong where: `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    /// Unknown for errors about the whole file (it cannot be read, say).
    pub loc: Option<Loc>,
    pub message: String,
    pub kind: ErrorKind,
    /// The offending line with a caret under the column, for terminals.
    pub snippet: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// Not valid YAML, or not the shape of a scenario (unknown key, bad value...).
    Syntax,
    /// Well-formed, but wrong in meaning (an undefined reference, a bad exclude...).
    Invalid,
}

impl ScenarioError {
    pub(crate) fn new(path: &Path, loc: Loc, kind: ErrorKind, message: impl Into<String>) -> Self {
        ScenarioError {
            path: path.to_path_buf(),
            loc: loc.is_known().then_some(loc),
            message: message.into(),
            kind,
            snippet: None,
        }
    }

    fn with_snippet_from(mut self, source: &str) -> Self {
        self.snippet = self.loc.and_then(|loc| snippet(source, loc));
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.loc {
            Some(loc) => write!(f, "{}:{}:{}: {}", self.path.display(), loc.line, loc.column, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// ```text
///    17 |   - expct: {request: anna}
///       |     ^
/// ```
fn snippet(source: &str, loc: Loc) -> Option<String> {
    let line = source.lines().nth(loc.line.checked_sub(1)? as usize)?;
    let width = loc.line.to_string().len();
    let pad: String =
        line.chars().take(loc.column.saturating_sub(1) as usize).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    Some(format!("{:>width$} | {line}\n{:>width$} | {pad}^", loc.line, ""))
}

/// Loads and checks one scenario file; the first error (by position) if any.
pub fn load_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
    let path = path.as_ref();
    load_file_all(path).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| ScenarioError::new(path, Loc::UNKNOWN, ErrorKind::Invalid, "invalid scenario"))
    })
}

/// Loads and checks one scenario file, reporting every semantic error at
/// once (a YAML or shape error stops at the first).
pub fn load_file_all(path: impl AsRef<Path>) -> Result<Scenario, Vec<ScenarioError>> {
    let path = path.as_ref();
    let io =
        |e: std::io::Error| vec![ScenarioError::new(path, Loc::UNKNOWN, ErrorKind::Io, format!("cannot read: {e}"))];
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(vec![ScenarioError::new(
            path,
            Loc::UNKNOWN,
            ErrorKind::Io,
            format!("{len} bytes is too large for a scenario (at most {MAX_FILE_BYTES})"),
        )]);
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    load_str(path, &text)
}

/// Parses and checks a scenario from text; `path` names it in errors and
/// gives the default name. Pure.
pub fn load_str(path: impl AsRef<Path>, text: &str) -> Result<Scenario, Vec<ScenarioError>> {
    let path = path.as_ref();
    // YAML 1.2 booleans: only true/false. In YAML 1.1 `off`, `yes`, `no` are
    // booleans too, and `when: {tls: off}` would silently mean `false`.
    let options = serde_saphyr::options! { strict_booleans: true };
    let mut scenario: Scenario =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| vec![yaml_error(path, text, &e)])?;
    scenario.path = path.to_path_buf();
    scenario.source = text.to_string();
    let mut errors = validate::check(&scenario);
    if errors.is_empty() {
        Ok(scenario)
    } else {
        errors.sort_by(|a, b| (a.loc, &a.message).cmp(&(b.loc, &b.message)));
        errors.dedup();
        Err(errors.into_iter().map(|e| e.with_snippet_from(text)).collect())
    }
}

fn yaml_error(path: &Path, source: &str, e: &serde_saphyr::Error) -> ScenarioError {
    let inner = e.without_snippet();
    let loc = inner.location().map(Loc::from_saphyr).unwrap_or(Loc::UNKNOWN);
    let message = serde_saphyr::DefaultMessageFormatter.format_message(inner);
    let mut message = humane(&message);
    let line = loc.line.checked_sub(1).and_then(|l| source.lines().nth(l as usize)).unwrap_or("");
    if message.contains("flow") && line.contains("${") {
        message.push_str(&format!("; {}", super::values::FLOW_HINT));
    }
    ScenarioError::new(path, loc, ErrorKind::Syntax, message).with_snippet_from(source)
}

/// Rewords the parser's messages that speak to a Rust developer rather than
/// to a scenario author.
fn humane(message: &str) -> String {
    let mut m = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    for attr in super::steps::STEP_ATTRIBUTES {
        if m.starts_with(&format!("unknown field `{attr}`")) {
            m.push_str(&format!(
                "; `{attr}` is a step attribute: write it beside the kind, aligned with it on the next line (`- consent: {{...}}` then `  {attr}: ...`), or `- {{consent: {{...}}, {attr}: ...}}`"
            ));
        }
    }
    m
}

/// Every `*.yaml` / `*.yml` under `dir` (recursively), sorted by path: the
/// scenarios that loaded, and the errors of those that did not. Two
/// scenarios with the same name are an error (reports are keyed by name).
pub fn load_dir(dir: impl AsRef<Path>) -> (Vec<Scenario>, Vec<ScenarioError>) {
    let dir = dir.as_ref();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    collect_yaml(dir, &mut files, &mut errors);
    files.sort();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for file in files {
        match load_file_all(&file) {
            Ok(s) => {
                if let Some(first) = scenarios.iter().find(|o| o.name() == s.name()) {
                    let loc = s.name.as_ref().map_or(Loc::UNKNOWN, |n| n.loc);
                    errors.push(
                        ScenarioError::new(
                            &file,
                            loc,
                            ErrorKind::Invalid,
                            format!("scenario name `{}` is already used by {}", s.name(), first.path.display()),
                        )
                        .with_snippet_from(&s.source),
                    );
                } else {
                    scenarios.push(s);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    (scenarios, errors)
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<ScenarioError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ScenarioError::new(dir, Loc::UNKNOWN, ErrorKind::Io, format!("cannot read directory: {e}")));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            collect_yaml(&path, files, errors);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(path);
        }
    }
}
