//! Steps on the user's side: answering (or ignoring) the consent dialog,
//! checking the display was not touched, ending the session, and killing
//! processes out from under the daemon.

use crate::drivers::{consent, procs};
use crate::runtime::world::World;
use crate::scenario::{
    Answer, ConsentAction, ConsentKey, ConsentStep, KillStep, ProcessKind, SessionCheckStep, Signal,
};
use anyhow::{anyhow, bail, ensure, Result};
use std::time::Duration;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| anyhow!("blocking task failed: {e}"))?
}

pub async fn consent(w: &mut World, s: &ConsentStep) -> Result<()> {
    let display = w.session(&s.session)?.display()?;
    let within = s.within.as_std();
    let d = display.clone();
    let window = match blocking(move || consent::wait_for_dialog(&d, within)).await {
        Ok(window) => window,
        Err(e) => {
            // The usual reason no dialog came: the daemon refused the
            // request before asking; say so rather than only "no dialog".
            let id = w.session(&s.session)?.id.clone();
            let refused = w.refusals_for(&id).await;
            if refused.is_empty() {
                return Err(e);
            }
            return Err(anyhow!("{e:#}; the daemon had already refused the request ({})", refused.join("; ")));
        }
    };
    match s.action() {
        ConsentAction::Ignore => Ok(()),
        ConsentAction::Click(answer) => {
            let button = match answer {
                Answer::Yes => consent::ConsentButton::Yes,
                Answer::No => consent::ConsentButton::No,
            };
            let _ = window;
            blocking(move || consent::click(&display, button)).await
        }
        ConsentAction::Key(key) => {
            let name = match key {
                ConsentKey::Y => "y",
                ConsentKey::Return => "Return",
                ConsentKey::N => "n",
                ConsentKey::Escape => "Escape",
            };
            blocking(move || consent::press_key(&display, name)).await
        }
    }
}

pub async fn expect_display_unchanged(w: &mut World, s: &SessionCheckStep) -> Result<()> {
    if let Some(d) = s.duration {
        tokio::time::sleep(d.as_std()).await;
    }
    let session = w.session(&s.session)?;
    let x = session.xvfb()?;
    let shown = x.screenshot()?;
    let mut expected = session.pattern.render(x.width, x.height);
    crate::drivers::indicator::mask(&x.display(), &mut expected, &shown)?;
    if let Some(diff) = shown.diff(&expected) {
        w.shot(format!("display {} (now)", s.session), &shown);
        w.shot(format!("display {} (as drawn)", s.session), &expected);
        bail!("the display of {} changed: {diff}", s.session);
    }
    Ok(())
}

pub async fn expect_no_input(w: &mut World, s: &SessionCheckStep) -> Result<()> {
    let wait = s.duration.map(|d| d.as_std()).unwrap_or(Duration::from_millis(300));
    let session = w.session(&s.session)?;
    let probe = session.probe.as_ref().ok_or_else(|| anyhow!("no input probe on {}", s.session))?;
    let seen = probe.wait_for_input(wait)?;
    ensure!(seen.is_empty(), "the display of {} received input: {}", s.session, seen.join(", "));
    Ok(())
}

pub async fn user_stop(w: &mut World, name: &str) -> Result<()> {
    let display = w.session(name)?.display()?;
    blocking(move || crate::drivers::indicator::press_stop(&display, Duration::from_secs(5))).await
}

pub async fn close_session(w: &mut World, name: &str) -> Result<()> {
    let session = w.session_mut(name)?;
    session.probe = None;
    let mut x = session.x.take().ok_or_else(|| anyhow!("session {name} is already closed"))?;
    x.kill();
    Ok(())
}

pub async fn kill(w: &mut World, s: &KillStep) -> Result<()> {
    let signal = match s.signal {
        Signal::Term => nix::sys::signal::Signal::SIGTERM,
        Signal::Kill => nix::sys::signal::Signal::SIGKILL,
    };
    let pids: Vec<u32> = match s.process {
        ProcessKind::Shadowd => w.target.pid().into_iter().collect(),
        ProcessKind::Xserver => {
            let name = s.session.as_deref().ok_or_else(|| anyhow!("kill xserver needs `session`"))?;
            vec![w.session(name)?.xvfb()?.pid()]
        }
        ProcessKind::X11vnc => {
            let name = s.session.as_deref().ok_or_else(|| anyhow!("kill x11vnc needs `session`"))?;
            procs::x11vnc_for(&w.session(name)?.display()?).into_iter().map(|p| p.pid).collect()
        }
        ProcessKind::Websockify => {
            let parent = w.target.pid().ok_or_else(|| anyhow!("the daemon has no process to look under"))?;
            procs::websockify_under(parent).into_iter().map(|p| p.pid).collect()
        }
    };
    ensure!(!pids.is_empty(), "no {:?} process to kill", s.process);
    for pid in pids {
        procs::send(pid, signal)?;
    }
    Ok(())
}
