//! A running testbed container, through testcontainers-rs (DOCKER_HOST:
//! podman's Docker-compatible socket, or docker's).
//!
//! Its main process is `shadowsim testbed serve` ([`super::agent`]): one Xvfb
//! session and a shadowd whose control API and shadow ports are published
//! on the host's loopback, for the host-side check through mapped ports.
//! Scenario runs are `exec`s of `shadowsim run` beside it. Paths the run
//! reads or writes (scenario files, the report dir) are bind-mounted at the
//! same absolute path as on the host, so the result needs no path rewriting.

use super::agent;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::{AccessMode, ContainerPort, ExecCommand, IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::AsyncBufReadExt;

/// Where the binaries are mounted inside.
pub const BIN_DIR: &str = "/opt/shadowsim/bin";

/// What to mount and start.
pub struct Spec<'a> {
    /// `localhost/shadowsim-testbed-debian-12:testbed-…`
    pub image: &'a str,
    pub distro: &'a str,
    /// The shadowd and shadowsim binaries to run inside.
    pub shadowd: &'a Path,
    pub shadowsim: &'a Path,
    /// Host paths mounted read-only at the same path (scenario files).
    pub read_only: Vec<PathBuf>,
    /// Host directories mounted read-write at the same path (reports).
    pub writable: Vec<PathBuf>,
}

pub struct Testbed {
    container: ContainerAsync<GenericImage>,
    pub distro: String,
    /// The session's display inside, e.g. `:0`.
    pub display: String,
    /// Container port → host port on 127.0.0.1.
    pub ports: BTreeMap<u16, u16>,
    /// A directory mounted read-write at the same path inside and out
    /// (the first of `Spec::writable`), for files the host reads back.
    pub shared_dir: Option<PathBuf>,
}

/// What an exec printed and how it ended.
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Testbed {
    pub async fn start(spec: Spec<'_>) -> Result<Testbed> {
        let (repo, tag) = spec.image.rsplit_once(':').context("image name without a tag")?;
        let published: Vec<u16> =
            std::iter::once(agent::API_PORT).chain(agent::SHADOW_PORTS.0..=agent::SHADOW_PORTS.1).collect();
        let name = format!("shadowsim-{}-{}", spec.distro, std::process::id());
        let mut image = GenericImage::new(repo, tag).with_wait_for(WaitFor::message_on_stdout(agent::READY));
        for &p in &published {
            image = image.with_exposed_port(p.tcp());
        }
        let mut request = image
            .with_cmd([format!("{BIN_DIR}/shadowsim"), "testbed".into(), "serve".into()])
            .with_container_name(name.clone())
            .with_mount(read_only(spec.shadowd, &format!("{BIN_DIR}/shadowd")))
            .with_mount(read_only(spec.shadowsim, &format!("{BIN_DIR}/shadowsim")))
            // nft inside (the firewall trap) needs it; nothing else does.
            .with_cap_add("NET_ADMIN")
            .with_startup_timeout(Duration::from_secs(60))
            // Published on the host's loopback only, on free ports: the
            // harness is the only client, and runs side by side never clash.
            .with_host_config_modifier(move |hc: &mut HostConfig| {
                hc.publish_all_ports = Some(false);
                hc.port_bindings = Some(
                    published
                        .iter()
                        .map(|p| {
                            let binding =
                                PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) };
                            (format!("{p}/tcp"), Some(vec![binding]))
                        })
                        .collect(),
                );
            });
        for p in &spec.read_only {
            let p = p.canonicalize().with_context(|| format!("{}", p.display()))?;
            request = request.with_mount(read_only(&p, &p.to_string_lossy()));
        }
        let mut writable = Vec::new();
        for p in &spec.writable {
            std::fs::create_dir_all(p)?;
            let p = p.canonicalize()?;
            request = request.with_mount(Mount::bind_mount(p.to_string_lossy(), p.to_string_lossy()));
            writable.push(p);
        }
        let started = request.start().await;
        if started.is_err() {
            // A container that was created but did not start is left behind
            // by the engine: remove it, or the next run's name collides.
            if let Ok(engine) = super::engine::Engine::detect() {
                let _ = tokio::process::Command::new(&engine.cli).args(["rm", "-f", &name]).output().await;
            }
        }
        let container = started.with_context(|| {
            format!(
                "starting a container from {} through {} (is the engine's API socket up? ci/podman-setup starts podman's)",
                spec.image,
                std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the default Docker socket".into())
            )
        })?;
        let mut ports = BTreeMap::new();
        for p in std::iter::once(agent::API_PORT).chain(agent::SHADOW_PORTS.0..=agent::SHADOW_PORTS.1) {
            ports.insert(p, container.get_host_port_ipv4(ContainerPort::Tcp(p)).await?);
        }
        let mut banner = String::new();
        let mut out = container.stdout(false);
        out.read_line(&mut banner).await?;
        let display = agent::parse_ready(&banner).with_context(|| format!("unexpected banner {banner:?}"))?;
        let shared_dir = writable.first().cloned();
        Ok(Testbed { container, distro: spec.distro.into(), display, ports, shared_dir })
    }

    /// `http://127.0.0.1:PORT`: the in-container shadowd's API, as mapped.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[&agent::API_PORT])
    }

    /// Runs a command inside; its stderr lines are echoed as they come
    /// (prefixed with the distribution) when `echo` is set.
    pub async fn exec(&self, argv: &[String], echo: bool) -> Result<ExecOutput> {
        let mut res = self.container.exec(ExecCommand::new(argv.iter().cloned())).await?;
        let mut stderr = String::new();
        {
            let mut lines = res.stderr().lines();
            while let Some(line) = lines.next_line().await? {
                if echo {
                    eprintln!("[{}] {line}", self.distro);
                }
                stderr.push_str(&line);
                stderr.push('\n');
            }
        }
        let stdout = String::from_utf8_lossy(&res.stdout_to_vec().await?).into_owned();
        let mut code = res.exit_code().await?;
        for _ in 0..100 {
            if code.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            code = res.exit_code().await?;
        }
        let Some(code) = code else { bail!("{:?} did not report an exit code", argv.first()) };
        Ok(ExecOutput { code, stdout, stderr })
    }

    /// Stops and removes the container.
    pub async fn remove(self) -> Result<()> {
        self.container.rm().await?;
        Ok(())
    }
}

fn read_only(host: &Path, inside: &str) -> Mount {
    Mount::bind_mount(host.to_string_lossy(), inside).with_access_mode(AccessMode::ReadOnly)
}
