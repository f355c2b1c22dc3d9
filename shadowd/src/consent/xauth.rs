//! Reading a session's Xauthority file explicitly.
//!
//! x11rb only looks at `$XAUTHORITY` / `~/.Xauthority` of the calling
//! process, and a multi-threaded daemon cannot change its environment per
//! session safely. So the file the session names is parsed here and the
//! cookie handed to the connection setup directly.
//!
//! File format (libXau): a sequence of entries, each
//! `family: u16be` then four `u16be`-length-prefixed byte strings:
//! address, display number (decimal ASCII), auth name, auth data.

use std::io::Read;
use std::path::Path;

/// The only mechanism X servers still use in practice.
pub const MIT_MAGIC_COOKIE_1: &[u8] = b"MIT-MAGIC-COOKIE-1";

/// Xauthority files are tiny (a few entries of < 300 bytes); anything
/// larger than this is not one, and is not read into memory.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Family values as stored in the file (not the X protocol's 8-bit ones).
pub mod family {
    pub const INTERNET: u16 = 0;
    pub const LOCAL: u16 = 256;
    pub const INTERNET6: u16 = 6;
    pub const WILD: u16 = 65535;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub family: u16,
    pub address: Vec<u8>,
    pub display: Vec<u8>,
    pub name: Vec<u8>,
    pub data: Vec<u8>,
}

/// Parses a whole file. A truncated last entry is an error, not silently
/// dropped: a half-written file should be reported, not half-used.
pub fn parse(mut bytes: &[u8]) -> Result<Vec<Entry>, String> {
    fn u16be(b: &mut &[u8]) -> Option<u16> {
        let (head, rest) = b.split_first_chunk::<2>()?;
        *b = rest;
        Some(u16::from_be_bytes(*head))
    }
    fn field(b: &mut &[u8]) -> Option<Vec<u8>> {
        let len = usize::from(u16be(b)?);
        if b.len() < len {
            return None;
        }
        let (head, rest) = b.split_at(len);
        *b = rest;
        Some(head.to_vec())
    }
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let entry = (|| {
            Some(Entry {
                family: u16be(&mut bytes)?,
                address: field(&mut bytes)?,
                display: field(&mut bytes)?,
                name: field(&mut bytes)?,
                data: field(&mut bytes)?,
            })
        })()
        .ok_or_else(|| format!("truncated entry after {} complete ones", entries.len()))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The cookie for display `display` reached at (`family`, `address`), the
/// way libXau's XauGetBestAuthByAddr picks it: first matching entry wins, a
/// WILD family matches any address, an empty display number any display.
pub fn find<'a>(entries: &'a [Entry], family: u16, address: &[u8], display: u16) -> Option<&'a Entry> {
    let number = display.to_string();
    entries.iter().find(|e| {
        let address_ok =
            e.family == family::WILD || family == family::WILD || (e.family == family && e.address == address);
        let display_ok = e.display.is_empty() || e.display == number.as_bytes();
        address_ok && display_ok && e.name == MIT_MAGIC_COOKIE_1
    })
}

/// Reads and parses `path`, refusing files over [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<Entry>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{} is larger than {MAX_FILE_BYTES} bytes: not an Xauthority file", path.display()));
    }
    parse(&bytes).map_err(|e| format!("{} is not a valid Xauthority file: {e}", path.display()))
}

/// Serialises entries in the file format (for tests and tools that write
/// a session's Xauthority).
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e.family.to_be_bytes());
        for f in [&e.address, &e.display, &e.name, &e.data] {
            let len = u16::try_from(f.len()).expect("Xauthority fields are shorter than 64 KiB");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(family: u16, address: &[u8], display: &[u8], data: &[u8]) -> Entry {
        Entry {
            family,
            address: address.to_vec(),
            display: display.to_vec(),
            name: MIT_MAGIC_COOKIE_1.to_vec(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn parses_what_xauth_writes() {
        // `xauth -f F add :1 bar deadbeef` on host "ZweiLED" (x11rb's vector).
        let bytes = [
            0x01, 0x00, 0x00, 0x07, b'Z', b'w', b'e', b'i', b'L', b'E', b'D', 0x00, 0x01, b'1', 0x00, 0x03, b'b', b'a',
            b'r', 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,
        ];
        let entries = parse(&bytes).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].family, family::LOCAL);
        assert_eq!(entries[0].address, b"ZweiLED");
        assert_eq!(entries[0].display, b"1");
        assert_eq!(entries[0].name, b"bar");
        assert_eq!(entries[0].data, [0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn encode_round_trips_and_truncation_is_an_error() {
        let entries = vec![entry(family::LOCAL, b"host", b"3", b"k1"), entry(family::WILD, b"", b"", b"k2")];
        let bytes = encode(&entries);
        assert_eq!(parse(&bytes).unwrap(), entries);
        assert!(parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse(&[0x01]).is_err());
        assert_eq!(parse(&[]).unwrap(), vec![]);
    }

    #[test]
    fn finds_the_entry_for_host_and_display() {
        let entries = vec![
            entry(family::LOCAL, b"other", b"3", b"wrong-host"),
            entry(family::LOCAL, b"host", b"4", b"wrong-display"),
            entry(family::LOCAL, b"host", b"3", b"right"),
        ];
        assert_eq!(find(&entries, family::LOCAL, b"host", 3).unwrap().data, b"right");
        assert!(find(&entries, family::LOCAL, b"host", 5).is_none());
        assert!(find(&entries, family::INTERNET, b"host", 3).is_none());
    }

    #[test]
    fn wildcards_match_and_other_mechanisms_do_not() {
        let mut xdm = entry(family::LOCAL, b"host", b"3", b"x");
        xdm.name = b"XDM-AUTHORIZATION-1".to_vec();
        let entries = vec![xdm, entry(family::WILD, b"", b"", b"any")];
        assert_eq!(find(&entries, family::LOCAL, b"host", 3).unwrap().data, b"any");
        assert_eq!(find(&entries, family::INTERNET, &[127, 0, 0, 1], 9).unwrap().data, b"any");
    }

    #[test]
    fn read_file_reports_missing_and_oversized_files() {
        let dir = std::env::temp_dir().join(format!("shadowd-xauth-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing");
        assert!(read_file(&missing).unwrap_err().contains("cannot open"));
        let big = dir.join("big");
        std::fs::write(&big, vec![0u8; MAX_FILE_BYTES as usize + 10]).unwrap();
        assert!(read_file(&big).unwrap_err().contains("larger than"));
        let good = dir.join("good");
        let entries = vec![entry(family::WILD, b"", b"", b"k")];
        std::fs::write(&good, encode(&entries)).unwrap();
        assert_eq!(read_file(&good).unwrap(), entries);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
