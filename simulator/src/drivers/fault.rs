//! A fault proxy between an admin's viewer and a shadow port, in the spirit
//! of Toxiproxy: named faults switched on and off while traffic flows —
//! added latency, a stall (bytes held back), or a cut (every connection
//! closed at once).

use anyhow::Result;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added before each chunk is forwarded, both ways.
    pub latency: Duration,
    /// While true, nothing is forwarded (bytes wait).
    pub stalled: bool,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    faults: watch::Sender<Faults>,
    cut: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (faults, rx) = watch::channel(Faults::default());
        let cut = Arc::new(Notify::new());
        let cut2 = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else { continue };
                let (rx, cut) = (rx.clone(), cut2.clone());
                tokio::spawn(async move {
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = pump(cr, sw, rx.clone()) => {}
                        _ = pump(sr, cw, rx) => {}
                        _ = cut.notified() => {}
                    }
                });
            }
        });
        Ok(FaultProxy { addr, faults, cut, task })
    }

    pub fn set(&self, faults: Faults) {
        let _ = self.faults.send(faults);
    }

    pub fn latency(&self, latency: Duration) {
        self.faults.send_modify(|f| f.latency = latency);
    }

    pub fn stall(&self, stalled: bool) {
        self.faults.send_modify(|f| f.stalled = stalled);
    }

    /// Closes every proxied connection now (new ones still work).
    pub fn cut(&self) {
        self.cut.notify_waiters();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut.notify_waiters();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Wait out a stall, then the latency, before forwarding.
        if faults.wait_for(|f| !f.stalled).await.is_err() {
            return;
        }
        let latency = faults.borrow().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream) -> Duration {
        let t = tokio::time::Instant::now();
        s.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ping");
        t.elapsed()
    }

    #[tokio::test]
    async fn latency_stall_and_cut() {
        let p = FaultProxy::start(echo_server().await).await.unwrap();
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        assert!(round_trip(&mut s).await < Duration::from_millis(100));
        p.latency(Duration::from_millis(150));
        assert!(round_trip(&mut s).await >= Duration::from_millis(300), "150 ms each way");
        p.set(Faults::default());
        p.stall(true);
        s.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        assert!(tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut b)).await.is_err(), "stalled");
        p.stall(false);
        s.read_exact(&mut b).await.unwrap();
        p.cut();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await.unwrap().unwrap_or(0);
        assert_eq!(n, 0, "connection closed by the cut");
    }
}
