//! Every API failure is `{"error": CODE, "message": …}` with a status that
//! fits the code; codes are the stable contract, messages are for humans.

use crate::broker::{ErrorCode, Refusal};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub struct ApiError(pub Refusal);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Refusal::new(code, message))
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError(r)
    }
}

pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        // A timeout is consent not given, like a No. Not 408: that status
        // means the *client* was too slow, and browsers (Chromium) resend
        // the request on it by themselves — which re-prompted the user
        // every 20 s for as long as the console page stayed open.
        ErrorCode::ShadowingDisabled | ErrorCode::ConsentDenied | ErrorCode::ConsentTimeout => StatusCode::FORBIDDEN,
        ErrorCode::SessionNotFound | ErrorCode::NoActiveShadow | ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::ConsentPending | ErrorCode::Superseded => StatusCode::CONFLICT,
        ErrorCode::NoFreePort => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::DisplayUnreachable | ErrorCode::BackendFailed => StatusCode::BAD_GATEWAY,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TlsMisconfigured | ErrorCode::RegistryInvalid | ErrorCode::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.0.code, "message": self.0.message });
        (status_of(self.0.code), Json(body)).into_response()
    }
}
