//! Opening a session's display and reading what capture needs to know about
//! its root window (IO, thin).

use super::cursor::CursorImage;
use super::error::CaptureError;
use super::geometry::Size;
use super::pixels::PixelLayout;
use super::{MAX_PIXELS, MAX_SIDE};
use std::path::Path;
use std::time::Duration;
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xproto::{ConnectionExt as _, ImageOrder, VisualClass, Window};
use x11rb::rust_connection::RustConnection;

/// The root window of the display's screen and how its pixels look.
#[derive(Debug, Clone, Copy)]
pub(super) struct Root {
    pub window: Window,
    pub size: Size,
    pub layout: PixelLayout,
}

/// Connects with the session's Xauthority within `timeout` (the consent
/// dialog's connector: no reliance on our own `$XAUTHORITY`, no hang on a
/// server that accepts but never answers).
pub(super) fn connect(
    display: &str,
    xauthority: Option<&Path>,
    timeout: Duration,
) -> Result<(RustConnection, usize), CaptureError> {
    crate::consent::connect::connect(display, xauthority, timeout)
        .map_err(|e| CaptureError::Connect { display: display.to_string(), reason: format!("{e:#}") })
}

/// Reads the root window's visual and current size; refuses anything but
/// 32-bits-per-pixel TrueColor, and screens above the size limit.
pub(super) fn probe_root(conn: &RustConnection, screen_num: usize, display: &str) -> Result<Root, CaptureError> {
    let setup = conn.setup();
    let screen = &setup.roots[screen_num];
    let unsupported = |reason: String| CaptureError::UnsupportedVisual { display: display.to_string(), reason };
    let depth = screen.root_depth;
    let visual = screen
        .allowed_depths
        .iter()
        .filter(|d| d.depth == depth)
        .flat_map(|d| d.visuals.iter())
        .find(|v| v.visual_id == screen.root_visual)
        .ok_or_else(|| unsupported(format!("root visual {:#x} is not listed for depth {depth}", screen.root_visual)))?;
    if visual.class != VisualClass::TRUE_COLOR {
        return Err(unsupported(format!("depth {depth} visual class {:?}", visual.class)));
    }
    let format = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == depth)
        .ok_or_else(|| unsupported(format!("no pixmap format for depth {depth}")))?;
    if format.bits_per_pixel != 32 {
        return Err(unsupported(format!("depth {depth} is stored in {} bits per pixel", format.bits_per_pixel)));
    }
    let big_endian = setup.image_byte_order == ImageOrder::MSB_FIRST;
    let layout = PixelLayout::new(visual.red_mask, visual.green_mask, visual.blue_mask, big_endian)
        .map_err(|e| unsupported(format!("depth {depth}: {e}")))?;
    let window = screen.root;
    let size = root_size(conn, window, display)?;
    Ok(Root { window, size, layout })
}

/// The root window's current size (it changes with RandR), checked against
/// the limit before anyone allocates a framebuffer for it.
pub(super) fn root_size(conn: &RustConnection, root: Window, display: &str) -> Result<Size, CaptureError> {
    let g = conn
        .get_geometry(root)
        .map_err(x_err(display, "GetGeometry"))?
        .reply()
        .map_err(x_err(display, "GetGeometry"))?;
    let size = Size::new(g.width, g.height);
    if size.width > MAX_SIDE || size.height > MAX_SIDE || size.pixels() > MAX_PIXELS {
        return Err(CaptureError::ScreenTooLarge { display: display.to_string(), size });
    }
    Ok(size)
}

/// Whether the server offers extension `name` (a cached round trip).
pub(super) fn has_extension(conn: &RustConnection, name: &'static str, display: &str) -> Result<bool, CaptureError> {
    conn.extension_information(name).map(|info| info.is_some()).map_err(|e| CaptureError::X {
        display: display.to_string(),
        what: "QueryExtension",
        reason: e.to_string(),
    })
}

/// Maps any x11rb error of request `what` to a [`CaptureError::X`].
pub(super) fn x_err<'a, E: std::fmt::Display>(display: &'a str, what: &'static str) -> impl Fn(E) -> CaptureError + 'a {
    move |e| CaptureError::X { display: display.to_string(), what, reason: e.to_string() }
}

/// Announces our XFIXES version (the server refuses XFIXES requests before
/// that); fails with the reason when the extension is missing.
pub(super) fn init_xfixes(conn: &RustConnection, display: &str, needed_for: &'static str) -> Result<(), CaptureError> {
    use x11rb::protocol::xfixes::{self, ConnectionExt as _};
    if !has_extension(conn, xfixes::X11_EXTENSION_NAME, display)? {
        return Err(CaptureError::MissingExtension { display: display.to_string(), extension: "XFIXES", needed_for });
    }
    conn.xfixes_query_version(4, 0)
        .map_err(x_err(display, "XFixesQueryVersion"))?
        .reply()
        .map_err(x_err(display, "XFixesQueryVersion"))?;
    Ok(())
}

/// The cursor shown now (a round trip); XFIXES must be initialised.
pub(super) fn cursor_image(conn: &RustConnection, display: &str) -> Result<CursorImage, CaptureError> {
    use x11rb::protocol::xfixes::ConnectionExt as _;
    let r = conn
        .xfixes_get_cursor_image()
        .map_err(x_err(display, "XFixesGetCursorImage"))?
        .reply()
        .map_err(x_err(display, "XFixesGetCursorImage"))?;
    CursorImage::from_reply(r.width, r.height, r.xhot, r.yhot, r.cursor_serial, r.cursor_image)
        .map_err(|reason| CaptureError::X { display: display.to_string(), what: "XFixesGetCursorImage", reason })
}
