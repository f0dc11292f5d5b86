//! A bystander's decoder: one direction of a connection read as its receiver would,
//! by someone who forwards the bytes and must never answer or judge them.
//!
//! The real network's fault proxy sees every byte of every link (`run/proxy.rs`); a
//! [`Tap`] follows one direction of one connection through the same codecs the
//! sockets use (SP's handshake check, [`Decoder`](super::Decoder) and [`split`];
//! ZMTP's [`Handshake`], frame decoder and [`Envelope`]), so what it reports is
//! what the receiving socket would take: whole messages as the core's [`Msg`]
//! (routing ids peeled off by the receiver's rule) and subscriptions. It is fed copies
//! of the bytes; it holds the message in progress and nothing else, and a message's
//! modelled padding (`modelled.rs`) is dropped as it arrives, never stored.
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
    /// A whole message. On ZMTP a receiving REP, DEALER or ROUTER numbers requests
    /// itself, so the request id on the header is the tap's own count, not a wire id.
    Message(Msg),
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
    /// Bytes fed and not yet consumed: at most the message in progress.
    buf: BytesMut,
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
        Tap { receiver, sp, state, buf: BytesMut::new() }
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
                    let Some(payload) = decoder.decode(&mut self.buf).map_err(|e| failed(&e))?
                    else {
                        return Ok(());
                    };
                    out.push(self.sp_message(payload)?);
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
                    let Some(event) = frames.decode(&mut self.buf).map_err(|e| failed(&e))? else {
                        return Ok(());
                    };
                    match event {
                        // A message the receiver cannot route it drops, keeping the
                        // connection; so does the tap, which has nothing to attribute.
                        Event::Message(parts) => {
                            if let Ok(msg) = envelope.decode(parts) {
                                out.push(Tapped::Message(msg));
                            }
                        }
                        Event::Subscribe(prefix) => out.push(Tapped::Subscribe(prefix)),
                        Event::Cancel(prefix) => out.push(Tapped::Cancel(prefix)),
                        Event::Ping { .. } | Event::Pong { .. } => {}
                    }
                }
                State::Stopped => return Ok(()),
            }
        }
    }

    /// An SP payload as its receiver takes it: a patchbay subscriber's subscription
    /// bodies (`0x01`/`0x00` and the prefix, `socket/subscribe.rs`), or a message
    /// split by the receiver's routing rule.
    fn sp_message(&self, payload: Bytes) -> Result<Tapped, TapFailed> {
        // An SP subscriber sends nothing upstream (docs/library-semantics.md): every
        // SP payload is a message.
        // A payload without the header its receiver needs is dropped by the receiver
        // alone (`Malformed`); the tap keeps it whole so the send is still seen.
        let rule = self.sp.header_rule();
        Ok(Tapped::Message(split(rule, payload).unwrap_or_else(|bad| Msg::new(bad.payload))))
    }
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
                Tapped::Message(m) => (m.header.clone(), Payload::peek(&m.body).map(|p| p.1)),
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
        let [Tapped::Message(msg)] = &got[..] else { panic!("one message, got {got:?}") };
        let frames = crate::socket::multipart::decode(&msg.body);
        assert_eq!(frames.len(), 2, "both frames in one message");
        assert_eq!(Payload::peek(&frames[1]).map(|p| p.1), Some(9));
    }
}
