//! Applies a server's normal-phase byte stream to a [`Framebuffer`].
//!
//! Works at rectangle granularity: a FramebufferUpdate's header, each of its
//! rectangles, and its end are separate events, so the caller can buffer one
//! rectangle at a time rather than a whole (possibly many-megabyte) update.

use super::tight::TightDecoder;
use super::{copy_rect, cursor, hextile, raw, Framebuffer};
use crate::rfb::encodings;
use crate::rfb::messages::{RectHeader, ServerMessage};
use crate::rfb::wire::{need, Reader};
use crate::rfb::{PixelFormat, ProtocolError};

/// What one step of decoding produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A FramebufferUpdate started; `rects` as announced (0xFFFF may mean
    /// "until LastRect").
    UpdateBegin {
        rects: u16,
    },
    /// One rectangle was applied: pixels drawn or copied, or (DesktopSize)
    /// the framebuffer resized, or (Cursor) a cursor skipped. For CopyRect,
    /// `copied_from` is the source's top-left corner: a client tracking
    /// which pixels it has received needs to know where copies came from.
    Rect {
        header: RectHeader,
        copied_from: Option<(u16, u16)>,
    },
    /// The update is complete: the framebuffer is a consistent picture.
    UpdateEnd,
    ColourMap {
        first: u16,
        colours: Vec<[u16; 3]>,
    },
    Bell,
    /// Latin-1 text.
    CutText(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages.
    Idle,
    /// Inside a FramebufferUpdate with this many rectangles left.
    Update { remaining: u16 },
}

/// The decoder's state across calls: where in an update it is, the pixel
/// format the client asked for, and Tight's zlib streams (which persist
/// across rectangles and updates).
#[derive(Debug)]
pub struct ServerStreamDecoder {
    format: PixelFormat,
    state: State,
    tight: TightDecoder,
}

impl ServerStreamDecoder {
    pub fn new(format: PixelFormat) -> Self {
        ServerStreamDecoder { format, state: State::Idle, tight: TightDecoder::new() }
    }

    pub fn pixel_format(&self) -> &PixelFormat {
        &self.format
    }

    /// After the client sent SetPixelFormat. Pixels already in flight in the
    /// old format would be misread (RFC 6143 §7.5.1), so clients change it
    /// only while no update is outstanding.
    pub fn set_pixel_format(&mut self, format: PixelFormat) {
        self.format = format;
    }

    /// Whether a FramebufferUpdate is partly decoded.
    pub fn in_update(&self) -> bool {
        self.state != State::Idle
    }

    /// Decodes the next event from the start of `buf`, applying it to `fb`.
    /// `Ok(None)`: more bytes are needed and nothing was changed. An event
    /// may consume 0 bytes (UpdateEnd after the last rectangle); the state
    /// has advanced, so calling again makes progress.
    pub fn decode(&mut self, buf: &[u8], fb: &mut Framebuffer) -> Result<Option<(ServerEvent, usize)>, ProtocolError> {
        match self.state {
            State::Idle => {
                let Some((msg, n)) = ServerMessage::decode(buf)? else {
                    return Ok(None);
                };
                let event = match msg {
                    ServerMessage::FramebufferUpdate { rects } => {
                        self.state = State::Update { remaining: rects };
                        ServerEvent::UpdateBegin { rects }
                    }
                    ServerMessage::SetColourMapEntries { first, colours } => ServerEvent::ColourMap { first, colours },
                    ServerMessage::Bell => ServerEvent::Bell,
                    ServerMessage::ServerCutText(t) => ServerEvent::CutText(t),
                };
                Ok(Some((event, n)))
            }
            State::Update { remaining: 0 } => {
                self.state = State::Idle;
                Ok(Some((ServerEvent::UpdateEnd, 0)))
            }
            State::Update { remaining } => {
                let mut r = Reader::new(buf);
                let (header, n) = need!(RectHeader::decode(need!(r.bytes(RectHeader::LEN)))?);
                if header.encoding == encodings::LAST_RECT {
                    self.state = State::Idle;
                    return Ok(Some((ServerEvent::UpdateEnd, n)));
                }
                let body = &buf[n..];
                let Some(payload) = self.decode_payload(&header, body, fb)? else {
                    return Ok(None);
                };
                let copied_from = (header.encoding == encodings::COPY_RECT)
                    .then(|| (u16::from_be_bytes([body[0], body[1]]), u16::from_be_bytes([body[2], body[3]])));
                self.state = State::Update { remaining: remaining - 1 };
                Ok(Some((ServerEvent::Rect { header, copied_from }, n + payload)))
            }
        }
    }

    /// One rectangle's payload: the per-encoding dispatch. Each decoder
    /// touches `fb` only once its whole payload is present.
    fn decode_payload(
        &mut self,
        header: &RectHeader,
        buf: &[u8],
        fb: &mut Framebuffer,
    ) -> Result<Option<usize>, ProtocolError> {
        match header.encoding {
            encodings::RAW => raw::decode(header, &self.format, buf, fb),
            encodings::COPY_RECT => copy_rect::decode(header, buf, fb),
            encodings::HEXTILE => hextile::decode(header, &self.format, buf, fb),
            encodings::TIGHT => self.tight.decode(header, &self.format, buf, fb),
            encodings::DESKTOP_SIZE => {
                fb.resize(header.rect.w, header.rect.h)?;
                Ok(Some(0))
            }
            encodings::CURSOR => cursor::decode(header, &self.format, buf),
            other => Err(ProtocolError::UnsupportedEncoding(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::messages::Rect;

    fn update(rects: &[(RectHeader, Vec<u8>)], count: Option<u16>) -> Vec<u8> {
        let mut out = Vec::new();
        ServerMessage::FramebufferUpdate { rects: count.unwrap_or(rects.len() as u16) }.encode(&mut out);
        for (h, payload) in rects {
            h.encode(&mut out);
            out.extend_from_slice(payload);
        }
        out
    }

    fn raw_rect(rect: Rect, f: impl Fn(u16, u16) -> u32) -> (RectHeader, Vec<u8>) {
        let mut payload = Vec::new();
        let pixels = (rect.y..rect.y + rect.h).flat_map(|y| (rect.x..rect.x + rect.w).map(move |x| (x, y)));
        raw::encode(pixels.map(|(x, y)| f(x, y)), &PixelFormat::RGB888, &mut payload);
        (RectHeader { rect, encoding: encodings::RAW }, payload)
    }

    /// Decodes everything in `bytes`, as a client loop would.
    fn run(
        dec: &mut ServerStreamDecoder,
        bytes: &[u8],
        fb: &mut Framebuffer,
    ) -> Result<Vec<ServerEvent>, ProtocolError> {
        let mut events = Vec::new();
        let mut pos = 0;
        while let Some((ev, n)) = dec.decode(&bytes[pos..], fb)? {
            pos += n;
            events.push(ev);
            if pos == bytes.len() && !dec.in_update() {
                break;
            }
        }
        assert_eq!(pos, bytes.len(), "not all bytes consumed");
        Ok(events)
    }

    fn pattern(x: u16, y: u16) -> u32 {
        (x as u32 * 7919 + y as u32 * 104729) & 0xffffff
    }

    #[test]
    fn raw_and_copyrect_draw_what_was_sent() {
        let mut fb = Framebuffer::new(64, 48).unwrap();
        let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        let mut copy = Vec::new();
        copy_rect::encode(0, 0, &mut copy);
        let bytes = update(
            &[
                raw_rect(Rect::new(0, 0, 64, 48), pattern),
                (RectHeader { rect: Rect::new(32, 24, 16, 8), encoding: encodings::COPY_RECT }, copy),
            ],
            None,
        );
        let events = run(&mut dec, &bytes, &mut fb).unwrap();
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(events[0], ServerEvent::UpdateBegin { rects: 2 });
        assert_eq!(events[3], ServerEvent::UpdateEnd);
        assert!(matches!(events[2], ServerEvent::Rect { copied_from: Some((0, 0)), .. }), "{events:?}");
        for y in 0..48 {
            for x in 0..64 {
                let want = if (32..48).contains(&x) && (24..32).contains(&y) {
                    pattern(x - 32, y - 24)
                } else {
                    pattern(x, y)
                };
                assert_eq!(fb.get(x, y), want, "({x},{y})");
            }
        }
    }

    #[test]
    fn other_pixel_formats_convert_to_rgb() {
        let bgr233 = PixelFormat {
            bits_per_pixel: 8,
            depth: 8,
            big_endian: false,
            true_colour: true,
            red_max: 7,
            green_max: 7,
            blue_max: 3,
            red_shift: 0,
            green_shift: 3,
            blue_shift: 6,
        };
        let mut fb = Framebuffer::new(2, 1).unwrap();
        let mut dec = ServerStreamDecoder::new(bgr233);
        let h = RectHeader { rect: Rect::new(0, 0, 2, 1), encoding: encodings::RAW };
        let bytes = update(&[(h, vec![0b00_000_111, 0b11_000_000])], None);
        run(&mut dec, &bytes, &mut fb).unwrap();
        assert_eq!(fb.pixels(), &[0xff0000, 0x0000ff]);
    }

    #[test]
    fn every_prefix_needs_more_and_leaves_the_framebuffer_alone() {
        let bytes = update(&[raw_rect(Rect::new(1, 1, 3, 2), |_, _| 0xabcdef)], None);
        let mut fb = Framebuffer::new(8, 8).unwrap();
        let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        // Header first, then every prefix of the rectangle.
        let (ev, n) = dec.decode(&bytes, &mut fb).unwrap().unwrap();
        assert_eq!((ev, n), (ServerEvent::UpdateBegin { rects: 1 }, 4));
        let rest = &bytes[4..];
        for k in 0..rest.len() {
            assert_eq!(dec.decode(&rest[..k], &mut fb).unwrap(), None, "prefix {k}");
            assert!(fb.pixels().iter().all(|&p| p == 0), "drew on a partial rectangle at prefix {k}");
        }
        let (ev, n) = dec.decode(rest, &mut fb).unwrap().unwrap();
        assert!(matches!(ev, ServerEvent::Rect { copied_from: None, .. }) && n == rest.len());
        assert_eq!(dec.decode(&[], &mut fb).unwrap(), Some((ServerEvent::UpdateEnd, 0)));
        assert_eq!(fb.get(3, 2), 0xabcdef);
    }

    #[test]
    fn desktop_size_resizes_and_last_rect_ends_early() {
        let mut fb = Framebuffer::new(8, 8).unwrap();
        let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        let resize = (RectHeader { rect: Rect::new(0, 0, 16, 4), encoding: encodings::DESKTOP_SIZE }, vec![]);
        let last = (RectHeader { rect: Rect::new(0, 0, 0, 0), encoding: encodings::LAST_RECT }, vec![]);
        let bytes = update(&[resize, raw_rect(Rect::new(8, 0, 8, 4), pattern), last], Some(0xffff));
        let events = run(&mut dec, &bytes, &mut fb).unwrap();
        assert_eq!(events.last(), Some(&ServerEvent::UpdateEnd));
        assert!(!dec.in_update());
        assert_eq!((fb.width(), fb.height()), (16, 4));
        assert_eq!(fb.get(9, 3), pattern(9, 3));
    }

    #[test]
    fn other_server_messages_pass_through() {
        let mut fb = Framebuffer::new(1, 1).unwrap();
        let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        let mut bytes = Vec::new();
        ServerMessage::Bell.encode(&mut bytes);
        ServerMessage::ServerCutText(b"hi".to_vec()).encode(&mut bytes);
        ServerMessage::FramebufferUpdate { rects: 0 }.encode(&mut bytes);
        let events = run(&mut dec, &bytes, &mut fb).unwrap();
        assert_eq!(
            events,
            [
                ServerEvent::Bell,
                ServerEvent::CutText(b"hi".to_vec()),
                ServerEvent::UpdateBegin { rects: 0 },
                ServerEvent::UpdateEnd
            ]
        );
    }

    #[test]
    fn hostile_rectangles_are_errors_before_buffering() {
        let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        let mut fb = Framebuffer::new(64, 64).unwrap();
        let bad = |dec: &mut ServerStreamDecoder, fb: &mut Framebuffer, h: RectHeader| {
            *dec = ServerStreamDecoder::new(PixelFormat::RGB888);
            // Header only: the error must come without the payload.
            let bytes = update(&[(h, vec![])], None);
            run(dec, &bytes, fb).unwrap_err()
        };
        let e = bad(&mut dec, &mut fb, RectHeader { rect: Rect::new(0, 0, 65535, 65535), encoding: encodings::RAW });
        assert!(matches!(e, ProtocolError::RectOutOfBounds { .. }), "{e}");
        let e = bad(&mut dec, &mut fb, RectHeader { rect: Rect::new(60, 0, 8, 1), encoding: encodings::RAW });
        assert!(e.to_string().contains("8x1+60+0"), "{e}");
        let e = bad(
            &mut dec,
            &mut fb,
            RectHeader { rect: Rect::new(0, 0, 65535, 65535), encoding: encodings::DESKTOP_SIZE },
        );
        assert!(e.to_string().contains("framebuffer pixel count"), "{e}");
        let e = bad(&mut dec, &mut fb, RectHeader { rect: Rect::new(0, 0, 4000, 4000), encoding: encodings::CURSOR });
        assert!(e.to_string().contains("Cursor width"), "{e}");
        let e = bad(&mut dec, &mut fb, RectHeader { rect: Rect::new(0, 0, 1, 1), encoding: encodings::ZRLE });
        assert_eq!(e, ProtocolError::UnsupportedEncoding(16));
        // CopyRect from outside the framebuffer.
        let mut copy = Vec::new();
        copy_rect::encode(60, 60, &mut copy);
        let bytes = update(&[(RectHeader { rect: Rect::new(0, 0, 8, 8), encoding: encodings::COPY_RECT }, copy)], None);
        dec = ServerStreamDecoder::new(PixelFormat::RGB888);
        assert!(matches!(run(&mut dec, &bytes, &mut fb).unwrap_err(), ProtocolError::RectOutOfBounds { .. }));
    }

    #[test]
    fn garbage_is_an_error_not_a_hang() {
        let mut fb = Framebuffer::new(8, 8).unwrap();
        for garbage in [&b"HTTP/1.1 400 Bad Request\r\n"[..], &[0x7f], &[9, 9, 9, 9]] {
            let mut dec = ServerStreamDecoder::new(PixelFormat::RGB888);
            assert!(dec.decode(garbage, &mut fb).is_err(), "{garbage:?}");
        }
    }
}
