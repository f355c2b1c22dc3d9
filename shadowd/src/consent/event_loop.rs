//! The dialog's own thread: X events, the countdown, cancellation.
//!
//! x11rb is blocking, so the dialog gets a std thread. It sleeps in poll(2)
//! on two fds: the X connection, and the thread's end of a socket pair whose
//! other end the [`Dialog`](super::Dialog) owns. Dropping the Dialog closes
//! that end, which makes ours readable (EOF): cancellation wakes the thread
//! at once, without a flag to check or a short timeout to spin on. The poll
//! timeout is the time until the countdown's next whole second, so the
//! thread wakes once a second to redraw and otherwise only for events.

use super::input::InputState;
use super::layout::Button;
use super::window::DialogWindow;
use super::Answer;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{Mapping, Visibility};
use x11rb::protocol::Event;

/// How the dialog ended, as the thread reports it.
pub(super) type Outcome = Result<Answer, String>;

/// Re-raising when obscured is rate limited: two windows that both insist
/// on being on top (a screen locker does) must not fight in a busy loop.
const RAISE_INTERVAL: Duration = Duration::from_millis(500);

enum End {
    Answer(Answer),
    /// The Dialog was dropped: nobody waits for an answer any more.
    Cancelled,
    Lost(String),
}

/// Runs the dialog to its end, closes the window, then reports. Closing
/// first means that whoever receives the answer can rely on the window
/// being gone already.
pub(super) fn run(
    mut ui: DialogWindow,
    deadline: Instant,
    cancel: UnixStream,
    report: tokio::sync::oneshot::Sender<Outcome>,
) {
    let end = drive(&mut ui, deadline, &cancel).unwrap_or_else(End::Lost);
    match end {
        End::Answer(answer) => {
            ui.close();
            tracing::debug!(?answer, window = ui.window, "consent dialog answered");
            let _ = report.send(Ok(answer));
        }
        End::Cancelled => ui.close(),
        End::Lost(reason) => {
            tracing::warn!(%reason, "consent dialog lost its display");
            ui.close();
            let _ = report.send(Err(reason));
        }
    }
}

/// Whole seconds left, rounded up: "Closing in 1 s" until the very end.
fn seconds_left(deadline: Instant, now: Instant) -> u64 {
    let left = deadline.saturating_duration_since(now);
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

struct State {
    input: InputState,
    /// Set at the first Expose: drawn and focused. Nothing is drawn before
    /// (the window is not viewable yet), and the focus is taken only after
    /// the first full drawing, so "has the focus" implies "is drawn".
    shown: bool,
    /// The second the countdown currently shows.
    countdown: Option<u64>,
    last_raise: Option<Instant>,
}

fn drive(ui: &mut DialogWindow, deadline: Instant, cancel: &UnixStream) -> Result<End, String> {
    let lost = |e: &dyn std::fmt::Display| format!("X connection failed: {e}");
    let mut st = State { input: InputState::default(), shown: false, countdown: None, last_raise: None };
    loop {
        // Every event already read, including ones buffered while waiting
        // for a reply, is handled before sleeping (see x11rb's
        // event_loop_integration notes on why the fd alone is not enough).
        while let Some(event) = ui.conn.poll_for_event().map_err(|e| lost(&e))? {
            if let Some(end) = handle(ui, &mut st, event, deadline).map_err(|e| lost(&e))? {
                return Ok(end);
            }
        }
        let now = Instant::now();
        let secs = seconds_left(deadline, now);
        if secs == 0 {
            return Ok(End::Answer(Answer::TimedOut));
        }
        if st.shown && st.countdown != Some(secs) {
            ui.draw_countdown(secs).map_err(|e| lost(&e))?;
            st.countdown = Some(secs);
        }
        ui.conn.flush().map_err(|e| lost(&e))?;
        // Until the displayed number changes: the remainder above secs-1.
        let until_tick = deadline.saturating_duration_since(now) - Duration::from_secs(secs - 1);
        if wait(ui, cancel, until_tick).map_err(|e| lost(&e))? {
            return Ok(End::Cancelled);
        }
    }
}

/// Sleeps until the X connection or the cancel socket is readable, or the
/// timeout passes. Returns whether the dialog was cancelled.
fn wait(ui: &DialogWindow, cancel: &UnixStream, timeout: Duration) -> nix::Result<bool> {
    // Rounded up so the thread never wakes just before the tick and spins.
    let ms = timeout.as_micros().div_ceil(1000).max(1);
    let timeout = PollTimeout::try_from(u32::try_from(ms).unwrap_or(u32::MAX)).unwrap_or(PollTimeout::MAX);
    let mut fds =
        [PollFd::new(ui.conn.stream().as_fd(), PollFlags::POLLIN), PollFd::new(cancel.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, timeout) {
        Ok(_) => Ok(fds[1].any().unwrap_or(false)),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

fn handle(ui: &mut DialogWindow, st: &mut State, event: Event, deadline: Instant) -> anyhow::Result<Option<End>> {
    let mine = ui.window;
    let answer = match event {
        Event::Expose(e) if e.window == mine && e.count == 0 => {
            let secs = seconds_left(deadline, Instant::now()).max(1);
            ui.draw_all(secs)?;
            st.countdown = Some(secs);
            if !st.shown {
                st.shown = true;
                ui.focus()?;
            }
            None
        }
        Event::KeyPress(e) if e.event == mine => {
            st.input.key_press(e.detail);
            None
        }
        Event::KeyRelease(e) if e.event == mine => st.input.key_release(e.detail, &ui.keymap),
        Event::ButtonPress(e) if e.event == mine => {
            let over: Option<Button> = ui.layout.button_at(e.event_x, e.event_y);
            st.input.button_press(e.detail, over);
            None
        }
        Event::ButtonRelease(e) if e.event == mine => {
            st.input.button_release(e.detail, ui.layout.button_at(e.event_x, e.event_y))
        }
        Event::VisibilityNotify(e) if e.window == mine && e.state != Visibility::UNOBSCURED => {
            let now = Instant::now();
            if st.last_raise.is_none_or(|t| now.duration_since(t) >= RAISE_INTERVAL) {
                st.last_raise = Some(now);
                ui.raise()?;
            }
            None
        }
        Event::MappingNotify(e) if e.request == Mapping::KEYBOARD => {
            ui.reload_keymap()?;
            None
        }
        // Someone else (xkill, a session manager) took the window away:
        // the user can no longer answer.
        Event::DestroyNotify(e) if e.window == mine => {
            return Ok(Some(End::Lost("the dialog window was destroyed by another client".into())));
        }
        Event::Error(e) => {
            // Drawing errors are not fatal; a lost connection shows up as an
            // error from poll_for_event instead.
            tracing::debug!(error = ?e, "X error in consent dialog");
            None
        }
        _ => None,
    };
    Ok(answer.map(End::Answer))
}

#[cfg(test)]
mod tests {
    use super::seconds_left;
    use std::time::{Duration, Instant};

    #[test]
    fn seconds_round_up_and_end_at_zero() {
        let now = Instant::now();
        assert_eq!(seconds_left(now + Duration::from_secs(20), now), 20);
        assert_eq!(seconds_left(now + Duration::from_millis(19_001), now), 20);
        assert_eq!(seconds_left(now + Duration::from_millis(1), now), 1);
        assert_eq!(seconds_left(now, now), 0);
        assert_eq!(seconds_left(now, now + Duration::from_secs(1)), 0);
    }
}
