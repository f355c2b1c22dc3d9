//! The shadow port pool (seed: "automatically selects available ports from
//! within 6001-6099 ... limited to 99").
//!
//! `PortPool` is pure bookkeeping of which port each shadow holds; whether a
//! port is taken by some *other* process is only known by trying to bind it,
//! which `listener` does (IO) and reports back so the pool skips that port.

pub mod ephemeral;
pub mod listener;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// An inclusive port range, `6001-6099` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange { first: 6001, last: 6099 }
    }
}

impl PortRange {
    pub fn len(&self) -> usize {
        (self.last - self.first) as usize + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) =
            s.split_once('-').ok_or_else(|| format!("port range {s:?} must look like FIRST-LAST, e.g. 6001-6099"))?;
        let parse =
            |p: &str| p.trim().parse::<u16>().map_err(|_| format!("port range {s:?}: {p:?} is not a port number"));
        let (first, last) = (parse(a)?, parse(b)?);
        if first == 0 || first > last {
            return Err(format!("port range {s:?}: need 1 <= FIRST <= LAST"));
        }
        Ok(PortRange { first, last })
    }
}

/// Which shadow holds which port. Lowest free port first, so a port freed by
/// an ended shadow is the next one handed out (predictable for operators and
/// for the "port reused" scenario).
#[derive(Debug, Clone)]
pub struct PortPool {
    range: PortRange,
    leased: BTreeMap<u16, u64>,
}

impl PortPool {
    pub fn new(range: PortRange) -> Self {
        PortPool { range, leased: BTreeMap::new() }
    }

    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Leases the lowest port that is neither leased nor in `skip` (ports
    /// found busy by other processes during this allocation).
    pub fn lease(&mut self, owner: u64, skip: &BTreeSet<u16>) -> Option<u16> {
        let port = self.range.iter().find(|p| !self.leased.contains_key(p) && !skip.contains(p))?;
        self.leased.insert(port, owner);
        Some(port)
    }

    /// Returns `port` to the pool if `owner` holds it; a stale release (the
    /// port was already re-leased to someone else) changes nothing.
    pub fn release(&mut self, port: u16, owner: u64) -> bool {
        if self.leased.get(&port) == Some(&owner) {
            self.leased.remove(&port);
            true
        } else {
            false
        }
    }

    pub fn leased_count(&self) -> usize {
        self.leased.len()
    }

    /// Ports not leased by a shadow (some may still be busy elsewhere).
    pub fn unleased_count(&self) -> usize {
        self.range.len() - self.leased.len()
    }

    pub fn holder(&self, port: u16) -> Option<u64> {
        self.leased.get(&port).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_names_bad_input() {
        assert_eq!("6001-6099".parse::<PortRange>().unwrap().len(), 99);
        assert_eq!("7000-7000".parse::<PortRange>().unwrap().len(), 1);
        assert!("6099-6001".parse::<PortRange>().unwrap_err().contains("FIRST <= LAST"));
        assert!("6001".parse::<PortRange>().unwrap_err().contains("FIRST-LAST"));
        assert!("6001-70000".parse::<PortRange>().unwrap_err().contains("\"70000\""));
    }

    #[test]
    fn leases_lowest_free_skips_busy_and_reuses_released() {
        let mut pool = PortPool::new("6001-6003".parse().unwrap());
        assert_eq!(pool.lease(1, &BTreeSet::new()), Some(6001));
        let busy = BTreeSet::from([6002]);
        assert_eq!(pool.lease(2, &busy), Some(6003));
        assert_eq!(pool.lease(3, &busy), None, "6002 busy elsewhere, others leased");
        assert!(pool.release(6001, 1));
        assert_eq!(pool.lease(4, &busy), Some(6001), "freed port is handed out again");
    }

    #[test]
    fn stale_release_does_not_free_someone_elses_port() {
        let mut pool = PortPool::new("6001-6001".parse().unwrap());
        assert_eq!(pool.lease(1, &BTreeSet::new()), Some(6001));
        assert!(pool.release(6001, 1));
        assert_eq!(pool.lease(2, &BTreeSet::new()), Some(6001));
        assert!(!pool.release(6001, 1), "owner 1 no longer holds it");
        assert_eq!(pool.holder(6001), Some(2));
    }

    #[test]
    fn full_range_of_99() {
        let mut pool = PortPool::new(PortRange::default());
        for i in 0..99 {
            assert!(pool.lease(i, &BTreeSet::new()).is_some());
        }
        assert_eq!(pool.lease(99, &BTreeSet::new()), None);
        assert_eq!(pool.unleased_count(), 0);
    }
}
