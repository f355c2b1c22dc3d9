//! `shadowsim bench-gateway TARGET`: shadowd's WebSocket gateway alone, in a
//! process of its own (so its CPU time is its own), forwarding binary
//! messages to and from a TCP target as websockify does. Prints its port on
//! stdout, then serves until killed.

use anyhow::{Context, Result};
use shadowd::gateway::{self, GatewayPolicy, OriginPolicy};
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The read size toward the client: what one WebSocket message carries at
/// most, like websockify's 64 KiB socket reads.
const CHUNK: usize = 64 * 1024;

pub fn main(target: SocketAddr) -> Result<()> {
    // One worker, as the native backend serves from the daemon's runtime;
    // the bench compares one proxy process against one websockify.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        println!("{}", listener.local_addr()?.port());
        std::io::stdout().flush()?;
        let policy = GatewayPolicy {
            tls: None,
            origins: OriginPolicy::new(["*".to_string()]),
            handshake_timeout: Duration::from_secs(10),
        };
        loop {
            let (stream, _) = listener.accept().await?;
            let policy = policy.clone();
            tokio::spawn(async move {
                if let Err(e) = forward(stream, &policy, target).await {
                    eprintln!("bench-gateway: {e:#}");
                }
            });
        }
    })
}

async fn forward(stream: TcpStream, policy: &GatewayPolicy, target: SocketAddr) -> Result<()> {
    let mut ws = gateway::accept(stream, policy).await?;
    let mut tcp = TcpStream::connect(target).await.with_context(|| format!("connecting to {target}"))?;
    tcp.set_nodelay(true)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        // Both branches are cancel-safe: `recv` is a stream's `next`, and a
        // read that loses the race has read nothing.
        tokio::select! {
            msg = ws.recv() => match msg {
                Some(Ok(bytes)) => tcp.write_all(&bytes).await?,
                Some(Err(e)) => anyhow::bail!("from the client: {e}"),
                None => return Ok(()),
            },
            n = tcp.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    ws.close("target closed").await;
                    return Ok(());
                }
                ws.send(buf[..n].to_vec()).await?;
            }
        }
    }
}
