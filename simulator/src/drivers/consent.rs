//! The consent clicker: finds shadowd's consent dialog on a display and
//! answers it the way a user would, through the X server (XTEST), never by
//! talking to the daemon.
//!
//! Where to click comes from `shadowd::consent::layout`, the same code the
//! dialog hit-tests with, given only the window's size as the server reports
//! it; which keycode to press comes from the server's keyboard map. Waiting
//! is event driven: the clicker selects SubstructureNotify on the root (or
//! FocusChange on the dialog) and sleeps in poll(2) on the connection until
//! something happens or the timeout passes.

use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use shadowd::consent::input::{keysym_by_name, Keymap};
use shadowd::consent::layout::{Buttons, Rect};
use shadowd::consent::WM_CLASS;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::errors::ReplyError;
use x11rb::protocol::xproto::{self, AtomEnum, ChangeWindowAttributesAux, ConnectionExt as _, EventMask, MapState};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// The dialog's buttons, as the dialog itself names them.
pub use shadowd::consent::layout::Button as ConsentButton;

/// How long `click` and `press_key` wait for a dialog (and its focus)
/// before giving up: they are usually called right after a request.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// A mapped consent dialog as the X server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentWindow {
    pub window: u32,
    /// Absolute position of the window's inside on the screen.
    pub x: i16,
    pub y: i16,
    pub width: u16,
    pub height: u16,
    /// `_NET_WM_NAME` if set, else `WM_NAME`.
    pub title: String,
}

impl ConsentWindow {
    /// The window's rectangle in screen coordinates.
    pub fn rect(&self) -> Rect {
        Rect { x: self.x, y: self.y, width: self.width, height: self.height }
    }

    /// Where a button is on screen, from the window size alone.
    pub fn button_rect(&self, which: ConsentButton) -> Rect {
        let r = Buttons::for_window(self.width, self.height).rect(which);
        Rect { x: self.x.saturating_add(r.x), y: self.y.saturating_add(r.y), ..r }
    }

    /// The centre of a button in screen coordinates.
    pub fn button_centre(&self, which: ConsentButton) -> (i16, i16) {
        self.button_rect(which).centre()
    }
}

/// Every mapped top-level window whose WM_CLASS is shadowd's.
pub fn find_dialogs(display: &str) -> Result<Vec<ConsentWindow>> {
    let x = Display::connect(display)?;
    x.dialogs()
}

/// Waits until a consent dialog is mapped and returns it. More than one is
/// an error (the daemon must never show two).
pub fn wait_for_dialog(display: &str, timeout: Duration) -> Result<ConsentWindow> {
    let deadline = Instant::now() + timeout;
    let x = Display::connect(display)?;
    // Select before looking, so a dialog mapped in between is not missed.
    x.watch_root()?;
    loop {
        let mut found = x.dialogs()?;
        match found.len() {
            0 => {}
            1 => return Ok(found.remove(0)),
            n => bail!("{n} consent dialogs are mapped on {display}: {found:?}"),
        }
        if !x.wait_for(deadline, |e| matches!(e, Event::MapNotify(_) | Event::PropertyNotify(_)))? {
            bail!("no consent dialog (WM_CLASS {WM_CLASS}) appeared on {display} within {timeout:?}");
        }
    }
}

/// Waits until the consent dialog holds the input focus (the dialog takes
/// it after its first full drawing, so this also means "drawn").
pub fn wait_for_focus(display: &str, timeout: Duration) -> Result<ConsentWindow> {
    let deadline = Instant::now() + timeout;
    let dialog = wait_for_dialog(display, timeout)?;
    let x = Display::connect(display)?;
    x.conn
        .change_window_attributes(dialog.window, &ChangeWindowAttributesAux::new().event_mask(EventMask::FOCUS_CHANGE))?
        .check()
        .context("the consent dialog vanished before it took the focus")?;
    loop {
        let focus = x.conn.get_input_focus()?.reply()?.focus;
        if focus == dialog.window {
            return Ok(dialog);
        }
        if !x.wait_for(deadline, |e| matches!(e, Event::FocusIn(_) | Event::DestroyNotify(_)))? {
            bail!(
                "the consent dialog 0x{:x} on {display} did not take the input focus within {timeout:?} \
                 (focus is 0x{focus:x})",
                dialog.window
            );
        }
    }
}

/// Clicks a button of the dialog: pointer to its centre, button 1 down and
/// up, all through XTEST.
pub fn click(display: &str, which: ConsentButton) -> Result<()> {
    let dialog = wait_for_dialog(display, DEFAULT_WAIT)?;
    let (x, y) = dialog.button_centre(which);
    click_at(display, x, y)
}

/// Clicks button 1 at screen coordinates (x, y) through XTEST.
pub fn click_at(display: &str, x: i16, y: i16) -> Result<()> {
    let d = Display::connect(display)?;
    let c = &d.conn;
    c.xtest_fake_input(xproto::MOTION_NOTIFY_EVENT, 0, x11rb::CURRENT_TIME, d.root, x, y, 0)?;
    c.xtest_fake_input(xproto::BUTTON_PRESS_EVENT, 1, x11rb::CURRENT_TIME, d.root, 0, 0, 0)?;
    c.xtest_fake_input(xproto::BUTTON_RELEASE_EVENT, 1, x11rb::CURRENT_TIME, d.root, 0, 0, 0)?;
    c.sync()?;
    Ok(())
}

/// Presses and releases a key (by keysym name: "y", "n", "Return",
/// "Escape", or any single Latin-1 character) through XTEST, once the
/// dialog holds the focus, so the key cannot land in another window. No
/// modifiers are pressed.
pub fn press_key(display: &str, key: &str) -> Result<()> {
    let sym = keysym_by_name(key).ok_or_else(|| anyhow!("unknown key name {key:?}"))?;
    wait_for_focus(display, DEFAULT_WAIT)?;
    let d = Display::connect(display)?;
    let keymap = d.keymap()?;
    let keycode =
        keymap.keycode_for(sym).ok_or_else(|| anyhow!("no key types {key:?} (keysym 0x{sym:x}) on {display}"))?;
    let c = &d.conn;
    c.xtest_fake_input(xproto::KEY_PRESS_EVENT, keycode, x11rb::CURRENT_TIME, d.root, 0, 0, 0)?;
    c.xtest_fake_input(xproto::KEY_RELEASE_EVENT, keycode, x11rb::CURRENT_TIME, d.root, 0, 0, 0)?;
    c.sync()?;
    Ok(())
}

/// Waits until no consent dialog is mapped.
pub fn wait_closed(display: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let x = Display::connect(display)?;
    x.watch_root()?;
    loop {
        let left = x.dialogs()?;
        if left.is_empty() {
            return Ok(());
        }
        if !x.wait_for(deadline, |e| matches!(e, Event::UnmapNotify(_) | Event::DestroyNotify(_)))? {
            bail!("consent dialog still on {display} after {timeout:?}: {left:?}");
        }
    }
}

/// Mapped top-level windows of any WM_CLASS (e.g. shadowd's indicator).
pub fn find_windows(display: &str, class: &str) -> Result<Vec<ConsentWindow>> {
    Display::connect(display)?.windows(class)
}

/// One connection to the display under test.
struct Display {
    conn: RustConnection,
    root: u32,
    name: String,
}

impl Display {
    fn connect(display: &str) -> Result<Display> {
        let (conn, screen) =
            RustConnection::connect(Some(display)).with_context(|| format!("cannot connect to X display {display}"))?;
        let root = conn.setup().roots[screen].root;
        Ok(Display { conn, root, name: display.to_string() })
    }

    /// Root SubstructureNotify: map, unmap and destroy of top-level windows.
    fn watch_root(&self) -> Result<()> {
        self.conn
            .change_window_attributes(
                self.root,
                &ChangeWindowAttributesAux::new().event_mask(EventMask::SUBSTRUCTURE_NOTIFY),
            )?
            .check()
            .with_context(|| format!("selecting SubstructureNotify on the root of {}", self.name))?;
        Ok(())
    }

    fn dialogs(&self) -> Result<Vec<ConsentWindow>> {
        self.windows(WM_CLASS)
    }

    /// Mapped top-level windows whose WM_CLASS names `class`.
    fn windows(&self, class: &str) -> Result<Vec<ConsentWindow>> {
        let tree = self.conn.query_tree(self.root)?.reply()?;
        let mut found = Vec::new();
        for w in tree.children {
            // A window may vanish between QueryTree and our look at it.
            match self.inspect(w, class) {
                Ok(Some(d)) => found.push(d),
                Ok(None) => {}
                Err(ReplyError::X11Error(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(found)
    }

    fn inspect(&self, window: u32, wanted: &str) -> Result<Option<ConsentWindow>, ReplyError> {
        let attrs = self.conn.get_window_attributes(window)?.reply()?;
        if attrs.map_state != MapState::VIEWABLE {
            return Ok(None);
        }
        let class = self.conn.get_property(false, window, AtomEnum::WM_CLASS, AtomEnum::STRING, 0, 256)?.reply()?.value;
        // "instance\0class\0": either part naming shadowd's dialog counts.
        if !class.split(|b| *b == 0).any(|part| part == wanted.as_bytes()) {
            return Ok(None);
        }
        let geo = self.conn.get_geometry(window)?.reply()?;
        let abs = self.conn.translate_coordinates(window, self.root, 0, 0)?.reply()?;
        Ok(Some(ConsentWindow {
            window,
            x: abs.dst_x,
            y: abs.dst_y,
            width: geo.width,
            height: geo.height,
            title: self.title(window)?,
        }))
    }

    fn title(&self, window: u32) -> Result<String, ReplyError> {
        let net_wm_name = self.conn.intern_atom(false, b"_NET_WM_NAME")?.reply()?.atom;
        let utf8 = self.conn.intern_atom(false, b"UTF8_STRING")?.reply()?.atom;
        let net = self.conn.get_property(false, window, net_wm_name, utf8, 0, 1024)?.reply()?;
        if !net.value.is_empty() {
            return Ok(String::from_utf8_lossy(&net.value).into_owned());
        }
        let name = self.conn.get_property(false, window, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 1024)?.reply()?;
        // STRING is Latin-1: every byte is the code point of the same value.
        Ok(name.value.iter().map(|b| char::from(*b)).collect())
    }

    fn keymap(&self) -> Result<Keymap> {
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let reply = self.conn.get_keyboard_mapping(min, max - min + 1)?.reply()?;
        Ok(Keymap::new(min, reply.keysyms_per_keycode, reply.keysyms))
    }

    /// Sleeps until an event matching `wanted` arrives (true) or the
    /// deadline passes (false). Other events are dropped.
    fn wait_for(&self, deadline: Instant, wanted: impl Fn(&Event) -> bool) -> Result<bool> {
        loop {
            while let Some(event) = self.conn.poll_for_event()? {
                if wanted(&event) {
                    return Ok(true);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let ms = u32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(u32::MAX);
            let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.conn.stream().as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
