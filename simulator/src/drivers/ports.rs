//! Port blocks for isolated tests, and port hogs (another process holding
//! shadow ports, as in "a port used by any other process is skipped").

use shadowd::ports::{ephemeral, PortRange};
use std::net::TcpListener;

/// Where test port blocks may lie: never inside the kernel's ephemeral
/// range, because every outgoing connection on the machine (a browser, a
/// test's HTTP client, websockify dialling x11vnc) takes its local port from
/// there — a block overlapping it can lose a shadow port to a stranger's
/// connection at any moment, and the 99-shadow cases then see `no_free_port`
/// one port early.
pub const LOWEST: u16 = 20_000;
pub const HIGHEST: u16 = 65_000;

/// The widest stretch of [`LOWEST`]..=[`HIGHEST`] outside the ephemeral range
/// `ip_local_port_range` ("32768\t60999"), as (first, last). Pure; an
/// unreadable or odd value falls back to the kernel's default range.
pub fn span_outside_ephemeral(ip_local_port_range: &str) -> (u16, u16) {
    let PortRange { first: lo, last: hi } =
        ephemeral::parse_local_port_range(ip_local_port_range).unwrap_or(ephemeral::KERNEL_DEFAULT);
    let below = (LOWEST, lo.saturating_sub(1).min(HIGHEST));
    let above = (hi.saturating_add(1).max(LOWEST), HIGHEST);
    let width = |(a, b): (u16, u16)| if b >= a { u32::from(b - a) + 1 } else { 0 };
    let best = if width(below) >= width(above) { below } else { above };
    // An ephemeral range covering everything leaves no safe stretch; the
    // blocks are still checked for bindability, which is the best left.
    if width(best) == 0 {
        (LOWEST, HIGHEST)
    } else {
        best
    }
}

/// [`span_outside_ephemeral`] for this machine.
pub fn test_port_span() -> (u16, u16) {
    span_outside_ephemeral(&ephemeral::read(ephemeral::LOCAL_PORT_RANGE).unwrap_or_default())
}

/// `n` consecutive ports that are all bindable now, as (first, last), inside
/// [`test_port_span`]. Tests running in parallel each get their own block,
/// so none sees another's shadows in its range.
///
/// Panics when no such block exists (the span is full), naming the span.
pub fn free_block(n: u16) -> (u16, u16) {
    let seed =
        std::process::id() ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    bindable_block(n, seed, |_, _| true).unwrap_or_else(|| {
        let (low, high) = test_port_span();
        panic!("no {n} consecutive free ports in {low}-{high} (outside the ephemeral range)")
    })
}

/// The first block of `n` ports in [`test_port_span`], starting the search
/// at a slot picked by `seed`, that `acceptable(first, last)` allows and
/// whose ports are all bindable now. Blocks are aligned to `n` (at least
/// 10), so searches with different seeds do not straddle each other.
pub fn bindable_block(n: u16, seed: u32, acceptable: impl Fn(u16, u16) -> bool) -> Option<(u16, u16)> {
    let (low, high) = test_port_span();
    let stride = u32::from(n.max(10));
    let slots = (u32::from(high - low) + 1) / stride;
    (0..slots)
        .map(|k| low + (((seed % slots.max(1)) + k) % slots * stride) as u16)
        .map(|first| (first, first + (n - 1)))
        .find(|&(a, b)| acceptable(a, b) && (a..=b).all(|p| shadowd::ports::listener::bind_shadow_port(p).is_ok()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_avoids_the_ephemeral_range() {
        assert_eq!(span_outside_ephemeral("32768\t60999\n"), (20_000, 32_767));
        // A low ephemeral range leaves the top.
        assert_eq!(span_outside_ephemeral("1024 40000"), (40_001, 65_000));
        // Garbage: the kernel's default is assumed.
        assert_eq!(span_outside_ephemeral(""), (20_000, 32_767));
        assert_eq!(span_outside_ephemeral("9 8"), (20_000, 32_767));
        // Everything ephemeral: nothing to avoid it with.
        assert_eq!(span_outside_ephemeral("1024 65535"), (LOWEST, HIGHEST));
    }

    #[test]
    fn free_blocks_lie_outside_this_machines_ephemeral_range() {
        let text = ephemeral::read(ephemeral::LOCAL_PORT_RANGE).expect("this machine's ip_local_port_range");
        let PortRange { first: lo, last: hi } = ephemeral::parse_local_port_range(&text).unwrap();
        for _ in 0..20 {
            let (a, b) = free_block(99);
            assert_eq!(b - a, 98);
            assert!(b < lo || a > hi, "block {a}-{b} overlaps the ephemeral range {lo}-{hi}");
        }
    }
}
