//! The pointer's cursor image as XFIXES reports it, and its conversion to
//! what the RFB Cursor pseudo-encoding carries (pure).

/// Largest cursor accepted from the X server, per side. Real cursors are
/// 16..=256 pixels; the cap keeps a hostile or broken server from making us
/// convert (and send) a screen-sized "cursor".
pub const MAX_CURSOR_SIDE: u16 = 256;

/// A cursor: `width * height` pixels as premultiplied ARGB (`0xAARRGGBB`,
/// as XFIXES GetCursorImage gives them), with its hotspot.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorImage {
    pub width: u16,
    pub height: u16,
    pub xhot: u16,
    pub yhot: u16,
    /// Changes whenever the displayed cursor changes (XFIXES cursor serial).
    pub serial: u32,
    pub argb: Vec<u32>,
}

impl std::fmt::Debug for CursorImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CursorImage({}x{} hot {},{} serial {})", self.width, self.height, self.xhot, self.yhot, self.serial)
    }
}

impl CursorImage {
    /// Checks a GetCursorImage reply's fields: the size is capped and the
    /// pixel count must match it, the hotspot is clamped inside.
    pub fn from_reply(
        width: u16,
        height: u16,
        xhot: u16,
        yhot: u16,
        serial: u32,
        argb: Vec<u32>,
    ) -> Result<CursorImage, String> {
        if width > MAX_CURSOR_SIDE || height > MAX_CURSOR_SIDE {
            return Err(format!("cursor is {width}x{height}, above the {MAX_CURSOR_SIDE}x{MAX_CURSOR_SIDE} limit"));
        }
        if argb.len() != width as usize * height as usize {
            return Err(format!("cursor is {width}x{height} but has {} pixels", argb.len()));
        }
        let xhot = xhot.min(width.saturating_sub(1));
        let yhot = yhot.min(height.saturating_sub(1));
        Ok(CursorImage { width, height, xhot, yhot, serial, argb })
    }

    /// The pixels as `0x00RRGGBB` and the RFB cursor bitmask (`ceil(w/8)`
    /// bytes per row, most significant bit first). RFB has no alpha, so a
    /// pixel is shown when at least half opaque, and its colour is
    /// un-premultiplied so that soft edges are not darkened.
    pub fn to_rgb_and_mask(&self) -> (Vec<u32>, Vec<u8>) {
        let (w, h) = (self.width as usize, self.height as usize);
        let stride = w.div_ceil(8);
        let mut mask = vec![0u8; stride * h];
        let mut rgb = Vec::with_capacity(w * h);
        for (i, &p) in self.argb.iter().enumerate() {
            let a = p >> 24;
            let unpremultiply = |c: u32| (c * 255).checked_div(a).unwrap_or(0).min(255);
            let (r, g, b) = ((p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff);
            rgb.push((unpremultiply(r) << 16) | (unpremultiply(g) << 8) | unpremultiply(b));
            if a >= 0x80 {
                let (x, y) = (i % w, i / w);
                mask[y * stride + x / 8] |= 0x80 >> (x % 8);
            }
        }
        (rgb, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_checks() {
        assert!(CursorImage::from_reply(2, 2, 0, 0, 1, vec![0; 3]).unwrap_err().contains("has 3 pixels"));
        assert!(CursorImage::from_reply(300, 1, 0, 0, 1, vec![0; 300]).unwrap_err().contains("limit"));
        let c = CursorImage::from_reply(4, 4, 9, 2, 1, vec![0; 16]).unwrap();
        assert_eq!((c.xhot, c.yhot), (3, 2));
        let empty = CursorImage::from_reply(0, 0, 5, 5, 1, vec![]).unwrap();
        assert_eq!((empty.xhot, empty.yhot), (0, 0));
    }

    #[test]
    fn mask_and_unpremultiplied_colours() {
        // 9 pixels wide: the mask row takes 2 bytes.
        let mut argb = vec![0u32; 9 * 2];
        argb[0] = 0xff_ff0000; // opaque red
        argb[8] = 0x80_400000; // half-transparent: shown, colour restored
        argb[9] = 0x7f_000000; // under half: hidden
        let c = CursorImage::from_reply(9, 2, 0, 0, 1, argb).unwrap();
        let (rgb, mask) = c.to_rgb_and_mask();
        assert_eq!(mask, vec![0x80, 0x80, 0x00, 0x00]);
        assert_eq!(rgb[0], 0xff0000);
        assert_eq!(rgb[8], 0x7f0000);
        assert_eq!(rgb[9], 0);
        assert_eq!(rgb.len(), 18);
    }
}
