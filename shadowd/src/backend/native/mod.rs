//! The native backend: one shadow served in-process — the daemon's own
//! listener, the WebSocket gateway (TLS, Origin, caps), the sans-IO RFB
//! server session, X11 capture driven by DAMAGE, and the encoders.
//!
//! Like x11vnc `-once`: the first viewer that authenticates is the admin;
//! when it leaves, the shadow ends. Connections that fail the handshake or
//! authentication are dropped and the shadow keeps waiting (up to
//! [`MAX_AUTH_FAILURES`], then it ends). While the admin watches, any other
//! connection is closed at once: one admin per session.

mod connection;

use super::{Backend, BackendEvent, BoxFuture, EventSink, Running, ShadowSpec};
use crate::broker::EndReason;
use crate::capture::Capture;
use crate::gateway::{self, GatewayPolicy, OriginPolicy};
use connection::{serve_connection, Outcome};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Failed authentications tolerated before the shadow is ended (the
/// password is 8 characters: don't offer unlimited guesses).
pub const MAX_AUTH_FAILURES: u32 = 3;
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Native {
    pub origins: OriginPolicy,
}

impl Backend for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn start(&self, spec: ShadowSpec, events: EventSink) -> BoxFuture<'_, Result<Box<dyn Running>, String>> {
        let origins = self.origins.clone();
        Box::pin(async move { start(spec, events, origins).await })
    }
}

async fn start(spec: ShadowSpec, events: EventSink, origins: OriginPolicy) -> Result<Box<dyn Running>, String> {
    let tls = match &spec.tls {
        Some(material) => Some(Arc::new(crate::tls::server_config(material).map_err(|e| e.to_string())?)),
        None => None,
    };
    let display = spec.session.display.clone();
    let xauth = spec.session.xauthority.clone();
    // Open the display now: an unreachable display fails the request
    // instead of the admin's connection later.
    let capture = tokio::task::spawn_blocking(move || Capture::open(&display, xauth.as_deref()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("native backend: {e}"))?;
    spec.listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::from_std(spec.listener).map_err(|e| e.to_string())?;
    let policy = GatewayPolicy { tls, origins, handshake_timeout: HANDSHAKE_TIMEOUT };
    let (stop_tx, stop_rx) = oneshot::channel::<oneshot::Sender<()>>();
    let name = format!("{} {}", spec.session.user, spec.session.display);
    let shadow = spec.shadow;
    let log = spec.log.clone();
    tokio::spawn(async move {
        let ack = tokio::select! {
            reason = serve(listener, policy, capture, spec.password, name, shadow, &events, &log) => {
                let _ = events.send((shadow, BackendEvent::Ended(reason)));
                None
            }
            ack = stop_rx => ack.ok(),
        };
        // The serving future (listener, connection, capture) is dropped by
        // now: the port is closed before stop() returns.
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    });
    Ok(Box::new(NativeShadow { stop: Some(stop_tx) }))
}

/// Accepts connections until the admin's session ends; returns why.
#[allow(clippy::too_many_arguments)]
async fn serve(
    listener: tokio::net::TcpListener,
    policy: GatewayPolicy,
    mut capture: Capture,
    password: String,
    name: String,
    shadow: u64,
    events: &EventSink,
    log: &crate::audit::LogFile,
) -> EndReason {
    let mut failures = 0;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                log.child_line("native", shadow, &format!("accept failed: {e}"));
                return EndReason::BackendExited;
            }
        };
        let ws = match gateway::accept(stream, &policy).await {
            Ok(ws) => ws,
            Err(e) => {
                log.child_line("native", shadow, &format!("{peer}: {e}"));
                continue;
            }
        };
        match serve_connection(ws, &listener, &mut capture, &password, &name, shadow, events, log).await {
            Outcome::Finished(reason) => return reason,
            Outcome::AuthFailed => {
                failures += 1;
                log.child_line("native", shadow, &format!("{peer}: authentication failed ({failures})"));
                if failures >= MAX_AUTH_FAILURES {
                    return EndReason::BackendExited;
                }
            }
            Outcome::Dropped(why) => log.child_line("native", shadow, &format!("{peer}: {why}")),
        }
    }
}

struct NativeShadow {
    stop: Option<oneshot::Sender<oneshot::Sender<()>>>,
}

impl Running for NativeShadow {
    fn stop(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        let stop = self.stop.take();
        Box::pin(async move {
            if let Some(stop) = stop {
                let (ack_tx, ack_rx) = oneshot::channel();
                if stop.send(ack_tx).is_ok() {
                    let _ = ack_rx.await;
                }
            }
        })
    }
}
