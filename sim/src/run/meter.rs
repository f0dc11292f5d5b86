//! What a simulated byte stream stands for: its bytes plus its messages' virtual padding.
//!
//! Built-in designs model large payloads instead of allocating them, and in the
//! simulator a modelled message's padding does not travel (`wire/modelled.rs`): a
//! 100 MB job is its length prefix, which says 100 MB, and its 20-odd real bytes. A
//! [`Meter`] follows one direction of an SP connection (the 8-byte handshake, then
//! each message's u64 length and real bytes) and adds each message's virtual padding
//! to the bytes that carry it, so the shim paces a link, and fills its buffers, by
//! what the traffic stands for. It finds a message's real length from its first bytes
//! by the same rule as the receiving decoder, so it stays in step with the stream. On
//! real TCP the padding travels as bytes and the proxy counts bytes alone. The meter
//! never looks at data it does not need, and a stream that is not SP at all only ever
//! counts its own bytes.

use crate::wire::modelled::{HEAD_MAX, real_len};
use crate::wire::{HANDSHAKE_LEN, LEN_PREFIX_LEN};

/// Where the meter is in the stream.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// Handshake bytes still to skip.
    Handshake(usize),
    /// The length prefix, `have` bytes of it read so far.
    Len { bytes: [u8; LEN_PREFIX_LEN], have: usize },
    /// The first bytes of a message of `len` bytes, kept in `head` until they say how
    /// many of its bytes are real.
    Head { len: u64 },
    /// The rest of a message's real bytes, `left` of them still to come.
    Body { left: u64 },
}

/// Follows one direction of an SP stream. `Copy`, so a writer can try a write on a
/// copy and keep it only when the write is taken.
#[derive(Clone, Copy, Debug)]
pub struct Meter {
    part: Part,
    head: [u8; HEAD_MAX],
    head_len: usize,
}

impl Default for Meter {
    fn default() -> Self {
        Meter { part: Part::Handshake(HANDSHAKE_LEN), head: [0; HEAD_MAX], head_len: 0 }
    }
}

impl Meter {
    /// Takes the next bytes of the stream; returns how many bytes they stand for: their
    /// own, plus the virtual padding of every message whose real length they settle.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut stands_for = bytes.len() as u64;
        while !bytes.is_empty() {
            let n = match &mut self.part {
                Part::Handshake(left) => {
                    let n = (*left).min(bytes.len());
                    *left -= n;
                    if *left == 0 {
                        self.part = Part::Len { bytes: [0; LEN_PREFIX_LEN], have: 0 };
                    }
                    n
                }
                Part::Len { bytes: len, have } => {
                    let n = (LEN_PREFIX_LEN - *have).min(bytes.len());
                    len[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    if *have == LEN_PREFIX_LEN {
                        self.head_len = 0;
                        self.part = Part::Head { len: u64::from_be_bytes(*len) };
                        stands_for += self.settle();
                    }
                    n
                }
                Part::Head { .. } => {
                    let n = (HEAD_MAX - self.head_len).min(bytes.len());
                    self.head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
                    self.head_len += n;
                    // Only the bytes the message's real length leaves for it are its.
                    let (padding, overshoot) = self.settle_head();
                    stands_for += padding;
                    n - overshoot
                }
                Part::Body { left } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    *left -= n as u64;
                    if *left == 0 {
                        self.part = Part::Len { bytes: [0; LEN_PREFIX_LEN], have: 0 };
                    }
                    n
                }
            };
            bytes = &bytes[n..];
        }
        stands_for
    }

    /// Settles a message that is empty or whose length is known at once.
    fn settle(&mut self) -> u64 {
        self.settle_head().0
    }

    /// Once the head says how many of the message's bytes are real, moves on to the
    /// rest of them (or the next prefix) and returns the virtual padding, with how
    /// many of the head's last bytes already belong to the next message.
    fn settle_head(&mut self) -> (u64, usize) {
        let Part::Head { len } = self.part else { return (0, 0) };
        let Some(real) = real_len(len, &self.head[..self.head_len]) else { return (0, 0) };
        let overshoot = (self.head_len as u64).saturating_sub(real) as usize;
        self.head_len -= overshoot;
        let left = real - self.head_len as u64;
        self.part = match left {
            0 => Part::Len { bytes: [0; LEN_PREFIX_LEN], have: 0 },
            left => Part::Body { left },
        };
        (len - real, overshoot)
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::socket::SocketType;
    use crate::wire::payload::{Payload, PayloadKind};
    use crate::wire::{encode, handshake};

    /// A simulated stream: each message as the encoder frames it, padding left out.
    fn stream(messages: &[(Vec<u32>, Vec<u8>)]) -> (Vec<u8>, u64) {
        let mut out = BytesMut::from(&handshake(SocketType::Push)[..]);
        let padding = messages.iter().map(|(ids, body)| encode(ids, body, &mut out)).sum();
        (out.to_vec(), padding)
    }

    #[test]
    fn a_payload_counts_its_modelled_size_once_however_the_stream_is_cut() {
        let task = Payload::new(PayloadKind::Task, 7, 64 * 1024).encode().to_vec();
        let routed = Payload::new(PayloadKind::Request, 8, 1000).encode().to_vec();
        let foreign = b"hello from nng".to_vec();
        let empty = Vec::new();
        let (bytes, padding) = stream(&[
            (vec![], task),
            (vec![7, 0x8000_0009], routed),
            (vec![], foreign),
            (vec![], empty),
        ]);
        assert_eq!(padding, 64 * 1024 + 1000);
        let want = bytes.len() as u64 + 64 * 1024 + 1000;
        for cut in [1, 3, 7, 8, 13, 500] {
            let mut meter = Meter::default();
            let got: u64 = bytes.chunks(cut).map(|c| meter.feed(c)).sum();
            assert_eq!(got, want, "cut into pieces of {cut}");
        }
    }

    /// What paces a bandwidth-limited link: a 100 MiB job stands for 100 MiB, while
    /// the stream that carries it in the simulator holds only its real bytes.
    #[test]
    fn a_100_mib_job_stands_for_100_mib_and_its_stream_holds_only_real_bytes() {
        let job = Payload::new(PayloadKind::Job, 1, 100 << 20).encode().to_vec();
        let (bytes, padding) = stream(&[(vec![0x8000_0001], job)]);
        assert_eq!(padding, 100 << 20);
        assert!(bytes.len() < 64, "{} bytes on the simulated stream", bytes.len());
        let mut meter = Meter::default();
        assert_eq!(meter.feed(&bytes), bytes.len() as u64 + (100 << 20));
    }

    #[test]
    fn a_long_foreign_body_counts_only_its_bytes_and_the_next_message_is_found() {
        let long = vec![b'x'; 5000];
        let after = Payload::new(PayloadKind::Publish, 1, 300).encode().to_vec();
        let (bytes, _) = stream(&[(vec![], long), (vec![], after)]);
        let mut meter = Meter::default();
        assert_eq!(meter.feed(&bytes), bytes.len() as u64 + 300);
    }
}
