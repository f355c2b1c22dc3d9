//! The runner: executes cases against real sessions and a real shadowd,
//! `--jobs` at a time (each case isolated: its own displays, port block,
//! temp dirs), with progress as cases finish, into a [`RunResult`].

pub mod case;
pub mod events;
pub mod ports;
pub mod steps;
pub mod target;
pub mod trace;
pub mod world;

use crate::report::{self, RunResult, Status};
use crate::scenario::Case;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Instant;

/// Cases with this tag run alone (see [`run`]).
pub const EXCLUSIVE_TAG: &str = "stress";

/// Cases with this tag change the system (remove netstat, add firewall
/// rules, shadow x11vnc): they run only inside a throw-away testbed
/// container (`--runtime container`), one at a time, and are reported as
/// skipped anywhere else.
pub const CONTAINER_TAG: &str = "container";

/// Set by the testbed images (testbed/*/Containerfile) to the distribution's id.
pub const TESTBED_ENV: &str = "SHADOWSIM_TESTBED";

/// Why a case with these tags cannot run here, if it cannot.
pub fn needs_testbed(tags: &[String]) -> Option<String> {
    let inside = std::env::var_os(TESTBED_ENV).is_some_and(|v| !v.is_empty());
    (tags.iter().any(|t| t == CONTAINER_TAG) && !inside).then(|| {
        "tagged `container`: it changes the system, so it runs only inside a testbed \
         (shadowsim run --runtime container --distro ID)"
            .to_string()
    })
}

fn runs_alone(tags: &[String]) -> bool {
    tags.iter().any(|t| t == EXCLUSIVE_TAG || t == CONTAINER_TAG)
}

pub struct RunOptions {
    pub jobs: usize,
    pub repeat: u32,
    /// Shuffles the case order (reproducibly) to shake out dependencies
    /// between cases; 0 keeps the order as loaded.
    pub seed: u64,
    pub launcher: Arc<dyn target::Launcher>,
    /// Print a line per finished case (and a progress bar on a terminal).
    pub progress: bool,
}

pub async fn run(cases: Vec<Case>, opts: &RunOptions) -> RunResult {
    let started = Instant::now();
    let started_at = shadowd::audit::log::now_rfc3339();
    let mut work: Vec<(Case, u32)> =
        cases.into_iter().flat_map(|c| (1..=opts.repeat.max(1)).map(move |r| (c.clone(), r))).collect();
    shuffle(&mut work, opts.seed);
    let total = work.len();
    let bar = progress_bar(total, opts.progress);
    let env = case::Env { launcher: opts.launcher.as_ref(), blocks: ports::PortBlocks::shared() };
    let mut done = 0;
    // Cases tagged `stress` load the whole machine: they run one at a time
    // after the others, so they neither slow the others into timeouts nor
    // are measured under someone else's load. `container` cases change the
    // system the others run on: alone too.
    let (stress, normal): (Vec<_>, Vec<_>) = work.iter().partition(|(c, _)| runs_alone(&c.tags));
    let normal =
        futures_util::stream::iter(normal).map(|(c, r)| case::run_case(c, &env, *r)).buffer_unordered(opts.jobs.max(1));
    let stress = futures_util::stream::iter(stress).map(|(c, r)| case::run_case(c, &env, *r)).buffered(1);
    let mut results: Vec<report::CaseResult> = normal
        .chain(stress)
        .inspect(|result| {
            done += 1;
            let line = report::case_line(result);
            match &bar {
                Some(b) if !b.is_hidden() => {
                    b.println(line);
                    b.inc(1);
                }
                _ if opts.progress => eprintln!("[{done}/{total}] {line}"),
                _ => {}
            }
        })
        .collect()
        .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // Report in a stable order whatever the run order was.
    results.sort_by(|a, b| (a.file.as_str(), a.name.as_str(), a.repetition).cmp(&(&b.file, &b.name, b.repetition)));
    RunResult {
        started: started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        machine: machine(),
        seed: opts.seed,
        jobs: opts.jobs,
        cases: results,
    }
}

fn progress_bar(total: usize, enabled: bool) -> Option<indicatif::ProgressBar> {
    if !enabled {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} cases")
            .expect("static template")
            .progress_chars("=> "),
    );
    Some(bar)
}

/// Fisher–Yates with a tiny xorshift: reproducible from the seed alone.
fn shuffle<T>(items: &mut [T], seed: u64) {
    if seed == 0 {
        return;
    }
    let mut s = seed;
    for i in (1..items.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        items.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

fn machine() -> String {
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string())))
        .unwrap_or_else(|| "Linux".into());
    format!("{host}, {cores} cores, {os}")
}

/// Runs each case that does not pin a backend on every backend given,
/// adding `backend=…` to its name; pinned cases stay as they are.
pub fn with_backends(cases: Vec<Case>, backends: &[crate::scenario::Backend]) -> Vec<Case> {
    cases
        .into_iter()
        .flat_map(|case| {
            if case.daemon.backend_pinned || backends.is_empty() {
                return vec![case];
            }
            backends
                .iter()
                .map(|&b| {
                    let mut c = case.clone();
                    c.daemon.backend = b;
                    let value = serde_json::to_value(b).ok().and_then(|v| v.as_str().map(String::from));
                    c.axes.insert(0, ("backend".into(), value.unwrap_or_default()));
                    c.name = crate::scenario::case_name(&c.scenario, &c.axes);
                    c
                })
                .collect()
        })
        .collect()
}

/// Whether every case passed.
pub fn all_passed(run: &RunResult) -> bool {
    run.count(Status::Failed) == 0
}
