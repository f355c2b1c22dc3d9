//! The `browser` step: the web console in headless Chromium. The case's
//! browser starts on the first `browser` step (trusting the case's test CA
//! and resolving the FQDN to loopback, like a Director's browser would) and
//! lives until the case ends; each named window is one administrator.
//!
//! A step's parts run in a fixed order — open, click, try_input, expect
//! (phase, code, text), canvas, screenshot — and a failing step adds the page as it was
//! to the report, so a red case shows what the administrator saw.

use crate::drivers::browser::{Browser, BrowserOptions};
use crate::drivers::console::{self, Expected};
use crate::runtime::world::{World, FQDN};
use crate::scenario::{BrowserStep, ConsoleButton, ConsolePage};
use anyhow::{anyhow, Context, Result};
use fantoccini::wd::WindowHandle;
use std::collections::BTreeMap;

/// The case's browser and its windows by name.
pub struct Console {
    browser: Browser,
    windows: BTreeMap<String, WindowHandle>,
    current: String,
}

impl Console {
    pub async fn close(self) {
        self.browser.close().await;
    }
}

pub async fn browser(w: &mut World, s: &BrowserStep) -> Result<()> {
    if w.console.is_none() {
        let options =
            BrowserOptions { map_to_loopback: vec![FQDN.into()], trust: vec![w.ca.cert_pem()], ..Default::default() };
        let b = Browser::start(options).await.context("starting the browser for the console")?;
        let first = b.window().await?;
        w.console =
            Some(Console { browser: b, windows: BTreeMap::from([("main".into(), first)]), current: "main".into() });
    }
    select_window(w, s.window_name()).await?;
    let outcome = act(w, s).await;
    let label = format!("browser {}", s.window_name());
    let console = w.console.as_ref().expect("started above");
    match (&outcome, &s.screenshot) {
        (Ok(()), Some(name)) => {
            let png = console.browser.screenshot().await?;
            w.shots.push(crate::report::Screenshot { label: format!("{label}: {name}"), png });
        }
        (Err(_), _) => {
            if let Ok(png) = console.browser.screenshot().await {
                w.shots.push(crate::report::Screenshot { label: format!("{label} when the step failed"), png });
            }
        }
        (Ok(()), None) => {}
    }
    outcome
}

/// Makes `name` the current window, opening it (blank) if new.
async fn select_window(w: &mut World, name: &str) -> Result<()> {
    let c = w.console.as_mut().expect("started by the caller");
    if c.current == name {
        return Ok(());
    }
    let handle = match c.windows.get(name) {
        Some(h) => h.clone(),
        None => {
            let h = c.browser.new_window().await?;
            c.windows.insert(name.to_string(), h.clone());
            h
        }
    };
    c.browser.switch_to(&handle).await?;
    c.current = name.to_string();
    Ok(())
}

async fn act(w: &mut World, s: &BrowserStep) -> Result<()> {
    let within = s.within.as_std();
    let session_id = match &s.session {
        Some(name) => Some(w.session(name)?.id.clone()),
        None => None,
    };
    let api = w.target.api();
    let c = w.console.as_ref().expect("started by the caller");
    let b = &c.browser;
    if let Some(page) = s.open {
        let deep = match page {
            ConsolePage::Console => None,
            ConsolePage::Shadow => {
                Some(session_id.as_deref().ok_or_else(|| anyhow!("`open: shadow` needs `session`"))?)
            }
        };
        b.goto(&console::url(&api, FQDN, &console::path(deep, &s.admin_name()))?).await?;
        // Loaded means the sessions list has arrived (or said it is empty).
        b.wait_for("the console to list the sessions", within, || async {
            let rows = b.eval("return document.querySelectorAll('#sessions tbody tr').length", vec![]).await?;
            let empty = b.eval("return !document.querySelector('#empty').hidden", vec![]).await?;
            Ok((rows.as_u64().unwrap_or(0) > 0 || empty == true).then_some(()))
        })
        .await?;
    }
    match s.click {
        None => {}
        Some(ConsoleButton::Shadow) => {
            let id = session_id.as_deref().ok_or_else(|| anyhow!("`click: shadow` needs `session`"))?;
            b.click(&format!("{} button.shadow", console::row(id)), within).await?;
        }
        Some(ConsoleButton::Stop) => b.click("#stop", within).await?,
    }
    if let Some(text) = &s.try_input {
        try_input(w, text).await?;
    }
    let c = w.console.as_ref().expect("started by the caller");
    let b = &c.browser;
    if s.expect_phase.is_some() || s.expect_code.is_some() || s.expect_text.is_some() {
        let want = Expected {
            phase: s.expect_phase.map(|p| p.as_str()),
            code: s.expect_code.as_deref(),
            text: s.expect_text.as_deref(),
        };
        console::wait(b, &want, within).await?;
    }
    if s.expect_canvas_matches_display {
        let name = s.session.as_deref().ok_or_else(|| anyhow!("`expect_canvas_matches_display` needs `session`"))?;
        let x = w.session(name)?.xvfb()?;
        let result = console::wait_canvas_matches(b, s.tolerance, within, |_| x.screenshot()).await;
        if let Err(mismatch) = result {
            let images =
                [("the console's canvas", mismatch.canvas.as_ref()), ("the display", mismatch.expected.as_ref())];
            let shots: Vec<_> = images
                .into_iter()
                .filter_map(|(what, img)| img.map(|i| (format!("{what} ({name})"), i.to_png())))
                .collect();
            for (label, png) in shots {
                w.shots.push(crate::report::Screenshot { label, png });
            }
            return Err(anyhow!(mismatch.message));
        }
    }
    Ok(())
}

/// Clicks the viewer's canvas and types `text` into it. The sessions'
/// input probes are reset first: what `expect_no_input` counts is what
/// arrives from here on, not the consent clicker's own clicks.
async fn try_input(w: &mut World, text: &str) -> Result<()> {
    for session in w.sessions.values_mut() {
        if let Some(p) = session.probe.as_mut() {
            p.reset()?;
        }
    }
    let b = &w.console.as_ref().expect("started by the caller").browser;
    b.click(console::CANVAS, std::time::Duration::from_secs(5)).await?;
    b.type_into(console::CANVAS, text).await
}
