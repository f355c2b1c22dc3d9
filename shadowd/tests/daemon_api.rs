//! shadowd's control API as the Director sees it, against the real binary:
//! bad input gets a clear error and the daemon keeps serving; the registry
//! applies per request; refusals happen before the user is asked.

mod common;

use common::with_bin;
use shadowd::audit::EventKind;
use simulator::drivers::daemon::{Daemon, DaemonOptions};
use simulator::drivers::director::Director;
use simulator::drivers::ports::{free_block, range_string, PortHog};
use simulator::drivers::xvfb::Xvfb;
use std::time::Duration;

async fn daemon(opts: DaemonOptions) -> (Daemon, Director) {
    let mut opts = opts;
    if opts.port_range == DaemonOptions::default().port_range {
        opts.port_range = range_string(free_block(3));
    }
    let d = Daemon::start(with_bin(opts)).await.expect("shadowd starts");
    let dir = Director::new(&d.api);
    (d, dir)
}

#[tokio::test]
async fn sessions_are_discovered_from_running_x_servers() {
    let (_d, dir) = daemon(DaemonOptions::default()).await;
    let x = Xvfb::start(320, 200).unwrap();
    let s = dir.session(&x.display_number().to_string()).await.unwrap().expect("the new Xvfb is listed");
    assert_eq!(s["display"], x.display());
    assert_eq!(s["pid"], x.pid());
    assert_eq!(s["server"], "Xvfb");
    assert!(s["shadow"].is_null());
    let id = x.display_number().to_string();
    drop(x);
    assert!(dir.session(&id).await.unwrap().is_none(), "gone once its X server exits");
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_the_daemon_keeps_serving() {
    let (mut d, dir) = daemon(DaemonOptions::default()).await;
    let x = Xvfb::start(64, 64).unwrap();
    let path = format!("/v1/sessions/{}/shadow", x.display_number());
    let json = Some("application/json");
    // (method, content type, body, status, code, words in the message)
    type Case = (&'static str, Option<&'static str>, Vec<u8>, u16, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        ("POST", json, b"{\"admin\":".to_vec(), 400, "bad_request", "EOF while parsing"),
        ("POST", json, b"not json".to_vec(), 400, "bad_request", "expected"),
        ("POST", json, b"{\"admin\":\"a\",\"extra\":1}".to_vec(), 400, "bad_request", "unknown field `extra`"),
        ("POST", json, b"{}".to_vec(), 400, "bad_request", "missing field `admin`"),
        ("POST", json, b"{\"admin\":\"   \"}".to_vec(), 400, "bad_request", "must name the administrator"),
        ("POST", json, b"{\"admin\":\"a\\u0007b\"}".to_vec(), 400, "bad_request", "control characters"),
        (
            "POST",
            json,
            format!("{{\"admin\":\"{}\"}}", "a".repeat(300)).into_bytes(),
            400,
            "bad_request",
            "longer than",
        ),
        ("POST", None, b"{\"admin\":\"a\"}".to_vec(), 400, "bad_request", "Content-Type"),
        ("POST", json, vec![b' '; 10 * 1024 * 1024], 413, "payload_too_large", "larger than"),
        ("GET", None, vec![], 404, "not_found", "no such endpoint"),
    ];
    for (method, ct, body, status, code, words) in cases {
        let target = if status == 404 { "/v2/nothing" } else { &path };
        let (got_status, text) = if body.len() > 1024 * 1024 {
            dir.raw_tcp(method, target, ct.unwrap(), body).await.unwrap()
        } else {
            dir.raw(method, target, ct, body).await.unwrap()
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error body: {text}"));
        assert_eq!(got_status, status, "{text}");
        assert_eq!(v["error"], code, "{text}");
        assert!(v["message"].as_str().unwrap().contains(words), "{words:?} not in {text}");
    }
    let e = dir.request_shadow("no-such-session", "CORP\\anna").await.unwrap().unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (404, "session_not_found"));
    assert!(e.message.contains("no-such-session"));
    assert_eq!(dir.healthz().await.unwrap()["status"], "ok");
    assert!(d.is_running());
    assert!(d.stop().await.unwrap().success(), "clean exit on SIGTERM");
}

#[tokio::test]
async fn disabled_by_registry_and_enabled_again_without_restart() {
    let opts = DaemonOptions { registry: vec![("EnableSessionShadowing".into(), 0)], ..Default::default() };
    let (d, dir) = daemon(opts).await;
    let x = Xvfb::start(64, 64).unwrap();
    let id = x.display_number().to_string();
    let mut events = dir.events(None).await.unwrap();
    let e = dir.request_shadow(&id, "CORP\\anna").await.unwrap().unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (403, "shadowing_disabled"));
    assert!(e.message.contains("EnableSessionShadowing=0"));
    events.wait_for(EventKind::Rejected, &id, Duration::from_secs(5)).await.unwrap();

    d.reg_update("EnableSessionShadowing", 1).unwrap();
    d.reg_update("ShadowingConsentTimeout", 1).unwrap();
    let e = dir.request_shadow(&id, "CORP\\anna").await.unwrap().unwrap_err();
    assert_eq!(e.error, "consent_timeout", "now the user is asked (and does not answer)");
    let ev = events.wait_for(EventKind::TimedOut, &id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(ev.record.admin, "CORP\\anna");
    let kinds: Vec<EventKind> = events.seen.iter().map(|e| e.record.event).collect();
    assert!(kinds.contains(&EventKind::Prompted), "{kinds:?}");
}

#[tokio::test]
async fn no_free_port_is_refused_before_the_user_is_asked() {
    let block = free_block(2);
    let _hog = PortHog::hold(block.0..=block.1).unwrap();
    let opts = DaemonOptions { port_range: range_string(block), ..Default::default() };
    let (d, dir) = daemon(opts).await;
    let x = Xvfb::start(64, 64).unwrap();
    let id = x.display_number().to_string();
    let e = dir.request_shadow(&id, "CORP\\anna").await.unwrap().unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (503, "no_free_port"));
    assert!(e.message.contains(&range_string(block)), "{}", e.message);
    let kinds: Vec<EventKind> = d.logged_events().iter().map(|e| e.record.event).collect();
    assert_eq!(kinds, [EventKind::Requested, EventKind::Rejected], "never prompted");
}

#[tokio::test]
async fn events_replay_from_a_sequence_number() {
    let opts = DaemonOptions { registry: vec![("EnableSessionShadowing".into(), 0)], ..Default::default() };
    let (_d, dir) = daemon(opts).await;
    for _ in 0..2 {
        dir.request_shadow("nope", "a").await.unwrap().unwrap_err();
    }
    let mut all = dir.events(Some(0)).await.unwrap();
    let mut seqs = Vec::new();
    for _ in 0..4 {
        seqs.push(all.next(Duration::from_secs(5)).await.unwrap().seq);
    }
    assert_eq!(seqs, [1, 2, 3, 4]);
    let mut later = dir.events(Some(3)).await.unwrap();
    assert_eq!(later.next(Duration::from_secs(5)).await.unwrap().seq, 4);
}

#[test]
fn reg_cli_is_ctxreg_compatible() {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_shadowd"));
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("r.reg");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin).env("SHADOWD_REGISTRY", &reg).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let key = r"HKLM\Software\Citrix\VirtualDesktopAgent";
    let (ok, _) = run(&["reg", "update", "-k", key, "-v", "ShadowingUseSSL", "-d", "0x00000001"]);
    assert!(ok);
    let (ok, out) = run(&["reg", "query", "-k", key, "-v", "ShadowingUseSSL"]);
    assert!(ok && out.contains("ShadowingUseSSL    REG_DWORD    0x00000001"), "{out}");
    let (ok, out) = run(&["reg", "update", "-k", key, "-v", "X", "-d", "maybe"]);
    assert!(!ok && out.contains("not a DWORD"), "{out}");
    let (ok, out) = run(&["reg", "update", "-k", r"HKXX\Software", "-v", "X", "-d", "1"]);
    assert!(!ok && out.contains("hive"), "{out}");
    assert!(std::fs::read_to_string(&reg).unwrap().contains("\"ShadowingUseSSL\"=dword:00000001"));
}
