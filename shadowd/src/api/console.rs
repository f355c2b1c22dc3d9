//! The web console: one HTML page and a few ES modules, compiled into the
//! binary (no build step, nothing to install beside shadowd and noVNC).
//! `/` lists the sessions; `/shadow/{session}` is the same page, which
//! reads the session from its own path and focuses on it, so a Director
//! can link straight to one user.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Scripts only from this origin (the console and /novnc/); the viewer's
/// WebSocket may go to any host's ws/wss port, since a grant names the
/// FQDN and port, not this page's origin.
const CSP: &str = "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; \
                   img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// (name, content type, text) of each file under /console/.
const ASSETS: &[(&str, &str, &str)] = &[
    ("console.js", "text/javascript; charset=utf-8", include_str!("console/console.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("console/api.js")),
    ("messages.js", "text/javascript; charset=utf-8", include_str!("console/messages.js")),
    ("viewer.js", "text/javascript; charset=utf-8", include_str!("console/viewer.js")),
    ("console.css", "text/css; charset=utf-8", include_str!("console/console.css")),
];

pub async fn page() -> Response {
    let mut r =
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("console/index.html")).into_response();
    secure(&mut r);
    r
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, text)) => {
            let mut r = ([(header::CONTENT_TYPE, *content_type)], *text).into_response();
            secure(&mut r);
            r
        }
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

fn secure(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The page holds one-time passwords in memory only; never cache it stale
    // against a newer daemon.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::broker::{EndReason, ErrorCode};

    /// Every error code of the API; the match makes a new variant a compile
    /// error here, so the console cannot silently miss its sentence.
    fn every_error_code() -> Vec<ErrorCode> {
        use ErrorCode::*;
        let all = [
            ShadowingDisabled,
            SessionNotFound,
            ConsentDenied,
            ConsentTimeout,
            ConsentPending,
            NoFreePort,
            TlsMisconfigured,
            DisplayUnreachable,
            Superseded,
            BackendFailed,
            NoActiveShadow,
            BadRequest,
            NotFound,
            PayloadTooLarge,
            RegistryInvalid,
            Internal,
        ];
        for c in all {
            match c {
                ShadowingDisabled | SessionNotFound | ConsentDenied | ConsentTimeout | ConsentPending | NoFreePort
                | TlsMisconfigured | DisplayUnreachable | Superseded | BackendFailed | NoActiveShadow | BadRequest
                | NotFound | PayloadTooLarge | RegistryInvalid | Internal => {}
            }
        }
        all.to_vec()
    }

    fn every_end_reason() -> Vec<EndReason> {
        use EndReason::*;
        let all = [
            AdminDisconnected,
            Deleted,
            TakenOver,
            SessionEnded,
            NeverConnected,
            BackendExited,
            BackendFailed,
            StoppedByUser,
            Shutdown,
        ];
        for r in all {
            match r {
                AdminDisconnected | Deleted | TakenOver | SessionEnded | NeverConnected | BackendExited
                | BackendFailed | StoppedByUser | Shutdown => {}
            }
        }
        all.to_vec()
    }

    fn wire_name<T: serde::Serialize>(v: T) -> String {
        serde_json::to_value(v).unwrap().as_str().unwrap().to_string()
    }

    #[test]
    fn the_console_has_words_for_every_error_code_and_end_reason() {
        let messages = include_str!("console/messages.js");
        for code in every_error_code() {
            let name = wire_name(code);
            assert!(messages.contains(&format!("  {name}: ")), "messages.js has no sentence for error {name}");
        }
        for reason in every_end_reason() {
            let name = wire_name(reason);
            assert!(messages.contains(&format!("case '{name}':")), "messages.js has no sentence for end {name}");
        }
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        let page = include_str!("console/index.html");
        let mut wanted: Vec<&str> = vec![];
        for text in std::iter::once(page).chain(ASSETS.iter().map(|(_, _, t)| *t)) {
            for part in text.split("/console/").skip(1) {
                let name = part.split(['"', '\'', ')', ' ']).next().unwrap_or_default();
                wanted.push(name);
            }
            for part in text.split("from './").skip(1) {
                wanted.push(part.split('\'').next().unwrap_or_default());
            }
        }
        assert!(!wanted.is_empty());
        for name in wanted {
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name} is referenced but not served");
        }
    }
}
