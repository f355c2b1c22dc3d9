//! Steps the admins take: ask, look at the answer, connect a viewer, look
//! at frames, try input, suffer network faults.

use crate::drivers::director::Grant;
use crate::drivers::fault::FaultProxy;
use crate::drivers::image::Image;
use crate::drivers::viewer::{Viewer, ViewerError, ViewerOptions};
use crate::runtime::world::{Request, ViewerState, World};
use crate::scenario::{
    Address, AnswerField, CaptureStep, ConnectError, ConnectStep, ExpectDisconnectStep, ExpectFrameStep, ExpectStep,
    ExpectedOutcome, FaultStep, FrameRef, RequestStep, Scheme, SendInputStep,
};
use anyhow::{anyhow, bail, ensure, Result};
use std::net::SocketAddr;
use std::time::Duration;

pub async fn request(w: &mut World, s: &RequestStep) -> Result<()> {
    let id = match (&s.session, &s.session_id) {
        (Some(name), _) => w.session(name)?.id.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => bail!("request needs `session` or `session_id`"),
    };
    let (director, admin) = (w.director.clone(), s.admin_name());
    let session = id.clone();
    let task = tokio::spawn(async move { director.request_shadow(&id, &admin).await });
    w.requests.insert(s.client.clone(), Request::Pending { session, task });
    if s.wait {
        w.answer(&s.client, Duration::from_secs(120)).await?;
    }
    Ok(())
}

pub async fn expect(w: &mut World, s: &ExpectStep) -> Result<()> {
    let answer = w.answer(&s.request, s.within.as_std()).await?.clone();
    match (s.outcome(), &answer) {
        (ExpectedOutcome::Granted, Ok(g)) => {
            if let Some(scheme) = s.scheme {
                let want = match scheme {
                    Scheme::Ws => "ws",
                    Scheme::Wss => "wss",
                };
                ensure!(g.scheme == want, "granted with scheme {}, expected {want}", g.scheme);
                ensure!(g.url.starts_with(&format!("{want}://")), "URL {} does not use {want}://", g.url);
            }
        }
        (ExpectedOutcome::Granted, Err(f)) => bail!("expected a grant, got {f}"),
        (ExpectedOutcome::Refused(_), Ok(g)) => {
            bail!("expected a refusal, but {} was granted port {} ({})", s.request, g.port, g.url)
        }
        (ExpectedOutcome::Refused(code), Err(f)) => {
            if let Some(code) = code {
                let want = shadowd::broker::ErrorCode::from(code).as_str();
                ensure!(f.error == want, "expected error {want}, got {f}");
            }
            if let Some(status) = s.status {
                ensure!(f.status == status, "expected HTTP {status}, got {f}");
            }
        }
    }
    if let Some(words) = &s.message_contains {
        let message = match &answer {
            Ok(g) => g.url.clone(),
            Err(f) => f.message.clone(),
        };
        ensure!(message.contains(words.as_str()), "message {message:?} does not contain {words:?}");
    }
    Ok(())
}

pub async fn capture(w: &mut World, s: &CaptureStep) -> Result<()> {
    let answer = w.answer(&s.from.client, Duration::from_secs(60)).await?.clone();
    let value = match (&answer, s.from.field) {
        (Ok(g), AnswerField::Host) => g.host.clone(),
        (Ok(g), AnswerField::Port) => g.port.to_string(),
        (Ok(g), AnswerField::Scheme) => g.scheme.clone(),
        (Ok(g), AnswerField::Url) => g.url.clone(),
        (Ok(g), AnswerField::Password) => g.password.clone(),
        (Ok(g), AnswerField::Shadow) => g.shadow.to_string(),
        (Ok(_), AnswerField::Status) => "200".into(),
        (Err(f), AnswerField::Status) => f.status.to_string(),
        (Err(f), AnswerField::Error) => f.error.clone(),
        (Err(f), AnswerField::Message) => f.message.clone(),
        (Ok(_), field) => bail!("{} was granted: it has no {field:?}", s.from.client),
        (Err(f), field) => bail!("{} was refused ({f}): it has no {field:?}", s.from.client),
    };
    w.vars.insert(s.name.clone(), value);
    Ok(())
}

/// Where a viewer's TCP connection goes: the fault proxy in front of the
/// shadow port on the chosen address family.
fn target_addr(address: Address, port: u16) -> SocketAddr {
    match address {
        Address::Fqdn | Address::Ipv4 => SocketAddr::from(([127, 0, 0, 1], port)),
        Address::Ipv6 => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
    }
}

pub fn classify(e: &ViewerError) -> ConnectError {
    match e {
        ViewerError::ConnectionRefused { .. } | ViewerError::Connect { .. } | ViewerError::Resolve { .. } => {
            ConnectError::Refused
        }
        ViewerError::Tls { .. } => ConnectError::Tls,
        ViewerError::HttpStatus { .. } | ViewerError::WebSocket { .. } => ConnectError::UpgradeRejected,
        ViewerError::AuthFailed { .. } | ViewerError::Refused { .. } | ViewerError::NoSupportedSecurity { .. } => {
            ConnectError::AuthFailed
        }
        ViewerError::Timeout { .. } => ConnectError::Timeout,
        _ => ConnectError::Closed,
    }
}

pub async fn connect(w: &mut World, s: &ConnectStep) -> Result<()> {
    let grant: Grant = w.grant(&s.client, s.within.as_std()).await?;
    let proxy = FaultProxy::start(target_addr(s.address, grant.port)).await?;
    let mut opts = ViewerOptions::new(&grant.url, s.password.clone().unwrap_or_else(|| grant.password.clone()));
    opts.connect_to = Some(proxy.addr);
    opts.origin = s.origin.clone();
    opts.handshake_timeout = s.within.as_std();
    if grant.scheme == "wss" {
        opts.tls = Some(w.ca.client_config());
    }
    if s.address == Address::Ipv4 || s.address == Address::Ipv6 {
        // Connecting by address: the URL names the address, as an admin
        // typing an IP would (the certificate names the FQDN).
        let host = if s.address == Address::Ipv4 { "127.0.0.1".to_string() } else { "[::1]".to_string() };
        opts.url = format!("{}://{host}:{}/", grant.scheme, grant.port);
    }
    let result = Viewer::connect(opts).await;
    match (result, s.expect_error) {
        (Ok(viewer), None) => {
            w.viewers.insert(s.viewer_name().to_string(), ViewerState { viewer, proxy, client: s.client.clone() });
            Ok(())
        }
        (Ok(_), Some(want)) => bail!("expected the connection to fail ({want:?}), but it succeeded"),
        (Err(e), None) => Err(anyhow!(e).context("the viewer could not connect")),
        (Err(e), Some(want)) => {
            // The fault proxy accepts before it knows the shadow port is
            // closed: ask the port itself whether it refuses.
            let direct = tokio::net::TcpStream::connect(target_addr(s.address, grant.port)).await;
            let refused = matches!(&direct, Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused);
            let got = if refused { ConnectError::Refused } else { classify(&e) };
            ensure!(got == want, "expected {want:?}, the connection failed with {got:?}: {e}");
            Ok(())
        }
    }
}

pub async fn expect_frame(w: &mut World, s: &ExpectFrameStep) -> Result<()> {
    let within = s.within.as_std();
    let deadline = tokio::time::Instant::now() + within;
    let state = w.viewers.get(&s.viewer).ok_or_else(|| anyhow!("no open viewer {:?}", s.viewer))?;
    let session_name = session_of(w, &state.client)?;
    let first = w.viewer(&s.viewer)?.viewer.full_frame(within).await?;
    let mut frame = first;
    loop {
        // A fresh picture each round: the display may be mid-change (a
        // dialog closing, the indicator drawing itself) and what counts is
        // that the viewer catches up with it.
        let expected = expected_frame(w, &session_name, s.equals)?;
        let diff = frame.diff(&expected);
        if diff.is_none() {
            w.shot(format!("viewer {}", s.viewer), &frame);
            w.shot(format!("display {session_name}"), &expected);
            return Ok(());
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            w.shot(format!("viewer {} (received)", s.viewer), &frame);
            w.shot(format!("display {session_name} (expected)"), &expected);
            let why = diff.map(|d| d.to_string()).unwrap_or_default();
            bail!("the viewer's frame does not equal the {:?} after {within:?} ({why})", s.equals);
        }
        let viewer = &mut w.viewer(&s.viewer)?.viewer;
        // No update in the slice is fine: compare again with a new picture.
        let _ = viewer.next_update(left.min(Duration::from_millis(500))).await;
        frame = viewer.image();
    }
}

fn expected_frame(w: &World, session_name: &str, equals: FrameRef) -> Result<Image> {
    let session = w.session(session_name)?;
    let x = session.xvfb()?;
    Ok(match equals {
        FrameRef::Display => x.screenshot()?,
        FrameRef::Pattern => {
            let mut expected = session.pattern.render(x.width, x.height);
            crate::drivers::indicator::mask(&x.display(), &mut expected, &x.screenshot()?)?;
            expected
        }
    })
}

/// Which scenario session a client's request was for.
fn session_of(w: &World, client: &str) -> Result<String> {
    let grant_session = match w.requests.get(client) {
        Some(Request::Done(Ok(g))) => g.session.clone(),
        _ => bail!("{client} holds no grant"),
    };
    w.sessions
        .iter()
        .find(|(_, s)| s.id == grant_session)
        .map(|(n, _)| n.clone())
        .ok_or_else(|| anyhow!("{client}'s session {grant_session} is not one of this case's"))
}

pub async fn expect_disconnect(w: &mut World, s: &ExpectDisconnectStep) -> Result<()> {
    let within = s.within.as_std();
    let state = w.viewer(&s.viewer)?;
    state
        .viewer
        .wait_closed(within)
        .await
        .map_err(|e| anyhow!("{} was not disconnected within {within:?}: {e}", s.viewer))?;
    w.viewers.remove(&s.viewer);
    Ok(())
}

pub async fn expect_connected(w: &mut World, viewer: &str, duration: Duration) -> Result<()> {
    let state = w.viewer(viewer)?;
    match state.viewer.wait_closed(duration).await {
        Ok(info) => bail!("{viewer} was disconnected within {duration:?}: {info:?}"),
        Err(_) => Ok(()),
    }
}

pub async fn send_input(w: &mut World, s: &SendInputStep) -> Result<()> {
    // Forget input seen so far (the consent clicker's, say): what counts
    // for expect_no_input is what arrives from now on.
    for session in w.sessions.values_mut() {
        if let Some(p) = session.probe.as_mut() {
            p.reset()?;
        }
    }
    let state = w.viewer(&s.viewer)?;
    for &[x, y] in &s.pointer {
        state.viewer.send_pointer(x, y, 0).await?;
        if let Some(b) = s.button {
            let mask = 1u8.checked_shl(b.saturating_sub(1) as u32).unwrap_or(1);
            state.viewer.send_pointer(x, y, mask).await?;
            state.viewer.send_pointer(x, y, 0).await?;
        }
    }
    if let Some(keys) = &s.keys {
        for ch in keys.chars() {
            let keysym = match ch {
                '\n' | '\r' => 0xff0d,
                '\t' => 0xff09,
                c => c as u32,
            };
            state.viewer.send_key(keysym, true).await?;
            state.viewer.send_key(keysym, false).await?;
        }
    }
    if let Some(text) = &s.cut_text {
        state.viewer.send_cut_text(text).await?;
    }
    // A round trip: the server has read everything sent above once it
    // answers a request sent after it.
    state.viewer.full_frame(Duration::from_secs(10)).await?;
    Ok(())
}

pub async fn disconnect(w: &mut World, viewer: &str) -> Result<()> {
    let state = w.viewers.remove(viewer).ok_or_else(|| anyhow!("no open viewer {viewer:?}"))?;
    state.viewer.close().await?;
    Ok(())
}

pub async fn fault(w: &mut World, s: &FaultStep) -> Result<()> {
    let state = w.viewer(&s.viewer)?;
    if s.clear {
        state.proxy.set(Default::default());
    }
    if let Some(l) = s.latency {
        state.proxy.latency(l.as_std());
    }
    if let Some(stall) = s.stall {
        state.proxy.stall(true);
        tokio::time::sleep(stall.as_std()).await;
        state.proxy.stall(false);
    }
    if s.cut {
        state.proxy.cut();
    }
    Ok(())
}
