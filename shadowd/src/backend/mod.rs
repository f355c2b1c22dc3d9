//! Backends serve one granted shadow on its port: a WebSocket endpoint
//! speaking view-only RFB with the one-time password. `external` is the
//! seed's pipeline (websockify + x11vnc); `native` (in-process) comes later.
//!
//! The daemon hands a backend the already-bound listening socket; the
//! backend reports what happens on it as [`BackendEvent`]s and stops when
//! told, killing and reaping everything it started.

pub mod external;
pub mod native;
mod process;

use crate::audit::LogFile;
use crate::broker::{EndReason, ShadowId};
use crate::sessions::Session;
use crate::tls::TlsMaterial;
use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::pin::Pin;
use tokio::sync::mpsc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a backend needs to serve one shadow.
pub struct ShadowSpec {
    pub shadow: ShadowId,
    pub session: Session,
    pub port: u16,
    /// Bound and listening on every address family; owned by the backend
    /// from now on.
    pub listener: TcpListener,
    /// The one-time VNC password (8 characters: VNC auth uses no more).
    pub password: String,
    /// `Some` for `wss://`.
    pub tls: Option<TlsMaterial>,
    /// A private directory (0700) for files such as the password file.
    pub run_dir: PathBuf,
    pub log: LogFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendEvent {
    /// The admin's viewer authenticated.
    Connected,
    /// The shadow ended by itself.
    Ended(EndReason),
}

/// Where a backend reports events: (shadow, event).
pub type EventSink = mpsc::UnboundedSender<(ShadowId, BackendEvent)>;

pub trait Backend: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Starts serving; resolves when the port is ready for the admin.
    fn start(&self, spec: ShadowSpec, events: EventSink) -> BoxFuture<'_, Result<Box<dyn Running>, String>>;
}

/// A shadow being served.
pub trait Running: Send {
    /// Stops serving: closes the port, kills and reaps child processes.
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;
}
