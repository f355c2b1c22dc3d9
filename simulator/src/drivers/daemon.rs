//! shadowd as a real process: its own registry, log, run dir and SSL dir in
//! a temp dir, the API on a free loopback port (shadowd prints where), and
//! SIGTERM + reap on drop.

use anyhow::{anyhow, bail, Context, Result};
use shadowd::audit::Event;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The shadowd binary: `$SHADOWD_BIN`, else next to the running test or
/// harness binary (cargo puts workspace binaries in target/<profile>/).
pub fn shadowd_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("SHADOWD_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    for dir in exe.ancestors().skip(1).take(3) {
        let candidate = dir.join("shadowd");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("shadowd binary not found next to {}: run `cargo build -p shadowd` or set SHADOWD_BIN", exe.display())
}

#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The shadowd binary; default [`shadowd_bin`]. Tests in the shadowd
    /// package pass `env!("CARGO_BIN_EXE_shadowd")`, which cargo keeps fresh.
    pub bin: Option<PathBuf>,
    pub backend: String,
    pub port_range: String,
    pub fqdn: String,
    pub connect_grace: Duration,
    /// Registry values (name, DWORD) under the VDA key, set before start.
    pub registry: Vec<(String, u32)>,
    /// Use this SSL dir instead of an empty one in the temp dir.
    pub ssl_dir: Option<PathBuf>,
    /// Extra environment for the daemon (e.g. a PATH without x11vnc).
    pub env: Vec<(String, String)>,
    /// `--novnc-dir` (default: shadowd's, the distribution's /usr/share/novnc).
    pub novnc_dir: Option<PathBuf>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            bin: None,
            backend: "external".into(),
            port_range: "6001-6099".into(),
            fqdn: "vda1.shadow.test".into(),
            connect_grace: Duration::from_secs(30),
            registry: vec![],
            ssl_dir: None,
            env: vec![],
            novnc_dir: None,
        }
    }
}

pub struct Daemon {
    child: Option<Child>,
    pub api: String,
    pub dir: tempfile::TempDir,
    pub options: DaemonOptions,
}

impl Daemon {
    pub async fn start(options: DaemonOptions) -> Result<Daemon> {
        let dir = tempfile::Builder::new().prefix("shadowd-").tempdir()?;
        let mut d = Daemon { child: None, api: String::new(), dir, options };
        for (name, value) in d.options.registry.clone() {
            d.reg_update(&name, value)?;
        }
        std::fs::create_dir_all(d.ssl_dir())?;
        let mut cmd = Command::new(d.bin()?);
        cmd.arg("--registry")
            .arg(d.registry_path())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--log-file")
            .arg(d.log_path())
            .arg("--ssl-dir")
            .arg(d.ssl_dir())
            .arg("--run-dir")
            .arg(d.dir.path().join("run"))
            .args(["--port-range", &d.options.port_range])
            .args(["--backend", &d.options.backend])
            .args(["--fqdn", &d.options.fqdn])
            .args(["--connect-grace", &format!("{}ms", d.options.connect_grace.as_millis())])
            .args(d.options.novnc_dir.iter().flat_map(|p| [std::ffi::OsStr::new("--novnc-dir"), p.as_os_str()]))
            .envs(d.options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(d.dir.path().join("stderr.log"))?))
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting shadowd")?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(l))) => l,
            _ => {
                let _ = child.kill().await;
                let err = std::fs::read_to_string(d.dir.path().join("stderr.log")).unwrap_or_default();
                bail!("shadowd did not start: {}", err.trim());
            }
        };
        d.api = line
            .strip_prefix("shadowd listening on ")
            .ok_or_else(|| anyhow!("unexpected first line from shadowd: {line:?}"))?
            .to_string();
        // Keep draining stdout so shadowd never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        d.child = Some(child);
        Ok(d)
    }

    fn bin(&self) -> Result<PathBuf> {
        match &self.options.bin {
            Some(b) => Ok(b.clone()),
            None => shadowd_bin(),
        }
    }

    pub fn registry_path(&self) -> PathBuf {
        self.dir.path().join("registry.reg")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("vda.log")
    }

    pub fn ssl_dir(&self) -> PathBuf {
        self.options.ssl_dir.clone().unwrap_or_else(|| self.dir.path().join("shadowingssl"))
    }

    /// `shadowd reg update` through the real CLI, as an operator would.
    pub fn reg_update(&self, name: &str, value: u32) -> Result<()> {
        let out = std::process::Command::new(self.bin()?)
            .arg("--registry")
            .arg(self.registry_path())
            .args(["reg", "update", "-k", r"HKLM\Software\Citrix\VirtualDesktopAgent", "-v", name, "-d"])
            .arg(format!("0x{value:08x}"))
            .output()?;
        if !out.status.success() {
            bail!("shadowd reg update failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// `shadowd reg delete` through the real CLI.
    pub fn reg_delete(&self, name: &str) -> Result<()> {
        let out = std::process::Command::new(self.bin()?)
            .arg("--registry")
            .arg(self.registry_path())
            .args(["reg", "delete", "-k", r"HKLM\Software\Citrix\VirtualDesktopAgent", "-v", name])
            .output()?;
        if !out.status.success() {
            bail!("shadowd reg delete failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// The daemon's log file.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Audit events as written to the log file.
    pub fn logged_events(&self) -> Vec<Event> {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| serde_json::from_value(v.get("audit")?.clone()).ok())
            .collect()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGTERM, then wait (SIGKILL after 10 s).
    pub async fn stop(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().ok_or_else(|| anyhow!("already stopped"))?;
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
        }
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(s) => Ok(s?),
            Err(_) => {
                child.kill().await?;
                bail!("shadowd did not stop within 10 s of SIGTERM")
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(pid) = child.id() {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
            }
        }
    }
}
