//! [`Watcher`]: what changes on a display, delivered without polling.
//!
//! A thread with its own X connection sleeps in poll(2) on the X socket and
//! on a stop socket. X wakes it only when something happens (DamageNotify,
//! a root ConfigureNotify or RandR ScreenChangeNotify, XFIXES
//! CursorNotify), so an idle screen costs no CPU and no wake-ups. Events
//! are folded into one pending [`Changes`] (see `changes`) that an async
//! consumer takes with [`Watcher::next`] or, when it is ready to send,
//! [`Watcher::try_next`].
//!
//! Why DAMAGE's DeltaRectangles level: RawRectangles sends an event for
//! every drawing request even over area that is already dirty (a video or a
//! spinner floods us while the viewer is not even asking for updates);
//! NonEmpty sends one event but then needs DamageSubtract into a region plus
//! an XFIXES FetchRegion round trip to learn *where*. DeltaRectangles sends
//! the precise new rectangles, and nothing more for area already reported
//! until we re-arm with DamageSubtract, which costs no round trip: the
//! capture sends it on its own connection right before each grab, so the
//! server orders it before the grab (see [`super::Capture::watch`]).

use super::changes::Changes;
use super::display::{connect, cursor_image, has_extension, init_xfixes, root_size, x_err};
use super::error::CaptureError;
use super::geometry::{Rect, Size};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use x11rb::connection::Connection;
use x11rb::protocol::damage::{self, ConnectionExt as _, ReportLevel};
use x11rb::protocol::randr::{self, ConnectionExt as _, NotifyMask};
use x11rb::protocol::xfixes::{ConnectionExt as _, CursorNotifyMask};
use x11rb::protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt as _, EventMask, Window};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

/// Changes on one display, as they happen. Dropping it stops the thread
/// (it wakes on the stop socket closing) and frees its X resources.
pub struct Watcher {
    shared: Arc<Shared>,
    /// Our end of the stop socket: dropping it wakes the thread to exit.
    _stop: UnixStream,
    /// The capture's copy of our damage id, cleared when we go.
    damage_slot: Arc<AtomicU32>,
    damage: u32,
    cursor_events: bool,
}

struct Shared {
    display: String,
    state: Mutex<State>,
    notify: Notify,
}

struct State {
    pending: Changes,
    stopped: Option<String>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; should it ever, the state
        // (plain data) is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, batch: Changes) {
        self.lock().pending.absorb(batch);
        self.notify.notify_one();
    }

    fn stop(&self, reason: String) {
        self.lock().stopped = Some(reason);
        self.notify.notify_one();
    }
}

impl Watcher {
    /// Connects, subscribes to damage/size/cursor events on the root window
    /// and starts the thread. `damage_slot` receives the DAMAGE object's id
    /// for the capture to re-arm.
    pub(super) fn start(
        display: &str,
        xauthority: Option<&Path>,
        timeout: Duration,
        damage_slot: Arc<AtomicU32>,
    ) -> Result<Watcher, CaptureError> {
        let (conn, screen_num) = connect(display, xauthority, timeout)?;
        let root = conn.setup().roots[screen_num].root;
        let size = root_size(&conn, root, display)?;
        let (damage, cursor_events) = subscribe(&conn, root, display)?;
        // DamageCreate on a window reports the whole window at once (and,
        // at the DeltaRectangles level, nothing more until re-armed). The
        // round trips in `subscribe` have already brought that report in:
        // drop it. The consumer grabs in full first, which re-arms.
        while let Ok(Some(_)) = conn.poll_for_event() {}
        let (stop, thread_end) = UnixStream::pair().map_err(x_err(display, "socketpair for the watcher"))?;
        let shared = Arc::new(Shared {
            display: display.to_string(),
            state: Mutex::new(State { pending: Changes::new(size), stopped: None }),
            notify: Notify::new(),
        });
        damage_slot.store(damage, Ordering::Release);
        let thread_shared = Arc::clone(&shared);
        let thread_slot = Arc::clone(&damage_slot);
        std::thread::Builder::new()
            .name("shadowd-capture".into())
            .spawn(move || {
                let reason = run(&conn, root, size, &thread_end, &thread_shared);
                let _ = thread_slot.compare_exchange(damage, 0, Ordering::AcqRel, Ordering::Acquire);
                thread_shared.stop(reason);
            })
            .map_err(x_err(display, "starting the watcher thread"))?;
        Ok(Watcher { shared, _stop: stop, damage_slot, damage, cursor_events })
    }

    /// Waits until something changed and takes it. Cancel-safe: nothing is
    /// taken unless this returns. Fails once the watcher has stopped (the
    /// display went away) and everything pending was taken.
    pub async fn next(&self) -> Result<Changes, CaptureError> {
        loop {
            if let Some(changes) = self.try_next()? {
                return Ok(changes);
            }
            // A publish between the check above and this wait leaves a
            // permit in the Notify, so it is never missed.
            self.shared.notify.notified().await;
        }
    }

    /// Takes what changed so far, if anything, without waiting.
    pub fn try_next(&self) -> Result<Option<Changes>, CaptureError> {
        let mut state = self.shared.lock();
        if !state.pending.is_empty() {
            return Ok(Some(state.pending.take()));
        }
        match &state.stopped {
            Some(reason) => {
                Err(CaptureError::WatcherStopped { display: self.shared.display.clone(), reason: reason.clone() })
            }
            None => Ok(None),
        }
    }

    /// Whether cursor changes are reported (the server has XFIXES).
    pub fn cursor_events(&self) -> bool {
        self.cursor_events
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Only ours: a newer watcher's id must stay.
        let _ = self.damage_slot.compare_exchange(self.damage, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Creates the DAMAGE object and selects the events we need. Returns the
/// damage id and whether cursor events are available. DAMAGE is required;
/// RandR and XFIXES are used when present (a root ConfigureNotify also
/// reports resizes; without XFIXES there is no cursor).
fn subscribe(conn: &RustConnection, root: Window, display: &str) -> Result<(u32, bool), CaptureError> {
    if !has_extension(conn, damage::X11_EXTENSION_NAME, display)? {
        return Err(CaptureError::MissingExtension {
            display: display.to_string(),
            extension: "DAMAGE",
            needed_for: "change detection",
        });
    }
    conn.damage_query_version(1, 1)
        .map_err(x_err(display, "DamageQueryVersion"))?
        .reply()
        .map_err(x_err(display, "DamageQueryVersion"))?;
    let damage = conn.generate_id().map_err(x_err(display, "allocating an X id"))?;
    conn.damage_create(damage, root, ReportLevel::DELTA_RECTANGLES)
        .map_err(x_err(display, "DamageCreate"))?
        .check()
        .map_err(x_err(display, "DamageCreate"))?;
    conn.change_window_attributes(root, &ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY))
        .map_err(x_err(display, "selecting root StructureNotify"))?
        .check()
        .map_err(x_err(display, "selecting root StructureNotify"))?;
    if has_extension(conn, randr::X11_EXTENSION_NAME, display)? {
        conn.randr_query_version(1, 2)
            .map_err(x_err(display, "RRQueryVersion"))?
            .reply()
            .map_err(x_err(display, "RRQueryVersion"))?;
        conn.randr_select_input(root, NotifyMask::SCREEN_CHANGE)
            .map_err(x_err(display, "RRSelectInput"))?
            .check()
            .map_err(x_err(display, "RRSelectInput"))?;
    }
    let cursor_events = match init_xfixes(conn, display, "cursor updates") {
        Ok(()) => {
            conn.xfixes_select_cursor_input(root, CursorNotifyMask::DISPLAY_CURSOR)
                .map_err(x_err(display, "XFixesSelectCursorInput"))?
                .check()
                .map_err(x_err(display, "XFixesSelectCursorInput"))?;
            true
        }
        Err(CaptureError::MissingExtension { .. }) => false,
        Err(e) => return Err(e),
    };
    Ok((damage, cursor_events))
}

/// The thread: drain events, fold them, publish, sleep. Returns why it
/// ended.
fn run(conn: &RustConnection, root: Window, mut size: Size, stop: &UnixStream, shared: &Shared) -> String {
    let display = shared.display.as_str();
    let mut cursor_serial = 0u32;
    let mut hung_up = false;
    loop {
        let mut batch = Changes::new(size);
        let mut saw_events = false;
        let mut check_size = false;
        let mut cursor_changed = false;
        // x11rb may have queued events while we waited for a reply, where
        // poll(2) cannot see them: always drain before sleeping.
        loop {
            let event = match conn.poll_for_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => return format!("the X connection broke: {e}"),
            };
            saw_events = true;
            match event {
                Event::DamageNotify(e) => {
                    let a = e.area;
                    if let Some(r) = Rect::from_signed(a.x.into(), a.y.into(), a.width.into(), a.height.into(), size) {
                        batch.dirty.add(r);
                    }
                    // Each event carries the root's geometry: a free hint
                    // that the screen changed size.
                    check_size |= (e.geometry.width, e.geometry.height) != (size.width, size.height);
                }
                Event::ConfigureNotify(e) if e.window == root => {
                    check_size |= (e.width, e.height) != (size.width, size.height);
                }
                // Its width/height are swapped for rotated screens: ask the
                // root window instead.
                Event::RandrScreenChangeNotify(_) => check_size = true,
                Event::XfixesCursorNotify(e) => cursor_changed |= e.cursor_serial != cursor_serial,
                Event::Error(e) => {
                    tracing::debug!(display = %shared.display, error = ?e, "X error on the watcher connection")
                }
                _ => {}
            }
        }
        if !saw_events && hung_up {
            return "the X server closed the connection".into();
        }
        if check_size {
            match root_size(conn, root, display) {
                Ok(new) if new != size => {
                    size = new;
                    batch.resized = Some(new);
                    batch.dirty.resize(new);
                }
                Ok(_) => {}
                Err(e) => return e.to_string(),
            }
        }
        if cursor_changed {
            match cursor_image(conn, display) {
                Ok(image) => {
                    cursor_serial = image.serial;
                    batch.cursor = Some(image);
                }
                Err(e) => return e.to_string(),
            }
        }
        if !batch.is_empty() {
            shared.publish(batch);
        }
        if saw_events {
            continue;
        }
        match sleep(conn, stop) {
            Ok(Wake::X { hup }) => hung_up = hup,
            Ok(Wake::Stop) => return "stopped".into(),
            Err(e) => return format!("poll failed: {e}"),
        }
    }
}

enum Wake {
    X { hup: bool },
    Stop,
}

/// Sleeps until the X socket is readable (or closed) or the stop socket's
/// other end is dropped. No timeout: nothing to do until one of them wakes.
fn sleep(conn: &RustConnection, stop: &UnixStream) -> nix::Result<Wake> {
    let mut fds = [PollFd::new(conn.stream().as_fd(), PollFlags::POLLIN), PollFd::new(stop.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::NONE) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(Wake::X { hup: false }),
        Err(e) => return Err(e),
    }
    if fds[1].any().unwrap_or(true) {
        return Ok(Wake::Stop);
    }
    let hup = fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
    Ok(Wake::X { hup })
}
