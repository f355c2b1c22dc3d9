//! The control API (JSON over HTTP) that the Director side calls, and the
//! web console at `/` (with noVNC from the distribution at `/novnc/`).
//! Handlers validate input, do the per-request reads (sessions, registry,
//! TLS material) and hand the rest to the daemon actor.

mod console;
mod error;
mod novnc;

pub use error::{status_of, ApiError};

use crate::broker::ErrorCode;
use crate::daemon::{record_refusal, DaemonHandle, Msg, ShadowGrant, ShadowRequest};
use crate::sessions;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, StreamExt};
use std::convert::Infallible;
use std::time::Duration;

/// Requests are tiny; anything bigger is refused before it is read whole.
pub const MAX_BODY: usize = 64 * 1024;
/// An admin name longer than this is not a name.
const MAX_ADMIN: usize = 256;

pub fn router(daemon: DaemonHandle) -> Router {
    let novnc = novnc::service(&daemon.config.novnc_dir);
    Router::new()
        .route("/", get(console::page))
        .route("/shadow/{session}", get(console::page))
        .route("/console/{file}", get(console::asset))
        .nest_service("/novnc", novnc)
        .route("/healthz", get(healthz))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{id}/shadow", post(request_shadow).delete(stop_shadow))
        .route("/v1/events", get(events))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint; see /v1/sessions") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(daemon)
}

async fn healthz(State(d): State<DaemonHandle>) -> Result<Json<serde_json::Value>, ApiError> {
    let free = d.ask(|reply| Msg::FreePorts { reply }).await?;
    Ok(Json(serde_json::json!({
        "status": "ok",
        "backend": d.backend_name,
        "ports": d.config.ports.to_string(),
        "free_ports": free,
        "fqdn": d.config.fqdn,
    })))
}

async fn list_sessions(State(d): State<DaemonHandle>) -> Result<Json<serde_json::Value>, ApiError> {
    let found = tokio::task::spawn_blocking(sessions::discover)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let shadows = d.ask(|reply| Msg::Shadows { reply }).await?;
    let policy = current_policy(&d);
    let list: Vec<serde_json::Value> = found
        .into_iter()
        .map(|s| {
            let mut v = serde_json::to_value(&s).expect("sessions serialize");
            v["shadow"] = serde_json::to_value(shadows.get(&s.id)).expect("views serialize");
            v
        })
        .collect();
    Ok(Json(serde_json::json!({ "sessions": list, "policy": policy })))
}

/// What a request made now would meet, for the console: whether shadowing
/// is on, how long the user has to answer (its countdown) and ws or wss.
/// Read per call like everything from the registry; `null` if it is broken
/// (a request would then say why).
fn current_policy(d: &DaemonHandle) -> serde_json::Value {
    match d.config.registry.load() {
        Ok(registry) => {
            let p = registry.policy();
            serde_json::json!({
                "enabled": p.enabled,
                "consent_timeout_secs": p.consent_timeout.as_secs(),
                "scheme": if registry.use_ssl() { "wss" } else { "ws" },
            })
        }
        Err(_) => serde_json::Value::Null,
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowBody {
    admin: String,
}

fn validate_admin(admin: &str) -> Result<(), ApiError> {
    let bad = |why: &str| Err(ApiError::new(ErrorCode::BadRequest, format!("\"admin\" {why}")));
    if admin.trim().is_empty() {
        return bad("must name the administrator, e.g. \"CORP\\\\anna\"");
    }
    if admin.chars().count() > MAX_ADMIN {
        return bad(&format!("is longer than {MAX_ADMIN} characters"));
    }
    if admin.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// JSON body errors, named: not JSON, wrong fields, too large.
fn body_error(rejection: JsonRejection) -> ApiError {
    use axum::http::StatusCode;
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::PayloadTooLarge, format!("request body larger than {MAX_BODY} bytes"));
    }
    let detail = match &rejection {
        JsonRejection::MissingJsonContentType(_) => "send Content-Type: application/json".to_string(),
        other => std::error::Error::source(other).map(|s| s.to_string()).unwrap_or_else(|| other.body_text()),
    };
    ApiError::new(
        ErrorCode::BadRequest,
        format!("invalid request body: {detail}; expected {{\"admin\": \"DOMAIN\\\\name\"}}"),
    )
}

async fn request_shadow(
    State(d): State<DaemonHandle>,
    Path(id): Path<String>,
    body: Result<Json<ShadowBody>, JsonRejection>,
) -> Result<Json<ShadowGrant>, ApiError> {
    let Json(body) = body.map_err(body_error)?;
    validate_admin(&body.admin)?;
    let admin = body.admin;
    let lookup = id.clone();
    let session = tokio::task::spawn_blocking(move || sessions::find(&lookup))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let Some(session) = session else {
        record_refusal(&d.audit, &id, &admin, ErrorCode::SessionNotFound);
        return Err(ApiError::new(ErrorCode::SessionNotFound, format!("no X session with id {id:?} on this host")));
    };
    // Read per request: a `shadowd reg update` applies without a restart.
    let registry = d.config.registry.load().map_err(|e| ApiError::new(ErrorCode::RegistryInvalid, e.to_string()))?;
    let policy = registry.policy();
    let tls = if registry.use_ssl() && policy.enabled {
        let now = time::OffsetDateTime::now_utc();
        match crate::tls::load(&d.config.ssl_dir, &d.config.fqdn, now) {
            Ok(m) => Some(m),
            Err(problem) => {
                record_refusal(&d.audit, &id, &admin, ErrorCode::TlsMisconfigured);
                return Err(ApiError::new(ErrorCode::TlsMisconfigured, problem.to_string()));
            }
        }
    } else {
        None
    };
    // A takeover reuses the current shadow's port, so only a session
    // without a shadow needs a free one.
    let ports = d.config.ports;
    let has_shadow = d.ask(|reply| Msg::Shadows { reply }).await?.get(&id).is_some_and(|v| v.port.is_some());
    let any_port = has_shadow
        || tokio::task::spawn_blocking(move || crate::ports::listener::any_bindable(ports)).await.unwrap_or(true);
    if policy.enabled && !any_port {
        record_refusal(&d.audit, &id, &admin, ErrorCode::NoFreePort);
        let msg = format!("no free port in {ports}: every port is held by a shadow or another process");
        return Err(ApiError::new(ErrorCode::NoFreePort, msg));
    }
    let result = d.ask(|reply| Msg::Request(ShadowRequest { session, admin, policy, tls, reply })).await?;
    Ok(Json(result?))
}

async fn stop_shadow(
    State(d): State<DaemonHandle>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reason = crate::broker::EndReason::Deleted;
    d.ask(|reply| Msg::Stop { session: id.clone(), reason, reply }).await??;
    Ok(Json(serde_json::json!({ "session": id, "stopped": true })))
}

#[derive(Debug, serde::Deserialize)]
struct EventsQuery {
    /// Replay events with a sequence number above this one first.
    since: Option<u64>,
}

/// Server-sent events: past events after `since` (or the `Last-Event-ID`
/// a reconnecting EventSource sends), then live ones.
async fn events(
    State(d): State<DaemonHandle>,
    Query(q): Query<EventsQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    let last_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let since = q.since.or(last_id).unwrap_or(u64::MAX);
    let (past, rx) = d.audit.subscribe(if since == u64::MAX { u64::MAX } else { since });
    let live = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(|e| async move { e.ok() });
    let mut closing = d.closing.clone();
    let closed = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    let all = stream::iter(past).chain(live).map(to_sse).take_until(closed);
    Sse::new(all).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

fn to_sse(e: crate::audit::Event) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().id(e.seq.to_string()).event("audit").json_data(&e).expect("events serialize"))
}
