//! Figure 3: what one idle viewer costs. The screen is still, the viewer
//! has an incremental update request outstanding (as noVNC always does),
//! and the backend's processes' CPU time is read before and after.

use super::procstat::CpuWindow;
use super::results::{Row, Target};
use super::screen::{order, Screen};
use super::stage::{pipeline_pids, pump, unwatch, watch, Backend};
use super::Ctx;
use anyhow::Result;

pub const NAME: &str = "idle_cpu";

/// CPU seconds per minute.
async fn round(screen: &Screen, b: Backend, secs: f64) -> Result<f64> {
    let side = screen.side(b);
    screen.reset()?;
    let mut v = watch(side, &screen.id, &screen.display()).await?;
    // Let start-up work (x11vnc's first polls, caches) settle.
    let measured = async {
        pump(&mut v, 2.0).await?;
        let cpu = CpuWindow::start(pipeline_pids(side)?);
        pump(&mut v, secs).await?;
        Ok::<_, anyhow::Error>(cpu.cores() * 60.0)
    }
    .await;
    unwatch(side, &screen.id, v).await?;
    measured
}

pub async fn run(ctx: &Ctx, screen: &Screen) -> Vec<Row> {
    let reps = ctx.reps(2, 1);
    let secs = ctx.window(20.0, 3.0);
    let mut samples: [Vec<f64>; 2] = [vec![], vec![]];
    let mut errors = Vec::new();
    for rep in 0..reps {
        for b in order(rep) {
            match round(screen, b, secs).await {
                Ok(s) => samples[b as usize].push(s),
                Err(e) => errors.push(format!("{}: {e:#}", b.name())),
            }
        }
    }
    let [n, e] = samples;
    let note = format!(
        "1920x1080 still screen, one viewer with a request pending; {reps} x {secs:.0} s per backend; \
         native = shadowd, external = x11vnc + websockify (+ handler); 10 ms clock ticks{}",
        ctx.error_note(&errors)
    );
    vec![Row::new(NAME, "idle_cpu_s_per_min", "idle viewer CPU", "s/min")
        .samples(n, e)
        .target(Target::RatioAtMost(0.1))
        .note(note)]
}
