//! [`Capture`]: the root window's pixels in a framebuffer of our own, read
//! with MIT-SHM when the X server can share memory with us, else GetImage.

use super::cursor::CursorImage;
use super::display::{self, connect, probe_root, root_size};
use super::error::CaptureError;
use super::geometry::{Rect, Size};
use super::pixels::PixelLayout;
use super::read::{attach_shm, grab_get_image, grab_shm, Sink};
use super::region::DirtyRegion;
use super::shm::Segment;
use super::tiles::TileMask;
use super::watch::Watcher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use x11rb::connection::RequestConnection;
use x11rb::protocol::damage::ConnectionExt as _;
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xproto::Window;
use x11rb::rust_connection::RustConnection;

/// How long opening a display may take before it counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How [`Capture::open_with`] may behave.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Never use MIT-SHM: read with (chunked) GetImage. For tests of the
    /// fallback, and for an X server known to be unable to share memory.
    pub force_get_image: bool,
    pub connect_timeout: Duration,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions { force_get_image: false, connect_timeout: CONNECT_TIMEOUT }
    }
}

/// How pixels are read from the X server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// XShmGetImage into a shared segment: no pixel bytes on the socket.
    Shm,
    /// Core GetImage: every pixel travels over the X socket.
    GetImage,
}

enum Source {
    Shm { seg: Segment, xid: u32 },
    GetImage,
}

/// A display's screen, captured into a full-screen `0x00RRGGBB` framebuffer
/// (row-major, stride = width). Grabs refresh parts of it.
pub struct Capture {
    display: String,
    xauthority: Option<PathBuf>,
    timeout: Duration,
    conn: RustConnection,
    root: Window,
    size: Size,
    layout: PixelLayout,
    fb: Vec<u32>,
    tiles: TileMask,
    /// One converted row, compared with the framebuffer before it is stored.
    scratch: Vec<u32>,
    source: Source,
    allow_shm: bool,
    /// Why SHM is not used, when it is not.
    shm_note: Option<String>,
    /// GetImage bands are at most this many bytes, so that a huge screen does
    /// not become one huge reply buffered whole.
    band_bytes: usize,
    /// The DAMAGE object of our [`Watcher`] (0 when none): every grab first
    /// re-arms it, see [`Capture::watch`].
    damage: Arc<AtomicU32>,
    damage_version_sent: bool,
    xfixes_ready: bool,
}

impl Capture {
    /// Opens `display` with the session's `xauthority` file, using MIT-SHM
    /// when possible.
    pub fn open(display: &str, xauthority: Option<&Path>) -> Result<Capture, CaptureError> {
        Capture::open_with(display, xauthority, CaptureOptions::default())
    }

    pub fn open_with(
        display: &str,
        xauthority: Option<&Path>,
        options: CaptureOptions,
    ) -> Result<Capture, CaptureError> {
        let (conn, screen_num) = connect(display, xauthority, options.connect_timeout)?;
        let root = probe_root(&conn, screen_num, display)?;
        // Replies are not limited by the request size, but a band of about
        // that size keeps GetImage's buffering bounded; at least 256 KiB.
        let band_bytes = conn.maximum_request_bytes().max(256 * 1024);
        let mut capture = Capture {
            display: display.to_string(),
            xauthority: xauthority.map(Path::to_path_buf),
            timeout: options.connect_timeout,
            conn,
            root: root.window,
            size: root.size,
            layout: root.layout,
            fb: Vec::new(),
            tiles: TileMask::new(root.size),
            scratch: Vec::new(),
            source: Source::GetImage,
            allow_shm: !options.force_get_image,
            shm_note: options.force_get_image.then(|| "GetImage was forced".to_string()),
            band_bytes,
            damage: Arc::new(AtomicU32::new(0)),
            damage_version_sent: false,
            xfixes_ready: false,
        };
        capture.set_size(root.size);
        Ok(capture)
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn size(&self) -> Size {
        self.size
    }

    pub fn method(&self) -> Method {
        match self.source {
            Source::Shm { .. } => Method::Shm,
            Source::GetImage => Method::GetImage,
        }
    }

    /// Why MIT-SHM is not used (extension missing, attach refused, forced…),
    /// for logs and `doctor`.
    pub fn shm_fallback_reason(&self) -> Option<&str> {
        self.shm_note.as_deref()
    }

    /// The SysV id of the shared segment, when SHM is used.
    pub fn shm_id(&self) -> Option<i32> {
        match &self.source {
            Source::Shm { seg, .. } => Some(seg.id()),
            Source::GetImage => None,
        }
    }

    /// The framebuffer as last grabbed: `width * height` pixels `0x00RRGGBB`.
    pub fn pixels(&self) -> &[u32] {
        &self.fb
    }

    /// Refreshes `rect` (cut to the screen) and returns the whole framebuffer.
    pub fn grab(&mut self, rect: Rect) -> Result<&[u32], CaptureError> {
        self.grab_rects(&[rect], false)?;
        Ok(&self.fb)
    }

    /// Refreshes the whole screen and returns the framebuffer.
    pub fn grab_full(&mut self) -> Result<&[u32], CaptureError> {
        self.grab_rects(&[self.size.rect()], false)?;
        Ok(&self.fb)
    }

    /// Refreshes the rectangles of `region` and returns where pixels really
    /// changed since the framebuffer last held them, as tile-aligned
    /// rectangles (damage over-reports: redrawing identical pixels is
    /// damage too). Read the pixels with [`Capture::pixels`].
    pub fn grab_changes(&mut self, region: &DirtyRegion) -> Result<Vec<Rect>, CaptureError> {
        self.tiles.clear();
        self.grab_rects(region.rects(), true)?;
        Ok(self.tiles.take_rects())
    }

    /// Re-reads the root window's size; when it changed, the framebuffer and
    /// the shared segment are made anew (the framebuffer black until the next
    /// grab) and the new size is returned.
    pub fn refresh_size(&mut self) -> Result<Option<Size>, CaptureError> {
        let size = root_size(&self.conn, self.root, &self.display)?;
        if size == self.size && !self.fb.is_empty() {
            return Ok(None);
        }
        self.set_size(size);
        Ok(Some(size))
    }

    /// The cursor shown now (XFIXES GetCursorImage).
    pub fn cursor(&mut self) -> Result<CursorImage, CaptureError> {
        if !self.xfixes_ready {
            display::init_xfixes(&self.conn, &self.display, "cursor capture")?;
            self.xfixes_ready = true;
        }
        display::cursor_image(&self.conn, &self.display)
    }

    /// Starts watching the display for damage, size and cursor changes (a
    /// thread with its own connection, asleep while nothing happens).
    ///
    /// Damage is reported as DeltaRectangles: the server reports only area
    /// not already reported, until the damage object is re-armed
    /// (DamageSubtract). Every grab of this capture re-arms it first, on this
    /// connection, so that the server orders it before the grab: anything
    /// drawn before the grab is in it, anything drawn after is reported
    /// anew. Changes are reported from the first grab after this call on:
    /// start with [`Capture::grab_full`]. One watcher at a time.
    pub fn watch(&mut self) -> Result<Watcher, CaptureError> {
        if self.damage.load(Ordering::Acquire) != 0 {
            return Err(CaptureError::X {
                display: self.display.clone(),
                what: "watch",
                reason: "a watcher for this capture is already running".into(),
            });
        }
        Watcher::start(&self.display, self.xauthority.as_deref(), self.timeout, Arc::clone(&self.damage))
    }

    /// Allocates for `size` and (re)attaches the shared segment.
    fn set_size(&mut self, size: Size) {
        self.size = size;
        self.fb = vec![0; size.pixels()];
        self.tiles = TileMask::new(size);
        self.scratch = vec![0; size.width as usize];
        if let Source::Shm { xid, .. } = std::mem::replace(&mut self.source, Source::GetImage) {
            // Our mapping goes when the old Segment drops; the server's now.
            if let Ok(c) = self.conn.shm_detach(xid) {
                c.ignore_error();
            }
        }
        if self.allow_shm {
            match attach_shm(&self.conn, size, &self.display) {
                Ok((seg, xid)) => {
                    self.source = Source::Shm { seg, xid };
                    self.shm_note = None;
                }
                Err(reason) => {
                    tracing::info!(display = %self.display, %reason, "MIT-SHM unavailable; capturing with GetImage");
                    self.shm_note = Some(reason);
                }
            }
        }
    }

    /// Re-arms the watcher's damage object before a grab (see `watch`).
    fn rearm_damage(&mut self) {
        let id = self.damage.load(Ordering::Acquire);
        if id == 0 {
            return;
        }
        if !self.damage_version_sent {
            // DAMAGE refuses requests from a client that has not announced
            // its version; the reply is not needed (dropping the cookie
            // discards it), only the order.
            drop(self.conn.damage_query_version(1, 1));
            self.damage_version_sent = true;
        }
        // If the watcher is gone the object is too: ignore BadDamage.
        if let Ok(c) = self.conn.damage_subtract(id, x11rb::NONE, x11rb::NONE) {
            c.ignore_error();
        }
    }

    fn grab_rects(&mut self, rects: &[Rect], compare: bool) -> Result<(), CaptureError> {
        self.rearm_damage();
        let rects: Vec<Rect> = rects.iter().filter_map(|r| r.clip(self.size)).collect();
        if rects.is_empty() {
            return Ok(());
        }
        let mut sink = Sink {
            layout: self.layout,
            fb: &mut self.fb,
            stride: self.size.width as usize,
            tiles: compare.then_some(&mut self.tiles),
            scratch: &mut self.scratch,
        };
        let result = match &self.source {
            Source::Shm { seg, xid } => grab_shm(&self.conn, self.root, seg, *xid, &rects, &mut sink),
            Source::GetImage => grab_get_image(&self.conn, self.root, self.band_bytes, &rects, &mut sink),
        };
        match result {
            Ok(()) => Ok(()),
            // A request outside the root window is BadMatch: most likely the
            // screen shrank. Take the new size and say so.
            Err(f) if f.x_error => match self.refresh_size() {
                Ok(Some(size)) => Err(CaptureError::SizeChanged { display: self.display.clone(), size }),
                _ => Err(CaptureError::X { display: self.display.clone(), what: f.what, reason: f.reason }),
            },
            Err(f) => Err(CaptureError::X { display: self.display.clone(), what: f.what, reason: f.reason }),
        }
    }
}
