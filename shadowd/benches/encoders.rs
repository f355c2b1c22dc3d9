//! Sizes and encode times of whole 1080p frames for each encoding, printed
//! side by side (raw, Hextile, Tight lossless at two zlib levels, Tight +
//! JPEG): what a first full frame costs the native backend.
//!
//! `cargo bench -p shadowd --bench encoders` (optimised build).

use shadowd::rfb::encode::test_images;
use shadowd::rfb::encode::{hextile, raw, tight, TightOptions, TightState};
use shadowd::rfb::messages::Rect;
use shadowd::rfb::PixelFormat;
use std::time::Instant;

/// The pixel format noVNC asks for (RGBX, little-endian).
const NOVNC: PixelFormat = PixelFormat { red_shift: 0, blue_shift: 16, ..PixelFormat::RGB888 };
const ROUNDS: u32 = 5;

/// Mean milliseconds per run of `f`, and the byte count it returned.
fn time(f: &mut dyn FnMut() -> usize) -> (usize, f64) {
    let started = Instant::now();
    let mut n = 0;
    for _ in 0..ROUNDS {
        n = f();
    }
    (n, started.elapsed().as_secs_f64() * 1000.0 / f64::from(ROUNDS))
}

fn main() {
    let modes = [
        ("tight lossless z2", TightOptions { jpeg_quality: None, compress_level: 2 }),
        ("tight lossless z1", TightOptions { jpeg_quality: None, compress_level: 1 }),
        ("tight jpeg q6", TightOptions { jpeg_quality: Some(6), compress_level: 2 }),
    ];
    println!("{:<8} {:<18} {:>10} {:>9} {:>9}", "image", "encoding", "bytes", "raw/x", "ms");
    for img in [test_images::desktop(1920, 1080), test_images::noise(1920, 1080)] {
        let rect = Rect::new(0, 0, img.width, img.height);
        let src = img.source();
        let (raw_len, raw_ms) = time(&mut || {
            let mut o = Vec::new();
            raw::encode(&src, rect, &NOVNC, &mut o).expect("raw encodes");
            o.len()
        });
        let row = |name: &str, n: usize, ms: f64| {
            println!("{:<8} {name:<18} {n:>10} {:>9.1} {ms:>9.1}", img.name, raw_len as f64 / n as f64)
        };
        row("raw", raw_len, raw_ms);
        let (n, ms) = time(&mut || {
            let mut o = Vec::new();
            hextile::encode(&src, rect, &NOVNC, &mut o).expect("hextile encodes");
            o.len()
        });
        row("hextile", n, ms);
        for (name, opts) in &modes {
            // A fresh zlib state each time: what a first full frame costs.
            let (n, ms) = time(&mut || {
                let mut o = Vec::new();
                tight::encode(&src, rect, &NOVNC, opts, &mut TightState::new(), &mut o).expect("tight encodes");
                o.len()
            });
            row(name, n, ms);
        }
    }
}
