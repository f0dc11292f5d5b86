//! A bystander's decoder: one direction of a connection read as its receiver would,
//! by someone who forwards the bytes and must never answer or judge them.
//!
//! The real network's fault proxy sees every byte of every link (`run/proxy.rs`); a
//! [`Tap`] follows one direction of one connection through the same codecs the
//! sockets use (SP's handshake check, [`Decoder`](super::Decoder) and [`split`];
//! ZMTP's [`Handshake`], frame decoder and [`Envelope`]), so what it reports is
//! what the receiving socket would take: whole messages as the core's [`Msg`]
//! (routing ids peeled off by the receiver's rule) and subscriptions. It is fed copies
//! of the bytes, and keeps of each message only its head, the first [`HEAD_BYTES`]
//! (all a trace reads to attribute it: routing ids, the payload header, and every
//! message of that size or less whole); the rest is counted and dropped as it arrives,
//! as a modelled message's padding (`modelled.rs`) is. A message is reported once its
//! last byte has been read, so one cut off with its connection is never reported.
//! What a tap holds is bounded (docs/limits.md, "The wire tap"): the head of the
//! message in progress, a command in progress (at most 64 KiB), and the bytes of one
//! call to [`Tap::feed`].
//!
//! A tap fails once: the first thing it cannot read (a handshake it does not know, a
//! broken frame) is returned as a [`TapFailed`] and from then on it ignores its input,
//! so the caller logs one reason per connection and the traffic, which the tap never
//! touches, flows on. What the receiving socket makes of such bytes is its own affair.
//! What the proxy records from a tap is described in docs/wire-trace.md.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::sp::{self, HANDSHAKE_LEN, SpProtocol, split};
use super::zmtp::{self, Envelope, Event, Handshake, Limits};
use crate::socket::{Msg, SocketType};

/// The most of one message a tap keeps: its first 64 KiB (a ZMTP message's first
/// frames up to that many bytes together). What the trace reads of a message lies in
/// its first 96 bytes (`modelled::HEAD_MAX`) and its routing ids, which no receiver
/// reads past a few; 64 KiB keeps any real message's envelope and is the size of the
/// largest command a ZMTP peer may send.
pub const HEAD_BYTES: usize = 64 * 1024;

/// Which wire protocol a connection speaks: ZMTP for a `library: zeromq` socket, SP
/// for every other (`net/zmtp.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Framing {
    /// SP, with the protocol id of the socket's type (PAIR v0 for a PAIR).
    Sp,
    /// SP's PAIR v1 (protocol 0x11, a hop count on every message: NNG's PAIR).
    SpPairV1,
    /// ZMTP 3.1.
    Zmtp,
}

/// One thing the sender said, as its receiver would take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tapped {
    /// A whole message, read to its last byte. On ZMTP a receiving REP, DEALER or
    /// ROUTER numbers requests itself, so the request id on the header is the tap's
    /// own count, not a wire id. `cut` counts the bytes of the body read and not kept
    /// (those past [`HEAD_BYTES`]): the message's body is that much longer than
    /// `msg.body`, which is its head. 0 for every message of at most [`HEAD_BYTES`].
    Message {
        /// The message, or its head.
        msg: Msg,
        /// Body bytes read and not kept.
        cut: u64,
    },
    /// A subscription to a prefix (ZMTP's SUBSCRIBE or its 3.0 form, or a patchbay
    /// SUB's `0x01`-prefixed SP message).
    Subscribe(Bytes),
    /// A subscription withdrawn.
    Cancel(Bytes),
}

/// Why a tap stopped reading a direction; said once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapFailed(pub String);

impl fmt::Display for TapFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TapFailed {}

/// Where a tap is in the stream.
#[derive(Debug)]
enum State {
    /// Waiting for the sender's 8-byte SP handshake.
    SpHandshake,
    SpMessages(sp::Decoder),
    /// Reading the sender's ZMTP greeting and READY.
    ZmtpHandshake(Box<Handshake>),
    ZmtpMessages {
        frames: zmtp::Decoder,
        envelope: Envelope,
    },
    /// Failed (or handed bytes it cannot place): ignores everything after.
    Stopped,
}

/// One direction of one connection, sender to receiver, decoded as the receiver
/// would. See the module documentation.
#[derive(Debug)]
pub struct Tap {
    /// The receiving socket's type: its protocol's rule peels routing ids off.
    receiver: SocketType,
    /// The SP protocol the receiver speaks (its handshake and header rule).
    sp: SpProtocol,
    state: State,
    /// Bytes fed and not yet consumed: at most the head of the message in progress
    /// (or a command), and the bytes of the last feed.
    buf: BytesMut,
    /// A message whose head is in and whose tail (bytes past the head, or modelled
    /// padding) is still being read: reported once that is done.
    tail_of: Option<Tapped>,
}

impl Tap {
    /// A tap on the bytes a socket writes to a `receiver` socket over `framing`.
    pub fn new(framing: Framing, receiver: SocketType) -> Tap {
        let state = match framing {
            Framing::Sp | Framing::SpPairV1 => State::SpHandshake,
            Framing::Zmtp => match Handshake::new(receiver, Bytes::new(), Limits::default()) {
                Ok(handshake) => State::ZmtpHandshake(Box::new(handshake)),
                // A type ZMTP does not carry never handshakes on it: nothing to read.
                Err(_) => State::Stopped,
            },
        };
        let sp = SpProtocol::new(receiver, framing == Framing::SpPairV1);
        Tap { receiver, sp, state, buf: BytesMut::new(), tail_of: None }
    }

    /// Whether the tap has stopped reading (after a failure).
    pub fn stopped(&self) -> bool {
        matches!(self.state, State::Stopped)
    }

    /// Reads `bytes`, the next of the stream, and returns what they completed. The
    /// first failure is returned once (with what came before it in `bytes` lost to
    /// the report); afterwards every call returns nothing.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Tapped>, TapFailed> {
        if self.stopped() {
            return Ok(Vec::new());
        }
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        match self.drain(&mut out) {
            Ok(()) => Ok(out),
            Err(failed) => {
                self.state = State::Stopped;
                self.buf = BytesMut::new();
                self.tail_of = None;
                Err(failed)
            }
        }
    }

    /// Takes every whole item out of the buffer.
    fn drain(&mut self, out: &mut Vec<Tapped>) -> Result<(), TapFailed> {
        let failed = |e: &dyn fmt::Display| TapFailed(e.to_string());
        loop {
            match &mut self.state {
                State::SpHandshake => {
                    if self.buf.len() < HANDSHAKE_LEN {
                        return Ok(());
                    }
                    let theirs = self.buf.split_to(HANDSHAKE_LEN);
                    let theirs = theirs[..].try_into().expect("8 bytes split");
                    self.sp.check_handshake(theirs).map_err(|e| failed(&e))?;
                    self.state = State::SpMessages(sp::Decoder::new(None));
                }
                State::SpMessages(decoder) => {
                    let got = decoder.decode_keeping(&mut self.buf, HEAD_BYTES);
                    let got = got.map_err(|e| failed(&e))?;
                    Self::tail_read(&mut self.tail_of, got.is_some(), decoder.skipping(), out);
                    let Some((payload, cut)) = got else { return Ok(()) };
                    let item = sp_message(self.sp, payload, cut);
                    Self::report(&mut self.tail_of, item, decoder.skipping(), out);
                }
                State::ZmtpHandshake(handshake) => {
                    // What the receiver would answer is not ours to send.
                    let mut unsent = BytesMut::new();
                    let advanced = handshake.advance(&mut self.buf, &mut unsent);
                    let Some(peer) = advanced.map_err(|e| failed(&e))? else { return Ok(()) };
                    let frames =
                        zmtp::Decoder::new(self.receiver, Limits::default()).with_real_padding();
                    // A correlating REQ's id frame (`req_correlate`) is read as body: the
                    // tap does not know the receiver's options, and ids it shows on ZMTP
                    // are its own count anyway (docs/wire-trace.md).
                    let envelope = Envelope::new(self.receiver, peer.version, false);
                    self.state = State::ZmtpMessages { frames, envelope };
                }
                State::ZmtpMessages { frames, envelope } => {
                    let got = frames.decode_keeping(&mut self.buf, HEAD_BYTES);
                    let got = got.map_err(|e| failed(&e))?;
                    Self::tail_read(&mut self.tail_of, got.is_some(), frames.skipping(), out);
                    let Some((event, cut)) = got else { return Ok(()) };
                    let item = match event {
                        // A message the receiver cannot route it drops, keeping the
                        // connection; so does the tap, which has nothing to attribute.
                        Event::Message(parts) => {
                            envelope.decode(parts).ok().map(|msg| Tapped::Message { msg, cut })
                        }
                        Event::Subscribe(prefix) => Some(Tapped::Subscribe(prefix)),
                        Event::Cancel(prefix) => Some(Tapped::Cancel(prefix)),
                        Event::Ping { .. } | Event::Pong { .. } => None,
                    };
                    // A REP keeps each request's envelope for its reply, which a tap
                    // never writes.
                    envelope.forget_envelopes();
                    if let Some(item) = item {
                        Self::report(&mut self.tail_of, item, frames.skipping(), out);
                    }
                }
                State::Stopped => return Ok(()),
            }
        }
    }

    /// The message before the last decode call, held while its tail was read: it is
    /// reported once the decoder has moved past it (`next`, a new item) or dropped the
    /// last of its tail (`skipping` no more).
    fn tail_read(tail_of: &mut Option<Tapped>, next: bool, skipping: bool, out: &mut Vec<Tapped>) {
        if next || !skipping {
            out.extend(tail_of.take());
        }
    }

    /// Reports `item` now, or once its tail has been read when one is still to come.
    fn report(tail_of: &mut Option<Tapped>, item: Tapped, skipping: bool, out: &mut Vec<Tapped>) {
        if skipping {
            *tail_of = Some(item);
        } else {
            out.push(item);
        }
    }
}

/// An SP payload (or its head, `cut` bytes of it not kept) as its receiver takes it:
/// a message split by the receiver's routing rule.
fn sp_message(sp: SpProtocol, payload: Bytes, cut: u64) -> Tapped {
    // An SP subscriber sends nothing upstream (docs/library-semantics.md): every SP
    // payload is a message.
    // A payload without the header its receiver needs is dropped by the receiver alone
    // (`Malformed`), or closes its connection (NNG); the tap keeps it whole so the
    // send is still seen, and judges nothing.
    let msg = split(sp.header_rule(), payload).unwrap_or_else(|bad| Msg::new(bad.payload));
    Tapped::Message { msg, cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::payload::{Payload, PayloadKind};
    use crate::wire::{encode, handshake};

    fn request(rid: u32, id: u64) -> BytesMut {
        let mut out = BytesMut::new();
        let body = Payload::new(PayloadKind::Request, id, 1000).encode();
        let padding = encode(&[rid], &body, &mut out);
        out.extend(std::iter::repeat_n(0u8, padding as usize));
        out
    }

    #[test]
    fn an_sp_stream_fed_a_byte_at_a_time_gives_each_request_with_its_id_once() {
        let mut stream = BytesMut::from(&handshake(SocketType::Req)[..]);
        stream.extend(request(0x8000_0007, 41));
        stream.extend(request(0x8000_0008, 42));
        let mut tap = Tap::new(Framing::Sp, SocketType::Rep);
        let mut got = Vec::new();
        for byte in stream.iter() {
            got.extend(tap.feed(&[*byte]).expect("well-formed"));
        }
        let ids: Vec<_> = got
            .iter()
            .map(|t| match t {
                Tapped::Message { msg: m, cut: 0 } => {
                    (m.header.clone(), Payload::peek(&m.body).map(|p| p.1))
                }
                other => panic!("expected messages, got {other:?}"),
            })
            .collect();
        assert_eq!(ids, [(vec![0x8000_0007], Some(41)), (vec![0x8000_0008], Some(42))]);
        assert!(tap.buf.is_empty(), "the padding is dropped, not held");
    }

    #[test]
    fn a_broken_handshake_is_reported_once_and_the_tap_then_ignores_its_input() {
        let mut tap = Tap::new(Framing::Sp, SocketType::Rep);
        let err = tap.feed(b"GET / HTTP/1.1\r\n").expect_err("not SP");
        assert!(err.0.starts_with("bad SP handshake magic 47 45 54 20"), "{err}");
        assert!(tap.stopped());
        assert_eq!(tap.feed(&request(0x8000_0001, 1)), Ok(Vec::new()));
    }

    /// Feeds `stream` in chunks of `chunk` bytes and returns what the tap reported,
    /// with the byte after which each item came, checking after every feed that the
    /// tap holds no more than a message's head and a chunk (docs/limits.md).
    fn feed_bounded(tap: &mut Tap, stream: &[u8], chunk: usize) -> Vec<(usize, Tapped)> {
        let mut got = Vec::new();
        let mut fed = 0;
        for piece in stream.chunks(chunk) {
            fed += piece.len();
            for item in tap.feed(piece).expect("well-formed") {
                got.push((fed, item));
            }
            assert!(tap.buf.len() <= HEAD_BYTES + chunk, "holds {} at {fed}", tap.buf.len());
            assert!(
                tap.buf.capacity() <= 2 * (HEAD_BYTES + chunk),
                "room for {} at {fed}",
                tap.buf.capacity()
            );
        }
        got
    }

    /// F9: a tap kept every byte of a message until it completed, so a program's
    /// 1.2 GB message cost the fault proxy 1.2 GB. Now it keeps the head, counts the
    /// rest, and reports the message (with its full length) once its last byte is in.
    #[test]
    fn a_huge_sp_message_fed_in_chunks_keeps_only_its_head_and_is_reported_whole_at_its_end() {
        const BODY: usize = 10 << 20;
        let mut stream = BytesMut::from(&handshake(SocketType::Req)[..]);
        let mut body = vec![b'z'; BODY];
        body[..3].copy_from_slice(b"big");
        let padding = encode(&[0x8000_0009], &body, &mut stream);
        assert_eq!(padding, 0, "a foreign body, no modelled size");
        stream.extend(request(0x8000_000a, 7));
        let mut tap = Tap::new(Framing::Sp, SocketType::Rep);
        let got = feed_bounded(&mut tap, &stream, 16 * 1024);
        let [(at, first), (_, second)] = &got[..] else { panic!("two messages, got {got:?}") };
        let Tapped::Message { msg, cut } = first else { panic!("{first:?}") };
        assert_eq!(msg.header, [0x8000_0009]);
        // The head is the payload's first 64 KiB, its request id among them.
        assert_eq!((msg.body.len(), *cut), (HEAD_BYTES - 4, (BODY + 4 - HEAD_BYTES) as u64));
        assert!(msg.body.starts_with(b"big"));
        // Reported with the chunk that held its last byte, not when its head came.
        let ends_at = HANDSHAKE_LEN + 8 + 4 + BODY;
        assert!(*at >= ends_at && *at < ends_at + 16 * 1024, "reported after byte {at}");
        let Tapped::Message { msg, cut: 0 } = second else { panic!("{second:?}") };
        assert_eq!(Payload::peek(&msg.body).map(|p| p.1), Some(7));
    }

    /// A message whose connection ends before its last byte never reached its
    /// receiver: it is not reported, however much of its head was read.
    #[test]
    fn a_message_cut_off_before_its_last_byte_is_not_reported() {
        let mut stream = BytesMut::from(&handshake(SocketType::Req)[..]);
        let _ = encode(&[0x8000_0001], &vec![b'y'; 200_000], &mut stream);
        let mut tap = Tap::new(Framing::Sp, SocketType::Rep);
        let got = feed_bounded(&mut tap, &stream[..stream.len() - 1], 16 * 1024);
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(tap.feed(&stream[stream.len() - 1..]).map(|g| g.len()), Ok(1));
    }

    /// The same on ZMTP: a multipart message of a 100 KiB frame and a 5 MiB one keeps
    /// 64 KiB of the first and nothing of the second, and counts the rest.
    #[test]
    fn a_huge_zmtp_message_keeps_only_its_head_and_is_reported_at_its_end() {
        use crate::wire::zmtp::{Version, encode_message, encode_ready, greeting};
        let mut stream = BytesMut::from(&greeting(Version::V3_1)[..]);
        encode_ready(SocketType::Push, b"", &mut stream);
        let (first, second) = (vec![b'a'; 100 << 10], vec![b'b'; 5 << 20]);
        encode_message(&[&first[..], &second[..]], &mut stream);
        encode_message(&[&b"small"[..]], &mut stream);
        let mut tap = Tap::new(Framing::Zmtp, SocketType::Pull);
        let got = feed_bounded(&mut tap, &stream, 16 * 1024);
        let [(at, big), (_, small)] = &got[..] else { panic!("two messages, got {got:?}") };
        let Tapped::Message { msg, cut } = big else { panic!("{big:?}") };
        let frames = crate::socket::multipart::decode(&msg.body);
        let kept: Vec<usize> = frames.iter().map(Bytes::len).collect();
        assert_eq!(kept, [HEAD_BYTES, 0]);
        assert_eq!(*cut, (first.len() + second.len() - HEAD_BYTES) as u64);
        assert!(*at + 16 * 1024 > stream.len() - 7, "reported at its end, byte {at}");
        assert_eq!(small, &Tapped::Message { msg: Msg::new(&b"small"[..]), cut: 0 });
    }

    /// F6 through the tap: a ZMTP frame declaring 5 GiB stops the tap from its header,
    /// with the reason the proxy notes ("wire trace stopped ..."), as SP's does.
    #[test]
    fn a_zmtp_frame_above_the_ceiling_stops_the_tap_from_its_header() {
        use crate::wire::zmtp::{Version, encode_ready, greeting};
        let mut stream = BytesMut::from(&greeting(Version::V3_1)[..]);
        encode_ready(SocketType::Push, b"", &mut stream);
        stream.extend_from_slice(&[0x02]);
        stream.extend_from_slice(&(5u64 << 30).to_be_bytes());
        let mut tap = Tap::new(Framing::Zmtp, SocketType::Pull);
        let err = tap.feed(&stream).expect_err("above the ceiling");
        assert_eq!(
            err.0,
            "frame length 5368709120 exceeds the hard ceiling of 4294967296 bytes, refused \
             whatever the receive limit"
        );
        assert!(tap.stopped());
    }

    #[test]
    fn a_zmtp_stream_gives_multipart_messages_and_subscriptions() {
        use crate::wire::zmtp::{
            Version, encode_message, encode_ready, encode_subscribe, greeting,
        };
        let mut stream = BytesMut::from(&greeting(Version::V3_1)[..]);
        encode_ready(SocketType::Sub, b"", &mut stream);
        encode_subscribe(Version::V3_1, b"weather", &mut stream);
        let mut tap = Tap::new(Framing::Zmtp, SocketType::Pub);
        assert_eq!(tap.feed(&stream), Ok(vec![Tapped::Subscribe(Bytes::from_static(b"weather"))]));

        let mut stream = BytesMut::from(&greeting(Version::V3_1)[..]);
        encode_ready(SocketType::Pub, b"", &mut stream);
        let body = Payload::new(PayloadKind::Publish, 9, 0).encode();
        encode_message(&[&b"weather"[..], &body[..]], &mut stream);
        let mut tap = Tap::new(Framing::Zmtp, SocketType::Sub);
        let got = tap.feed(&stream).expect("well-formed");
        let [Tapped::Message { msg, cut: 0 }] = &got[..] else {
            panic!("one message, got {got:?}")
        };
        let frames = crate::socket::multipart::decode(&msg.body);
        assert_eq!(frames.len(), 2, "both frames in one message");
        assert_eq!(Payload::peek(&frames[1]).map(|p| p.1), Some(9));
    }
}
