//! Hextile encoding (5, RFC 6143 §7.7.4): 16x16 tiles, each either raw or a
//! background plus subrectangles (one foreground colour, or coloured).
//!
//! Colours are compared as the client's pixel values, so colours that a
//! low-depth client cannot tell apart merge into bigger subrectangles.
//!
//! Background/foreground carry-over is used conservatively, because
//! decoders disagree on what survives which tile:
//! - the first non-raw tile of every rectangle specifies its background
//!   (the spec requires it);
//! - after a raw tile both colours are re-specified: noVNC *ignores* a
//!   tile with subencoding 0 (nothing specified, no subrects) that follows
//!   a raw tile, leaving it undrawn;
//! - after a SubrectsColoured tile the foreground is re-specified:
//!   libvncclient overwrites its foreground with each coloured subrect.

use super::pixel::PixelWriter;
use super::{EncodeError, Source};
use crate::rfb::encodings;
use crate::rfb::hextile::{sub, TILE};
use crate::rfb::messages::{Rect, RectHeader};
use crate::rfb::PixelFormat;

/// Appends `rect` of `src` as one Hextile rectangle; 0 rectangles if empty.
pub fn encode(src: &Source, rect: Rect, format: &PixelFormat, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    src.check(&rect)?;
    let writer = PixelWriter::new(format)?;
    if rect.area() == 0 {
        return Ok(0);
    }
    RectHeader { rect, encoding: encodings::HEXTILE }.encode(out);
    let mut carry = Carry::default();
    let mut tile = [0u32; (TILE * TILE) as usize];
    let mut subrects = Vec::with_capacity(255);
    for ty in (rect.y..rect.y + rect.h).step_by(TILE as usize) {
        let th = TILE.min(rect.y + rect.h - ty);
        for tx in (rect.x..rect.x + rect.w).step_by(TILE as usize) {
            let tw = TILE.min(rect.x + rect.w - tx);
            let n = tw as usize * th as usize;
            for (dy, row) in src.rows(Rect::new(tx, ty, tw, th)).enumerate() {
                for (dx, &p) in row.iter().enumerate() {
                    tile[dy * tw as usize + dx] = writer.raw(p);
                }
            }
            encode_tile(&tile[..n], tw as usize, th as usize, &writer, &mut carry, &mut subrects, out);
        }
    }
    Ok(1)
}

/// Background and foreground the client is known to hold from the previous
/// tile of this rectangle (`None`: unknown, must be specified).
#[derive(Debug, Default)]
struct Carry {
    bg: Option<u32>,
    fg: Option<u32>,
}

/// A subrectangle inside a tile: colour and geometry (x, y, w, h <= 16).
#[derive(Debug, Clone, Copy)]
struct Subrect {
    colour: u32,
    x: u8,
    y: u8,
    w: u8,
    h: u8,
}

fn encode_tile(
    tile: &[u32],
    tw: usize,
    th: usize,
    writer: &PixelWriter,
    carry: &mut Carry,
    subrects: &mut Vec<Subrect>,
    out: &mut Vec<u8>,
) {
    let bpp = writer.bytes_per_pixel();
    let raw_len = 1 + tile.len() * bpp;
    let (bg, fg, colours) = analyse(tile);
    let mono = colours <= 2;
    // Byte budget for the subrect list: whatever keeps the tile smaller
    // than raw. Past it (or past 255 subrects), the tile goes raw.
    let mut budget = raw_len.saturating_sub(2 + 2 * bpp);
    subrects.clear();
    if colours > 1 {
        // The search paints over what it covered: work on a copy, since
        // the tile may still go out raw.
        let mut work = [0u32; (TILE * TILE) as usize];
        let work = &mut work[..tile.len()];
        work.copy_from_slice(tile);
        if !find_subrects(work, tw, th, bg, if mono { 2 } else { 2 + bpp }, &mut budget, subrects) {
            return raw_tile(tile, writer, carry, out);
        }
    }
    let mut mask = 0u8;
    let mut body = Vec::with_capacity(2 * bpp + 1);
    if carry.bg != Some(bg) {
        mask |= sub::BACKGROUND_SPECIFIED;
        writer.put_raw(bg, &mut body);
        carry.bg = Some(bg);
    }
    if !subrects.is_empty() {
        mask |= sub::ANY_SUBRECTS;
        if mono {
            if carry.fg != Some(fg) {
                mask |= sub::FOREGROUND_SPECIFIED;
                writer.put_raw(fg, &mut body);
                carry.fg = Some(fg);
            }
        } else {
            mask |= sub::SUBRECTS_COLOURED;
            carry.fg = None;
        }
    }
    let len =
        1 + body.len() + if subrects.is_empty() { 0 } else { 1 + subrects.len() * if mono { 2 } else { 2 + bpp } };
    if len >= raw_len {
        return raw_tile(tile, writer, carry, out);
    }
    out.push(mask);
    out.extend_from_slice(&body);
    if !subrects.is_empty() {
        out.push(subrects.len() as u8);
        for s in subrects.iter() {
            if !mono {
                writer.put_raw(s.colour, out);
            }
            out.push(s.x << 4 | s.y);
            out.push((s.w - 1) << 4 | (s.h - 1));
        }
    }
}

fn raw_tile(tile: &[u32], writer: &PixelWriter, carry: &mut Carry, out: &mut Vec<u8>) {
    out.push(sub::RAW);
    for &p in tile {
        writer.put_raw(p, out);
    }
    *carry = Carry::default();
}

/// The background (most frequent colour), a foreground (for two-colour
/// tiles: the other one) and the number of colours, counted up to 3.
fn analyse(tile: &[u32]) -> (u32, u32, usize) {
    let c0 = tile[0];
    let Some(i1) = tile.iter().position(|&p| p != c0) else {
        return (c0, c0, 1);
    };
    let c1 = tile[i1];
    let mut n0 = i1;
    let mut n1 = 0;
    let mut many = false;
    for &p in &tile[i1..] {
        if p == c0 {
            n0 += 1;
        } else if p == c1 {
            n1 += 1;
        } else {
            many = true;
            break;
        }
    }
    if !many {
        return if n0 >= n1 { (c0, c1, 2) } else { (c1, c0, 2) };
    }
    // Many colours: the most frequent one as background minimises subrects.
    let mut sorted = [0u32; (TILE * TILE) as usize];
    let sorted = &mut sorted[..tile.len()];
    sorted.copy_from_slice(tile);
    sorted.sort_unstable();
    let mut best = (0, c0);
    for run in sorted.chunk_by(|a, b| a == b) {
        if run.len() > best.0 {
            best = (run.len(), run[0]);
        }
    }
    (best.1, best.1, 3)
}

/// Covers every non-background pixel with single-colour subrectangles,
/// greedily: from each uncovered pixel in scan order take the larger of
/// the widest-then-tallest and the tallest-then-widest rectangle. Covered
/// pixels are overwritten with `bg` so they are not covered twice. Returns
/// `false` once the list would exceed `budget` bytes or 255 entries.
fn find_subrects(
    tile: &mut [u32],
    tw: usize,
    th: usize,
    bg: u32,
    cost: usize,
    budget: &mut usize,
    subrects: &mut Vec<Subrect>,
) -> bool {
    for y in 0..th {
        for x in 0..tw {
            let c = tile[y * tw + x];
            if c == bg {
                continue;
            }
            let same = |tile: &[u32], xx: usize, yy: usize| tile[yy * tw + xx] == c;
            let row_ok = |tile: &[u32], yy: usize, x1: usize| (x..x1).all(|xx| same(tile, xx, yy));
            let col_ok = |tile: &[u32], xx: usize, y1: usize| (y..y1).all(|yy| same(tile, xx, yy));
            // Widest first.
            let w1 = (x..tw).take_while(|&xx| same(tile, xx, y)).count();
            let h1 = (y..th).take_while(|&yy| row_ok(tile, yy, x + w1)).count();
            // Tallest first.
            let h2 = (y..th).take_while(|&yy| same(tile, x, yy)).count();
            let w2 = (x..tw).take_while(|&xx| col_ok(tile, xx, y + h2)).count();
            let (w, h) = if w1 * h1 >= w2 * h2 { (w1, h1) } else { (w2, h2) };
            if subrects.len() == 255 || *budget < cost {
                return false;
            }
            *budget -= cost;
            subrects.push(Subrect { colour: c, x: x as u8, y: y as u8, w: w as u8, h: h as u8 });
            for yy in y..y + h {
                tile[yy * tw + x..yy * tw + x + w].fill(bg);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encode::pixel::formats;
    use crate::rfb::encode::raw;
    use crate::rfb::encode::test_images::{self, Image};

    fn hextile(img: &Image, rect: Rect, pf: &PixelFormat) -> Vec<u8> {
        let mut out = Vec::new();
        assert_eq!(encode(&img.source(), rect, pf, &mut out).unwrap(), 1);
        out
    }

    #[test]
    fn round_trips_exactly_in_every_format_and_odd_sizes() {
        for pf in formats::ALL {
            for (w, h) in [(1, 1), (16, 16), (17, 33), (50, 20)] {
                for img in test_images::all(w + 3, h + 2) {
                    let rect = Rect::new(2, 1, w, h);
                    let out = hextile(&img, rect, &pf);
                    let fb = test_images::decode_all(&pf, img.width, img.height, &out);
                    img.assert_seen_in(&fb, rect, &pf, 0, &format!("hextile {pf:?} {} {w}x{h}", img.name));
                }
            }
        }
    }

    #[test]
    fn every_prefix_of_a_rectangle_needs_more_bytes() {
        for pf in [PixelFormat::RGB888, formats::RGB565, formats::BGR233] {
            for img in test_images::all(35, 20) {
                let rect = Rect::new(0, 0, 35, 20);
                let out = hextile(&img, rect, &pf);
                let mut fb = crate::rfb::framebuffer::Framebuffer::new(35, 20).unwrap();
                let mut dec = crate::rfb::framebuffer::ServerStreamDecoder::new(pf);
                test_images::decode_byte_by_byte(&mut dec, &mut fb, &out);
                img.assert_seen_in(&fb, rect, &pf, 0, img.name);
            }
        }
    }

    #[test]
    fn tiles_use_the_cheapest_subencoding() {
        // 32x16: two solid tiles of the same colour. First: BG specified;
        // second: nothing (carried over) -> mask 0.
        let img = Image::solid(32, 16, 0x00ff00);
        let out = hextile(&img, Rect::new(0, 0, 32, 16), &PixelFormat::RGB888);
        assert_eq!(&out[12..], [sub::BACKGROUND_SPECIFIED, 0, 0xff, 0, 0, 0]);

        // One red pixel at (3,2) on white: BG, FG, one subrect.
        let mut img = Image::solid(16, 16, 0xffffff);
        img.pixels[2 * 16 + 3] = 0xff0000;
        let out = hextile(&img, Rect::new(0, 0, 16, 16), &PixelFormat::RGB888);
        let m = sub::BACKGROUND_SPECIFIED | sub::FOREGROUND_SPECIFIED | sub::ANY_SUBRECTS;
        assert_eq!(&out[12..], [m, 255, 255, 255, 0, 0, 0, 255, 0, 1, 0x32, 0x00]);

        // Noise: every tile raw, and smaller than... nothing: exactly raw + 1/tile.
        let img = test_images::noise(32, 32);
        let out = hextile(&img, Rect::new(0, 0, 32, 32), &PixelFormat::RGB888);
        assert_eq!(out.len(), 12 + 4 * (1 + 256 * 4));
        assert_eq!(out[12], sub::RAW);
    }

    #[test]
    fn colours_are_respecified_after_raw_and_coloured_tiles() {
        // Tiles: [A][noise][A][A + B][3 colours on A][A + B][A + B].
        let noise = test_images::noise_fn(1);
        let img = Image::new("mixed", 112, 16, |x, y| match x / 16 {
            1 => noise(x, y),
            4 if y == 3 && x % 16 < 4 => 0xff0000,
            4 if y == 5 && x % 16 < 4 => 0x00ff00,
            3 | 5 | 6 if y == 7 => 0xffffff,
            _ => 0x0000aa,
        });
        let out = hextile(&img, Rect::new(0, 0, 112, 16), &PixelFormat::RGB888);
        let mut masks = Vec::new();
        let mut p = 12;
        while p < out.len() {
            let m = out[p];
            masks.push(m);
            p += 1;
            if m & sub::RAW != 0 {
                p += 256 * 4;
                continue;
            }
            p += 4 * ((m & sub::BACKGROUND_SPECIFIED != 0) as usize + (m & sub::FOREGROUND_SPECIFIED != 0) as usize);
            if m & sub::ANY_SUBRECTS != 0 {
                let n = out[p] as usize;
                p += 1 + n * if m & sub::SUBRECTS_COLOURED != 0 { 6 } else { 2 };
            }
        }
        assert_eq!(p, out.len());
        use sub::*;
        assert_eq!(
            masks,
            [
                BACKGROUND_SPECIFIED,
                RAW,
                BACKGROUND_SPECIFIED, // the same A, but never 0 right after a raw tile (noVNC)
                ANY_SUBRECTS | FOREGROUND_SPECIFIED,
                ANY_SUBRECTS | SUBRECTS_COLOURED,
                ANY_SUBRECTS | FOREGROUND_SPECIFIED, // the same B, but unknown after coloured (libvncclient)
                ANY_SUBRECTS,                        // same bg and fg: carried
            ]
        );
        let fb = test_images::decode_all(&PixelFormat::RGB888, 112, 16, &out);
        img.assert_seen_in(&fb, Rect::new(0, 0, 112, 16), &PixelFormat::RGB888, 0, "mixed");
    }

    #[test]
    fn structured_images_are_much_smaller_than_raw() {
        for img in [
            Image::solid(256, 128, 0x123456),
            test_images::two_colours(256, 128),
            test_images::text_like(256, 128),
            test_images::window(256, 128),
        ] {
            let rect = Rect::new(0, 0, img.width, img.height);
            let h = hextile(&img, rect, &PixelFormat::RGB888).len();
            let mut r = Vec::new();
            raw::encode(&img.source(), rect, &PixelFormat::RGB888, &mut r).unwrap();
            let ratio = r.len() as f64 / h as f64;
            println!("hextile {:>12}: {h:>7} bytes, raw/hextile = {ratio:.1}", img.name);
            assert!(ratio > 1.5, "{}: ratio {ratio:.2}", img.name);
        }
        // Never more than one byte per tile worse than raw.
        let img = test_images::noise(256, 128);
        let rect = Rect::new(0, 0, 256, 128);
        assert_eq!(hextile(&img, rect, &PixelFormat::RGB888).len(), 12 + 16 * 8 * (1 + 256 * 4));
    }

    #[test]
    fn bad_rects_are_errors() {
        let img = Image::solid(8, 8, 0);
        let mut out = Vec::new();
        assert!(encode(&img.source(), Rect::new(0, 0, 9, 8), &PixelFormat::RGB888, &mut out).is_err());
        assert_eq!(encode(&img.source(), Rect::new(3, 3, 0, 5), &PixelFormat::RGB888, &mut out), Ok(0));
        assert!(out.is_empty());
    }
}
