//! `0x00RRGGBB` -> the client's pixel values, fast enough for every pixel of
//! every frame: three 256-entry tables built once per rectangle from
//! [`PixelFormat::rgb_to_raw`], so results are exactly that function's.

use super::EncodeError;
use crate::rfb::tight;
use crate::rfb::PixelFormat;

/// Refuses formats the encoders cannot produce (colour maps).
pub(crate) fn check_format(format: &PixelFormat) -> Result<(), EncodeError> {
    if !format.true_colour {
        return Err(EncodeError::UnsupportedPixelFormat("colour-map pixel formats are not supported"));
    }
    if !matches!(format.bits_per_pixel, 8 | 16 | 32) {
        return Err(EncodeError::UnsupportedPixelFormat("bits-per-pixel must be 8, 16 or 32"));
    }
    Ok(())
}

pub(crate) struct PixelWriter {
    format: PixelFormat,
    bpp: usize,
    /// The raw value is the RGB value itself (RGB888's layout): no tables.
    identity: bool,
    red: [u32; 256],
    green: [u32; 256],
    blue: [u32; 256],
}

impl PixelWriter {
    pub(crate) fn new(format: &PixelFormat) -> Result<Self, EncodeError> {
        check_format(format)?;
        let identity = format.bits_per_pixel == 32
            && (format.red_max, format.green_max, format.blue_max) == (255, 255, 255)
            && (format.red_shift, format.green_shift, format.blue_shift) == (16, 8, 0);
        let mut w = PixelWriter {
            format: *format,
            bpp: format.bytes_per_pixel(),
            identity,
            red: [0; 256],
            green: [0; 256],
            blue: [0; 256],
        };
        if !identity {
            for v in 0..256u32 {
                w.red[v as usize] = format.rgb_to_raw(v << 16);
                w.green[v as usize] = format.rgb_to_raw(v << 8);
                w.blue[v as usize] = format.rgb_to_raw(v);
            }
        }
        Ok(w)
    }

    pub(crate) fn format(&self) -> &PixelFormat {
        &self.format
    }

    pub(crate) fn bytes_per_pixel(&self) -> usize {
        self.bpp
    }

    /// The client's raw pixel value for `rgb` (top byte ignored).
    #[inline]
    pub(crate) fn raw(&self, rgb: u32) -> u32 {
        if self.identity {
            rgb & 0x00ff_ffff
        } else {
            self.red[(rgb >> 16 & 0xff) as usize]
                | self.green[(rgb >> 8 & 0xff) as usize]
                | self.blue[(rgb & 0xff) as usize]
        }
    }

    /// Appends a raw value as one wire PIXEL.
    #[inline]
    pub(crate) fn put_raw(&self, raw: u32, out: &mut Vec<u8>) {
        self.format.write_raw(raw, out);
    }

    /// Appends `rgb` pixels as wire PIXELs.
    pub(crate) fn put_rgb_row(&self, row: &[u32], out: &mut Vec<u8>) {
        if self.identity && !self.format.big_endian {
            out.reserve(row.len() * 4);
            for &p in row {
                out.extend_from_slice(&(p & 0x00ff_ffff).to_le_bytes());
            }
        } else {
            out.reserve(row.len() * self.bpp);
            for &p in row {
                self.put_raw(self.raw(p), out);
            }
        }
    }

    /// Appends a raw value as a Tight TPIXEL: R, G, B bytes when the format
    /// qualifies (every channel is 8 bits, so the channel value is the
    /// byte), else the ordinary PIXEL.
    #[inline]
    pub(crate) fn put_tpixel(&self, raw: u32, out: &mut Vec<u8>) {
        if tight::uses_tpixel(&self.format) {
            let f = &self.format;
            out.extend_from_slice(&[
                (raw >> f.red_shift) as u8,
                (raw >> f.green_shift) as u8,
                (raw >> f.blue_shift) as u8,
            ]);
        } else {
            self.put_raw(raw, out);
        }
    }
}

#[cfg(test)]
pub(crate) mod formats {
    //! The pixel formats every encoder is tested with.
    use crate::rfb::PixelFormat;

    /// noVNC's: 32 bpp depth 24, red at bit 0.
    pub const NOVNC: PixelFormat = PixelFormat { red_shift: 0, blue_shift: 16, ..PixelFormat::RGB888 };
    pub const BGR888_BE: PixelFormat =
        PixelFormat { big_endian: true, red_shift: 0, blue_shift: 16, ..PixelFormat::RGB888 };
    pub const RGB565: PixelFormat = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };
    pub const RGB555_BE: PixelFormat = PixelFormat {
        bits_per_pixel: 16,
        depth: 15,
        big_endian: true,
        true_colour: true,
        red_max: 31,
        green_max: 31,
        blue_max: 31,
        red_shift: 10,
        green_shift: 5,
        blue_shift: 0,
    };
    pub const BGR233: PixelFormat = PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: true,
        red_max: 7,
        green_max: 7,
        blue_max: 3,
        red_shift: 0,
        green_shift: 3,
        blue_shift: 6,
    };

    pub const ALL: [PixelFormat; 6] = [PixelFormat::RGB888, NOVNC, BGR888_BE, RGB565, RGB555_BE, BGR233];

    /// What a client in `format` shows for `rgb`: quantised to its depth.
    pub fn seen(format: &PixelFormat, rgb: u32) -> u32 {
        format.raw_to_rgb(format.rgb_to_raw(rgb & 0xffffff))
    }
}

#[cfg(test)]
mod tests {
    use super::formats::*;
    use super::*;

    #[test]
    fn tables_agree_with_rgb_to_raw() {
        for pf in ALL {
            let w = PixelWriter::new(&pf).unwrap();
            for rgb in (0..=0xffffffu32).step_by(4099).chain([0, 0xffffff, 0xff123456]) {
                assert_eq!(w.raw(rgb), pf.rgb_to_raw(rgb & 0xffffff), "{pf:?} {rgb:06x}");
                let mut a = Vec::new();
                let mut b = Vec::new();
                w.put_rgb_row(&[rgb], &mut a);
                pf.write_raw(pf.rgb_to_raw(rgb & 0xffffff), &mut b);
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn tpixels_are_red_green_blue_bytes() {
        for pf in [PixelFormat::RGB888, NOVNC, BGR888_BE] {
            let w = PixelWriter::new(&pf).unwrap();
            let mut out = Vec::new();
            w.put_tpixel(w.raw(0x123456), &mut out);
            assert_eq!(out, [0x12, 0x34, 0x56], "{pf:?}");
        }
        let w = PixelWriter::new(&RGB565).unwrap();
        let mut out = Vec::new();
        w.put_tpixel(0xf800, &mut out);
        assert_eq!(out, [0x00, 0xf8]);
    }
}
