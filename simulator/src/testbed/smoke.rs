//! The host's own check of a testbed, through the container's published
//! ports: the harness on the host talks to shadowd inside as a Director
//! would — health, sessions, a shadow request that the user accepts (a
//! click in the container's Xvfb), then an RFB viewer on the mapped shadow
//! port that must receive exactly the session's picture. It is reported as
//! one more case of the distribution, `mapped-ports`.

use super::agent;
use super::container::{Testbed, BIN_DIR};
use crate::drivers::director::Director;
use crate::drivers::viewer::{Viewer, ViewerOptions};
use crate::report::{CaseResult, Status, StepResult};
use anyhow::{anyhow, bail, ensure, Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const CASE: &str = "mapped-ports";
const FILE: &str = "simulator/src/testbed/smoke.rs";
const DESCRIPTION: &str = "The host drives shadowd in the container through its published ports: API, consent, RFB";

/// The case as planned, for a distribution that cannot run it.
pub fn stub() -> super::CaseStub {
    super::CaseStub {
        name: CASE.into(),
        scenario: CASE.into(),
        file: FILE.into(),
        description: DESCRIPTION.into(),
        tags: vec!["testbed".into(), "smoke".into()],
        matrix: BTreeMap::new(),
    }
}

pub async fn check(tb: &Testbed) -> CaseResult {
    let started = Instant::now();
    let mut steps = Vec::new();
    let director = Director::new(&tb.api());
    let mut failed = None;
    let labels = ["GET /healthz", "GET /v1/sessions", "POST shadow + consent Yes", "RFB frame on the mapped port"];
    let mut grant = None;
    let mut session = String::new();
    for (i, label) in labels.iter().enumerate() {
        let t = Instant::now();
        let outcome: Result<()> = if failed.is_some() {
            Err(anyhow!("not run: an earlier step failed"))
        } else {
            match i {
                0 => director.healthz().await.map(|_| ()),
                1 => find_session(&director).await.map(|s| session = s),
                2 => request(tb, &director, &session).await.map(|g| grant = Some(g)),
                _ => frame(tb, grant.as_ref().expect("granted")).await,
            }
        };
        let status = match (&outcome, failed.is_some()) {
            (_, true) => Status::Skipped,
            (Ok(()), _) => Status::Passed,
            (Err(_), _) => Status::Failed,
        };
        let message = outcome.err().map(|e| format!("{e:#}"));
        if status == Status::Failed {
            failed = Some(format!("{label} (through {}) failed: {}", tb.api(), message.clone().unwrap_or_default()));
        }
        steps.push(StepResult {
            index: i + 1,
            line: 0,
            kind: "mapped-ports".into(),
            label: label.to_string(),
            status,
            duration_ms: t.elapsed().as_millis() as u64,
            message,
            screenshots: vec![],
        });
    }
    let status = if failed.is_some() { Status::Failed } else { Status::Passed };
    CaseResult {
        duration_ms: started.elapsed().as_millis() as u64,
        message: failed,
        steps,
        ..stub().result(status, String::new())
    }
}

async fn find_session(director: &Director) -> Result<String> {
    let sessions = director.sessions().await?;
    let first = sessions.first().ok_or_else(|| anyhow!("the daemon lists no session"))?;
    first["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("a session without an id: {first}"))
}

async fn request(tb: &Testbed, director: &Director, session: &str) -> Result<crate::drivers::director::Grant> {
    let d = director.clone();
    let s = session.to_string();
    let pending = tokio::spawn(async move { d.request_shadow(&s, r"CORP\testbed").await });
    let click = vec![
        format!("{BIN_DIR}/shadowsim"),
        "testbed".into(),
        "consent".into(),
        "--display".into(),
        tb.display.clone(),
    ];
    let out = tb.exec(&click, false).await?;
    ensure!(out.code == 0, "clicking Yes inside failed: {}", out.stderr.trim());
    let answer = tokio::time::timeout(Duration::from_secs(15), pending).await.context("no answer within 15 s")???;
    answer.map_err(|f| anyhow!("refused: {f}"))
}

/// The first full frame through the mapped port, then updates, until it
/// equals a fresh screenshot taken inside (the session's pattern with
/// shadowd's on-screen indicator over it), within 10 s.
async fn frame(tb: &Testbed, grant: &crate::drivers::director::Grant) -> Result<()> {
    let Some(&host_port) = tb.ports.get(&grant.port) else {
        bail!("granted port {} is not one of the published {:?}", grant.port, tb.ports.keys().collect::<Vec<_>>());
    };
    let mut opts = ViewerOptions::new(&grant.url, grant.password.clone());
    opts.connect_to = Some(([127, 0, 0, 1], host_port).into());
    let mut viewer = Viewer::connect(opts).await.with_context(|| format!("connecting to 127.0.0.1:{host_port}"))?;
    let within = Duration::from_secs(10);
    let deadline = Instant::now() + within;
    let mut got = viewer.full_frame(within).await.context("no full frame through the mapped port")?;
    loop {
        let expected = display_inside(tb).await?;
        // Both sides black would match too: the display must show the
        // pattern drawn, but for shadowd's indicator (a small corner).
        let pattern = agent::PATTERN.render(agent::SCREEN.0, agent::SCREEN.1);
        if let Some(p) = pattern.diff(&expected) {
            ensure!(
                p.differing_pixels <= expected.pixels.len() / 4,
                "the session inside does not show the pattern drawn on it ({p})"
            );
        }
        let Some(d) = got.diff(&expected) else { return Ok(()) };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "the frame received through 127.0.0.1:{host_port} is not the session's display after {within:?}: {d}"
            );
        }
        // No update in the slice is fine: compare again with a new picture.
        let _ = viewer.next_update(left.min(Duration::from_millis(500))).await;
        got = viewer.image();
    }
}

/// A screenshot of the session taken inside (`shadowsim testbed screenshot`).
async fn display_inside(tb: &Testbed) -> Result<crate::drivers::image::Image> {
    let dir = tb.shared_dir.as_ref().context("the testbed has no shared directory")?;
    let path = dir.join("mapped-ports-display.png");
    let argv = [
        format!("{BIN_DIR}/shadowsim"),
        "testbed".into(),
        "screenshot".into(),
        "--display".into(),
        tb.display.clone(),
        "--out".into(),
        path.display().to_string(),
    ];
    let out = tb.exec(&argv, false).await?;
    ensure!(out.code == 0, "taking a screenshot inside failed: {}", out.stderr.trim());
    let png = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    crate::drivers::browser::decode_png(&png)
}
