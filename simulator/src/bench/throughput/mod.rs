//! Figure 5's machinery: a WebSocket proxy alone — shadowd's gateway (in a
//! `shadowsim bench-gateway` process) or websockify (started as the
//! external backend starts it, `--inetd` on a bound socket) — in front of
//! a TCP sink or source in this process, with a client pushing or pulling
//! binary messages as fast as the proxy lets it.

pub mod forwarder;

use super::procstat::{self, CpuWindow};
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Bytes per WebSocket message (and per TCP write from the source): the
/// size of a large framebuffer update chunk.
pub const MESSAGE: usize = 64 * 1024;
/// Traffic before the window opens (connection set-up, Python warm-up).
const WARM_UP: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    Gateway,
    Websockify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to target: the client pushes binary messages.
    Upstream,
    /// Target to client: what a shadow's framebuffer updates do.
    Downstream,
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub mb_per_s: f64,
    /// The proxy's CPU over the window (1.0 = one core).
    pub cores: f64,
}

/// A running proxy; killed on drop.
struct Running {
    child: Child,
    port: u16,
}

impl Running {
    /// The proxy's processes: itself and whatever it forked (websockify's
    /// per-connection handler).
    fn pids(&self) -> Vec<u32> {
        let Some(pid) = self.child.id() else { return vec![] };
        let mut all = vec![pid];
        all.extend(procstat::descendants(pid));
        all
    }
}

async fn start(proxy: Proxy, target: u16) -> Result<Running> {
    match proxy {
        Proxy::Gateway => {
            let exe = std::env::current_exe()?;
            let mut child = Command::new(&exe)
                .args(["bench-gateway", &format!("127.0.0.1:{target}")])
                .stdout(Stdio::piped())
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting {} bench-gateway", exe.display()))?;
            let stdout = child.stdout.take().expect("piped");
            let mut line = String::new();
            tokio::time::timeout(Duration::from_secs(10), BufReader::new(stdout).read_line(&mut line))
                .await
                .map_err(|_| anyhow!("bench-gateway did not print its port"))??;
            let port = line.trim().parse().with_context(|| format!("bench-gateway printed {line:?}"))?;
            Ok(Running { child, port })
        }
        Proxy::Websockify => {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            let port = listener.local_addr()?.port();
            let child = Command::new("websockify")
                .args(shadowd::backend::external::websockify_args(target, None))
                .stdin(Stdio::from(OwnedFd::from(listener)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                // websockify forks a handler per connection: a group of its
                // own lets drop-time cleanup reach it too.
                .process_group(0)
                .spawn()
                .context("starting websockify (apt-get install websockify)")?;
            Ok(Running { child, port })
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The ceiling any proxy works under here: the same source pouring
/// `MESSAGE`-byte writes into one loopback TCP connection, read by a plain
/// TCP reader in this process — one hop, no WebSocket, no proxy. A proxy
/// adds a second hop, so neither can carry more than this.
pub async fn measure_direct(secs: f64) -> Result<f64> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let client = tokio::net::TcpStream::connect(addr).await?;
    let (source, _) = listener.accept().await?;
    source.set_nodelay(true)?;
    let arrived = Arc::new(AtomicU64::new(0));
    let counter = arrived.clone();
    let traffic = tokio::spawn(async move {
        let pour = tokio::spawn(pour(source));
        count_reads(client, counter).await;
        pour.abort();
    });
    tokio::time::sleep(WARM_UP).await;
    let rate = mb_per_s_over(&arrived, secs).await;
    traffic.abort();
    rate.ok_or_else(|| anyhow!("no bytes arrived over loopback TCP in {secs:.1} s"))
}

/// Writes `MESSAGE`-byte chunks until the connection fails (or the task is
/// aborted): the target side of a download.
async fn pour(mut tx: impl AsyncWriteExt + Unpin) {
    let chunk = vec![0xa5u8; MESSAGE];
    while tx.write_all(&chunk).await.is_ok() {}
}

/// Reads until EOF or an error, adding every byte to `counter`.
async fn count_reads(mut rx: impl AsyncReadExt + Unpin, counter: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 256 * 1024];
    while let Ok(n) = rx.read(&mut buf).await {
        if n == 0 {
            break;
        }
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// MB/s of what `arrived` gains over the next `secs` (None: nothing arrived).
async fn mb_per_s_over(arrived: &AtomicU64, secs: f64) -> Option<f64> {
    let before = arrived.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let bytes = arrived.load(Ordering::Relaxed) - before;
    (bytes > 0).then(|| bytes as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Pushes or pulls through `proxy` for `secs` after a warm-up; MB/s is
/// counted where the bytes arrive (the sink, or the client).
pub async fn measure(proxy: Proxy, direction: Direction, secs: f64) -> Result<Sample> {
    let target = TcpListener::bind(("127.0.0.1", 0)).await?;
    let target_port = target.local_addr()?.port();
    let running = start(proxy, target_port).await?;
    let arrived = Arc::new(AtomicU64::new(0));

    let mut request = format!("ws://127.0.0.1:{}/", running.port).into_client_request()?;
    request.headers_mut().insert("sec-websocket-protocol", "binary".parse()?);
    let connect = tokio_tungstenite::connect_async(request);
    let (ws, _) = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .map_err(|_| anyhow!("{proxy:?}: WebSocket handshake timed out"))??;
    let (tcp, _) = tokio::time::timeout(Duration::from_secs(10), target.accept())
        .await
        .map_err(|_| anyhow!("{proxy:?} never connected to the target"))??;
    tcp.set_nodelay(true)?;
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (tcp_rx, tcp_tx) = tcp.into_split();

    let counter = arrived.clone();
    let traffic = tokio::spawn(async move {
        match direction {
            Direction::Upstream => {
                let payload = bytes::Bytes::from(vec![0x5au8; MESSAGE]);
                let sink = tokio::spawn(count_reads(tcp_rx, counter));
                while ws_tx.send(Message::Binary(payload.clone())).await.is_ok() {}
                sink.abort();
            }
            Direction::Downstream => {
                let source = tokio::spawn(pour(tcp_tx));
                while let Some(Ok(msg)) = ws_rx.next().await {
                    if let Message::Binary(b) = msg {
                        counter.fetch_add(b.len() as u64, Ordering::Relaxed);
                    }
                }
                source.abort();
            }
        }
    });

    tokio::time::sleep(WARM_UP).await;
    if traffic.is_finished() {
        bail!("{proxy:?}: the connection ended during warm-up");
    }
    let cpu = CpuWindow::start(running.pids());
    let rate = mb_per_s_over(&arrived, secs).await;
    let cores = cpu.cores();
    traffic.abort();
    drop(running);
    let mb_per_s = rate.ok_or_else(|| anyhow!("{proxy:?}: no bytes arrived in {secs:.1} s"))?;
    Ok(Sample { mb_per_s, cores })
}
