//! Audit events: who asked to watch whom, what the user answered, when a
//! shadow connected and ended. The broker produces [`Record`]s (pure); the
//! [`AuditLog`] stamps them with a sequence number and wall-clock time,
//! appends them as JSON lines to the log file, keeps recent ones for replay,
//! and broadcasts them live to `GET /v1/events`.

pub mod log;

pub use log::{AuditLog, LogFile};

use crate::broker::{EndReason, ErrorCode, ShadowId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An admin asked to shadow a session.
    Requested,
    /// The request was refused before the user was asked (see `error`).
    Rejected,
    /// The consent dialog is on the user's screen.
    Prompted,
    Accepted,
    Denied,
    TimedOut,
    /// The admin's viewer connected and authenticated.
    Connected,
    /// A shadow was replaced by another admin's (`by`).
    TakenOver,
    /// A shadow ended (`reason`); its port is back in the pool.
    Ended,
}

/// What happened, without when (the broker has no clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub event: EventKind,
    pub session: String,
    pub admin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<EndReason>,
    /// The admin who took over (on `taken_over`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
}

impl Record {
    pub fn new(event: EventKind, session: &str, admin: &str) -> Self {
        Record {
            event,
            session: session.to_string(),
            admin: admin.to_string(),
            shadow: None,
            port: None,
            reason: None,
            by: None,
            error: None,
        }
    }
}

/// A record as logged and streamed: numbered and timed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    #[serde(flatten)]
    pub record: Record,
}
