//! `shadowsim bench`: both backends side by side in one run, on the same X
//! sessions, with the ratio native/external next to the target for
//! every figure. Timings are reported, never asserted: on a shared 2-core
//! machine they are noisy, so figures repeat with the backends alternating
//! and report medians.
//!
//! Map: [`stage`] (daemons, consent, viewers), [`screen`] (the shared
//! 1080p session), [`draw`] (workloads), [`procstat`] (/proc readings),
//! one module per figure ([`first_frame`], [`updates`], [`idle`],
//! [`memory`], [`gateway`] over [`throughput`], [`many`]), and the output:
//! [`results`] (table, JSON) and [`chart`] (PNG).

pub mod chart;
pub mod draw;
pub mod first_frame;
pub mod gateway;
pub mod idle;
pub mod many;
pub mod memory;
pub mod procstat;
pub mod results;
pub mod screen;
pub mod stage;
pub mod throughput;
pub mod updates;

use anyhow::{bail, Result};
use results::{Machine, Report, Row};
use std::path::PathBuf;

/// Every figure's `--only` name, in run order.
pub const FIGURES: [&str; 7] =
    [first_frame::NAME, "animation", "terminal", idle::NAME, memory::NAME, gateway::NAME, many::NAME];

#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// Shorter windows, fewer repetitions and shadows: a CI smoke run.
    pub quick: bool,
    /// Figures to run (empty: all).
    pub only: Vec<String>,
    /// Write results.json, results.md and chart.png into this directory.
    pub out: Option<PathBuf>,
    /// Shadows in the "many" figure (default 99, 8 with `quick`).
    pub many: Option<usize>,
    /// The shadowd binary (default: $SHADOWD_BIN, else next to shadowsim).
    pub shadowd: Option<PathBuf>,
    /// Overrides every measurement window, in seconds.
    pub seconds: Option<f64>,
    /// Overrides every figure's repetitions.
    pub reps: Option<usize>,
    /// The workloads' drawing rate (frames or lines per second).
    pub hz: f64,
}

/// What the figures need to know about the run.
pub struct Ctx {
    pub quick: bool,
    pub bin: Option<PathBuf>,
    /// Shadows in the "many" figure.
    pub many: usize,
    seconds: Option<f64>,
    reps: Option<usize>,
    /// The workloads' drawing rate (frames or lines per second).
    pub hz: f64,
}

impl Ctx {
    /// A measurement window: `full` seconds, or `quick` with `--quick`.
    pub fn window(&self, full: f64, quick: f64) -> f64 {
        self.seconds.unwrap_or(if self.quick { quick } else { full })
    }

    pub fn reps(&self, full: usize, quick: usize) -> usize {
        self.reps.unwrap_or(if self.quick { quick } else { full }).max(1)
    }

    /// "; errors: ..." for a row's note, or nothing.
    pub fn error_note(&self, errors: &[String]) -> String {
        if errors.is_empty() {
            String::new()
        } else {
            format!("; errors: {}", errors.join("; "))
        }
    }
}

/// Runs the selected figures, printing each one's rows as it finishes.
pub fn run(opts: &BenchOptions) -> Result<Report> {
    for name in &opts.only {
        if !FIGURES.contains(&name.as_str()) {
            bail!("unknown figure {name:?}; figures: {}", FIGURES.join(", "));
        }
    }
    let selected = |name: &str| opts.only.is_empty() || opts.only.iter().any(|o| o == name);
    let many = opts.many.unwrap_or(if opts.quick { 8 } else { 99 });
    if many == 0 {
        bail!("--many must be at least 1");
    }
    if !(opts.hz > 0.0 && opts.hz <= 1000.0) {
        bail!("--hz must be between 0 and 1000 (got {})", opts.hz);
    }
    let ctx =
        Ctx { quick: opts.quick, bin: opts.shadowd.clone(), many, seconds: opts.seconds, reps: opts.reps, hz: opts.hz };
    let machine = Machine::probe();
    eprintln!(
        "shadowsim bench: {} cores, {}, kernel {}{}",
        machine.cores,
        machine.cpu_model,
        machine.kernel,
        if opts.quick { " (quick)" } else { "" }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let total = FIGURES.iter().filter(|n| selected(n)).count() as u64;
    let progress = Progress::new(total);
    let rows = runtime.block_on(async {
        let mut rows: Vec<Row> = Vec::new();
        let needs_screen = [first_frame::NAME, "animation", "terminal", idle::NAME].iter().any(|n| selected(n));
        if needs_screen {
            progress.begin("starting a 1920x1080 session and both daemons");
            let screen = screen::Screen::start(&ctx).await?;
            if selected(first_frame::NAME) {
                progress.begin(first_frame::NAME);
                rows.extend(progress.done(first_frame::run(&ctx, &screen).await));
            }
            for w in [updates::Workload::Animation, updates::Workload::Terminal] {
                if selected(w.name()) {
                    progress.begin(w.name());
                    rows.extend(progress.done(updates::run(&ctx, &screen, w).await));
                }
            }
            if selected(idle::NAME) {
                progress.begin(idle::NAME);
                rows.extend(progress.done(idle::run(&ctx, &screen).await));
            }
        }
        if selected(memory::NAME) {
            progress.begin(memory::NAME);
            rows.extend(progress.done(memory::run(&ctx).await));
        }
        if selected(gateway::NAME) {
            progress.begin(gateway::NAME);
            rows.extend(progress.done(gateway::run(&ctx).await));
        }
        if selected(many::NAME) {
            progress.begin(&format!("{} ({} shadows per backend)", many::NAME, ctx.many));
            rows.extend(progress.done(many::run(&ctx).await));
        }
        Ok::<_, anyhow::Error>(rows)
    })?;
    progress.finish();
    let report = Report { machine, quick: opts.quick, rows };
    if let Some(dir) = &opts.out {
        write_out(&report, dir)?;
        eprintln!("shadowsim bench: wrote results.json, results.md and chart.png to {}", dir.display());
    }
    Ok(report)
}

/// The `--out` directory's files.
pub fn write_out(report: &Report, dir: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(report)?)?;
    std::fs::write(dir.join("results.md"), render(report))?;
    chart::write(report, &dir.join("chart.png"))
}

/// The report as printed on stdout: machine, table, notes.
pub fn render(report: &Report) -> String {
    let m = &report.machine;
    let mut out = format!(
        "shadowsim bench — {} cores, {}, kernel {}, {}{}\n\n",
        m.cores,
        m.cpu_model,
        m.kernel,
        m.date,
        if report.quick { " (quick run)" } else { "" }
    );
    out.push_str(&results::table(&report.rows));
    out.push('\n');
    for r in report.rows.iter().filter(|r| !r.note.is_empty()) {
        out.push_str(&format!("- {}: {}\n", r.label.trim(), r.note));
    }
    out
}

/// Progress on stderr: a bar over the figures when stderr is a terminal,
/// plain lines otherwise (CI logs), and each figure's rows as it ends.
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(figures: u64) -> Progress {
        let bar = indicatif::ProgressBar::with_draw_target(Some(figures), indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:24}] {pos}/{len} figures: {msg}")
            .expect("static template")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        Progress { bar }
    }

    fn line(&self, text: &str) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    fn begin(&self, what: &str) {
        self.bar.set_message(what.to_string());
        if self.bar.is_hidden() {
            eprintln!("shadowsim bench: [{:.0?}] {what}", self.bar.elapsed());
        }
    }

    /// Shows a figure's rows and counts it done.
    fn done(&self, rows: Vec<Row>) -> Vec<Row> {
        self.line(results::table(&rows).trim_end());
        self.bar.inc(1);
        rows
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
