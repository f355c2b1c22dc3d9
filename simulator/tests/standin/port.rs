//! A shadow port: its accept loop, and for each connection the WebSocket
//! (shadowd's gateway: subprotocol `binary`, Origin check) carrying one
//! viewer's RFB session (shadowd's sans-IO server), fed with Raw frames of
//! the display. Input is dropped, unless the misbehaviour forwards it.

use super::screen::{self, Screen};
use super::state::{Standin, Ticket};
use super::Misbehaviour;
use shadowd::gateway::{self, GatewayPolicy, OriginPolicy, WsConn};
use shadowd::rfb::auth;
use shadowd::rfb::server::{Config, ServerSession, SessionEvent};
use shadowd::rfb::PixelFormat;
use simulator::drivers::image::Image;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How often a pending incremental update request looks for a change.
const POLL: Duration = Duration::from_millis(150);
/// `DropsViewer`: how long a viewer may stay after logging in.
const DROP_AFTER: Duration = Duration::from_millis(300);

/// A bound shadow port and its accept loop. Dropping it closes the port.
pub struct PortHandle {
    pub port: u16,
    _stop: oneshot::Sender<()>,
}

impl PortHandle {
    pub fn open(standin: &Arc<Standin>, port: u16, listener: std::net::TcpListener) -> std::io::Result<PortHandle> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (stop, mut stopped) = oneshot::channel::<()>();
        let s = standin.clone();
        standin.spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => {
                        if let Ok((tcp, _)) = accepted {
                            s.spawn(serve(s.clone(), port, tcp));
                        }
                    }
                }
            }
        });
        Ok(PortHandle { port, _stop: stop })
    }
}

async fn serve(s: Arc<Standin>, port: u16, mut tcp: TcpStream) {
    if s.is(Misbehaviour::RawRfbOnPort) {
        // What x11vnc does on its own port: talk RFB at once, no WebSocket.
        let _ = tcp.write_all(b"RFB 003.008\n").await;
        let mut sink = [0u8; 1024];
        while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
        return;
    }
    let policy = GatewayPolicy {
        tls: None,
        // No browser page is ours: any Origin is refused, clients without one pass.
        origins: OriginPolicy::new(Vec::<String>::new()),
        handshake_timeout: Duration::from_secs(10),
    };
    let Ok(ws) = gateway::accept(tcp, &policy).await else { return };
    let Some(ticket) = s.ticket(port) else {
        ws.close("no shadow on this port").await;
        return;
    };
    let display = ticket.display.clone();
    let screen = match tokio::task::spawn_blocking(move || Screen::open(&display)).await {
        Ok(Ok(screen)) => Arc::new(screen),
        _ => {
            ws.close("the display is unreachable").await;
            return;
        }
    };
    let (session, shadow) = (ticket.session.clone(), ticket.shadow);
    let logged_in = Viewer::new(s.clone(), ticket, screen, ws).run().await;
    if logged_in {
        s.viewer_left(&session, shadow);
    }
}

/// One viewer's RFB session.
struct Viewer {
    s: Arc<Standin>,
    ticket: Ticket,
    screen: Arc<Screen>,
    ws: Option<WsConn>,
    rfb: ServerSession,
    challenge: [u8; auth::CHALLENGE_LEN],
    /// Client bytes not yet consumed, and how many were consumed before them.
    inbuf: Vec<u8>,
    consumed: usize,
    format: PixelFormat,
    logged_in: bool,
    /// An incremental update request waiting for the display to change.
    pending: bool,
    /// The display as last sent (before any tampering).
    last_sent: Option<Image>,
    hang_up_at: Option<Instant>,
}

enum Next {
    Continue,
    Close(&'static str),
}

impl Viewer {
    fn new(s: Arc<Standin>, ticket: Ticket, screen: Arc<Screen>, ws: WsConn) -> Self {
        let challenge: [u8; auth::CHALLENGE_LEN] = rand::random();
        let config = Config {
            password: ticket.password.clone(),
            challenge,
            width: screen.width,
            height: screen.height,
            name: format!("standin {}", ticket.display),
        };
        Viewer {
            s,
            ticket,
            screen,
            ws: Some(ws),
            rfb: ServerSession::new(config),
            challenge,
            inbuf: Vec::new(),
            consumed: 0,
            format: PixelFormat::RGB888,
            logged_in: false,
            pending: false,
            last_sent: None,
            hang_up_at: None,
        }
    }

    /// Serves until either side ends it; whether the viewer had logged in.
    async fn run(mut self) -> bool {
        let reason = self.serve().await;
        if let Some(ws) = self.ws.take() {
            ws.close(reason).await;
        }
        self.logged_in
    }

    async fn serve(&mut self) -> &'static str {
        let greeting = self.rfb.take_output();
        if self.send(greeting).await.is_err() {
            return "send failed";
        }
        let mut poll = tokio::time::interval(POLL);
        loop {
            let ws = self.ws.as_mut().expect("open while serving");
            let hang_up_at = self.hang_up_at;
            let hang_up = async move {
                match hang_up_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let next = tokio::select! {
                // The shadow ended (its sender was dropped).
                _ = self.ticket.cut.changed() => Next::Close("the shadow ended"),
                msg = ws.recv() => match msg {
                    Some(Ok(bytes)) => self.receive(bytes).await,
                    _ => return "the viewer left",
                },
                _ = poll.tick(), if self.pending => self.update(false).await,
                _ = hang_up => Next::Close("bye"),
            };
            if let Next::Close(reason) = next {
                return reason;
            }
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> Result<(), ()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.ws.as_mut().expect("open while serving").send(bytes).await.map_err(|_| ())
    }

    /// Feeds client bytes to the RFB session, sends what it answers, and
    /// acts on its events.
    async fn receive(&mut self, bytes: Vec<u8>) -> Next {
        self.inbuf.extend_from_slice(&bytes);
        if self.s.is(Misbehaviour::AcceptsAnyPassword) {
            self.forge_auth_response();
        }
        let result = self.rfb.receive(&self.inbuf);
        let out = self.rfb.take_output();
        if self.send(out).await.is_err() {
            return Next::Close("send failed");
        }
        let Ok(used) = result else { return Next::Close("RFB error") };
        self.inbuf.drain(..used);
        self.consumed += used;
        while let Some(event) = self.rfb.poll_event() {
            if let Next::Close(reason) = self.on_event(event).await {
                return Next::Close(reason);
            }
        }
        Next::Continue
    }

    /// `AcceptsAnyPassword`: a 3.8 client's auth response is client bytes
    /// 13..29 (after the 12-byte version and the 1-byte security choice);
    /// whatever the client sent there, hand the session the right answer.
    fn forge_auth_response(&mut self) {
        let right = auth::vnc_auth_response(&self.ticket.password, &self.challenge);
        for (i, b) in self.inbuf.iter_mut().enumerate() {
            if let Some(r) = (self.consumed + i).checked_sub(13).and_then(|k| right.get(k)) {
                *b = *r;
            }
        }
    }

    async fn on_event(&mut self, event: SessionEvent) -> Next {
        match event {
            SessionEvent::Authenticated => {
                if !self.s.connected(&self.ticket.session, self.ticket.shadow) {
                    return Next::Close("the shadow is gone or in use");
                }
                self.logged_in = true;
                if self.s.is(Misbehaviour::DropsViewer) {
                    self.hang_up_at = Some(Instant::now() + DROP_AFTER);
                }
            }
            SessionEvent::PixelFormat(pf) => self.format = pf,
            SessionEvent::UpdateRequest { incremental: false, .. } => return self.update(true).await,
            SessionEvent::UpdateRequest { incremental: true, .. } => {
                self.pending = true;
                return self.update(false).await;
            }
            SessionEvent::Dropped(input) if self.s.is(Misbehaviour::ForwardsInput) => {
                let screen = self.screen.clone();
                let _ = tokio::task::spawn_blocking(move || screen.inject(input)).await;
            }
            _ => {}
        }
        Next::Continue
    }

    /// Sends the whole display as one Raw rectangle: always when `forced`
    /// (a full update request), else only once it changed since last sent.
    async fn update(&mut self, forced: bool) -> Next {
        let screen = self.screen.clone();
        let Ok(Ok(image)) = tokio::task::spawn_blocking(move || screen.capture()).await else {
            return Next::Close("the display is unreachable");
        };
        if !forced && self.last_sent.as_ref() == Some(&image) {
            return Next::Continue;
        }
        let mut shown = image.clone();
        if self.s.is(Misbehaviour::WrongFrame) {
            screen::tamper(&mut shown);
        }
        let bytes = screen::raw_update(&shown, &self.format);
        self.last_sent = Some(image);
        self.pending = false;
        match self.send(bytes).await {
            Ok(()) => Next::Continue,
            Err(()) => Next::Close("send failed"),
        }
    }
}
