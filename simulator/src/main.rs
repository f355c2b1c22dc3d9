//! `shadowsim`: runs YAML scenarios against shadowd and reports.

use clap::{Parser, Subcommand};
use simulator::report;
use simulator::runtime::{self, target::ShadowdLauncher, RunOptions};
use simulator::scenario::{self, Case, CaseFilter};
use simulator::testbed::{Shape, Shard};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "shadowsim",
    version,
    about = "Scenario harness for shadowd: real X sessions, scripted admins, consent clicks, faults"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (files or directories of *.yaml) and write reports.
    Run {
        #[command(flatten)]
        select: Select,
        /// Cases run at once; each has its own displays, ports and temp dirs.
        #[arg(long, short = 'j', default_value_t = 2)]
        jobs: usize,
        /// Run each case this many times.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// Shuffle the case order with this seed (0: as loaded).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where junit.xml, result.json and report.html go.
        #[arg(long, default_value = "target/shadowsim-report")]
        report: PathBuf,
        /// The shadowd binary (default: $SHADOWD_BIN, else next to shadowsim).
        #[arg(long)]
        shadowd: Option<PathBuf>,
        /// Where cases run: on this host, or inside a container of `--distro`.
        #[arg(long, value_enum, default_value = "host")]
        runtime: Runtime,
        /// The distribution for `--runtime container` (a directory of testbed/, e.g. debian-12).
        #[arg(long, required_if_eq("runtime", "container"))]
        distro: Option<String>,
    },
    /// Run the scenarios in a container of each distribution and print a
    /// distro × scenario table (pass / fail / skipped with the reason).
    Matrix {
        #[command(flatten)]
        select: Select,
        /// Distributions (directories of testbed/), comma-separated; default: all defined.
        #[arg(long, value_delimiter = ',')]
        distros: Vec<String>,
        /// Cases run at once inside each container.
        #[arg(long, short = 'j', default_value_t = 2)]
        jobs: usize,
        /// Run each case this many times in each distribution.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// Shuffle the case order inside with this seed (0: as loaded).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the combined reports and matrix.txt go (each distribution's own in a subdirectory).
        #[arg(long, default_value = "target/shadowsim-matrix")]
        report: PathBuf,
    },
    /// The in-container side of the container runtime (used by shadowsim itself).
    #[command(hide = true)]
    Testbed {
        #[command(subcommand)]
        command: TestbedCommand,
    },
    /// List the cases that `run` would run, after matrix expansion and filters.
    List {
        #[command(flatten)]
        select: Select,
    },
    /// Check scenario files without running anything.
    Check {
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (for editors).
    Schema,
    /// Measure both backends side by side on the same X sessions and print
    /// each figure with the ratio native/external and the target.
    Bench {
        /// Shorter windows, fewer repetitions and shadows (a CI smoke run).
        #[arg(long)]
        quick: bool,
        /// Only these figures (comma-separated or repeated): first_frame,
        /// animation, terminal, idle_cpu, rss, gateway, many.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Write results.json, results.md and chart.png into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Shadows in the "many" figure, each on its own Xvfb [default: 99, 8 with --quick].
        #[arg(long, value_name = "N")]
        many: Option<usize>,
        /// Override every measurement window (seconds).
        #[arg(long)]
        seconds: Option<f64>,
        /// Override every figure's number of repetitions.
        #[arg(long)]
        reps: Option<usize>,
        /// Frames (animation) or lines (terminal) drawn per second. The update
        /// rate cannot exceed it, so it must be above what either backend
        /// delivers for the ratio to mean anything.
        #[arg(long, default_value_t = simulator::bench::updates::DEFAULT_HZ)]
        hz: f64,
        /// The shadowd binary (default: $SHADOWD_BIN, else next to shadowsim).
        #[arg(long)]
        shadowd: Option<PathBuf>,
    },
    /// (Used by `bench`.) shadowd's WebSocket gateway in front of a TCP
    /// target; prints its port.
    #[command(hide = true)]
    BenchGateway { target: std::net::SocketAddr },
}

#[derive(clap::Args)]
struct Select {
    /// Scenario files or directories.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Only cases with one of these tags (`!tag` excludes); repeatable.
    #[arg(long)]
    tag: Vec<String>,
    /// Only cases whose name matches (glob with * and ?, else substring); repeatable.
    #[arg(long)]
    name: Vec<String>,
    /// Backends for scenarios that do not name one (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "native,external")]
    backend: Vec<String>,
    /// Run the K-th of N slices of the selected cases (e.g. 2/3), to split work between machines.
    #[arg(long)]
    shard: Option<Shard>,
    /// Exactly this case name (repeatable): how the container runtime hands its selection inside.
    #[arg(long = "case", hide = true)]
    exact: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Runtime {
    Host,
    Container,
}

#[derive(Subcommand)]
enum TestbedCommand {
    /// The container's main process: one Xvfb session and a shadowd on published ports.
    Serve,
    /// Click Yes on the consent dialog of DISPLAY.
    Consent {
        #[arg(long)]
        display: String,
    },
    /// Write a PNG screenshot of DISPLAY to OUT.
    Screenshot {
        #[arg(long)]
        display: String,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Loads and expands every scenario under `paths`; errors are printed.
fn load(paths: &[PathBuf]) -> Result<Vec<Case>, usize> {
    let mut cases = Vec::new();
    let mut errors = 0;
    for path in paths {
        let (scenarios, errs) = if path.is_dir() {
            scenario::load_dir(path)
        } else {
            match scenario::load_file_all(path) {
                Ok(s) => (vec![s], vec![]),
                Err(e) => (vec![], e),
            }
        };
        for e in &errs {
            eprintln!("{e}");
            if let Some(snippet) = &e.snippet {
                eprintln!("{snippet}");
            }
        }
        errors += errs.len();
        for s in &scenarios {
            match scenario::expand(s) {
                Ok(c) => cases.extend(c),
                Err(errs) => {
                    errors += errs.len();
                    errs.iter().for_each(|e| eprintln!("{e}"));
                }
            }
        }
    }
    if errors > 0 {
        eprintln!("shadowsim: {errors} error(s) in the scenario files; nothing was run");
        return Err(errors);
    }
    Ok(cases)
}

fn select(sel: &Select) -> Result<Vec<Case>, ExitCode> {
    let mut backends = Vec::new();
    for b in &sel.backend {
        match serde_json::from_value::<scenario::Backend>(serde_json::Value::String(b.clone())) {
            Ok(b) => backends.push(b),
            Err(_) => {
                eprintln!("shadowsim: unknown backend {b:?} (use native or external)");
                return Err(ExitCode::from(2));
            }
        }
    }
    let cases = runtime::with_backends(load(&sel.paths).map_err(|_| ExitCode::from(2))?, &backends);
    let filter = CaseFilter { tags: sel.tag.clone(), names: sel.name.clone() };
    let mut chosen: Vec<Case> = filter.select(&cases).into_iter().cloned().collect();
    if !sel.exact.is_empty() {
        chosen.retain(|c| sel.exact.contains(&c.name));
    }
    if let Some(shard) = sel.shard {
        chosen = shard.apply(chosen);
    }
    if chosen.is_empty() {
        eprintln!("shadowsim: no case matches (of {} loaded)", cases.len());
        return Err(ExitCode::from(2));
    }
    Ok(chosen)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Schema => {
            println!("{}", scenario::json_schema());
            ExitCode::SUCCESS
        }
        Command::Bench { quick, only, out, many, seconds, reps, hz, shadowd } => {
            let opts = simulator::bench::BenchOptions { quick, only, out, many, shadowd, seconds, reps, hz };
            match simulator::bench::run(&opts) {
                Ok(report) => {
                    println!("{}", simulator::bench::render(&report));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("shadowsim bench: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::BenchGateway { target } => match simulator::bench::throughput::forwarder::main(target) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("shadowsim bench-gateway: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Check { paths } => match load(&paths) {
            Ok(cases) => {
                println!("{} cases, no errors", cases.len());
                ExitCode::SUCCESS
            }
            Err(_) => ExitCode::from(2),
        },
        Command::List { select: sel } => match select(&sel) {
            Ok(cases) => {
                for c in &cases {
                    println!("{}  ({}:{})", c.name, c.path.display(), c.tags.join(","));
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Testbed { command } => containers::agent(command),
        Command::Matrix { select: sel, distros, jobs, repeat, seed, report } => match select(&sel) {
            Ok(cases) => containers::matrix(&sel, &cases, distros, Shape { jobs, repeat, seed }, &report),
            Err(code) => code,
        },
        Command::Run { select: sel, jobs, repeat, seed, report: dir, runtime: Runtime::Container, distro, .. } => {
            match select(&sel) {
                Ok(cases) => {
                    let shape = Shape { jobs, repeat, seed };
                    containers::run(&sel, &cases, distro.as_deref().unwrap_or_default(), shape, &dir)
                }
                Err(code) => code,
            }
        }
        Command::Run { select: sel, jobs, repeat, seed, report: dir, shadowd, .. } => {
            let cases = match select(&sel) {
                Ok(c) => c,
                Err(code) => return code,
            };
            eprintln!("shadowsim: running {} cases with --jobs {jobs}", cases.len());
            let opts =
                RunOptions { jobs, repeat, seed, launcher: Arc::new(ShadowdLauncher { bin: shadowd }), progress: true };
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            let run = runtime.block_on(runtime::run(cases, &opts));
            match report::write_all(&run, &dir) {
                Ok(paths) => {
                    for p in paths {
                        eprintln!("shadowsim: wrote {}", p.display());
                    }
                }
                Err(e) => eprintln!("shadowsim: cannot write the report to {}: {e:#}", dir.display()),
            }
            println!("{}", report::summary(&run));
            if run.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `run --runtime container`, `matrix` and `testbed`: see simulator::testbed.
mod containers {
    use super::{Select, TestbedCommand};
    use simulator::report;
    use simulator::scenario::Case;
    use simulator::testbed::{self, engine::Engine, matrix, CaseStub, DistroRun, Plan, Shape};
    use std::path::Path;
    use std::process::ExitCode;
    use std::time::Instant;

    pub fn agent(command: TestbedCommand) -> ExitCode {
        let result = match command {
            TestbedCommand::Serve => tokio_runtime().block_on(testbed::agent::serve()),
            TestbedCommand::Consent { display } => {
                testbed::agent::consent_yes(&display, std::time::Duration::from_secs(15))
            }
            TestbedCommand::Screenshot { display, out } => testbed::agent::screenshot(&display, &out),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("shadowsim testbed: {e:#}");
                ExitCode::FAILURE
            }
        }
    }

    fn tokio_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
    }

    fn plan(sel: &Select, cases: &[Case], shape: Shape, report: &Path) -> Result<Plan, String> {
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        let workspace = testbed::find_workspace(&cwd).ok_or_else(|| {
            format!("no testbed/ directory in {} or above: run from the shadowd repository", cwd.display())
        })?;
        let paths = sel
            .paths
            .iter()
            .map(|p| p.canonicalize().map_err(|e| format!("{}: {e}", p.display())))
            .collect::<Result<Vec<_>, _>>()?;
        std::fs::create_dir_all(report).map_err(|e| format!("{}: {e}", report.display()))?;
        Ok(Plan {
            testbed_dir: workspace.join("testbed"),
            workspace,
            paths,
            cases: cases.iter().map(CaseStub::from_case).collect(),
            backends: sel.backend.clone(),
            shape,
            report_dir: report.canonicalize().map_err(|e| e.to_string())?,
        })
    }

    fn engine() -> Result<Engine, String> {
        // testcontainers finds the engine through DOCKER_HOST; podman's
        // socket (ci/podman-setup) is the default on these machines.
        if std::env::var_os("DOCKER_HOST").is_none() && Path::new("/run/podman/podman.sock").exists() {
            std::env::set_var("DOCKER_HOST", "unix:///run/podman/podman.sock");
        }
        Engine::detect().map_err(|e| format!("{e:#}"))
    }

    fn distros_run(
        sel: &Select,
        cases: &[Case],
        distros: &[String],
        shape: Shape,
        report: &Path,
    ) -> Result<Vec<DistroRun>, String> {
        let plan = plan(sel, cases, shape, report)?;
        let known = testbed::definition::available(&plan.testbed_dir);
        if let Some(bad) = distros.iter().find(|d| !known.contains(d)) {
            return Err(format!("no testbed definition {bad:?} (defined: {})", known.join(", ")));
        }
        let engine = engine()?;
        let rt = tokio_runtime();
        // One distribution at a time: each already runs --jobs cases at
        // once, and image builds would fight over the same two cores.
        Ok(distros
            .iter()
            .map(|d| {
                eprintln!("shadowsim: === {d} ({} cases) ===", plan.cases.len());
                let run = rt.block_on(testbed::run_distro(&engine, d, &plan));
                eprintln!("shadowsim: {d}: {}", run.timings.describe());
                run
            })
            .collect())
    }

    fn write(run: &report::RunResult, dir: &Path) {
        match report::write_all(run, dir) {
            Ok(paths) => paths.iter().for_each(|p| eprintln!("shadowsim: wrote {}", p.display())),
            Err(e) => eprintln!("shadowsim: cannot write the report to {}: {e:#}", dir.display()),
        }
    }

    pub fn run(sel: &Select, cases: &[Case], distro: &str, shape: Shape, report: &Path) -> ExitCode {
        let started = Instant::now();
        let started_at = shadowd::audit::log::now_rfc3339();
        let runs = match distros_run(sel, cases, &[distro.to_string()], shape, report) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("shadowsim: {e}");
                return ExitCode::from(2);
            }
        };
        let elapsed = started.elapsed().as_millis() as u64;
        let mut run = matrix::combined(&runs, started_at, elapsed, distro.into(), shape);
        // One distribution: names as on the host, the distribution in the matrix.
        for c in &mut run.cases {
            c.name = c.name.split_once('/').map_or(c.name.clone(), |(_, n)| n.to_string());
        }
        write(&run, report);
        if let Some(reason) = &runs[0].skipped {
            eprintln!("shadowsim: every case skipped: {reason}");
        }
        println!("{}", report::summary(&run));
        if run.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    pub fn matrix(sel: &Select, cases: &[Case], distros: Vec<String>, shape: Shape, report: &Path) -> ExitCode {
        let started = Instant::now();
        let started_at = shadowd::audit::log::now_rfc3339();
        let distros = if distros.is_empty() {
            match std::env::current_dir().ok().and_then(|d| testbed::find_workspace(&d)) {
                Some(ws) => testbed::definition::available(&ws.join("testbed")),
                None => vec![],
            }
        } else {
            distros
        };
        let runs = match distros_run(sel, cases, &distros, shape, report) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("shadowsim: {e}");
                return ExitCode::from(2);
            }
        };
        let table = matrix::table(&runs);
        let elapsed = started.elapsed().as_millis() as u64;
        let run = matrix::combined(&runs, started_at, elapsed, "matrix".into(), shape);
        write(&run, report);
        let path = report.join("matrix.txt");
        match std::fs::write(&path, &table) {
            Ok(()) => eprintln!("shadowsim: wrote {}", path.display()),
            Err(e) => eprintln!("shadowsim: cannot write {}: {e}", path.display()),
        }
        println!("{table}");
        if matrix::passed(&runs) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
