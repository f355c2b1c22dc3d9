//! The seed's pipeline: websockify in front of `x11vnc -viewonly`, as the
//! troubleshooting section starts it by hand — minus its holes:
//!
//! - x11vnc listens on 127.0.0.1 only (`-localhost -noipv6`): the seed's
//!   command leaves raw, unencrypted RFB on `[::]:PORT` and `[::]:5900`;
//! - websockify gets the daemon's already-bound listening socket on stdin
//!   (`--inetd`), so nothing else can grab the port in between;
//! - the password reaches x11vnc in a 0600 file it deletes after reading
//!   (`-passwdfile rm:FILE`), never on a command line;
//! - no shell; both run in their own process groups, killed and reaped with
//!   the shadow; their output goes to the log.
//!
//! x11vnc runs with `-once` (its default): it exits when the admin's viewer
//! disconnects, which is how the daemon learns the shadow ended.

use super::process::Proc;
use super::{Backend, BackendEvent, BoxFuture, EventSink, Running, ShadowSpec};
use crate::broker::EndReason;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

/// How long x11vnc may take to open the display and listen.
const X11VNC_START: Duration = Duration::from_secs(20);
const KILL_GRACE: Duration = Duration::from_secs(2);
/// Starts of x11vnc tried before the shadow fails (see `start`).
const X11VNC_ATTEMPTS: u32 = 3;
/// x11vnc probes for its loopback-only port from here up.
const X11VNC_FIRST_PORT: &str = "5900";

pub struct External;

/// What an x11vnc log line tells about the admin's viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X11vncSignal {
    /// Listening on the given loopback port (stdout `PORT=NNNN`).
    Listening(u16),
    /// A viewer passed authentication (libvncserver only logs encodings and
    /// protocol extensions for clients in the normal, authenticated state).
    ViewerAuthenticated,
    /// The X server went away under x11vnc.
    DisplayLost,
    /// The authenticated viewer left (with `-once`, x11vnc exits next).
    ViewerGone,
}

pub fn classify_x11vnc_line(line: &str) -> Option<X11vncSignal> {
    if let Some(p) = line.trim().strip_prefix("PORT=") {
        return p.parse().ok().map(X11vncSignal::Listening);
    }
    if line.contains("encoding for client") || line.contains("Enabling ") && line.contains("for client") {
        return Some(X11vncSignal::ViewerAuthenticated);
    }
    if line.contains("XIO error") || line.contains("X connection to") && line.contains("broken") {
        return Some(X11vncSignal::DisplayLost);
    }
    if line.contains("viewer exited.") {
        return Some(X11vncSignal::ViewerGone);
    }
    None
}

/// The x11vnc command line (no password on it; see module docs).
pub fn x11vnc_args(display: &str, xauthority: Option<&Path>, passwd_file: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["-display".into(), display.into()];
    if let Some(auth) = xauthority {
        args.extend(["-auth".into(), auth.display().to_string()]);
    }
    args.extend(
        [
            "-viewonly",
            "-once",
            "-nevershared",
            "-dontdisconnect",
            "-localhost",
            "-noipv6",
            "-norc",
            "-noremote",
            "-autoport",
            X11VNC_FIRST_PORT,
        ]
        .map(String::from),
    );
    args.extend(["-passwdfile".into(), format!("rm:{}", passwd_file.display())]);
    args
}

/// The websockify command line: listening socket from stdin.
pub fn websockify_args(target_port: u16, tls: Option<(&Path, &Path)>) -> Vec<String> {
    let mut args: Vec<String> = vec!["--inetd".into(), "-v".into()];
    if let Some((cert, key)) = tls {
        args.extend([
            "--cert".into(),
            cert.display().to_string(),
            "--key".into(),
            key.display().to_string(),
            "--ssl-only".into(),
        ]);
    }
    args.push(format!("127.0.0.1:{target_port}"));
    args
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")
}

/// Removes the password file if x11vnc did not (it failed before reading).
struct PasswdFile(PathBuf);

impl Drop for PasswdFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Backend for External {
    fn name(&self) -> &'static str {
        "external"
    }

    fn start(&self, spec: ShadowSpec, events: EventSink) -> BoxFuture<'_, Result<Box<dyn Running>, String>> {
        Box::pin(start(spec, events))
    }
}

async fn start(spec: ShadowSpec, events: EventSink) -> Result<Box<dyn Running>, String> {
    // x11vnc's -autoport probes for a free port before binding it, so two
    // x11vncs starting at once can pick the same one; the loser exits
    // without printing PORT= and is simply started again.
    let mut last_error = String::new();
    let mut started = None;
    for attempt in 1..=X11VNC_ATTEMPTS {
        match start_x11vnc(&spec, attempt).await {
            Ok(ok) => {
                started = Some(ok);
                break;
            }
            Err(e) => last_error = e,
        }
    }
    let Some((x11vnc, lines, vnc_port)) = started else {
        return Err(last_error);
    };

    let mut ws_cmd = Command::new("websockify");
    let tls = spec.tls.as_ref().map(|t| (t.cert_path.as_path(), t.key_path.as_path()));
    ws_cmd.args(websockify_args(vnc_port, tls));
    let listener_fd: OwnedFd = spec.listener.into();
    let mut websockify = match Proc::spawn("websockify", ws_cmd, Some(Stdio::from(listener_fd))) {
        Ok(p) => p,
        Err(e) => {
            x11vnc.terminate(KILL_GRACE).await;
            return Err(e);
        }
    };
    let (ws_tx, _ws_lines) = mpsc::unbounded_channel();
    websockify.forward_output(&spec.log, spec.shadow, ws_tx);

    let (stop_tx, stop_rx) = oneshot::channel();
    tokio::spawn(supervise(spec.shadow, x11vnc, websockify, lines, events, stop_rx));
    Ok(Box::new(ExternalShadow { stop: stop_tx }))
}

/// Watches both processes until one ends or the daemon stops the shadow.
async fn supervise(
    shadow: u64,
    mut x11vnc: Proc,
    mut websockify: Proc,
    mut lines: mpsc::UnboundedReceiver<String>,
    events: EventSink,
    mut stop: oneshot::Receiver<oneshot::Sender<()>>,
) {
    let mut connected = false;
    let mut display_lost = false;
    let mut viewer_gone = false;
    let ended = loop {
        tokio::select! {
            ack = &mut stop => {
                x11vnc.terminate(KILL_GRACE).await;
                websockify.terminate(KILL_GRACE).await;
                if let Ok(ack) = ack { let _ = ack.send(()); }
                return;
            }
            Some(line) = lines.recv() => match classify_x11vnc_line(&line) {
                Some(X11vncSignal::ViewerAuthenticated) if !connected => {
                    connected = true;
                    let _ = events.send((shadow, BackendEvent::Connected));
                }
                Some(X11vncSignal::DisplayLost) => display_lost = true,
                Some(X11vncSignal::ViewerGone) => viewer_gone = true,
                _ => {}
            },
            _ = x11vnc.child.wait() => {
                // Its last lines may still be in the pipe: read to the end
                // of its output (the channel closes at EOF) before judging.
                while let Ok(Some(line)) = tokio::time::timeout(Duration::from_millis(500), lines.recv()).await {
                    match classify_x11vnc_line(&line) {
                        Some(X11vncSignal::DisplayLost) => display_lost = true,
                        Some(X11vncSignal::ViewerGone) => viewer_gone = true,
                        _ => {}
                    }
                }
                // With -once, x11vnc says "viewer exited." only after a viewer
                // that passed authentication: one that left before sending
                // anything after auth (so before we saw it) still counts.
                if viewer_gone && !connected {
                    connected = true;
                    let _ = events.send((shadow, BackendEvent::Connected));
                }
                break if display_lost {
                    EndReason::SessionEnded
                } else if connected && viewer_gone {
                    EndReason::AdminDisconnected
                } else {
                    EndReason::BackendExited
                };
            }
            _ = websockify.child.wait() => break EndReason::BackendExited,
        }
    };
    x11vnc.terminate(KILL_GRACE).await;
    websockify.terminate(KILL_GRACE).await;
    let _ = events.send((shadow, BackendEvent::Ended(ended)));
    // The daemon will still call stop(); answer it.
    if let Ok(ack) = stop.await {
        let _ = ack.send(());
    }
}

/// Starts x11vnc and waits until it listens: (process, its output, port).
async fn start_x11vnc(spec: &ShadowSpec, attempt: u32) -> Result<(Proc, mpsc::UnboundedReceiver<String>, u16), String> {
    let passwd = PasswdFile(spec.run_dir.join(format!("x11vnc-{}-{attempt}.passwd", spec.shadow)));
    write_private(&passwd.0, &spec.password)
        .map_err(|e| format!("cannot write the password file {}: {e}", passwd.0.display()))?;
    let mut cmd = Command::new("x11vnc");
    cmd.args(x11vnc_args(&spec.session.display, spec.session.xauthority.as_deref(), &passwd.0));
    let mut x11vnc = Proc::spawn("x11vnc", cmd, None)?;
    let (line_tx, mut lines) = mpsc::unbounded_channel();
    x11vnc.forward_output(&spec.log, spec.shadow, line_tx);
    let mut recent: Vec<String> = Vec::new();
    let waited = tokio::time::timeout(X11VNC_START, async {
        loop {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(line) => {
                        if let Some(X11vncSignal::Listening(p)) = classify_x11vnc_line(&line) {
                            return Some(p);
                        }
                        if !line.trim().is_empty() {
                            recent.push(line);
                            if recent.len() > 5 {
                                recent.remove(0);
                            }
                        }
                    }
                    None => return None,
                },
                _ = x11vnc.child.wait() => return None,
            }
        }
    })
    .await;
    match waited {
        Ok(Some(port)) => Ok((x11vnc, lines, port)),
        _ => {
            x11vnc.terminate(KILL_GRACE).await;
            let why = recent.last().cloned().unwrap_or_else(|| "no output".into());
            Err(format!("x11vnc did not start on {}: {why}", spec.session.display))
        }
    }
}

struct ExternalShadow {
    stop: oneshot::Sender<oneshot::Sender<()>>,
}

impl Running for ExternalShadow {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let (ack_tx, ack_rx) = oneshot::channel();
            if self.stop.send(ack_tx).is_ok() {
                let _ = ack_rx.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_x11vnc_output() {
        assert_eq!(classify_x11vnc_line("PORT=5901"), Some(X11vncSignal::Listening(5901)));
        assert_eq!(
            classify_x11vnc_line("03/12/2026 19:15:06 Using raw encoding for client 127.0.0.1"),
            Some(X11vncSignal::ViewerAuthenticated)
        );
        assert_eq!(classify_x11vnc_line("03/12/2026 19:15:06 Got connection from client 127.0.0.1"), None);
        assert_eq!(classify_x11vnc_line("03/12/2026 19:15:09 viewer exited."), Some(X11vncSignal::ViewerGone));
        assert_eq!(
            classify_x11vnc_line("03/12/2026 19:15:06 rfbAuthProcessClientMessage: password check failed"),
            None
        );
    }

    #[test]
    fn no_password_and_no_network_exposure_on_the_command_lines() {
        let args = x11vnc_args(":3", Some(Path::new("/run/auth")), Path::new("/run/shadowd/x.passwd"));
        let joined = args.join(" ");
        for must in ["-viewonly", "-localhost", "-noipv6", "-once", "-passwdfile rm:/run/shadowd/x.passwd"] {
            assert!(joined.contains(must), "{must} missing from {joined}");
        }
        assert!(!joined.contains("-passwd "), "password never on the command line");
        let ws = websockify_args(5901, Some((Path::new("/c.pem"), Path::new("/k.key")))).join(" ");
        assert_eq!(ws, "--inetd -v --cert /c.pem --key /k.key --ssl-only 127.0.0.1:5901");
    }
}
