//! Encoding numbers (RFC 6143 §7.7 and the community registry). Negative
//! numbers are pseudo-encodings: capabilities a client advertises in
//! SetEncodings, some of which arrive as rectangles carrying no pixels.

pub const RAW: i32 = 0;
pub const COPY_RECT: i32 = 1;
pub const RRE: i32 = 2;
pub const HEXTILE: i32 = 5;
pub const TIGHT: i32 = 7;
pub const ZRLE: i32 = 16;

/// Pseudo: the framebuffer changed size (rect w/h are the new size).
pub const DESKTOP_SIZE: i32 = -223;
/// Pseudo: ends a FramebufferUpdate whose count was 0xFFFF.
pub const LAST_RECT: i32 = -224;
/// Pseudo: a client-side cursor image and mask.
pub const CURSOR: i32 = -239;

/// Pseudo: Tight JPEG quality 0..=9 is `TIGHT_QUALITY_0 + q` (-32..=-23).
pub const TIGHT_QUALITY_0: i32 = -32;
/// Pseudo: compression level 0..=9 is `COMPRESS_LEVEL_0 + l` (-256..=-247).
pub const COMPRESS_LEVEL_0: i32 = -256;

/// A name for logs and error messages.
pub fn name(encoding: i32) -> &'static str {
    match encoding {
        RAW => "Raw",
        COPY_RECT => "CopyRect",
        RRE => "RRE",
        HEXTILE => "Hextile",
        TIGHT => "Tight",
        ZRLE => "ZRLE",
        DESKTOP_SIZE => "DesktopSize",
        LAST_RECT => "LastRect",
        CURSOR => "Cursor",
        -32..=-23 => "TightQuality",
        -256..=-247 => "CompressLevel",
        _ => "unknown",
    }
}

/// The Tight quality level a client asked for, if any (the last one wins,
/// as in libvncserver).
pub fn tight_quality(encodings: &[i32]) -> Option<u8> {
    encodings.iter().rev().find(|e| (-32..=-23).contains(*e)).map(|e| (e - TIGHT_QUALITY_0) as u8)
}

/// The compression level a client asked for, if any.
pub fn compress_level(encodings: &[i32]) -> Option<u8> {
    encodings.iter().rev().find(|e| (-256..=-247).contains(*e)).map(|e| (e - COMPRESS_LEVEL_0) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_read_from_the_pseudo_encodings() {
        let list = [TIGHT, -30, RAW, COMPRESS_LEVEL_0 + 9, -26];
        assert_eq!(tight_quality(&list), Some(6));
        assert_eq!(compress_level(&list), Some(9));
        assert_eq!(tight_quality(&[RAW]), None);
        assert_eq!(name(-224), "LastRect");
    }
}
