//! Port blocks for cases running side by side. A scenario is written in the
//! seed's terms (6001-6099); each case gets a block of the same size that no
//! other case in this run uses, and literal ports in its steps are shifted
//! into it, so `--jobs N` never makes two daemons fight over a port.

use shadowd::ports::PortRange;
use std::collections::BTreeSet;
use std::sync::Mutex;

#[derive(Default)]
pub struct PortBlocks {
    taken: Mutex<BTreeSet<(u16, u16)>>,
}

/// The blocks of this process. Every run lends from it: two runs side by
/// side in one process (tests do that) would otherwise both find the same
/// block bindable before either daemon bound a port of it.
static SHARED: PortBlocks = PortBlocks::new();

/// A block lent to one case; the mapping from the scenario's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub written: PortRange,
    pub real: PortRange,
}

impl Block {
    /// The real port for a port as written in the scenario.
    pub fn map(&self, port: u16) -> u16 {
        if self.written.contains(port) {
            self.real.first + (port - self.written.first)
        } else {
            port
        }
    }
}

impl PortBlocks {
    pub const fn new() -> Self {
        PortBlocks { taken: Mutex::new(BTreeSet::new()) }
    }

    /// The process-wide blocks every [`super::run`] lends from.
    pub fn shared() -> &'static PortBlocks {
        &SHARED
    }

    /// A block of `written.len()` ports, all bindable now and not lent out.
    pub fn lend(&self, written: PortRange) -> Option<Block> {
        let len = written.len() as u16;
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        // Outside the ephemeral range: see `drivers::ports::LOWEST`.
        let seed = std::process::id() % 1000;
        let (first, last) = crate::drivers::ports::bindable_block(len, seed, |first, last| {
            !taken.iter().any(|&(a, b)| first <= b && a <= last)
        })?;
        taken.insert((first, last));
        Some(Block { written, real: PortRange { first, last } })
    }

    pub fn give_back(&self, block: Block) {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        taken.remove(&(block.real.first, block.real.last));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_do_not_overlap_and_map_ports() {
        let blocks = PortBlocks::default();
        let a = blocks.lend("6001-6099".parse().unwrap()).unwrap();
        let b = blocks.lend("6001-6099".parse().unwrap()).unwrap();
        assert_eq!(a.real.len(), 99);
        let (first, last) = crate::drivers::ports::test_port_span();
        for block in [a, b] {
            assert!(first <= block.real.first && block.real.last <= last, "{block:?} outside {first}-{last}");
        }
        assert!(a.real.last < b.real.first || b.real.last < a.real.first);
        assert_eq!(a.map(6001), a.real.first);
        assert_eq!(a.map(6099), a.real.last);
        assert_eq!(a.map(80), 80, "ports outside the range stay");
        blocks.give_back(a);
        blocks.give_back(b);
        assert!(blocks.taken.lock().unwrap().is_empty());
    }
}
