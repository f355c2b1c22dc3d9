//! Tight encoding (7) wire format, shared by the server's encoder and the
//! client's decoder: the compression-control byte, filter ids, the compact
//! length and the TPIXEL rule. Section names refer to rfbproto's "Tight
//! Encoding" chapter (TigerVNC/rfbproto `rfbproto.rst`).

use super::PixelFormat;

/// "the width of any Tight-encoded rectangle cannot exceed 2048 pixels".
pub const MAX_RECT_WIDTH: u16 = 2048;

/// Filtered data shorter than this is sent as is, without zlib and without
/// a length ("if the data size after applying the filter but before the
/// compression is less then 12, then the data is sent as is").
pub const MIN_TO_COMPRESS: usize = 12;

/// Largest value the 1-3 byte compact length can carry (22 bits).
pub const MAX_COMPACT_LEN: usize = (1 << 22) - 1;

/// Compression-control byte, high nibble (bits 7-4).
pub mod ctl {
    /// Bit 7 clear: BasicCompression; bits 5-4 are the zlib stream id.
    pub const BASIC: u8 = 0x00;
    /// Bit 6 in BasicCompression: a filter-id byte follows.
    pub const READ_FILTER_ID: u8 = 0x40;
    /// `1000`: FillCompression, one TPIXEL for the whole rectangle.
    pub const FILL: u8 = 0x80;
    /// `1001`: JpegCompression, compact length + JFIF data.
    pub const JPEG: u8 = 0x90;
    /// Bits 3-0: reset zlib stream `i` before decoding this rectangle
    /// ("even if the compression type is FillCompression or JpegCompression").
    pub const RESET_MASK: u8 = 0x0f;
}

/// Filter ids (the byte after the control byte when READ_FILTER_ID is set).
pub mod filter {
    pub const COPY: u8 = 0;
    pub const PALETTE: u8 = 1;
    pub const GRADIENT: u8 = 2;
}

/// Whether pixels travel as 3-byte TPIXELs (R, G, B) rather than PIXELs:
/// true colour, 32 bpp, depth 24, every channel exactly 8 bits wide. This
/// is what noVNC asks for.
pub fn uses_tpixel(format: &PixelFormat) -> bool {
    format.true_colour
        && format.bits_per_pixel == 32
        && format.depth == 24
        && format.red_max == 255
        && format.green_max == 255
        && format.blue_max == 255
}

/// Bytes per TPIXEL for `format`.
pub fn tpixel_len(format: &PixelFormat) -> usize {
    if uses_tpixel(format) {
        3
    } else {
        format.bytes_per_pixel()
    }
}

/// Appends the compact representation of `len` (spec: "0xxxxxxx",
/// "1xxxxxxx 0yyyyyyy", "1xxxxxxx 1yyyyyyy zzzzzzzz", low bits first).
/// Returns `false`, writing nothing, if `len` needs more than 22 bits.
#[must_use]
pub fn write_compact_len(len: usize, out: &mut Vec<u8>) -> bool {
    if len > MAX_COMPACT_LEN {
        return false;
    }
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x4000 {
        out.extend_from_slice(&[(len as u8 & 0x7f) | 0x80, (len >> 7) as u8]);
    } else {
        out.extend_from_slice(&[(len as u8 & 0x7f) | 0x80, ((len >> 7) as u8 & 0x7f) | 0x80, (len >> 14) as u8]);
    }
    true
}

/// Reads a compact length from the start of `buf`: `(value, bytes used)`,
/// or `None` if `buf` ends inside it. The third byte contributes all of its
/// 8 bits, so every 1-3 byte sequence is a valid length.
pub fn read_compact_len(buf: &[u8]) -> Option<(usize, usize)> {
    let b0 = *buf.first()? as usize;
    if b0 & 0x80 == 0 {
        return Some((b0, 1));
    }
    let b1 = *buf.get(1)? as usize;
    if b1 & 0x80 == 0 {
        return Some(((b0 & 0x7f) | (b1 << 7), 2));
    }
    let b2 = *buf.get(2)? as usize;
    Some(((b0 & 0x7f) | ((b1 & 0x7f) << 7) | (b2 << 14), 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(write_compact_len(len, &mut out), "{len}");
        out
    }

    #[test]
    fn compact_length_matches_the_spec_examples_and_boundaries() {
        // The spec's own example: 10000 is 90 4E.
        assert_eq!(compact(10000), [0x90, 0x4e]);
        assert_eq!(compact(0), [0]);
        assert_eq!(compact(127), [0x7f]);
        assert_eq!(compact(128), [0x80, 0x01]);
        assert_eq!(compact(16383), [0xff, 0x7f]);
        assert_eq!(compact(16384), [0x80, 0x80, 0x01]);
        assert_eq!(compact(MAX_COMPACT_LEN), [0xff, 0xff, 0xff]);
        let mut out = Vec::new();
        assert!(!write_compact_len(MAX_COMPACT_LEN + 1, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn compact_length_round_trips_and_short_input_is_none() {
        for len in (0..70_000).step_by(7).chain([MAX_COMPACT_LEN, 4_000_000, 16385]) {
            let bytes = compact(len);
            assert_eq!(read_compact_len(&bytes), Some((len, bytes.len())), "{len}");
            for n in 0..bytes.len() {
                assert_eq!(read_compact_len(&bytes[..n]), None, "{len} prefix {n}");
            }
        }
    }

    #[test]
    fn tpixel_only_for_depth_24_with_8_bit_channels() {
        let mut pf = PixelFormat::RGB888;
        assert_eq!(tpixel_len(&pf), 3);
        // noVNC's layout: red at bit 0. Still TPIXEL.
        pf.red_shift = 0;
        pf.blue_shift = 16;
        assert!(uses_tpixel(&pf));
        pf.depth = 32;
        assert_eq!(tpixel_len(&pf), 4);
        let mut pf16 = PixelFormat::RGB888;
        pf16.bits_per_pixel = 16;
        pf16.depth = 16;
        assert_eq!(tpixel_len(&pf16), 2);
    }
}
