//! The failure paths of the external backend: nothing leaks (processes,
//! ports, files), every error has its code, and `doctor` names the fix.

mod common;

use common::{port_is_free, Fixture, WAIT};
use shadowd::audit::EventKind;
use simulator::drivers::daemon::{Daemon, DaemonOptions};
use simulator::drivers::director::Director;
use simulator::drivers::ports::{free_block, range_string};
use simulator::drivers::xvfb::Xvfb;

fn processes_mentioning(display: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let ours = (cmd.contains("x11vnc") && cmd.contains(&format!("-display {display} ")))
                || (cmd.contains("websockify") && cmd.contains("--inetd"));
            ours.then_some(cmd)
        })
        .collect()
}

#[tokio::test]
async fn children_are_killed_with_their_shadow_and_their_output_is_logged() {
    let mut f = Fixture::new(DaemonOptions::default()).await;
    let g = f.grant("CORP\\anna").await;
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap();
    let display = f.x.display();
    assert!(!processes_mentioning(&display).is_empty(), "x11vnc runs while shadowing");
    f.dir.stop_shadow(&f.id).await.unwrap().unwrap();
    let left: Vec<String> = processes_mentioning(&display).into_iter().filter(|c| c.contains("x11vnc")).collect();
    assert!(left.is_empty(), "x11vnc left behind: {left:?}");
    let log = f.d.log_text();
    assert!(log.contains("\"child\":\"x11vnc\""), "x11vnc output in the log");
    assert!(log.contains("\"child\":\"websockify\""), "websockify output in the log");
    // Shutting the daemon down mid-shadow kills its children too.
    let g = f.grant("CORP\\anna").await;
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap();
    assert!(f.d.stop().await.unwrap().success());
    let left: Vec<String> = processes_mentioning(&display).into_iter().filter(|c| c.contains("x11vnc")).collect();
    assert!(left.is_empty(), "x11vnc outlived shadowd: {left:?}");
    assert!(port_is_free(g.port));
    let ended = f.d.logged_events().into_iter().filter(|e| e.record.event == EventKind::Ended).count();
    assert_eq!(ended, 2);
}

#[tokio::test]
async fn display_unreachable_when_the_dialog_cannot_be_shown() {
    // An X server that is running but does not answer (stopped).
    let x = Xvfb::start(64, 64).unwrap();
    let pid = nix::unistd::Pid::from_raw(x.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let opts = DaemonOptions { port_range: range_string(free_block(2)), ..Default::default() };
    let d = Daemon::start(common::with_bin(opts)).await.unwrap();
    let director = Director::new(&d.api);
    let e = director.request_shadow(&x.display_number().to_string(), "CORP\\anna").await.unwrap().unwrap_err();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert_eq!((e.status, e.error.as_str()), (502, "display_unreachable"), "{e}");
    assert!(e.message.contains(&x.display()), "{}", e.message);
    assert_eq!(director.healthz().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn backend_failed_when_x11vnc_is_missing_and_the_port_is_returned() {
    // A PATH with websockify but no x11vnc.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/usr/bin/websockify", bin.path().join("websockify")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/python3", bin.path().join("python3")).unwrap();
    let opts = DaemonOptions { env: vec![("PATH".into(), bin.path().display().to_string())], ..Default::default() };
    let f = Fixture::new(opts).await;
    let e = f.request_answering("CORP\\anna", "y").await.unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (502, "backend_failed"));
    assert!(e.message.contains("x11vnc is not installed"), "{}", e.message);
    let h = f.dir.healthz().await.unwrap();
    assert_eq!(h["free_ports"], 3, "the port went back to the pool");
    assert!(port_is_free(f.ports.0));
    let kinds: Vec<EventKind> = f.d.logged_events().iter().map(|e| e.record.event).collect();
    assert_eq!(kinds.last(), Some(&EventKind::Ended));
}

#[test]
fn doctor_passes_each_checkpoint_and_names_the_fix_for_failures() {
    let x = Xvfb::start(64, 64).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = free_block(3);
    let run_on = |(a, b): (u16, u16), args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shadowd"))
            .arg("--registry")
            .arg(dir.path().join("r.reg"))
            .arg("doctor")
            .arg("--log-file")
            .arg(dir.path().join("vda.log"))
            .arg("--ssl-dir")
            .arg(dir.path().join("ssl"))
            .args(["--port-range", &format!("{a}-{b}"), "--fqdn", "localhost", "--display", &x.display()])
            .args(args)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let run = |args: &[&str]| run_on((a, b), args);
    let (ok, out) = run(&[]);
    for line in [
        "PASS x11vnc ≥ 0.9.13: x11vnc 0.9.16",
        "PASS websockify",
        "PASS netstat",
        "PASS rebind.so",
        "PASS FQDN resolves",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(out.contains(&format!("PASS free ports in {a}-{b}: 3 of 3 free")), "{out}");
    assert!(out.contains(&format!("PASS shadow ports outside the ephemeral range: {a}-{b} is outside")), "{out}");
    assert!(out.contains(&format!("PASS X display {} reachable", x.display())), "{out}");
    assert!(ok, "everything passes here:\n{out}");
    // Break things: SSL on with no certificate, ports taken.
    let reg = dir.path().join("r.reg");
    std::fs::write(&reg, "[HKLM\\Software\\Citrix\\VirtualDesktopAgent]\n\"ShadowingUseSSL\"=dword:00000001\n")
        .unwrap();
    let _hog = simulator::drivers::ports::PortHog::hold(a..=b).unwrap();
    let (ok, out) = run(&[]);
    assert!(!ok, "doctor exits non-zero when a checkpoint fails");
    assert!(out.contains(&format!("FAIL free ports in {a}-{b}")), "{out}");
    assert!(out.contains("FAIL") && out.contains("shadowingcert"), "{out}");
    assert!(out.contains("fix:"), "{out}");

    // A range inside the kernel's ephemeral ports: outgoing connections
    // can take shadow ports at any moment.
    let local = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let lo: u16 = local.split_whitespace().next().unwrap().parse().unwrap();
    let (ok, out) = run_on((lo, lo + 2), &[]);
    assert!(!ok, "{out}");
    let line = format!("FAIL shadow ports outside the ephemeral range: 3 of the ports {lo}-{}", lo + 2);
    assert!(out.contains(&line), "{line:?} missing:\n{out}");
    assert!(out.contains("ip_local_reserved_ports"), "{out}");
}

#[tokio::test]
async fn shadowd_killed_hard_takes_its_backends_and_ports_with_it() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let g = f.grant("CORP\\anna").await;
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap();
    let pid = f.d.pid().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    v.wait_closed(std::time::Duration::from_secs(5)).await.expect("the viewer is cut off");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(port_is_free(g.port) && processes_mentioning(&f.x.display()).iter().all(|c| !c.contains("x11vnc"))) {
        assert!(
            std::time::Instant::now() < deadline,
            "port or x11vnc left after shadowd was killed: {:?}",
            processes_mentioning(&f.x.display())
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
