//! The root visual's pixel layout and conversion to `0x00RRGGBB` (pure).
//!
//! Only TrueColor visuals with 32 bits per pixel are captured (depth 24, the
//! usual case, and depth 30/32): one pixel is one `u32`, so rows convert with
//! no unpacking. The common layout (masks `ff0000/ff00/ff`, server byte order
//! equal to ours) is a mask per pixel; anything else goes through the general
//! per-channel path.

/// One colour channel: where it sits in the pixel and how wide it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Channel {
    shift: u32,
    bits: u32,
}

impl Channel {
    fn from_mask(mask: u32, name: &str) -> Result<Channel, String> {
        if mask == 0 {
            return Err(format!("{name} mask is empty"));
        }
        let shift = mask.trailing_zeros();
        let bits = (mask >> shift).trailing_ones();
        if (mask >> shift).checked_shr(bits).unwrap_or(0) != 0 {
            return Err(format!("{name} mask {mask:#x} is not contiguous"));
        }
        Ok(Channel { shift, bits })
    }

    /// The channel scaled to 8 bits.
    fn extract(self, pixel: u32) -> u32 {
        let v = (pixel >> self.shift) & 1u32.checked_shl(self.bits).map_or(u32::MAX, |m| m - 1);
        match self.bits {
            8 => v,
            b if b > 8 => v >> (b - 8),
            // Narrow channels: scale so that all-ones stays all-ones.
            b => v * 255 / ((1 << b) - 1),
        }
    }
}

/// How the X server lays out a root-window pixel in a ZPixmap image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLayout {
    red: Channel,
    green: Channel,
    blue: Channel,
    /// Image byte order MSBFirst.
    big_endian: bool,
}

impl PixelLayout {
    /// From the visual's masks and the server's image byte order. Errors say
    /// what is unsupported.
    pub fn new(red_mask: u32, green_mask: u32, blue_mask: u32, big_endian: bool) -> Result<Self, String> {
        let red = Channel::from_mask(red_mask, "red")?;
        let green = Channel::from_mask(green_mask, "green")?;
        let blue = Channel::from_mask(blue_mask, "blue")?;
        if red_mask & green_mask != 0 || red_mask & blue_mask != 0 || green_mask & blue_mask != 0 {
            return Err(format!("colour masks overlap ({red_mask:#x}, {green_mask:#x}, {blue_mask:#x})"));
        }
        Ok(PixelLayout { red, green, blue, big_endian })
    }

    /// The layout of every Xvfb/Xorg at depth 24 on a little-endian host.
    fn is_xrgb(&self) -> bool {
        self.red == Channel { shift: 16, bits: 8 }
            && self.green == Channel { shift: 8, bits: 8 }
            && self.blue == Channel { shift: 0, bits: 8 }
    }

    /// Converts one row of ZPixmap bytes (4 per pixel) into `dst`.
    /// `src` must hold at least `4 * dst.len()` bytes.
    pub fn convert_row(&self, src: &[u8], dst: &mut [u32]) {
        let src = &src[..dst.len() * 4];
        match (self.is_xrgb(), self.big_endian) {
            // The padding byte of depth 24 is not guaranteed to be zero.
            (true, false) => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) & 0x00ff_ffff;
                }
            }
            (true, true) => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) & 0x00ff_ffff;
                }
            }
            (false, big) => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    let b = [s[0], s[1], s[2], s[3]];
                    let p = if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) };
                    *d = (self.red.extract(p) << 16) | (self.green.extract(p) << 8) | self.blue.extract(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xrgb_little_endian_drops_the_padding_byte() {
        let l = PixelLayout::new(0xff0000, 0xff00, 0xff, false).unwrap();
        let src = [0x33, 0x22, 0x11, 0xee, 0x01, 0x02, 0x03, 0x00];
        let mut dst = [0u32; 2];
        l.convert_row(&src, &mut dst);
        assert_eq!(dst, [0x112233, 0x030201]);
    }

    #[test]
    fn xrgb_big_endian() {
        let l = PixelLayout::new(0xff0000, 0xff00, 0xff, true).unwrap();
        let mut dst = [0u32; 1];
        l.convert_row(&[0xee, 0x11, 0x22, 0x33], &mut dst);
        assert_eq!(dst, [0x112233]);
    }

    #[test]
    fn bgr_masks_are_swapped() {
        let l = PixelLayout::new(0xff, 0xff00, 0xff0000, false).unwrap();
        let mut dst = [0u32; 1];
        l.convert_row(&[0x11, 0x22, 0x33, 0x00], &mut dst);
        assert_eq!(dst, [0x112233]);
    }

    #[test]
    fn ten_bit_channels_keep_their_top_bits() {
        // Depth 30: 2-10-10-10.
        let l = PixelLayout::new(0x3ff0_0000, 0x000f_fc00, 0x0000_03ff, false).unwrap();
        let p: u32 = (0x3ff << 20) | (0x200 << 10) | 0x004;
        let mut dst = [0u32; 1];
        l.convert_row(&p.to_le_bytes(), &mut dst);
        assert_eq!(dst, [0xff8001]);
    }

    #[test]
    fn narrow_channels_scale_to_full_range() {
        // 5-6-5 masks in a 32-bit pixel.
        let l = PixelLayout::new(0xf800, 0x07e0, 0x001f, false).unwrap();
        let mut dst = [0u32; 2];
        let src: Vec<u8> = [0xffffu32, 0x0000].iter().flat_map(|p| p.to_le_bytes()).collect();
        l.convert_row(&src, &mut dst);
        assert_eq!(dst, [0xffffff, 0]);
    }

    #[test]
    fn bad_masks_are_refused_with_a_reason() {
        assert!(PixelLayout::new(0, 0xff00, 0xff, false).unwrap_err().contains("red mask is empty"));
        assert!(PixelLayout::new(0xf0f000, 0xf00, 0xf, false).unwrap_err().contains("not contiguous"));
        assert!(PixelLayout::new(0xffff00, 0xff00, 0xff, false).unwrap_err().contains("overlap"));
        // A full-width mask must not overflow a shift.
        assert!(PixelLayout::new(u32::MAX, 0xff00, 0xff, false).is_err());
    }
}
