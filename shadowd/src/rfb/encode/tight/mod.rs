//! Tight encoding (7), server side (rfbproto "Tight Encoding").
//!
//! Each rectangle is split to Tight's limits (at most 2048 wide, and at most
//! [`MAX_SUBRECT_PIXELS`] so one rectangle's data stays far below the
//! 22-bit compact length) and each piece is sent as the cheapest of:
//! - **Fill** — one colour: a TPIXEL, 4 bytes for any area;
//! - **Palette, 2 colours** — 1 bit per pixel, zlib stream 1;
//! - **Palette, 3..=N colours** — 1 byte per pixel, zlib stream 2;
//! - **JPEG** — many colours, when the client sent a quality level and
//!   has 16 or 32 bpp (the spec's conditions) and the piece is big enough
//!   for JPEG's headers to pay off;
//! - **Basic, copy filter** — TPIXELs through zlib stream 0.
//!
//! The stream roles follow libvncserver/TigerVNC (0 full colour, 1 mono,
//! 2 indexed): each stream's history then holds similar data. The gradient
//! filter is never sent: noVNC cannot decode it.

mod jpeg;
mod palette;
mod zlib;

use super::pixel::PixelWriter;
use super::{EncodeError, Source};
use crate::rfb::messages::{Rect, RectHeader};
use crate::rfb::tight::{ctl, filter, tpixel_len, write_compact_len, MAX_COMPACT_LEN, MAX_RECT_WIDTH, MIN_TO_COMPRESS};
use crate::rfb::{encodings, PixelFormat};
use palette::Palette;

/// Largest piece a rectangle is split into (libvncserver's largest
/// `maxRectSize`). 64 Ki pixels of TPIXELs is 192 KiB before compression.
pub const MAX_SUBRECT_PIXELS: usize = 65536;

/// Zlib level when the client sent no compression level: TigerVNC's and
/// noVNC's default, cheap on CPU.
pub const DEFAULT_COMPRESS_LEVEL: u8 = 2;

/// Below this many pixels a many-colour piece goes through zlib, not JPEG:
/// JPEG's tables alone are ~600 bytes.
pub const MIN_JPEG_PIXELS: u64 = 1024;

/// With JPEG on, palettes are used up to this many colours (more and JPEG
/// wins); TigerVNC's EncodeManager uses 96, or 24 at compression levels
/// below 2.
const JPEG_PALETTE_MAX: usize = 96;
const JPEG_PALETTE_MAX_FAST: usize = 24;

const STREAM_FULL_COLOUR: usize = 0;
const STREAM_MONO: usize = 1;
const STREAM_INDEXED: usize = 2;

/// What the client asked for in SetEncodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TightOptions {
    /// JPEG quality level 0..=9; `None`: JPEG is never used (spec: "If the
    /// JPEG quality level is not specified, JpegCompression is not used").
    pub jpeg_quality: Option<u8>,
    /// Compression level 0..=9, used as the zlib level. 0 still sends zlib
    /// framing (stored blocks): the spec always inflates data of 12 bytes or
    /// more, so "no compression" cannot drop zlib.
    pub compress_level: u8,
}

impl Default for TightOptions {
    fn default() -> Self {
        TightOptions { jpeg_quality: None, compress_level: DEFAULT_COMPRESS_LEVEL }
    }
}

/// Per-client Tight state: the zlib streams (which must stay in step with
/// the client's) and scratch buffers reused across rectangles.
#[derive(Debug, Default)]
pub struct TightState {
    streams: zlib::Streams,
    pixels: Vec<u32>,
    filtered: Vec<u8>,
    compressed: Vec<u8>,
}

impl TightState {
    pub fn new() -> Self {
        TightState::default()
    }

    /// Forgets all zlib history: every stream is restarted, with its reset
    /// bit set, the next time it is used.
    pub fn reset(&mut self) {
        self.streams.reset();
    }
}

/// Appends `rect` of `src` as Tight rectangles; returns how many.
pub fn encode(
    src: &Source,
    rect: Rect,
    format: &PixelFormat,
    opts: &TightOptions,
    state: &mut TightState,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    src.check(&rect)?;
    let writer = PixelWriter::new(format)?;
    let start = out.len();
    let mut count = 0;
    for piece in split(rect) {
        if let Err(e) = encode_piece(src, piece, &writer, opts, state, out) {
            // The caller drops this rectangle: stream history it advanced
            // would never reach the client, so restart the streams.
            out.truncate(start);
            state.reset();
            return Err(e);
        }
        count += 1;
    }
    Ok(count)
}

/// `rect` cut into pieces at most 2048 wide and [`MAX_SUBRECT_PIXELS`] in
/// area, in rows that are multiples of 16 (JPEG's MCU height; at most 2048
/// wide leaves at least 32 rows). Empty rectangles give no pieces.
pub fn split(rect: Rect) -> impl Iterator<Item = Rect> {
    let max_w = MAX_RECT_WIDTH as u32;
    let piece_w = (rect.w as u32).clamp(1, max_w);
    let rows = (MAX_SUBRECT_PIXELS as u32 / piece_w) / 16 * 16;
    let (x0, y0, w, h) = (rect.x as u32, rect.y as u32, rect.w as u32, rect.h as u32);
    (0..h.div_ceil(rows)).flat_map(move |r| {
        (0..w.div_ceil(max_w)).map(move |c| {
            let (x, y) = (x0 + c * max_w, y0 + r * rows);
            Rect::new(x as u16, y as u16, (x0 + w - x).min(max_w) as u16, (y0 + h - y).min(rows) as u16)
        })
    })
}

fn encode_piece(
    src: &Source,
    rect: Rect,
    writer: &PixelWriter,
    opts: &TightOptions,
    state: &mut TightState,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    RectHeader { rect, encoding: encodings::TIGHT }.encode(out);
    state.pixels.clear();
    for row in src.rows(rect) {
        state.pixels.extend(row.iter().map(|&p| writer.raw(p)));
    }
    let bpp = writer.format().bits_per_pixel;
    let jpeg = opts.jpeg_quality.filter(|_| matches!(bpp, 16 | 32) && rect.area() >= MIN_JPEG_PIXELS);
    let palette_max = match (jpeg, bpp) {
        (Some(_), _) if opts.compress_level < 2 => JPEG_PALETTE_MAX_FAST,
        (Some(_), _) => JPEG_PALETTE_MAX,
        // One-byte pixels gain nothing from one-byte indices; 1 bit still pays.
        (None, 8) => 2,
        (None, _) => 256,
    };
    let level = opts.compress_level;
    // A palette must also pay for itself against plain TPIXELs (it cannot
    // for tiny rectangles at low depth).
    let tpx = tpixel_len(writer.format());
    let (w, area) = (rect.w as usize, rect.area() as usize);
    let pays = |p: &Palette| {
        let n = p.colours().len();
        let data = if n <= 2 { w.div_ceil(8) * rect.h as usize } else { area };
        n == 1 || 2 + n * tpx + data < area * tpx
    };
    match Palette::build(&state.pixels, palette_max).filter(pays) {
        Some(p) if p.colours().len() == 1 => {
            out.push(ctl::FILL);
            writer.put_tpixel(p.colours()[0], out);
            Ok(())
        }
        Some(p) => {
            let stream = if p.colours().len() == 2 { STREAM_MONO } else { STREAM_INDEXED };
            state.filtered.clear();
            p.indices(&state.pixels, rect.w as usize, &mut state.filtered);
            let mut head = vec![filter::PALETTE, (p.colours().len() - 1) as u8];
            for &c in p.colours() {
                writer.put_tpixel(c, &mut head);
            }
            basic(state, stream, level, ctl::READ_FILTER_ID, &head, out)
        }
        None if jpeg.is_some() => {
            out.push(ctl::JPEG);
            state.compressed.clear();
            jpeg::encode(src, rect, jpeg.unwrap_or(0), &mut state.filtered, &mut state.compressed)?;
            put_compact(&state.compressed, "JPEG data", out)
        }
        None => {
            state.filtered.clear();
            for &px in &state.pixels {
                writer.put_tpixel(px, &mut state.filtered);
            }
            basic(state, STREAM_FULL_COLOUR, level, 0, &[], out)
        }
    }
}

/// BasicCompression of `state.filtered`: control byte (stream, reset bit,
/// `flags`), `head` (filter id and palette), then the data, raw if shorter
/// than 12 bytes, else compact length + zlib.
fn basic(
    state: &mut TightState,
    stream: usize,
    level: u8,
    flags: u8,
    head: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let id_bits = (stream as u8) << 4;
    if state.filtered.len() < MIN_TO_COMPRESS {
        // Not compressed, so the stream is not touched: no reset needed.
        out.push(ctl::BASIC | id_bits | flags);
        out.extend_from_slice(head);
        out.extend_from_slice(&state.filtered);
        return Ok(());
    }
    let reset = state.streams.prepare(stream, level);
    out.push(ctl::BASIC | id_bits | flags | reset);
    out.extend_from_slice(head);
    state.compressed.clear();
    state.streams.compress(stream, &state.filtered, &mut state.compressed)?;
    put_compact(&state.compressed, "zlib data", out)
}

fn put_compact(data: &[u8], what: &'static str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if !write_compact_len(data.len(), out) {
        return Err(EncodeError::TooLong { what, len: data.len() as u64, max: MAX_COMPACT_LEN as u64 });
    }
    out.extend_from_slice(data);
    Ok(())
}

#[cfg(test)]
mod tests;
