//! The server side of RFB, sans-IO: [`session::ServerSession`] runs the
//! handshake (version, VNC authentication with the one-time password,
//! init) and turns the client's normal-phase messages into events. Input
//! messages (keys, pointer, cut text) are parsed — lengths capped by the
//! codecs — and dropped: the server is view-only by construction.

pub mod session;

pub use session::{Config, DroppedInput, ServerError, ServerSession, SessionEvent};
