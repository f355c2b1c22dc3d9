//! Raw encoding (0): `w * h` pixels in the client's pixel format, row-major.

use super::Framebuffer;
use crate::rfb::messages::RectHeader;
use crate::rfb::{PixelFormat, ProtocolError};

/// Payload length of a raw rectangle (fits in u64 for any u16 w, h).
pub fn payload_len(header: &RectHeader, format: &PixelFormat) -> u64 {
    header.rect.area() * format.bytes_per_pixel() as u64
}

pub fn decode(
    header: &RectHeader,
    format: &PixelFormat,
    buf: &[u8],
    fb: &mut Framebuffer,
) -> Result<Option<usize>, ProtocolError> {
    // Bounds first: this also bounds how much we wait for and buffer.
    fb.check(&header.rect, header.encoding)?;
    let len = payload_len(header, format) as usize;
    let Some(data) = buf.get(..len) else {
        return Ok(None);
    };
    let r = header.rect;
    let row_bytes = r.w as usize * format.bytes_per_pixel();
    if row_bytes == 0 {
        return Ok(Some(0));
    }
    let fast = *format == PixelFormat::RGB888;
    for (dy, src) in data.chunks_exact(row_bytes).enumerate() {
        let row = fb.row_mut(r.x, r.y + dy as u16, r.w);
        if fast {
            // The wire bytes are little-endian 0x??RRGGBB already.
            for (px, b) in row.iter_mut().zip(src.chunks_exact(4)) {
                *px = u32::from_le_bytes([b[0], b[1], b[2], 0]);
            }
        } else {
            for (px, b) in row.iter_mut().zip(src.chunks_exact(format.bytes_per_pixel())) {
                *px = format.pixel_to_rgb(b);
            }
        }
    }
    Ok(Some(len))
}

/// Server side / tests: the raw payload of `rect` from `0x00RRGGBB` pixels.
pub fn encode(pixels: impl IntoIterator<Item = u32>, format: &PixelFormat, out: &mut Vec<u8>) {
    for rgb in pixels {
        format.write_raw(format.rgb_to_raw(rgb), out);
    }
}
