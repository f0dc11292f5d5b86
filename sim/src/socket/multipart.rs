//! Multipart messages inside one SP message, so they are atomic on the wire.
//!
//! SP has no frames: one message is one body. ZeroMQ's multipart messages (a topic
//! frame then a body, a ROUTER envelope) are carried as the frames' bytes back to
//! back, followed by a trailer: each frame's length (u32, big-endian), the frame
//! count (u32) and the magic `PBMP`. The first frame stays at the front of the body,
//! so prefix matching on the body is prefix matching on the first frame, as ZeroMQ's
//! SUB does; and since the whole message is one SP message, it arrives whole or not
//! at all. A body without the trailer is a single frame.

use bytes::{BufMut, Bytes, BytesMut};

const MAGIC: &[u8; 4] = b"PBMP";

/// Joins frames into one body.
pub fn encode(frames: &[Bytes]) -> Bytes {
    let payload: usize = frames.iter().map(Bytes::len).sum();
    let mut out = BytesMut::with_capacity(payload + 4 * frames.len() + 8);
    for f in frames {
        out.put_slice(f);
    }
    for f in frames {
        out.put_u32(f.len() as u32);
    }
    out.put_u32(frames.len() as u32);
    out.put_slice(MAGIC);
    out.freeze()
}

/// Whether a body ends with the multipart trailer's magic (cheap: no parsing).
pub(crate) fn is_multipart(body: &[u8]) -> bool {
    body.len() >= 8 && body.ends_with(MAGIC)
}

/// Splits a body into its frames; a body without a valid trailer is one frame.
pub fn decode(body: &Bytes) -> Vec<Bytes> {
    try_decode(body).unwrap_or_else(|| vec![body.clone()])
}

fn try_decode(body: &Bytes) -> Option<Vec<Bytes>> {
    let n = body.len();
    if n < 8 || &body[n - 4..] != MAGIC {
        return None;
    }
    let count = u32::from_be_bytes(body[n - 8..n - 4].try_into().ok()?) as usize;
    let lens_at = n.checked_sub(8 + 4usize.checked_mul(count)?)?;
    let mut frames = Vec::with_capacity(count);
    let mut at = 0usize;
    for i in 0..count {
        let p = lens_at + 4 * i;
        let len = u32::from_be_bytes(body[p..p + 4].try_into().ok()?) as usize;
        let end = at.checked_add(len).filter(|e| *e <= lens_at)?;
        frames.push(body.slice(at..end));
        at = end;
    }
    (at == lens_at).then_some(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_the_first_frame_leads_the_body() {
        let frames =
            vec![Bytes::from_static(b"B"), Bytes::from_static(b"We would like to see this")];
        let body = encode(&frames);
        assert!(body.starts_with(b"BWe"));
        assert_eq!(decode(&body), frames);
        assert_eq!(decode(&encode(&[])), Vec::<Bytes>::new());
    }

    #[test]
    fn a_plain_or_corrupt_body_is_one_frame() {
        let plain = Bytes::from_static(b"hello");
        assert_eq!(decode(&plain), vec![plain.clone()]);
        let mut bad = encode(&[Bytes::from_static(b"ab")]).to_vec();
        bad[2] = 0xff; // the length no longer matches
        let bad = Bytes::from(bad);
        assert_eq!(decode(&bad), vec![bad.clone()]);
    }
}
