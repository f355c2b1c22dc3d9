//! The kernel's ephemeral ports (`net.ipv4.ip_local_port_range`): the local
//! ports outgoing connections get. A shadow port among them can be taken at
//! any moment by some connection's local end, so the doctor warns about such
//! a range and the test harness keeps its port blocks out of it. Parsing is
//! pure; `read` is the one IO call.

use super::PortRange;

pub const LOCAL_PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
pub const RESERVED_PORTS: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";

/// Linux's default, for when the setting cannot be read.
pub const KERNEL_DEFAULT: PortRange = PortRange { first: 32_768, last: 60_999 };

/// "32768\t60999\n" → 32768-60999; anything else → None.
pub fn parse_local_port_range(text: &str) -> Option<PortRange> {
    let mut nums = text.split_whitespace().map(str::parse::<u16>);
    match (nums.next(), nums.next()) {
        (Some(Ok(first)), Some(Ok(last))) if first <= last => Some(PortRange { first, last }),
        _ => None,
    }
}

/// "6001-6099,7000" (`ip_local_reserved_ports`) → the ranges listed;
/// unparsable items are left out.
pub fn parse_reserved_ports(text: &str) -> Vec<PortRange> {
    text.trim()
        .split(',')
        .filter_map(|item| {
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            let (first, last) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (first <= last).then_some(PortRange { first, last })
        })
        .collect()
}

/// A setting's text, if readable.
pub fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        assert_eq!(parse_local_port_range("32768\t60999\n"), Some(KERNEL_DEFAULT));
        assert_eq!(parse_local_port_range("9 8"), None);
        assert_eq!(parse_local_port_range(""), None);
        let r = parse_reserved_ports("1000, 40000-40098\n");
        assert_eq!(r, vec![PortRange { first: 1000, last: 1000 }, PortRange { first: 40000, last: 40098 }]);
        assert!(parse_reserved_ports("\n").is_empty());
        assert!(parse_reserved_ports("x,5-3").is_empty());
    }
}
