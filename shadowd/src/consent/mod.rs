//! The consent dialog on the user's own display (x11rb).
//!
//! Nothing is shown to an administrator before the user says Yes here.
//! The pieces:
//!
//! - [`layout`], [`text`], [`input`], [`xauth`]: pure (geometry and the
//!   countdown text, sanitising the administrator's name, keys and clicks to
//!   answers, the Xauthority file format). Unit tested; the harness's
//!   clicker uses `layout` and `input` too, so it clicks where the dialog
//!   hit-tests.
//! - [`connect`]: a bounded-time connection to a session's display with the
//!   session's own Xauthority.
//! - `window` (X requests: window, properties, drawing) and `event_loop`
//!   (the dialog's thread: events, countdown, cancellation).
//!
//! Invariants: the window is destroyed before an answer is reported; the
//! focus is taken only after the window's first full drawing; dropping the
//! [`Dialog`] closes the window; a failed [`Dialog::open`] leaves nothing on
//! the display (everything is created on one connection, and closing it
//! frees it all).

pub mod connect;
mod event_loop;
pub mod input;
pub mod layout;
pub mod text;
mod window;

/// The core fonts the dialog (and the indicator) try, in order.
pub fn window_fonts() -> &'static [&'static str] {
    window::FONT_CHAIN
}
pub mod xauth;

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const WM_CLASS: &str = "shadowd-consent";

/// How long [`Dialog::open`] may take to reach the display, so that a hung
/// X server fails the request instead of hanging it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest countdown honoured; a larger request is shortened to this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct DialogRequest {
    /// X display, e.g. ":3".
    pub display: String,
    /// The session's Xauthority file, when its X server uses one.
    pub xauthority: Option<PathBuf>,
    /// Who asks, shown to the user, e.g. `CORP\anna`.
    pub admin: String,
    /// Countdown shown; the dialog answers `TimedOut` when it reaches zero.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    TimedOut,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot show the consent dialog on {display}: {reason}")]
pub struct DialogError {
    pub display: String,
    pub reason: String,
}

/// A dialog on screen. Dropping it closes the window.
pub struct Dialog {
    display: String,
    window: u32,
    report: tokio::sync::oneshot::Receiver<event_loop::Outcome>,
    result: Option<Result<Answer, DialogError>>,
    /// Our end of the cancel socket pair: dropping it wakes the dialog's
    /// thread, which closes the window and exits.
    _cancel: UnixStream,
}

impl Dialog {
    /// Connects to the display, maps the window and takes focus. Fails fast
    /// (display unreachable) without leaving anything behind.
    ///
    /// Blocking for a few X round trips (at most [`CONNECT_TIMEOUT`] to
    /// connect); the dialog then runs on its own thread.
    pub fn open(req: DialogRequest) -> Result<Dialog, DialogError> {
        let fail = |reason: String| DialogError { display: req.display.clone(), reason };
        let deadline = Instant::now() + req.timeout.min(MAX_TIMEOUT);
        let (conn, screen) = connect::connect(&req.display, req.xauthority.as_deref(), CONNECT_TIMEOUT)
            .map_err(|e| fail(format!("{e:#}")))?;
        let admin = text::sanitize_admin(&req.admin);
        let title = format!("Shadowing request from {admin}");
        let ui = window::DialogWindow::create(conn, screen, &admin, &title).map_err(|e| fail(format!("{e:#}")))?;
        let window = ui.window;
        let (ours, theirs) = UnixStream::pair().map_err(|e| fail(format!("socketpair: {e}")))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // On spawn failure the closure, and with it the connection, is
        // dropped: the server destroys the window.
        std::thread::Builder::new()
            .name("consent-dialog".into())
            .spawn(move || event_loop::run(ui, deadline, theirs, tx))
            .map_err(|e| fail(format!("cannot start the dialog thread: {e}")))?;
        Ok(Dialog { display: req.display, window, report: rx, result: None, _cancel: ours })
    }

    /// The user's answer; `TimedOut` when the countdown ran out.
    ///
    /// If the dialog could not finish (the display went away, the window
    /// was destroyed by another client) this is `No`: consent is only ever
    /// a Yes the user gave. [`Dialog::outcome`] tells the cases apart.
    pub async fn answer(&mut self) -> Answer {
        self.outcome().await.unwrap_or(Answer::No)
    }

    /// The answer, or why the dialog ended without one. Can be awaited
    /// again after it completed (the result is kept).
    pub async fn outcome(&mut self) -> Result<Answer, DialogError> {
        // Cancel-safe: the receiver stays in place until it has completed,
        // so a `select!` that drops this future loses nothing.
        if self.result.is_none() {
            let reason = match (&mut self.report).await {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(r)) => Err(r),
                Err(_) => Err("the dialog thread ended without an answer".to_string()),
            };
            self.result = Some(reason.map_err(|reason| DialogError { display: self.display.clone(), reason }));
        }
        self.result.clone().expect("set above")
    }

    /// Closes the window and returns once the X server has destroyed it, so
    /// that whoever hears "the request is over" next can rely on the user's
    /// screen being clear (the broker's deadline can run out a moment before
    /// the dialog's own countdown does).
    pub async fn close(self) {
        let Dialog { report, _cancel, .. } = self;
        drop(_cancel);
        // The thread drops its sender only after `close` has synced with the
        // server; an answer that raced us is of no interest any more.
        let _ = report.await;
    }

    /// The dialog's X window id (for logs and the harness).
    pub fn window(&self) -> u32 {
        self.window
    }

    pub fn display(&self) -> &str {
        &self.display
    }
}
