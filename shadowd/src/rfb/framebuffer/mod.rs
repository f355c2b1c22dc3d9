//! The client side of the update stream: a framebuffer of `0x00RRGGBB`
//! pixels and the decoder that applies a server's messages to it.
//!
//! Each encoding's payload decoder is its own module with the same shape
//! (`decode(header, format, buf, fb) -> Result<Option<consumed>>`, drawing
//! only once the whole payload is in `buf`) and one arm in
//! [`decoder::ServerStreamDecoder`]'s dispatch: [`raw`], [`copy_rect`],
//! [`hextile`], and [`tight`], whose zlib streams live in the decoder struct
//! since they persist across rectangles.

pub mod copy_rect;
pub mod cursor;
pub mod decoder;
pub mod hextile;
pub mod raw;
pub mod tight;

pub use decoder::{ServerEvent, ServerStreamDecoder};

use super::messages::Rect;
use super::ProtocolError;

/// Largest framebuffer accepted (8192x8192, 256 MiB of pixels): covers 8K
/// displays, and bounds what a server's ServerInit or DesktopSize can make
/// a client allocate — and, since rectangles must fit inside it, how many
/// bytes a single rectangle can make it buffer.
pub const MAX_FRAMEBUFFER_PIXELS: u64 = 8192 * 8192;

/// Pixels as `0x00RRGGBB`, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Framebuffer {
    width: u16,
    height: u16,
    pixels: Vec<u32>,
}

impl std::fmt::Debug for Framebuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Framebuffer({}x{})", self.width, self.height)
    }
}

impl Framebuffer {
    /// A black framebuffer, refused above [`MAX_FRAMEBUFFER_PIXELS`].
    pub fn new(width: u16, height: u16) -> Result<Self, ProtocolError> {
        let n = width as u64 * height as u64;
        if n > MAX_FRAMEBUFFER_PIXELS {
            return Err(ProtocolError::TooLong {
                what: "framebuffer pixel count",
                len: n,
                max: MAX_FRAMEBUFFER_PIXELS,
            });
        }
        Ok(Framebuffer { width, height, pixels: vec![0; n as usize] })
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    pub fn pixels(&self) -> &[u32] {
        &self.pixels
    }

    pub fn into_pixels(self) -> Vec<u32> {
        self.pixels
    }

    pub fn get(&self, x: u16, y: u16) -> u32 {
        self.pixels[y as usize * self.width as usize + x as usize]
    }

    /// Resizes to `width`x`height`, black (DesktopSize: the server sends the
    /// new contents next).
    pub fn resize(&mut self, width: u16, height: u16) -> Result<(), ProtocolError> {
        *self = Framebuffer::new(width, height)?;
        Ok(())
    }

    /// Errors unless `rect` lies inside the framebuffer.
    pub fn check(&self, rect: &Rect, encoding: i32) -> Result<(), ProtocolError> {
        if rect.fits_in(self.width, self.height) {
            Ok(())
        } else {
            Err(ProtocolError::RectOutOfBounds {
                x: rect.x,
                y: rect.y,
                w: rect.w,
                h: rect.h,
                encoding,
                fb_width: self.width,
                fb_height: self.height,
            })
        }
    }

    /// The pixels of row `y` from column `x`, `w` long. The caller has
    /// checked the rectangle.
    pub fn row_mut(&mut self, x: u16, y: u16, w: u16) -> &mut [u32] {
        let start = y as usize * self.width as usize + x as usize;
        &mut self.pixels[start..start + w as usize]
    }

    pub fn fill(&mut self, rect: &Rect, rgb: u32) {
        for y in rect.y..rect.y + rect.h {
            self.row_mut(rect.x, y, rect.w).fill(rgb);
        }
    }

    /// Copies the `dst`-sized region at (`src_x`, `src_y`) to `dst`, correct
    /// for overlapping regions (rows are walked away from the overlap, and
    /// `copy_within` is a memmove).
    pub fn copy(&mut self, src_x: u16, src_y: u16, dst: &Rect) {
        let stride = self.width as usize;
        let rows: Box<dyn Iterator<Item = u16>> =
            if src_y < dst.y { Box::new((0..dst.h).rev()) } else { Box::new(0..dst.h) };
        for dy in rows {
            let from = (src_y + dy) as usize * stride + src_x as usize;
            let to = (dst.y + dy) as usize * stride + dst.x as usize;
            self.pixels.copy_within(from..from + dst.w as usize, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_framebuffers_are_refused_before_allocation() {
        let e = Framebuffer::new(65535, 65535).unwrap_err();
        assert!(e.to_string().contains("framebuffer pixel count"), "{e}");
        assert!(Framebuffer::new(7680, 4320).is_ok());
    }

    #[test]
    fn overlapping_copies_behave_like_memmove() {
        let mut fb = Framebuffer::new(4, 4).unwrap();
        for i in 0..16 {
            fb.pixels[i] = i as u32;
        }
        let before = fb.clone();
        // Down and right by one, overlapping.
        fb.copy(0, 0, &Rect::new(1, 1, 3, 3));
        for y in 1..4 {
            for x in 1..4 {
                assert_eq!(fb.get(x, y), before.get(x - 1, y - 1), "({x},{y})");
            }
        }
        // And back up-left.
        let before = fb.clone();
        fb.copy(1, 1, &Rect::new(0, 0, 3, 3));
        for y in 0..3 {
            for x in 0..3 {
                assert_eq!(fb.get(x, y), before.get(x + 1, y + 1), "({x},{y})");
            }
        }
    }
}
