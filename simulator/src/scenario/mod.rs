//! The scenario model: YAML files → checked [`Scenario`]s → runnable
//! [`Case`]s. Pure: no IO besides reading the files it is given. The runner
//! (elsewhere) executes a `Case`'s steps against real sessions and a real
//! daemon.
//!
//! ```text
//! load_file / load_dir ──► Scenario ──expand──► Vec<Case> ──(runner)
//!      │ YAML (serde-saphyr) with positions        │ matrix × excludes, `when`,
//!      │ + semantic checks (validate.rs)           │ ${var}/${axis} substituted
//! ```
//!
//! # The format, in short
//!
//! Top level: `name`, `description`, `tags`, `timeout`, `matrix` (axes and
//! `exclude`), `vars`, `sessions`, `daemon`, `steps`. Unknown keys are
//! errors everywhere. A step is a single-key map naming its kind, with the
//! attributes `name`, `timeout`, `after`, `when` beside it (see `steps.rs`;
//! `example.yaml` in this directory uses every kind). Settings under
//! `sessions` and `daemon` may be `${axis}` templates; free-text step fields
//! take `${var}`, `${axis}`, and at run time `${i}`, captures and
//! `${session:ID}` (see `interp.rs`).
//!
//! # For the runner
//!
//! - Run `case.steps` in order. For each [`StepNode`]: wait `after`, then
//!   run it under `timeout` (default: what is left of `case.timeout`);
//!   report a failure as `{path}:{loc.line}: {node.label("6")} failed: ...`
//!   (numbers are 1-based, dotted inside `repeat`: `3.2`).
//! - Before running a step, clone it and fill its runtime references:
//!   `for t in step.texts_mut() { *t = interpolate(t, lookup)? }`, where
//!   `lookup` knows the loop variables, the captures so far and
//!   `${session:ID}`. Static vars and axes are already substituted.
//! - `request` does not block (unless `wait: true`): its answer is held per
//!   client for `expect`, `connect`, `capture`, `port_of`.
//! - The loader has checked every reference, so a name a step uses exists
//!   by then (except names built from captures, known only at run time).
//!
//! # Why serde-saphyr
//!
//! serde_yaml is archived. Of its successors:
//! - **serde_yml** is out: RustSec advisories RUSTSEC-2025-0067/0068 flag it
//!   (and its libyml) as unsound and unmaintained.
//! - **serde_norway** (a maintained fork of serde_yaml on unsafe-libyaml)
//!   keeps serde_yaml's behaviour and its errors' line/column, but has no
//!   way to learn the position of a *value* that parsed fine — and the
//!   semantic checks ("no session `alcie` is declared", "step 6 (expect)
//!   failed") need exactly that.
//! - **serde-saphyr** (pure Rust on the saphyr parser, `forbid(unsafe_code)`,
//!   panic-free, actively developed, YAML test suite) has
//!   [`serde_saphyr::Spanned<T>`] for the line/column of any value, errors
//!   with a location and serde's "expected one of ..." wording (also for
//!   errors raised in our own `Deserialize` impls), duplicate keys refused by
//!   default, and resource budgets against hostile input.
//!
//! Its cost: rust-version 1.89 (the workspace declares the same), and a
//! young 2.x API.

mod browser_step;
mod duration;
mod filter;
mod interp;
mod load;
mod located;
mod matrix;
mod model;
mod schema;
mod step_read;
mod steps;
mod validate;
mod values;
mod vocab;

#[cfg(test)]
mod tests;

pub use duration::Duration;
pub use filter::{matches_name, matches_tags, CaseFilter};
pub use interp::{has_references, interpolate, references, substitute, VarRef};
pub use load::{load_dir, load_file, load_file_all, load_str, ErrorKind, ScenarioError};
pub use located::{Loc, Located};
pub use matrix::{case_name, combinations, expand, Case, DaemonConfig, Pattern, SessionConfig};
pub use model::{
    Axis, DaemonSpec, DrawSpec, Matrix, RegistrySpec, RegistryValues, Scenario, SessionSpec, When,
    DEFAULT_SCENARIO_TIMEOUT,
};
pub use schema::json_schema;
pub use steps::*;
pub use values::{ByteSize, Color, HexBytes, Scalar, Screen, Tpl};
pub use vocab::*;
