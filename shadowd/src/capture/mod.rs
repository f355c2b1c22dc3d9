//! X11 screen capture for the native RFB server.
//!
//! - [`Capture`] (`grab`): the root window's pixels in a framebuffer of our
//!   own, read with MIT-SHM (XShmGetImage into a private 0600 segment that
//!   is marked for removal before the X server even attaches it) or, when
//!   the server cannot share memory with us, chunked GetImage.
//! - [`Watcher`] (`watch`): a thread asleep in poll(2) until DAMAGE, RandR
//!   or XFIXES events arrive, folding them into pending [`Changes`] for an
//!   async consumer. An idle screen costs nothing.
//! - Pure and unit tested: [`geometry`], [`region`] (merging damage into a
//!   few rectangles), [`tiles`] (which grabbed tiles really changed),
//!   [`pixels`] (visual masks to `0x00RRGGBB`), [`cursor`] (XFIXES ARGB to
//!   the RFB cursor's pixels and bitmask), [`changes`].
//! - IO, kept thin: `display` (connect, probe the root), `shm` (the SysV
//!   segment), `read` (ShmGetImage/GetImage requests), `grab`, `watch`.
//!
//! Typical use by the server (grabs block on X round trips; run them off
//! the async executor, e.g. `spawn_blocking` or a capture thread):
//!
//! ```text
//! let mut capture = Capture::open(":1", Some(xauthority))?;
//! let watcher = capture.watch()?;          // before the first grab
//! capture.grab_full()?;                    // first FramebufferUpdate
//! loop {
//!     let changes = watcher.next().await?;
//!     if changes.resized.is_some() { capture.refresh_size()?; /* DesktopSize */ }
//!     let rects = capture.grab_changes(&changes.dirty)?;   // only real changes
//!     if let Some(cursor) = changes.cursor { /* Cursor pseudo-encoding */ }
//! }
//! ```

pub mod changes;
pub mod cursor;
mod display;
pub mod error;
pub mod geometry;
mod grab;
pub mod pixels;
mod read;
pub mod region;
mod shm;
pub mod tiles;
mod watch;

pub use changes::Changes;
pub use cursor::CursorImage;
pub use error::CaptureError;
pub use geometry::{Rect, Size};
pub use grab::{Capture, CaptureOptions, Method, CONNECT_TIMEOUT};
pub use region::DirtyRegion;
pub use shm::SHM_DEST;
pub use watch::Watcher;

/// Largest screen side captured.
pub const MAX_SIDE: u16 = 16384;

/// Largest screen captured, in pixels (256 MiB of framebuffer, and as much
/// shared memory): three 4K monitors side by side fit, a hostile
/// 65535x65535 root does not.
pub const MAX_PIXELS: usize = 16384 * 4096;
