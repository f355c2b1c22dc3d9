//! Big-endian readers for incremental decoding: every read returns `None`
//! when the buffer ends early, which decoders turn into "need more bytes".

use super::ProtocolError;

/// A cursor over a byte slice that never panics on short input.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N).map(|s| s.try_into().expect("slice has length N"))
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_be_bytes)
    }
}

/// Unwraps a [`Reader`] read, or returns `Ok(None)` ("need more bytes") from
/// the enclosing decoder.
macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}
pub(crate) use need;

/// Rejects a peer-supplied length above `max` before anything is allocated.
pub(crate) fn cap(what: &'static str, len: u64, max: u64) -> Result<(), ProtocolError> {
    if len > max {
        Err(ProtocolError::TooLong { what, len, max })
    } else {
        Ok(())
    }
}

/// Reads a `u32` length-prefixed string (reason strings, desktop names,
/// cut text) capped at `max` bytes. Text is Latin-1 or UTF-8 depending on
/// the message; callers get the raw bytes.
pub(crate) fn read_len_prefixed<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
    max: u32,
) -> Result<Option<&'a [u8]>, ProtocolError> {
    let len = need!(r.u32());
    cap(what, len as u64, max as u64)?;
    Ok(Some(need!(r.bytes(len as usize))))
}

/// Test helper: asserts every strict prefix of `bytes` is "need more".
#[cfg(test)]
pub(crate) fn assert_prefixes_incomplete<T: std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ProtocolError>,
) {
    for n in 0..bytes.len() {
        match decode(&bytes[..n]) {
            Ok(None) => {}
            other => panic!("prefix of {n}/{} bytes gave {other:?}, expected Ok(None)", bytes.len()),
        }
    }
}
