//! The bench's fixtures: both daemons (one per backend) watching the same X
//! sessions, and the steps every figure repeats — request a shadow, press
//! Yes on the consent dialog, connect a noVNC-like viewer, end the shadow.

use crate::drivers::consent;
use crate::drivers::daemon::{Daemon, DaemonOptions};
use crate::drivers::director::{Director, Grant};
use crate::drivers::viewer::{Viewer, ViewerError, ViewerOptions};
use crate::drivers::xvfb::{Pattern, Xvfb};
use anyhow::{anyhow, bail, Context, Result};
use shadowd::rfb::encodings as enc;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long any one step may take before the figure is abandoned.
pub const STEP: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Native,
    External,
}

impl Backend {
    pub const BOTH: [Backend; 2] = [Backend::Native, Backend::External];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::External => "external",
        }
    }
}

/// What noVNC 1.3 sends in SetEncodings, minus what the harness viewer
/// cannot decode (TightPNG, RRE, QEMU/extended pseudo-encodings): Tight
/// with JPEG quality 6 and compression level 2, Hextile, Raw.
pub fn novnc_encodings() -> Vec<i32> {
    vec![
        enc::COPY_RECT,
        enc::TIGHT,
        enc::HEXTILE,
        enc::RAW,
        enc::TIGHT_QUALITY_0 + 6,
        enc::COMPRESS_LEVEL_0 + 2,
        enc::DESKTOP_SIZE,
        enc::LAST_RECT,
        enc::CURSOR,
    ]
}

/// One daemon running one backend.
pub struct Side {
    pub backend: Backend,
    pub daemon: Daemon,
    pub director: Director,
}

impl Side {
    pub async fn start(backend: Backend, bin: Option<PathBuf>, ports: (u16, u16)) -> Result<Side> {
        let options = DaemonOptions {
            bin,
            backend: backend.name().into(),
            port_range: format!("{}-{}", ports.0, ports.1),
            ..Default::default()
        };
        let daemon = Daemon::start(options).await.with_context(|| format!("starting the {} daemon", backend.name()))?;
        let director = Director::new(&daemon.api);
        Ok(Side { backend, daemon, director })
    }

    pub fn pid(&self) -> Result<u32> {
        self.daemon.pid().ok_or_else(|| anyhow!("the {} daemon is not running", self.backend.name()))
    }

    /// Requests a shadow of session `id` on `display` and presses `y` once
    /// the dialog holds the focus. Returns the grant and the instant of the
    /// key press (the user's "Yes").
    pub async fn shadow(&self, id: &str, display: &str) -> Result<(Grant, Instant)> {
        let request = {
            let (director, id) = (self.director.clone(), id.to_string());
            tokio::spawn(async move { director.request_shadow(&id, "CORP\\bench").await })
        };
        let d = display.to_string();
        let asked = tokio::task::spawn_blocking(move || -> Result<Instant> {
            consent::wait_for_focus(&d, STEP)?;
            let at = Instant::now();
            consent::press_key(&d, "y")?;
            Ok(at)
        })
        .await?;
        let yes_at = match asked {
            Ok(at) => at,
            Err(no_dialog) => {
                // No dialog: the daemon's answer, if it came, says why.
                if let Ok(Ok(Ok(Err(f)))) = tokio::time::timeout(Duration::from_secs(1), request).await {
                    bail!(
                        "{} backend answered the shadow request for {id} without asking the user: {f}",
                        self.backend.name()
                    );
                }
                // Still pending: what the daemon logged about it is the clue.
                return Err(no_dialog.context(self.log_about(id, display)));
            }
        };
        let answer =
            tokio::time::timeout(STEP, request).await.map_err(|_| anyhow!("no answer to the request"))???;
        let grant = answer.map_err(|f| anyhow!("{} backend refused the shadow of {id}: {f}", self.backend.name()))?;
        Ok((grant, yes_at))
    }

    /// The daemon's last log lines naming session `id` or its display, for
    /// an error that would otherwise only say "nothing happened".
    fn log_about(&self, id: &str, display: &str) -> String {
        let (by_id, by_display) = (format!("\"{id}\""), format!("\"{display}\""));
        let text = self.daemon.log_text();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(&by_id) || l.contains(&by_display)).collect();
        let tail = &lines[lines.len().saturating_sub(8)..];
        if tail.is_empty() {
            format!("the {} daemon logged nothing about session {id}", self.backend.name())
        } else {
            format!("the {} daemon's last log lines about session {id}:\n{}", self.backend.name(), tail.join("\n"))
        }
    }

    /// Ends the session's shadow (if any) and waits until the daemon shows
    /// none, so the next request starts from a clean state.
    pub async fn end(&self, id: &str) -> Result<()> {
        let _ = self.director.stop_shadow(id).await;
        let deadline = Instant::now() + STEP;
        loop {
            let s = self.director.session(id).await?;
            if s.as_ref().is_none_or(|s| s["shadow"].is_null()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the {} daemon still shows a shadow of {id}", self.backend.name());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Connects to a grant as noVNC would (by IP, the FQDN kept in the URL).
pub async fn connect(grant: &Grant) -> Result<Viewer> {
    let mut o = ViewerOptions::new(&grant.url, &grant.password);
    o.connect_to = Some(SocketAddr::from(([127, 0, 0, 1], grant.port)));
    o.encodings = novnc_encodings();
    Ok(Viewer::connect(o).await?)
}

/// Shadows session `id`, connects, and receives the first full frame.
pub async fn watch(side: &Side, id: &str, display: &str) -> Result<Viewer> {
    let (grant, _) = side.shadow(id, display).await?;
    let mut v = connect(&grant).await?;
    v.full_frame(STEP).await?;
    Ok(v)
}

/// Closes the viewer and ends the shadow.
pub async fn unwatch(side: &Side, id: &str, viewer: Viewer) -> Result<()> {
    let _ = tokio::time::timeout(Duration::from_secs(2), viewer.close()).await;
    side.end(id).await
}

/// Median of a sample (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Starts `n` Xvfb sessions of `w`x`h` showing `pattern`, a few at a time
/// (each takes a moment to come up; all at once would thrash two cores).
pub fn start_sessions(n: usize, w: u16, h: u16, pattern: Pattern) -> Result<Vec<Xvfb>> {
    let mut all = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let batch = left.min(8);
        let started: Vec<Result<Xvfb>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..batch)
                .map(|_| {
                    s.spawn(move || -> Result<Xvfb> {
                        let x = Xvfb::start(w, h)?;
                        x.draw(pattern)?;
                        Ok(x)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("Xvfb start panicked")))).collect()
        });
        for x in started {
            all.push(x?);
        }
        left -= batch;
    }
    Ok(all)
}

/// Both daemons, on port blocks of `ports` each that were free a moment ago.
pub async fn start_sides(bin: &Option<PathBuf>, ports: u16) -> Result<Vec<Side>> {
    // One block for both, split: two separate free_block calls could
    // return overlapping ranges, since nothing holds them in between.
    let (first, _) = crate::drivers::ports::free_block(ports * 2);
    let native = Side::start(Backend::Native, bin.clone(), (first, first + ports - 1)).await?;
    let external = Side::start(Backend::External, bin.clone(), (first + ports, first + 2 * ports - 1)).await?;
    Ok(vec![native, external])
}

/// The processes whose cost is the backend's: shadowd itself for native
/// (the daemon serves the shadow in-process), everything shadowd started
/// for external (x11vnc, websockify and its forked handler).
pub fn pipeline_pids(side: &Side) -> Result<Vec<u32>> {
    let pid = side.pid()?;
    Ok(match side.backend {
        Backend::Native => vec![pid],
        Backend::External => super::procstat::descendants(pid),
    })
}

/// Requests incremental updates of the whole screen back to back, as noVNC
/// does, for `secs`; returns the number of updates received.
pub async fn pump(v: &mut Viewer, secs: f64) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut n = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(n);
        }
        match v.next_update(left).await {
            Ok(_) => n += 1,
            Err(ViewerError::Timeout { .. }) => return Ok(n),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
    }
}
