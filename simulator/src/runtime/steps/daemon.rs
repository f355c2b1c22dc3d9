//! Steps on the daemon's side: its API (stop, raw HTTP), its registry and
//! certificates, its ports, its audit trail, and raw bytes on a shadow port.

use crate::drivers::ports::PortHog;
use crate::runtime::world::{write_tls, World};
use crate::scenario::{
    Address, BreakCertStep, EventMatch, ExpectEventsStep, HogAmount, HogPortsStep, HttpStep, PortRefStep,
    PortsFreeStep, RawConnectStep, RawExpect, RegistryStep, StopStep, WaitEventStep,
};
use anyhow::{anyhow, bail, ensure, Context, Result};
use shadowd::audit::Event;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn stop(w: &mut World, s: &StopStep) -> Result<()> {
    let id = w.session(&s.session)?.id.clone();
    let result = w.director.stop_shadow(&id).await?;
    match (result, s.expect_error) {
        (Ok(_), None) => Ok(()),
        (Ok(_), Some(code)) => bail!("expected {code:?}, but the shadow was stopped"),
        (Err(f), None) => bail!("stopping the shadow failed: {f}"),
        (Err(f), Some(code)) => {
            let want = shadowd::broker::ErrorCode::from(code).as_str();
            ensure!(f.error == want, "expected {want}, got {f}");
            Ok(())
        }
    }
}

pub async fn registry(w: &mut World, s: &RegistryStep) -> Result<()> {
    for (name, value) in s.set.entries() {
        w.target.reg_set(name.as_str(), value)?;
    }
    for name in &s.unset {
        w.target.reg_unset(name.as_str())?;
    }
    Ok(())
}

pub async fn hog_ports(w: &mut World, s: &HogPortsStep) -> Result<()> {
    let ports: Vec<u16> = match s.amount() {
        HogAmount::Ports(p) => p.iter().map(|&p| w.block.map(p)).collect(),
        HogAmount::Count(n) => {
            // The first `n` ports of the range that are free now.
            let free: Vec<u16> = w
                .block
                .real
                .iter()
                .filter(|&p| shadowd::ports::listener::bind_shadow_port(p).is_ok())
                .take(n as usize)
                .collect();
            ensure!(free.len() == n as usize, "only {} ports of {} are free to hog", free.len(), w.block.real);
            free
        }
    };
    w.hogs.insert(s.name.clone(), PortHog::hold(ports)?);
    Ok(())
}

pub async fn release_ports(w: &mut World, hog: &str) -> Result<()> {
    w.hogs.remove(hog).map(drop).ok_or_else(|| anyhow!("no port hog {hog:?}"))
}

pub async fn break_cert(w: &mut World, s: &BreakCertStep) -> Result<()> {
    let dir = w.target.ssl_dir();
    write_tls(&w.ca, &dir, s.tls)
}

fn session_id(w: &World, name: Option<&str>) -> Result<Option<String>> {
    name.map(|n| w.session(n).map(|s| s.id.clone())).transpose()
}

pub async fn wait_event(w: &mut World, s: &WaitEventStep) -> Result<()> {
    let session = session_id(w, s.session.as_deref())?;
    let kind: shadowd::audit::EventKind = s.event.into();
    let matches = |e: &Event| {
        e.record.event == kind
            && session.as_ref().is_none_or(|id| &e.record.session == id)
            && s.admin.as_ref().is_none_or(|a| &e.record.admin == a)
            && s.reason.is_none_or(|r| e.record.reason == Some(r.into()))
            && s.error.is_none_or(|c| e.record.error == Some(c.into()))
    };
    let (ok, events) = w.recorder.wait_until(s.within.as_std(), |evs| evs.iter().any(matches)).await;
    ensure!(ok, "no {:?} event like that within {:?}; events so far: {}", s.event, s.within.as_std(), trace(&events));
    Ok(())
}

fn trace(events: &[Event]) -> String {
    let names: Vec<String> = events
        .iter()
        .map(|e| {
            let mut t = format!("{:?}", e.record.event).to_lowercase();
            if let Some(r) = e.record.reason {
                t.push_str(&format!("({r:?})").to_lowercase());
            }
            if let Some(c) = e.record.error {
                t.push_str(&format!("({c})"));
            }
            t
        })
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Whether `want` occurs in `got` in order (not necessarily adjacent).
fn is_subsequence<T: PartialEq>(want: &[T], got: &[T]) -> bool {
    let mut it = got.iter();
    want.iter().all(|w| it.any(|g| g == w))
}

pub async fn expect_events(w: &mut World, s: &ExpectEventsStep) -> Result<()> {
    let session = session_id(w, s.session.as_deref())?;
    let want: Vec<shadowd::audit::EventKind> = s.events.iter().map(|&k| k.into()).collect();
    let pick = |evs: &[Event]| -> Vec<shadowd::audit::EventKind> {
        evs.iter()
            .filter(|e| session.as_ref().is_none_or(|id| &e.record.session == id))
            .map(|e| e.record.event)
            .collect()
    };
    let check = |evs: &[Event]| {
        let got = pick(evs);
        match s.mode {
            EventMatch::Exact => got == want,
            EventMatch::Ordered => is_subsequence(&want, &got),
        }
    };
    let (ok, events) = w.recorder.wait_until(s.within.as_std(), check).await;
    let filtered: Vec<Event> =
        events.into_iter().filter(|e| session.as_ref().is_none_or(|id| &e.record.session == id)).collect();
    ensure!(ok, "expected events {:?} ({:?}), got: {}", s.events, s.mode, trace(&filtered));
    Ok(())
}

pub async fn http(w: &mut World, s: &HttpStep) -> Result<()> {
    let method = format!("{:?}", s.method).to_uppercase();
    let mut body = s.body.clone().unwrap_or_default().into_bytes();
    if let Some(size) = s.body_size {
        body = vec![b' '; size.0 as usize];
    }
    let (status, text) = if body.len() > 1024 * 1024 || !s.headers.is_empty() {
        let ct = s.content_type.as_deref().unwrap_or("application/json");
        w.director.raw_tcp_with_headers(&method, &s.path, ct, &s.headers, body).await?
    } else {
        w.director.raw(&method, &s.path, s.content_type.as_deref(), body).await?
    };
    if let Some(want) = s.expect_status {
        ensure!(status == want, "expected HTTP {want}, got {status}: {text}");
    }
    if let Some(code) = s.expect_error {
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("the error body is not JSON: {text:?}"))?;
        let want = shadowd::broker::ErrorCode::from(code).as_str();
        ensure!(v["error"] == want, "expected error {want}, got {text}");
        ensure!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "the error has no message: {text}");
    }
    if let Some(words) = &s.expect_body_contains {
        ensure!(text.contains(words.as_str()), "the body does not contain {words:?}: {text}");
    }
    // Whatever it was sent, the daemon must still serve.
    let health = w.director.healthz().await.context("the daemon stopped answering after the request")?;
    ensure!(health["status"] == "ok", "the daemon is unhealthy after the request: {health}");
    Ok(())
}

fn port_of(w: &World, client: Option<&str>, port: Option<u16>) -> Result<u16> {
    match (client, port) {
        (Some(c), _) => match w.requests.get(c) {
            Some(crate::runtime::world::Request::Done(Ok(g))) => Ok(g.port),
            _ => bail!("{c} holds no grant (expect it first)"),
        },
        (None, Some(p)) => Ok(w.block.map(p)),
        (None, None) => bail!("give `port_of` or `port`"),
    }
}

pub async fn raw_connect(w: &mut World, s: &RawConnectStep) -> Result<()> {
    let port = port_of(w, s.port_of.as_deref(), s.port)?;
    let addr = match s.address {
        Address::Ipv6 => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        _ => SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let within = s.within.as_std();
    let mut stream = match tokio::net::TcpStream::connect(addr).await {
        Ok(st) => st,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ensure!(s.expect == RawExpect::Refused, "connection to {addr} refused, expected {:?}", s.expect);
            return Ok(());
        }
        Err(e) => bail!("connecting to {addr}: {e}"),
    };
    ensure!(s.expect != RawExpect::Refused, "{addr} accepted a connection, expected it refused");
    // A raw RFB server talks first; a WebSocket endpoint waits.
    let mut unsolicited = vec![0u8; 64];
    let n = match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut unsolicited)).await {
        Ok(Ok(n)) => n,
        _ => 0,
    };
    unsolicited.truncate(n);
    ensure!(
        !unsolicited.starts_with(b"RFB"),
        "{addr} speaks raw RFB ({:?}) without a WebSocket handshake",
        String::from_utf8_lossy(&unsolicited)
    );
    let payload: Vec<u8> = match (&s.send, &s.send_hex) {
        (Some(t), _) => t.clone().into_bytes(),
        (None, Some(h)) => h.0.clone(),
        (None, None) if s.expect == RawExpect::WsOnly => {
            format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", crate::runtime::world::FQDN).into_bytes()
        }
        (None, None) => Vec::new(),
    };
    let _ = stream.write_all(&payload).await;
    let mut response = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    ensure!(!text.contains("RFB 00"), "{addr} answered with RFB outside a WebSocket: {text:?}");
    match s.expect {
        RawExpect::Closed => ensure!(read.is_ok(), "{addr} kept the connection open for {within:?} after garbage"),
        RawExpect::HttpError => {
            let status: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            ensure!(text.starts_with("HTTP/1.") && status >= 400, "expected an HTTP error from {addr}, got {text:?}")
        }
        RawExpect::WsOnly => {
            ensure!(
                text.is_empty() || text.starts_with("HTTP/1."),
                "{addr} answered something other than HTTP: {text:?}"
            )
        }
        RawExpect::Refused => unreachable!("handled above"),
    }
    let health = w.director.healthz().await.context("the daemon stopped answering")?;
    ensure!(health["status"] == "ok", "the daemon is unhealthy: {health}");
    Ok(())
}

/// Polls until `port` can be bound (a closed listener has no event to wait on).
async fn wait_free(port: u16, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if shadowd::ports::listener::bind_shadow_port(port).is_ok() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn expect_port_free(w: &mut World, s: &PortRefStep) -> Result<()> {
    let port = port_of(w, s.port_of.as_deref(), s.port)?;
    ensure!(wait_free(port, s.within.as_std()).await, "port {port} is still in use after {:?}", s.within.as_std());
    Ok(())
}

pub async fn expect_ports_free(w: &mut World, s: &PortsFreeStep) -> Result<()> {
    let deadline = tokio::time::Instant::now() + s.within.as_std();
    loop {
        let free = w.block.real.iter().filter(|&p| shadowd::ports::listener::bind_shadow_port(p).is_ok()).count();
        if free == s.count as usize {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{free} ports of {} are free, expected {}", w.block.real, s.count);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
