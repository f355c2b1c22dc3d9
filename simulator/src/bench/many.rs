//! Figure 6: the whole port range in use. N small sessions (99 = the seed's
//! 6001-6099) are shadowed at once, every display keeps changing, and every
//! viewer asks for updates back to back. A shadow "keeps up" when each
//! second of the window brought its viewer at least one update.

use super::draw::Drawer;
use super::procstat::CpuWindow;
use super::results::{Row, Target};
use super::stage::{pipeline_pids, start_sessions, start_sides, unwatch, watch, Side};
use super::Ctx;
use crate::drivers::viewer::{Viewer, ViewerError};
use crate::drivers::xvfb::{Pattern, Xvfb};
use anyhow::Result;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const NAME: &str = "many";
pub const WIDTH: u16 = 160;
pub const HEIGHT: u16 = 100;
/// How often each display changes.
pub const CHANGE_HZ: f64 = 4.0;
/// Shadows set up at once (consent, backend start, first frame).
const SETUP_CONCURRENCY: usize = 4;

struct Outcome {
    shadowed: usize,
    keeping_up: usize,
    mean_rate: f64,
    cores: f64,
    /// Why shadows could not be set up (session: error), for the note.
    failures: Vec<String>,
}

/// Every update's arrival, until `secs` pass.
async fn updates(mut v: Viewer, secs: f64) -> (Viewer, Vec<Duration>) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match v.next_update(left).await {
            Ok(_) => seen.push(start.elapsed()),
            Err(ViewerError::Timeout { .. }) => break,
            Err(_) => break,
        }
    }
    (v, seen)
}

/// Whether every whole second of `secs` holds an update.
fn kept_up(seen: &[Duration], secs: f64) -> bool {
    let buckets = secs.floor() as usize;
    let mut hit = vec![false; buckets];
    for t in seen {
        if let Some(b) = hit.get_mut(t.as_secs() as usize) {
            *b = true;
        }
    }
    buckets > 0 && hit.iter().all(|b| *b)
}

async fn round(side: &Arc<Side>, sessions: &[Xvfb], secs: f64) -> Result<Outcome> {
    // Shadow everything, a few at a time.
    let sem = Arc::new(tokio::sync::Semaphore::new(SETUP_CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for x in sessions {
        let (side, sem, id, display) = (side.clone(), sem.clone(), x.display_number().to_string(), x.display());
        set.spawn(async move {
            let _permit = sem.acquire().await.expect("never closed");
            (id.clone(), watch(&side, &id, &display).await)
        });
    }
    let mut viewers = Vec::new();
    let mut failures = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((id, Ok(v))) => viewers.push((id, v)),
            Ok((id, Err(e))) => failures.push(format!("session {id}: {e:#}")),
            Err(e) => failures.push(format!("a setup task died: {e}")),
        }
    }
    let shadowed = viewers.len();
    let displays: Vec<String> = sessions.iter().map(|x| x.display()).collect();
    let drawer = tokio::task::block_in_place(|| Drawer::flicker(&displays, CHANGE_HZ))?;
    let cpu = CpuWindow::start(pipeline_pids(side)?);
    let mut tasks = tokio::task::JoinSet::new();
    for (id, v) in viewers {
        tasks.spawn(async move {
            let (v, seen) = updates(v, secs).await;
            (id, v, seen)
        });
    }
    let mut finished = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(done) = r {
            finished.push(done);
        }
    }
    let cores = cpu.cores();
    let _ = tokio::task::block_in_place(|| drawer.stop());
    let keeping_up = finished.iter().filter(|(_, _, seen)| kept_up(seen, secs)).count();
    let total: usize = finished.iter().map(|(_, _, seen)| seen.len()).sum();
    let mean_rate = total as f64 / secs / finished.len().max(1) as f64;
    // Tear down a few at a time too.
    let mut ends = tokio::task::JoinSet::new();
    for (id, v, _) in finished {
        let (side, sem) = (side.clone(), sem.clone());
        ends.spawn(async move {
            let _permit = sem.acquire().await.expect("never closed");
            let _ = unwatch(&side, &id, v).await;
        });
    }
    while ends.join_next().await.is_some() {}
    Ok(Outcome { shadowed, keeping_up, mean_rate, cores, failures })
}

pub async fn run(ctx: &Ctx) -> Vec<Row> {
    let n = ctx.many;
    let secs = ctx.window(20.0, 3.0);
    let mut errors = Vec::new();
    let mut outcomes: [Option<Outcome>; 2] = [None, None];
    let setup = async {
        let sessions =
            tokio::task::block_in_place(|| start_sessions(n, WIDTH, HEIGHT, Pattern::Checkerboard { seed: 3 }))?;
        let sides = start_sides(&ctx.bin, n as u16).await?;
        Ok::<_, anyhow::Error>((sessions, sides))
    };
    match setup.await {
        Ok((sessions, sides)) => {
            for side in sides {
                let side = Arc::new(side);
                match round(&side, &sessions, secs).await {
                    Ok(o) => {
                        // A shadow that could not be set up is a figure's gap: say why.
                        errors.extend(o.failures.iter().take(3).map(|f| format!("{}: {f}", side.backend.name())));
                        outcomes[side.backend as usize] = Some(o)
                    }
                    Err(e) => errors.push(format!("{}: {e:#}", side.backend.name())),
                }
            }
        }
        Err(e) => errors.push(format!("setup: {e:#}")),
    }
    let value = |b: usize, f: fn(&Outcome) -> f64| outcomes[b].as_ref().map(f).into_iter().collect::<Vec<_>>();
    let shadowed = |b: usize| outcomes[b].as_ref().map(|o| o.shadowed.to_string()).unwrap_or("-".into());
    let note = format!(
        "{n} sessions of {WIDTH}x{HEIGHT}, each changing {CHANGE_HZ:.0} times a second, {secs:.0} s; \
         shadowed: native {}, external {}{}",
        shadowed(0),
        shadowed(1),
        ctx.error_note(&errors)
    );
    vec![
        Row::new(NAME, "many_keeping_up", format!("shadows with >= 1 update every second (of {n})"), "count")
            .samples(value(0, |o| o.keeping_up as f64), value(1, |o| o.keeping_up as f64))
            .target(Target::NativeAtLeast(n as f64))
            .note(note),
        Row::new(NAME, "many_updates_per_s", "  mean update rate per viewer", "updates/s")
            .samples(value(0, |o| o.mean_rate), value(1, |o| o.mean_rate)),
        Row::new(NAME, "many_cores", "  server CPU with all viewers", "cores")
            .samples(value(0, |o| o.cores), value(1, |o| o.cores)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_up_needs_an_update_in_every_second() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        assert!(kept_up(&ms(&[100, 1500, 2999]), 3.0));
        assert!(!kept_up(&ms(&[100, 2100]), 3.0));
        assert!(!kept_up(&[], 3.0));
    }
}
