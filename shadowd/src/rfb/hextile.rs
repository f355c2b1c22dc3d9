//! Hextile encoding (5) wire constants, shared by encoder and decoder
//! (RFC 6143 §7.7.4).

/// Tiles are 16x16, left-to-right, top-to-bottom; the last column and row
/// are narrower/shorter when the rectangle is not a multiple of 16.
pub const TILE: u16 = 16;

/// Subencoding mask bits.
pub mod sub {
    /// The tile is `w*h` raw pixels; every other bit is irrelevant.
    pub const RAW: u8 = 1;
    pub const BACKGROUND_SPECIFIED: u8 = 2;
    /// Must not be combined with SUBRECTS_COLOURED.
    pub const FOREGROUND_SPECIFIED: u8 = 4;
    pub const ANY_SUBRECTS: u8 = 8;
    pub const SUBRECTS_COLOURED: u8 = 16;
}
