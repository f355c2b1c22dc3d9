//! Tight JpegCompression: a JFIF stream of the rectangle. Quality levels
//! 0..=9 (the -32..=-23 pseudo-encodings) map to libjpeg qualities and
//! chroma subsampling as TigerVNC's TightJPEGEncoder does, so a level means
//! the same picture quality here as with TigerVNC/TurboVNC servers.
//!
//! Encoded with libjpeg-turbo (the `turbojpeg` crate, built from source and
//! linked statically): it is the same library x11vnc and TigerVNC use, and
//! ~4x faster per pixel than the pure-Rust encoder this replaced, which was
//! two thirds of the native server's CPU on full-screen motion
//! (docs/performance.md).

use crate::rfb::encode::{EncodeError, Source};
use crate::rfb::messages::Rect;
use std::cell::RefCell;
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

const CONF: [(i32, Subsamp); 10] = [
    (15, Subsamp::Sub2x2),
    (29, Subsamp::Sub2x2),
    (41, Subsamp::Sub2x2),
    (42, Subsamp::Sub2x1),
    (62, Subsamp::Sub2x1),
    (77, Subsamp::Sub2x1),
    (79, Subsamp::None),
    (86, Subsamp::None),
    (92, Subsamp::None),
    (100, Subsamp::None),
];

thread_local! {
    // A compressor holds libjpeg's state and buffers: made once per thread,
    // not once per rectangle.
    static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
}

/// Appends `rect` of `src` as JFIF at quality `level` (clamped to 9).
/// `scratch` is reused between calls for the BGRX copy of the pixels.
pub(crate) fn encode(
    src: &Source,
    rect: Rect,
    level: u8,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let (quality, subsamp) = CONF[level.min(9) as usize];
    // 0x00RRGGBB as little-endian bytes is B, G, R, X.
    scratch.clear();
    scratch.reserve(rect.area() as usize * 4);
    for row in src.rows(rect) {
        for &p in row {
            scratch.extend_from_slice(&p.to_le_bytes());
        }
    }
    let (w, h) = (rect.w as usize, rect.h as usize);
    let image = Image { pixels: scratch.as_slice(), width: w, pitch: w * 4, height: h, format: PixelFormat::BGRX };
    let failed = |e: turbojpeg::Error| EncodeError::Jpeg(e.to_string());
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let comp = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(Compressor::new().map_err(failed)?),
        };
        comp.set_quality(quality).map_err(failed)?;
        comp.set_subsamp(subsamp).map_err(failed)?;
        let jpeg = comp.compress_to_owned(image).map_err(failed)?;
        out.extend_from_slice(&jpeg);
        Ok(())
    })
}
