//! The scripted Director: the control API's client, as Citrix Director's
//! "Shadow" button would call it, plus the live audit event stream.

use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt;
use shadowd::audit::{Event, EventKind};
use std::time::Duration;

/// A successful shadow request.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Grant {
    pub session: String,
    pub admin: String,
    pub host: String,
    pub port: u16,
    pub scheme: String,
    pub url: String,
    pub password: String,
    pub shadow: u64,
}

/// A refused request: HTTP status, stable code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error, self.message)
    }
}

#[derive(Clone)]
pub struct Director {
    pub base: String,
    http: reqwest::Client,
}

impl Director {
    pub fn new(base: &str) -> Self {
        Director { base: base.trim_end_matches('/').to_string(), http: reqwest::Client::new() }
    }

    pub async fn sessions(&self) -> Result<Vec<serde_json::Value>> {
        let v: serde_json::Value = self.http.get(format!("{}/v1/sessions", self.base)).send().await?.json().await?;
        Ok(v["sessions"].as_array().cloned().unwrap_or_default())
    }

    pub async fn session(&self, id: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.sessions().await?.into_iter().find(|s| s["id"] == id))
    }

    pub async fn healthz(&self) -> Result<serde_json::Value> {
        Ok(self.http.get(format!("{}/healthz", self.base)).send().await?.json().await?)
    }

    /// `POST /v1/sessions/{id}/shadow`; waits for the user's answer.
    pub async fn request_shadow(&self, session: &str, admin: &str) -> Result<std::result::Result<Grant, ApiFailure>> {
        let body = serde_json::json!({ "admin": admin });
        let resp = self.http.post(format!("{}/v1/sessions/{session}/shadow", self.base)).json(&body).send().await?;
        decode(resp).await
    }

    /// `DELETE /v1/sessions/{id}/shadow`.
    pub async fn stop_shadow(&self, session: &str) -> Result<std::result::Result<serde_json::Value, ApiFailure>> {
        let resp = self.http.delete(format!("{}/v1/sessions/{session}/shadow", self.base)).send().await?;
        decode(resp).await
    }

    /// Any request with a raw body, for malformed-input tests.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(u16, String)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(method, format!("{}{path}", self.base)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await?;
        Ok((resp.status().as_u16(), resp.text().await?))
    }

    /// A request written by hand on a raw TCP connection: the body is sent
    /// while the response is read, so a server that answers early (413 on a
    /// huge body) and closes is seen answering, not as a broken pipe.
    pub async fn raw_tcp(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Result<(u16, String)> {
        self.raw_tcp_with_headers(method, path, content_type, &Default::default(), body).await
    }

    /// [`Director::raw_tcp`] with extra request headers.
    pub async fn raw_tcp_with_headers(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        headers: &std::collections::BTreeMap<String, String>,
        body: Vec<u8>,
    ) -> Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = self.base.strip_prefix("http://").ok_or_else(|| anyhow!("not an http:// base: {}", self.base))?;
        let stream = tokio::net::TcpStream::connect(host).await?;
        let (mut rd, mut wr) = stream.into_split();
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        );
        wr.write_all(head.as_bytes()).await?;
        let writer = tokio::spawn(async move {
            // Errors are expected once the server has answered and closed.
            let _ = wr.write_all(&body).await;
        });
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        let read = async {
            loop {
                match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => response.extend_from_slice(&chunk[..n]),
                }
                if complete_response(&response) {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read).await.map_err(|_| anyhow!("no response within 10 s"))?;
        writer.abort();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("no HTTP status in {text:?}"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((status, body))
    }

    /// Subscribes to `GET /v1/events` (from `since`, if given).
    pub async fn events(&self, since: Option<u64>) -> Result<EventStream> {
        let url = match since {
            Some(s) => format!("{}/v1/events?since={s}", self.base),
            None => format!("{}/v1/events", self.base),
        };
        let resp = self.http.get(url).send().await?;
        if !resp.status().is_success() {
            bail!("GET /v1/events: HTTP {}", resp.status());
        }
        Ok(EventStream { body: Box::pin(resp.bytes_stream()), buf: String::new(), seen: Vec::new() })
    }
}

async fn decode<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<std::result::Result<T, ApiFailure>> {
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    if (200..300).contains(&status) {
        return Ok(Ok(serde_json::from_str(&text).with_context(|| format!("unexpected success body: {text}"))?));
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| anyhow!("HTTP {status} with a non-JSON body: {text}"))?;
    Ok(Err(ApiFailure {
        status,
        error: v["error"].as_str().unwrap_or_default().to_string(),
        message: v["message"].as_str().unwrap_or_default().to_string(),
    }))
}

/// Whether `buf` holds a whole HTTP response (headers and, when given,
/// Content-Length bytes of body).
fn complete_response(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return false };
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().ok()))
        .flatten();
    len.is_some_and(|n| body.len() >= n)
}

type ByteStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Server-sent audit events, parsed.
pub struct EventStream {
    body: ByteStream,
    buf: String,
    /// Everything received so far.
    pub seen: Vec<Event>,
}

impl EventStream {
    /// The next event, or an error after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Result<Event> {
        tokio::time::timeout(timeout, self.next_inner())
            .await
            .map_err(|_| anyhow!("no audit event within {timeout:?}"))?
    }

    async fn next_inner(&mut self) -> Result<Event> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let data: String =
                    block.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.trim_start()).collect();
                if data.is_empty() {
                    continue; // keep-alive comment
                }
                let ev: Event = serde_json::from_str(&data).with_context(|| format!("bad event data {data}"))?;
                self.seen.push(ev.clone());
                return Ok(ev);
            }
            let chunk = self.body.next().await.ok_or_else(|| anyhow!("event stream closed"))??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Waits for an event of `kind` on `session`, returning it.
    pub async fn wait_for(&mut self, kind: EventKind, session: &str, timeout: Duration) -> Result<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self.next(left).await.with_context(|| format!("waiting for {kind:?} on session {session}"))?;
            if ev.record.event == kind && ev.record.session == session {
                return Ok(ev);
            }
        }
    }
}
