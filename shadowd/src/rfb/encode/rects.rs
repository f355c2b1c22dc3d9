//! Rectangles that carry no pixels of their own: CopyRect (the client copies
//! from its own framebuffer), DesktopSize and LastRect pseudo-rectangles.

use super::{EncodeError, Source};
use crate::rfb::encodings;
use crate::rfb::messages::{Rect, RectHeader};

/// CopyRect (1, RFC 6143 §7.7.2): `dst` takes the contents of the same-sized
/// region at (`src_x`, `src_y`) of the client's framebuffer. The caller
/// decides that the client holds those pixels; both regions are checked
/// against `fb` (the source framebuffer's size).
pub fn copy_rect(fb: &Source, dst: Rect, src_x: u16, src_y: u16, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    fb.check(&dst)?;
    fb.check(&Rect::new(src_x, src_y, dst.w, dst.h))?;
    if dst.area() == 0 {
        return Ok(0);
    }
    RectHeader { rect: dst, encoding: encodings::COPY_RECT }.encode(out);
    crate::rfb::framebuffer::copy_rect::encode(src_x, src_y, out);
    Ok(1)
}

/// DesktopSize pseudo-rectangle (-223): the framebuffer is now
/// `width`x`height`; x and y are ignored by clients and sent as 0.
pub fn desktop_size(width: u16, height: u16, out: &mut Vec<u8>) {
    RectHeader { rect: Rect::new(0, 0, width, height), encoding: encodings::DESKTOP_SIZE }.encode(out);
}

/// LastRect pseudo-rectangle (-224): ends an update whose rectangle count
/// was sent as 0xFFFF (useful when Tight splitting makes the count unknown
/// up front).
pub fn last_rect(out: &mut Vec<u8>) {
    RectHeader { rect: Rect::new(0, 0, 0, 0), encoding: encodings::LAST_RECT }.encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encode::test_images::{self, Image};
    use crate::rfb::framebuffer::{Framebuffer, ServerEvent, ServerStreamDecoder};
    use crate::rfb::messages::ServerMessage;
    use crate::rfb::PixelFormat;

    #[test]
    fn copy_rect_moves_pixels_on_the_client() {
        let img = test_images::gradient(32, 32);
        let src = img.source();
        let mut fb = Framebuffer::new(32, 32).unwrap();
        let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        let mut bytes = Vec::new();
        ServerMessage::FramebufferUpdate { rects: 2 }.encode(&mut bytes);
        super::super::raw::encode(&src, Rect::new(0, 0, 32, 32), &PixelFormat::RGB888, &mut bytes).unwrap();
        assert_eq!(copy_rect(&src, Rect::new(16, 16, 8, 8), 2, 3, &mut bytes), Ok(1));
        test_images::decode_into(&mut dec, &mut fb, &bytes);
        assert_eq!(fb.get(16, 16), img.get(2, 3));
        assert_eq!(fb.get(23, 23), img.get(9, 10));
        assert_eq!(fb.get(15, 15), img.get(15, 15));
    }

    #[test]
    fn copy_rect_checks_both_regions() {
        let img = Image::solid(16, 16, 0);
        let src = img.source();
        let mut out = Vec::new();
        assert!(copy_rect(&src, Rect::new(10, 10, 8, 8), 0, 0, &mut out).is_err());
        assert!(copy_rect(&src, Rect::new(0, 0, 8, 8), 9, 0, &mut out).is_err());
        assert_eq!(copy_rect(&src, Rect::new(0, 0, 0, 8), 16, 0, &mut out), Ok(0));
        assert!(out.is_empty());
    }

    #[test]
    fn desktop_size_and_last_rect_decode() {
        let mut fb = Framebuffer::new(8, 8).unwrap();
        let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        let mut bytes = Vec::new();
        ServerMessage::FramebufferUpdate { rects: 0xffff }.encode(&mut bytes);
        desktop_size(640, 480, &mut bytes);
        last_rect(&mut bytes);
        let events = test_images::decode_into(&mut dec, &mut fb, &bytes);
        assert_eq!(events.last(), Some(&ServerEvent::UpdateEnd));
        assert_eq!((fb.width(), fb.height()), (640, 480));
        assert_eq!(
            &bytes[4..],
            [0, 0, 0, 0, 2, 128, 1, 224, 255, 255, 255, 33, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 32]
        );
    }
}
