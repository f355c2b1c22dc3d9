//! What a client's SetEncodings (RFC 6143 §7.5.2) means for the encoder:
//! the pixel encoding to use and the pseudo-encodings it announced.
//!
//! The list is in the client's order of preference, so the first encoding
//! we implement wins. CopyRect is not an alternative to the others (it only
//! fits where the server found a move), so it is recorded as a capability.
//! Raw needs no announcement: every client must decode it.

use super::tight::{TightOptions, DEFAULT_COMPRESS_LEVEL};
use crate::rfb::encodings;

/// Pixel encodings this server can produce.
pub const SUPPORTED: [i32; 3] = [encodings::TIGHT, encodings::HEXTILE, encodings::RAW];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderChoice {
    /// One of [`SUPPORTED`].
    pub encoding: i32,
    pub copy_rect: bool,
    /// Tight JPEG quality 0..=9 (-32..=-23).
    pub jpeg_quality: Option<u8>,
    /// Compression level 0..=9 (-256..=-247).
    pub compress_level: Option<u8>,
    /// The client draws the pointer itself (-239).
    pub cursor: bool,
    /// The client copes with DesktopSize (-223).
    pub desktop_size: bool,
    /// The client understands LastRect (-224).
    pub last_rect: bool,
}

impl Default for EncoderChoice {
    /// Before any SetEncodings: Raw only.
    fn default() -> Self {
        EncoderChoice::negotiate(&[])
    }
}

impl EncoderChoice {
    pub fn negotiate(client_encodings: &[i32]) -> Self {
        let has = |e: i32| client_encodings.contains(&e);
        EncoderChoice {
            encoding: client_encodings.iter().copied().find(|e| SUPPORTED.contains(e)).unwrap_or(encodings::RAW),
            copy_rect: has(encodings::COPY_RECT),
            // When a client repeats a level, the last one wins (libvncserver).
            jpeg_quality: encodings::tight_quality(client_encodings),
            compress_level: encodings::compress_level(client_encodings),
            cursor: has(encodings::CURSOR),
            desktop_size: has(encodings::DESKTOP_SIZE),
            last_rect: has(encodings::LAST_RECT),
        }
    }

    pub fn tight_options(&self) -> TightOptions {
        TightOptions {
            jpeg_quality: self.jpeg_quality,
            compress_level: self.compress_level.unwrap_or(DEFAULT_COMPRESS_LEVEL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encodings::*;

    #[test]
    fn novnc_gets_tight_with_its_levels() {
        // noVNC 1.3's list: CopyRect, Tight, TightPNG, Hextile, RRE, Raw,
        // quality 6, compression 2, then pseudo-encodings.
        let novnc = [COPY_RECT, TIGHT, -260, HEXTILE, RRE, RAW, -26, -254, DESKTOP_SIZE, LAST_RECT, -309, CURSOR];
        let c = EncoderChoice::negotiate(&novnc);
        assert_eq!(
            c,
            EncoderChoice {
                encoding: TIGHT,
                copy_rect: true,
                jpeg_quality: Some(6),
                compress_level: Some(2),
                cursor: true,
                desktop_size: true,
                last_rect: true,
            }
        );
        assert_eq!(c.tight_options(), TightOptions { jpeg_quality: Some(6), compress_level: 2 });
    }

    #[test]
    fn the_clients_order_decides_and_unknown_ones_are_skipped() {
        assert_eq!(EncoderChoice::negotiate(&[ZRLE, HEXTILE, TIGHT]).encoding, HEXTILE);
        assert_eq!(EncoderChoice::negotiate(&[RAW, TIGHT]).encoding, RAW);
        assert_eq!(EncoderChoice::negotiate(&[COPY_RECT, RRE, 12345]).encoding, RAW);
        let d = EncoderChoice::default();
        assert_eq!(d.encoding, RAW);
        assert!(!d.copy_rect && !d.cursor && !d.desktop_size && !d.last_rect);
        assert_eq!(d.tight_options(), TightOptions { jpeg_quality: None, compress_level: DEFAULT_COMPRESS_LEVEL });
        // Levels: last one wins; out-of-range numbers are not levels.
        let c = EncoderChoice::negotiate(&[TIGHT, -32, -23, -256, -247, -22, -257]);
        assert_eq!((c.jpeg_quality, c.compress_level), (Some(9), Some(9)));
        assert_eq!(EncoderChoice::negotiate(&[TIGHT, -256]).tight_options().compress_level, 0);
    }
}
