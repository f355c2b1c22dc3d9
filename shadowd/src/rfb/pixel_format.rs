//! PIXEL_FORMAT (RFC 6143 §7.4): how a pixel value is laid out on the wire,
//! and conversion between wire pixels and `0x00RRGGBB`.

use super::ProtocolError;

/// A 16-byte RFB pixel format. Only true-colour formats can be converted to
/// RGB here; colour-map formats decode (they are valid messages) but a server
/// should refuse them and a client never asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    pub bits_per_pixel: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub red_max: u16,
    pub green_max: u16,
    pub blue_max: u16,
    pub red_shift: u8,
    pub green_shift: u8,
    pub blue_shift: u8,
}

impl Default for PixelFormat {
    fn default() -> Self {
        Self::RGB888
    }
}

impl PixelFormat {
    pub const LEN: usize = 16;

    /// 32 bpp, depth 24, little-endian, red at bit 16: a wire pixel read as a
    /// little-endian `u32` *is* `0x00RRGGBB`. What the viewer asks for and
    /// what a 24-bit X display natively has.
    pub const RGB888: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = self.big_endian as u8;
        b[3] = self.true_colour as u8;
        b[4..6].copy_from_slice(&self.red_max.to_be_bytes());
        b[6..8].copy_from_slice(&self.green_max.to_be_bytes());
        b[8..10].copy_from_slice(&self.blue_max.to_be_bytes());
        b[10] = self.red_shift;
        b[11] = self.green_shift;
        b[12] = self.blue_shift;
        // b[13..16] is padding.
        b
    }

    /// Parses and validates the 16 bytes, so that every later per-pixel
    /// operation is total (no shift overflow, no division by zero).
    pub fn decode(b: &[u8; 16]) -> Result<Self, ProtocolError> {
        let pf = PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            // The spec says "non-zero is true"; be lenient like libvncserver.
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            red_max: u16::from_be_bytes([b[4], b[5]]),
            green_max: u16::from_be_bytes([b[6], b[7]]),
            blue_max: u16::from_be_bytes([b[8], b[9]]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        };
        pf.validate()?;
        Ok(pf)
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        if !matches!(self.bits_per_pixel, 8 | 16 | 32) {
            return Err(ProtocolError::BadPixelFormat("bits-per-pixel must be 8, 16 or 32"));
        }
        if self.depth == 0 || self.depth > self.bits_per_pixel {
            return Err(ProtocolError::BadPixelFormat("depth must be 1..=bits-per-pixel"));
        }
        if self.true_colour {
            if self.red_max == 0 || self.green_max == 0 || self.blue_max == 0 {
                return Err(ProtocolError::BadPixelFormat("a colour max is zero"));
            }
            let bpp = self.bits_per_pixel as u32;
            for (max, shift) in
                [(self.red_max, self.red_shift), (self.green_max, self.green_shift), (self.blue_max, self.blue_shift)]
            {
                let width = 16 - max.leading_zeros();
                if shift as u32 + width > bpp {
                    return Err(ProtocolError::BadPixelFormat("a colour channel does not fit in bits-per-pixel"));
                }
            }
        }
        Ok(())
    }

    pub fn bytes_per_pixel(&self) -> usize {
        self.bits_per_pixel as usize / 8
    }

    /// The raw pixel value of the first `bytes_per_pixel()` bytes.
    ///
    /// # Panics
    /// If `bytes` is shorter than one pixel (callers slice exact pixels).
    pub fn read_raw(&self, bytes: &[u8]) -> u32 {
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => bytes[0] as u32,
            (16, false) => u16::from_le_bytes([bytes[0], bytes[1]]) as u32,
            (16, true) => u16::from_be_bytes([bytes[0], bytes[1]]) as u32,
            (_, false) => u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            (_, true) => u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        }
    }

    /// Appends `raw` as one wire pixel.
    pub fn write_raw(&self, raw: u32, out: &mut Vec<u8>) {
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => out.push(raw as u8),
            (16, false) => out.extend_from_slice(&(raw as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(raw as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&raw.to_le_bytes()),
            (_, true) => out.extend_from_slice(&raw.to_be_bytes()),
        }
    }

    /// A raw true-colour pixel value as `0x00RRGGBB`, each channel scaled to
    /// 8 bits (so a 5-bit 31 becomes 255, not 248).
    pub fn raw_to_rgb(&self, raw: u32) -> u32 {
        let ch = |max: u16, shift: u8| -> u32 {
            let v = (raw >> shift) & max as u32;
            (v * 255 + max as u32 / 2) / max as u32
        };
        (ch(self.red_max, self.red_shift) << 16)
            | (ch(self.green_max, self.green_shift) << 8)
            | ch(self.blue_max, self.blue_shift)
    }

    /// `0x00RRGGBB` as a raw pixel value in this format (rounded to the
    /// channel depth): what a server encoder writes.
    pub fn rgb_to_raw(&self, rgb: u32) -> u32 {
        let ch = |c: u32, max: u16, shift: u8| -> u32 { (((c & 0xff) * max as u32 + 127) / 255) << shift };
        ch(rgb >> 16, self.red_max, self.red_shift)
            | ch(rgb >> 8, self.green_max, self.green_shift)
            | ch(rgb, self.blue_max, self.blue_shift)
    }

    /// One wire pixel as `0x00RRGGBB`.
    pub fn pixel_to_rgb(&self, bytes: &[u8]) -> u32 {
        self.raw_to_rgb(self.read_raw(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let bgr565 = PixelFormat {
            bits_per_pixel: 16,
            depth: 16,
            big_endian: true,
            true_colour: true,
            red_max: 31,
            green_max: 63,
            blue_max: 31,
            red_shift: 0,
            green_shift: 5,
            blue_shift: 11,
        };
        for pf in [PixelFormat::RGB888, bgr565] {
            assert_eq!(PixelFormat::decode(&pf.encode()).unwrap(), pf);
        }
        // The exact wire bytes of the default, as x11vnc would see them.
        assert_eq!(PixelFormat::RGB888.encode(), [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
    }

    #[test]
    fn rgb888_little_endian_bytes_are_the_rgb_value() {
        let pf = PixelFormat::RGB888;
        let mut out = Vec::new();
        pf.write_raw(pf.rgb_to_raw(0x123456), &mut out);
        assert_eq!(out, [0x56, 0x34, 0x12, 0]);
        assert_eq!(pf.pixel_to_rgb(&out), 0x123456);
        // Bits outside the channels (the padding byte) are ignored.
        assert_eq!(pf.pixel_to_rgb(&[0x56, 0x34, 0x12, 0xff]), 0x123456);
    }

    #[test]
    fn small_channels_scale_to_full_range() {
        let rgb565 = PixelFormat {
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
        assert_eq!(rgb565.raw_to_rgb(0xffff), 0xffffff);
        assert_eq!(rgb565.raw_to_rgb(0xf800), 0xff0000);
        assert_eq!(rgb565.rgb_to_raw(0x00ff00), 0x07e0);
        let mut out = Vec::new();
        rgb565.write_raw(0xf800, &mut out);
        assert_eq!(out, [0x00, 0xf8]);
        // Every representable colour survives rgb -> raw -> rgb.
        for raw in (0..=0xffffu32).step_by(97) {
            assert_eq!(rgb565.rgb_to_raw(rgb565.raw_to_rgb(raw)), raw);
        }
    }

    #[test]
    fn invalid_formats_are_rejected_with_a_reason() {
        let bad = |f: fn(&mut PixelFormat)| {
            let mut pf = PixelFormat::RGB888;
            f(&mut pf);
            PixelFormat::decode(&pf.encode()).unwrap_err().to_string()
        };
        assert!(bad(|p| p.bits_per_pixel = 24).contains("bits-per-pixel"));
        assert!(bad(|p| p.depth = 0).contains("depth"));
        assert!(bad(|p| p.green_max = 0).contains("zero"));
        assert!(bad(|p| p.red_shift = 30).contains("does not fit"));
        // A colour-map format is a valid message (the server decides).
        let mut cmap = PixelFormat::RGB888;
        cmap.true_colour = false;
        cmap.bits_per_pixel = 8;
        cmap.depth = 8;
        assert!(PixelFormat::decode(&cmap.encode()).is_ok());
    }
}
