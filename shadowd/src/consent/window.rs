//! The dialog's X resources and drawing: the window, its properties, the
//! font, the colours. Geometry comes from [`layout`](super::layout); this
//! module only turns it into X requests.

use super::input::Keymap;
use super::layout::{Button, FontMetrics, Layout, Rect, TextLine};
use super::text::to_latin1;
use super::WM_CLASS;
use anyhow::{anyhow, Context, Result};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    self, AtomEnum, ChangeGCAux, ConfigureWindowAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask,
    InputFocus, PropMode, StackMode, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Core fonts tried in order: 15 px fixed (readable), its alias, the 13 px
/// one, and "fixed", which every X server with any fonts has. Latin-1
/// encodings, because text is sent as 8-bit strings.
pub const FONT_CHAIN: &[&str] = &[
    "-misc-fixed-medium-r-normal--15-*-*-*-c-90-iso8859-1",
    "9x15",
    "-misc-fixed-medium-r-*--13-*-*-*-*-*-iso8859-1",
    "fixed",
];

/// Pixel values for the dialog's colours on this screen.
struct Colors {
    background: u32,
    text: u32,
    frame: u32,
    yes: u32,
    no: u32,
    label: u32,
}

pub(super) struct DialogWindow {
    pub conn: RustConnection,
    pub window: Window,
    pub layout: Layout,
    pub keymap: Keymap,
    gc: xproto::Gcontext,
    colors: Colors,
    /// Who had the keyboard before us: given back when the dialog closes,
    /// so the user's typing lands where it did (there may be no window
    /// manager to do it).
    previous_focus: Window,
}

impl DialogWindow {
    /// Creates and maps the window. On error the caller drops `conn`, and
    /// the server frees everything created so far with it.
    pub fn create(conn: RustConnection, screen_num: usize, admin: &str, title: &str) -> Result<DialogWindow> {
        let screen = conn.setup().roots[screen_num].clone();
        let (font, metrics) = open_font(&conn)?;
        let layout = Layout::new(screen.width_in_pixels, screen.height_in_pixels, admin, metrics);
        let colors = alloc_colors(&conn, &screen)?;
        let keymap = load_keymap(&conn)?;
        let previous_focus = conn.get_input_focus()?.reply()?.focus;

        let window = conn.generate_id()?;
        let w = layout.window;
        // Override-redirect: no window manager moves, decorates or hides it
        // (and there is none under Xvfb); mapping puts it on top, and
        // `raise` keeps it there.
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            screen.root,
            w.x,
            w.y,
            w.width,
            w.height,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new().background_pixel(colors.background).override_redirect(1).event_mask(
                EventMask::EXPOSURE
                    | EventMask::KEY_PRESS
                    | EventMask::KEY_RELEASE
                    | EventMask::BUTTON_PRESS
                    | EventMask::BUTTON_RELEASE
                    | EventMask::STRUCTURE_NOTIFY
                    | EventMask::VISIBILITY_CHANGE,
            ),
        )?;
        set_properties(&conn, window, title)?;

        let gc = conn.generate_id()?;
        conn.create_gc(
            gc,
            window,
            &CreateGCAux::new().font(font).foreground(colors.text).background(colors.background).graphics_exposures(0),
        )?;
        // The GC keeps a reference; the font id itself is not needed.
        conn.close_font(font)?;
        conn.map_window(window)?;
        conn.flush()?;
        Ok(DialogWindow { conn, window, layout, keymap, gc, colors, previous_focus })
    }

    /// Everything: background, frame, message, countdown, buttons.
    pub fn draw_all(&self, remaining: u64) -> Result<()> {
        let (w, h) = (self.layout.window.width, self.layout.window.height);
        self.fill(Rect { x: 0, y: 0, width: w, height: h }, self.colors.background)?;
        self.conn.change_gc(self.gc, &ChangeGCAux::new().foreground(self.colors.frame))?;
        let frame = |inset: i16| xproto::Rectangle {
            x: inset,
            y: inset,
            width: w.saturating_sub(1 + 2 * inset as u16),
            height: h.saturating_sub(1 + 2 * inset as u16),
        };
        self.conn.poly_rectangle(self.window, self.gc, &[frame(0), frame(1)])?;
        for line in &self.layout.message {
            self.text(line, self.colors.text, self.colors.background)?;
        }
        self.draw_countdown(remaining)?;
        for button in [Button::Yes, Button::No] {
            let fill = match button {
                Button::Yes => self.colors.yes,
                Button::No => self.colors.no,
            };
            self.fill(self.layout.buttons.rect(button), fill)?;
            self.text(&self.layout.label(button), self.colors.label, fill)?;
        }
        Ok(())
    }

    /// Only the countdown band: cleared first, as the text gets shorter.
    pub fn draw_countdown(&self, remaining: u64) -> Result<()> {
        self.fill(self.layout.countdown, self.colors.background)?;
        self.text(&self.layout.countdown_line(remaining), self.colors.text, self.colors.background)
    }

    /// Takes the keyboard. Only valid once the window is viewable (after
    /// its first Expose), else the server answers BadMatch.
    pub fn focus(&self) -> Result<()> {
        self.conn.set_input_focus(InputFocus::PARENT, self.window, x11rb::CURRENT_TIME)?;
        Ok(())
    }

    /// Back on top of its siblings, e.g. after a newly raised window hid it.
    pub fn raise(&self) -> Result<()> {
        self.conn.configure_window(self.window, &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE))?;
        Ok(())
    }

    /// Re-reads the keyboard map after a MappingNotify (layout switched).
    pub fn reload_keymap(&mut self) -> Result<()> {
        self.keymap = load_keymap(&self.conn)?;
        Ok(())
    }

    /// Gives the focus back if we still hold it, destroys the window, and
    /// waits for the server to have done so: when the answer is reported,
    /// the window is already gone. Errors are ignored: the connection may
    /// be the reason we are closing.
    pub fn close(&self) {
        if let Ok(reply) = self.conn.get_input_focus().map(|c| c.reply()) {
            if matches!(reply, Ok(ref r) if r.focus == self.window) && self.previous_focus != self.window {
                let _ = self.conn.set_input_focus(InputFocus::POINTER_ROOT, self.previous_focus, x11rb::CURRENT_TIME);
            }
        }
        let _ = self.conn.destroy_window(self.window);
        let _ = self.conn.sync();
    }

    fn fill(&self, r: Rect, pixel: u32) -> Result<()> {
        self.conn.change_gc(self.gc, &ChangeGCAux::new().foreground(pixel))?;
        let rect = xproto::Rectangle { x: r.x, y: r.y, width: r.width, height: r.height };
        self.conn.poly_fill_rectangle(self.window, self.gc, &[rect])?;
        Ok(())
    }

    fn text(&self, line: &TextLine, fg: u32, bg: u32) -> Result<()> {
        self.conn.change_gc(self.gc, &ChangeGCAux::new().foreground(fg).background(bg))?;
        let mut bytes = to_latin1(&line.text);
        bytes.truncate(255); // ImageText8's length field is one byte
        self.conn.image_text8(self.window, self.gc, line.x, line.baseline, &bytes)?;
        Ok(())
    }
}

/// Opens the first font of [`FONT_CHAIN`] the server has.
fn open_font(conn: &RustConnection) -> Result<(xproto::Font, FontMetrics)> {
    for name in FONT_CHAIN {
        let font = conn.generate_id()?;
        if conn.open_font(font, name.as_bytes())?.check().is_err() {
            continue;
        }
        let q = conn.query_font(font)?.reply()?;
        let metrics = FontMetrics {
            char_width: q.max_bounds.character_width.max(1) as u16,
            ascent: q.font_ascent.max(0) as u16,
            descent: q.font_descent.max(0) as u16,
        };
        tracing::debug!(font = name, ?metrics, "consent dialog font");
        return Ok((font, metrics));
    }
    Err(anyhow!(
        "no core X font could be opened (tried {}); install the X server's fonts (Debian: xfonts-base)",
        FONT_CHAIN.join(", ")
    ))
}

fn alloc_colors(conn: &RustConnection, screen: &xproto::Screen) -> Result<Colors> {
    // AllocColor works on every visual class (TrueColor or a palette); on
    // a full palette fall back to black and white, still readable.
    let alloc = |rgb: u32, fallback: u32| -> Result<u32> {
        let c = |shift: u32| (((rgb >> shift) & 0xff) as u16) * 0x101;
        let cookie = conn.alloc_color(screen.default_colormap, c(16), c(8), c(0))?;
        Ok(cookie.reply().map(|r| r.pixel).unwrap_or(fallback))
    };
    let (white, black) = (screen.white_pixel, screen.black_pixel);
    Ok(Colors {
        background: alloc(0xececec, white)?,
        text: alloc(0x1a1a1a, black)?,
        frame: alloc(0x3c3c3c, black)?,
        yes: alloc(0x2e7d32, black)?,
        no: alloc(0x5f6368, black)?,
        label: alloc(0xffffff, white)?,
    })
}

pub(super) fn load_keymap(conn: &RustConnection) -> Result<Keymap> {
    let setup = conn.setup();
    let (min, max) = (setup.min_keycode, setup.max_keycode);
    let reply = conn.get_keyboard_mapping(min, max - min + 1)?.reply().context("GetKeyboardMapping")?;
    Ok(Keymap::new(min, reply.keysyms_per_keycode, reply.keysyms))
}

/// WM_CLASS (what the harness and window managers find it by), the title
/// naming the administrator (Latin-1 WM_NAME and UTF-8 _NET_WM_NAME), and
/// EWMH hints that a window manager would honour if it managed the window.
fn set_properties(conn: &RustConnection, window: Window, title: &str) -> Result<()> {
    let names = [
        "UTF8_STRING",
        "_NET_WM_NAME",
        "_NET_WM_WINDOW_TYPE",
        "_NET_WM_WINDOW_TYPE_DIALOG",
        "_NET_WM_STATE",
        "_NET_WM_STATE_ABOVE",
    ];
    let cookies = names.iter().map(|n| conn.intern_atom(false, n.as_bytes())).collect::<Result<Vec<_>, _>>()?;
    let mut atoms = Vec::with_capacity(names.len());
    for c in cookies {
        atoms.push(c.reply()?.atom);
    }
    let [utf8, net_name, wtype, wtype_dialog, state, state_above] = atoms[..] else {
        unreachable!("one atom per name");
    };
    let class = format!("{WM_CLASS}\0{WM_CLASS}\0");
    conn.change_property8(PropMode::REPLACE, window, AtomEnum::WM_CLASS, AtomEnum::STRING, class.as_bytes())?;
    conn.change_property8(PropMode::REPLACE, window, AtomEnum::WM_NAME, AtomEnum::STRING, &to_latin1(title))?;
    conn.change_property8(PropMode::REPLACE, window, net_name, utf8, title.as_bytes())?;
    conn.change_property32(PropMode::REPLACE, window, wtype, AtomEnum::ATOM, &[wtype_dialog])?;
    conn.change_property32(PropMode::REPLACE, window, state, AtomEnum::ATOM, &[state_above])?;
    Ok(())
}
