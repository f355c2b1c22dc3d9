//! What can be wrong with bytes from a peer. Each variant says *what* field
//! was bad, so a log line or a test failure points at the cause.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// A length or count field above our cap: refused before allocating.
    #[error("{what} is {len}, above the limit of {max}")]
    TooLong { what: &'static str, len: u64, max: u64 },

    /// The 12-byte ProtocolVersion was not `RFB xxx.yyy\n` or not 3.x.
    #[error("bad ProtocolVersion {0:?}: expected \"RFB 003.00x\\n\"")]
    BadVersion(String),

    #[error("unknown {direction} message type {msg_type}")]
    UnknownMessageType { direction: &'static str, msg_type: u8 },

    #[error("bad pixel format: {0}")]
    BadPixelFormat(&'static str),

    /// A field whose value is outside what the protocol allows.
    #[error("invalid {what}: {value}")]
    InvalidValue { what: &'static str, value: i64 },

    /// A rectangle reaching outside the framebuffer it is drawn into.
    #[error("rectangle {w}x{h}+{x}+{y} ({encoding}) is outside the {fb_width}x{fb_height} framebuffer")]
    RectOutOfBounds { x: u16, y: u16, w: u16, h: u16, encoding: i32, fb_width: u16, fb_height: u16 },

    /// A rectangle in an encoding the client never advertised or we cannot decode.
    #[error("rectangle encoding {0} is not supported by this decoder")]
    UnsupportedEncoding(i32),
}
