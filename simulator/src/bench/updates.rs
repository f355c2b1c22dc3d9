//! Figure 2: how many updates a viewer gets per second, and how big they
//! are, while the screen changes continuously. The viewer asks for the next
//! incremental update as soon as one is complete (noVNC's loop), so the
//! rate is what the server can deliver, up to the workload's own rate.

use super::draw::Drawer;
use super::procstat::CpuWindow;
use super::results::{Row, Target};
use super::screen::{order, Screen};
use super::stage::{pipeline_pids, pump, unwatch, watch, Backend};
use super::Ctx;
use anyhow::Result;

/// Frames (animation) or lines (terminal) drawn per second by default: a
/// 60 Hz screen, above what either backend delivers at 1080p here, so the
/// update rate measures the pipeline rather than the workload.
pub const DEFAULT_HZ: f64 = 60.0;
/// Pixels the animation moves per frame.
pub const ANIMATION_STEP: u16 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Animation,
    Terminal,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Animation => "animation",
            Workload::Terminal => "terminal",
        }
    }

    fn start(self, display: &str, hz: f64) -> Result<Drawer> {
        tokio::task::block_in_place(|| match self {
            Workload::Animation => Drawer::animation(display, hz, ANIMATION_STEP),
            Workload::Terminal => Drawer::terminal(display, hz),
        })
    }
}

struct Round {
    updates_per_s: f64,
    kb_per_update: f64,
    cores: f64,
    drawn_per_s: f64,
}

async fn round(screen: &Screen, b: Backend, w: Workload, secs: f64, hz: f64) -> Result<Round> {
    let side = screen.side(b);
    let mut v = watch(side, &screen.id, &screen.display()).await?;
    let drawer = w.start(&screen.display(), hz)?;
    let result = async {
        // Warm up: the first updates after the picture changed wholesale.
        pump(&mut v, 1.0).await?;
        let bytes = v.bytes_received();
        let cpu = CpuWindow::start(pipeline_pids(side)?);
        let started = std::time::Instant::now();
        let n = pump(&mut v, secs).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let cores = cpu.cores();
        let bytes = v.bytes_received() - bytes;
        Ok::<_, anyhow::Error>((n, elapsed, bytes, cores))
    }
    .await;
    let drawn = tokio::task::block_in_place(|| drawer.stop());
    unwatch(side, &screen.id, v).await?;
    screen.reset()?;
    let (n, elapsed, bytes, cores) = result?;
    Ok(Round {
        updates_per_s: n as f64 / elapsed,
        kb_per_update: if n == 0 { f64::NAN } else { bytes as f64 / n as f64 / 1000.0 },
        cores,
        drawn_per_s: drawn?.rate(),
    })
}

pub async fn run(ctx: &Ctx, screen: &Screen, w: Workload) -> Vec<Row> {
    let reps = ctx.reps(3, 1);
    let secs = ctx.window(10.0, 2.0);
    let mut rounds: [Vec<Round>; 2] = [vec![], vec![]];
    let mut errors = Vec::new();
    for rep in 0..reps {
        for b in order(rep) {
            match round(screen, b, w, secs, ctx.hz).await {
                Ok(r) => rounds[b as usize].push(r),
                Err(e) => errors.push(format!("{}: {e:#}", b.name())),
            }
        }
    }
    let pick = |f: fn(&Round) -> f64| -> (Vec<f64>, Vec<f64>) {
        (rounds[0].iter().map(f).collect(), rounds[1].iter().map(f).collect())
    };
    let drawn: Vec<f64> = rounds.iter().flatten().map(|r| r.drawn_per_s).collect();
    let what = match w {
        Workload::Animation => format!("1920x1080 photo-like picture panned {ANIMATION_STEP} px per frame"),
        Workload::Terminal => "full-screen terminal scrolling one line per frame".to_string(),
    };
    let note = format!(
        "{what}, drawn at {:.1}/s (median; asked {:.0}/s); {reps} x {secs:.0} s per backend{}",
        super::stage::median(&drawn),
        ctx.hz,
        ctx.error_note(&errors)
    );
    let name = w.name();
    let (key_rate, key_size, key_cpu) = match w {
        Workload::Animation => ("animation_updates_per_s", "animation_kb_per_update", "animation_cores"),
        Workload::Terminal => ("terminal_updates_per_s", "terminal_kb_per_update", "terminal_cores"),
    };
    let (n, e) = pick(|r| r.updates_per_s);
    let rate = Row::new(name, key_rate, format!("{name}: update rate"), "updates/s")
        .samples(n, e)
        .target(Target::RatioAtLeast(2.0))
        .note(note);
    let (n, e) = pick(|r| r.kb_per_update);
    let size = Row::new(name, key_size, format!("{name}: bytes per update"), "kB")
        .samples(n, e)
        .target(Target::RatioAtMost(1.0));
    let (n, e) = pick(|r| r.cores);
    let cpu = Row::new(name, key_cpu, format!("{name}: server CPU"), "cores").samples(n, e);
    vec![rate, size, cpu]
}
