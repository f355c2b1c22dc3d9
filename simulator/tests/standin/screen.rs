//! The stand-in's side of X: capturing the display (GetImage, as the
//! harness's own screenshots do), encoding it as a Raw update in the
//! viewer's pixel format, and what misbehaviours do to a display: inject
//! input through XTEST, leave a window on it, tamper with a frame.

use anyhow::{Context, Result};
use shadowd::rfb::encodings;
use shadowd::rfb::messages::{Rect, RectHeader, ServerMessage};
use shadowd::rfb::server::DroppedInput;
use shadowd::rfb::PixelFormat;
use simulator::drivers::image::Image;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// A connection to the shadowed display.
pub struct Screen {
    conn: RustConnection,
    screen_num: usize,
    pub width: u16,
    pub height: u16,
}

impl Screen {
    pub fn open(display: &str) -> Result<Screen> {
        let (conn, screen_num) =
            RustConnection::connect(Some(display)).with_context(|| format!("connecting to {display}"))?;
        let root = &conn.setup().roots[screen_num];
        let (width, height) = (root.width_in_pixels, root.height_in_pixels);
        Ok(Screen { conn, screen_num, width, height })
    }

    pub fn capture(&self) -> Result<Image> {
        simulator::drivers::xvfb::screenshot_of(&self.conn, self.screen_num)
    }

    /// `ForwardsInput`: what a server that is not view-only would do with
    /// a viewer's key or pointer event. (The details of the event do not
    /// matter for the misbehaviour; any input reaching the display does.)
    pub fn inject(&self, input: DroppedInput) -> Result<()> {
        let root = self.conn.setup().roots[self.screen_num].root;
        match input {
            DroppedInput::Key => {
                // Keycode 38 is a letter key on every usual keymap.
                self.conn.xtest_fake_input(xproto::KEY_PRESS_EVENT, 38, 0, root, 0, 0, 0)?;
                self.conn.xtest_fake_input(xproto::KEY_RELEASE_EVENT, 38, 0, root, 0, 0, 0)?;
            }
            DroppedInput::Pointer => {
                let (x, y) = ((self.width / 3) as i16, (self.height / 3) as i16);
                self.conn.xtest_fake_input(xproto::MOTION_NOTIFY_EVENT, 0, 0, root, x, y, 0)?;
            }
            DroppedInput::CutText => {}
        }
        self.conn.sync()?;
        Ok(())
    }
}

/// One FramebufferUpdate: the whole image as a single Raw rectangle.
pub fn raw_update(image: &Image, format: &PixelFormat) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + image.pixels.len() * format.bytes_per_pixel());
    ServerMessage::FramebufferUpdate { rects: 1 }.encode(&mut out);
    RectHeader { rect: Rect::new(0, 0, image.width, image.height), encoding: encodings::RAW }.encode(&mut out);
    for &rgb in &image.pixels {
        format.write_raw(format.rgb_to_raw(rgb), &mut out);
    }
    out
}

/// `WrongFrame`: inverts a short diagonal near the top-left corner, as an
/// encoder with an off-by-one might.
pub fn tamper(image: &mut Image) {
    for i in 0..image.width.min(image.height).min(8) {
        let p = image.get(i, i);
        image.set(i, i, !p & 0xffffff);
    }
}

/// `DrawsOnDisplay`: a small window in the corner of the user's display,
/// there as long as this value lives (closing the connection destroys it).
pub struct Marker {
    _conn: RustConnection,
}

impl Marker {
    pub fn show(display: &str) -> Result<Marker> {
        let (conn, screen_num) =
            RustConnection::connect(Some(display)).with_context(|| format!("connecting to {display}"))?;
        let screen = &conn.setup().roots[screen_num];
        let window = conn.generate_id()?;
        conn.create_window(
            screen.root_depth,
            window,
            screen.root,
            0,
            0,
            48,
            24,
            0,
            xproto::WindowClass::INPUT_OUTPUT,
            0,
            &xproto::CreateWindowAux::new().background_pixel(0x00ff00ff).override_redirect(1),
        )?;
        conn.map_window(window)?;
        conn.sync()?;
        Ok(Marker { _conn: conn })
    }
}
