//! Server-side rectangle encoders: pure functions from a framebuffer of
//! `0x00RRGGBB` pixels to RFB rectangle bytes (header included) in the
//! client's pixel format. No IO, no clocks: the server decides *what* to
//! send (damage, moves, when); these decide *how*.
//!
//! Every encoder has the same shape,
//! `fn(src: &Source, rect: Rect, format: &PixelFormat, [state,] out: &mut Vec<u8>) -> Result<usize, EncodeError>`:
//! it appends whole rectangles (header + payload) to `out` and returns how
//! many it wrote, for the FramebufferUpdate's count (Tight may split one
//! rectangle into several; an empty rectangle writes nothing and returns 0).
//! On `Err`, `out` is left as it was and no stream state the client could
//! have seen is advanced, so the caller may drop the rectangle and go on.
//!
//! Map:
//! - [`Source`] — a borrowed framebuffer with a stride; rectangles are
//!   checked against it, never trusted.
//! - [`raw`], [`hextile`], [`tight`] — the pixel encodings.
//! - [`rects`] — header-only rectangles: CopyRect, DesktopSize, LastRect.
//! - [`cursor`] — the Cursor pseudo-encoding from an ARGB image.
//! - [`choice`] — SetEncodings → which encoding and options to use.
//! - [`ClientEncoder`] — one client's format, choice and Tight zlib streams.

pub mod choice;
pub mod cursor;
pub mod hextile;
mod pixel;
pub mod raw;
pub mod rects;
pub mod tight;

/// Synthetic desktop-like and noise images: shared by the encoder tests and
/// `benches/encoders.rs`, not part of the daemon's API.
#[doc(hidden)]
pub mod test_images;

pub use choice::EncoderChoice;
pub use tight::{TightOptions, TightState};

use super::encodings;
use super::messages::Rect;
use super::PixelFormat;
use thiserror::Error;

/// Why a rectangle could not be encoded. These are caller bugs or
/// unsupported client choices, never something a peer's bytes can cause
/// directly, but they are errors rather than panics so a bad damage rect
/// costs one rectangle, not the server.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("rectangle {w}x{h}+{x}+{y} is outside the {width}x{height} source framebuffer")]
    RectOutOfBounds { x: u16, y: u16, w: u16, h: u16, width: u16, height: u16 },

    #[error("bad source framebuffer: {0}")]
    BadSource(&'static str),

    /// Colour-map formats (the server should refuse them at SetPixelFormat).
    #[error("unsupported pixel format: {0}")]
    UnsupportedPixelFormat(&'static str),

    #[error("{what} is {len}, above the limit of {max}")]
    TooLong { what: &'static str, len: u64, max: u64 },

    #[error("JPEG encoder failed: {0}")]
    Jpeg(String),

    #[error("zlib failed: {0}")]
    Zlib(String),
}

/// A borrowed framebuffer: `height` rows of `width` pixels, row `y` starting
/// at `pixels[y * stride]`. Pixels are `0x00RRGGBB`; the top byte is ignored
/// (X servers leave alpha or garbage there).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pixels: &'a [u32],
    width: u16,
    height: u16,
    stride: usize,
}

impl<'a> Source<'a> {
    /// Checks that `pixels` holds every row, so later row slicing is total.
    pub fn new(pixels: &'a [u32], width: u16, height: u16, stride: usize) -> Result<Self, EncodeError> {
        if stride < width as usize {
            return Err(EncodeError::BadSource("stride is smaller than the width"));
        }
        let needed = match height {
            0 => Some(0),
            h => (h as usize - 1).checked_mul(stride).and_then(|n| n.checked_add(width as usize)),
        };
        match needed {
            Some(n) if n <= pixels.len() => Ok(Source { pixels, width, height, stride }),
            _ => Err(EncodeError::BadSource("pixel buffer is shorter than height * stride")),
        }
    }

    /// A tightly packed framebuffer (`stride == width`).
    pub fn packed(pixels: &'a [u32], width: u16, height: u16) -> Result<Self, EncodeError> {
        Source::new(pixels, width, height, width as usize)
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    /// Errors unless `rect` lies inside the framebuffer.
    pub fn check(&self, rect: &Rect) -> Result<(), EncodeError> {
        if rect.fits_in(self.width, self.height) {
            Ok(())
        } else {
            Err(EncodeError::RectOutOfBounds {
                x: rect.x,
                y: rect.y,
                w: rect.w,
                h: rect.h,
                width: self.width,
                height: self.height,
            })
        }
    }

    /// `w` pixels of row `y` from column `x`; the caller checked the rect.
    pub(crate) fn row(&self, x: u16, y: u16, w: u16) -> &'a [u32] {
        let start = y as usize * self.stride + x as usize;
        &self.pixels[start..start + w as usize]
    }

    /// The rows of `rect`; the caller checked it.
    pub(crate) fn rows(&self, rect: Rect) -> impl Iterator<Item = &'a [u32]> + '_ {
        (rect.y..rect.y + rect.h).map(move |y| self.row(rect.x, y, rect.w))
    }
}

/// One client's encoder: its pixel format, what it negotiated, and the
/// Tight zlib streams that persist across rectangles (and must stay in step
/// with the client's inflaters).
#[derive(Debug)]
pub struct ClientEncoder {
    format: PixelFormat,
    choice: EncoderChoice,
    tight: TightState,
}

impl ClientEncoder {
    /// Raw only until the client's SetEncodings (RFC 6143 §7.5.2).
    pub fn new(format: PixelFormat) -> Result<Self, EncodeError> {
        pixel::check_format(&format)?;
        Ok(ClientEncoder { format, choice: EncoderChoice::default(), tight: TightState::new() })
    }

    pub fn format(&self) -> &PixelFormat {
        &self.format
    }

    pub fn choice(&self) -> &EncoderChoice {
        &self.choice
    }

    /// After SetPixelFormat. The zlib streams carry bytes, not pixels, so
    /// they survive a format change.
    pub fn set_pixel_format(&mut self, format: PixelFormat) -> Result<(), EncodeError> {
        pixel::check_format(&format)?;
        self.format = format;
        Ok(())
    }

    /// After SetEncodings. A changed compression level is applied by
    /// restarting the affected zlib streams (with the reset bits set) the
    /// next time each is used.
    pub fn set_encodings(&mut self, client_encodings: &[i32]) {
        self.choice = EncoderChoice::negotiate(client_encodings);
    }

    /// Forgets all zlib stream state: the next Tight rectangle that uses a
    /// stream starts a fresh one and tells the client to reset its copy.
    pub fn reset_compression(&mut self) {
        self.tight.reset();
    }

    /// Encodes `rect` of `src` with the negotiated encoding.
    pub fn encode_rect(&mut self, src: &Source, rect: Rect, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        match self.choice.encoding {
            encodings::TIGHT => {
                tight::encode(src, rect, &self.format, &self.choice.tight_options(), &mut self.tight, out)
            }
            encodings::HEXTILE => hextile::encode(src, rect, &self.format, out),
            _ => raw::encode(src, rect, &self.format, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_checked_once_so_rows_cannot_overrun() {
        let px = vec![0u32; 10 * 4];
        assert!(Source::new(&px, 10, 4, 10).is_ok());
        assert!(Source::new(&px, 8, 4, 10).is_ok());
        // Last row needs only `width` pixels, not a whole stride.
        assert!(Source::new(&px[..38], 8, 4, 10).is_ok());
        assert_eq!(
            Source::new(&px[..37], 8, 4, 10).unwrap_err(),
            EncodeError::BadSource("pixel buffer is shorter than height * stride")
        );
        assert!(matches!(Source::new(&px, 11, 1, 10), Err(EncodeError::BadSource(_))));
        assert!(matches!(Source::new(&px, 1, 65535, usize::MAX), Err(EncodeError::BadSource(_))));
        assert!(Source::new(&[], 0, 0, 0).is_ok());
        let src = Source::packed(&px, 10, 4).unwrap();
        assert!(src.check(&Rect::new(0, 0, 10, 4)).is_ok());
        let e = src.check(&Rect::new(9, 0, 2, 1)).unwrap_err();
        assert_eq!(e.to_string(), "rectangle 2x1+9+0 is outside the 10x4 source framebuffer");
        assert!(src.check(&Rect::new(65535, 65535, 65535, 65535)).is_err());
    }

    #[test]
    fn the_top_byte_of_source_pixels_is_ignored() {
        let clean = test_images::text_like(40, 30);
        let mut dirty = test_images::text_like(40, 30);
        for (i, p) in dirty.pixels.iter_mut().enumerate() {
            *p |= ((i as u32 * 37) & 0xff) << 24;
        }
        let rect = Rect::new(0, 0, 40, 30);
        for encoding in [encodings::RAW, encodings::HEXTILE, encodings::TIGHT] {
            for pf in [PixelFormat::RGB888, pixel::formats::RGB565] {
                let run = |img: &test_images::Image| {
                    let mut enc = ClientEncoder::new(pf).unwrap();
                    enc.set_encodings(&[encoding]);
                    let mut out = Vec::new();
                    enc.encode_rect(&img.source(), rect, &mut out).unwrap();
                    out
                };
                assert!(run(&dirty) == run(&clean), "encoding {encoding} {pf:?}: alpha leaked into the output");
            }
        }
    }

    #[test]
    fn client_encoder_uses_what_was_negotiated_and_refuses_colour_maps() {
        let px: Vec<u32> = (0..64 * 64).map(|i| if i % 7 == 0 { 0xffffff } else { 0x000080 }).collect();
        let src = Source::packed(&px, 64, 64).unwrap();
        let mut enc = ClientEncoder::new(PixelFormat::RGB888).unwrap();
        let rect = Rect::new(0, 0, 64, 64);
        let encoding_of = |enc: &mut ClientEncoder| {
            let mut out = Vec::new();
            assert_eq!(enc.encode_rect(&src, rect, &mut out).unwrap(), 1);
            i32::from_be_bytes(out[8..12].try_into().unwrap())
        };
        assert_eq!(encoding_of(&mut enc), encodings::RAW);
        enc.set_encodings(&[encodings::HEXTILE, encodings::RAW]);
        assert_eq!(encoding_of(&mut enc), encodings::HEXTILE);
        enc.set_encodings(&[encodings::COPY_RECT, encodings::TIGHT, encodings::HEXTILE]);
        assert_eq!(encoding_of(&mut enc), encodings::TIGHT);
        let mut cmap = PixelFormat::RGB888;
        cmap.true_colour = false;
        assert!(matches!(enc.set_pixel_format(cmap), Err(EncodeError::UnsupportedPixelFormat(_))));
        assert!(ClientEncoder::new(cmap).is_err());
        assert_eq!(enc.format(), &PixelFormat::RGB888);
    }
}
