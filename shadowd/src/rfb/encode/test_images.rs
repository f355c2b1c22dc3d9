//! Test images and a client to check encoders against: structured content
//! like a desktop's (solid, two colours, gradient, text) and noise, and the
//! real [`ServerStreamDecoder`] to decode what an encoder wrote.

#[cfg(test)]
use super::pixel::formats;
use super::Source;
use crate::rfb::framebuffer::{Framebuffer, ServerEvent, ServerStreamDecoder};
#[cfg(test)]
use crate::rfb::messages::Rect;
use crate::rfb::messages::ServerMessage;
use crate::rfb::PixelFormat;

pub struct Image {
    pub name: &'static str,
    pub width: u16,
    pub height: u16,
    pub pixels: Vec<u32>,
}

impl Image {
    pub fn new(name: &'static str, width: u16, height: u16, f: impl Fn(u32, u32) -> u32) -> Image {
        let pixels = (0..height as u32).flat_map(|y| (0..width as u32).map(move |x| (x, y))).map(|(x, y)| f(x, y));
        Image { name, width, height, pixels: pixels.collect() }
    }

    pub fn solid(width: u16, height: u16, rgb: u32) -> Image {
        Image::new("solid", width, height, move |_, _| rgb)
    }

    pub fn source(&self) -> Source<'_> {
        Source::packed(&self.pixels, self.width, self.height).unwrap()
    }

    pub fn get(&self, x: u16, y: u16) -> u32 {
        self.pixels[y as usize * self.width as usize + x as usize] & 0xffffff
    }

    #[cfg(test)]
    /// Asserts that `fb` shows this image inside `rect` as a client in
    /// `format` would: exactly (`tolerance` 0) or with a mean absolute
    /// channel error of at most `tolerance`.
    pub fn assert_seen_in(&self, fb: &Framebuffer, rect: Rect, format: &PixelFormat, tolerance: u32, ctx: &str) {
        let (mut sum, mut n) = (0u64, 0u64);
        for y in rect.y..rect.y + rect.h {
            for x in rect.x..rect.x + rect.w {
                let want = formats::seen(format, self.get(x, y));
                let got = fb.get(x, y);
                if tolerance == 0 {
                    assert_eq!(got, want, "{ctx}: pixel ({x},{y}) is {got:06x}, want {want:06x}");
                }
                for shift in [0, 8, 16] {
                    sum += ((got >> shift & 0xff) as i32 - (want >> shift & 0xff) as i32).unsigned_abs() as u64;
                    n += 1;
                }
            }
        }
        if n > 0 {
            let mean = sum as f64 / n as f64;
            assert!(mean <= tolerance as f64, "{ctx}: mean channel error {mean:.2} > {tolerance}");
        }
    }
}

/// A tiny deterministic PRNG (xorshift32), so noise is the same every run.
pub fn noise_fn(seed: u32) -> impl Fn(u32, u32) -> u32 {
    move |x, y| {
        let mut s = seed ^ x.wrapping_mul(0x9e37_79b9) ^ y.wrapping_mul(0x85eb_ca6b);
        for _ in 0..3 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
        }
        s & 0xffffff
    }
}

pub fn two_colours(width: u16, height: u16) -> Image {
    // Irregular shapes, not just a checkerboard: diagonal bands and blobs.
    Image::new("two colours", width, height, |x, y| {
        if (x / 5 + y / 3) % 4 == 0 || (x * y) % 29 == 3 {
            0x1f3f7f
        } else {
            0xf0f0f0
        }
    })
}

pub fn gradient(width: u16, height: u16) -> Image {
    Image::new("gradient", width, height, |x, y| {
        ((x * 255 / 97) % 256) << 16 | ((y * 255 / 61) % 256) << 8 | ((x + y) % 256)
    })
}

pub fn noise(width: u16, height: u16) -> Image {
    Image::new("noise", width, height, noise_fn(7))
}

/// Dark glyph-like strokes with anti-aliased edges on a light window, a
/// title bar and a selection: a handful of colours in runs, as in a
/// terminal or editor.
pub fn text_like(width: u16, height: u16) -> Image {
    let glyph = noise_fn(99);
    Image::new("text", width, height, move |x, y| {
        if y < 12 {
            return 0x2d5e9e; // title bar
        }
        let (cx, cy) = (x % 7, (y - 12) % 13);
        let selected = (y - 12) / 13 == 2 && x < 150;
        let bg = if selected { 0x3399ff } else { 0xfdfdfd };
        if cy >= 10 || cx == 6 {
            return bg;
        }
        let g = glyph(x / 7, (y - 12) / 13);
        let on = (g >> ((cx + cy * 6) % 24)) & 1 == 1;
        let edge = (g >> ((cx * 3 + cy) % 24)) & 3 == 0;
        match (on, edge, selected) {
            (true, _, false) => 0x101010,
            (true, _, true) => 0xffffff,
            (false, true, false) => 0x9a9a9a,
            (false, true, true) => 0x99ccff,
            _ => bg,
        }
    })
}

/// A large uniform area with a small detail: what most desktop damage is.
pub fn window(width: u16, height: u16) -> Image {
    Image::new("window", width, height, |x, y| {
        if x > 10 && x < 30 && y > 4 && y < 9 {
            0xcc0000
        } else if y < 3 {
            0x333333
        } else {
            0xececec
        }
    })
}

/// A desktop-like frame: a panel, a text window, a photo and plain window
/// background. For sizes and timings on a whole screen.
pub fn desktop(width: u16, height: u16) -> Image {
    let text = text_like(width, height);
    let noise = noise_fn(11);
    let (w, h) = (width as u32, height as u32);
    Image::new("desktop", width, height, move |x, y| {
        if y < 28 {
            0x202020
        } else if x < w / 2 && y < h * 3 / 4 {
            text.pixels[(y * w + x) as usize]
        } else if x > w * 5 / 8 && y > h / 8 && y < h / 2 {
            // A photo: smooth gradients plus a little sensor noise.
            let n = noise(x, y) & 0x0f0f0f;
            (((x * 200 / w) << 16) | ((y * 255 / h) << 8) | ((x + y) & 0xff)) + n
        } else {
            0xf6f5f4
        }
    })
}

pub fn all(width: u16, height: u16) -> Vec<Image> {
    vec![
        Image::solid(width, height, 0x336699),
        two_colours(width, height),
        gradient(width, height),
        noise(width, height),
        text_like(width, height),
        window(width, height),
    ]
}

/// Decodes an update made of `rects` (rectangle bytes as encoders write
/// them, ended by LastRect) onto a fresh black framebuffer.
pub fn decode_all(format: &PixelFormat, width: u16, height: u16, rects: &[u8]) -> Framebuffer {
    let mut fb = Framebuffer::new(width, height).unwrap();
    let mut dec = ServerStreamDecoder::new(*format);
    decode_rects(&mut dec, &mut fb, rects);
    fb
}

/// Wraps `rects` in an update (count 0xFFFF + LastRect) and decodes it.
pub fn decode_rects(dec: &mut ServerStreamDecoder, fb: &mut Framebuffer, rects: &[u8]) {
    let mut bytes = Vec::new();
    ServerMessage::FramebufferUpdate { rects: 0xffff }.encode(&mut bytes);
    bytes.extend_from_slice(rects);
    super::rects::last_rect(&mut bytes);
    let events = decode_into(dec, fb, &bytes);
    assert_eq!(events.last(), Some(&ServerEvent::UpdateEnd));
}

/// Decodes every byte of `bytes`, as a client loop would; panics on errors
/// or leftovers.
pub fn decode_into(dec: &mut ServerStreamDecoder, fb: &mut Framebuffer, bytes: &[u8]) -> Vec<ServerEvent> {
    let mut events = Vec::new();
    let mut pos = 0;
    loop {
        match dec.decode(&bytes[pos..], fb) {
            Ok(Some((ev, n))) => {
                pos += n;
                events.push(ev);
                if pos == bytes.len() && !dec.in_update() {
                    return events;
                }
            }
            Ok(None) => panic!("decoder wants more after {pos} of {} bytes", bytes.len()),
            Err(e) => panic!("decode error at byte {pos}: {e}"),
        }
    }
}

/// Decodes `rects` (wrapped in an update) feeding the decoder one more
/// byte at a time: every strict prefix of every rectangle must be "need
/// more bytes" with the framebuffer untouched, and each rectangle must be
/// consumed exactly when its last byte arrives. Returns the events.
pub fn decode_byte_by_byte(dec: &mut ServerStreamDecoder, fb: &mut Framebuffer, rects: &[u8]) -> Vec<ServerEvent> {
    let mut bytes = Vec::new();
    ServerMessage::FramebufferUpdate { rects: 0xffff }.encode(&mut bytes);
    bytes.extend_from_slice(rects);
    super::rects::last_rect(&mut bytes);
    let mut events = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    let mut before = fb.clone();
    loop {
        match dec.decode(&bytes[pos..pos + k], fb) {
            Ok(None) => {
                assert!(*fb == before, "a prefix of {k} bytes at {pos} changed the framebuffer");
                assert!(pos + k < bytes.len(), "decoder wants more than the whole stream");
                k += 1;
            }
            Ok(Some((ev, n))) => {
                assert_eq!(n, k, "event {ev:?} at {pos} consumed {n} of the {k} bytes offered");
                pos += n;
                k = 0;
                before = fb.clone();
                let end = ev == ServerEvent::UpdateEnd;
                events.push(ev);
                if end {
                    assert_eq!(pos, bytes.len());
                    return events;
                }
            }
            Err(e) => panic!("decode error at byte {pos}+{k}: {e}"),
        }
    }
}
