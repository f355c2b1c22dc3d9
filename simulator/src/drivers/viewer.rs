//! An administrator's viewer: RFB over WebSocket (`ws://` or `wss://`), as
//! noVNC speaks it, scripted.
//!
//! The RFB parsing is shadowd's own sans-IO codec ([`shadowd::rfb`]); this
//! file is the IO around it: TCP (optionally to a fixed address while the
//! URL's host name stays in the Host header and TLS), TLS, the WebSocket
//! upgrade with subprotocol `binary` (what websockify and noVNC use), the RFB
//! handshake, and update requests. It is kept honest by the tests that run it
//! against the seed pipeline (websockify + x11vnc).
//!
//! Every failure says at which stage it happened ([`Stage`]) and what was
//! seen, so a scenario's "expect auth failure" cannot pass on a refused TCP
//! connection.

use super::image::Image;
use futures_util::{SinkExt, StreamExt};
use shadowd::rfb::auth::{self, CHALLENGE_LEN};
use shadowd::rfb::encodings;
use shadowd::rfb::framebuffer::{Framebuffer, ServerEvent, ServerStreamDecoder};
use shadowd::rfb::handshake::{security_type, ClientInit, ProtocolVersion, SecurityOffer, SecurityResult, ServerInit};
use shadowd::rfb::messages::{string_to_latin1, ClientMessage, Rect, RectHeader};
use shadowd::rfb::{PixelFormat, ProtocolError};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How to reach and log in to a shadow endpoint.
#[derive(Clone)]
pub struct ViewerOptions {
    /// `ws://HOST:PORT/` or `wss://HOST:PORT/`.
    pub url: String,
    /// The VNC password (only its first 8 bytes matter, as everywhere).
    pub password: String,
    /// Connect here instead of resolving the URL's host. The Director
    /// connects by FQDN; tests map that FQDN to 127.0.0.1 this way while the
    /// Host header, TLS SNI and certificate check still use the FQDN.
    pub connect_to: Option<SocketAddr>,
    /// TLS client configuration for `wss://` (e.g. trusting a test CA).
    /// Default: the system's root certificates.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The `Origin` header, as a browser would send it; `None` sends none.
    pub origin: Option<String>,
    /// Limit for everything from TCP connect to the end of ServerInit.
    pub handshake_timeout: Duration,
    /// Advertised in SetEncodings, in order of preference. The default is
    /// Raw, CopyRect, DesktopSize and Cursor: without Cursor, x11vnc paints
    /// the pointer into the framebuffer, and frames would differ from the
    /// display around it (noVNC advertises Cursor too).
    pub encodings: Vec<i32>,
    /// ClientInit's shared flag. noVNC sends `true` by default.
    pub shared: bool,
}

impl ViewerOptions {
    pub fn new(url: impl Into<String>, password: impl Into<String>) -> Self {
        ViewerOptions {
            url: url.into(),
            password: password.into(),
            connect_to: None,
            tls: None,
            origin: None,
            handshake_timeout: Duration::from_secs(10),
            encodings: vec![encodings::COPY_RECT, encodings::RAW, encodings::DESKTOP_SIZE, encodings::CURSOR],
            shared: true,
        }
    }
}

impl fmt::Debug for ViewerOptions {
    // The password stays out of logs and assertion messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ViewerOptions")
            .field("url", &self.url)
            .field("connect_to", &self.connect_to)
            .field("tls", &self.tls.is_some())
            .field("origin", &self.origin)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("encodings", &self.encodings)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// Where in the connection's life something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    TcpConnect,
    TlsHandshake,
    WebSocketUpgrade,
    ProtocolVersion,
    SecurityNegotiation,
    Authentication,
    ServerInit,
    FullFrame,
    Update,
    Input,
    WaitClose,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::TcpConnect => "TCP connect",
            Stage::TlsHandshake => "TLS handshake",
            Stage::WebSocketUpgrade => "WebSocket upgrade",
            Stage::ProtocolVersion => "RFB ProtocolVersion",
            Stage::SecurityNegotiation => "RFB security negotiation",
            Stage::Authentication => "RFB VNC authentication",
            Stage::ServerInit => "RFB ServerInit",
            Stage::FullFrame => "full frame",
            Stage::Update => "incremental update",
            Stage::Input => "sending input",
            Stage::WaitClose => "waiting for the server to close",
        })
    }
}

/// How the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The WebSocket close code, when the server sent a Close frame
    /// (websockify sends 1000 "Target closed" when the VNC server hangs up).
    pub code: Option<u16>,
    pub reason: String,
    /// `true` when a Close frame arrived; `false` for a bare TCP EOF/reset.
    pub clean: bool,
}

impl fmt::Display for CloseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.clean, self.code) {
            (true, Some(code)) => write!(f, "WebSocket close {code} {:?}", self.reason),
            (true, None) => write!(f, "WebSocket close without a code"),
            (false, _) => write!(f, "connection dropped without a WebSocket close ({})", self.reason),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("bad viewer URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot resolve {host}: {detail}")]
    Resolve { host: String, detail: String },
    #[error("connection refused by {addr} (nothing listening?)")]
    ConnectionRefused { addr: SocketAddr },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("TLS handshake with {server_name} failed: {detail}")]
    Tls { server_name: String, detail: String },
    #[error("WebSocket upgrade refused: HTTP {status} instead of 101 Switching Protocols{}", fmt_body(body))]
    HttpStatus { status: u16, body: String },
    #[error("WebSocket upgrade failed: {detail}")]
    WebSocket { detail: String },
    #[error("server refused the session during security negotiation: {reason:?}")]
    Refused { reason: String },
    #[error("server offers no security type this viewer speaks (offered {offered:?}; supported: 1 None, 2 VNC Authentication)")]
    NoSupportedSecurity { offered: Vec<u8> },
    #[error("authentication failed{}", reason.as_ref().map(|r| format!(": server says {r:?}")).unwrap_or_else(|| " (RFB 3.3/3.7 carries no reason)".into()))]
    AuthFailed { reason: Option<String> },
    #[error("timed out after {after:?} during {stage}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Timeout { stage: Stage, after: Duration, detail: String },
    #[error("RFB protocol error during {stage}: {source}")]
    Protocol { stage: Stage, source: ProtocolError },
    #[error("server closed the connection during {stage}: {info}")]
    Closed { stage: Stage, info: CloseInfo },
    #[error("WebSocket transport error during {stage}: {detail}")]
    Transport { stage: Stage, detail: String },
}

fn fmt_body(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(" (body: {body:?})")
    }
}

pub type Result<T, E = ViewerError> = std::result::Result<T, E>;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What an incremental update contained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateInfo {
    pub rects: Vec<RectHeader>,
}

/// A connected, authenticated viewer with the server's framebuffer mirrored
/// locally.
pub struct Viewer {
    ws: Ws,
    /// Bytes received but not yet decoded; `pos` is where decoding resumes.
    inbuf: Vec<u8>,
    pos: usize,
    decoder: ServerStreamDecoder,
    fb: Framebuffer,
    version: ProtocolVersion,
    security: u8,
    server_init: ServerInit,
    /// Set once the connection ended; later reads report it again.
    closed: Option<CloseInfo>,
    bells: u32,
    cut_texts: Vec<Vec<u8>>,
    /// WebSocket payload bytes received so far (RFB bytes), for benchmarks.
    received: u64,
}

impl fmt::Debug for Viewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Viewer")
            .field("version", &self.version)
            .field("server_name", &self.server_init.name)
            .field("size", &(self.fb.width(), self.fb.height()))
            .finish_non_exhaustive()
    }
}

impl Viewer {
    /// Connects, upgrades to WebSocket, and completes the RFB handshake up
    /// to and including SetPixelFormat/SetEncodings, all within
    /// `opts.handshake_timeout`.
    pub async fn connect(opts: ViewerOptions) -> Result<Viewer> {
        let deadline = Instant::now() + opts.handshake_timeout;
        let target = Target::parse(&opts.url)?;
        let ws = open_websocket(&opts, &target, deadline).await?;
        let mut v = Viewer {
            ws,
            inbuf: Vec::new(),
            pos: 0,
            decoder: ServerStreamDecoder::new(PixelFormat::RGB888),
            fb: Framebuffer::new(0, 0).expect("an empty framebuffer is within limits"),
            version: ProtocolVersion::V3_8,
            security: security_type::INVALID,
            server_init: ServerInit { width: 0, height: 0, pixel_format: PixelFormat::RGB888, name: String::new() },
            closed: None,
            bells: 0,
            cut_texts: Vec::new(),
            received: 0,
        };
        v.rfb_handshake(&opts, deadline).await?;
        Ok(v)
    }

    async fn rfb_handshake(&mut self, opts: &ViewerOptions, deadline: Instant) -> Result<()> {
        let server_version = self.read(Stage::ProtocolVersion, deadline, ProtocolVersion::decode).await?;
        // We speak 3.8 at most; a 3.3 or 3.7 server gets its own version back.
        self.version = server_version.min(ProtocolVersion::V3_8);
        self.send_bytes(Stage::ProtocolVersion, self.version.to_bytes().to_vec()).await?;

        let version = self.version;
        let offer = self.read(Stage::SecurityNegotiation, deadline, |b| SecurityOffer::decode(b, version)).await?;
        let types = match offer {
            SecurityOffer::Refused(reason) => return Err(ViewerError::Refused { reason }),
            SecurityOffer::Types(types) => types,
        };
        let chosen = [security_type::VNC_AUTH, security_type::NONE]
            .into_iter()
            .find(|t| types.contains(t))
            .ok_or_else(|| ViewerError::NoSupportedSecurity { offered: types.clone() })?;
        self.security = chosen;
        if version >= ProtocolVersion::V3_7 {
            self.send_bytes(Stage::SecurityNegotiation, vec![chosen]).await?;
        }

        if chosen == security_type::VNC_AUTH {
            let challenge: [u8; CHALLENGE_LEN] = self
                .read(Stage::Authentication, deadline, |b| {
                    Ok(b.get(..CHALLENGE_LEN).map(|c| (c.try_into().expect("16 bytes"), CHALLENGE_LEN)))
                })
                .await?;
            let response = auth::vnc_auth_response(&opts.password, &challenge);
            self.send_bytes(Stage::Authentication, response.to_vec()).await?;
        }
        // 3.3 and 3.7 send no SecurityResult for security type None.
        if chosen == security_type::VNC_AUTH || version >= ProtocolVersion::V3_8 {
            match self.read(Stage::Authentication, deadline, |b| SecurityResult::decode(b, version)).await {
                Ok(SecurityResult::Ok) => {}
                Ok(SecurityResult::Failed(reason)) => return Err(ViewerError::AuthFailed { reason }),
                // A pre-3.8 server may hang up instead of (or right after)
                // saying "failed": after we sent a response, that is a
                // refusal of the password.
                Err(ViewerError::Closed { .. }) if version < ProtocolVersion::V3_8 => {
                    return Err(ViewerError::AuthFailed { reason: None })
                }
                Err(e) => return Err(e),
            }
        }

        self.send_bytes(Stage::ServerInit, ClientInit { shared: opts.shared }.encode().to_vec()).await?;
        let init = self.read(Stage::ServerInit, deadline, ServerInit::decode).await?;
        self.fb = Framebuffer::new(init.width, init.height)
            .map_err(|source| ViewerError::Protocol { stage: Stage::ServerInit, source })?;
        self.server_init = init;

        // Ask for the one format whose pixels map straight to 0x00RRGGBB;
        // no update is outstanding yet, so no pixel can arrive in the old one.
        self.send(Stage::ServerInit, &ClientMessage::SetPixelFormat(PixelFormat::RGB888)).await?;
        self.decoder.set_pixel_format(PixelFormat::RGB888);
        self.send(Stage::ServerInit, &ClientMessage::SetEncodings(opts.encodings.clone())).await?;
        Ok(())
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The security type used (2 = VNC Authentication, 1 = None).
    pub fn security_type(&self) -> u8 {
        self.security
    }

    /// ServerInit as received (size, the server's native format, name).
    pub fn server_init(&self) -> &ServerInit {
        &self.server_init
    }

    pub fn size(&self) -> (u16, u16) {
        (self.fb.width(), self.fb.height())
    }

    /// The framebuffer as mirrored so far.
    pub fn image(&self) -> Image {
        Image { width: self.fb.width(), height: self.fb.height(), pixels: self.fb.pixels().to_vec() }
    }

    /// RFB bytes received since the connection opened (WebSocket payloads,
    /// without framing): what a benchmark counts per update.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Bell messages received.
    pub fn bells(&self) -> u32 {
        self.bells
    }

    /// ServerCutText messages received (Latin-1 bytes).
    pub fn cut_texts(&self) -> &[Vec<u8>] {
        &self.cut_texts
    }

    /// Requests the whole screen non-incrementally and applies updates until
    /// every pixel has been received since the request, then returns the
    /// picture.
    pub async fn full_frame(&mut self, timeout: Duration) -> Result<Image> {
        let deadline = Instant::now() + timeout;
        let (w, h) = self.size();
        self.request(Stage::FullFrame, false, Rect::new(0, 0, w, h)).await?;
        let mut coverage = Coverage::new(w, h);
        loop {
            let ev = match self.next_event(Stage::FullFrame, deadline).await {
                Err(ViewerError::Timeout { stage, after, .. }) => {
                    let detail = format!("{} of {} pixels received", coverage.covered, coverage.total());
                    return Err(ViewerError::Timeout { stage, after, detail });
                }
                other => other?,
            };
            match ev {
                ServerEvent::Rect { header, copied_from } => coverage.apply(&header, copied_from),
                ServerEvent::UpdateEnd if coverage.complete() => return Ok(self.image()),
                _ => {}
            }
        }
    }

    /// Requests an incremental update of the whole screen and waits for one
    /// FramebufferUpdate to complete. A server sends nothing until something
    /// changed, so on a still screen this times out.
    pub async fn next_update(&mut self, timeout: Duration) -> Result<UpdateInfo> {
        let deadline = Instant::now() + timeout;
        let (w, h) = self.size();
        self.request(Stage::Update, true, Rect::new(0, 0, w, h)).await?;
        let mut rects = Vec::new();
        loop {
            match self.next_event(Stage::Update, deadline).await? {
                ServerEvent::Rect { header, .. } => rects.push(header),
                ServerEvent::UpdateEnd => return Ok(UpdateInfo { rects }),
                _ => {}
            }
        }
    }

    /// Applies incremental updates until the mirrored screen equals
    /// `expected` or `timeout` passes; returns the last picture either way,
    /// so the caller's assertion can show the difference.
    pub async fn converge_to(&mut self, expected: &Image, timeout: Duration) -> Result<Image> {
        let deadline = Instant::now() + timeout;
        loop {
            let img = self.image();
            if img.diff(expected).is_none() {
                return Ok(img);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(img);
            }
            match self.next_update(left).await {
                Ok(_) => {}
                Err(ViewerError::Timeout { .. }) => return Ok(self.image()),
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn send_key(&mut self, keysym: u32, down: bool) -> Result<()> {
        self.send(Stage::Input, &ClientMessage::KeyEvent { down, keysym }).await
    }

    pub async fn send_pointer(&mut self, x: u16, y: u16, buttons: u8) -> Result<()> {
        self.send(Stage::Input, &ClientMessage::PointerEvent { buttons, x, y }).await
    }

    /// Sends clipboard text (characters outside Latin-1 become `?`).
    pub async fn send_cut_text(&mut self, text: &str) -> Result<()> {
        self.send(Stage::Input, &ClientMessage::ClientCutText(string_to_latin1(text))).await
    }

    /// Sends `bytes` as one binary WebSocket message, whatever they are: how
    /// hostile-client tests put garbage or an oversized message on the wire
    /// after a real handshake.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.send_bytes(Stage::Input, bytes).await
    }

    /// Waits for the server to end the connection, applying (and otherwise
    /// ignoring) whatever it sends meanwhile.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Result<CloseInfo> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_event(Stage::WaitClose, deadline).await {
                Ok(_) => {}
                Err(ViewerError::Closed { info, .. }) => return Ok(info),
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes politely (a WebSocket Close frame), as a browser tab would.
    pub async fn close(mut self) -> Result<()> {
        match self.ws.close(None).await {
            Ok(()) | Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed) => Ok(()),
            Err(e) => Err(ViewerError::Transport { stage: Stage::WaitClose, detail: e.to_string() }),
        }
    }

    async fn request(&mut self, stage: Stage, incremental: bool, rect: Rect) -> Result<()> {
        self.send(stage, &ClientMessage::FramebufferUpdateRequest { incremental, rect }).await
    }

    /// The next decoded server event, reading from the socket as needed.
    async fn next_event(&mut self, stage: Stage, deadline: Instant) -> Result<ServerEvent> {
        let (fb, decoder) = (&mut self.fb, &mut self.decoder);
        let io = Io {
            ws: &mut self.ws,
            inbuf: &mut self.inbuf,
            pos: &mut self.pos,
            closed: &mut self.closed,
            received: &mut self.received,
        };
        let ev = read_with(io, stage, deadline, |b| decoder.decode(b, fb)).await?;
        match &ev {
            ServerEvent::Bell => self.bells += 1,
            ServerEvent::CutText(t) => self.cut_texts.push(t.clone()),
            _ => {}
        }
        Ok(ev)
    }

    /// Reads one handshake message with `decode`.
    async fn read<T>(
        &mut self,
        stage: Stage,
        deadline: Instant,
        decode: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, ProtocolError>,
    ) -> Result<T> {
        let io = Io {
            ws: &mut self.ws,
            inbuf: &mut self.inbuf,
            pos: &mut self.pos,
            closed: &mut self.closed,
            received: &mut self.received,
        };
        read_with(io, stage, deadline, decode).await
    }

    async fn send(&mut self, stage: Stage, msg: &ClientMessage) -> Result<()> {
        let mut bytes = Vec::new();
        msg.encode(&mut bytes);
        self.send_bytes(stage, bytes).await
    }

    async fn send_bytes(&mut self, stage: Stage, bytes: Vec<u8>) -> Result<()> {
        if let Some(info) = &self.closed {
            return Err(ViewerError::Closed { stage, info: info.clone() });
        }
        self.ws.send(Message::Binary(bytes.into())).await.map_err(|e| transport_error(stage, e))
    }
}

/// The viewer's reading half, borrowed field by field so that a decoder may
/// borrow the framebuffer at the same time.
struct Io<'a> {
    ws: &'a mut Ws,
    inbuf: &'a mut Vec<u8>,
    pos: &'a mut usize,
    closed: &'a mut Option<CloseInfo>,
    received: &'a mut u64,
}

/// Decodes one message from the buffered bytes, reading WebSocket messages
/// until `decode` has enough. A free function over the fields so `decode`
/// may borrow the decoder and framebuffer while the socket is borrowed too.
async fn read_with<T>(
    io: Io<'_>,
    stage: Stage,
    deadline: Instant,
    mut decode: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, ProtocolError>,
) -> Result<T> {
    let Io { ws, inbuf, pos, closed, received } = io;
    let started = Instant::now();
    loop {
        if let Some((msg, n)) = decode(&inbuf[*pos..]).map_err(|source| ViewerError::Protocol { stage, source })? {
            *pos += n;
            // Drop consumed bytes once all are consumed (the common case) or
            // when they dominate the buffer, keeping this amortised O(n).
            if *pos == inbuf.len() {
                inbuf.clear();
                *pos = 0;
            } else if *pos > 1 << 20 && *pos * 2 > inbuf.len() {
                inbuf.drain(..*pos);
                *pos = 0;
            }
            return Ok(msg);
        }
        if let Some(info) = closed {
            return Err(ViewerError::Closed { stage, info: info.clone() });
        }
        // Cancel-safe: a timed-out `next()` loses no bytes (tungstenite keeps
        // partial frames), and our own progress lives in `inbuf`/decoder.
        let next = tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| ViewerError::Timeout {
            stage,
            after: started.elapsed(),
            detail: String::new(),
        })?;
        match next {
            Some(Ok(Message::Binary(data))) => {
                *received += data.len() as u64;
                inbuf.extend_from_slice(&data);
            }
            // websockify's "base64" subprotocol would send text; we asked for
            // "binary", so text is a server bug worth naming.
            Some(Ok(Message::Text(t))) => {
                return Err(ViewerError::Transport {
                    stage,
                    detail: format!("text frame ({} bytes) on a binary RFB stream", t.len()),
                })
            }
            Some(Ok(Message::Close(frame))) => {
                *closed = Some(CloseInfo {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    clean: true,
                });
            }
            Some(Ok(_ping_pong_or_frame)) => {}
            Some(Err(e)) => match e {
                tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                    *closed =
                        Some(closed.take().unwrap_or(CloseInfo { code: None, reason: e.to_string(), clean: false }));
                }
                tungstenite::Error::Io(io) => {
                    *closed = Some(CloseInfo { code: None, reason: io.to_string(), clean: false });
                }
                tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
                    *closed =
                        Some(CloseInfo { code: None, reason: "reset without closing handshake".into(), clean: false });
                }
                other => return Err(transport_error(stage, other)),
            },
            None => {
                *closed = Some(closed.take().unwrap_or(CloseInfo {
                    code: None,
                    reason: "end of stream".into(),
                    clean: false,
                }));
            }
        }
    }
}

fn transport_error(stage: Stage, e: tungstenite::Error) -> ViewerError {
    use std::io::ErrorKind::*;
    let dropped = |reason: String| ViewerError::Closed { stage, info: CloseInfo { code: None, reason, clean: false } };
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => dropped(e.to_string()),
        // Writing to a peer that hung up: a close, not a transport fault.
        tungstenite::Error::Io(io)
            if matches!(io.kind(), BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof) =>
        {
            dropped(io.to_string())
        }
        other => ViewerError::Transport { stage, detail: other.to_string() },
    }
}

/// The parsed URL: what to connect to and what to call the server.
struct Target {
    uri: Uri,
    tls: bool,
    /// Host as written, without IPv6 brackets (for DNS, SNI, certificate).
    host: String,
    port: u16,
}

impl Target {
    fn parse(url: &str) -> Result<Target> {
        let bad = |reason: &str| ViewerError::BadUrl { url: url.to_string(), reason: reason.to_string() };
        let uri: Uri = url.parse().map_err(|e: tungstenite::http::uri::InvalidUri| bad(&e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(bad("scheme must be ws:// or wss://")),
        };
        let host = uri.host().ok_or_else(|| bad("no host"))?.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Target { uri, tls, host, port })
    }
}

async fn open_websocket(opts: &ViewerOptions, target: &Target, deadline: Instant) -> Result<Ws> {
    let timeout = |stage| ViewerError::Timeout { stage, after: opts.handshake_timeout, detail: String::new() };
    let tcp = tokio::time::timeout_at(deadline, tcp_connect(opts, target))
        .await
        .map_err(|_| timeout(Stage::TcpConnect))??;
    let _ = tcp.set_nodelay(true);

    let stream = if target.tls {
        let server_name = rustls_pki_types::ServerName::try_from(target.host.clone()).map_err(|e| {
            ViewerError::Tls { server_name: target.host.clone(), detail: format!("not a valid TLS server name: {e}") }
        })?;
        let config = match &opts.tls {
            Some(c) => c.clone(),
            None => system_tls_config(),
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = tokio::time::timeout_at(deadline, connector.connect(server_name, tcp))
            .await
            .map_err(|_| timeout(Stage::TlsHandshake))?
            .map_err(|e| ViewerError::Tls { server_name: target.host.clone(), detail: e.to_string() })?;
        MaybeTlsStream::Rustls(tls)
    } else {
        MaybeTlsStream::Plain(tcp)
    };

    let mut request = (&target.uri)
        .into_client_request()
        .map_err(|e| ViewerError::BadUrl { url: opts.url.clone(), reason: e.to_string() })?;
    let headers = request.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
    if let Some(origin) = &opts.origin {
        let value = HeaderValue::from_str(origin).map_err(|e| ViewerError::BadUrl {
            url: opts.url.clone(),
            reason: format!("bad Origin {origin:?}: {e}"),
        })?;
        headers.insert("Origin", value);
    }
    let (ws, _response) = tokio::time::timeout_at(deadline, tokio_tungstenite::client_async(request, stream))
        .await
        .map_err(|_| timeout(Stage::WebSocketUpgrade))?
        .map_err(upgrade_error)?;
    Ok(ws)
}

async fn tcp_connect(opts: &ViewerOptions, target: &Target) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = match opts.connect_to {
        Some(addr) => vec![addr],
        None => tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|e| ViewerError::Resolve { host: target.host.clone(), detail: e.to_string() })?
            .collect(),
    };
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Some(ViewerError::ConnectionRefused { addr })
            }
            Err(source) => last = Some(ViewerError::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| ViewerError::Resolve { host: target.host.clone(), detail: "no addresses".into() }))
}

fn upgrade_error(e: tungstenite::Error) -> ViewerError {
    match e {
        tungstenite::Error::Http(resp) => {
            let body = resp.body().as_deref().map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned());
            ViewerError::HttpStatus { status: resp.status().as_u16(), body: body.unwrap_or_default() }
        }
        tungstenite::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ViewerError::WebSocket { detail: "server closed the connection before answering the upgrade".into() }
        }
        other => ViewerError::WebSocket { detail: other.to_string() },
    }
}

/// The system's root certificates, for `wss://` without an explicit config.
fn system_tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())
}

/// Which pixels have been received since a full-frame request. A CopyRect
/// counts only where its source had been received: copying unknown pixels
/// proves nothing about the screen.
struct Coverage {
    width: u16,
    height: u16,
    seen: Vec<bool>,
    covered: usize,
}

impl Coverage {
    fn new(width: u16, height: u16) -> Self {
        Coverage { width, height, seen: vec![false; width as usize * height as usize], covered: 0 }
    }

    fn total(&self) -> usize {
        self.seen.len()
    }

    fn complete(&self) -> bool {
        self.covered == self.total()
    }

    fn apply(&mut self, header: &RectHeader, copied_from: Option<(u16, u16)>) {
        let r = header.rect;
        match header.encoding {
            encodings::DESKTOP_SIZE => *self = Coverage::new(r.w, r.h),
            encodings::CURSOR => {}
            _ if !r.fits_in(self.width, self.height) => {}
            _ => {
                let stride = self.width as usize;
                let src_ok = |dx: u16, dy: u16| match copied_from {
                    None => true,
                    Some((sx, sy)) => self.seen[(sy + dy) as usize * stride + (sx + dx) as usize],
                };
                // Decide first, then mark: source and destination may overlap.
                let mut newly = Vec::new();
                for dy in 0..r.h {
                    for dx in 0..r.w {
                        let i = (r.y + dy) as usize * stride + (r.x + dx) as usize;
                        if !self.seen[i] && src_ok(dx, dy) {
                            newly.push(i);
                        }
                    }
                }
                self.covered += newly.len();
                for i in newly {
                    self.seen[i] = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(x: u16, y: u16, w: u16, h: u16, encoding: i32) -> RectHeader {
        RectHeader { rect: Rect::new(x, y, w, h), encoding }
    }

    #[test]
    fn coverage_counts_pixels_once_and_copies_only_from_known_pixels() {
        let mut c = Coverage::new(4, 4);
        c.apply(&hdr(0, 0, 2, 2, encodings::RAW), None);
        c.apply(&hdr(1, 1, 2, 2, encodings::RAW), None);
        assert_eq!(c.covered, 7);
        // Source (2,2)-(3,3) is half unknown: only known-source pixels count.
        c.apply(&hdr(0, 2, 2, 2, encodings::COPY_RECT), Some((2, 2)));
        assert_eq!(c.covered, 8, "only (0,2) copied from the known (2,2)");
        c.apply(&hdr(0, 0, 4, 4, encodings::RAW), None);
        assert!(c.complete());
        c.apply(&hdr(0, 0, 8, 2, encodings::DESKTOP_SIZE), None);
        assert_eq!((c.total(), c.covered), (16, 0));
    }

    #[test]
    fn urls_parse_with_default_ports_and_bracketless_hosts() {
        let t = Target::parse("wss://vda1.corp.example:6001/").unwrap();
        assert!(t.tls && t.host == "vda1.corp.example" && t.port == 6001);
        let t = Target::parse("ws://[::1]/").unwrap();
        assert!(!t.tls && t.host == "::1" && t.port == 80);
        assert!(matches!(Target::parse("http://x/"), Err(ViewerError::BadUrl { .. })));
    }

    #[test]
    fn errors_say_what_happened() {
        let e = ViewerError::AuthFailed { reason: Some("password check failed!".into()) };
        assert_eq!(e.to_string(), "authentication failed: server says \"password check failed!\"");
        let e =
            ViewerError::Timeout { stage: Stage::Authentication, after: Duration::from_secs(2), detail: String::new() };
        assert_eq!(e.to_string(), "timed out after 2s during RFB VNC authentication");
        let e = ViewerError::HttpStatus { status: 403, body: String::new() };
        assert_eq!(e.to_string(), "WebSocket upgrade refused: HTTP 403 instead of 101 Switching Protocols");
    }
}
