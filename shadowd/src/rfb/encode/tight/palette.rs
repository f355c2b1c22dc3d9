//! Colour counting for Tight's Fill and Palette choices: the distinct
//! client pixel values of a rectangle, up to a limit, and each pixel's index.
//!
//! Screen content comes in runs, so a pixel equal to its predecessor skips
//! the lookup; the rest go through a small open-addressing table (at most
//! 256 colours in 1024 slots, so probes stay short).

const SLOTS: usize = 1024;
const EMPTY: u16 = u16::MAX;

pub(crate) struct Palette {
    colours: Vec<u32>,
    keys: Box<[u32; SLOTS]>,
    index: Box<[u16; SLOTS]>,
}

impl Palette {
    /// The palette of `pixels` in order of first appearance, or `None` if
    /// they have more than `max` (<= 256) colours. Pixels are client values.
    pub(crate) fn build(pixels: &[u32], max: usize) -> Option<Palette> {
        let max = max.min(256);
        let mut p =
            Palette { colours: Vec::with_capacity(max), keys: Box::new([0; SLOTS]), index: Box::new([EMPTY; SLOTS]) };
        let mut prev = None;
        for &px in pixels {
            if prev == Some(px) {
                continue;
            }
            prev = Some(px);
            let slot = p.slot(px);
            if p.index[slot] == EMPTY {
                if p.colours.len() == max {
                    return None;
                }
                p.keys[slot] = px;
                p.index[slot] = p.colours.len() as u16;
                p.colours.push(px);
            }
        }
        Some(p)
    }

    pub(crate) fn colours(&self) -> &[u32] {
        &self.colours
    }

    /// The index of a colour that is in the palette.
    #[inline]
    pub(crate) fn index_of(&self, px: u32) -> u8 {
        self.index[self.slot(px)] as u8
    }

    /// The slot holding `px`, or the empty slot where it would go.
    #[inline]
    fn slot(&self, px: u32) -> usize {
        let mut s = (px.wrapping_mul(0x9e37_79b1) >> 22) as usize;
        while self.index[s] != EMPTY && self.keys[s] != px {
            s = (s + 1) & (SLOTS - 1);
        }
        s
    }

    /// Tight's PaletteFilter data: 1 bit per pixel (MSB = leftmost, rows
    /// padded to a byte) for 2 colours, else 1 byte per pixel.
    pub(crate) fn indices(&self, pixels: &[u32], width: usize, out: &mut Vec<u8>) {
        if width == 0 {
            return;
        }
        if self.colours.len() <= 2 {
            let first = self.colours.first().copied();
            for row in pixels.chunks(width) {
                for bits in row.chunks(8) {
                    let mut byte = 0u8;
                    for (i, &px) in bits.iter().enumerate() {
                        if Some(px) != first {
                            byte |= 0x80 >> i;
                        }
                    }
                    out.push(byte);
                }
            }
        } else {
            out.reserve(pixels.len());
            let mut prev = (pixels[0], self.index_of(pixels[0]));
            for &px in pixels {
                if px != prev.0 {
                    prev = (px, self.index_of(px));
                }
                out.push(prev.1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_limit_in_order_of_appearance() {
        let px = [5, 5, 9, 5, 7, 9, 7];
        let p = Palette::build(&px, 256).unwrap();
        assert_eq!(p.colours(), [5, 9, 7]);
        assert!(Palette::build(&px, 2).is_none());
        assert_eq!(Palette::build(&px, 3).unwrap().colours().len(), 3);
        let mut out = Vec::new();
        p.indices(&px, 7, &mut out);
        assert_eq!(out, [0, 0, 1, 0, 2, 1, 2]);
        // 257 colours do not fit, 256 do, including colliding hashes.
        let many: Vec<u32> = (0..257u32).map(|i| i << 22).collect();
        assert!(Palette::build(&many, 256).is_none());
        let p = Palette::build(&many[..256], 256).unwrap();
        assert!(many[..256].iter().enumerate().all(|(i, &c)| p.index_of(c) as usize == i));
    }

    #[test]
    fn two_colours_pack_msb_first_with_padded_rows() {
        // 10x2, colour 1 at x=0 and x=9 of row 0 and x=8 of row 1.
        let mut px = vec![0u32; 20];
        px[0] = 1;
        px[9] = 1;
        px[18] = 1;
        let p = Palette::build(&px, 2).unwrap();
        assert_eq!(p.colours(), [1, 0]);
        let mut out = Vec::new();
        p.indices(&px, 10, &mut out);
        // Index 0 is colour 1 (first seen): bits are set for colour 0.
        assert_eq!(out, [0b0111_1111, 0b1000_0000, 0b1111_1111, 0b0100_0000]);
    }
}
