//! Tight encoding (7), client side (rfbproto "Tight Encoding"): Fill, JPEG
//! and BasicCompression with the copy, palette and gradient filters over
//! four persistent zlib streams.
//!
//! A rectangle is parsed in full (lengths only) before anything changes:
//! stream resets, inflating and drawing all happen once its last byte is
//! in `buf`. A partial rectangle is "need more bytes" with every zlib
//! stream untouched, so the next call starts from the same state.

use super::Framebuffer;
use crate::rfb::messages::{Rect, RectHeader};
use crate::rfb::tight::{ctl, filter, read_compact_len, tpixel_len, uses_tpixel, MAX_RECT_WIDTH, MIN_TO_COMPRESS};
use crate::rfb::wire::{need, Reader};
use crate::rfb::{PixelFormat, ProtocolError};
use flate2::{Decompress, FlushDecompress, Status};

/// The client's four zlib streams.
#[derive(Default)]
pub struct TightDecoder {
    streams: [Option<Decompress>; 4],
}

impl std::fmt::Debug for TightDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let live: Vec<bool> = self.streams.iter().map(Option::is_some).collect();
        f.debug_struct("TightDecoder").field("streams", &live).finish()
    }
}

/// What a rectangle's bytes say, borrowed from the input.
enum Body<'a> {
    Fill(&'a [u8]),
    Jpeg(&'a [u8]),
    Basic { stream: usize, filter: Filter<'a>, data: Data<'a> },
}

enum Filter<'a> {
    Copy,
    /// Palette entries as TPIXELs, 1..=256 of them.
    Palette(&'a [u8]),
    Gradient,
}

enum Data<'a> {
    /// Under 12 bytes: sent as is.
    Plain(&'a [u8]),
    Zlib(&'a [u8]),
}

impl TightDecoder {
    pub fn new() -> Self {
        TightDecoder::default()
    }

    pub fn decode(
        &mut self,
        header: &RectHeader,
        format: &PixelFormat,
        buf: &[u8],
        fb: &mut Framebuffer,
    ) -> Result<Option<usize>, ProtocolError> {
        let rect = header.rect;
        fb.check(&rect, header.encoding)?;
        if rect.w > MAX_RECT_WIDTH {
            return Err(ProtocolError::InvalidValue { what: "Tight rectangle width", value: rect.w as i64 });
        }
        let Some((control, body, len)) = parse(rect, format, buf)? else {
            return Ok(None);
        };
        // NOTE1: resets apply whatever the compression type.
        for (i, s) in self.streams.iter_mut().enumerate() {
            if control & (1 << i) != 0 {
                *s = None;
            }
        }
        match body {
            Body::Fill(px) => fb.fill(&rect, tpixel_to_rgb(format, px)),
            Body::Jpeg(data) => draw_jpeg(rect, format, data, fb)?,
            Body::Basic { stream, filter, data } => {
                let inflated;
                let bytes = match data {
                    Data::Plain(b) => b,
                    Data::Zlib(z) => {
                        let expected = filtered_len(rect, format, &filter);
                        let s = self.streams[stream].get_or_insert_with(|| Decompress::new(true));
                        inflated = inflate(s, z, expected).inspect_err(|_| self.streams[stream] = None)?;
                        &inflated[..]
                    }
                };
                draw_filtered(rect, format, &filter, bytes, fb)?;
            }
        }
        Ok(Some(len))
    }
}

/// Splits a rectangle's bytes into its parts, or `None` if `buf` ends
/// early. Returns the control byte, the body and the total length.
fn parse<'a>(rect: Rect, format: &PixelFormat, buf: &'a [u8]) -> Result<Option<(u8, Body<'a>, usize)>, ProtocolError> {
    let tpx = tpixel_len(format);
    let mut r = Reader::new(buf);
    let control = need!(r.u8());
    let kind = control & !ctl::RESET_MASK;
    let body = if kind == ctl::FILL {
        Body::Fill(need!(r.bytes(tpx)))
    } else if kind == ctl::JPEG {
        if !matches!(format.bits_per_pixel, 16 | 32) {
            return Err(ProtocolError::InvalidValue {
                what: "Tight JPEG at bits-per-pixel",
                value: format.bits_per_pixel as i64,
            });
        }
        let len = need!(compact(&mut r, buf));
        Body::Jpeg(need!(r.bytes(len)))
    } else if kind & 0x80 == 0 {
        let stream = (kind >> 4 & 3) as usize;
        let filter_id = if kind & ctl::READ_FILTER_ID != 0 { need!(r.u8()) } else { filter::COPY };
        let filter = match filter_id {
            filter::COPY => Filter::Copy,
            filter::PALETTE => {
                let n = need!(r.u8()) as usize + 1;
                Filter::Palette(need!(r.bytes(n * tpx)))
            }
            filter::GRADIENT if matches!(format.bits_per_pixel, 16 | 32) => Filter::Gradient,
            other => return Err(ProtocolError::InvalidValue { what: "Tight filter id", value: other as i64 }),
        };
        let len = filtered_len(rect, format, &filter);
        let data = if len < MIN_TO_COMPRESS {
            Data::Plain(need!(r.bytes(len)))
        } else {
            let n = need!(compact(&mut r, buf));
            Data::Zlib(need!(r.bytes(n)))
        };
        Body::Basic { stream, filter, data }
    } else {
        return Err(ProtocolError::InvalidValue { what: "Tight compression control", value: control as i64 });
    };
    Ok(Some((control, body, r.pos())))
}

/// Reads a compact length at the reader's position.
fn compact(r: &mut Reader<'_>, buf: &[u8]) -> Option<usize> {
    let (len, n) = read_compact_len(&buf[r.pos()..])?;
    r.bytes(n)?;
    Some(len)
}

/// Bytes of filtered data for `rect` (before compression).
fn filtered_len(rect: Rect, format: &PixelFormat, filter: &Filter) -> usize {
    let (w, h) = (rect.w as usize, rect.h as usize);
    match filter {
        Filter::Palette(p) if p.len() / tpixel_len(format) <= 2 => w.div_ceil(8) * h,
        Filter::Palette(_) => w * h,
        Filter::Copy | Filter::Gradient => w * h * tpixel_len(format),
    }
}

/// Inflates one rectangle's share of a stream: it must yield exactly
/// `expected` bytes using all of `data` (the server sync-flushed).
///
/// The output grows with what actually inflates rather than being reserved
/// from the rectangle's size up front: a few header bytes claiming a huge
/// rectangle must not make us allocate for it.
fn inflate(z: &mut Decompress, data: &[u8], expected: usize) -> Result<Vec<u8>, ProtocolError> {
    let bad = |what: &'static str| ProtocolError::InvalidValue { what, value: expected as i64 };
    // One spare byte to notice a server sending more than the rectangle.
    let cap = expected + 1;
    let mut out = Vec::with_capacity(cap.min(data.len().saturating_mul(4).max(4096)));
    let start = z.total_in();
    loop {
        if out.len() == out.capacity() {
            out.reserve_exact(out.capacity().min(cap - out.len()));
        }
        let consumed = (z.total_in() - start) as usize;
        let before = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(&data[consumed..], &mut out, FlushDecompress::Sync)
            .map_err(|_| bad("Tight zlib data (corrupt) for a rectangle of size"))?;
        if out.len() > expected {
            return Err(bad("Tight zlib data inflates past the rectangle's size"));
        }
        let all_in = (z.total_in() - start) as usize == data.len();
        // Done once all input is in and output had room to spare (so none
        // is held back), or the server ended the stream.
        let room = out.len() < out.capacity();
        let stuck = before == (z.total_in(), z.total_out()) && room;
        if (all_in && room) || status == Status::StreamEnd || stuck {
            break;
        }
    }
    if out.len() != expected || (z.total_in() - start) as usize != data.len() {
        return Err(bad("Tight zlib data does not inflate to the rectangle's size"));
    }
    Ok(out)
}

fn tpixel_to_rgb(format: &PixelFormat, b: &[u8]) -> u32 {
    if uses_tpixel(format) {
        (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32
    } else {
        format.pixel_to_rgb(b)
    }
}

fn draw_filtered(
    rect: Rect,
    format: &PixelFormat,
    filter: &Filter,
    data: &[u8],
    fb: &mut Framebuffer,
) -> Result<(), ProtocolError> {
    let tpx = tpixel_len(format);
    let w = rect.w as usize;
    if w == 0 || rect.h == 0 {
        return Ok(());
    }
    match filter {
        Filter::Copy => {
            for (dy, row) in data.chunks_exact(w * tpx).enumerate() {
                for (px, b) in fb.row_mut(rect.x, rect.y + dy as u16, rect.w).iter_mut().zip(row.chunks_exact(tpx)) {
                    *px = tpixel_to_rgb(format, b);
                }
            }
        }
        Filter::Palette(p) => {
            let palette: Vec<u32> = p.chunks_exact(tpx).map(|b| tpixel_to_rgb(format, b)).collect();
            let colour = |i: u8| {
                palette
                    .get(i as usize)
                    .copied()
                    .ok_or(ProtocolError::InvalidValue { what: "Tight palette index", value: i as i64 })
            };
            if palette.len() <= 2 {
                // A one-colour palette leaves index 1 undefined: check first.
                if palette.len() == 1 {
                    for row in data.chunks_exact(w.div_ceil(8)) {
                        if (0..w).any(|x| row[x / 8] >> (7 - x % 8) & 1 == 1) {
                            colour(1)?;
                        }
                    }
                }
                for (dy, row) in data.chunks_exact(w.div_ceil(8)).enumerate() {
                    let out = fb.row_mut(rect.x, rect.y + dy as u16, rect.w);
                    for (x, px) in out.iter_mut().enumerate() {
                        *px = colour(row[x / 8] >> (7 - x % 8) & 1)?;
                    }
                }
            } else {
                // Check every index first: never draw half a rectangle.
                if let Some(&i) = data.iter().find(|&&i| i as usize >= palette.len()) {
                    colour(i)?;
                }
                for (dy, row) in data.chunks_exact(w).enumerate() {
                    for (px, &i) in fb.row_mut(rect.x, rect.y + dy as u16, rect.w).iter_mut().zip(row) {
                        *px = palette[i as usize];
                    }
                }
            }
        }
        Filter::Gradient => draw_gradient(rect, format, data, fb),
    }
    Ok(())
}

/// GradientFilter: each colour component is stored as its difference from
/// `clamp(left + above - above_left, 0, max)`, modulo `max + 1`; outside the
/// rectangle components are 0.
fn draw_gradient(rect: Rect, format: &PixelFormat, data: &[u8], fb: &mut Framebuffer) {
    let tpx = tpixel_len(format);
    let (w, tpixel) = (rect.w as usize, uses_tpixel(format));
    // Per channel: (max, shift) in the wire value; TPIXELs are bytes R, G, B.
    let chans: [(u32, u32); 3] = if tpixel {
        [(255, 16), (255, 8), (255, 0)]
    } else {
        [
            (format.red_max as u32, format.red_shift as u32),
            (format.green_max as u32, format.green_shift as u32),
            (format.blue_max as u32, format.blue_shift as u32),
        ]
    };
    let mut above = vec![[0u32; 3]; w];
    let mut this = vec![[0u32; 3]; w];
    for (dy, row) in data.chunks_exact(w * tpx).enumerate() {
        let mut left = [0u32; 3];
        let mut above_left = [0u32; 3];
        for (x, b) in row.chunks_exact(tpx).enumerate() {
            let raw = if tpixel { tpixel_to_rgb(format, b) } else { format.read_raw(b) };
            for (c, &(max, shift)) in chans.iter().enumerate() {
                let predicted =
                    (left[c] as i32 + above[x][c] as i32 - above_left[c] as i32).clamp(0, max as i32) as u32;
                let v = (predicted + (raw >> shift & max)) % (max + 1);
                this[x][c] = v;
                left[c] = v;
                above_left[c] = above[x][c];
            }
        }
        for (x, px) in fb.row_mut(rect.x, rect.y + dy as u16, rect.w).iter_mut().enumerate() {
            let [r, g, b] = this[x];
            *px = if tpixel {
                r << 16 | g << 8 | b
            } else {
                format.raw_to_rgb(r << chans[0].1 | g << chans[1].1 | b << chans[2].1)
            };
        }
        std::mem::swap(&mut above, &mut this);
    }
}

/// JpegCompression: a JFIF image exactly the rectangle's size. Headers are
/// read first and the size checked before the decoder allocates pixels.
fn draw_jpeg(rect: Rect, format: &PixelFormat, data: &[u8], fb: &mut Framebuffer) -> Result<(), ProtocolError> {
    use zune_jpeg::zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let bad = |what: &'static str| ProtocolError::InvalidValue { what, value: data.len() as i64 };
    let opts = DecoderOptions::default()
        .set_max_width(rect.w.max(1) as usize)
        .set_max_height(rect.h.max(1) as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), opts);
    dec.decode_headers().map_err(|_| bad("Tight JPEG data (undecodable headers), length"))?;
    let info = dec.info().ok_or(bad("Tight JPEG data without headers, length"))?;
    if (info.width as u32, info.height as u32) != (rect.w as u32, rect.h as u32) {
        return Err(bad("Tight JPEG image whose size is not the rectangle's, length"));
    }
    let rgb = dec.decode().map_err(|_| bad("Tight JPEG data (undecodable), length"))?;
    if rgb.len() != rect.area() as usize * 3 {
        return Err(bad("Tight JPEG data with an unexpected pixel count, length"));
    }
    // A client with fewer bits per channel shows the colours it can hold.
    let exact = uses_tpixel(format);
    for (dy, row) in rgb.chunks_exact(rect.w as usize * 3).enumerate() {
        for (px, b) in fb.row_mut(rect.x, rect.y + dy as u16, rect.w).iter_mut().zip(row.chunks_exact(3)) {
            let rgb = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            *px = if exact { rgb } else { format.raw_to_rgb(format.rgb_to_raw(rgb)) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encodings;
    use crate::rfb::tight::write_compact_len;
    use flate2::{Compress, Compression, FlushCompress};

    fn hdr(w: u16, h: u16) -> RectHeader {
        RectHeader { rect: Rect::new(0, 0, w, h), encoding: encodings::TIGHT }
    }

    /// zlib with a sync flush, as a server sends it, behind a compact length.
    fn zlib(z: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut c = Vec::with_capacity(data.len() * 2 + 64);
        z.compress_vec(data, &mut c, FlushCompress::Sync).unwrap();
        let mut out = Vec::new();
        assert!(write_compact_len(c.len(), &mut out));
        out.extend_from_slice(&c);
        out
    }

    /// The GradientFilter as the spec's pseudo-code describes it, per
    /// channel of (max, shift), over raw values.
    fn gradient_filter(raw: &[u32], w: usize, chans: [(u32, u32); 3]) -> Vec<[u32; 3]> {
        let v = |x: isize, y: isize, c: usize| -> i64 {
            if x < 0 || y < 0 {
                0
            } else {
                let (max, shift) = chans[c];
                (raw[y as usize * w + x as usize] >> shift & max) as i64
            }
        };
        (0..raw.len())
            .map(|i| {
                let (x, y) = ((i % w) as isize, (i / w) as isize);
                let mut d = [0u32; 3];
                for (c, &(max, _)) in chans.iter().enumerate() {
                    let p = (v(x - 1, y, c) + v(x, y - 1, c) - v(x - 1, y - 1, c)).clamp(0, max as i64);
                    d[c] = (v(x, y, c) - p).rem_euclid(max as i64 + 1) as u32;
                }
                d
            })
            .collect()
    }

    #[test]
    fn gradient_filter_decodes_for_tpixels_and_16_bpp() {
        let (w, h) = (13u16, 7u16);
        let rgb: Vec<u32> = (0..w as u32 * h as u32).map(|i| ((i * 40503) ^ (i << 9)) & 0xffffff).collect();
        let rgb565 = PixelFormat {
            bits_per_pixel: 16,
            depth: 16,
            big_endian: true,
            true_colour: true,
            red_max: 31,
            green_max: 63,
            blue_max: 31,
            red_shift: 11,
            green_shift: 5,
            blue_shift: 0,
        };
        for pf in [PixelFormat::RGB888, rgb565] {
            let raw: Vec<u32> = rgb.iter().map(|&c| pf.rgb_to_raw(c)).collect();
            let chans = if uses_tpixel(&pf) { [(255, 16), (255, 8), (255, 0)] } else { [(31, 11), (63, 5), (31, 0)] };
            let mut data = Vec::new();
            for d in gradient_filter(&raw, w as usize, chans) {
                if uses_tpixel(&pf) {
                    data.extend_from_slice(&[d[0] as u8, d[1] as u8, d[2] as u8]);
                } else {
                    pf.write_raw(d[0] << 11 | d[1] << 5 | d[2], &mut data);
                }
            }
            let mut z = Compress::new(Compression::new(6), true);
            let mut bytes = vec![0x40 | 0x30 | 0x08, filter::GRADIENT];
            bytes.extend(zlib(&mut z, &data));
            let mut dec = TightDecoder::new();
            let mut fb = Framebuffer::new(w, h).unwrap();
            assert_eq!(dec.decode(&hdr(w, h), &pf, &bytes, &mut fb), Ok(Some(bytes.len())));
            for (i, &c) in rgb.iter().enumerate() {
                let want = pf.raw_to_rgb(pf.rgb_to_raw(c));
                assert_eq!(fb.pixels()[i], want, "{pf:?} pixel {i}");
            }
        }
    }

    #[test]
    fn hostile_rectangles_are_errors_and_draw_nothing() {
        let pf = PixelFormat::RGB888;
        let mut fb = Framebuffer::new(4096, 16).unwrap();
        let mut dec = TightDecoder::new();
        let mut err = |h: RectHeader, b: &[u8]| {
            let e = dec.decode(&h, &pf, b, &mut fb).unwrap_err().to_string();
            assert!(fb.pixels().iter().all(|&p| p == 0), "{e}: drew something");
            e
        };
        assert!(err(hdr(2049, 1), &[0x80, 1, 2, 3]).contains("width"));
        // 0xA0 is TightPNG's, not Tight's.
        assert!(err(hdr(4, 4), &[0xa0, 0]).contains("compression control"));
        assert!(err(hdr(4, 4), &[0x40, 3]).contains("filter id"));
        // 3x3 with a 3-colour palette: 9 index bytes, sent plain; index 5.
        let mut b = vec![0x60, filter::PALETTE, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3];
        b.extend_from_slice(&[0, 1, 2, 0, 5, 1, 2, 0, 1]);
        assert!(err(hdr(3, 3), &b).contains("palette index"));
        // A one-colour palette with a pixel set to index 1.
        assert!(err(hdr(8, 1), &[0x50, filter::PALETTE, 0, 9, 9, 9, 0b0001_0000]).contains("palette index"));
        // Garbage where zlib data should be.
        assert!(err(hdr(4, 4), &[0x00, 5, 1, 2, 3, 4, 5]).contains("zlib"));
        // A JPEG that is not the rectangle's size.
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 80)
            .encode(&[128; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let mut b = vec![0x90];
        assert!(write_compact_len(jpeg.len(), &mut b));
        b.extend_from_slice(&jpeg);
        assert!(err(hdr(16, 16), &b).contains("size"));
        assert!(err(hdr(16, 16), &[0x90, 3, 0xff, 0xd8, 0xff]).contains("JPEG"));
        // And the same 8x8 JPEG in an 8x8 rectangle is fine.
        assert_eq!(dec.decode(&hdr(8, 8), &pf, &b, &mut fb), Ok(Some(b.len())));
        assert_eq!(fb.get(7, 7), 0x808080);
        // JPEG and gradient need 16 or 32 bpp.
        let mut pf8 = PixelFormat::RGB888;
        pf8.bits_per_pixel = 8;
        pf8.depth = 8;
        pf8.red_max = 7;
        pf8.green_max = 7;
        pf8.blue_max = 3;
        pf8.red_shift = 0;
        pf8.green_shift = 3;
        pf8.blue_shift = 6;
        let mut fb8 = Framebuffer::new(8, 8).unwrap();
        assert!(dec.decode(&hdr(8, 8), &pf8, &b, &mut fb8).is_err());
        assert!(dec.decode(&hdr(8, 8), &pf8, &[0x40, filter::GRADIENT], &mut fb8).is_err());
    }

    #[test]
    fn resets_apply_only_once_the_whole_rectangle_is_there() {
        let pf = PixelFormat::RGB888;
        let data: Vec<u8> = (0..4 * 4 * 3).map(|i| i as u8).collect();
        let mut z = Compress::new(Compression::new(1), true);
        let mut first = vec![0x00];
        first.extend(zlib(&mut z, &data));
        let mut second = vec![0x00];
        second.extend(zlib(&mut z, &data));
        let mut dec = TightDecoder::new();
        let mut fb = Framebuffer::new(4, 4).unwrap();
        assert_eq!(dec.decode(&hdr(4, 4), &pf, &first, &mut fb), Ok(Some(first.len())));
        // A Fill rect asking to reset stream 0, cut short: nothing happens,
        // so the second zlib rect still decodes with stream 0's history.
        assert_eq!(dec.decode(&hdr(4, 4), &pf, &[0x81, 1, 2], &mut fb), Ok(None));
        assert_eq!(dec.decode(&hdr(4, 4), &pf, &second, &mut fb), Ok(Some(second.len())));
        assert_eq!(fb.get(1, 0), 0x030405);
        // Once complete, the reset happens (even on a Fill rect), and the
        // old stream's continuation no longer decodes.
        let mut third = vec![0x00];
        third.extend(zlib(&mut z, &data));
        assert_eq!(dec.decode(&hdr(4, 4), &pf, &[0x81, 1, 2, 3], &mut fb), Ok(Some(4)));
        assert_eq!(fb.get(3, 3), 0x010203);
        assert!(dec.decode(&hdr(4, 4), &pf, &third, &mut fb).is_err());
    }
}
