//! The handshake phase (RFC 6143 §7.1–7.3): ProtocolVersion, security
//! negotiation, SecurityResult, ClientInit and ServerInit.
//!
//! The three protocol versions differ only here: 3.3 lets the server pick
//! the security type and has no failure reasons in SecurityResult; 3.7 adds
//! the type list; 3.8 adds the reason string to a failed SecurityResult (and
//! sends SecurityResult even for security type None).

use super::wire::{need, read_len_prefixed, Reader};
use super::{PixelFormat, ProtocolError};

/// Longest reason string accepted (security refusal, authentication failure).
pub const MAX_REASON_LEN: u32 = 64 * 1024;
/// Longest desktop name accepted in ServerInit.
pub const MAX_NAME_LEN: u32 = 64 * 1024;

/// Security type numbers (RFC 6143 §7.2).
pub mod security_type {
    pub const INVALID: u8 = 0;
    pub const NONE: u8 = 1;
    pub const VNC_AUTH: u8 = 2;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProtocolVersion {
    V3_3,
    V3_7,
    V3_8,
}

impl ProtocolVersion {
    pub const LEN: usize = 12;

    pub fn to_bytes(self) -> [u8; 12] {
        *match self {
            ProtocolVersion::V3_3 => b"RFB 003.003\n",
            ProtocolVersion::V3_7 => b"RFB 003.007\n",
            ProtocolVersion::V3_8 => b"RFB 003.008\n",
        }
    }

    /// Parses `RFB xxx.yyy\n`. As RFC 6143 §7.1.1 asks, unknown 3.x minors
    /// below 7 (UltraVNC's 3.4, 3.6) are treated as 3.3, and minors above 8
    /// (Apple's 3.889) as 3.8. Bytes that cannot be a version are rejected as
    /// soon as they arrive, so a peer speaking HTTP fails fast.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        const SHAPE: &[u8; 12] = b"RFB 000.000\n";
        let bad = || ProtocolError::BadVersion(String::from_utf8_lossy(&buf[..buf.len().min(12)]).into_owned());
        for (&got, &want) in buf.iter().zip(SHAPE) {
            let ok = if want == b'0' { got.is_ascii_digit() } else { got == want };
            if !ok {
                return Err(bad());
            }
        }
        if buf.len() < Self::LEN {
            return Ok(None);
        }
        let num = |s: &[u8]| s.iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32);
        let (major, minor) = (num(&buf[4..7]), num(&buf[8..11]));
        if major != 3 || minor < 3 {
            return Err(bad());
        }
        let version = match minor {
            7 => ProtocolVersion::V3_7,
            8.. => ProtocolVersion::V3_8,
            _ => ProtocolVersion::V3_3,
        };
        Ok(Some((version, Self::LEN)))
    }
}

/// What the server offers after the version exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOffer {
    /// The security types the client may choose from (3.7+), or the one the
    /// server chose (3.3: exactly one).
    Types(Vec<u8>),
    /// The server refuses the connection, with its reason (e.g. x11vnc's
    /// "Too many authentication failures").
    Refused(String),
}

impl SecurityOffer {
    /// Encodes for `version`. Under 3.3 the server decides, so only the first
    /// offered type is sent. An empty list cannot be encoded (a zero count
    /// means refusal), so it is sent as a refusal saying so.
    pub fn encode(&self, version: ProtocolVersion, out: &mut Vec<u8>) {
        let refusal;
        let this = match self {
            SecurityOffer::Types(types) if types.is_empty() => {
                refusal = SecurityOffer::Refused("no security type available".into());
                &refusal
            }
            other => other,
        };
        match (this, version) {
            (SecurityOffer::Types(types), ProtocolVersion::V3_3) => {
                out.extend_from_slice(&(types[0] as u32).to_be_bytes())
            }
            (SecurityOffer::Types(types), _) => {
                // The count is a u8; a server offers a handful at most.
                let types = &types[..types.len().min(255)];
                out.push(types.len() as u8);
                out.extend_from_slice(types);
            }
            (SecurityOffer::Refused(reason), ProtocolVersion::V3_3) => {
                out.extend_from_slice(&0u32.to_be_bytes());
                write_string(reason, out);
            }
            (SecurityOffer::Refused(reason), _) => {
                out.push(0);
                write_string(reason, out);
            }
        }
    }

    pub fn decode(buf: &[u8], version: ProtocolVersion) -> Result<Option<(Self, usize)>, ProtocolError> {
        let mut r = Reader::new(buf);
        let offer = if version == ProtocolVersion::V3_3 {
            match need!(r.u32()) {
                0 => SecurityOffer::Refused(need!(read_reason(&mut r)?)),
                t @ 1..=255 => SecurityOffer::Types(vec![t as u8]),
                t => return Err(ProtocolError::InvalidValue { what: "3.3 security type", value: t as i64 }),
            }
        } else {
            match need!(r.u8()) {
                0 => SecurityOffer::Refused(need!(read_reason(&mut r)?)),
                n => SecurityOffer::Types(need!(r.bytes(n as usize)).to_vec()),
            }
        };
        Ok(Some((offer, r.pos())))
    }
}

/// The client's choice of security type (3.7+): one byte.
pub fn decode_security_choice(buf: &[u8]) -> Result<Option<(u8, usize)>, ProtocolError> {
    Ok(buf.first().map(|&t| (t, 1)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityResult {
    Ok,
    /// Authentication failed; the reason is only on the wire in 3.8.
    Failed(Option<String>),
}

impl SecurityResult {
    pub fn encode(&self, version: ProtocolVersion, out: &mut Vec<u8>) {
        match self {
            SecurityResult::Ok => out.extend_from_slice(&0u32.to_be_bytes()),
            SecurityResult::Failed(reason) => {
                out.extend_from_slice(&1u32.to_be_bytes());
                if version >= ProtocolVersion::V3_8 {
                    write_string(reason.as_deref().unwrap_or("authentication failed"), out);
                }
            }
        }
    }

    pub fn decode(buf: &[u8], version: ProtocolVersion) -> Result<Option<(Self, usize)>, ProtocolError> {
        let mut r = Reader::new(buf);
        let result = match need!(r.u32()) {
            0 => SecurityResult::Ok,
            // RFC 6143 only defines 1; 2 ("too many attempts") is used by
            // some servers. Both are failures.
            1 | 2 if version >= ProtocolVersion::V3_8 => SecurityResult::Failed(Some(need!(read_reason(&mut r)?))),
            1 | 2 => SecurityResult::Failed(None),
            v => return Err(ProtocolError::InvalidValue { what: "SecurityResult status", value: v as i64 }),
        };
        Ok(Some((result, r.pos())))
    }
}

/// ClientInit: whether other viewers may stay connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInit {
    pub shared: bool,
}

impl ClientInit {
    pub fn encode(&self) -> [u8; 1] {
        [self.shared as u8]
    }

    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        Ok(buf.first().map(|&b| (ClientInit { shared: b != 0 }, 1)))
    }
}

/// ServerInit: framebuffer size, the server's natural pixel format, and the
/// desktop name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    pub width: u16,
    pub height: u16,
    pub pixel_format: PixelFormat,
    pub name: String,
}

impl ServerInit {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.width.to_be_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.pixel_format.encode());
        write_string(&self.name, out);
    }

    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let mut r = Reader::new(buf);
        let width = need!(r.u16());
        let height = need!(r.u16());
        let pixel_format = PixelFormat::decode(&need!(r.array::<16>()))?;
        let name = need!(read_len_prefixed(&mut r, "ServerInit desktop name length", MAX_NAME_LEN)?);
        let name = String::from_utf8_lossy(name).into_owned();
        Ok(Some((ServerInit { width, height, pixel_format, name }, r.pos())))
    }
}

fn read_reason(r: &mut Reader<'_>) -> Result<Option<String>, ProtocolError> {
    let bytes = need!(read_len_prefixed(r, "reason string length", MAX_REASON_LEN)?);
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// A `u32` length and the bytes. Strings longer than 4 GiB cannot occur:
/// every string we send is a short reason or a name.
fn write_string(s: &str, out: &mut Vec<u8>) {
    let bytes = &s.as_bytes()[..s.len().min(MAX_REASON_LEN as usize)];
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::wire::assert_prefixes_incomplete;
    use ProtocolVersion::*;

    #[test]
    fn versions_round_trip_and_odd_minors_map_per_rfc() {
        for v in [V3_3, V3_7, V3_8] {
            assert_eq!(ProtocolVersion::decode(&v.to_bytes()).unwrap(), Some((v, 12)));
            assert_prefixes_incomplete(&v.to_bytes(), ProtocolVersion::decode);
        }
        let parse = |s: &[u8]| ProtocolVersion::decode(s).unwrap().unwrap().0;
        assert_eq!(parse(b"RFB 003.889\n"), V3_8);
        assert_eq!(parse(b"RFB 003.006\n"), V3_3);
        // Trailing bytes are left for the next decoder.
        assert_eq!(ProtocolVersion::decode(b"RFB 003.008\n\x01\x02").unwrap(), Some((V3_8, 12)));
    }

    #[test]
    fn non_versions_fail_early_and_say_what_arrived() {
        let e = ProtocolVersion::decode(b"HTTP").unwrap_err();
        assert_eq!(e, ProtocolError::BadVersion("HTTP".into()));
        assert!(ProtocolVersion::decode(b"RFB 004.000\n").is_err());
        assert!(ProtocolVersion::decode(b"RFB 003.00x\n").is_err());
        assert!(ProtocolVersion::decode(b"RFB 003.008\r").is_err());
    }

    #[test]
    fn security_offers_round_trip_in_every_version() {
        let cases = [
            (V3_8, SecurityOffer::Types(vec![2, 1])),
            (V3_7, SecurityOffer::Types(vec![2])),
            (V3_3, SecurityOffer::Types(vec![2])),
            (V3_8, SecurityOffer::Refused("Too many authentication failures".into())),
            (V3_3, SecurityOffer::Refused("no".into())),
        ];
        for (v, offer) in cases {
            let mut bytes = Vec::new();
            offer.encode(v, &mut bytes);
            assert_eq!(SecurityOffer::decode(&bytes, v).unwrap(), Some((offer.clone(), bytes.len())), "{v:?}");
            assert_prefixes_incomplete(&bytes, |b| SecurityOffer::decode(b, v));
        }
    }

    #[test]
    fn an_empty_offer_goes_out_as_a_refusal() {
        for v in [V3_3, V3_8] {
            let mut bytes = Vec::new();
            SecurityOffer::Types(vec![]).encode(v, &mut bytes);
            let (offer, _) = SecurityOffer::decode(&bytes, v).unwrap().unwrap();
            assert_eq!(offer, SecurityOffer::Refused("no security type available".into()));
        }
    }

    #[test]
    fn security_result_carries_a_reason_only_in_3_8() {
        let failed = SecurityResult::Failed(Some("Authentication failed".into()));
        let mut b38 = Vec::new();
        failed.encode(V3_8, &mut b38);
        assert_eq!(SecurityResult::decode(&b38, V3_8).unwrap(), Some((failed.clone(), b38.len())));
        assert_prefixes_incomplete(&b38, |b| SecurityResult::decode(b, V3_8));
        let mut b37 = Vec::new();
        failed.encode(V3_7, &mut b37);
        assert_eq!(b37, [0, 0, 0, 1]);
        assert_eq!(SecurityResult::decode(&b37, V3_7).unwrap(), Some((SecurityResult::Failed(None), 4)));
        assert_eq!(SecurityResult::decode(&[0, 0, 0, 0], V3_8).unwrap(), Some((SecurityResult::Ok, 4)));
        assert!(SecurityResult::decode(&[0, 0, 0, 9], V3_8).unwrap_err().to_string().contains("SecurityResult"));
    }

    #[test]
    fn oversized_reason_is_refused_before_reading_it() {
        // Claims a 4 GiB reason with only the header present: an error now,
        // not Ok(None) while we wait for (and buffer) 4 GiB.
        let e = SecurityResult::decode(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], V3_8).unwrap_err();
        assert!(matches!(e, ProtocolError::TooLong { what: "reason string length", .. }), "{e}");
        let e = SecurityOffer::decode(&[0, 0, 1, 0, 1], V3_8).unwrap_err();
        assert!(matches!(e, ProtocolError::TooLong { .. }), "{e}");
    }

    #[test]
    fn init_messages_round_trip() {
        assert_eq!(
            ClientInit::decode(&ClientInit { shared: false }.encode()).unwrap(),
            Some((ClientInit { shared: false }, 1))
        );
        assert_eq!(ClientInit::decode(&[]).unwrap(), None);
        let init = ServerInit { width: 1280, height: 800, pixel_format: PixelFormat::RGB888, name: "alice:0".into() };
        let mut bytes = Vec::new();
        init.encode(&mut bytes);
        assert_eq!(bytes.len(), 2 + 2 + 16 + 4 + 7);
        assert_eq!(ServerInit::decode(&bytes).unwrap(), Some((init, bytes.len())));
        assert_prefixes_incomplete(&bytes, ServerInit::decode);
        let mut huge = bytes[..20].to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(ServerInit::decode(&huge).unwrap_err().to_string().contains("desktop name"));
    }
}
