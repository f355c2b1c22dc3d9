//! The user's side, beyond the seed: while a session is shadowed, a small
//! always-on-top bar on the user's display names the administrator and has
//! a Stop button. Pressing it ends the shadow at once (the daemon records it
//! as `ended` with reason `stopped_by_user`).
//!
//! Like the consent dialog: its own X connection on a dedicated thread that
//! sleeps in poll(2) on the X socket and a cancel socket; dropping the
//! [`Indicator`] closes the window.

pub mod layout;

use crate::consent::layout::Rect;
use crate::consent::text::{sanitize_admin, to_latin1};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _, EventMask};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

pub const WM_CLASS: &str = "shadowd-indicator";

/// The bar on screen. Dropping it removes it.
pub struct Indicator {
    stopped: oneshot::Receiver<()>,
    _cancel: UnixStream,
}

impl Indicator {
    /// Shows the bar on `display` naming `admin` (blocking: a few round
    /// trips; call from a blocking context).
    pub fn open(display: &str, xauthority: Option<&Path>, admin: &str) -> Result<Indicator, String> {
        let (conn, screen_num) = crate::consent::connect::connect(display, xauthority, Duration::from_secs(5))
            .map_err(|e| format!("cannot show the shadowing indicator on {display}: {e:#}"))?;
        let ui = Ui::create(conn, screen_num, &sanitize_admin(admin))
            .map_err(|e| format!("cannot show the shadowing indicator on {display}: {e:#}"))?;
        let (cancel, thread_end) = UnixStream::pair().map_err(|e| e.to_string())?;
        let (tx, stopped) = oneshot::channel();
        std::thread::Builder::new()
            .name("shadowd-indicator".into())
            .spawn(move || {
                if ui.run(&thread_end) {
                    let _ = tx.send(());
                }
                ui.close();
            })
            .map_err(|e| e.to_string())?;
        Ok(Indicator { stopped, _cancel: cancel })
    }

    /// Resolves when the user pressed Stop.
    pub async fn stopped(&mut self) {
        if (&mut self.stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

struct Ui {
    conn: RustConnection,
    window: xproto::Window,
    gc: xproto::Gcontext,
    size: (u16, u16),
    text: String,
    colors: (u32, u32, u32),
}

impl Ui {
    fn create(conn: RustConnection, screen_num: usize, admin: &str) -> anyhow::Result<Ui> {
        let screen = conn.setup().roots[screen_num].clone();
        let rect = layout::window(screen.width_in_pixels, screen.height_in_pixels);
        let window = conn.generate_id()?;
        let alloc = |r: u16, g: u16, b: u16| -> anyhow::Result<u32> {
            Ok(conn.alloc_color(screen.default_colormap, r, g, b)?.reply()?.pixel)
        };
        let colors = (alloc(0x3300, 0x3300, 0x4400)?, alloc(0xffff, 0xffff, 0xffff)?, alloc(0xcc00, 0x2200, 0x2200)?);
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            screen.root,
            rect.x,
            rect.y,
            rect.width,
            rect.height,
            1,
            xproto::WindowClass::INPUT_OUTPUT,
            0,
            &xproto::CreateWindowAux::new()
                .background_pixel(colors.0)
                .border_pixel(colors.1)
                // No window manager in many sessions: stay above by ourselves.
                .override_redirect(1)
                .event_mask(
                    EventMask::EXPOSURE
                        | EventMask::BUTTON_PRESS
                        | EventMask::BUTTON_RELEASE
                        | EventMask::VISIBILITY_CHANGE
                        | EventMask::STRUCTURE_NOTIFY,
                ),
        )?;
        let class = format!("{WM_CLASS}\0{WM_CLASS}\0");
        conn.change_property8(
            xproto::PropMode::REPLACE,
            window,
            xproto::AtomEnum::WM_CLASS,
            xproto::AtomEnum::STRING,
            class.as_bytes(),
        )?;
        let title = to_latin1(&format!("Shadowed by {admin}"));
        conn.change_property8(
            xproto::PropMode::REPLACE,
            window,
            xproto::AtomEnum::WM_NAME,
            xproto::AtomEnum::STRING,
            &title,
        )?;
        let font = conn.generate_id()?;
        let font_ok = crate::consent::window_fonts()
            .iter()
            .any(|name| conn.open_font(font, name.as_bytes()).ok().and_then(|c| c.check().ok()).is_some());
        let gc = conn.generate_id()?;
        let mut aux = xproto::CreateGCAux::new().foreground(colors.1).background(colors.0);
        if font_ok {
            aux = aux.font(font);
        }
        conn.create_gc(gc, window, &aux)?;
        conn.map_window(window)?;
        conn.sync()?;
        let chars = ((rect.width.saturating_sub(80)) / 8) as usize;
        Ok(Ui { conn, window, gc, size: (rect.width, rect.height), text: layout::message(admin, chars), colors })
    }

    fn draw(&self) -> anyhow::Result<()> {
        let (w, h) = self.size;
        let c = &self.conn;
        c.clear_area(false, self.window, 0, 0, 0, 0)?;
        c.change_gc(self.gc, &xproto::ChangeGCAux::new().foreground(self.colors.1))?;
        c.image_text8(self.window, self.gc, 8, (h / 2 + 5) as i16, &to_latin1(&self.text))?;
        let b: Rect = layout::stop_button(w, h);
        c.change_gc(self.gc, &xproto::ChangeGCAux::new().foreground(self.colors.2))?;
        c.poly_fill_rectangle(
            self.window,
            self.gc,
            &[xproto::Rectangle { x: b.x, y: b.y, width: b.width, height: b.height }],
        )?;
        c.change_gc(self.gc, &xproto::ChangeGCAux::new().foreground(self.colors.1).background(self.colors.2))?;
        c.image_text8(self.window, self.gc, b.x + 16, b.y + (b.height / 2 + 5) as i16, b"Stop")?;
        c.flush()?;
        Ok(())
    }

    /// Runs until Stop is clicked (true) or it is cancelled/lost (false).
    fn run(&self, cancel: &UnixStream) -> bool {
        let mut pressed = false;
        loop {
            loop {
                match self.conn.poll_for_event() {
                    Ok(Some(event)) => match event {
                        Event::Expose(e) if e.count == 0 => {
                            let _ = self.draw();
                        }
                        Event::VisibilityNotify(e) if e.state != xproto::Visibility::UNOBSCURED => {
                            let aux = xproto::ConfigureWindowAux::new().stack_mode(xproto::StackMode::ABOVE);
                            let _ = self.conn.configure_window(self.window, &aux);
                            let _ = self.conn.flush();
                        }
                        Event::ButtonPress(e) if e.detail == 1 => pressed = self.on_stop(e.event_x, e.event_y),
                        Event::ButtonRelease(e) if e.detail == 1 => {
                            if pressed && self.on_stop(e.event_x, e.event_y) {
                                return true;
                            }
                            pressed = false;
                        }
                        Event::DestroyNotify(_) => return false,
                        _ => {}
                    },
                    Ok(None) => break,
                    Err(_) => return false,
                }
            }
            let mut fds = [
                PollFd::new(self.conn.stream().as_fd(), PollFlags::POLLIN),
                PollFd::new(cancel.as_fd(), PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) if fds[1].any().unwrap_or(false) => return false,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return false,
            }
        }
    }

    fn on_stop(&self, x: i16, y: i16) -> bool {
        layout::stop_button(self.size.0, self.size.1).contains(x, y)
    }

    fn close(&self) {
        let _ = self.conn.destroy_window(self.window);
        let _ = self.conn.sync();
    }
}
