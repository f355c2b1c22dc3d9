//! The shadow port from an attacker's side, against the real external
//! backend: it speaks WebSocket only, on IPv4 and IPv6 alike (the seed's
//! command leaks raw RFB on `[::]`); garbage handshakes get a clean error
//! and leave the daemon serving; wss with the certificate rules.

mod common;

use common::{Fixture, WAIT};
use simulator::drivers::certs::{CertProblem, CertSpec, Layout, TestCa};
use simulator::drivers::daemon::DaemonOptions;
use simulator::drivers::ports::PortHog;
use simulator::drivers::viewer::Viewer;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects, waits `quiet` for unsolicited bytes (a raw RFB server sends its
/// version at once; websockify waits for an HTTP request), then sends
/// `request` and returns (unsolicited, response).
async fn probe(addr: SocketAddr, quiet: Duration, request: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut unsolicited = vec![0u8; 64];
    let n = match tokio::time::timeout(quiet, s.read(&mut unsolicited)).await {
        Ok(Ok(n)) => n,
        _ => 0,
    };
    unsolicited.truncate(n);
    let _ = s.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut response)).await;
    (unsolicited, response)
}

/// TCP listeners (address, port) of process `pid`, from /proc/net/tcp{,6}.
fn listeners_of(pid: u32) -> Vec<(String, u16)> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|t| t.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap().lines().skip(1) {
            let c: Vec<&str> = line.split_whitespace().collect();
            if c[3] != "0A" || !inodes.contains(c[9]) {
                continue;
            }
            let (addr, port) = c[1].split_once(':').unwrap();
            let port = u16::from_str_radix(port, 16).unwrap();
            let addr = if addr.len() == 8 {
                let v = u32::from_str_radix(addr, 16).unwrap().to_le_bytes();
                format!("{}.{}.{}.{}", v[0], v[1], v[2], v[3])
            } else {
                format!("ipv6:{addr}")
            };
            out.push((addr, port));
        }
    }
    out
}

fn pids_of(name: &str, display: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (cmd.contains(name) && cmd.contains(display)).then_some(pid)
        })
        .collect()
}

#[tokio::test]
async fn the_shadow_port_speaks_only_websocket_on_every_address_family() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let g = f.grant("CORP\\anna").await;
    let http = b"GET / HTTP/1.1\r\nHost: vda1.shadow.test\r\n\r\n";
    let mut families = vec![SocketAddr::from(([127, 0, 0, 1], g.port))];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        families.push(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, g.port)));
    }
    for addr in families {
        let (unsolicited, response) = probe(addr, Duration::from_millis(700), http).await;
        assert!(
            unsolicited.is_empty(),
            "{addr} sent {:?} before any request (raw RFB?)",
            String::from_utf8_lossy(&unsolicited)
        );
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1."), "{addr} answered {text:?}");
        assert!(!text.contains("RFB 00"), "{addr} leaked RFB: {text:?}");
    }
    // x11vnc itself listens on loopback IPv4 only: nothing on [::], nothing
    // on a routable address, nothing on the shadow port.
    let x11vnc = pids_of("x11vnc", &format!("-display {}", f.x.display()));
    assert_eq!(x11vnc.len(), 1, "one x11vnc for the shadow");
    let listening = listeners_of(x11vnc[0]);
    assert!(!listening.is_empty(), "x11vnc listens somewhere");
    for (addr, port) in &listening {
        assert_eq!(addr, "127.0.0.1", "x11vnc listens on {addr}:{port}");
        assert_ne!(*port, g.port);
    }
    // The real viewer still works after the probes.
    let mut v = f.connect(&g).await;
    assert_eq!(v.full_frame(WAIT).await.unwrap().diff(&f.x.screenshot().unwrap()), None);
}

#[tokio::test]
async fn garbage_handshakes_get_a_clean_error_and_the_daemon_keeps_serving() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let f = Fixture::new(DaemonOptions::default()).await;
    let g = f.grant("CORP\\anna").await;
    let addr = SocketAddr::from(([127, 0, 0, 1], g.port));
    // Not HTTP at all.
    let (_, response) = probe(addr, Duration::from_millis(100), b"\x16\x03\x01garbage\r\n\r\n").await;
    let text = String::from_utf8_lossy(&response);
    assert!(!text.contains("RFB"), "{text:?}");
    // A real WebSocket, then garbage where the RFB version belongs.
    let mut req = format!("ws://127.0.0.1:{}/", g.port).into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "binary".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("WebSocket upgrade");
    let first = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(first.into_data().as_ref(), b"RFB 003.008\n", "RFB only inside the WebSocket");
    ws.send(Message::Binary(vec![0xff; 64].into())).await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(m) = ws.next().await {
            if m.is_err() || matches!(m, Ok(Message::Close(_))) {
                return true;
            }
        }
        true
    })
    .await;
    assert_eq!(closed, Ok(true), "the garbage client is disconnected");
    // The daemon and the shadow still serve the real admin.
    assert_eq!(f.dir.healthz().await.unwrap()["status"], "ok");
    let mut v = f.connect(&g).await;
    assert_eq!(v.full_frame(WAIT).await.unwrap().diff(&f.x.screenshot().unwrap()), None);
}

#[tokio::test]
async fn a_port_held_by_another_process_is_skipped() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let _hog = PortHog::hold([f.ports.0]).unwrap();
    let g = f.grant("CORP\\anna").await;
    assert_eq!(g.port, f.ports.0 + 1, "the first port is busy elsewhere");
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap();
}

#[tokio::test]
async fn wss_with_a_valid_certificate() {
    let opts = DaemonOptions { registry: vec![("ShadowingUseSSL".into(), 1)], ..Default::default() };
    let f = Fixture::new(opts).await;
    let now = time::OffsetDateTime::now_utc();
    let ca = TestCa::new(now).unwrap();
    let ssl = f.d.ssl_dir();
    std::fs::remove_dir_all(&ssl).unwrap();
    CertSpec::default().write(&ca, &f.d.options.fqdn, &ssl, now).unwrap();
    let g = f.grant("CORP\\anna").await;
    assert_eq!(g.scheme, "wss");
    assert_eq!(g.url, format!("wss://vda1.shadow.test:{}/", g.port));
    let mut o = f.viewer_options(&g);
    o.tls = Some(ca.client_config());
    let mut v = Viewer::connect(o).await.expect("wss viewer connects, trusting the test CA");
    assert_eq!(v.full_frame(WAIT).await.unwrap().diff(&f.x.screenshot().unwrap()), None);
    // Plain ws:// on a wss port gets nothing.
    let plain = Viewer::connect(f.viewer_options(&simulator::drivers::director::Grant {
        url: format!("ws://vda1.shadow.test:{}/", g.port),
        ..g.clone()
    }))
    .await;
    assert!(plain.is_err(), "ws:// on a wss-only port must fail");
}

#[tokio::test]
async fn tls_misconfigured_names_the_problem_and_the_user_is_not_asked() {
    let opts = DaemonOptions { registry: vec![("ShadowingUseSSL".into(), 1)], ..Default::default() };
    let f = Fixture::new(opts).await;
    let now = time::OffsetDateTime::now_utc();
    let ca = TestCa::new(now).unwrap();
    let ssl = f.d.ssl_dir();
    let cases = [
        (CertSpec { problem: CertProblem::Expired, ..Default::default() }, "expired"),
        (CertSpec { problem: CertProblem::WeakSignature, ..Default::default() }, "SHA-1"),
        (CertSpec { problem: CertProblem::NoSan, ..Default::default() }, "subjectAltName"),
        (CertSpec { problem: CertProblem::WrongName, ..Default::default() }, "vda1.shadow.test"),
        (CertSpec { problem: CertProblem::KeyMismatch, ..Default::default() }, "does not match"),
        (CertSpec { layout: Layout::Misnamed, ..Default::default() }, "shadowingcert"),
        (CertSpec { layout: Layout::TwoCerts, ..Default::default() }, "shadowingcert"),
        (CertSpec { layout: Layout::LooseKeyPermissions, ..Default::default() }, "chmod 600"),
    ];
    for (spec, words) in cases {
        let _ = std::fs::remove_dir_all(&ssl);
        spec.write(&ca, &f.d.options.fqdn, &ssl, now).unwrap();
        let e = f.dir.request_shadow(&f.id, "CORP\\anna").await.unwrap().unwrap_err();
        assert_eq!(e.error, "tls_misconfigured", "{spec:?}");
        assert!(e.message.contains(words), "{spec:?}: {words:?} not in {}", e.message);
    }
    let prompted = f.d.logged_events().iter().filter(|e| e.record.event == shadowd::audit::EventKind::Prompted).count();
    assert_eq!(prompted, 0, "the user is never asked for a shadow that cannot be served");
}
