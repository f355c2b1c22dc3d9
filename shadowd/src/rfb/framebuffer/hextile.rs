//! Hextile encoding (5, RFC 6143 §7.7.4), client side.
//!
//! A Hextile payload has no length field: its end is found by walking every
//! tile. [`decode`] walks twice over the same bytes — first to find the end
//! and validate every tile without touching the framebuffer (so a partial
//! rectangle is "need more bytes" and a bad one an error, with nothing
//! drawn), then to draw. The walk skips raw pixel runs without reading
//! them, so re-walking as bytes trickle in costs per tile, not per byte.

use super::Framebuffer;
use crate::rfb::hextile::{sub, TILE};
use crate::rfb::messages::{Rect, RectHeader};
use crate::rfb::wire::{need, Reader};
use crate::rfb::{PixelFormat, ProtocolError};

pub fn decode(
    header: &RectHeader,
    format: &PixelFormat,
    buf: &[u8],
    fb: &mut Framebuffer,
) -> Result<Option<usize>, ProtocolError> {
    fb.check(&header.rect, header.encoding)?;
    let Some(len) = walk(header.rect, format, buf, None)? else {
        return Ok(None);
    };
    walk(header.rect, format, &buf[..len], Some(fb))?;
    Ok(Some(len))
}

/// Walks the tiles of `rect` in `buf`, drawing them into `fb` if given.
/// Returns the payload length, `None` if `buf` ends early.
fn walk(
    rect: Rect,
    format: &PixelFormat,
    buf: &[u8],
    mut fb: Option<&mut Framebuffer>,
) -> Result<Option<usize>, ProtocolError> {
    let bpp = format.bytes_per_pixel();
    let mut r = Reader::new(buf);
    let (mut bg, mut fg) = (None::<u32>, 0u32);
    for ty in (rect.y..rect.y + rect.h).step_by(TILE as usize) {
        let th = TILE.min(rect.y + rect.h - ty);
        for tx in (rect.x..rect.x + rect.w).step_by(TILE as usize) {
            let tw = TILE.min(rect.x + rect.w - tx);
            let tile = Rect::new(tx, ty, tw, th);
            let mask = need!(r.u8());
            if mask & sub::RAW != 0 {
                let pixels = need!(r.bytes(tw as usize * th as usize * bpp));
                if let Some(fb) = fb.as_deref_mut() {
                    for (dy, row) in pixels.chunks_exact(tw as usize * bpp).enumerate() {
                        for (px, b) in fb.row_mut(tx, ty + dy as u16, tw).iter_mut().zip(row.chunks_exact(bpp)) {
                            *px = format.pixel_to_rgb(b);
                        }
                    }
                }
                continue;
            }
            if mask & sub::BACKGROUND_SPECIFIED != 0 {
                bg = Some(format.pixel_to_rgb(need!(r.bytes(bpp))));
            }
            // "The first non-raw tile in a rectangle must have this bit set."
            let Some(bg) = bg else {
                return Err(ProtocolError::InvalidValue {
                    what: "Hextile tile without a background",
                    value: mask as i64,
                });
            };
            let coloured = mask & sub::SUBRECTS_COLOURED != 0;
            if mask & sub::FOREGROUND_SPECIFIED != 0 {
                if coloured {
                    return Err(ProtocolError::InvalidValue {
                        what: "Hextile subencoding with both Foreground and SubrectsColoured",
                        value: mask as i64,
                    });
                }
                fg = format.pixel_to_rgb(need!(r.bytes(bpp)));
            }
            if let Some(fb) = fb.as_deref_mut() {
                fb.fill(&tile, bg);
            }
            if mask & sub::ANY_SUBRECTS == 0 {
                continue;
            }
            let n = need!(r.u8());
            for _ in 0..n {
                let colour = if coloured { format.pixel_to_rgb(need!(r.bytes(bpp))) } else { fg };
                let [xy, wh] = need!(r.array::<2>());
                let (x, y, w, h) = ((xy >> 4) as u16, (xy & 15) as u16, (wh >> 4) as u16 + 1, (wh & 15) as u16 + 1);
                if x + w > tw || y + h > th {
                    return Err(ProtocolError::InvalidValue {
                        what: "Hextile subrectangle outside its tile",
                        value: ((xy as i64) << 8) | wh as i64,
                    });
                }
                if let Some(fb) = fb.as_deref_mut() {
                    fb.fill(&Rect::new(tx + x, ty + y, w, h), colour);
                }
            }
        }
    }
    Ok(Some(r.pos()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encodings;

    fn hdr(w: u16, h: u16) -> RectHeader {
        RectHeader { rect: Rect::new(0, 0, w, h), encoding: encodings::HEXTILE }
    }

    #[test]
    fn a_hand_built_rectangle_decodes() {
        // 20x16 at 8bpp BGR233-ish (use RGB332 via raw values): two tiles.
        let pf = PixelFormat {
            bits_per_pixel: 8,
            depth: 8,
            big_endian: false,
            true_colour: true,
            red_max: 7,
            green_max: 7,
            blue_max: 3,
            red_shift: 5,
            green_shift: 2,
            blue_shift: 0,
        };
        let (red, white, blue) = (0b1110_0000_u8, 0xff_u8, 0b0000_0011_u8);
        let mut b =
            vec![sub::BACKGROUND_SPECIFIED | sub::FOREGROUND_SPECIFIED | sub::ANY_SUBRECTS, white, red, 1, 0x11, 0x10];
        // Second tile (4x16): background carried over, one coloured subrect.
        b.extend_from_slice(&[sub::ANY_SUBRECTS | sub::SUBRECTS_COLOURED, 1, blue, 0x30, 0x0f]);
        let mut fb = Framebuffer::new(20, 16).unwrap();
        assert_eq!(decode(&hdr(20, 16), &pf, &b, &mut fb), Ok(Some(b.len())));
        assert_eq!(fb.get(0, 0), 0xffffff);
        assert_eq!((fb.get(1, 1), fb.get(2, 1), fb.get(1, 2)), (0xff0000, 0xff0000, 0xffffff));
        assert_eq!((fb.get(19, 0), fb.get(19, 15), fb.get(18, 0)), (0x0000ff, 0x0000ff, 0xffffff));
        for n in 0..b.len() {
            assert_eq!(decode(&hdr(20, 16), &pf, &b[..n], &mut fb), Ok(None), "prefix {n}");
        }
    }

    #[test]
    fn malformed_tiles_are_errors_before_drawing() {
        let pf = PixelFormat::RGB888;
        let mut fb = Framebuffer::new(16, 16).unwrap();
        let bad = |b: &[u8], fb: &mut Framebuffer| decode(&hdr(4, 4), &pf, b, fb).unwrap_err().to_string();
        assert!(bad(&[0], &mut fb).contains("without a background"));
        assert!(bad(&[sub::ANY_SUBRECTS, 1, 0, 0], &mut fb).contains("without a background"));
        let m = sub::BACKGROUND_SPECIFIED | sub::ANY_SUBRECTS;
        // A 2x1 subrect at x=3 of a 4-wide tile.
        assert!(bad(&[m, 1, 2, 3, 0, 1, 0x30, 0x10], &mut fb).contains("outside its tile"));
        let m = sub::BACKGROUND_SPECIFIED | sub::FOREGROUND_SPECIFIED | sub::SUBRECTS_COLOURED;
        assert!(bad(&[m, 1, 2, 3, 0, 1, 2, 3, 0], &mut fb).contains("both"));
        assert!(fb.pixels().iter().all(|&p| p == 0));
        // Outside the framebuffer: an error before any payload arrives.
        let e = decode(&RectHeader { rect: Rect::new(10, 10, 8, 8), encoding: 5 }, &pf, &[], &mut fb);
        assert!(matches!(e, Err(ProtocolError::RectOutOfBounds { .. })));
    }
}
