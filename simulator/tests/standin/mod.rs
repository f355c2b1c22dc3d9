//! A small in-process stand-in for shadowd, for the harness's self-tests.
//!
//! It keeps the black-box contract the runner relies on (control API,
//! audit event stream, consent through the real dialog, a view-only RFB
//! stream over WebSocket on a port from the range), and can break it in one
//! chosen way ([`Misbehaviour`]). Running a scenario against it with and
//! without that misbehaviour shows that the scenario's assertion catches
//! exactly that wrong, and only that: the self-tests never need a backdoor
//! in shadowd itself.
//!
//! Map: `state` (sessions, shadows, port leases, audit; every decision),
//! `api` (axum routes), `port` (a shadow port's accept loop and one
//! viewer's RFB session), `screen` (X: capture, XTEST, a stray window).
//! Everything shadowd-shaped that can be reused is: the consent dialog,
//! the port binding, the WebSocket gateway, the sans-IO RFB server, the
//! audit log, the error codes and their HTTP statuses.

mod api;
mod port;
mod screen;
mod state;

use anyhow::{Context, Result};
use simulator::drivers::daemon::DaemonOptions;
use simulator::runtime::target::{BoxFuture, Launcher, Target};
use state::Standin;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One way to break the contract. Each one is caught by (at least) one kind
/// of assertion step; `None` keeps the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    None,
    /// Grants without showing the consent dialog (`expect`, `consent`).
    GrantsWithoutConsent,
    /// Injects the viewer's keys and pointer into the display (`expect_no_input`).
    ForwardsInput,
    /// Reports `ended` but keeps the shadow's port bound (`expect_port_free`).
    LeaksPort,
    /// Never ends a shadow whose admin does not connect (`expect_ports_free`).
    NeverFreesOnExpiry,
    /// Flips some pixels of every frame it sends (`expect_frame`).
    WrongFrame,
    /// On takeover, leaves the first admin's viewer connected (`expect_disconnect`).
    NoTakeoverDisconnect,
    /// Hangs up on the viewer shortly after it logged in (`expect_connected`).
    DropsViewer,
    /// Never records `connected` (`wait_event`).
    MissingEvent,
    /// Records `accepted` before `prompted` (`expect_events`).
    WrongEventOrder,
    /// Greets with raw RFB on the shadow port, before any HTTP (`raw_connect`).
    RawRfbOnPort,
    /// Every error is `500 internal` with no message (`http`, `stop`, `expect`).
    SloppyErrors,
    /// Right error codes with the wrong HTTP status (`expect` with `status`).
    WrongStatus,
    /// Grants `wss://` while serving plain WebSocket (`expect` with `scheme`).
    WrongScheme,
    /// Leaves a window on the user's display while shadowing (`expect_display_unchanged`).
    DrawsOnDisplay,
    /// Lets in any VNC password (`connect` with `expect_error: auth_failed`).
    AcceptsAnyPassword,
}

/// Starts a [`StandinTarget`] per case, all with the same misbehaviour.
pub struct StandinLauncher {
    pub misbehaviour: Misbehaviour,
}

impl Launcher for StandinLauncher {
    fn launch(&self, options: DaemonOptions) -> BoxFuture<'_, Result<Box<dyn Target>>> {
        let misbehaviour = self.misbehaviour;
        Box::pin(async move { Ok(Box::new(StandinTarget::start(misbehaviour, options).await?) as Box<dyn Target>) })
    }
}

/// A running stand-in: its API on a loopback port, its log in a temp dir.
pub struct StandinTarget {
    standin: Arc<Standin>,
    api: String,
    server: tokio::task::JoinHandle<()>,
    ssl_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl StandinTarget {
    pub async fn start(misbehaviour: Misbehaviour, options: DaemonOptions) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("shadowd-standin-").tempdir()?;
        let log = shadowd::audit::LogFile::open(&dir.path().join("vda.log"))?;
        let ports = options.port_range.parse().map_err(anyhow::Error::msg).context("--port-range")?;
        let registry: BTreeMap<String, u32> = options.registry.iter().cloned().collect();
        let standin = Arc::new(Standin::new(
            misbehaviour,
            options.fqdn.clone(),
            ports,
            options.connect_grace,
            registry,
            shadowd::audit::AuditLog::new(log),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = format!("http://{}", listener.local_addr()?);
        let router = api::router(standin.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let ssl_dir = options.ssl_dir.clone().unwrap_or_else(|| dir.path().join("shadowingssl"));
        Ok(StandinTarget { standin, api, server, ssl_dir, _dir: dir })
    }
}

impl Target for StandinTarget {
    fn api(&self) -> String {
        self.api.clone()
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn reg_set(&self, name: &str, value: u32) -> Result<()> {
        self.standin.registry_set(name, Some(value));
        Ok(())
    }

    fn reg_unset(&self, name: &str) -> Result<()> {
        self.standin.registry_set(name, None);
        Ok(())
    }

    fn ssl_dir(&self) -> PathBuf {
        self.ssl_dir.clone()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.standin.audit.log_file().path()).unwrap_or_default()
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.server.abort();
            self.standin.shutdown();
        })
    }
}
