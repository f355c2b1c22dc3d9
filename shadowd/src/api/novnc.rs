//! `/novnc/...`: noVNC as the distribution installed it (Debian's `novnc`
//! puts it in /usr/share/novnc), so the console's viewer is whatever the
//! host's package manager keeps patched — none of noVNC is copied into
//! shadowd.
//!
//! tower-http's `ServeDir` maps the path onto the folder: it decodes
//! percent-escapes first and then refuses any `..`, root or prefix
//! component, so no request reaches a file outside `--novnc-dir`
//! (tests/console_static.rs tries the usual tricks against the binary).

use super::ApiError;
use crate::broker::ErrorCode;
use axum::handler::HandlerWithoutStateExt;
use axum::routing::{get_service, MethodRouter};
use std::path::Path;
use tower_http::services::ServeDir;

/// The service to nest at `/novnc`. A missing file is a JSON 404 that says
/// where shadowd looked, which also covers noVNC not being installed.
/// Only GET and HEAD: anything else is 405.
pub fn service(dir: &Path) -> MethodRouter {
    let dir_for_404 = dir.to_path_buf();
    let not_found = move || {
        let dir = dir_for_404.clone();
        async move { not_found(&dir) }
    };
    get_service(ServeDir::new(dir).append_index_html_on_directories(false).not_found_service(not_found.into_service()))
}

fn not_found(dir: &Path) -> ApiError {
    let message = if dir.join("core/rfb.js").is_file() {
        format!("no such file in noVNC ({})", dir.display())
    } else {
        format!(
            "noVNC is not installed at {}: install the distribution's package (Debian: apt-get install novnc) \
             or pass --novnc-dir",
            dir.display()
        )
    };
    ApiError::new(ErrorCode::NotFound, message)
}
