//! The container engine's command line, for what testcontainers does not
//! do: importing a bootstrapped root filesystem, building from a
//! Containerfile (`--target`, `--build-arg`), pulling with a time limit,
//! and removing stale images. podman and docker take the same arguments
//! for all of these. (testcontainers' own image builder asks for BuildKit,
//! which podman's Docker-compatible API does not speak.)

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[derive(Debug, Clone)]
pub struct Engine {
    /// `podman` or `docker`.
    pub cli: String,
}

impl Engine {
    /// `$SHADOWSIM_ENGINE`, else podman when installed, else docker.
    pub fn detect() -> Result<Engine> {
        if let Ok(cli) = std::env::var("SHADOWSIM_ENGINE") {
            return Ok(Engine { cli });
        }
        for cli in ["podman", "docker"] {
            if shadowd_which(cli) {
                return Ok(Engine { cli: cli.into() });
            }
        }
        bail!("neither podman nor docker is installed: run ci/podman-setup (it installs and starts podman)")
    }

    /// The image's id, or None when the local store does not have it.
    pub async fn image_id(&self, name: &str) -> Option<String> {
        let out = Command::new(&self.cli)
            .args(["image", "inspect", "--format", "{{.Id}}", name])
            .stdin(Stdio::null())
            .output()
            .await
            .ok()?;
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !id.is_empty()).then_some(id)
    }

    /// `pull`, given up after `limit` (an unreachable registry can hang).
    pub async fn pull(&self, name: &str, limit: Duration) -> Result<()> {
        let mut cmd = Command::new(&self.cli);
        cmd.args(["pull", "--quiet", name]);
        let out = run_limited(cmd, limit, None).await?;
        if !out.0 {
            bail!("{}", first_meaningful_line(&out.1));
        }
        Ok(())
    }

    /// Builds `stage` of a Containerfile as `tag`, the output to `log`.
    pub async fn build(&self, dir: &Path, stage: &str, base: &str, tag: &str, log: &Path) -> Result<Duration> {
        let started = Instant::now();
        let mut cmd = Command::new(&self.cli);
        cmd.arg("build").args(["--target", stage]).args(["--build-arg", &format!("BASE={base}")]);
        if let Some(bundle) = host_ca_bundle() {
            cmd.arg("--secret").arg(format!("id={HOST_CA_SECRET},src={}", bundle.display()));
        }
        cmd.args(["-t", tag, "-f"]).arg(dir.join("Containerfile")).arg(dir);
        let (ok, output) = run_limited(cmd, Duration::from_secs(30 * 60), Some(log)).await?;
        if !ok {
            bail!("`{} build` of {tag} failed (log: {}):\n{}", self.cli, log.display(), tail(&output, 15));
        }
        Ok(started.elapsed())
    }

    /// Runs `testbed/<family>/bootstrap SUITE IMAGE` (debootstrap + import).
    pub async fn bootstrap(&self, script: &Path, suite: &str, image: &str, log: &Path) -> Result<Duration> {
        let started = Instant::now();
        let mut cmd = Command::new(script);
        cmd.args([suite, image]).env("ENGINE", &self.cli);
        let (ok, output) = run_limited(cmd, Duration::from_secs(20 * 60), Some(log)).await?;
        if !ok {
            bail!("{} {suite} failed (log: {}):\n{}", script.display(), log.display(), tail(&output, 15));
        }
        Ok(started.elapsed())
    }

    /// Removes the images of `repository` whose tag starts with `prefix`,
    /// except `keep`: old builds of a definition, so the store holds one.
    pub async fn remove_stale(&self, repository: &str, prefix: &str, keep: &str) {
        let Ok(out) = Command::new(&self.cli)
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}", repository])
            .stdin(Stdio::null())
            .output()
            .await
        else {
            return;
        };
        for name in String::from_utf8_lossy(&out.stdout).lines() {
            let tag = name.rsplit(':').next().unwrap_or("");
            if name != keep && tag.starts_with(prefix) {
                let _ = Command::new(&self.cli).args(["rmi", name]).stdin(Stdio::null()).output().await;
            }
        }
    }
}

fn shadowd_which(cli: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(cli).is_file())).unwrap_or(false)
}

/// Runs a command with a time limit; stdout+stderr are collected (and
/// written to `log`). Returns (success, output).
async fn run_limited(mut cmd: Command, limit: Duration, log: Option<&Path>) -> Result<(bool, String)> {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let program = format!("{:?}", cmd.as_std().get_program());
    let out = match tokio::time::timeout(limit, cmd.output()).await {
        Ok(out) => out.with_context(|| format!("running {program}"))?,
        Err(_) => bail!("{program} gave no answer within {limit:?}"),
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if let Some(log) = log {
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(log, &text);
    }
    Ok((out.status.success(), text))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The line of an engine's error output that says what went wrong.
pub fn first_meaningful_line(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines
        .iter()
        .find(|l| l.starts_with("Error") || l.contains("error"))
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "no output".into())
}

/// The build secret holding the host's CA bundle. Definitions that fetch
/// over HTTPS inside the build (`pip3 install websockify`, as the seed says
/// for Ubuntu and RHEL) mount it with `RUN --mount=type=secret,id=host-ca`
/// and use it when it is there: a machine whose HTTPS goes through an
/// intercepting proxy trusts that proxy's CA, and the build must too. A
/// secret, not a file in the image: nothing of the host stays behind.
pub const HOST_CA_SECRET: &str = "host-ca";

/// The CA bundle this machine's TLS clients use (`SSL_CERT_FILE`, else
/// Debian's), if it exists.
fn host_ca_bundle() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    path.is_file().then_some(path)
}
