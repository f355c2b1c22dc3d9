//! Port blocks for isolated tests, and port hogs (another process holding
//! shadow ports, as in "a port used by any other process is skipped").

use std::net::TcpListener;

/// `n` consecutive ports that are all bindable now, as "FIRST-LAST". Tests
/// running in parallel each get their own block, so none sees another's
/// shadows in its range.
pub fn free_block(n: u16) -> (u16, u16) {
    let seed = std::process::id() as u64
        ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64);
    let mut start = 20_000 + (seed % 2000) as u16 * 10;
    loop {
        let ok = (start..start + n).all(|p| shadowd::ports::listener::bind_shadow_port(p).is_ok());
        if ok {
            return (start, start + n - 1);
        }
        start = if start > 60_000 { 20_000 } else { start + n.max(10) };
    }
}

pub fn range_string((a, b): (u16, u16)) -> String {
    format!("{a}-{b}")
}

/// Holds ports the way an unrelated service would.
pub struct PortHog {
    listeners: Vec<TcpListener>,
}

impl PortHog {
    /// Binds each port on every address family (IPv4 and IPv6).
    pub fn hold(ports: impl IntoIterator<Item = u16>) -> anyhow::Result<Self> {
        let mut listeners = Vec::new();
        for p in ports {
            listeners.push(
                shadowd::ports::listener::bind_shadow_port(p)
                    .map_err(|e| anyhow::anyhow!("cannot hog port {p}: {e}"))?,
            );
        }
        Ok(PortHog { listeners })
    }

    pub fn ports(&self) -> Vec<u16> {
        self.listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.port()).collect()
    }
}
