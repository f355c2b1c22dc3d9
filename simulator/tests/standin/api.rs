//! The stand-in's control API: the routes, bodies, error codes and statuses
//! of shadowd's (`shadowd/src/api`), so scenarios written for shadowd run
//! unchanged. Errors go through [`error`], where the error misbehaviours are.

use super::state::{GrantBody, Standin};
use super::Misbehaviour;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use shadowd::audit::EventKind;
use shadowd::broker::{ErrorCode, Refusal};
use shadowd::consent::{Answer, Dialog, DialogRequest};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// shadowd's body limit: anything bigger is `payload_too_large`.
const MAX_BODY: usize = 64 * 1024;

type S = State<Arc<Standin>>;

pub fn router(standin: Arc<Standin>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{id}/shadow", post(request_shadow).delete(stop_shadow))
        .route("/v1/events", get(events))
        .fallback(|State(s): S| async move { error(&s, Refusal::new(ErrorCode::NotFound, "no such endpoint")) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(standin)
}

/// A refusal as JSON, the way the misbehaviour wants it.
fn error(s: &Standin, r: Refusal) -> Response {
    let body = |code: &str, message: &str| Json(serde_json::json!({ "error": code, "message": message }));
    match s.misbehaviour {
        Misbehaviour::SloppyErrors => (StatusCode::INTERNAL_SERVER_ERROR, body("internal", "")).into_response(),
        Misbehaviour::WrongStatus => (StatusCode::BAD_REQUEST, body(r.code.as_str(), &r.message)).into_response(),
        _ => (shadowd::api::status_of(r.code), body(r.code.as_str(), &r.message)).into_response(),
    }
}

async fn healthz(State(s): S) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "backend": "standin",
        "ports": s.ports.to_string(),
        "free_ports": s.free_ports(),
        "fqdn": s.fqdn,
    }))
}

async fn list_sessions(State(s): S) -> Response {
    let Ok(found) = tokio::task::spawn_blocking(shadowd::sessions::discover).await else {
        return error(&s, Refusal::new(ErrorCode::Internal, "session discovery failed"));
    };
    let list: Vec<serde_json::Value> = found
        .into_iter()
        .map(|session| {
            let mut v = serde_json::to_value(&session).unwrap_or_default();
            v["shadow"] = s.shadow_view(&session.id);
            v
        })
        .collect();
    Json(serde_json::json!({ "sessions": list })).into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowBody {
    admin: String,
}

/// Names what was wrong with a body, as shadowd does (the scenarios check
/// for words like "EOF", "unknown field", "Content-Type").
fn body_error(rejection: JsonRejection) -> Refusal {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Refusal::new(ErrorCode::PayloadTooLarge, format!("request body larger than {MAX_BODY} bytes"));
    }
    let detail = match &rejection {
        JsonRejection::MissingJsonContentType(_) => "send Content-Type: application/json".to_string(),
        other => std::error::Error::source(other).map(|e| e.to_string()).unwrap_or_else(|| other.body_text()),
    };
    Refusal::new(ErrorCode::BadRequest, format!("invalid request body: {detail}"))
}

async fn request_shadow(
    State(s): S,
    Path(id): Path<String>,
    body: Result<Json<ShadowBody>, JsonRejection>,
) -> Response {
    match shadow(&s, id, body).await {
        Ok(grant) => Json(grant).into_response(),
        Err(r) => error(&s, r),
    }
}

async fn shadow(
    s: &Arc<Standin>,
    id: String,
    body: Result<Json<ShadowBody>, JsonRejection>,
) -> Result<GrantBody, Refusal> {
    let Json(ShadowBody { admin }) = body.map_err(body_error)?;
    if admin.trim().is_empty() || admin.chars().any(char::is_control) {
        return Err(Refusal::new(ErrorCode::BadRequest, "\"admin\" must name the administrator"));
    }
    let lookup = id.clone();
    let found = tokio::task::spawn_blocking(move || shadowd::sessions::find(&lookup))
        .await
        .map_err(|e| Refusal::new(ErrorCode::Internal, e.to_string()))?;
    let Some(session) = found else {
        s.record_refusal(&id, &admin, ErrorCode::SessionNotFound);
        return Err(Refusal::new(ErrorCode::SessionNotFound, format!("no X session with id {id:?} on this host")));
    };
    let _prompt = s.begin(&session.id, &admin)?;
    let answer = if s.is(Misbehaviour::GrantsWithoutConsent) {
        Answer::Yes
    } else {
        ask(s, &session.id, &session.display, &admin).await?
    };
    match answer {
        Answer::No => {
            s.record_answer(EventKind::Denied, &session.id, &admin);
            Err(Refusal::new(ErrorCode::ConsentDenied, "the user declined the shadowing request"))
        }
        Answer::TimedOut => {
            s.record_answer(EventKind::TimedOut, &session.id, &admin);
            Err(Refusal::new(ErrorCode::ConsentTimeout, "the user did not answer the consent dialog in time"))
        }
        Answer::Yes => {
            s.record_answer(EventKind::Accepted, &session.id, &admin);
            s.grant(&session.id, &admin, &session.display)
        }
    }
}

/// Shows shadowd's own consent dialog and waits for the user. If the
/// request is dropped meanwhile, so is the dialog (its window closes).
async fn ask(s: &Standin, session: &str, display: &str, admin: &str) -> Result<Answer, Refusal> {
    let req = DialogRequest {
        display: display.to_string(),
        xauthority: None,
        admin: admin.to_string(),
        timeout: s.consent_timeout(),
    };
    let opened = tokio::task::spawn_blocking(move || Dialog::open(req))
        .await
        .map_err(|e| Refusal::new(ErrorCode::Internal, e.to_string()))?;
    let mut dialog = opened.map_err(|e| {
        s.record_rejected(session, admin, ErrorCode::DisplayUnreachable);
        Refusal::new(ErrorCode::DisplayUnreachable, e.to_string())
    })?;
    if !s.is(Misbehaviour::WrongEventOrder) {
        s.record(EventKind::Prompted, session, admin);
    }
    Ok(dialog.answer().await)
}

async fn stop_shadow(State(s): S, Path(id): Path<String>) -> Response {
    match s.stop(&id) {
        Ok(()) => Json(serde_json::json!({ "session": id, "stopped": true })).into_response(),
        Err(r) => error(&s, r),
    }
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    since: Option<u64>,
}

/// Server-sent audit events: the past ones after `since`, then live ones,
/// until the stand-in shuts down.
async fn events(State(s): S, Query(q): Query<EventsQuery>) -> Response {
    let (past, rx) = s.audit.subscribe(q.since.unwrap_or(u64::MAX));
    let live = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let mut closing = s.closing.subscribe();
    let closed = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    let stream = futures_util::stream::iter(past).chain(live).map(to_sse).take_until(closed);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

fn to_sse(e: shadowd::audit::Event) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().id(e.seq.to_string()).event("audit").json_data(&e).expect("events serialize"))
}
