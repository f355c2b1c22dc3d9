//! Figure 4: memory per shadow. N sessions are shadowed at once, each with
//! a viewer that has received its first full frame. Native: how much
//! shadowd's RSS grew over the same daemon with no shadow. External: the
//! RSS of everything the daemon started (x11vnc, websockify and the
//! handler websockify forks per connection), divided by N. PSS, which
//! splits pages shared by forked processes and libraries, is reported too.

use super::procstat;
use super::results::{Row, Target};
use super::stage::{start_sessions, start_sides, unwatch, watch, Backend, Side};
use super::Ctx;
use crate::drivers::viewer::Viewer;
use crate::drivers::xvfb::{Pattern, Xvfb};
use anyhow::{anyhow, Result};
use std::time::Duration;

pub const NAME: &str = "rss";
pub const WIDTH: u16 = 1024;
pub const HEIGHT: u16 = 768;

struct Use {
    rss_mb: f64,
    pss_mb: f64,
}

/// Shadows every session, keeping each viewer in `viewers` as it comes, so
/// the caller can end them all even when one fails.
async fn shadow_all(side: &Side, sessions: &[Xvfb], viewers: &mut Vec<(String, Viewer)>) -> Result<()> {
    for x in sessions {
        let id = x.display_number().to_string();
        let v = watch(side, &id, &x.display()).await?;
        viewers.push((id, v));
    }
    Ok(())
}

fn sum(pids: &[u32], f: fn(u32) -> Option<u64>) -> u64 {
    pids.iter().filter_map(|&p| f(p)).sum()
}

async fn per_shadow(side: &Side, sessions: &[Xvfb]) -> Result<Use> {
    let pid = side.pid()?;
    let n = sessions.len() as f64;
    let base = match side.backend {
        Backend::Native => (procstat::rss(pid).unwrap_or(0), procstat::pss(pid).unwrap_or(0)),
        Backend::External => (0, 0),
    };
    let mut viewers = Vec::new();
    let shadowed = shadow_all(side, sessions, &mut viewers).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids = match side.backend {
        Backend::Native => vec![pid],
        Backend::External => procstat::descendants(pid),
    };
    let (rss, pss) = (sum(&pids, procstat::rss), sum(&pids, procstat::pss));
    for (id, v) in viewers {
        let _ = unwatch(side, &id, v).await;
    }
    if shadowed.is_err() {
        // A request may have been granted without a viewer: end it too.
        for x in sessions {
            let _ = side.end(&x.display_number().to_string()).await;
        }
    }
    shadowed?;
    if rss == 0 {
        return Err(anyhow!("no {} processes found to measure", side.backend.name()));
    }
    let mb = |now: u64, before: u64| now.saturating_sub(before) as f64 / n / 1e6;
    Ok(Use { rss_mb: mb(rss, base.0), pss_mb: mb(pss, base.1) })
}

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let n = if ctx.quick { 3 } else { 10 };
    let mut errors = Vec::new();
    let mut uses: [Option<Use>; 2] = [None, None];
    let setup = async {
        let sessions = tokio::task::block_in_place(|| start_sessions(n, WIDTH, HEIGHT, Pattern::Noise { seed: 9 }))?;
        // Fresh daemons: memory freed by earlier figures would otherwise be
        // reused and hide growth.
        let sides = start_sides(&ctx.bin, n as u16 + 2).await?;
        Ok::<_, anyhow::Error>((sessions, sides))
    };
    match setup.await {
        Ok((sessions, sides)) => {
            for side in &sides {
                match per_shadow(side, &sessions).await {
                    Ok(u) => uses[side.backend as usize] = Some(u),
                    Err(e) => errors.push(format!("{}: {e:#}", side.backend.name())),
                }
            }
        }
        Err(e) => errors.push(format!("setup: {e:#}")),
    }
    let value = |b: usize, f: fn(&Use) -> f64| uses[b].as_ref().map(f).into_iter().collect::<Vec<_>>();
    let note = format!(
        "{n} shadows of {WIDTH}x{HEIGHT} sessions at once, each viewer after its first full frame{}",
        ctx.error_note(&errors)
    );
    vec![
        Row::new(NAME, "rss_mb_per_shadow", "RSS per shadow", "MB")
            .samples(value(0, |u| u.rss_mb), value(1, |u| u.rss_mb))
            .target(Target::RatioAtMost(0.2))
            .note(note),
        Row::new(NAME, "pss_mb_per_shadow", "  PSS per shadow", "MB")
            .samples(value(0, |u| u.pss_mb), value(1, |u| u.pss_mb)),
    ]
}
