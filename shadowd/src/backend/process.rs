//! Child processes of a backend: spawned without a shell, their output
//! copied line by line into the log, killed (whole process group) and reaped.

use crate::audit::LogFile;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// A spawned child in its own process group.
pub struct Proc {
    pub name: &'static str,
    pub child: Child,
}

impl Proc {
    /// Spawns `cmd` (already given its args) in a new process group, with
    /// stdout/stderr piped. `stdin` defaults to null.
    pub fn spawn(name: &'static str, mut cmd: Command, stdin: Option<Stdio>) -> Result<Proc, String> {
        cmd.stdin(stdin.unwrap_or_else(Stdio::null))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // If shadowd itself dies (even by SIGKILL), its children follow, so
        // no backend keeps a shadow port open without a daemon behind it.
        // SIGTERM rather than SIGKILL: x11vnc then removes its MIT-SHM
        // segments on the way out instead of leaking them.
        // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM).map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{name} is not installed (not found on PATH); run `shadowd doctor`")
            }
            _ => format!("cannot start {name}: {e}"),
        })?;
        Ok(Proc { name, child })
    }

    /// Copies stdout and stderr into the log; each line also goes to `lines`.
    pub fn forward_output(&mut self, log: &LogFile, shadow: u64, lines: mpsc::UnboundedSender<String>) {
        if let Some(out) = self.child.stdout.take() {
            forward(out, self.name, log.clone(), shadow, lines.clone());
        }
        if let Some(err) = self.child.stderr.take() {
            forward(err, self.name, log.clone(), shadow, lines);
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`, then reap.
    pub async fn terminate(mut self, grace: Duration) {
        let Some(pid) = self.child.id() else { return };
        let group = nix::unistd::Pid::from_raw(-(pid as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            let _ = self.child.wait().await;
        } else {
            // The leader is gone; make sure no forked helper outlives it.
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

fn forward<R>(reader: R, name: &'static str, log: LogFile, shadow: u64, lines: mpsc::UnboundedSender<String>)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            log.child_line(name, shadow, &line);
            let _ = lines.send(line);
        }
    });
}
