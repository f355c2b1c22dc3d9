//! Everything one case has running: its sessions, its daemon, the admins'
//! requests and viewers, port hogs, captured values. Built before the first
//! step, torn down after the last (also on failure: every driver cleans up
//! on drop, so nothing leaks into the next case).

use super::events::Recorder;
use super::ports::Block;
use super::target::Target;
use crate::drivers::certs::{CertProblem, CertSpec, Layout, TestCa};
use crate::drivers::director::{ApiFailure, Director, Grant};
use crate::drivers::fault::FaultProxy;
use crate::drivers::ports::PortHog;
use crate::drivers::viewer::Viewer;
use crate::drivers::xvfb::{InputProbe, Pattern, Xvfb};
use crate::report::Screenshot;
use crate::scenario::TlsSetup;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

pub const FQDN: &str = "vda1.shadow.test";

pub struct Session {
    /// None once the scenario closed it.
    pub x: Option<Xvfb>,
    pub probe: Option<InputProbe>,
    pub pattern: Pattern,
    /// The daemon's id for it (the display number).
    pub id: String,
}

impl Session {
    pub fn display(&self) -> Result<String> {
        self.x.as_ref().map(|x| x.display()).ok_or_else(|| anyhow!("the session was closed"))
    }

    pub fn xvfb(&self) -> Result<&Xvfb> {
        self.x.as_ref().ok_or_else(|| anyhow!("the session was closed"))
    }
}

pub enum Request {
    /// Asked for the daemon's session `session`; the task holds the HTTP call.
    Pending {
        session: String,
        task: tokio::task::JoinHandle<Result<std::result::Result<Grant, ApiFailure>>>,
    },
    Done(std::result::Result<Grant, ApiFailure>),
}

pub struct ViewerState {
    pub viewer: Viewer,
    pub proxy: FaultProxy,
    /// The client whose grant it used.
    pub client: String,
}

pub struct World {
    pub target: Box<dyn Target>,
    pub director: Director,
    pub recorder: Recorder,
    pub recorder_task: tokio::task::JoinHandle<()>,
    pub sessions: BTreeMap<String, Session>,
    pub requests: BTreeMap<String, Request>,
    pub viewers: BTreeMap<String, ViewerState>,
    pub hogs: BTreeMap<String, PortHog>,
    pub vars: BTreeMap<String, String>,
    pub block: Block,
    pub ca: TestCa,
    pub ssl_dir: tempfile::TempDir,
    /// Pictures taken by the current step, for the report.
    pub shots: Vec<Screenshot>,
    /// `undo` commands of `system` steps, run (last first) at teardown.
    pub undo: Vec<String>,
    /// The web console's browser, started by the first `browser` step.
    pub console: Option<super::steps::browser::Console>,
}

/// The certificate material a `tls` setting puts in the SSL dir.
pub fn cert_spec(tls: TlsSetup) -> Option<CertSpec> {
    let (problem, layout) = match tls {
        TlsSetup::Off => return None,
        TlsSetup::Valid => (CertProblem::Valid, Layout::Normal),
        TlsSetup::Expired => (CertProblem::Expired, Layout::Normal),
        TlsSetup::NotYetValid => (CertProblem::NotYetValid, Layout::Normal),
        TlsSetup::NoSan => (CertProblem::NoSan, Layout::Normal),
        TlsSetup::WrongName => (CertProblem::WrongName, Layout::Normal),
        TlsSetup::Wildcard => (CertProblem::Wildcard, Layout::Normal),
        TlsSetup::KeyMismatch => (CertProblem::KeyMismatch, Layout::Normal),
        TlsSetup::WeakSignature => (CertProblem::WeakSignature, Layout::Normal),
        TlsSetup::MissingKey => (CertProblem::Valid, Layout::MissingKey),
        TlsSetup::Misnamed => (CertProblem::Valid, Layout::Misnamed),
        TlsSetup::TwoCerts => (CertProblem::Valid, Layout::TwoCerts),
        TlsSetup::LooseKeyPermissions => (CertProblem::Valid, Layout::LooseKeyPermissions),
    };
    Some(CertSpec { problem, layout, ..Default::default() })
}

/// Replaces the SSL dir's contents with what `tls` describes.
pub fn write_tls(ca: &TestCa, dir: &Path, tls: TlsSetup) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    match cert_spec(tls) {
        None => std::fs::create_dir_all(dir).map_err(Into::into),
        Some(spec) => spec.write(ca, FQDN, dir, time::OffsetDateTime::now_utc()).map(|_| ()),
    }
}

impl World {
    pub fn session(&self, name: &str) -> Result<&Session> {
        self.sessions.get(name).ok_or_else(|| anyhow!("no session {name:?} in this case"))
    }

    pub fn session_mut(&mut self, name: &str) -> Result<&mut Session> {
        self.sessions.get_mut(name).ok_or_else(|| anyhow!("no session {name:?} in this case"))
    }

    /// The answer to `client`'s request, waiting for it if still pending.
    pub async fn answer(
        &mut self,
        client: &str,
        within: std::time::Duration,
    ) -> Result<&std::result::Result<Grant, ApiFailure>> {
        let entry = self.requests.get_mut(client).ok_or_else(|| anyhow!("{client} has made no request"))?;
        if let Request::Pending { task, .. } = entry {
            let answer = tokio::time::timeout(within, task)
                .await
                .map_err(|_| anyhow!("{client}'s request got no answer within {within:?}"))?
                .map_err(|e| anyhow!("{client}'s request task failed: {e}"))??;
            *entry = Request::Done(answer);
        }
        match entry {
            Request::Done(a) => Ok(a),
            Request::Pending { .. } => unreachable!("resolved above"),
        }
    }

    /// Requests for daemon session `session` that have already been
    /// refused, as "client: failure" lines. A step waiting for something
    /// the daemon will never do (a dialog after a refusal) says why with it.
    pub async fn refusals_for(&mut self, session: &str) -> Vec<String> {
        let finished: Vec<String> = self
            .requests
            .iter()
            .filter(|(_, r)| matches!(r, Request::Pending { session: s, task } if s == session && task.is_finished()))
            .map(|(client, _)| client.clone())
            .collect();
        let mut out = Vec::new();
        for client in finished {
            match self.answer(&client, std::time::Duration::from_secs(1)).await {
                Ok(Err(failure)) => out.push(format!("{client}: {failure}")),
                Ok(Ok(_)) => {}
                Err(e) => out.push(format!("{client}: {e:#}")),
            }
        }
        out
    }

    pub async fn grant(&mut self, client: &str, within: std::time::Duration) -> Result<Grant> {
        match self.answer(client, within).await? {
            Ok(g) => Ok(g.clone()),
            Err(f) => Err(anyhow!("{client} was not granted a shadow: {f}")),
        }
    }

    pub fn viewer(&mut self, name: &str) -> Result<&mut ViewerState> {
        self.viewers.get_mut(name).ok_or_else(|| anyhow!("no open viewer {name:?}"))
    }

    pub fn shot(&mut self, label: impl Into<String>, image: &crate::drivers::image::Image) {
        self.shots.push(Screenshot { label: label.into(), png: image.to_png() });
    }

    /// Stops everything: viewers, daemon (children with it), sessions.
    pub async fn teardown(mut self) {
        if let Some(console) = self.console.take() {
            console.close().await;
        }
        for (_, v) in std::mem::take(&mut self.viewers) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), v.viewer.close()).await;
        }
        for (_, r) in std::mem::take(&mut self.requests) {
            if let Request::Pending { task, .. } = r {
                task.abort();
            }
        }
        self.target.shutdown().await;
        for cmd in std::mem::take(&mut self.undo).into_iter().rev() {
            if let Err(e) = super::steps::system::shell(&cmd, self.block.real).await {
                eprintln!("shadowsim: undoing a system step failed: {e:#}");
            }
        }
        self.recorder_task.abort();
        self.sessions.clear();
        self.hogs.clear();
    }
}
