//! The Debian 12 cell of the testbed, in a real container, on every CI run:
//! `ci/podman-setup` (installs and starts podman; idempotent, so a fresh
//! machine works), then `shadowsim run --runtime container --distro
//! debian-12` on a small but telling selection — the host's own check
//! through mapped ports (`mapped-ports`), one consent scenario on both
//! backends and every distro trap (which run only in a container). The first
//! run on a machine debootstraps and builds the image (a minute or two);
//! after that it is cached and the test takes about a minute.
//!
//! Nothing here skips: no podman, no socket, no image is a failure that
//! says why. Progress is printed as it comes (`--no-capture` shows it live).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SELECTION: [&str; 2] = ["consent-yes", "trap-*"];
/// Cases the run must report, each passed (on top of every selected one).
const MUST_HAVE: [&str; 8] = [
    "mapped-ports",
    "consent-yes[backend=native]",
    "trap-x11vnc-too-old",
    "trap-netstat-missing",
    "trap-rebind-so-rhel8",
    "trap-rebind-so-missing",
    "trap-ports-partly-taken",
    "trap-firewall-blocks-port",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// How long ci/podman-setup may take: installing podman on a fresh machine
/// takes about 20 s here; apt's lock may be held by another job for a while.
const SETUP_DEADLINE: Duration = Duration::from_secs(5 * 60);
/// How long the container run may take: the first run on a machine
/// debootstraps Debian 12 and builds the image. Shorter than nextest's
/// terminate-after for this test (20 min), so a hang ends with our message.
const RUN_DEADLINE: Duration = Duration::from_secs(17 * 60);

/// Reads the child's stdout to EOF on a thread and waits for it up to
/// `deadline`. EOF, not the exit status, is what a caller of the script
/// (`$(ci/podman-setup)`) waits for: a leftover process holding the pipe
/// hangs them even after the script exited, so that is what is bounded.
/// On time-out the child is killed and the error says what was waited for.
fn stdout_within(child: &mut Child, what: &str, deadline: Duration) -> Result<String, String> {
    let mut stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    match rx.recv_timeout(deadline) {
        Ok(text) => Ok(text),
        Err(_) => {
            let exited = child.try_wait().ok().flatten();
            let _ = child.kill();
            let _ = child.wait();
            Err(match exited {
                Some(status) => format!(
                    "{what} exited ({status}) but its stdout was still open after {deadline:?}: a process it left behind holds the pipe"
                ),
                None => format!("{what} did not finish within {deadline:?}; killed"),
            })
        }
    }
}

/// ci/podman-setup, run from the workspace, its stdout (the variables it
/// prints) piped for [`stdout_within`].
fn podman_setup_command(root: &Path) -> Command {
    let mut cmd = Command::new(root.join("ci/podman-setup"));
    cmd.current_dir(root).stdout(Stdio::piped());
    cmd
}

/// Runs ci/podman-setup and returns the variables it prints
/// (`export DOCKER_HOST=… SHADOWSIM_ENGINE=…`).
fn podman_setup(root: &Path) -> Vec<(String, String)> {
    eprintln!("testbed_debian12: ci/podman-setup (installs podman on a fresh machine)…");
    let mut child = podman_setup_command(root).stderr(Stdio::inherit()).spawn().expect("running ci/podman-setup");
    let stdout = stdout_within(&mut child, "ci/podman-setup", SETUP_DEADLINE).unwrap_or_else(|e| panic!("{e}"));
    let status = child.wait().expect("waiting for ci/podman-setup");
    assert!(
        status.success(),
        "ci/podman-setup failed ({status}): the testbed needs podman (or docker) and its API socket; see its messages above\n{stdout}"
    );
    let vars: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    assert!(
        vars.iter().any(|(k, _)| k == "DOCKER_HOST"),
        "ci/podman-setup printed no `export DOCKER_HOST=…`: {stdout:?}"
    );
    vars
}

#[test]
fn debian_12_cell_passes_in_a_container() {
    let root = workspace();
    let shadowsim = PathBuf::from(env!("CARGO_BIN_EXE_shadowsim"));
    let shadowd = shadowsim.with_file_name("shadowd");
    assert!(
        shadowd.is_file(),
        "{} is missing: the container runs the host's shadowd; `cargo build -p shadowd` first (ci/test does)",
        shadowd.display()
    );
    let vars = podman_setup(&root);
    let report = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(&shadowsim);
    cmd.current_dir(&root)
        .args(["run", "--runtime", "container", "--distro", "debian-12", "scenarios", "--jobs", "2", "--report"])
        .arg(report.path())
        .env("SHADOWD_BIN", &shadowd)
        .envs(vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in SELECTION {
        cmd.args(["--name", name]);
    }
    eprintln!("testbed_debian12: {cmd:?}");
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().expect("starting shadowsim");
    // Progress as it comes: the first run bootstraps Debian and builds the image.
    let stderr = child.stderr.take().expect("piped");
    let echo = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("  {line}");
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let summary = stdout_within(&mut child, "shadowsim run --runtime container", RUN_DEADLINE);
    let status = child.wait().expect("waiting for shadowsim");
    let log = echo.join().unwrap_or_default();
    let summary = summary.unwrap_or_else(|e| panic!("{e}\n{log}"));
    eprintln!("testbed_debian12: finished in {:.0?}\n{summary}", started.elapsed());

    let path = report.path().join("result.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no {} ({e}): shadowsim exited with {status}\n{log}", path.display()));
    let result: serde_json::Value = serde_json::from_str(&text).expect("result.json is JSON");
    let cases = result["cases"].as_array().expect("cases");
    let not_passed: Vec<String> = cases
        .iter()
        .filter(|c| c["status"] != "passed")
        .map(|c| format!("{} {}: {}", c["status"], c["name"], c["message"].as_str().unwrap_or("")))
        .collect();
    assert!(not_passed.is_empty(), "cells that did not pass in debian-12:\n{}\n\n{summary}", not_passed.join("\n"));
    for name in MUST_HAVE {
        assert!(cases.iter().any(|c| c["name"] == name), "the run reported no case {name}\n{summary}");
    }
    assert!(status.success(), "shadowsim exited with {status} although every case passed\n{log}");
}

/// Stops the podman service a test started on its own socket, even when the
/// test fails half-way.
struct ServiceOn(PathBuf);

impl Drop for ServiceOn {
    fn drop(&mut self) {
        let _ = Command::new("pkill").arg("-f").arg(format!("podman system service.*{}", self.0.display())).status();
    }
}

/// The regression behind a CI run that hung for 20 minutes: when
/// ci/podman-setup had to start the service itself, a forked copy of the
/// script kept its stdout open, so `$(ci/podman-setup)` never returned.
/// Here the script starts a second service on a socket of its own (the
/// shared one is left alone) and must hand back its output, stdout closed,
/// promptly.
#[test]
fn podman_setup_returns_when_it_starts_the_service_itself() {
    let root = workspace();
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("podman.sock");
    let _service = ServiceOn(sock.clone());
    let mut child = podman_setup_command(&root)
        .env("SHADOWSIM_PODMAN_SOCK", &sock)
        .env("SHADOWSIM_PODMAN_LOG", dir.path().join("service.log"))
        .env("SHADOWSIM_FORCE_PODMAN", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("running ci/podman-setup");
    let stdout = stdout_within(&mut child, "ci/podman-setup starting its own service", SETUP_DEADLINE)
        .unwrap_or_else(|e| panic!("{e}"));
    let out = child.wait_with_output().expect("waiting for ci/podman-setup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ci/podman-setup failed ({}):\n{stderr}", out.status);
    assert!(
        stderr.contains("starting podman system service"),
        "the script did not start a service on {} itself, so this test proved nothing:\n{stderr}",
        sock.display()
    );
    assert!(
        stdout.contains(&format!("DOCKER_HOST=unix://{}", sock.display())),
        "the script did not name its socket: {stdout:?}"
    );
    let ping = Command::new("curl")
        .args(["-fsS", "--unix-socket"])
        .arg(&sock)
        .arg("http://d/_ping")
        .output()
        .expect("running curl");
    assert_eq!(
        String::from_utf8_lossy(&ping.stdout),
        "OK",
        "the service it started does not answer on {}",
        sock.display()
    );
}
