//! Tight round trips through the real client decoder, the choice of
//! subencoding, zlib stream persistence and resets, splitting, and sizes.

use super::*;
use crate::rfb::encode::pixel::formats;
use crate::rfb::encode::test_images::{self, Image};
use crate::rfb::encode::{hextile, raw};
use crate::rfb::framebuffer::{Framebuffer, ServerStreamDecoder};
use crate::rfb::messages::RectHeader;

const LOSSLESS: TightOptions = TightOptions { jpeg_quality: None, compress_level: 2 };
const JPEG_Q6: TightOptions = TightOptions { jpeg_quality: Some(6), compress_level: 2 };

fn tight(img: &Image, rect: Rect, pf: &PixelFormat, opts: &TightOptions, state: &mut TightState) -> Vec<u8> {
    let mut out = Vec::new();
    let n = encode(&img.source(), rect, pf, opts, state, &mut out).unwrap();
    assert_eq!(n, split(rect).count());
    out
}

fn full(img: &Image) -> Rect {
    Rect::new(0, 0, img.width, img.height)
}

/// Decodes `out` with `dec` (a client that saw everything before) and
/// returns the control byte of each rectangle (right after its header).
fn decode_controls(dec: &mut ServerStreamDecoder, fb: &mut Framebuffer, out: &[u8]) -> Vec<u8> {
    let mut msg = Vec::new();
    crate::rfb::messages::ServerMessage::FramebufferUpdate { rects: 0xffff }.encode(&mut msg);
    msg.extend_from_slice(out);
    crate::rfb::encode::rects::last_rect(&mut msg);
    let mut pos = 0;
    let mut ctls = Vec::new();
    while let Some((ev, n)) = dec.decode(&msg[pos..], fb).unwrap() {
        if let crate::rfb::framebuffer::ServerEvent::Rect { header, .. } = ev {
            assert_eq!(header.encoding, encodings::TIGHT);
            ctls.push(msg[pos + RectHeader::LEN]);
        }
        pos += n;
        if pos == msg.len() && !dec.in_update() {
            break;
        }
    }
    assert_eq!(pos, msg.len());
    ctls
}

/// The control bytes of `out`, encoded with a fresh state.
fn controls(pf: &PixelFormat, img: &Image, out: &[u8]) -> Vec<u8> {
    let mut fb = Framebuffer::new(img.width, img.height).unwrap();
    decode_controls(&mut ServerStreamDecoder::new(*pf), &mut fb, out)
}

#[test]
fn lossless_round_trips_in_every_format() {
    for pf in formats::ALL {
        // One client: streams persist across all these rectangles.
        let mut state = TightState::new();
        let mut dec = ServerStreamDecoder::new(pf);
        for (w, h) in [(1, 1), (7, 3), (64, 48), (100, 37)] {
            for img in test_images::all(w + 2, h + 1) {
                let rect = Rect::new(1, 1, w, h);
                let out = tight(&img, rect, &pf, &LOSSLESS, &mut state);
                let mut fb = Framebuffer::new(img.width, img.height).unwrap();
                test_images::decode_rects(&mut dec, &mut fb, &out);
                img.assert_seen_in(&fb, rect, &pf, 0, &format!("tight {pf:?} {} {w}x{h}", img.name));
            }
        }
    }
}

#[test]
fn jpeg_round_trips_within_tolerance_and_lossless_parts_stay_exact() {
    for pf in [PixelFormat::RGB888, formats::NOVNC, formats::RGB565] {
        let mut state = TightState::new();
        let mut dec = ServerStreamDecoder::new(pf);
        for img in test_images::all(96, 64) {
            let out = tight(&img, full(&img), &pf, &JPEG_Q6, &mut state);
            let mut fb = Framebuffer::new(img.width, img.height).unwrap();
            let jpeg = decode_controls(&mut dec, &mut fb, &out).iter().any(|&c| c & 0xf0 == ctl::JPEG);
            // Few-colour images never go lossy; gradient and noise do.
            assert_eq!(jpeg, matches!(img.name, "gradient" | "noise"), "{pf:?} {}", img.name);
            let tolerance = match img.name {
                "noise" => 40, // JPEG's worst case: no structure at all
                "gradient" => 4,
                _ => 0,
            };
            img.assert_seen_in(&fb, full(&img), &pf, tolerance, &format!("{pf:?} {}", img.name));
        }
    }
}

#[test]
fn jpeg_quality_levels_trade_size_for_error() {
    let img = test_images::gradient(128, 128);
    let size_at = |q: u8| {
        let opts = TightOptions { jpeg_quality: Some(q), compress_level: 2 };
        tight(&img, full(&img), &PixelFormat::RGB888, &opts, &mut TightState::new()).len()
    };
    let (low, high) = (size_at(0), size_at(9));
    assert!(low * 2 < high, "quality 0: {low} bytes, quality 9: {high}");
    // Quality 9 is nearly exact.
    let out = tight(
        &img,
        full(&img),
        &PixelFormat::RGB888,
        &TightOptions { jpeg_quality: Some(9), compress_level: 2 },
        &mut TightState::new(),
    );
    let fb = test_images::decode_all(&PixelFormat::RGB888, 128, 128, &out);
    img.assert_seen_in(&fb, full(&img), &PixelFormat::RGB888, 2, "q9");
}

#[test]
fn subencodings_are_chosen_by_colour_count() {
    let pf = PixelFormat::RGB888;
    let cases: [(Image, TightOptions, u8); 7] = [
        (Image::solid(64, 64, 0xabcdef), LOSSLESS, ctl::FILL),
        (test_images::two_colours(64, 64), LOSSLESS, 0x40 | 0x10 | 0x02),
        (test_images::text_like(64, 64), LOSSLESS, 0x40 | 0x20 | 0x04),
        (test_images::noise(64, 64), LOSSLESS, 0x01),
        (test_images::noise(64, 64), JPEG_Q6, ctl::JPEG),
        // Too small for JPEG to pay: zlib, even with a quality level.
        (test_images::noise(31, 32), JPEG_Q6, 0x01),
        // 8 bpp: JPEG is not allowed (spec), and 1-byte indices buy nothing.
        (test_images::text_like(64, 64), JPEG_Q6, 0x01),
    ];
    for (i, (img, opts, want)) in cases.iter().enumerate() {
        let pf = if i == 6 { formats::BGR233 } else { pf };
        let out = tight(img, full(img), &pf, opts, &mut TightState::new());
        assert_eq!(controls(&pf, img, &out), [*want], "case {i}: {}", img.name);
    }
    // Fill is the header, the control byte and one TPIXEL (R, G, B).
    let img = Image::solid(300, 200, 0xabcdef);
    let out = tight(&img, full(&img), &pf, &LOSSLESS, &mut TightState::new());
    assert_eq!(&out[12..16], [ctl::FILL, 0xab, 0xcd, 0xef]);
    assert_eq!(out.len(), split(full(&img)).count() * 16);
}

#[test]
fn short_data_is_sent_without_zlib_or_length() {
    // 8x1, two colours: 1 byte of bits, under 12, so sent as is and no
    // stream is touched (no reset bit).
    let img = Image::new("tiny", 8, 1, |x, _| if x == 0 { 0xff0000 } else { 0x0000ff });
    let out = tight(&img, full(&img), &PixelFormat::RGB888, &LOSSLESS, &mut TightState::new());
    assert_eq!(&out[12..], [0x50, filter::PALETTE, 1, 0xff, 0, 0, 0, 0, 0xff, 0b0111_1111]);
    let fb = test_images::decode_all(&PixelFormat::RGB888, 8, 1, &out);
    img.assert_seen_in(&fb, full(&img), &PixelFormat::RGB888, 0, "tiny");
    // 2x2 full colour at 16 bpp: 8 bytes, also uncompressed.
    let img = test_images::noise(2, 2);
    let out = tight(&img, full(&img), &formats::RGB565, &LOSSLESS, &mut TightState::new());
    assert_eq!(out.len(), 12 + 1 + 8);
    assert_eq!(out[12], 0x00);
}

#[test]
fn zlib_streams_persist_across_rects_and_updates() {
    let pf = formats::NOVNC;
    // 50 colours in no pattern: compresses poorly on its own, so only the
    // stream's history can make a repeat small.
    let noise = test_images::noise_fn(5);
    let img = Image::new("random palette", 100, 100, move |x, y| (noise(x, y) % 50) * 0x030507);
    let mut state = TightState::new();
    let mut dec = ServerStreamDecoder::new(pf);
    let mut fb = Framebuffer::new(100, 100).unwrap();
    let first = tight(&img, full(&img), &pf, &LOSSLESS, &mut state);
    assert_eq!(decode_controls(&mut dec, &mut fb, &first)[0] & 0x0f, 0x04, "first use of stream 2 resets it");
    // Same content again, as a second update: stream 2's history makes it
    // far smaller, and no reset is sent.
    let second = tight(&img, full(&img), &pf, &LOSSLESS, &mut state);
    assert!(second.len() * 10 < first.len(), "second {} vs first {}", second.len(), first.len());
    let mut fb2 = Framebuffer::new(100, 100).unwrap();
    assert_eq!(decode_controls(&mut dec, &mut fb2, &second)[0] & 0x0f, 0);
    img.assert_seen_in(&fb2, full(&img), &pf, 0, "second");
    // A fresh decoder has no history: the second rectangle alone is
    // undecodable. (This is what the reset bits protect against.)
    let mut fresh = ServerStreamDecoder::new(pf);
    let mut msg = Vec::new();
    crate::rfb::messages::ServerMessage::FramebufferUpdate { rects: 1 }.encode(&mut msg);
    msg.extend_from_slice(&second);
    let mut fb3 = Framebuffer::new(100, 100).unwrap();
    let (_, n) = fresh.decode(&msg, &mut fb3).unwrap().unwrap();
    assert!(fresh.decode(&msg[n..], &mut fb3).is_err());
}

#[test]
fn resets_and_level_changes_restart_streams_in_step_with_the_client() {
    let pf = PixelFormat::RGB888;
    let img = test_images::text_like(120, 60);
    let mut state = TightState::new();
    let mut dec = ServerStreamDecoder::new(pf);
    let mut round = |state: &mut TightState, opts: &TightOptions| {
        let out = tight(&img, full(&img), &pf, opts, state);
        let mut fb = Framebuffer::new(120, 60).unwrap();
        let ctl = decode_controls(&mut dec, &mut fb, &out)[0];
        img.assert_seen_in(&fb, full(&img), &pf, 0, "after reset");
        ctl & 0x0f
    };
    assert_eq!(round(&mut state, &LOSSLESS), 0x04);
    assert_eq!(round(&mut state, &LOSSLESS), 0);
    state.reset();
    assert_eq!(round(&mut state, &LOSSLESS), 0x04, "after a reset the client is told");
    assert_eq!(round(&mut state, &LOSSLESS), 0);
    let level9 = TightOptions { compress_level: 9, ..LOSSLESS };
    assert_eq!(round(&mut state, &level9), 0x04, "a new level is a new stream");
    assert_eq!(round(&mut state, &level9), 0);
    let level0 = TightOptions { compress_level: 0, ..LOSSLESS };
    assert_eq!(round(&mut state, &level0), 0x04);
}

#[test]
fn every_prefix_needs_more_bytes_and_leaves_the_streams_alone() {
    for pf in [PixelFormat::RGB888, formats::RGB565, formats::BGR233] {
        let mut state = TightState::new();
        let mut dec = ServerStreamDecoder::new(pf);
        for img in test_images::all(40, 36) {
            for opts in [LOSSLESS, JPEG_Q6] {
                // Twice each, so the second goes through a stream with history
                // that a consumed prefix would have corrupted.
                for _ in 0..2 {
                    let out = tight(&img, full(&img), &pf, &opts, &mut state);
                    let mut fb = Framebuffer::new(img.width, img.height).unwrap();
                    test_images::decode_byte_by_byte(&mut dec, &mut fb, &out);
                    let tol = if opts.jpeg_quality.is_some() && pf.bits_per_pixel > 8 { 40 } else { 0 };
                    img.assert_seen_in(&fb, full(&img), &pf, tol, &format!("{pf:?} {}", img.name));
                }
            }
        }
    }
}

#[test]
fn wide_and_large_rects_are_split_within_limits() {
    assert_eq!(split(Rect::new(0, 0, 0, 10)).count(), 0);
    assert_eq!(split(Rect::new(5, 5, 10, 0)).count(), 0);
    for rect in [Rect::new(3, 1, 4100, 40), Rect::new(0, 0, 300, 600), Rect::new(7, 9, 1, 1), Rect::new(0, 0, 65535, 3)]
    {
        let pieces: Vec<Rect> = split(rect).collect();
        let area: u64 = pieces.iter().map(Rect::area).sum();
        assert_eq!(area, rect.area(), "{rect:?}");
        for p in &pieces {
            assert!(p.w <= MAX_RECT_WIDTH && p.area() as usize <= MAX_SUBRECT_PIXELS, "{p:?}");
            assert!(p.x >= rect.x && p.y >= rect.y && p.x as u32 + p.w as u32 <= rect.x as u32 + rect.w as u32);
            assert!(p.y as u32 + p.h as u32 <= rect.y as u32 + rect.h as u32);
        }
        // Pieces tile the rectangle: no overlaps (area matches and all inside).
        for (i, a) in pieces.iter().enumerate() {
            for b in &pieces[i + 1..] {
                let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }
    assert_eq!(split(Rect::new(0, 0, 300, 600)).next(), Some(Rect::new(0, 0, 300, 208)));
    // And a wide image decodes through pieces the decoder accepts.
    let img = test_images::text_like(4100, 20);
    let out = tight(&img, full(&img), &PixelFormat::RGB888, &LOSSLESS, &mut TightState::new());
    let fb = test_images::decode_all(&PixelFormat::RGB888, 4100, 20, &out);
    img.assert_seen_in(&fb, full(&img), &PixelFormat::RGB888, 0, "wide");
}

#[test]
fn errors_leave_output_and_state_alone() {
    let img = Image::solid(16, 16, 0);
    let mut out = vec![1, 2, 3];
    let mut state = TightState::new();
    let e = encode(&img.source(), Rect::new(8, 8, 9, 8), &PixelFormat::RGB888, &LOSSLESS, &mut state, &mut out);
    assert!(matches!(e, Err(EncodeError::RectOutOfBounds { .. })));
    assert_eq!(
        encode(&img.source(), Rect::new(16, 16, 0, 0), &PixelFormat::RGB888, &LOSSLESS, &mut state, &mut out),
        Ok(0)
    );
    let mut cmap = PixelFormat::RGB888;
    cmap.true_colour = false;
    assert!(encode(&img.source(), full(&img), &cmap, &LOSSLESS, &mut state, &mut out).is_err());
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn tight_and_hextile_beat_raw_on_structured_images() {
    let pf = formats::NOVNC;
    println!("{:>12} {:>9} {:>9} {:>9} {:>9}   ratios raw/x", "image", "raw", "hextile", "tight", "tight+jpg");
    for img in [
        Image::solid(640, 480, 0x3a6ea5),
        test_images::two_colours(640, 480),
        test_images::text_like(640, 480),
        test_images::window(640, 480),
        test_images::gradient(640, 480),
        test_images::noise(640, 480),
    ] {
        let rect = full(&img);
        let mut r = Vec::new();
        raw::encode(&img.source(), rect, &pf, &mut r).unwrap();
        let mut h = Vec::new();
        hextile::encode(&img.source(), rect, &pf, &mut h).unwrap();
        let t = tight(&img, rect, &pf, &LOSSLESS, &mut TightState::new());
        let j = tight(&img, rect, &pf, &JPEG_Q6, &mut TightState::new());
        let ratio = |n: usize| r.len() as f64 / n as f64;
        println!(
            "{:>12} {:>9} {:>9} {:>9} {:>9}   hextile {:>7.1}  tight {:>7.1}  tight+jpeg {:>7.1}",
            img.name,
            r.len(),
            h.len(),
            t.len(),
            j.len(),
            ratio(h.len()),
            ratio(t.len()),
            ratio(j.len())
        );
        match img.name {
            "noise" => {
                // Incompressible: zlib may add a little, never much.
                assert!(ratio(t.len()) > 1.25, "TPIXELs are 3 of raw's 4 bytes: {}", ratio(t.len()));
                assert!(ratio(j.len()) > 2.0, "JPEG: {}", ratio(j.len()));
            }
            "gradient" => {
                // Every pixel distinct: lossless gains little beyond TPIXELs'
                // 3 bytes for 4 (the gradient filter would, but noVNC cannot
                // decode it); this is what JPEG is for.
                assert!(ratio(t.len()) > 1.3, "{}", ratio(t.len()));
                assert!(ratio(j.len()) > 10.0, "{}", ratio(j.len()));
            }
            name => {
                // Dense anti-aliased glyphs are Hextile's worst structured case.
                let min = if name == "text" { 2.5 } else { 4.0 };
                assert!(ratio(h.len()) > min, "hextile on {}: {}", img.name, ratio(h.len()));
                assert!(ratio(t.len()) > 10.0, "tight on {}: {}", img.name, ratio(t.len()));
                assert!(t.len() < h.len(), "tight beats hextile on {}", img.name);
            }
        }
    }
}
