//! Tight's four persistent zlib streams, server side (rfbproto "Tight
//! Encoding", BasicCompression and NOTE1).
//!
//! Each stream is one long zlib stream spread over many rectangles; the
//! client inflates each rectangle's share with the same persistent state.
//! So every rectangle's share must end on a Z_SYNC_FLUSH: all input
//! emitted and byte-aligned, without ending the stream, so the client can
//! produce every pixel of this rectangle from the bytes it has.
//!
//! A stream is (re)started when first used, after [`Streams::reset`], and
//! when the compression level changes (miniz cannot change the level of a
//! running stream); the rectangle that starts it sets the stream's reset bit
//! so the client starts a fresh inflater in step.

use crate::rfb::encode::EncodeError;
use flate2::{Compress, Compression, FlushCompress};

#[derive(Debug)]
struct Stream {
    z: Compress,
    level: u8,
}

#[derive(Debug, Default)]
pub(crate) struct Streams {
    streams: [Option<Stream>; 4],
}

impl Streams {
    /// Drops every stream; each starts afresh (reset bit set) when next used.
    pub(crate) fn reset(&mut self) {
        self.streams = Default::default();
    }

    /// Makes stream `id` ready at `level` (0..=9); returns the
    /// compression-control reset bit to send (0 if the client's inflater is
    /// already in step with ours).
    pub(crate) fn prepare(&mut self, id: usize, level: u8) -> u8 {
        let slot = &mut self.streams[id & 3];
        let level = level.min(9);
        match slot {
            Some(s) if s.level == level => 0,
            _ => {
                *slot = Some(Stream { z: Compress::new(Compression::new(level as u32), true), level });
                1 << (id & 3)
            }
        }
    }

    /// Deflates `data` on stream `id` (prepared first) with a sync flush,
    /// appending the compressed bytes to `out`.
    pub(crate) fn compress(&mut self, id: usize, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let Some(s) = self.streams[id & 3].as_mut() else {
            return Err(EncodeError::Zlib("stream used before it was prepared".into()));
        };
        let z = &mut s.z;
        let start = z.total_in();
        loop {
            let consumed = (z.total_in() - start) as usize;
            // zlib's compressBound, plus room for the sync-flush marker.
            out.reserve(data.len() - consumed + (data.len() >> 10) + 64);
            let before = (z.total_in(), z.total_out());
            z.compress_vec(&data[consumed..], out, FlushCompress::Sync)
                .map_err(|e| EncodeError::Zlib(e.to_string()))?;
            let done = (z.total_in() - start) as usize == data.len();
            // zlib's rule: a flush is complete once it returns with output
            // space left over.
            if done && out.len() < out.capacity() {
                return Ok(());
            }
            if before == (z.total_in(), z.total_out()) {
                return Err(EncodeError::Zlib("deflate made no progress".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn inflate(d: &mut Decompress, data: &[u8], expect: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(expect + 16);
        let before = d.total_in();
        d.decompress_vec(data, &mut out, FlushDecompress::Sync).unwrap();
        assert_eq!((d.total_in() - before) as usize, data.len(), "all input consumed");
        out
    }

    #[test]
    fn each_rect_is_decodable_on_its_own_and_history_carries_over() {
        let mut s = Streams::default();
        assert_eq!(s.prepare(1, 6), 2, "a new stream asks the client to reset");
        assert_eq!(s.prepare(1, 6), 0);
        let mut d = Decompress::new(true);
        // Incompressible on its own, so only history can shrink a repeat.
        let noise = crate::rfb::encode::test_images::noise_fn(3);
        let text: Vec<u8> = (0..3000u32).map(|i| noise(i, 0) as u8).collect();
        let mut first = Vec::new();
        s.compress(1, &text, &mut first).unwrap();
        assert_eq!(&first[first.len() - 4..], [0, 0, 0xff, 0xff], "ends on a sync-flush marker");
        assert_eq!(inflate(&mut d, &first, text.len()), text);
        let mut second = Vec::new();
        s.compress(1, &text, &mut second).unwrap();
        assert!(first.len() > 2500, "{}", first.len());
        assert!(second.len() * 20 < first.len(), "the second copy refers back: {} vs {}", second.len(), first.len());
        assert_eq!(inflate(&mut d, &second, text.len()), text);
    }

    #[test]
    fn level_changes_and_resets_restart_the_stream() {
        let mut s = Streams::default();
        assert_eq!(s.prepare(0, 1), 1);
        assert_eq!(s.prepare(0, 9), 1);
        assert_eq!(s.prepare(3, 0), 8);
        s.reset();
        assert_eq!(s.prepare(3, 0), 8);
        // Level 0 is still a zlib stream (stored blocks) any client inflates.
        let data: Vec<u8> = (0..100_000u32).map(|i| ((i * 7919) >> 3) as u8).collect();
        let mut out = Vec::new();
        s.compress(3, &data, &mut out).unwrap();
        assert!(out.len() > data.len());
        assert_eq!(inflate(&mut Decompress::new(true), &out, data.len()), data);
        assert!(Streams::default().compress(2, b"x", &mut out).is_err());
    }
}
