//! RFB 3.8 (RFC 6143) for the shadow endpoint: message codecs for both
//! directions, shared by the native server and the harness's viewer.
//!
//! Everything here is sans-IO: byte slices in, typed messages out, and
//! typed messages in, bytes out. No sockets, no clocks, no threads. That
//! keeps the parsers testable against every prefix of every message and
//! fuzzable, and lets the same code sit behind tokio on either side.
//!
//! Decoders share one shape:
//! `fn decode(buf: &[u8]) -> Result<Option<(Msg, usize)>, ProtocolError>` —
//! `Ok(None)` means "need more bytes" (nothing consumed), `Ok(Some((msg, n)))`
//! means the first `n` bytes of `buf` were that message. Every length field
//! from the peer is checked against a cap *before* anything is allocated for
//! it, so a hostile peer cannot make us reserve gigabytes with four bytes.
//!
//! Map:
//! - [`pixel_format`] — the 16-byte PIXEL_FORMAT and pixel <-> `0x00RRGGBB`.
//! - [`handshake`] — ProtocolVersion, security negotiation, Client/ServerInit.
//! - [`auth`] — VNC Authentication (DES challenge/response).
//! - [`encodings`] — encoding numbers.
//! - [`messages`] — the normal-phase messages, client->server and
//!   server->client (FramebufferUpdate as header + rectangle headers).
//! - [`framebuffer`] — a client-side framebuffer and the decoder that applies
//!   a server's update stream to it (Raw, CopyRect, Hextile, Tight,
//!   DesktopSize, Cursor, LastRect).
//! - [`encode`] — the server side: rectangle encoders (Raw, CopyRect,
//!   Hextile, Tight, Cursor) and encoding negotiation.
//! - [`hextile`], [`tight`] — wire constants and helpers both sides share.

pub mod auth;
pub mod encode;
pub mod encodings;
pub mod error;
pub mod framebuffer;
pub mod handshake;
pub mod hextile;
pub mod messages;
pub mod pixel_format;
pub mod server;
pub mod tight;
mod wire;

pub use error::ProtocolError;
pub use pixel_format::PixelFormat;
