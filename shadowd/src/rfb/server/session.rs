//! One client's RFB session on the server, as a state machine: feed it the
//! bytes the client sent, take the bytes to send back and the events.
//!
//! ```text
//! → "RFB 003.008\n"            (on creation)
//! ← version                     3.3 / 3.7 / 3.8
//! → security types [VNC auth]   (3.3: the chosen type)
//! ← choice                      (3.7+)
//! → 16-byte challenge
//! ← 16-byte response            → SecurityResult; Authenticated / AuthFailed
//! ← ClientInit                  → ServerInit; Initialized
//! ← normal messages             → events (update requests, formats, input dropped)
//! ```

use crate::rfb::handshake::{security_type, ClientInit, ProtocolVersion, SecurityOffer, SecurityResult, ServerInit};
use crate::rfb::messages::{ClientMessage, Rect};
use crate::rfb::{auth, PixelFormat, ProtocolError};
use std::collections::VecDeque;

/// What the session needs to know up front.
#[derive(Debug, Clone)]
pub struct Config {
    /// The one-time VNC password.
    pub password: String,
    /// Random bytes from the caller (the state machine has no RNG).
    pub challenge: [u8; auth::CHALLENGE_LEN],
    pub width: u16,
    pub height: u16,
    /// The desktop name shown by viewers.
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Version,
    SecurityChoice,
    AuthResponse,
    ClientInit,
    Normal,
    Closed,
}

/// Input the server received and threw away (view-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DroppedInput {
    Key,
    Pointer,
    CutText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    Authenticated,
    AuthFailed,
    /// ServerInit sent; the client may now ask for updates.
    Initialized {
        shared: bool,
    },
    PixelFormat(PixelFormat),
    Encodings(Vec<i32>),
    /// Clipped to the screen; empty rects are dropped.
    UpdateRequest {
        incremental: bool,
        rect: Rect,
    },
    Dropped(DroppedInput),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    #[error("RFB protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("the client chose security type {0}, but only VNC authentication (2) is offered")]
    UnsupportedSecurity(u8),
    #[error("VNC authentication failed")]
    AuthFailed,
    #[error("colour-map pixel formats are not supported; use true colour")]
    ColourMap,
    #[error("the session is closed")]
    Closed,
}

pub struct ServerSession {
    config: Config,
    phase: Phase,
    version: ProtocolVersion,
    out: Vec<u8>,
    events: VecDeque<SessionEvent>,
    width: u16,
    height: u16,
}

impl ServerSession {
    pub fn new(config: Config) -> Self {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&ProtocolVersion::V3_8.to_bytes());
        let (width, height) = (config.width, config.height);
        ServerSession {
            config,
            phase: Phase::Version,
            version: ProtocolVersion::V3_8,
            out,
            events: VecDeque::new(),
            width,
            height,
        }
    }

    /// Feeds client bytes; returns how many were consumed (the rest is an
    /// incomplete message: keep it and call again with more). An error ends
    /// the session; bytes queued before it (e.g. a SecurityResult with the
    /// reason) should still be sent.
    pub fn receive(&mut self, input: &[u8]) -> Result<usize, ServerError> {
        let mut used = 0;
        while used < input.len() {
            match self.step(&input[used..]) {
                Ok(Some(n)) => used += n,
                Ok(None) => break,
                Err(e) => {
                    self.phase = Phase::Closed;
                    return Err(e);
                }
            }
        }
        Ok(used)
    }

    /// Bytes to send to the client, in order.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    pub fn is_normal(&self) -> bool {
        self.phase == Phase::Normal
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The screen changed size: later update requests are clipped to it.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.width = width;
        self.height = height;
    }

    fn step(&mut self, buf: &[u8]) -> Result<Option<usize>, ServerError> {
        match self.phase {
            Phase::Version => {
                let Some((version, n)) = ProtocolVersion::decode(buf)? else { return Ok(None) };
                self.version = version;
                SecurityOffer::Types(vec![security_type::VNC_AUTH]).encode(version, &mut self.out);
                if version == ProtocolVersion::V3_3 {
                    // 3.3: the server picked the type; the challenge follows.
                    self.out.extend_from_slice(&self.config.challenge);
                    self.phase = Phase::AuthResponse;
                } else {
                    self.phase = Phase::SecurityChoice;
                }
                Ok(Some(n))
            }
            Phase::SecurityChoice => {
                let Some(&choice) = buf.first() else { return Ok(None) };
                if choice != security_type::VNC_AUTH {
                    SecurityResult::Failed(Some("only VNC authentication is offered".into()))
                        .encode(self.version, &mut self.out);
                    return Err(ServerError::UnsupportedSecurity(choice));
                }
                self.out.extend_from_slice(&self.config.challenge);
                self.phase = Phase::AuthResponse;
                Ok(Some(1))
            }
            Phase::AuthResponse => {
                let Some(response) = buf.get(..auth::CHALLENGE_LEN) else { return Ok(None) };
                let response: [u8; auth::CHALLENGE_LEN] = response.try_into().expect("sliced to length");
                if auth::verify(&self.config.password, &self.config.challenge, &response) {
                    SecurityResult::Ok.encode(self.version, &mut self.out);
                    self.events.push_back(SessionEvent::Authenticated);
                    self.phase = Phase::ClientInit;
                    Ok(Some(auth::CHALLENGE_LEN))
                } else {
                    SecurityResult::Failed(Some("authentication failed".into())).encode(self.version, &mut self.out);
                    self.events.push_back(SessionEvent::AuthFailed);
                    Err(ServerError::AuthFailed)
                }
            }
            Phase::ClientInit => {
                let Some((init, n)) = ClientInit::decode(buf)? else { return Ok(None) };
                ServerInit {
                    width: self.width,
                    height: self.height,
                    pixel_format: PixelFormat::RGB888,
                    name: self.config.name.clone(),
                }
                .encode(&mut self.out);
                self.events.push_back(SessionEvent::Initialized { shared: init.shared });
                self.phase = Phase::Normal;
                Ok(Some(n))
            }
            Phase::Normal => {
                let Some((msg, n)) = ClientMessage::decode(buf)? else { return Ok(None) };
                self.normal(msg)?;
                Ok(Some(n))
            }
            Phase::Closed => Err(ServerError::Closed),
        }
    }

    fn normal(&mut self, msg: ClientMessage) -> Result<(), ServerError> {
        let event = match msg {
            ClientMessage::SetPixelFormat(pf) => {
                if !pf.true_colour {
                    return Err(ServerError::ColourMap);
                }
                SessionEvent::PixelFormat(pf)
            }
            ClientMessage::SetEncodings(list) => SessionEvent::Encodings(list),
            ClientMessage::FramebufferUpdateRequest { incremental, rect } => {
                let Some(rect) = clip(rect, self.width, self.height) else { return Ok(()) };
                SessionEvent::UpdateRequest { incremental, rect }
            }
            // View-only: parsed (lengths capped by the codec), then dropped.
            ClientMessage::KeyEvent { .. } => SessionEvent::Dropped(DroppedInput::Key),
            ClientMessage::PointerEvent { .. } => SessionEvent::Dropped(DroppedInput::Pointer),
            ClientMessage::ClientCutText(_) => SessionEvent::Dropped(DroppedInput::CutText),
        };
        self.events.push_back(event);
        Ok(())
    }
}

/// `rect` ∩ the screen, or None when empty.
pub fn clip(rect: Rect, width: u16, height: u16) -> Option<Rect> {
    let x2 = (rect.x as u32 + rect.w as u32).min(width as u32);
    let y2 = (rect.y as u32 + rect.h as u32).min(height as u32);
    if rect.x as u32 >= x2 || rect.y as u32 >= y2 {
        return None;
    }
    Some(Rect::new(rect.x, rect.y, (x2 - rect.x as u32) as u16, (y2 - rect.y as u32) as u16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::handshake::{SecurityOffer, SecurityResult, ServerInit};

    fn config() -> Config {
        Config { password: "s3cret!!".into(), challenge: [7; 16], width: 640, height: 480, name: "alice :3".into() }
    }

    /// Runs a 3.8 client through the handshake with `password`.
    fn handshake(s: &mut ServerSession, password: &str) -> Result<ServerInit, ServerError> {
        assert_eq!(s.take_output(), b"RFB 003.008\n");
        s.receive(b"RFB 003.008\n")?;
        let out = s.take_output();
        let (offer, _) = SecurityOffer::decode(&out, ProtocolVersion::V3_8).unwrap().unwrap();
        assert_eq!(offer, SecurityOffer::Types(vec![2]));
        s.receive(&[2])?;
        let challenge: [u8; 16] = s.take_output().try_into().unwrap();
        s.receive(&auth::vnc_auth_response(password, &challenge))?;
        let out = s.take_output();
        assert_eq!(SecurityResult::decode(&out, ProtocolVersion::V3_8).unwrap().unwrap().0, SecurityResult::Ok);
        s.receive(&[1])?;
        Ok(ServerInit::decode(&s.take_output()).unwrap().unwrap().0)
    }

    fn events(s: &mut ServerSession) -> Vec<SessionEvent> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    #[test]
    fn full_handshake_then_update_requests_and_dropped_input() {
        let mut s = ServerSession::new(config());
        let init = handshake(&mut s, "s3cret!!").unwrap();
        assert_eq!((init.width, init.height, init.name.as_str()), (640, 480, "alice :3"));
        assert_eq!(events(&mut s), [SessionEvent::Authenticated, SessionEvent::Initialized { shared: true }]);
        let mut bytes = Vec::new();
        for m in [
            ClientMessage::SetEncodings(vec![7, 5, 0, -239]),
            ClientMessage::FramebufferUpdateRequest { incremental: false, rect: Rect::new(0, 0, 9999, 9999) },
            ClientMessage::KeyEvent { down: true, keysym: 'r' as u32 },
            ClientMessage::PointerEvent { buttons: 1, x: 5, y: 5 },
            ClientMessage::ClientCutText(b"rm -rf /".to_vec()),
            ClientMessage::FramebufferUpdateRequest { incremental: true, rect: Rect::new(700, 0, 10, 10) },
        ] {
            m.encode(&mut bytes);
        }
        // Byte by byte: partial messages wait for the rest.
        let mut pending = Vec::new();
        for b in bytes {
            pending.push(b);
            let n = s.receive(&pending).unwrap();
            pending.drain(..n);
        }
        assert!(pending.is_empty());
        assert_eq!(
            events(&mut s),
            [
                SessionEvent::Encodings(vec![7, 5, 0, -239]),
                SessionEvent::UpdateRequest { incremental: false, rect: Rect::new(0, 0, 640, 480) },
                SessionEvent::Dropped(DroppedInput::Key),
                SessionEvent::Dropped(DroppedInput::Pointer),
                SessionEvent::Dropped(DroppedInput::CutText),
            ],
            "the off-screen request is dropped, input never becomes anything but Dropped"
        );
        assert!(s.take_output().is_empty(), "the session never answers input");
    }

    #[test]
    fn wrong_password_fails_with_a_reason() {
        let mut s = ServerSession::new(config());
        s.take_output();
        s.receive(b"RFB 003.008\n").unwrap();
        s.take_output();
        s.receive(&[2]).unwrap();
        let challenge: [u8; 16] = s.take_output().try_into().unwrap();
        let err = s.receive(&auth::vnc_auth_response("guess", &challenge)).unwrap_err();
        assert_eq!(err, ServerError::AuthFailed);
        let out = s.take_output();
        assert_eq!(
            SecurityResult::decode(&out, ProtocolVersion::V3_8).unwrap().unwrap().0,
            SecurityResult::Failed(Some("authentication failed".into()))
        );
        assert_eq!(events(&mut s), [SessionEvent::AuthFailed]);
        assert_eq!(s.receive(&[1]), Err(ServerError::Closed));
    }

    #[test]
    fn version_3_3_gets_the_challenge_without_a_choice() {
        let mut s = ServerSession::new(config());
        s.take_output();
        s.receive(b"RFB 003.003\n").unwrap();
        let out = s.take_output();
        assert_eq!(&out[..4], &2u32.to_be_bytes(), "3.3: the server names the type");
        let challenge: [u8; 16] = out[4..].try_into().unwrap();
        s.receive(&auth::vnc_auth_response("s3cret!!", &challenge)).unwrap();
        assert_eq!(s.take_output(), 0u32.to_be_bytes());
        assert_eq!(s.version(), ProtocolVersion::V3_3);
    }

    #[test]
    fn garbage_and_bad_choices_end_the_session() {
        let mut s = ServerSession::new(config());
        assert!(matches!(s.receive(b"GET / HTTP/1.1\r\n"), Err(ServerError::Protocol(_))));
        let mut s = ServerSession::new(config());
        s.receive(b"RFB 003.008\n").unwrap();
        assert_eq!(s.receive(&[1]), Err(ServerError::UnsupportedSecurity(1)), "no None security");
        let mut s = ServerSession::new(config());
        handshake(&mut s, "s3cret!!").unwrap();
        assert!(matches!(s.receive(&[200, 0, 0, 0]), Err(ServerError::Protocol(_))), "unknown message type");
        let mut s = ServerSession::new(config());
        handshake(&mut s, "s3cret!!").unwrap();
        let mut huge = vec![6, 0, 0, 0];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(s.receive(&huge), Err(ServerError::Protocol(ProtocolError::TooLong { .. }))));
    }

    #[test]
    fn clipping() {
        assert_eq!(clip(Rect::new(600, 400, 100, 100), 640, 480), Some(Rect::new(600, 400, 40, 80)));
        assert_eq!(clip(Rect::new(640, 0, 1, 1), 640, 480), None);
        assert_eq!(clip(Rect::new(0, 0, 0, 5), 640, 480), None);
    }
}
