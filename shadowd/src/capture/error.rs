//! What can go wrong while capturing. Each variant names the display and
//! the step that failed, so a log line says where to look.

use super::geometry::Size;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CaptureError {
    /// The display could not be reached or refused us.
    #[error("cannot connect to X display {display}: {reason}")]
    Connect { display: String, reason: String },

    /// A required X extension is not offered by the server.
    #[error("X display {display} lacks the {extension} extension, which {needed_for} needs")]
    MissingExtension { display: String, extension: &'static str, needed_for: &'static str },

    /// The root window's visual is not one we can capture.
    #[error("X display {display}: unsupported root visual ({reason}); only 24/32-bit TrueColor is captured")]
    UnsupportedVisual { display: String, reason: String },

    /// The screen is larger than we are willing to allocate for.
    #[error(
        "X display {display}: screen {}x{} is above the capture limit ({} per side, {} pixels)",
        size.width, size.height, super::MAX_SIDE, super::MAX_PIXELS
    )]
    ScreenTooLarge { display: String, size: Size },

    /// Creating or attaching the shared memory segment failed. Only returned
    /// when SHM was required; otherwise capture falls back to GetImage.
    #[error("shared memory: {0}")]
    Shm(String),

    /// An X request failed or the connection broke.
    #[error("X display {display}: {what} failed: {reason}")]
    X { display: String, what: &'static str, reason: String },

    /// The screen changed size under a grab; the capture now has the new
    /// size (the caller should tell its viewers, e.g. RFB DesktopSize).
    #[error("X display {display}: the screen is now {}x{}", size.width, size.height)]
    SizeChanged { display: String, size: Size },

    /// The damage watcher's thread ended (display gone, or it failed).
    #[error("X display {display}: change watcher stopped: {reason}")]
    WatcherStopped { display: String, reason: String },
}
