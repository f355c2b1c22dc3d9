//! Which shadowd and shadowsim binaries run in a distribution's container.
//! The host's own build is used wherever it starts (same or newer glibc:
//! Debian 12 and 13 here). Where it does not (`GLIBC_2.34 not found` on
//! Debian 11), both are built inside that distribution's `builder` stage,
//! with the host's Rust toolchain and crate sources mounted read-only, into
//! `target/testbed/<id>/` (kept, so the next run builds incrementally).

use super::container::BIN_DIR;
use super::engine::Engine;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testcontainers::core::{AccessMode, ExecCommand, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

pub struct Binaries {
    pub shadowd: PathBuf,
    pub shadowsim: PathBuf,
    /// "host build" or "built in debian-11 (…)", for the log.
    pub origin: String,
    /// The in-container build's duration, when one ran.
    pub built: Option<Duration>,
}

/// The host's binaries: shadowd as the harness finds it, and the shadowsim
/// beside it (not necessarily the running executable: under `cargo test`
/// that is a test binary).
pub fn host() -> Result<Binaries> {
    let shadowd = crate::drivers::daemon::shadowd_bin()?;
    let beside = shadowd.with_file_name("shadowsim");
    let shadowsim = if beside.is_file() { beside } else { std::env::current_exe()? };
    Ok(Binaries { shadowd, shadowsim, origin: "host build".into(), built: None })
}

/// Whether `shadowsim --version` starts in `image`; Err(output) if not.
/// Through the engine's command line: a container that exits at once is
/// what testcontainers' wait strategies handle worst (podman 4.3 reports
/// its state as `stopped`, which bollard cannot read).
pub async fn runs_in(engine: &Engine, image: &str, bins: &Binaries) -> Result<std::result::Result<(), String>> {
    let mount = format!("{}:{BIN_DIR}/shadowsim:ro", bins.shadowsim.display());
    let out = tokio::process::Command::new(&engine.cli)
        .args(["run", "--rm", "-v", &mount, image, &format!("{BIN_DIR}/shadowsim"), "--version"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {} run", engine.cli))?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(if out.status.success() { Ok(()) } else { Err(output.trim().to_string()) })
}

/// Builds both binaries inside `builder_image` (the definition's `builder`
/// stage) from the workspace at `workspace`.
pub async fn build_inside(distro: &str, builder_image: &str, workspace: &Path) -> Result<Binaries> {
    let started = Instant::now();
    let home = PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?);
    let cargo_home = std::env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".cargo"));
    let rustup_home = std::env::var_os("RUSTUP_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".rustup"));
    let out = workspace.join("target").join("testbed").join(distro);
    std::fs::create_dir_all(&out)?;
    let (repo, tag) = builder_image.rsplit_once(':').context("image without tag")?;
    let path =
        format!("{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", cargo_home.join("bin").display());
    let container = GenericImage::new(repo, tag)
        .with_wait_for(WaitFor::Nothing)
        .with_cmd(["sleep", "infinity"])
        .with_container_name(format!("shadowsim-build-{distro}-{}", std::process::id()))
        .with_mount(ro(workspace, &workspace.to_string_lossy()))
        .with_mount(ro(&cargo_home, &cargo_home.to_string_lossy()))
        .with_mount(ro(&rustup_home, &rustup_home.to_string_lossy()))
        .with_mount(Mount::bind_mount(out.to_string_lossy(), "/build"))
        .start()
        .await
        .with_context(|| format!("starting {builder_image}"))?;
    eprintln!("shadowsim: {distro}: the host's binaries do not start there; building them inside {builder_image}…");
    let manifest = workspace.join("Cargo.toml");
    let cmd = ExecCommand::new([
        "cargo".to_string(),
        "build".into(),
        "--locked".into(),
        "--offline".into(),
        "--manifest-path".into(),
        manifest.to_string_lossy().into_owned(),
        "-p".into(),
        "shadowd".into(),
        "-p".into(),
        "simulator".into(),
        "--bins".into(),
    ])
    .with_env_vars([
        ("PATH", path.as_str()),
        ("CARGO_HOME", &cargo_home.to_string_lossy()),
        ("RUSTUP_HOME", &rustup_home.to_string_lossy()),
        ("CARGO_TARGET_DIR", "/build"),
        // No debug info: a third of the size, and nobody debugs these.
        ("CARGO_PROFILE_DEV_DEBUG", "0"),
    ]);
    let mut res = container.exec(cmd).await?;
    let stderr = String::from_utf8_lossy(&res.stderr_to_vec().await?).into_owned();
    let _ = res.stdout_to_vec().await;
    let mut code = res.exit_code().await?;
    while code.is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        code = res.exit_code().await?;
    }
    container.rm().await?;
    if code != Some(0) {
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        bail!("building inside {builder_image} failed:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    let took = started.elapsed();
    eprintln!("shadowsim: {distro}: built shadowd and shadowsim inside in {took:.0?}");
    Ok(Binaries {
        shadowd: out.join("debug/shadowd"),
        shadowsim: out.join("debug/shadowsim"),
        origin: format!("built in {distro} ({builder_image})"),
        built: Some(took),
    })
}

fn ro(host: &Path, inside: &str) -> Mount {
    Mount::bind_mount(host.to_string_lossy(), inside).with_access_mode(AccessMode::ReadOnly)
}
