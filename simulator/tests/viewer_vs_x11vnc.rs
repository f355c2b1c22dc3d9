//! The viewer against the seed pipeline — a real Xvfb, `x11vnc -viewonly`
//! and websockify in front of it — so the harness's RFB client is checked
//! against third-party implementations rather than against our own server.
//!
//! Also: the viewer's error reporting against small scripted servers (HTTP
//! refusal, silence, fragmented and garbage RFB), where the real pipeline
//! cannot be made to misbehave on cue.

use futures_util::{SinkExt, StreamExt};
use shadowd::rfb::handshake::{ProtocolVersion, SecurityResult, ServerInit};
use shadowd::rfb::messages::ServerMessage;
use shadowd::rfb::{auth, encodings, PixelFormat, ProtocolError};
use simulator::drivers::viewer::{Stage, Viewer, ViewerError, ViewerOptions};
use simulator::drivers::xvfb::{InputProbe, Pattern, Xvfb};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "s3cr3t!x";
const T: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- fixtures

/// A child process killed and reaped on drop, so a failing test leaks none.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines read from a child's pipe by a thread, waitable without sleeping.
#[derive(Clone, Default)]
struct Lines {
    inner: Arc<(Mutex<LineState>, Condvar)>,
}

#[derive(Default)]
struct LineState {
    lines: Vec<String>,
    /// The pipe closed: the child exited (or closed it).
    eof: bool,
}

impl Lines {
    fn collect(pipe: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            let (m, cv) = &*l.inner;
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                m.lock().unwrap().lines.push(line);
                cv.notify_all();
            }
            m.lock().unwrap().eof = true;
            cv.notify_all();
        });
        lines
    }

    /// The first line (from `from` on) matching `pred`; `None` at EOF or
    /// timeout.
    fn wait_for(&self, from: usize, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<(usize, String)> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.inner;
        let mut g = m.lock().unwrap();
        loop {
            if let Some(i) = g.lines.iter().skip(from).position(|l| pred(l)) {
                return Some((from + i, g.lines[from + i].clone()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if g.eof || left.is_zero() {
                return None;
            }
            g = cv.wait_timeout(g, left).unwrap().0;
        }
    }

    /// Whether the pipe reached EOF (the child exited) within `timeout`.
    fn wait_eof(&self, timeout: Duration) -> bool {
        let (m, cv) = &*self.inner;
        let g = m.lock().unwrap();
        cv.wait_timeout_while(g, timeout, |st| !st.eof).unwrap().0.eof
    }

    fn snapshot(&self) -> Vec<String> {
        self.inner.0.lock().unwrap().lines.clone()
    }

    fn len(&self) -> usize {
        self.inner.0.lock().unwrap().lines.len()
    }
}

/// Xvfb + `x11vnc -viewonly` + websockify (inetd mode, on a socket we bound),
/// as the external backend will run them. Fields drop in order: websockify,
/// x11vnc, then the display.
struct Seed {
    _websockify: Proc,
    x11vnc: Proc,
    /// x11vnc's stderr: its log.
    log: Lines,
    ws_addr: SocketAddr,
    _dir: tempfile::TempDir,
    xvfb: Xvfb,
}

impl Seed {
    fn start(pattern: Pattern, extra_x11vnc_args: &[&str]) -> Seed {
        let xvfb = Xvfb::start(320, 200).unwrap();
        xvfb.draw(pattern).unwrap();
        // `-autoport` probes for a free port and binds it later, so two
        // x11vncs starting at once can pick the same one; the loser exits
        // without printing PORT= and we try again.
        let mut failures = Vec::new();
        for _ in 0..5 {
            match start_x11vnc(&xvfb, extra_x11vnc_args) {
                Ok((x11vnc, log, rfb_port, dir)) => {
                    let (websockify, ws_addr) = start_websockify(rfb_port, &[]);
                    return Seed { _websockify: websockify, x11vnc, log, ws_addr, _dir: dir, xvfb };
                }
                Err(e) => failures.push(e),
            }
        }
        panic!("x11vnc did not start:\n{}", failures.join("\n---\n"));
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.ws_addr)
    }

    fn options(&self, password: &str) -> ViewerOptions {
        let mut o = ViewerOptions::new(self.url(), password);
        o.origin = Some("http://localhost".into());
        o
    }

    /// Waits for an x11vnc log line containing `needle`, from line `from` on.
    fn expect_log(&self, from: usize, needle: &str) -> usize {
        match self.log.wait_for(from, T, |l| l.contains(needle)) {
            Some((i, _)) => i,
            None => panic!("x11vnc never logged {needle:?}; log:\n{}", self.log.snapshot().join("\n")),
        }
    }
}

type X11vnc = (Proc, Lines, u16, tempfile::TempDir);

fn start_x11vnc(xvfb: &Xvfb, extra: &[&str]) -> Result<X11vnc, String> {
    // The password goes through a 0600 file that x11vnc deletes after
    // reading (`rm:`), never the command line.
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&pw).unwrap();
    writeln!(f, "{PASSWORD}").unwrap();
    drop(f);
    let mut child = Command::new("x11vnc")
        .args(["-display", &xvfb.display(), "-viewonly", "-localhost", "-noipv6", "-autoport", "5900"])
        .arg("-passwdfile")
        .arg(format!("rm:{}", pw.display()))
        .args(["-nevershared", "-dontdisconnect", "-once"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run x11vnc: {e}"))?;
    let stdout = Lines::collect(child.stdout.take().unwrap());
    let log = Lines::collect(child.stderr.take().unwrap());
    let proc = Proc { child };
    // "PORT=5901" on stdout once it listens.
    match stdout.wait_for(0, Duration::from_secs(30), |l| l.starts_with("PORT=")) {
        Some((_, line)) => {
            let port = line["PORT=".len()..].trim().parse().map_err(|e| format!("bad {line:?}: {e}"))?;
            Ok((proc, log, port, dir))
        }
        None => {
            drop(proc);
            log.wait_eof(Duration::from_secs(2));
            Err(format!("no PORT= line; stderr:\n{}", log.snapshot().join("\n")))
        }
    }
}

/// websockify in inetd mode on a socket we bound: no port race, and
/// connections queue in the backlog until it accepts, so no readiness wait.
fn start_websockify(rfb_port: u16, extra: &[String]) -> (Proc, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let child = Command::new("websockify")
        .arg("--inetd")
        .args(extra)
        .arg(format!("127.0.0.1:{rfb_port}"))
        .stdin(Stdio::from(OwnedFd::from(listener)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("websockify runs (apt-get install websockify)");
    (Proc { child }, addr)
}

// ---------------------------------------------------- against the seed

#[tokio::test]
async fn full_frame_equals_the_display_pixel_for_pixel() {
    let seed = Seed::start(Pattern::Noise { seed: 11 }, &[]);
    let mut v = Viewer::connect(seed.options(PASSWORD)).await.unwrap();
    assert_eq!(v.version(), ProtocolVersion::V3_8);
    assert_eq!(v.security_type(), 2, "VNC Authentication");
    assert_eq!(v.size(), (320, 200));
    let frame = v.full_frame(T).await.unwrap();
    let shot = seed.xvfb.screenshot().unwrap();
    assert_eq!(frame.diff(&shot), None, "viewer vs Xvfb screenshot");
    // And the screenshot is the pattern, so neither side is trivially blank.
    assert_eq!(shot.diff(&Pattern::Noise { seed: 11 }.render(320, 200)), None);
}

/// Without the Cursor pseudo-encoding x11vnc paints the pointer into the
/// framebuffer: the frame then differs from the display, but only around the
/// pointer (at the screen centre on a fresh Xvfb). This is why the viewer
/// advertises Cursor by default, as noVNC does.
#[tokio::test]
async fn without_cursor_encoding_x11vnc_paints_the_pointer_into_the_frame() {
    let seed = Seed::start(Pattern::Solid(0x204060), &[]);
    let mut o = seed.options(PASSWORD);
    o.encodings = vec![encodings::RAW];
    let mut v = Viewer::connect(o).await.unwrap();
    let frame = v.full_frame(T).await.unwrap();
    let shot = seed.xvfb.screenshot().unwrap();
    let d = frame.diff(&shot).expect("x11vnc drew no cursor: has its behaviour changed?");
    for y in 0..200 {
        for x in 0..320 {
            if frame.get(x, y) != shot.get(x, y) {
                assert!((160..160 + 32).contains(&x) && (100..100 + 32).contains(&y), "({x},{y}) differs: {d}");
            }
        }
    }
}

#[tokio::test]
async fn incremental_updates_converge_after_a_redraw() {
    let seed = Seed::start(Pattern::Noise { seed: 1 }, &[]);
    let mut v = Viewer::connect(seed.options(PASSWORD)).await.unwrap();
    let before = v.full_frame(T).await.unwrap();
    seed.xvfb.draw(Pattern::Checkerboard { seed: 5 }).unwrap();
    let shot = seed.xvfb.screenshot().unwrap();
    assert!(before.diff(&shot).is_some(), "the redraw must change the screen");
    let got = v.converge_to(&shot, T).await.unwrap();
    assert_eq!(got.diff(&shot), None, "incremental updates did not converge to the new screen");
}

#[tokio::test]
async fn older_protocol_versions_work_too() {
    for (flag, version) in [("3.3", ProtocolVersion::V3_3), ("3.7", ProtocolVersion::V3_7)] {
        let seed = Seed::start(Pattern::Gradient, &["-rfbversion", flag]);
        let mut v = Viewer::connect(seed.options(PASSWORD)).await.unwrap();
        assert_eq!(v.version(), version);
        let frame = v.full_frame(T).await.unwrap();
        assert_eq!(frame.diff(&seed.xvfb.screenshot().unwrap()), None, "RFB {flag}");
    }
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_with_the_servers_reason() {
    let seed = Seed::start(Pattern::Solid(0x336699), &[]);
    let err = Viewer::connect(seed.options("wrong-pw")).await.unwrap_err();
    match &err {
        // x11vnc's exact 3.8 reason string.
        ViewerError::AuthFailed { reason: Some(reason) } => assert_eq!(reason, "password check failed!"),
        other => panic!("expected AuthFailed with a reason, got {other:?}: {other}"),
    }
    let failed = seed.expect_log(0, "authProcessClientMessage: authentication failed from 127.0.0.1");
    seed.expect_log(failed, "connect_once: invalid password or early disconnect.");
    // A failed attempt does not use up -once: the right password still works.
    let mut v = Viewer::connect(seed.options(PASSWORD)).await.unwrap();
    v.full_frame(T).await.unwrap();
}

#[tokio::test]
async fn wrong_password_under_rfb_3_3_is_still_an_auth_error() {
    let seed = Seed::start(Pattern::Solid(0x336699), &["-rfbversion", "3.3"]);
    let err = Viewer::connect(seed.options("nope")).await.unwrap_err();
    assert!(matches!(err, ViewerError::AuthFailed { reason: None }), "{err:?}: {err}");
}

#[tokio::test]
async fn input_is_sent_and_the_view_only_session_survives_it() {
    let seed = Seed::start(Pattern::Noise { seed: 4 }, &[]);
    let probe = InputProbe::install(&seed.xvfb.display()).unwrap();
    let mut v = Viewer::connect(seed.options(PASSWORD)).await.unwrap();
    v.full_frame(T).await.unwrap();
    for c in "rm -rf /\r".chars() {
        v.send_key(c as u32, true).await.unwrap();
        v.send_key(c as u32, false).await.unwrap();
    }
    v.send_key(0xff0d, true).await.unwrap(); // Return
    v.send_key(0xff0d, false).await.unwrap();
    for (x, y) in [(10, 10), (300, 190), (160, 100)] {
        v.send_pointer(x, y, 1).await.unwrap();
        v.send_pointer(x, y, 0).await.unwrap();
    }
    v.send_cut_text("pasted by an admin").await.unwrap();
    // A full round trip after the input: x11vnc has read (and dropped) all
    // of it, and the byte stream is still in sync.
    let frame = v.full_frame(T).await.unwrap();
    assert_eq!(frame.diff(&Pattern::Noise { seed: 4 }.render(320, 200)), None);
    assert_eq!(probe.input_events().unwrap(), Vec::<String>::new(), "-viewonly let input through");
}

#[tokio::test]
async fn server_hangup_is_seen_by_wait_closed() {
    let mut seed = Seed::start(Pattern::Gradient, &[]);
    let mut v = Viewer::connect(seed.options(PASSWORD)).await.unwrap();
    v.full_frame(T).await.unwrap();
    // Nothing closes on its own: wait_closed must time out, not return.
    let e = v.wait_closed(Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(e, ViewerError::Timeout { stage: Stage::WaitClose, .. }), "{e}");
    // The VNC server goes away: websockify closes the WebSocket.
    let _ = seed.x11vnc.child.kill();
    let info = v.wait_closed(T).await.unwrap();
    assert_eq!(info.code, Some(1000), "{info}");
    assert!(info.clean, "{info}");
    // Afterwards every call reports the close, at its own stage.
    let e = v.full_frame(T).await.unwrap_err();
    assert!(matches!(e, ViewerError::Closed { stage: Stage::FullFrame, .. }), "{e}");
}

/// Records what x11vnc logs when an admin connects, authenticates and
/// leaves: the lines the external backend watches to emit `connected` and
/// `disconnected` audit events. (The client address is always websockify's
/// 127.0.0.1, never the admin's.)
#[tokio::test]
async fn x11vnc_logs_connect_auth_and_disconnect() {
    let seed = Seed::start(Pattern::Gradient, &[]);
    let start = seed.log.len();
    let mut v = Viewer::connect(seed.options(PASSWORD)).await.unwrap();
    let connected = seed.expect_log(start, "Got connection from client 127.0.0.1");
    let auth = seed.expect_log(connected, "rfbProcessClientSecurityType: executing handler for type 2");
    // Only an authenticated client can send SetPixelFormat: the first line
    // that proves the password was right.
    let authed = seed.expect_log(auth, "Pixel format for client 127.0.0.1:");
    v.full_frame(T).await.unwrap();
    v.close().await.unwrap();
    let gone = seed.expect_log(authed, "client_count: 0");
    let exited = seed.expect_log(gone, "viewer exited.");
    let lines = seed.log.snapshot();
    eprintln!("x11vnc log from connect to exit:\n{}", lines[start..=exited].join("\n"));
    assert!(!lines[auth..authed].iter().any(|l| l.contains("authentication failed")), "{lines:#?}");
    // -once: x11vnc exits after its one client (its stderr reaches EOF).
    assert!(seed.log.wait_eof(T), "x11vnc -once still running after the client left");
}

// ------------------------------------------------ errors, scripted servers

#[tokio::test]
async fn refused_connection_is_named() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed again
    let e = Viewer::connect(ViewerOptions::new(format!("ws://127.0.0.1:{port}/"), "x")).await.unwrap_err();
    assert!(matches!(e, ViewerError::ConnectionRefused { .. }), "{e:?}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[tokio::test]
async fn tls_to_a_plain_websockify_is_a_tls_error() {
    let seed = Seed::start(Pattern::Gradient, &[]);
    // Connect by name, to the address: the name is what TLS checks.
    let mut o = ViewerOptions::new(format!("wss://localhost:{}/", seed.ws_addr.port()), PASSWORD);
    o.connect_to = Some(seed.ws_addr);
    let e = Viewer::connect(o).await.unwrap_err();
    assert!(matches!(e, ViewerError::Tls { .. }), "{e:?}");
    assert!(e.to_string().starts_with("TLS handshake with localhost failed"), "{e}");
}

/// A test CA and a certificate for `name` signed by it, as PEM files.
struct TestPki {
    ca: rcgen::Certificate,
    dir: tempfile::TempDir,
}

impl TestPki {
    fn new(ca_name: &str, name: &str) -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, ca_name);
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.path().join("key.pem"))
            .unwrap()
            .write_all(key.serialize_pem().as_bytes())
            .unwrap();
        TestPki { ca, dir }
    }

    fn websockify_args(&self) -> Vec<String> {
        let p = |f: &str| self.dir.path().join(f).display().to_string();
        vec![format!("--cert={}", p("cert.pem")), format!("--key={}", p("key.pem")), "--ssl-only".into()]
    }

    /// A client config trusting only this CA.
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())
    }
}

#[tokio::test]
async fn wss_by_fqdn_through_websockify_with_a_test_ca() {
    const FQDN: &str = "vda1.shadow.test";
    let pki = TestPki::new("shadowsim test CA", FQDN);
    let (x11vnc, _log, rfb_port, _dir, xvfb) = {
        let xvfb = Xvfb::start(320, 200).unwrap();
        xvfb.draw(Pattern::Noise { seed: 21 }).unwrap();
        let (p, l, port, d) = start_x11vnc(&xvfb, &[]).unwrap();
        (p, l, port, d, xvfb)
    };
    let (_websockify, addr) = start_websockify(rfb_port, &pki.websockify_args());
    // The FQDN does not resolve here: connect_to maps it, while SNI and the
    // certificate check still use the name.
    let mut o = ViewerOptions::new(format!("wss://{FQDN}:{}/", addr.port()), PASSWORD);
    o.connect_to = Some(addr);
    o.tls = Some(pki.client_config());
    let mut v = Viewer::connect(o.clone()).await.unwrap();
    let frame = v.full_frame(T).await.unwrap();
    assert_eq!(frame.diff(&xvfb.screenshot().unwrap()), None);
    drop(v);

    // The same server under another name, or trusted by nobody: TLS errors.
    let mut wrong_name = o.clone();
    wrong_name.url = format!("wss://other.shadow.test:{}/", addr.port());
    let e = Viewer::connect(wrong_name).await.unwrap_err();
    assert!(matches!(e, ViewerError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("not valid for name \"other.shadow.test\""), "{e}");
    let mut untrusted = o.clone();
    untrusted.tls = Some(TestPki::new("some other CA", FQDN).client_config());
    let e = Viewer::connect(untrusted).await.unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    drop(x11vnc);
}

#[tokio::test]
async fn http_refusal_is_reported_with_its_status() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\n\r\norigin refused").await;
    });
    let e = Viewer::connect(ViewerOptions::new(format!("ws://{addr}/"), "x")).await.unwrap_err();
    assert!(matches!(e, ViewerError::HttpStatus { status: 403, .. }), "{e:?}");
    assert!(e.to_string().contains("HTTP 403") && e.to_string().contains("origin refused"), "{e}");
}

#[tokio::test]
async fn silence_times_out_naming_the_stage() {
    // Accepts TCP, never answers the upgrade.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    });
    let mut o = ViewerOptions::new(format!("ws://{addr}/"), "x");
    o.handshake_timeout = Duration::from_millis(300);
    let e = Viewer::connect(o).await.unwrap_err();
    assert!(matches!(e, ViewerError::Timeout { stage: Stage::WebSocketUpgrade, .. }), "{e:?}");

    // Upgrades, then says nothing: the RFB version is what is missing.
    let (addr, _) = scripted_server(|ws| async move {
        let _keep_open = ws;
        futures_util::future::pending::<()>().await
    })
    .await;
    let mut o = ViewerOptions::new(format!("ws://{addr}/"), "x");
    o.handshake_timeout = Duration::from_millis(300);
    let e = Viewer::connect(o).await.unwrap_err();
    assert!(matches!(e, ViewerError::Timeout { stage: Stage::ProtocolVersion, .. }), "{e:?}");
    assert!(e.to_string().contains("during RFB ProtocolVersion"), "{e}");
}

type ServerWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

type Headers = tokio::sync::oneshot::Receiver<tokio_tungstenite::tungstenite::http::HeaderMap>;

/// A one-connection WebSocket server (subprotocol "binary") running
/// `script`; the upgrade request's headers come back through the receiver.
// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn scripted_server<F, Fut>(script: F) -> (SocketAddr, Headers)
where
    F: FnOnce(ServerWs) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_hdr_async(s, |req: &Request, mut resp: Response| {
            let _ = tx.send(req.headers().clone());
            resp.headers_mut().insert("Sec-WebSocket-Protocol", "binary".parse().unwrap());
            Ok(resp)
        })
        .await
        .unwrap();
        script(ws).await;
    });
    (addr, rx)
}

/// Reads client bytes until `n` have arrived (the client may split or merge).
async fn recv_exact(ws: &mut ServerWs, pending: &mut Vec<u8>, n: usize) -> Vec<u8> {
    while pending.len() < n {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => pending.extend_from_slice(&b),
            other => panic!("client sent {other:?}"),
        }
    }
    pending.drain(..n).collect()
}

/// The server side of a 3.8 handshake, sending everything one byte per
/// WebSocket message to prove the viewer reassembles across messages.
async fn handshake_byte_by_byte(ws: &mut ServerWs, width: u16, height: u16) {
    let mut pending = Vec::new();
    let mut out = Vec::new();
    out.extend_from_slice(&ProtocolVersion::V3_8.to_bytes());
    out.extend_from_slice(&[1, 2]); // one security type: VNC auth
    let challenge = [7u8; 16];
    out.extend_from_slice(&challenge);
    for b in out {
        ws.send(Message::Binary(vec![b].into())).await.unwrap();
    }
    assert_eq!(recv_exact(ws, &mut pending, 12).await, b"RFB 003.008\n");
    assert_eq!(recv_exact(ws, &mut pending, 1).await, [2]);
    let resp: [u8; 16] = recv_exact(ws, &mut pending, 16).await.try_into().unwrap();
    assert!(auth::verify(PASSWORD, &challenge, &resp));
    let mut out = Vec::new();
    SecurityResult::Ok.encode(ProtocolVersion::V3_8, &mut out);
    for b in out {
        ws.send(Message::Binary(vec![b].into())).await.unwrap();
    }
    recv_exact(ws, &mut pending, 1).await; // ClientInit
    let mut out = Vec::new();
    ServerInit { width, height, pixel_format: PixelFormat::RGB888, name: "scripted".into() }.encode(&mut out);
    for b in out {
        ws.send(Message::Binary(vec![b].into())).await.unwrap();
    }
}

#[tokio::test]
async fn fragmented_stream_decodes_and_garbage_is_a_protocol_error() {
    let (addr, headers) = scripted_server(|mut ws| async move {
        handshake_byte_by_byte(&mut ws, 2, 1).await;
        // A valid 2x1 raw update split mid-pixel, a bell, then garbage.
        let mut update = Vec::new();
        ServerMessage::FramebufferUpdate { rects: 1 }.encode(&mut update);
        update.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0]);
        update.extend_from_slice(&[0x33, 0x22, 0x11, 0, 0x66, 0x55, 0x44, 0]);
        ServerMessage::Bell.encode(&mut update);
        let (a, b) = update.split_at(19);
        ws.send(Message::Binary(a.to_vec().into())).await.unwrap();
        ws.send(Message::Binary(b.to_vec().into())).await.unwrap();
        ws.send(Message::Binary(vec![0x7f, 1, 2, 3].into())).await.unwrap();
        futures_util::future::pending::<()>().await;
    })
    .await;
    // By name, mapped to the address, with a browser's Origin.
    let mut o = ViewerOptions::new(format!("ws://director-sees.example:{}/", addr.port()), PASSWORD);
    o.connect_to = Some(addr);
    o.origin = Some("https://director.example".into());
    let mut v = Viewer::connect(o).await.unwrap();
    let headers = headers.await.unwrap();
    assert_eq!(headers["Host"], format!("director-sees.example:{}", addr.port()));
    assert_eq!(headers["Origin"], "https://director.example");
    assert_eq!(headers["Sec-WebSocket-Protocol"], "binary");
    assert_eq!(v.server_init().name, "scripted");
    let frame = v.full_frame(T).await.unwrap();
    assert_eq!(frame.pixels, [0x112233, 0x445566]);
    let e = v.next_update(T).await.unwrap_err();
    assert_eq!(v.bells(), 1);
    match e {
        ViewerError::Protocol { stage: Stage::Update, source } => {
            assert_eq!(source, ProtocolError::UnknownMessageType { direction: "server-to-client", msg_type: 0x7f })
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn oversized_server_init_is_refused_before_allocation() {
    let (addr, _) = scripted_server(|mut ws| async move {
        handshake_byte_by_byte(&mut ws, 65535, 65535).await;
        futures_util::future::pending::<()>().await;
    })
    .await;
    let e = Viewer::connect(ViewerOptions::new(format!("ws://{addr}/"), PASSWORD)).await.unwrap_err();
    assert!(matches!(e, ViewerError::Protocol { stage: Stage::ServerInit, .. }), "{e:?}");
    assert!(e.to_string().contains("framebuffer pixel count"), "{e}");
}
