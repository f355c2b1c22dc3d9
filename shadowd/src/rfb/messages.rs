//! Normal-phase messages (RFC 6143 §7.5, §7.6), both directions.
//!
//! A FramebufferUpdate is decoded as its 4-byte header only; its rectangles
//! follow as [`RectHeader`] + an encoding-specific payload whose length
//! depends on the pixel format and the encoding, which is
//! [`super::framebuffer`]'s business on the client side and the encoders'
//! on the server side. That keeps this module free of pixel state and lets
//! a multi-megabyte update be applied rectangle by rectangle.

use super::wire::{cap, need, read_len_prefixed, Reader};
use super::{PixelFormat, ProtocolError};

/// Longest cut text accepted in either direction.
pub const MAX_CUT_TEXT: u32 = 1024 * 1024;
/// Most encodings accepted in one SetEncodings (real clients send < 40).
pub const MAX_ENCODINGS: u16 = 1024;

/// Message type numbers.
pub mod msg_type {
    pub mod client {
        pub const SET_PIXEL_FORMAT: u8 = 0;
        pub const SET_ENCODINGS: u8 = 2;
        pub const FRAMEBUFFER_UPDATE_REQUEST: u8 = 3;
        pub const KEY_EVENT: u8 = 4;
        pub const POINTER_EVENT: u8 = 5;
        pub const CLIENT_CUT_TEXT: u8 = 6;
    }
    pub mod server {
        pub const FRAMEBUFFER_UPDATE: u8 = 0;
        pub const SET_COLOUR_MAP_ENTRIES: u8 = 1;
        pub const BELL: u8 = 2;
        pub const SERVER_CUT_TEXT: u8 = 3;
    }
}
use msg_type::{client as ct, server as st};

/// A rectangle: a region and the encoding of what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub fn new(x: u16, y: u16, w: u16, h: u16) -> Self {
        Rect { x, y, w, h }
    }

    pub fn area(&self) -> u64 {
        self.w as u64 * self.h as u64
    }

    /// Whether the rectangle lies within a `width`x`height` framebuffer
    /// (computed without overflow: x + w may exceed u16).
    pub fn fits_in(&self, width: u16, height: u16) -> bool {
        self.x as u32 + self.w as u32 <= width as u32 && self.y as u32 + self.h as u32 <= height as u32
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    SetPixelFormat(PixelFormat),
    SetEncodings(Vec<i32>),
    FramebufferUpdateRequest {
        incremental: bool,
        rect: Rect,
    },
    KeyEvent {
        down: bool,
        keysym: u32,
    },
    PointerEvent {
        buttons: u8,
        x: u16,
        y: u16,
    },
    /// Latin-1 text (see [`latin1_to_string`]).
    ClientCutText(Vec<u8>),
}

impl ClientMessage {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ClientMessage::SetPixelFormat(pf) => {
                out.extend_from_slice(&[ct::SET_PIXEL_FORMAT, 0, 0, 0]);
                out.extend_from_slice(&pf.encode());
            }
            ClientMessage::SetEncodings(list) => {
                let list = &list[..list.len().min(MAX_ENCODINGS as usize)];
                out.extend_from_slice(&[ct::SET_ENCODINGS, 0]);
                out.extend_from_slice(&(list.len() as u16).to_be_bytes());
                for e in list {
                    out.extend_from_slice(&e.to_be_bytes());
                }
            }
            ClientMessage::FramebufferUpdateRequest { incremental, rect } => {
                out.extend_from_slice(&[ct::FRAMEBUFFER_UPDATE_REQUEST, *incremental as u8]);
                write_rect(rect, out);
            }
            ClientMessage::KeyEvent { down, keysym } => {
                out.extend_from_slice(&[ct::KEY_EVENT, *down as u8, 0, 0]);
                out.extend_from_slice(&keysym.to_be_bytes());
            }
            ClientMessage::PointerEvent { buttons, x, y } => {
                out.extend_from_slice(&[ct::POINTER_EVENT, *buttons]);
                out.extend_from_slice(&x.to_be_bytes());
                out.extend_from_slice(&y.to_be_bytes());
            }
            ClientMessage::ClientCutText(text) => {
                out.extend_from_slice(&[ct::CLIENT_CUT_TEXT, 0, 0, 0]);
                write_text(text, out);
            }
        }
    }

    /// Server side: one client message from the start of `buf`. Unknown
    /// types are errors because their length is unknown: the stream cannot
    /// be resynchronised (clients only send extensions a server advertised).
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let mut r = Reader::new(buf);
        let msg = match need!(r.u8()) {
            ct::SET_PIXEL_FORMAT => {
                need!(r.bytes(3));
                ClientMessage::SetPixelFormat(PixelFormat::decode(&need!(r.array::<16>()))?)
            }
            ct::SET_ENCODINGS => {
                need!(r.bytes(1));
                let n = need!(r.u16());
                cap("SetEncodings count", n as u64, MAX_ENCODINGS as u64)?;
                let raw = need!(r.bytes(n as usize * 4));
                ClientMessage::SetEncodings(
                    raw.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect(),
                )
            }
            ct::FRAMEBUFFER_UPDATE_REQUEST => {
                let incremental = need!(r.u8()) != 0;
                ClientMessage::FramebufferUpdateRequest { incremental, rect: need!(read_rect(&mut r)) }
            }
            ct::KEY_EVENT => {
                let down = need!(r.u8()) != 0;
                need!(r.bytes(2));
                ClientMessage::KeyEvent { down, keysym: need!(r.u32()) }
            }
            ct::POINTER_EVENT => {
                let buttons = need!(r.u8());
                ClientMessage::PointerEvent { buttons, x: need!(r.u16()), y: need!(r.u16()) }
            }
            ct::CLIENT_CUT_TEXT => {
                need!(r.bytes(3));
                // A negative length (extended clipboard) reads as > 2 GiB and
                // is refused here: we never advertise that extension.
                ClientMessage::ClientCutText(
                    need!(read_len_prefixed(&mut r, "ClientCutText length", MAX_CUT_TEXT)?).to_vec(),
                )
            }
            t => return Err(ProtocolError::UnknownMessageType { direction: "client-to-server", msg_type: t }),
        };
        Ok(Some((msg, r.pos())))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// The header of a FramebufferUpdate: `rects` rectangles follow (0xFFFF
    /// means "until a LastRect rectangle" when the client advertised it).
    FramebufferUpdate {
        rects: u16,
    },
    /// Colour-map entries from `first`, as 16-bit RGB triples.
    SetColourMapEntries {
        first: u16,
        colours: Vec<[u16; 3]>,
    },
    Bell,
    /// Latin-1 text.
    ServerCutText(Vec<u8>),
}

impl ServerMessage {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerMessage::FramebufferUpdate { rects } => {
                out.extend_from_slice(&[st::FRAMEBUFFER_UPDATE, 0]);
                out.extend_from_slice(&rects.to_be_bytes());
            }
            ServerMessage::SetColourMapEntries { first, colours } => {
                let colours = &colours[..colours.len().min(u16::MAX as usize)];
                out.extend_from_slice(&[st::SET_COLOUR_MAP_ENTRIES, 0]);
                out.extend_from_slice(&first.to_be_bytes());
                out.extend_from_slice(&(colours.len() as u16).to_be_bytes());
                for c in colours {
                    for v in c {
                        out.extend_from_slice(&v.to_be_bytes());
                    }
                }
            }
            ServerMessage::Bell => out.push(st::BELL),
            ServerMessage::ServerCutText(text) => {
                out.extend_from_slice(&[st::SERVER_CUT_TEXT, 0, 0, 0]);
                write_text(text, out);
            }
        }
    }

    /// Client side: one server message (for FramebufferUpdate, only its
    /// header) from the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let mut r = Reader::new(buf);
        let msg = match need!(r.u8()) {
            st::FRAMEBUFFER_UPDATE => {
                need!(r.bytes(1));
                ServerMessage::FramebufferUpdate { rects: need!(r.u16()) }
            }
            st::SET_COLOUR_MAP_ENTRIES => {
                need!(r.bytes(1));
                let first = need!(r.u16());
                let n = need!(r.u16());
                // At most 65536 entries exist; the u16 count bounds the
                // allocation to 384 KiB, but the range must still make sense.
                if first as u32 + n as u32 > 65536 {
                    return Err(ProtocolError::InvalidValue {
                        what: "SetColourMapEntries first colour + count",
                        value: first as i64 + n as i64,
                    });
                }
                let raw = need!(r.bytes(n as usize * 6));
                let colours = raw
                    .chunks_exact(6)
                    .map(|c| {
                        [
                            u16::from_be_bytes([c[0], c[1]]),
                            u16::from_be_bytes([c[2], c[3]]),
                            u16::from_be_bytes([c[4], c[5]]),
                        ]
                    })
                    .collect();
                ServerMessage::SetColourMapEntries { first, colours }
            }
            st::BELL => ServerMessage::Bell,
            st::SERVER_CUT_TEXT => {
                need!(r.bytes(3));
                ServerMessage::ServerCutText(
                    need!(read_len_prefixed(&mut r, "ServerCutText length", MAX_CUT_TEXT)?).to_vec(),
                )
            }
            t => return Err(ProtocolError::UnknownMessageType { direction: "server-to-client", msg_type: t }),
        };
        Ok(Some((msg, r.pos())))
    }
}

/// The 12-byte header of each rectangle in a FramebufferUpdate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RectHeader {
    pub rect: Rect,
    pub encoding: i32,
}

impl RectHeader {
    pub const LEN: usize = 12;

    pub fn encode(&self, out: &mut Vec<u8>) {
        write_rect(&self.rect, out);
        out.extend_from_slice(&self.encoding.to_be_bytes());
    }

    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let mut r = Reader::new(buf);
        let rect = need!(read_rect(&mut r));
        let encoding = need!(r.i32());
        Ok(Some((RectHeader { rect, encoding }, r.pos())))
    }
}

fn write_rect(rect: &Rect, out: &mut Vec<u8>) {
    for v in [rect.x, rect.y, rect.w, rect.h] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn read_rect(r: &mut Reader<'_>) -> Option<Rect> {
    Some(Rect { x: r.u16()?, y: r.u16()?, w: r.u16()?, h: r.u16()? })
}

/// Cut text longer than the cap is truncated rather than sent, since the
/// peer would refuse it and drop the connection.
fn write_text(text: &[u8], out: &mut Vec<u8>) {
    let text = &text[..text.len().min(MAX_CUT_TEXT as usize)];
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text);
}

/// Cut text is Latin-1 (ISO 8859-1): each byte is the code point.
pub fn latin1_to_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// Characters outside Latin-1 become `?`, as RFB cannot carry them.
pub fn string_to_latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| u8::try_from(c as u32).unwrap_or(b'?')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::encodings;
    use crate::rfb::wire::assert_prefixes_incomplete;

    fn client_samples() -> Vec<ClientMessage> {
        vec![
            ClientMessage::SetPixelFormat(PixelFormat::RGB888),
            ClientMessage::SetEncodings(vec![encodings::RAW, encodings::COPY_RECT, encodings::DESKTOP_SIZE]),
            ClientMessage::SetEncodings(vec![]),
            ClientMessage::FramebufferUpdateRequest { incremental: true, rect: Rect::new(1, 2, 1280, 800) },
            ClientMessage::KeyEvent { down: true, keysym: 0xff0d },
            ClientMessage::PointerEvent { buttons: 0b101, x: 400, y: 300 },
            ClientMessage::ClientCutText(string_to_latin1("rm -rf / ü")),
        ]
    }

    fn server_samples() -> Vec<ServerMessage> {
        vec![
            ServerMessage::FramebufferUpdate { rects: 3 },
            ServerMessage::SetColourMapEntries { first: 5, colours: vec![[0, 0xffff, 0x8000], [1, 2, 3]] },
            ServerMessage::Bell,
            ServerMessage::ServerCutText(b"hello".to_vec()),
        ]
    }

    #[test]
    fn client_messages_round_trip_and_every_prefix_needs_more() {
        for msg in client_samples() {
            let mut bytes = Vec::new();
            msg.encode(&mut bytes);
            assert_eq!(ClientMessage::decode(&bytes).unwrap(), Some((msg.clone(), bytes.len())), "{msg:?}");
            assert_prefixes_incomplete(&bytes, ClientMessage::decode);
            // Whatever follows belongs to the next message.
            bytes.push(ct::KEY_EVENT);
            assert_eq!(ClientMessage::decode(&bytes).unwrap().unwrap().1, bytes.len() - 1);
        }
    }

    #[test]
    fn server_messages_round_trip_and_every_prefix_needs_more() {
        for msg in server_samples() {
            let mut bytes = Vec::new();
            msg.encode(&mut bytes);
            assert_eq!(ServerMessage::decode(&bytes).unwrap(), Some((msg.clone(), bytes.len())), "{msg:?}");
            assert_prefixes_incomplete(&bytes, ServerMessage::decode);
        }
        let h = RectHeader { rect: Rect::new(10, 20, 30, 40), encoding: encodings::DESKTOP_SIZE };
        let mut bytes = Vec::new();
        h.encode(&mut bytes);
        assert_eq!(RectHeader::decode(&bytes).unwrap(), Some((h, RectHeader::LEN)));
        assert_prefixes_incomplete(&bytes, RectHeader::decode);
    }

    #[test]
    fn wire_layout_matches_the_rfc() {
        let mut b = Vec::new();
        ClientMessage::FramebufferUpdateRequest { incremental: false, rect: Rect::new(0, 0, 320, 200) }.encode(&mut b);
        assert_eq!(b, [3, 0, 0, 0, 0, 0, 1, 64, 0, 200]);
        b.clear();
        ClientMessage::KeyEvent { down: true, keysym: 0x61 }.encode(&mut b);
        assert_eq!(b, [4, 1, 0, 0, 0, 0, 0, 0x61]);
        b.clear();
        ClientMessage::SetEncodings(vec![0, -223]).encode(&mut b);
        assert_eq!(b, [2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]);
    }

    #[test]
    fn oversized_lengths_are_refused_from_the_header_alone() {
        // 2 GiB of cut text announced: refused before a single text byte.
        let e = ClientMessage::decode(&[6, 0, 0, 0, 0x80, 0, 0, 0]).unwrap_err();
        assert_eq!(
            e,
            ProtocolError::TooLong { what: "ClientCutText length", len: 0x8000_0000, max: MAX_CUT_TEXT as u64 }
        );
        let e = ServerMessage::decode(&[3, 0, 0, 0, 0, 0x10, 0, 1]).unwrap_err();
        assert!(e.to_string().contains("ServerCutText length is 1048577"), "{e}");
        // Exactly at the cap is fine (still waiting for the text).
        assert_eq!(ClientMessage::decode(&[6, 0, 0, 0, 0, 0x10, 0, 0]).unwrap(), None);
        let e = ClientMessage::decode(&[2, 0, 0x04, 0x01]).unwrap_err();
        assert!(e.to_string().contains("SetEncodings count is 1025"), "{e}");
        let e = ServerMessage::decode(&[1, 0, 0xff, 0xff, 0, 2]).unwrap_err();
        assert!(e.to_string().contains("SetColourMapEntries"), "{e}");
    }

    #[test]
    fn unknown_and_garbage_types_are_errors_not_hangs() {
        assert_eq!(
            ClientMessage::decode(&[255, 0, 0]).unwrap_err(),
            ProtocolError::UnknownMessageType { direction: "client-to-server", msg_type: 255 }
        );
        assert!(ServerMessage::decode(b"GET / HTTP/1.1").is_err());
        assert!(ClientMessage::decode(&[0, 0, 0, 0, 24, 24, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn rect_bounds_do_not_overflow() {
        assert!(Rect::new(0, 0, 320, 200).fits_in(320, 200));
        assert!(!Rect::new(1, 0, 320, 200).fits_in(320, 200));
        assert!(!Rect::new(u16::MAX, 0, u16::MAX, 1).fits_in(u16::MAX, 1));
    }

    #[test]
    fn latin1_round_trip() {
        assert_eq!(latin1_to_string(&string_to_latin1("café")), "café");
        assert_eq!(string_to_latin1("€"), b"?");
    }
}
