//! Reading pixels from the X server (IO): XShmGetImage into the shared
//! segment, or core GetImage in bands; and attaching the segment. Rows are
//! converted and stored by a [`Sink`].

use super::display::has_extension;
use super::geometry::{Rect, Size};
use super::pixels::PixelLayout;
use super::shm::Segment;
use super::tiles::TileMask;
use std::collections::VecDeque;
use x11rb::connection::Connection;
use x11rb::errors::ReplyError;
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, Window};
use x11rb::rust_connection::RustConnection;

/// Why a grab failed; `x_error` is an X protocol error (vs. a broken
/// connection or a bad reply).
pub(super) struct Failure {
    pub what: &'static str,
    pub x_error: bool,
    pub reason: String,
}

impl Failure {
    fn new(what: &'static str, reason: impl ToString) -> Self {
        Failure { what, x_error: false, reason: reason.to_string() }
    }

    fn reply(what: &'static str, e: ReplyError) -> Self {
        Failure { what, x_error: matches!(e, ReplyError::X11Error(_)), reason: e.to_string() }
    }
}

/// Where grabbed rows go: converted, optionally compared per tile, stored.
pub(super) struct Sink<'a> {
    pub layout: PixelLayout,
    pub fb: &'a mut [u32],
    pub stride: usize,
    pub tiles: Option<&'a mut TileMask>,
    pub scratch: &'a mut [u32],
}

impl Sink<'_> {
    /// Stores image bytes `src` (ZPixmap, 4 bytes per pixel, rows packed)
    /// for rectangle `r`, which is inside the framebuffer.
    fn store(&mut self, r: Rect, src: &[u8]) {
        let w = r.w as usize;
        for (row, s) in src.chunks_exact(w * 4).take(r.h as usize).enumerate() {
            let y = r.y as usize + row;
            let start = y * self.stride + r.x as usize;
            let dst = &mut self.fb[start..start + w];
            match self.tiles.as_deref_mut() {
                Some(tiles) => {
                    let new = &mut self.scratch[..w];
                    self.layout.convert_row(s, new);
                    tiles.compare_row(y as u16, r.x, dst, new);
                    dst.copy_from_slice(new);
                }
                None => self.layout.convert_row(s, dst),
            }
        }
    }
}

/// XShmGetImage of each rectangle. Requests are packed at increasing
/// offsets into the segment and sent together, so N rectangles cost one
/// round trip, not N (a new batch starts when the segment is full).
pub(super) fn grab_shm(
    conn: &RustConnection,
    root: Window,
    seg: &Segment,
    xid: u32,
    rects: &[Rect],
    sink: &mut Sink<'_>,
) -> Result<(), Failure> {
    let mut batch = Vec::new();
    let mut offset = 0usize;
    for &r in rects {
        let len = r.area() as usize * 4;
        if offset + len > seg.len() {
            finish_shm(seg, &mut batch, sink)?;
            offset = 0;
        }
        let cookie = conn
            .shm_get_image(root, r.x as i16, r.y as i16, r.w, r.h, !0, ImageFormat::Z_PIXMAP.into(), xid, offset as u32)
            .map_err(|e| Failure::new("ShmGetImage", e))?;
        batch.push((r, offset, cookie));
        offset += len;
    }
    finish_shm(seg, &mut batch, sink)
}

type ShmCookie<'c> = x11rb::cookie::Cookie<'c, RustConnection, x11rb::protocol::shm::GetImageReply>;

fn finish_shm(
    seg: &Segment,
    batch: &mut Vec<(Rect, usize, ShmCookie<'_>)>,
    sink: &mut Sink<'_>,
) -> Result<(), Failure> {
    for (r, offset, cookie) in batch.drain(..) {
        let reply = cookie.reply().map_err(|e| Failure::reply("ShmGetImage", e))?;
        let len = r.area() as usize * 4;
        if (reply.size as usize) < len {
            return Err(Failure::new("ShmGetImage", format!("{} bytes for {}x{}", reply.size, r.w, r.h)));
        }
        let bytes = seg.bytes(offset, len).ok_or_else(|| Failure::new("ShmGetImage", "image beyond the segment"))?;
        sink.store(r, bytes);
    }
    Ok(())
}

/// Core GetImage in horizontal bands of about `band_bytes`, two requests in
/// flight so that the server renders the next band while we convert.
pub(super) fn grab_get_image(
    conn: &RustConnection,
    root: Window,
    band_bytes: usize,
    rects: &[Rect],
    sink: &mut Sink<'_>,
) -> Result<(), Failure> {
    let bands = rects.iter().flat_map(|&r| {
        let rows = (band_bytes / (r.w as usize * 4)).clamp(1, r.h as usize) as u16;
        (0..r.h).step_by(rows as usize).map(move |dy| Rect::new(r.x, r.y + dy, r.w, rows.min(r.h - dy)))
    });
    let mut in_flight = VecDeque::new();
    for band in bands {
        if in_flight.len() == 2 {
            store_get_image(in_flight.pop_front(), sink)?;
        }
        let cookie = conn
            .get_image(ImageFormat::Z_PIXMAP, root, band.x as i16, band.y as i16, band.w, band.h, !0)
            .map_err(|e| Failure::new("GetImage", e))?;
        in_flight.push_back((band, cookie));
    }
    while let Some(next) = in_flight.pop_front() {
        store_get_image(Some(next), sink)?;
    }
    Ok(())
}

type GetImageCookie<'c> = x11rb::cookie::Cookie<'c, RustConnection, x11rb::protocol::xproto::GetImageReply>;

fn store_get_image(item: Option<(Rect, GetImageCookie<'_>)>, sink: &mut Sink<'_>) -> Result<(), Failure> {
    let Some((band, cookie)) = item else { return Ok(()) };
    let reply = cookie.reply().map_err(|e| Failure::reply("GetImage", e))?;
    if reply.data.len() < band.area() as usize * 4 {
        return Err(Failure::new("GetImage", format!("{} bytes for {}x{}", reply.data.len(), band.w, band.h)));
    }
    sink.store(band, &reply.data);
    Ok(())
}

/// Creates a segment for a `size` screen and has the X server attach it.
/// Errors say why SHM cannot be used; the caller falls back to GetImage.
pub(super) fn attach_shm(conn: &RustConnection, size: Size, display: &str) -> Result<(Segment, u32), String> {
    if !has_extension(conn, x11rb::protocol::shm::X11_EXTENSION_NAME, display).map_err(|e| e.to_string())? {
        return Err("the X server has no MIT-SHM extension".into());
    }
    let seg = Segment::create(size.pixels() * 4, segment_owner(conn))?;
    let xid = conn.generate_id().map_err(|e| format!("no X id for the segment: {e}"))?;
    let attached = conn.shm_attach(xid, seg.id() as u32, false).map_err(|e| e.to_string())?.check();
    if let Err(e) = attached {
        return Err(format!(
            "the X server could not attach our segment ({e}): it runs in another IPC namespace, \
             or as a user who may not map it"
        ));
    }
    // The server resolved our id in *its* IPC namespace. If that is not
    // ours it may have attached someone else's segment: ours must show two
    // attachments (us and the server), or we detach at once, before any
    // image is written anywhere.
    match seg.attach_count() {
        Ok(n) if n >= 2 => Ok((seg, xid)),
        other => {
            if let Ok(c) = conn.shm_detach(xid) {
                c.ignore_error();
            }
            let _ = conn.flush();
            Err(format!(
                "the X server attached a different segment with id {} (another IPC namespace?): {other:?}",
                seg.id()
            ))
        }
    }
}

/// When we are root and the X server runs as another user (a rootless
/// Xorg), that user must own the 0600 segment or the server cannot map it.
/// The server's uid comes from the socket's peer credentials.
pub(super) fn segment_owner(conn: &RustConnection) -> Option<(u32, u32)> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let creds = getsockopt(conn.stream(), PeerCredentials).ok()?;
    // A TCP peer has no credentials: the kernel reports pid 0 and the
    // overflow uid. A root server can attach a root-owned segment anyway.
    (creds.pid() != 0 && creds.uid() != 0).then(|| (creds.uid(), creds.gid()))
}
