//! CopyRect encoding (1): the rectangle's new contents are a copy of the
//! same-sized region at (src_x, src_y) of the client's own framebuffer.

use super::Framebuffer;
use crate::rfb::messages::{Rect, RectHeader};
use crate::rfb::ProtocolError;

pub const PAYLOAD_LEN: usize = 4;

pub fn decode(header: &RectHeader, buf: &[u8], fb: &mut Framebuffer) -> Result<Option<usize>, ProtocolError> {
    let Some(p) = buf.get(..PAYLOAD_LEN) else {
        return Ok(None);
    };
    let (src_x, src_y) = (u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]]));
    let dst = header.rect;
    fb.check(&dst, header.encoding)?;
    fb.check(&Rect::new(src_x, src_y, dst.w, dst.h), header.encoding)?;
    fb.copy(src_x, src_y, &dst);
    Ok(Some(PAYLOAD_LEN))
}

pub fn encode(src_x: u16, src_y: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(&src_x.to_be_bytes());
    out.extend_from_slice(&src_y.to_be_bytes());
}
