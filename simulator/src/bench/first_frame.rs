//! Figure 1: from the user's "Yes" (the key press on the consent dialog) to
//! the first complete frame at the admin's viewer. This is what the admin
//! waits for: the daemon starting the backend, the API answer, the
//! WebSocket and RFB handshakes, capturing and encoding 1920x1080.

use super::results::{Row, Target};
use super::screen::{order, Screen};
use super::stage::{connect, Backend, STEP};
use super::Ctx;
use anyhow::Result;
use std::time::Instant;

pub const NAME: &str = "first_frame";

struct Times {
    total_ms: f64,
    grant_ms: f64,
    frame_ms: f64,
}

async fn once(screen: &Screen, b: Backend) -> Result<Times> {
    let side = screen.side(b);
    let (grant, yes_at) = side.shadow(&screen.id, &screen.display()).await?;
    let granted = yes_at.elapsed();
    let started = Instant::now();
    let mut v = connect(&grant).await?;
    v.full_frame(STEP).await?;
    let frame = started.elapsed();
    let total = yes_at.elapsed();
    super::stage::unwatch(side, &screen.id, v).await?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    Ok(Times { total_ms: ms(total), grant_ms: ms(granted), frame_ms: ms(frame) })
}

pub async fn run(ctx: &Ctx, screen: &Screen) -> Vec<Row> {
    let reps = ctx.reps(7, 1);
    let mut samples: [Vec<Times>; 2] = [vec![], vec![]];
    let mut errors = Vec::new();
    if let Err(e) = screen.reset() {
        errors.push(format!("drawing: {e:#}"));
    }
    for rep in 0..reps {
        for b in order(rep) {
            match once(screen, b).await {
                Ok(t) => samples[b as usize].push(t),
                Err(e) => errors.push(format!("{}: {e:#}", b.name())),
            }
        }
    }
    let pick = |f: fn(&Times) -> f64| -> (Vec<f64>, Vec<f64>) {
        (samples[0].iter().map(f).collect(), samples[1].iter().map(f).collect())
    };
    let (n, e) = pick(|t| t.total_ms);
    let note = format!("{reps} repetitions each, 1920x1080 noise picture{}", ctx.error_note(&errors));
    let total = Row::new(NAME, "first_frame_ms", "first full frame after Yes", "ms")
        .samples(n, e)
        .target(Target::RatioAtMost(0.2))
        .note(note);
    let (n, e) = pick(|t| t.grant_ms);
    let grant = Row::new(NAME, "first_frame_grant_ms", "  of which Yes -> API answer", "ms").samples(n, e);
    let (n, e) = pick(|t| t.frame_ms);
    let frame = Row::new(NAME, "first_frame_connect_ms", "  of which connect -> full frame", "ms").samples(n, e);
    vec![total, grant, frame]
}
