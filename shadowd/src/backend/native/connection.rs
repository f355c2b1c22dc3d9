//! One viewer's connection to a native shadow: RFB handshake through the
//! sans-IO session, then updates driven by DAMAGE. Input is parsed and
//! dropped by the session (view-only).

use crate::audit::LogFile;
use crate::backend::{BackendEvent, EventSink};
use crate::broker::EndReason;
use crate::capture::{Capture, DirtyRegion, Rect as CapRect, Size};
use crate::gateway::WsConn;
use crate::rfb::encode::{cursor as cursor_enc, rects, ClientEncoder, Source};
use crate::rfb::messages::Rect;
use crate::rfb::server::{Config, ServerError, ServerSession, SessionEvent};
use crate::rfb::PixelFormat;

pub enum Outcome {
    /// The admin's session ended: the shadow ends for this reason.
    Finished(EndReason),
    /// Wrong password: the shadow waits for another try.
    AuthFailed,
    /// Before authentication: garbage, timeout, closed. Keep waiting.
    Dropped(String),
}

/// What the viewer asked for and has not been sent yet.
struct Pending {
    request: Option<(bool, Rect)>,
    dirty: DirtyRegion,
    resized: bool,
    cursor: Option<crate::capture::CursorImage>,
}

#[allow(clippy::too_many_arguments)]
pub async fn serve_connection(
    mut ws: WsConn,
    listener: &tokio::net::TcpListener,
    capture: &mut Capture,
    password: &str,
    name: &str,
    shadow: u64,
    events: &EventSink,
    log: &LogFile,
) -> Outcome {
    let size = capture.size();
    let mut challenge = [0u8; 16];
    rand::fill(&mut challenge);
    let mut session = ServerSession::new(Config {
        password: password.to_string(),
        challenge,
        width: size.width,
        height: size.height,
        name: name.to_string(),
    });
    let mut encoder = match ClientEncoder::new(PixelFormat::RGB888) {
        Ok(e) => e,
        Err(e) => return Outcome::Finished(fail(log, shadow, &format!("encoder: {e}"))),
    };
    let mut authenticated = false;
    let mut inbox: Vec<u8> = Vec::new();
    let mut watcher: Option<crate::capture::Watcher> = None;
    let mut pending = Pending { request: None, dirty: DirtyRegion::new(size), resized: false, cursor: None };
    if ws.send(session.take_output()).await.is_err() {
        return Outcome::Dropped("closed before the handshake".into());
    }
    loop {
        // Answer a pending request as soon as there is something to send.
        if authenticated && pending.request.is_some() {
            match update(capture, &mut encoder, &mut pending).await {
                Ok(Some(bytes)) => {
                    if ws.send(bytes).await.is_err() {
                        return Outcome::Finished(EndReason::AdminDisconnected);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    log.child_line("native", shadow, &e);
                    ws.close("the user's display is gone").await;
                    return Outcome::Finished(EndReason::SessionEnded);
                }
            }
        }
        tokio::select! {
            msg = ws.recv() => {
                let bytes = match msg {
                    Some(Ok(b)) => b,
                    Some(Err(e)) if authenticated => {
                        log.child_line("native", shadow, &format!("viewer error: {e}"));
                        return Outcome::Finished(EndReason::AdminDisconnected);
                    }
                    None if authenticated => return Outcome::Finished(EndReason::AdminDisconnected),
                    Some(Err(e)) => return Outcome::Dropped(e),
                    None => return Outcome::Dropped("closed during the handshake".into()),
                };
                // Cap what an unauthenticated peer can make us buffer.
                if !authenticated && inbox.len() + bytes.len() > 4096 {
                    return Outcome::Dropped("too much data before authentication".into());
                }
                inbox.extend_from_slice(&bytes);
                let result = session.receive(&inbox);
                let out = session.take_output();
                if !out.is_empty() && ws.send(out).await.is_err() {
                    return if authenticated { Outcome::Finished(EndReason::AdminDisconnected) } else { Outcome::Dropped("closed".into()) };
                }
                match result {
                    Ok(n) => { inbox.drain(..n); }
                    Err(ServerError::AuthFailed) => {
                        ws.close("authentication failed").await;
                        return Outcome::AuthFailed;
                    }
                    Err(e) if authenticated => {
                        log.child_line("native", shadow, &format!("viewer sent bad RFB: {e}"));
                        ws.close(&e.to_string()).await;
                        return Outcome::Finished(EndReason::AdminDisconnected);
                    }
                    Err(e) => {
                        ws.close(&e.to_string()).await;
                        return Outcome::Dropped(e.to_string());
                    }
                }
                while let Some(event) = session.poll_event() {
                    match event {
                        SessionEvent::Authenticated => {
                            authenticated = true;
                            let _ = events.send((shadow, BackendEvent::Connected));
                            match capture.watch() {
                                Ok(w) => watcher = Some(w),
                                Err(e) => return Outcome::Finished(fail(log, shadow, &e.to_string())),
                            }
                        }
                        SessionEvent::AuthFailed => {}
                        SessionEvent::Initialized { .. } => {}
                        SessionEvent::PixelFormat(pf) => {
                            if let Err(e) = encoder.set_pixel_format(pf) {
                                ws.close(&e.to_string()).await;
                                return Outcome::Finished(EndReason::AdminDisconnected);
                            }
                        }
                        SessionEvent::Encodings(list) => encoder.set_encodings(&list),
                        SessionEvent::UpdateRequest { incremental, rect } => {
                            pending.request = Some((incremental, rect));
                        }
                        SessionEvent::Dropped(_) => {}
                    }
                }
            }
            changes = async { watcher.as_ref().expect("guarded").next().await }, if watcher.is_some() => {
                match changes {
                    Ok(c) => {
                        if let Some(s) = c.resized {
                            pending.resized = true;
                            pending.dirty = DirtyRegion::full(s);
                        }
                        pending.dirty.merge(&c.dirty);
                        if c.cursor.is_some() {
                            pending.cursor = c.cursor;
                        }
                    }
                    Err(e) => {
                        log.child_line("native", shadow, &format!("display watch ended: {e}"));
                        ws.close("the user's display is gone").await;
                        return Outcome::Finished(EndReason::SessionEnded);
                    }
                }
            }
            extra = listener.accept() => {
                // One admin per session: anyone else is turned away.
                drop(extra);
            }
        }
    }
}

fn fail(log: &LogFile, shadow: u64, why: &str) -> EndReason {
    log.child_line("native", shadow, why);
    EndReason::BackendFailed
}

/// Builds the FramebufferUpdate answering the pending request, if there is
/// anything to send: the whole rect for a non-incremental request, else
/// the changed parts of it (nothing yet: keep the request pending).
async fn update(
    capture: &mut Capture,
    encoder: &mut ClientEncoder,
    pending: &mut Pending,
) -> Result<Option<Vec<u8>>, String> {
    let (incremental, want) = pending.request.expect("checked by the caller");
    let mut resized_to = None;
    if pending.resized {
        pending.resized = false;
        resized_to = tokio::task::block_in_place(|| capture.refresh_size()).map_err(|e| e.to_string())?;
    }
    let size = capture.size();
    let want = crate::rfb::server::session::clip(want, size.width, size.height);
    let rects: Vec<CapRect> = if !incremental || resized_to.is_some() {
        let r = want.map(|w| CapRect { x: w.x, y: w.y, w: w.w, h: w.h });
        pending.dirty = DirtyRegion::new(size);
        let full = r.unwrap_or(size.rect());
        tokio::task::block_in_place(|| capture.grab(full)).map_err(|e| e.to_string())?;
        vec![full]
    } else {
        if pending.dirty.is_empty() && pending.cursor.is_none() {
            return Ok(None);
        }
        let dirty = std::mem::replace(&mut pending.dirty, DirtyRegion::new(size));
        tokio::task::block_in_place(|| capture.grab_changes(&dirty)).map_err(|e| e.to_string())?
    };
    let cursor = pending.cursor.take().filter(|_| encoder.choice().cursor);
    if rects.is_empty() && cursor.is_none() && resized_to.is_none() {
        return Ok(None);
    }
    pending.request = None;
    let mut body = Vec::with_capacity(64 * 1024);
    let mut count: usize = 0;
    if let Some(s) = resized_to.filter(|_| encoder.choice().desktop_size) {
        rects::desktop_size(s.width, s.height, &mut body);
        count += 1;
    }
    if let Some(c) = &cursor {
        let image = cursor_enc::CursorImage {
            width: c.width,
            height: c.height,
            hot_x: c.xhot,
            hot_y: c.yhot,
            argb: &c.argb,
            premultiplied: true,
        };
        count += cursor_enc::encode(&image, encoder.format(), &mut body).map_err(|e| e.to_string())?;
    }
    let Size { width, height } = size;
    let source = Source::packed(capture.pixels(), width, height).map_err(|e| e.to_string())?;
    for r in rects {
        let rect = Rect::new(r.x, r.y, r.w, r.h);
        count += encoder.encode_rect(&source, rect, &mut body).map_err(|e| e.to_string())?;
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(count.min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(Some(out))
}
