//! What a byte stream stands for: its bytes plus the payload sizes its messages model.
//!
//! Built-in designs model large payloads instead of allocating them (a 100 MB job is
//! a 20-byte header that declares its size, see `design/payload.rs`), so a bandwidth
//! limit that counted only the bytes written would let a 64 KiB message through as
//! fast as a 20-byte one. A [`Meter`] follows one direction of an SP connection (the
//! 8-byte handshake, then each message's u64 length and body) and adds each
//! message's declared size to the bytes that carry it, so the shim and the proxy pace
//! a link by what the traffic stands for. A body is searched for the payload header
//! within its first [`HEAD_MAX`] bytes, which covers the routing ids in front of it
//! and a ZeroMQ multipart's topic frame; a body without one (a real NNG peer's)
//! counts its bytes alone. The meter never looks at data it does not need, and a
//! stream that is not SP at all only ever counts its own bytes.

use crate::design::payload::{HEADER_LEN, Payload};
use crate::wire::{HANDSHAKE_LEN, LEN_PREFIX_LEN};

/// How far into a body the payload header is looked for.
pub const HEAD_MAX: usize = 96;

/// Where the meter is in the stream.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// Handshake bytes still to skip.
    Handshake(usize),
    /// The length prefix, `have` bytes of it read so far.
    Len { bytes: [u8; LEN_PREFIX_LEN], have: usize },
    /// A body with `left` bytes still to come; its first bytes are kept in `head`.
    Body { left: u64 },
}

/// Follows one direction of an SP stream. `Copy`, so a writer can try a write on a
/// copy and keep it only when the write is taken.
#[derive(Clone, Copy, Debug)]
pub struct Meter {
    part: Part,
    head: [u8; HEAD_MAX],
    head_len: usize,
    /// The current body's declared size has been counted (or it has none).
    counted: bool,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            part: Part::Handshake(HANDSHAKE_LEN),
            head: [0; HEAD_MAX],
            head_len: 0,
            counted: true,
        }
    }
}

impl Meter {
    /// Takes the next bytes of the stream; returns how many bytes they stand for: their
    /// own, plus the declared size of every message whose payload header they finish.
    pub fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut stands_for = bytes.len() as u64;
        while !bytes.is_empty() {
            match &mut self.part {
                Part::Handshake(left) => {
                    let n = (*left).min(bytes.len());
                    *left -= n;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        self.part = Part::Len { bytes: [0; LEN_PREFIX_LEN], have: 0 };
                    }
                }
                Part::Len { bytes: len, have } => {
                    let n = (LEN_PREFIX_LEN - *have).min(bytes.len());
                    len[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    bytes = &bytes[n..];
                    if *have == LEN_PREFIX_LEN {
                        let left = u64::from_be_bytes(*len);
                        (self.head_len, self.counted) = (0, false);
                        self.part = Part::Body { left };
                        stands_for += self.body_done();
                    }
                }
                Part::Body { left } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    *left -= n as u64;
                    let keep = (HEAD_MAX - self.head_len).min(n);
                    self.head[self.head_len..self.head_len + keep].copy_from_slice(&bytes[..keep]);
                    self.head_len += keep;
                    bytes = &bytes[n..];
                    stands_for += self.body_done();
                }
            }
        }
        stands_for
    }

    /// Once a body is whole or its head is full, counts its declared size (once) and,
    /// at its end, moves on to the next length prefix.
    fn body_done(&mut self) -> u64 {
        let Part::Body { left } = self.part else { return 0 };
        let mut declared = 0;
        if !self.counted && (left == 0 || self.head_len == HEAD_MAX) {
            self.counted = true;
            declared = declared_size(&self.head[..self.head_len]);
        }
        if left == 0 {
            self.part = Part::Len { bytes: [0; LEN_PREFIX_LEN], have: 0 };
        }
        declared
    }
}

/// The size the first payload header in `head` declares, or 0 when there is none.
fn declared_size(head: &[u8]) -> u64 {
    (0..=head.len().saturating_sub(HEADER_LEN))
        .find_map(|at| Payload::peek(&head[at..]))
        .map_or(0, |(_, _, len)| len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::payload::PayloadKind;
    use crate::socket::SocketType;
    use crate::wire::handshake;

    fn message(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u64).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    fn stream(bodies: &[Vec<u8>]) -> Vec<u8> {
        let mut out = handshake(SocketType::Push).to_vec();
        for b in bodies {
            out.extend(message(b));
        }
        out
    }

    #[test]
    fn a_payload_counts_its_declared_size_once_however_the_stream_is_cut() {
        let task = Payload::new(PayloadKind::Task, 7, 64 * 1024).encode().to_vec();
        let mut routed = vec![0, 0, 0, 1, 0x80, 0, 0, 9];
        routed.extend(Payload::new(PayloadKind::Request, 8, 1000).encode());
        let foreign = b"hello from nng".to_vec();
        let bytes = stream(&[task, routed, foreign]);
        let want = bytes.len() as u64 + 64 * 1024 + 1000;
        for cut in [1, 3, 7, 8, 13, 500] {
            let mut meter = Meter::default();
            let got: u64 = bytes.chunks(cut).map(|c| meter.feed(c)).sum();
            assert_eq!(got, want, "cut into pieces of {cut}");
        }
    }

    #[test]
    fn a_long_foreign_body_counts_only_its_bytes_and_the_next_message_is_found() {
        let long = vec![b'x'; 5000];
        let after = Payload::new(PayloadKind::Publish, 1, 300).encode().to_vec();
        let bytes = stream(&[long, after]);
        let mut meter = Meter::default();
        assert_eq!(meter.feed(&bytes), bytes.len() as u64 + 300);
    }
}
