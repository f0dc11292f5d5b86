//! What a simulated byte stream stands for: its bytes plus its messages' virtual padding.
//!
//! Built-in designs model large payloads instead of allocating them, and in the
//! simulator a modelled message's padding does not travel (`wire/modelled.rs`): a
//! 100 MB job is its length prefix, which says 100 MB, and its 20-odd real bytes. A
//! [`Meter`] follows one direction of a connection and adds each message's virtual
//! padding to the bytes that carry it, so the shim paces a link, and fills its
//! buffers, by what the traffic stands for. It tells the two wires apart by the
//! stream's first byte (SP's handshake starts with `00`, ZMTP's greeting with `ff`).
//!
//! On SP it follows the 8-byte handshake, then each message's u64 length and real
//! bytes, and finds a message's real length from its first bytes by the same rule as
//! the receiving decoder, so it stays in step with the stream. On ZMTP nothing of the
//! padding is on the wire, not even in a frame's size (docs/zmtp.md, "Modelled
//! sizes"): the meter skips the 64-byte greeting, follows each frame's flags and size,
//! and counts, once per message, the modelled size that the first payload header at
//! the start of one of its data frames declares. On real TCP SP's padding travels as
//! bytes and the proxy counts bytes alone. The meter never looks at data it does not
//! need, and a stream that is neither only ever counts its own bytes.

use crate::wire::modelled::{HEAD_MAX, padding_of, real_len};
use crate::wire::{HANDSHAKE_LEN, LEN_PREFIX_LEN};

/// ZMTP's greeting, sent whole before the first frame.
const ZMTP_GREETING_LEN: usize = 64;
/// A ZMTP frame's flag bits (docs/zmtp.md, "Frames and messages").
const ZMTP_MORE: u8 = 0x01;
const ZMTP_LONG: u8 = 0x02;
const ZMTP_COMMAND: u8 = 0x04;

/// Follows one direction of a stream, SP or ZMTP, once its first byte has said which.
/// Cheap to clone (only a head cut between two writes is allocated), so a writer can
/// try a write on a clone and keep it only when the write is taken.
#[derive(Clone, Debug, Default)]
pub enum Meter {
    /// Nothing seen yet.
    #[default]
    Unknown,
    Sp(SpMeter),
    Zmtp(ZmtpMeter),
}

impl Meter {
    /// Takes the next bytes of the stream; returns how many bytes they stand for: their
    /// own, plus the virtual padding of every message whose real length they settle.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> u64 {
        if let Meter::Unknown = self {
            match bytes.first() {
                None => return 0,
                Some(0xff) => *self = Meter::Zmtp(ZmtpMeter::default()),
                Some(_) => *self = Meter::Sp(SpMeter::default()),
            }
        }
        match self {
            Meter::Unknown => unreachable!("decided above"),
            Meter::Sp(meter) => meter.feed(bytes),
            Meter::Zmtp(meter) => meter.feed(bytes),
        }
    }
}

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

/// The first bytes of a message or frame whose head was cut between two writes, kept
/// until the rest of the head comes. A head nearly always comes whole and is read
/// where it lies, so this is made only for a cut one and dropped once it is read:
/// kept inline, it was 96 of the bytes of every connection end (issue 16).
type CutHead = Option<Box<[u8; HEAD_MAX]>>;

/// Keeps `bytes`, the first of a cut head, in a new [`CutHead`].
fn cut_head(bytes: &[u8]) -> CutHead {
    let mut head = Box::new([0; HEAD_MAX]);
    head[..bytes.len()].copy_from_slice(bytes);
    Some(head)
}

/// Follows one direction of an SP stream.
#[derive(Clone, Debug)]
pub struct SpMeter {
    part: Part,
    /// A message's first bytes while its head is cut; `head_len` of them so far.
    head: CutHead,
    head_len: usize,
}

impl Default for SpMeter {
    fn default() -> Self {
        SpMeter { part: Part::Handshake(HANDSHAKE_LEN), head: None, head_len: 0 }
    }
}

impl SpMeter {
    /// [`Meter::feed`] on an SP stream.
    fn feed(&mut self, mut bytes: &[u8]) -> u64 {
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
                    let settled = match self.head.take() {
                        None => self.settle_head(&bytes[..n]),
                        Some(mut head) => {
                            head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
                            let settled = self.settle_head(&head[..self.head_len + n]);
                            self.head = Some(head);
                            settled
                        }
                    };
                    match settled {
                        // Only the bytes the message's real length leaves for it are its.
                        Some((padding, overshoot)) => {
                            (self.head, self.head_len) = (None, 0);
                            stands_for += padding;
                            n - overshoot
                        }
                        None => {
                            if self.head.is_none() {
                                self.head = cut_head(&bytes[..n]);
                            }
                            self.head_len += n;
                            n
                        }
                    }
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
        self.settle_head(&[]).map_or(0, |(padding, _)| padding)
    }

    /// Once `head`, the message's first bytes so far, says how many of its bytes are
    /// real, moves on to the rest of them (or the next prefix) and returns the virtual
    /// padding, with how many of the head's last bytes already belong to the next
    /// message; `None` while it cannot say.
    fn settle_head(&mut self, head: &[u8]) -> Option<(u64, usize)> {
        let Part::Head { len } = self.part else { return None };
        let real = real_len(len, head)?;
        let overshoot = (head.len() as u64).saturating_sub(real) as usize;
        let left = real - (head.len() - overshoot) as u64;
        self.part = match left {
            0 => Part::Len { bytes: [0; LEN_PREFIX_LEN], have: 0 },
            left => Part::Body { left },
        };
        Some((len - real, overshoot))
    }
}

/// Where a ZMTP meter is in the stream.
#[derive(Clone, Copy, Debug)]
enum ZmtpPart {
    /// Greeting bytes still to skip.
    Greeting(usize),
    /// The next frame's flags byte.
    Flags,
    /// A frame's size: `need` bytes of it (1, or 8 when LONG), `have` read so far.
    Size { flags: u8, bytes: [u8; 8], have: usize, need: usize },
    /// The first bytes of a data frame of `len` bytes, kept in `head` until they say
    /// whether a payload header starts it.
    Head { flags: u8, len: u64 },
    /// The rest of a frame, `left` bytes still to come.
    Body { flags: u8, left: u64 },
}

/// Follows one direction of a simulated ZMTP stream: frames carry real bytes only
/// (over real TCP a last frame's size counts its padding, but nothing meters that),
/// and the padding a message's payload header declares is counted once, when that
/// frame's head has arrived.
#[derive(Clone, Debug)]
pub struct ZmtpMeter {
    part: ZmtpPart,
    /// A data frame's first bytes while its head is cut; `head_len` of them so far.
    head: CutHead,
    head_len: usize,
    /// Whether the message in progress has had its padding counted already.
    counted: bool,
}

impl Default for ZmtpMeter {
    fn default() -> Self {
        ZmtpMeter {
            part: ZmtpPart::Greeting(ZMTP_GREETING_LEN),
            head: None,
            head_len: 0,
            counted: false,
        }
    }
}

impl ZmtpMeter {
    /// [`Meter::feed`] on a ZMTP stream.
    fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut stands_for = bytes.len() as u64;
        while !bytes.is_empty() {
            let n = match &mut self.part {
                ZmtpPart::Greeting(left) => {
                    let n = (*left).min(bytes.len());
                    *left -= n;
                    if *left == 0 {
                        self.part = ZmtpPart::Flags;
                    }
                    n
                }
                ZmtpPart::Flags => {
                    let flags = bytes[0];
                    let need = if flags & ZMTP_LONG != 0 { 8 } else { 1 };
                    self.part = ZmtpPart::Size { flags, bytes: [0; 8], have: 0, need };
                    1
                }
                ZmtpPart::Size { flags, bytes: size, have, need } => {
                    let n = (*need - *have).min(bytes.len());
                    size[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    if *have == *need {
                        let len = size[..*need].iter().fold(0u64, |l, b| (l << 8) | u64::from(*b));
                        let flags = *flags;
                        self.start_frame(flags, len);
                    }
                    n
                }
                ZmtpPart::Head { flags, len } => {
                    let (flags, len) = (*flags, *len);
                    let want = (HEAD_MAX as u64).min(len) as usize;
                    let n = (want - self.head_len).min(bytes.len());
                    let padding = match self.head.take() {
                        // The whole head in this piece: read where it lies.
                        None if n == want => Some(padding_of(&bytes[..want])),
                        None => {
                            self.head = cut_head(&bytes[..n]);
                            None
                        }
                        Some(mut head) => {
                            head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
                            let whole = self.head_len + n == want;
                            let padding = whole.then(|| padding_of(&head[..want]));
                            if !whole {
                                self.head = Some(head);
                            }
                            padding
                        }
                    };
                    self.head_len += n;
                    if let Some(padding) = padding {
                        stands_for += padding;
                        self.counted |= padding > 0;
                        self.rest_of_frame(flags, len - want as u64);
                    }
                    n
                }
                ZmtpPart::Body { flags, left } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    let (flags, left) = (*flags, *left - n as u64);
                    self.rest_of_frame(flags, left);
                    n
                }
            };
            bytes = &bytes[n..];
        }
        stands_for
    }

    /// A frame's size is known: look at its head if it may declare the message's
    /// padding (a data frame of a message not yet counted), else skip it.
    fn start_frame(&mut self, flags: u8, len: u64) {
        if flags & ZMTP_COMMAND == 0 && !self.counted && len > 0 {
            self.head_len = 0;
            self.part = ZmtpPart::Head { flags, len };
        } else {
            self.rest_of_frame(flags, len);
        }
    }

    /// `left` bytes of the frame still to come; at its end, the next flags byte, and
    /// at a message's last frame a fresh count.
    fn rest_of_frame(&mut self, flags: u8, left: u64) {
        if left > 0 {
            self.part = ZmtpPart::Body { flags, left };
            return;
        }
        self.part = ZmtpPart::Flags;
        if flags & (ZMTP_MORE | ZMTP_COMMAND) == 0 {
            self.counted = false;
        }
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

    /// A ZMTP stream: greeting, READY, a PING, then `messages` as the driver frames
    /// them in the simulator (real bytes only: the padding never travels there).
    fn zmtp_stream(messages: &[Vec<Vec<u8>>]) -> Vec<u8> {
        use crate::wire::zmtp::{Version, encode_message, encode_ping, encode_ready, greeting};
        let mut out = BytesMut::from(&greeting(Version::V3_1)[..]);
        encode_ready(SocketType::Dealer, b"", &mut out);
        encode_ping(0, b"ctx", &mut out);
        for frames in messages {
            encode_message(frames, &mut out);
        }
        out.to_vec()
    }

    /// A ZMTP link counts a modelled message's size as an SP one does (issue 12:
    /// before, a `library: zeromq` 64 KiB task stood for its 30-odd real bytes).
    #[test]
    fn a_zmtp_stream_counts_each_messages_modelled_size_once_however_it_is_cut() {
        let task = Payload::new(PayloadKind::Task, 7, 64 * 1024).encode().to_vec();
        let routed = Payload::new(PayloadKind::Request, 8, 1000).encode().to_vec();
        // A long frame (over 255 bytes) with a header: its size takes 8 bytes.
        let mut long = Payload::new(PayloadKind::Job, 9, 5_000).encode().to_vec();
        long.extend([b'z'; 300]);
        let bytes = zmtp_stream(&[
            vec![task.clone()],
            // ROUTER's identity and delimiter, then the body and a second header that
            // must not count again in the same message.
            vec![vec![0, 0x6b, 0x8b, 0x45, 0x67], vec![], routed, task],
            vec![b"hello from libzmq".to_vec()],
            vec![vec![]],
            vec![long],
        ]);
        let want = bytes.len() as u64 + 64 * 1024 + 1000 + 5_000;
        for cut in [1, 3, 7, 8, 13, 64, 500] {
            let mut meter = Meter::default();
            let got: u64 = bytes.chunks(cut).map(|c| meter.feed(c)).sum();
            assert_eq!(got, want, "cut into pieces of {cut}");
        }
    }

    /// A head is kept only while it is cut: between messages a meter holds none.
    #[test]
    fn a_meter_keeps_a_head_only_while_it_is_cut() {
        let task = Payload::new(PayloadKind::Task, 7, 64 * 1024).encode().to_vec();
        let zmtp = zmtp_stream(&[vec![task.clone()]]);
        let (sp, _) = stream(&[(vec![], task)]);
        for bytes in [zmtp, sp] {
            let held = |meter: &Meter| match meter {
                Meter::Sp(meter) => meter.head.is_some(),
                Meter::Zmtp(meter) => meter.head.is_some(),
                Meter::Unknown => false,
            };
            let mut whole = Meter::default();
            whole.feed(&bytes);
            assert!(!held(&whole), "read where it lay");
            let mut cut = Meter::default();
            let (first, rest) = bytes.split_at(bytes.len() - 3);
            let counted = cut.feed(first);
            assert!(held(&cut), "the head's first bytes kept");
            assert_eq!(counted + cut.feed(rest), bytes.len() as u64 + 64 * 1024);
            assert!(!held(&cut), "dropped once read");
        }
    }

    #[test]
    fn a_zmtp_stream_without_payload_headers_counts_only_its_bytes() {
        let bytes = zmtp_stream(&[vec![vec![b'x'; 5000]], vec![b"a".to_vec(), b"b".to_vec()]]);
        let mut meter = Meter::default();
        assert_eq!(meter.feed(&bytes), bytes.len() as u64);
        assert!(matches!(meter, Meter::Zmtp(_)), "told apart by the greeting's first byte");
    }
}
