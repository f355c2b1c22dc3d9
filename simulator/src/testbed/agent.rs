//! `shadowsim testbed serve|consent`: the in-container side of the host's
//! check through mapped ports. `serve` is the container's main process: it
//! starts one Xvfb session and a shadowd whose API and shadow ports listen
//! on all addresses (the engine forwards the published ports to them), and
//! prints [`READY`]. `consent` clicks Yes in that session's dialog through
//! XTEST, as the user would; the host runs it with `exec`.

use crate::drivers::consent;
use crate::drivers::xvfb::{Pattern, Xvfb};
use anyhow::{bail, Context, Result};
use std::time::Duration;

pub const READY: &str = "shadowsim testbed ready";
pub const API_PORT: u16 = 8071;
/// A small range of the seed's: enough for the check, few ports to publish.
pub const SHADOW_PORTS: (u16, u16) = (6001, 6002);
/// The picture the session shows, so the host can check the frame it gets.
pub const PATTERN: Pattern = Pattern::Checkerboard { seed: 6 };
pub const SCREEN: (u16, u16) = (320, 240);

/// `shadowsim testbed ready display=:0` → `:0`.
pub fn parse_ready(line: &str) -> Option<String> {
    line.trim().strip_prefix(READY)?.trim().strip_prefix("display=").map(str::to_string)
}

pub async fn serve() -> Result<()> {
    let x = Xvfb::start(SCREEN.0, SCREEN.1).context("starting Xvfb")?;
    x.draw(PATTERN)?;
    std::fs::create_dir_all("/var/log/xdl")?;
    let bin = crate::drivers::daemon::shadowd_bin()?;
    let mut daemon = tokio::process::Command::new(bin)
        .args(["--registry", "/etc/xdl/shadowd.reg", "serve"])
        .args(["--listen", &format!("0.0.0.0:{API_PORT}")])
        .args(["--port-range", &format!("{}-{}", SHADOW_PORTS.0, SHADOW_PORTS.1)])
        .args(["--fqdn", "localhost", "--log-file", "/var/log/xdl/vda.log", "--ssl-dir", "/etc/xdl/shadowingssl"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting shadowd")?;
    let stdout = daemon.stdout.take().expect("piped");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    match tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
        Ok(Ok(Some(l))) if l.starts_with("shadowd listening on") => {}
        other => bail!("shadowd did not start: {other:?}"),
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    println!("{READY} display={}", x.display());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        status = daemon.wait() => bail!("shadowd exited: {status:?}"),
    }
    Ok(())
}

/// Writes a PNG of `display` to `out`: what the user sees, shadowd's
/// on-screen indicator included, for the host to compare its frame with.
pub fn screenshot(display: &str, out: &std::path::Path) -> Result<()> {
    let (conn, screen) = x11rb::rust_connection::RustConnection::connect(Some(display))
        .with_context(|| format!("cannot connect to X display {display}"))?;
    let img = crate::drivers::xvfb::screenshot_of(&conn, screen)?;
    std::fs::write(out, img.to_png()).with_context(|| format!("writing {}", out.display()))
}

/// Waits for the dialog on `display` and clicks Yes.
pub fn consent_yes(display: &str, within: Duration) -> Result<()> {
    consent::wait_for_dialog(display, within)?;
    consent::click(display, consent::ConsentButton::Yes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_line() {
        assert_eq!(super::parse_ready("shadowsim testbed ready display=:3\n").as_deref(), Some(":3"));
        assert_eq!(super::parse_ready("something else"), None);
    }
}
