//! Raw encoding (0, RFC 6143 §7.7.1): `w * h` pixels in the client's format.
//! Every client decodes it; the fallback when nothing better was offered.

use super::pixel::PixelWriter;
use super::{EncodeError, Source};
use crate::rfb::encodings;
use crate::rfb::messages::{Rect, RectHeader};
use crate::rfb::PixelFormat;

/// Appends `rect` of `src` as one Raw rectangle; 0 rectangles if empty.
pub fn encode(src: &Source, rect: Rect, format: &PixelFormat, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    src.check(&rect)?;
    let writer = PixelWriter::new(format)?;
    if rect.area() == 0 {
        return Ok(0);
    }
    RectHeader { rect, encoding: encodings::RAW }.encode(out);
    out.reserve(rect.area() as usize * writer.bytes_per_pixel());
    for row in src.rows(rect) {
        writer.put_rgb_row(row, out);
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encode::pixel::formats;
    use crate::rfb::encode::test_images::{self, Image};

    #[test]
    fn raw_round_trips_in_every_format() {
        for pf in formats::ALL {
            for img in test_images::all(37, 21) {
                let rect = Rect::new(3, 2, 30, 17);
                let mut out = Vec::new();
                assert_eq!(encode(&img.source(), rect, &pf, &mut out).unwrap(), 1);
                assert_eq!(out.len(), 12 + 30 * 17 * pf.bytes_per_pixel());
                let fb = test_images::decode_all(&pf, img.width, img.height, &out);
                img.assert_seen_in(&fb, rect, &pf, 0, &format!("raw {pf:?} {}", img.name));
            }
        }
    }

    #[test]
    fn bad_rects_are_errors_and_write_nothing() {
        let img = Image::solid(8, 8, 0x123456);
        let mut out = Vec::new();
        assert!(matches!(
            encode(&img.source(), Rect::new(4, 4, 5, 1), &PixelFormat::RGB888, &mut out),
            Err(EncodeError::RectOutOfBounds { .. })
        ));
        assert_eq!(encode(&img.source(), Rect::new(8, 8, 0, 0), &PixelFormat::RGB888, &mut out), Ok(0));
        assert_eq!(encode(&img.source(), Rect::new(0, 0, 8, 0), &PixelFormat::RGB888, &mut out), Ok(0));
        assert!(out.is_empty());
    }
}
