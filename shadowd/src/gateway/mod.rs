//! The WebSocket gateway in front of a native shadow: websockify-compatible
//! (any path, the `binary` subprotocol, RFB bytes in binary messages), with
//! TLS from the SSL dir (TLS 1.2+), an `Origin` allow-list, capped frame and
//! message sizes, and a deadline for the whole handshake.

pub mod head;
pub mod origin;
mod prefixed;

pub use origin::OriginPolicy;

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// RFB client messages are tiny; the biggest legitimate one is a capped
/// ClientCutText. Anything larger is refused by the WebSocket layer before
/// it is buffered.
pub const MAX_MESSAGE: usize = 2 * 1024 * 1024;
pub const MAX_FRAME: usize = 1024 * 1024;

/// What the gateway enforces.
#[derive(Clone)]
pub struct GatewayPolicy {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub origins: OriginPolicy,
    /// TCP accept to WebSocket open, TLS included.
    pub handshake_timeout: Duration,
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open WebSocket carrying RFB.
pub struct WsConn {
    ws: WebSocketStream<Box<dyn Io>>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("handshake took longer than {0:?}")]
    Timeout(Duration),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("WebSocket handshake failed: {0}")]
    WebSocket(tungstenite::Error),
    #[error("not a WebSocket request: {0}")]
    BadRequest(String),
    #[error("reading the request: {0}")]
    Io(std::io::Error),
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_FRAME))
}

/// Runs TLS (if configured) and the WebSocket handshake on an accepted
/// connection, within the policy's deadline.
pub async fn accept(stream: TcpStream, policy: &GatewayPolicy) -> Result<WsConn, GatewayError> {
    let _ = stream.set_nodelay(true);
    tokio::time::timeout(policy.handshake_timeout, accept_inner(stream, policy))
        .await
        .map_err(|_| GatewayError::Timeout(policy.handshake_timeout))?
}

async fn accept_inner(stream: TcpStream, policy: &GatewayPolicy) -> Result<WsConn, GatewayError> {
    let mut io: Box<dyn Io> = match &policy.tls {
        Some(config) => {
            let tls =
                tokio_rustls::TlsAcceptor::from(config.clone()).accept(stream).await.map_err(GatewayError::Tls)?;
            Box::new(tls)
        }
        None => Box::new(stream),
    };
    // Read the request head ourselves: anything but a WebSocket upgrade
    // gets an HTTP error that says what this port is.
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        let mut chunk = [0u8; 2048];
        let n = io.read(&mut chunk).await.map_err(GatewayError::Io)?;
        if n == 0 {
            return Err(GatewayError::BadRequest("closed before a request".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
        if !head::could_be_get(&buf) {
            let why = "this port speaks WebSocket (RFB) only";
            let _ = io.write_all(&head::error_response(400, why)).await;
            let _ = io.shutdown().await;
            return Err(GatewayError::BadRequest(why.into()));
        }
        if let Some(end) = head::head_end(&buf) {
            break end;
        }
        if buf.len() > head::MAX_HEAD {
            let _ = io.write_all(&head::error_response(431, "request head too large")).await;
            return Err(GatewayError::BadRequest("request head too large".into()));
        }
    };
    if let Err(why) = head::check(&buf[..end]) {
        let _ = io.write_all(&head::error_response(400, &why)).await;
        let _ = io.shutdown().await;
        return Err(GatewayError::BadRequest(why));
    }
    let io: Box<dyn Io> = Box::new(prefixed::Prefixed::new(buf, io));
    let origins = policy.origins.clone();
    // tungstenite's handshake Callback trait fixes this signature, large
    // error response and all: it cannot be boxed here.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
        if let Err(why) = origins.check(origin) {
            let mut e = ErrorResponse::new(Some(why));
            *e.status_mut() = tungstenite::http::StatusCode::FORBIDDEN;
            return Err(e);
        }
        // websockify speaks `binary`; answer it when the client offers it
        // (noVNC does), and accept clients that offer nothing.
        let offered = req.headers().get_all("sec-websocket-protocol");
        let wants_binary =
            offered.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|p| p.trim() == "binary");
        if wants_binary {
            resp.headers_mut().insert("sec-websocket-protocol", "binary".parse().expect("static header value"));
        }
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async_with_config(io, callback, Some(ws_config()))
        .await
        .map_err(GatewayError::WebSocket)?;
    Ok(WsConn { ws })
}

impl WsConn {
    /// The next chunk of client bytes; `None` when the client closed.
    /// Text messages are refused (RFB is binary); pings are answered by
    /// tungstenite itself.
    pub async fn recv(&mut self) -> Option<Result<Vec<u8>, String>> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Binary(b)) => return Some(Ok(b.to_vec())),
                Ok(Message::Close(_)) => return None,
                Ok(Message::Text(_)) => return Some(Err("text message on an RFB connection (binary only)".into())),
                Ok(_) => continue,
                Err(e) => return Some(Err(e.to_string())),
            }
        }
    }

    pub async fn send(&mut self, bytes: Vec<u8>) -> Result<(), tungstenite::Error> {
        self.ws.send(Message::Binary(bytes.into())).await
    }

    /// Closes with a reason the viewer can show.
    pub async fn close(mut self, reason: &str) {
        let frame = tungstenite::protocol::CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: reason.to_string().into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(Some(frame))).await;
    }
}
