//! Cursor pseudo-encoding (-239, RFC 6143 §7.8.1): the client draws the
//! pointer itself, so it is not painted into the framebuffer. The payload is
//! `w*h` pixels in the client's format, then a 1-bit mask (MSB = leftmost,
//! rows padded to whole bytes, 1 = opaque). The rectangle's x/y are the
//! hotspot.

use super::pixel::PixelWriter;
use super::EncodeError;
use crate::rfb::encodings;
use crate::rfb::framebuffer::cursor::MAX_CURSOR_DIM;
use crate::rfb::messages::{Rect, RectHeader};
use crate::rfb::PixelFormat;

/// A cursor image as X (XFixesGetCursorImage) gives it: `width*height`
/// ARGB pixels, row-major.
#[derive(Debug, Clone, Copy)]
pub struct CursorImage<'a> {
    pub width: u16,
    pub height: u16,
    pub hot_x: u16,
    pub hot_y: u16,
    pub argb: &'a [u32],
    /// XFixes cursors are premultiplied by alpha: colours are divided back
    /// out so half-transparent edges are not drawn darker.
    pub premultiplied: bool,
}

/// RFB has only a 1-bit mask: pixels at least half opaque are shown.
const ALPHA_THRESHOLD: u32 = 128;

/// Appends one Cursor pseudo-rectangle (header + payload). A 0x0 cursor is
/// valid and hides the pointer.
pub fn encode(cursor: &CursorImage, format: &PixelFormat, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    let writer = PixelWriter::new(format)?;
    let (w, h) = (cursor.width, cursor.height);
    // The same cap our client applies: any real cursor is far smaller.
    for (what, v) in [("cursor width", w), ("cursor height", h)] {
        if v > MAX_CURSOR_DIM {
            return Err(EncodeError::TooLong { what, len: v as u64, max: MAX_CURSOR_DIM as u64 });
        }
    }
    if cursor.argb.len() != w as usize * h as usize {
        return Err(EncodeError::BadSource("cursor pixel count is not width * height"));
    }
    RectHeader { rect: Rect::new(cursor.hot_x, cursor.hot_y, w, h), encoding: encodings::CURSOR }.encode(out);
    let mask_row = (w as usize).div_ceil(8);
    let mut mask = vec![0u8; mask_row * h as usize];
    for (i, &argb) in cursor.argb.iter().enumerate() {
        let (x, y) = (i % w as usize, i / w as usize);
        let alpha = argb >> 24;
        let rgb = if alpha < ALPHA_THRESHOLD {
            0
        } else {
            mask[y * mask_row + x / 8] |= 0x80 >> (x % 8);
            if cursor.premultiplied && alpha < 255 {
                let un = |c: u32| ((c & 0xff) * 255 / alpha).min(255);
                un(argb >> 16) << 16 | un(argb >> 8) << 8 | un(argb)
            } else {
                argb & 0xffffff
            }
        };
        writer.put_raw(writer.raw(rgb), out);
    }
    out.extend_from_slice(&mask);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encode::pixel::formats;
    use crate::rfb::encode::test_images;

    #[test]
    fn pixels_then_mask_msb_first() {
        // 10x2: row 0 opaque red except x=9 transparent; row 1 transparent
        // except x=8, half-transparent premultiplied grey.
        let mut argb = vec![0xffff0000u32; 10];
        argb[9] = 0x00ffffff;
        argb.extend(std::iter::repeat_n(0u32, 10));
        argb[18] = 0x80404040;
        let c = CursorImage { width: 10, height: 2, hot_x: 3, hot_y: 1, argb: &argb, premultiplied: true };
        let mut out = Vec::new();
        assert_eq!(encode(&c, &PixelFormat::RGB888, &mut out), Ok(1));
        assert_eq!(&out[..12], [0, 3, 0, 1, 0, 10, 0, 2, 255, 255, 255, 17]);
        let pixels = &out[12..12 + 80];
        assert_eq!(&pixels[..4], [0, 0, 0xff, 0]);
        assert_eq!(&pixels[36..40], [0, 0, 0, 0], "transparent pixels are sent black");
        assert_eq!(&pixels[72..76], [0x7f, 0x7f, 0x7f, 0], "premultiplied 0x40 at alpha 0x80 is 0x7f");
        assert_eq!(&out[92..], [0xff, 0x80, 0x00, 0x80]);
        // The client's decoder consumes exactly this.
        let bytes = &out[12..];
        let header = RectHeader::decode(&out[..12]).unwrap().unwrap().0;
        let n = crate::rfb::framebuffer::cursor::decode(&header, &PixelFormat::RGB888, bytes).unwrap();
        assert_eq!(n, Some(bytes.len()));
    }

    #[test]
    fn cursors_decode_in_every_format_and_bad_ones_are_errors() {
        let argb: Vec<u32> = (0..24 * 24).map(|i| 0xff000000 | test_images::noise_fn(3)(i, 0)).collect();
        for pf in formats::ALL {
            let c = CursorImage { width: 24, height: 24, hot_x: 0, hot_y: 0, argb: &argb, premultiplied: false };
            let mut out = Vec::new();
            encode(&c, &pf, &mut out).unwrap();
            assert_eq!(out.len(), 12 + 24 * 24 * pf.bytes_per_pixel() + 3 * 24);
            let fb = test_images::decode_all(&pf, 1, 1, &out);
            assert_eq!(fb.get(0, 0), 0, "a cursor does not draw into the framebuffer");
        }
        let mut out = Vec::new();
        let c = CursorImage { width: 0, height: 0, hot_x: 0, hot_y: 0, argb: &[], premultiplied: false };
        assert_eq!(encode(&c, &PixelFormat::RGB888, &mut out), Ok(1));
        assert_eq!(out.len(), 12);
        out.clear();
        let c = CursorImage { width: 2, height: 2, hot_x: 0, hot_y: 0, argb: &[0; 3], premultiplied: false };
        assert!(matches!(encode(&c, &PixelFormat::RGB888, &mut out), Err(EncodeError::BadSource(_))));
        let big = vec![0u32; 2000];
        let c = CursorImage { width: 2000, height: 1, hot_x: 0, hot_y: 0, argb: &big, premultiplied: false };
        assert!(matches!(encode(&c, &PixelFormat::RGB888, &mut out), Err(EncodeError::TooLong { .. })));
        assert!(out.is_empty());
    }
}
