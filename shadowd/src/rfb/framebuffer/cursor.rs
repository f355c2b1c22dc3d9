//! Cursor pseudo-encoding (-239): a cursor image (w*h pixels) and a 1-bit
//! mask (`ceil(w/8) * h` bytes). We do not draw cursors; the payload is
//! consumed so a server that sends one does not desynchronise the stream.

use crate::rfb::messages::RectHeader;
use crate::rfb::wire::cap;
use crate::rfb::{PixelFormat, ProtocolError};

/// Largest cursor accepted; real ones are 16..=256 pixels across.
pub const MAX_CURSOR_DIM: u16 = 1024;

pub fn decode(header: &RectHeader, format: &PixelFormat, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let (w, h) = (header.rect.w, header.rect.h);
    cap("Cursor width", w as u64, MAX_CURSOR_DIM as u64)?;
    cap("Cursor height", h as u64, MAX_CURSOR_DIM as u64)?;
    let len = w as usize * h as usize * format.bytes_per_pixel() + (w as usize).div_ceil(8) * h as usize;
    Ok((buf.len() >= len).then_some(len))
}
