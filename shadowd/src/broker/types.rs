//! Vocabulary shared by the broker, the daemon and the API.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A session's id as the API shows it (the X display number, e.g. "3").
pub type SessionId = String;
/// An API request waiting for an answer, numbered by the daemon.
pub type RequestId = u64;
/// One shadow (one admin's connection to one session), numbered by the broker.
pub type ShadowId = u64;
/// One consent dialog, numbered by the broker.
pub type PromptId = u64;

/// The stable error codes of the control API (DESIGN.md, "The contract").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ShadowingDisabled,
    SessionNotFound,
    ConsentDenied,
    ConsentTimeout,
    ConsentPending,
    NoFreePort,
    TlsMisconfigured,
    DisplayUnreachable,
    /// The shadow was replaced by a newer request before it was ready.
    Superseded,
    /// The backend could not be started (x11vnc/websockify missing, crashed).
    BackendFailed,
    /// DELETE on a session that has no shadow.
    NoActiveShadow,
    BadRequest,
    NotFound,
    PayloadTooLarge,
    RegistryInvalid,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ShadowingDisabled => "shadowing_disabled",
            ErrorCode::SessionNotFound => "session_not_found",
            ErrorCode::ConsentDenied => "consent_denied",
            ErrorCode::ConsentTimeout => "consent_timeout",
            ErrorCode::ConsentPending => "consent_pending",
            ErrorCode::NoFreePort => "no_free_port",
            ErrorCode::TlsMisconfigured => "tls_misconfigured",
            ErrorCode::DisplayUnreachable => "display_unreachable",
            ErrorCode::Superseded => "superseded",
            ErrorCode::BackendFailed => "backend_failed",
            ErrorCode::NoActiveShadow => "no_active_shadow",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RegistryInvalid => "registry_invalid",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused or failed request: a stable code and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal { code, message: message.into() }
    }
}

/// What a granted request gets: the daemon adds host, scheme and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub shadow: ShadowId,
    pub port: u16,
}

/// The registry values that shape one request, read by the daemon per
/// request so that a change applies without a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPolicy {
    pub enabled: bool,
    pub consent_timeout: Duration,
}

/// The user's answer to the consent dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// The dialog's own countdown ran out (the broker's deadline may fire first).
    TimedOut,
}

/// Why a shadow ended; shown in the `ended` audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    AdminDisconnected,
    Deleted,
    TakenOver,
    SessionEnded,
    NeverConnected,
    BackendExited,
    BackendFailed,
    StoppedByUser,
    Shutdown,
}
