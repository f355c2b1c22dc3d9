//! The container runtime: scenarios run inside a container of one of the
//! distributions defined under `testbed/` (one Containerfile each, which
//! installs the seed's dependencies the way the seed says for that
//! distribution), with that distribution's own Xvfb, x11vnc and websockify.
//!
//! Per distribution ([`run_distro`]):
//! 1. the image: cached under a hash of its definition, else built — its
//!    base from the local store, a registry, or bootstrapped from the
//!    distribution's package mirror ([`image`]); a base that cannot be had
//!    here makes every case of that distribution *skipped*, with the reason;
//! 2. the binaries: the host's when they start there, else built inside
//!    ([`binaries`]);
//! 3. a container whose main process is one Xvfb session and a shadowd with
//!    its API and shadow ports published on the host's loopback
//!    ([`agent`]); the host drives it through those mapped ports — API,
//!    consent click, RFB frame — as the case `mapped-ports` ([`smoke`]);
//! 4. the scenario cases: `shadowsim run` exec'd inside (each case needs its
//!    own Xvfb displays, daemons and port blocks, which live there), its
//!    progress streamed back line by line and its `result.json` read back
//!    through a bind-mounted report directory.

pub mod agent;
pub mod binaries;
pub mod container;
pub mod definition;
pub mod engine;
pub mod image;
pub mod matrix;
pub mod smoke;

use crate::report::{CaseResult, RunResult, Status};
use anyhow::{Context, Result};
use container::{Spec, Testbed, BIN_DIR};
use engine::Engine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to run in each distribution.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The repository's `testbed/` directory (definitions, bootstrap scripts).
    pub testbed_dir: PathBuf,
    /// The workspace root (for building inside, and `target/`).
    pub workspace: PathBuf,
    /// Scenario files or directories, absolute.
    pub paths: Vec<PathBuf>,
    /// The cases selected on the host (filters and shard applied), by name:
    /// the inside run gets exactly these.
    pub cases: Vec<CaseStub>,
    pub backends: Vec<String>,
    /// Handed to the run inside as `--jobs`, `--repeat`, `--seed`.
    pub shape: Shape,
    /// Reports go to `<report_dir>/<distro>/`.
    pub report_dir: PathBuf,
}

/// How the cases run inside a container: how many at once, how often
/// each (every repetition is expected back), in which order.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub jobs: usize,
    pub repeat: u32,
    pub seed: u64,
}

impl Shape {
    /// How often each case runs: `--repeat 0` runs once, as on the host.
    pub fn repetitions(&self) -> u32 {
        self.repeat.max(1)
    }
}

/// What the host knows of a case before it runs: enough to report it as
/// skipped when its distribution cannot run here.
#[derive(Debug, Clone)]
pub struct CaseStub {
    pub name: String,
    pub scenario: String,
    pub file: String,
    pub description: String,
    pub tags: Vec<String>,
    pub matrix: BTreeMap<String, String>,
}

impl CaseStub {
    pub fn from_case(c: &crate::scenario::Case) -> CaseStub {
        CaseStub {
            name: c.name.clone(),
            scenario: c.scenario.clone(),
            file: c.path.display().to_string(),
            description: c.description.clone().unwrap_or_default(),
            tags: c.tags.clone(),
            matrix: c.axes.iter().cloned().collect(),
        }
    }

    pub(crate) fn result(&self, status: Status, message: String) -> CaseResult {
        self.repetition(1, status, message)
    }

    /// One result per repetition, all with the same outcome.
    pub(crate) fn results(&self, repetitions: u32, status: Status, message: &str) -> Vec<CaseResult> {
        (1..=repetitions).map(|r| self.repetition(r, status, message.to_string())).collect()
    }

    fn repetition(&self, repetition: u32, status: Status, message: String) -> CaseResult {
        CaseResult {
            name: self.name.clone(),
            scenario: self.scenario.clone(),
            file: self.file.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            matrix: self.matrix.clone(),
            repetition,
            status,
            duration_ms: 0,
            message: Some(message),
            steps: vec![],
            daemon_log: None,
            events: vec![],
            trace: vec![],
        }
    }
}

/// One distribution's outcome.
#[derive(Debug, Clone)]
pub struct DistroRun {
    pub distro: String,
    /// Every planned case (plus `mapped-ports`), or every one skipped.
    pub cases: Vec<CaseResult>,
    /// Set when the whole distribution was skipped: why.
    pub skipped: Option<String>,
    pub timings: Timings,
}

/// Where the time went, for the report and the README's figures.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub bootstrap: Option<Duration>,
    /// The image build (None: cached).
    pub image_build: Option<Duration>,
    /// Building the binaries inside (None: the host's were used).
    pub binaries_build: Option<Duration>,
    /// Set once the image is there (built or cached): before that, there
    /// is nothing to say about the cache.
    pub image_ready: bool,
    /// Container start to last result.
    pub run: Duration,
    pub total: Duration,
}

impl Timings {
    pub fn describe(&self) -> String {
        let opt = |d: Option<Duration>, what: &str| d.map(|d| format!("{what} {:.0}s", d.as_secs_f64()));
        let mut parts: Vec<String> = [
            opt(self.bootstrap, "bootstrap"),
            opt(self.image_build, "image build"),
            opt(self.binaries_build, "binaries build"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.image_ready {
            if self.image_build.is_none() {
                parts.push("image cached".into());
            }
            parts.push(format!("run {:.0}s", self.run.as_secs_f64()));
        }
        parts.push(format!("total {:.0}s", self.total.as_secs_f64()));
        parts.join(", ")
    }
}

/// Runs the plan in one distribution. Problems of the testbed itself (the
/// image does not build, the container does not start) fail every case,
/// with the problem as the message: they are never skipped.
pub async fn run_distro(engine: &Engine, distro: &str, plan: &Plan) -> DistroRun {
    let started = Instant::now();
    let mut timings = Timings::default();
    let outcome = prepare_and_run(engine, distro, plan, &mut timings).await;
    timings.total = started.elapsed();
    let (cases, skipped) = match outcome {
        Ok(Ran::Cases(cases)) => (cases, None),
        Ok(Ran::Unavailable(reason)) => {
            let msg = format!("{distro} cannot run here: {reason}");
            // The host's own check is a cell of the table too: skipped with the rest.
            let mut all = vec![smoke::stub().result(Status::Skipped, msg.clone())];
            all.extend(plan.cases.iter().flat_map(|c| c.results(plan.shape.repetitions(), Status::Skipped, &msg)));
            (all, Some(reason))
        }
        Err(e) => {
            let msg = format!("the {distro} testbed failed: {e:#}");
            eprintln!("shadowsim: {msg}");
            (plan.cases.iter().flat_map(|c| c.results(plan.shape.repetitions(), Status::Failed, &msg)).collect(), None)
        }
    };
    DistroRun { distro: distro.into(), cases, skipped, timings }
}

enum Ran {
    Cases(Vec<CaseResult>),
    Unavailable(String),
}

async fn prepare_and_run(engine: &Engine, distro: &str, plan: &Plan, timings: &mut Timings) -> Result<Ran> {
    let def = definition::load(&plan.testbed_dir, distro)?;
    let logs = plan.report_dir.join(distro);
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let img = match image::ensure(engine, &def, definition::RUN_STAGE, &plan.testbed_dir, &logs).await? {
        image::Outcome::Ready(img) => img,
        image::Outcome::Unavailable(u) => return Ok(Ran::Unavailable(u.0)),
    };
    timings.bootstrap = img.bootstrapped;
    timings.image_build = img.built;
    timings.image_ready = true;
    let mut bins = binaries::host()?;
    if let Err(why) = binaries::runs_in(engine, &img.name, &bins).await? {
        eprintln!("shadowsim: {distro}: the host's shadowsim does not start there ({why})");
        let builder = match image::ensure(engine, &def, definition::BUILD_STAGE, &plan.testbed_dir, &logs).await? {
            image::Outcome::Ready(b) => b,
            image::Outcome::Unavailable(u) => return Ok(Ran::Unavailable(u.0)),
        };
        bins = binaries::build_inside(distro, &builder.name, &plan.workspace).await?;
        timings.binaries_build = bins.built;
    }
    let run_started = Instant::now();
    eprintln!("shadowsim: {distro}: starting {} ({})", img.name, bins.origin);
    let tb = Testbed::start(Spec {
        image: &img.name,
        distro,
        shadowd: &bins.shadowd,
        shadowsim: &bins.shadowsim,
        read_only: plan.paths.clone(),
        writable: vec![logs.clone()],
    })
    .await?;
    let result = run_inside(&tb, plan, &logs).await;
    let _ = tb.remove().await;
    timings.run = run_started.elapsed();
    result.map(Ran::Cases)
}

async fn run_inside(tb: &Testbed, plan: &Plan, logs: &Path) -> Result<Vec<CaseResult>> {
    let mut cases = vec![smoke::check(tb).await];
    eprintln!("[{}] {}", tb.distro, crate::report::case_line(&cases[0]));
    if plan.cases.is_empty() {
        return Ok(cases);
    }
    let inner = logs.join("inside");
    let _ = std::fs::remove_file(inner.join("result.json"));
    let mut argv = vec![format!("{BIN_DIR}/shadowsim"), "run".into()];
    argv.extend(plan.paths.iter().map(|p| p.display().to_string()));
    let shape = plan.shape;
    argv.extend(["--jobs".into(), shape.jobs.to_string(), "--report".into(), inner.display().to_string()]);
    argv.extend(["--backend".into(), plan.backends.join(",")]);
    argv.extend(["--repeat".into(), shape.repetitions().to_string(), "--seed".into(), shape.seed.to_string()]);
    for c in &plan.cases {
        argv.extend(["--case".into(), c.name.clone()]);
    }
    let out = tb.exec(&argv, true).await?;
    let path = inner.join("result.json");
    let run: Option<RunResult> = std::fs::read_to_string(&path).ok().and_then(|text| serde_json::from_str(&text).ok());
    let Some(run) = run else {
        let tail: Vec<&str> = out.stderr.lines().rev().take(15).collect();
        anyhow::bail!(
            "`shadowsim run` inside exited with {} and wrote no {}:\n{}",
            out.code,
            path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    };
    let mut got: BTreeMap<(String, u32), CaseResult> =
        run.cases.into_iter().map(|c| ((c.name.clone(), c.repetition), c)).collect();
    for stub in &plan.cases {
        for r in 1..=shape.repetitions() {
            cases.push(got.remove(&(stub.name.clone(), r)).unwrap_or_else(|| {
                let which = if shape.repetitions() > 1 { format!(" (repetition {r})") } else { String::new() };
                stub.repetition(
                    r,
                    Status::Failed,
                    format!("the run inside (exit {}) did not report this case{which}", out.code),
                )
            }));
        }
    }
    Ok(cases)
}

/// `K/N`: run the K-th of N slices (1-based) of the planned cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: use K/N, e.g. 1/3"))?;
        let (k, n): (usize, usize) =
            (k.trim().parse().map_err(|_| "K is not a number")?, n.trim().parse().map_err(|_| "N is not a number")?);
        if n == 0 || k == 0 || k > n {
            return Err(format!("{s:?}: need 1 ≤ K ≤ N"));
        }
        Ok(Shard { index: k, count: n })
    }
}

impl Shard {
    /// Keeps every N-th item starting at the K-th: slices are disjoint,
    /// cover everything, and each gets a mix of scenarios rather than one
    /// alphabetical block of the slow ones.
    pub fn apply<T>(&self, items: Vec<T>) -> Vec<T> {
        items.into_iter().enumerate().filter(|(i, _)| i % self.count == self.index - 1).map(|(_, t)| t).collect()
    }
}

/// The workspace root: the nearest ancestor of `start` with `testbed/`.
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join("testbed").is_dir() && d.join("Cargo.toml").is_file()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stub_gives_one_result_per_repetition() {
        let stub = CaseStub {
            name: "consent-yes[native]".into(),
            scenario: "consent-yes".into(),
            file: "scenarios/consent-yes.yaml".into(),
            description: String::new(),
            tags: vec![],
            matrix: Default::default(),
        };
        let got = stub.results(3, Status::Skipped, "no registry");
        assert_eq!(got.iter().map(|c| c.repetition).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(got.iter().all(|c| c.status == Status::Skipped && c.message.as_deref() == Some("no registry")));
    }

    #[test]
    fn shards_split_disjointly_and_cover_everything() {
        let items: Vec<u32> = (0..10).collect();
        let mut all: Vec<u32> = (1..=3).flat_map(|k| Shard { index: k, count: 3 }.apply(items.clone())).collect();
        all.sort();
        assert_eq!(all, items);
        assert_eq!(Shard { index: 2, count: 3 }.apply(items), vec![1, 4, 7]);
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert!("0/3".parse::<Shard>().is_err() && "4/3".parse::<Shard>().is_err() && "x".parse::<Shard>().is_err());
    }
}
