//! SP over TCP, the nanomsg/NNG wire protocol: handshake, length framing and the
//! per-protocol split of a message into its backtrace header and its body.
//!
//! The rules follow "SP over TCP" in docs/sp-wire.md and docs/library-semantics.md, which
//! was probe-checked against NNG 1.11: an 8-byte handshake `00 'S' 'P' 00`, the
//! protocol id (u16 big-endian), `00 00`; then each message is a u64 big-endian length
//! and that many bytes. SP has no frames inside a message, so the routing ids travel
//! as the first bytes of the payload and the receiver's protocol says how many of them
//! to peel off. Everything here is sans-IO so it can be tested byte by byte.

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::modelled::{HEAD_MAX, Padding, padding_of, real_len};
use crate::socket::{Msg, REQUEST_ID_BIT, SocketOptions, SocketType};

/// Bytes each side sends before anything else.
pub const HANDSHAKE_LEN: usize = 8;

/// Bytes of the big-endian length in front of every message.
pub const LEN_PREFIX_LEN: usize = 8;

/// The fixed first four bytes of a handshake.
const MAGIC: [u8; 4] = [0x00, b'S', b'P', 0x00];

/// Bytes of one routing id (hop id or request id) on the wire.
const ID_LEN: usize = 4;

/// The hard ceiling on one message's length, whatever the receive limit says: 4 GiB,
/// on SP (a length prefix) and on ZMTP (a frame, a message's frames together, a
/// command). A length above it is refused from its prefix, before any byte of the body
/// is stored, so an unlimited receive limit (libzmq's default, and NNG 1.11's) cannot
/// be turned into "buffer whatever follows" by a 2^62 prefix. No modelled message
/// comes near it (the largest shipped jobs are 100 MB). It is patchbay's own guard:
/// with no limit NNG allocates whatever length it is told and closes the connection
/// only when that allocation fails (docs/library-semantics.md, "The receive size").
/// On a platform whose address space is smaller, `isize::MAX` is the ceiling instead.
/// See docs/limits.md.
pub const LEN_MAX_HARD: u64 =
    if (isize::MAX as u64) < (1 << 32) { isize::MAX as u64 } else { 1 << 32 };

/// The SP protocol id a socket type speaks. patchbay's ZeroMQ-only types speak the
/// raw form of their SP counterpart, which NNG's raw sockets share the id with:
/// DEALER is raw REQ, ROUTER raw REP, XPUB PUB and XSUB SUB. PAIR speaks v0 here;
/// [`SpProtocol`] says when it speaks v1.
pub fn protocol_id(socket: SocketType) -> u16 {
    match socket {
        SocketType::Pair => PAIR_V0,
        SocketType::Pub | SocketType::XPub => 0x20,
        SocketType::Sub | SocketType::XSub => 0x21,
        SocketType::Req | SocketType::Dealer => 0x30,
        SocketType::Rep | SocketType::Router => 0x31,
        SocketType::Push => 0x50,
        SocketType::Pull => 0x51,
        SocketType::Surveyor => 0x62,
        SocketType::Respondent => 0x63,
        SocketType::Bus => 0x70,
    }
}

/// PAIR v0's protocol id: nanomsg's only PAIR, NNG's `nng_pair0_open`.
const PAIR_V0: u16 = 0x10;
/// PAIR v1's protocol id: NNG's default PAIR (`nng_pair_open` is `nng_pair1_open`).
const PAIR_V1: u16 = 0x11;

/// The largest hop count a PAIR v1 message may arrive with and still be delivered:
/// NNG's `NNG_OPT_MAXTTL` default of 8 (probed on NNG 1.11: a message carrying 8 was
/// delivered, one carrying 9 silently dropped).
pub const PAIR_V1_TTL_MAX: u32 = 8;

/// The most routing ids a request's (or survey's) backtrace may hold, the request id
/// included: NNG's and nanomsg's REP, RESPONDENT and raw REP read at most this many
/// (`NNG_OPT_MAXTTL`, `NN_MAXTTL`, both 8 by default) and drop a message whose request
/// id is not among them, keeping the connection (docs/sp-wire.md).
pub const BACKTRACE_IDS_MAX: usize = 8;

/// The largest hop count NNG's PAIR v1 accepts on a connection at all: a message
/// with a higher one closes it (NNG's `pair1.c`, docs/sp-wire.md).
pub const PAIR_V1_HOPS_MAX: u32 = 255;

/// The hop count a PAIR v1 socket puts in front of every message it sends: it has
/// made one hop (probed on NNG 1.11: `00 00 00 01`, then the body).
const PAIR_V1_HOPS_SENT: [u32; 1] = [1];

/// The SP protocol a socket speaks: its type, for a PAIR which version, and whose
/// reading of a header it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpProtocol {
    socket: SocketType,
    /// PAIR v1 (protocol 0x11, a 4-byte hop count on every message); false for v0
    /// and for every other type.
    pair_v1: bool,
    /// NNG's: a message too short for the header its receiver reads closes the
    /// connection ([`SpProtocol::closes_connection`]); nanomsg's drop it.
    nng: bool,
}

impl SpProtocol {
    /// The protocol of a socket of type `socket`; `pair_v1` matters for a PAIR only.
    /// Headers are read as nanomsg reads them (a bad one drops its message); see
    /// [`SpProtocol::for_socket`] for NNG's.
    pub fn new(socket: SocketType, pair_v1: bool) -> SpProtocol {
        SpProtocol { socket, pair_v1: pair_v1 && socket == SocketType::Pair, nng: false }
    }

    /// The protocol a socket with `options` speaks, headers read as its library reads
    /// them: NNG's for a `library: nng` socket, whose options are the only ones with
    /// NNG's queues (`SocketOptions::nng_queues`), nanomsg's for every other.
    pub fn for_socket(socket: SocketType, options: &SocketOptions) -> SpProtocol {
        SpProtocol { nng: options.nng_queues, ..SpProtocol::new(socket, options.pair_v1) }
    }

    /// The id this protocol announces in its handshake.
    pub fn id(self) -> u16 {
        if self.pair_v1 { PAIR_V1 } else { protocol_id(self.socket) }
    }

    /// The 8 bytes this protocol sends when a connection opens.
    pub fn handshake(self) -> [u8; HANDSHAKE_LEN] {
        let [hi, lo] = self.id().to_be_bytes();
        [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], hi, lo, 0, 0]
    }

    /// Validates the peer's handshake and returns the peer's protocol id. A PAIR
    /// accepts only its own version (NNG closes a v0–v1 connection, probed); every
    /// other type accepts any id of a type it pairs with (see [`check_handshake`]).
    pub fn check_handshake(self, peer: &[u8; HANDSHAKE_LEN]) -> Result<u16, WireError> {
        let magic = [peer[0], peer[1], peer[2], peer[3]];
        if magic != MAGIC {
            return Err(WireError::BadMagic { got: magic });
        }
        let reserved = [peer[6], peer[7]];
        if reserved != [0, 0] {
            return Err(WireError::ReservedNonZero { got: reserved });
        }
        let peer_id = u16::from_be_bytes([peer[4], peer[5]]);
        let compatible = if self.socket == SocketType::Pair {
            peer_id == self.id()
        } else {
            SocketType::ALL
                .into_iter()
                .any(|t| protocol_id(t) == peer_id && self.socket.pairs_with(t))
        };
        if compatible {
            Ok(peer_id)
        } else {
            Err(WireError::ProtocolMismatch { ours: self.socket, ours_id: self.id(), peer_id })
        }
    }

    /// How this protocol peels headers off what it receives.
    pub fn header_rule(self) -> HeaderRule {
        if self.pair_v1 { HeaderRule::HopCount } else { HeaderRule::for_receiver(self.socket) }
    }

    /// The header to send in front of a message whose core-given header is
    /// `header`: PAIR v1 sends its hop count, every other protocol the header as is.
    pub fn outgoing_header(self, header: &[u32]) -> &[u32] {
        if self.pair_v1 { &PAIR_V1_HOPS_SENT } else { header }
    }

    /// Splits a received payload as this protocol's receiver does ([`split`] by its
    /// [`HeaderRule`]). NNG's raw REQ (a `library: nng` DEALER) also reads the ids
    /// after the first, up to one with the high bit set: a reply without one is
    /// malformed there, though the split takes only the first id.
    pub fn split(self, payload: Bytes) -> Result<Msg, Malformed> {
        let rule = self.header_rule();
        if self.nng && self.socket == SocketType::Dealer && request_id_at(&payload).is_none() {
            return Err(Malformed { rule, payload });
        }
        split(rule, payload)
    }

    /// The error that closes the connection for `malformed`, where this protocol's
    /// library closes it rather than drop the message (docs/sp-wire.md, "What closes a
    /// connection"). NNG 1.11 closes it for a payload that ends before the header its
    /// receiver reads: a REQ's reply or a SURVEYOR's response shorter than 4 bytes,
    /// and a request or survey whose routing ids run out before one with the high bit
    /// set (REP, RESPONDENT and the raw REP within their 8 ids; the raw REQ with no
    /// bound); and PAIR v1's hop count, missing or above 255. Where NNG reaches 8 ids
    /// without a request id, or nanomsg finds anything wrong, the message is dropped
    /// and the connection kept (`None`).
    pub fn closes_connection(self, malformed: &Malformed) -> Option<WireError> {
        if malformed.rule == HeaderRule::HopCount {
            return malformed.closes_connection();
        }
        if !self.nng {
            return None;
        }
        let payload = &malformed.payload;
        let ends_early = match self.socket {
            SocketType::Req | SocketType::Surveyor => payload.len() < ID_LEN,
            SocketType::Dealer => request_id_at(payload).is_none(),
            SocketType::Rep | SocketType::Router | SocketType::Respondent => {
                walk_backtrace(payload) == Backtrace::RunsOut
            }
            _ => false,
        };
        ends_early.then(|| WireError::NoRequestId { ours: self.socket, len: payload.len() })
    }
}

/// The 8 bytes a socket of type `socket` sends when a connection opens (PAIR v0).
pub fn handshake(socket: SocketType) -> [u8; HANDSHAKE_LEN] {
    SpProtocol::new(socket, false).handshake()
}

/// Validates the peer's handshake for a socket of type `ours` (PAIR v0) and returns
/// the peer's protocol id.
///
/// The peer is accepted when its id belongs to some socket type that
/// [`SocketType::pairs_with`] ours. Because DEALER and REQ share an id, this lets two
/// patchbay DEALERs (ZeroMQ's DEALER–DEALER) and two ROUTERs talk, which makes the
/// check slightly laxer than NNG's, where a REQ never accepts a REQ: a patchbay DEALER
/// also accepts a real NNG REQ, and a ROUTER a real NNG REP.
pub fn check_handshake(ours: SocketType, peer: &[u8; HANDSHAKE_LEN]) -> Result<u16, WireError> {
    SpProtocol::new(ours, false).check_handshake(peer)
}

/// A wire-level fault. Each one ends the connection it happened on (NNG closes the
/// connection for the first four, probe-checked); the socket keeps its other peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The handshake did not start with `00 'S' 'P' 00`.
    BadMagic { got: [u8; 4] },
    /// The handshake's last two bytes were not zero.
    ReservedNonZero { got: [u8; 2] },
    /// The peer speaks a protocol our socket (type `ours`, protocol `ours_id`) cannot
    /// pair with.
    ProtocolMismatch { ours: SocketType, ours_id: u16, peer_id: u16 },
    /// A length header above the receive limit, seen before anything was allocated
    /// (nanomsg, NNG and libzmq all drop the connection for it).
    TooLong { len: u64, max: u64 },
    /// A length header above [`LEN_MAX_HARD`], refused whatever the receive limit.
    BeyondCeiling { len: u64 },
    /// The stream ended part-way through a handshake, a length or a message.
    Truncated { needed: u64, got: u64 },
    /// A PAIR v1 message too short to hold its hop count (`hops` is `None`), or whose
    /// count is above `PAIR_V1_HOPS_MAX` (255): NNG's PAIR v1 closes the connection.
    BadHopCount { len: usize, hops: Option<u32> },
    /// A `len`-byte message that ends before the request (or survey) id a socket of
    /// type `ours` reads: NNG closes the connection (nanomsg drops the message).
    NoRequestId { ours: SocketType, len: usize },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadMagic { got } => {
                write!(f, "bad SP handshake magic {}, expected 00 53 50 00", hex(got))
            }
            WireError::ReservedNonZero { got } => {
                write!(f, "SP handshake reserved bytes are {}, expected 00 00", hex(got))
            }
            WireError::ProtocolMismatch { ours, ours_id, peer_id } => {
                write!(
                    f,
                    "protocol mismatch: we are {} (SP 0x{ours_id:02x}), the peer speaks {}",
                    describe_ours(*ours, *ours_id),
                    describe_protocol(*peer_id),
                )?;
                if [PAIR_V0, PAIR_V1].contains(ours_id) && [PAIR_V0, PAIR_V1].contains(peer_id) {
                    f.write_str(PAIR_VERSION_HINT)?;
                }
                Ok(())
            }
            WireError::TooLong { len, max } => {
                write!(
                    f,
                    "message too large: length {len} exceeds the receive limit of {max} bytes"
                )
            }
            WireError::BeyondCeiling { len } => write!(
                f,
                "message length {len} exceeds the hard ceiling of {LEN_MAX_HARD} bytes, \
                 refused whatever the receive limit"
            ),
            WireError::Truncated { needed, got } => {
                write!(f, "connection closed mid-message: got {got} of {needed} bytes")
            }
            WireError::BadHopCount { len, hops: None } => {
                write!(f, "{len}-byte PAIR v1 message is too short for its hop count")
            }
            WireError::BadHopCount { len, hops: Some(hops) } => write!(
                f,
                "{len}-byte PAIR v1 message has hop count {hops}, above {PAIR_V1_HOPS_MAX}"
            ),
            WireError::NoRequestId { ours, len } => match ours {
                SocketType::Req => write!(f, "{len}-byte reply is too short for a request id"),
                SocketType::Surveyor => {
                    write!(f, "{len}-byte response is too short for a survey id")
                }
                _ => {
                    let what = match ours {
                        SocketType::Respondent => "survey",
                        SocketType::Dealer => "reply",
                        _ => "request",
                    };
                    write!(f, "{len}-byte {what} ends before an id with the high bit set")
                }
            },
        }
    }
}

impl std::error::Error for WireError {}

/// Bytes as space-separated hex, the way the reference writes probes.
fn hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

/// What a PAIR version mismatch means, and its cure in a topology file: the end of
/// the error's text, which a tool with options of its own (`cat`) replaces with its
/// own cure.
pub const PAIR_VERSION_HINT: &str = "; hint: NNG's default PAIR (`library: nng`, pynng's Pair1) is \
     v1 and nanomsg's only PAIR is v0: set `pair_version: 0` on the NNG side (NNG's \
     nng_pair0_open, pynng's Pair0), or use PAIR v1 on both";

/// Our socket type, with its PAIR version where it has one.
fn describe_ours(ours: SocketType, id: u16) -> String {
    match id {
        PAIR_V0 if ours == SocketType::Pair => "PAIR v0".to_owned(),
        PAIR_V1 => "PAIR v1".to_owned(),
        _ => ours.name().to_owned(),
    }
}

/// A protocol id with the socket types that speak it, for error messages.
fn describe_protocol(id: u16) -> String {
    match id {
        PAIR_V0 => return format!("PAIR v0 (SP 0x{id:02x})"),
        PAIR_V1 => return format!("PAIR v1 (SP 0x{id:02x})"),
        _ => {}
    }
    let names: Vec<&str> =
        SocketType::ALL.into_iter().filter(|t| protocol_id(*t) == id).map(|t| t.name()).collect();
    if names.is_empty() {
        format!("SP 0x{id:02x} (unknown)")
    } else {
        format!("{} (SP 0x{id:02x})", names.join("/"))
    }
}

/// Streaming splitter of length-prefixed messages out of a byte stream.
///
/// It keeps the message in progress so a length is checked, and its prefix consumed,
/// exactly once however the bytes arrive. A message's length includes the padding a
/// modelled size adds (`modelled.rs`): the limit is checked against all of it, and
/// only the real bytes are ever stored; real padding is dropped as it arrives.
#[derive(Clone, Debug)]
pub struct Decoder {
    /// Largest payload accepted; `None` is unlimited (NNG 1.2 to 1.11's default), the
    /// hard ceiling aside.
    max_len: Option<u64>,
    /// Whether padding travels (real TCP) or is only accounted (the simulator).
    padding: Padding,
    /// The message whose prefix has been consumed, if any.
    pending: Option<Pending>,
    /// Real padding bytes of the last message still to drop.
    skip_left: u64,
    /// Padding bytes accounted so far, real or virtual, none of them stored.
    padding_total: u64,
    /// A message whose real bytes are in, held by [`Self::decode`] until its real
    /// padding has arrived too: a library hands over a message only once all of it
    /// has, and under a bandwidth limit that is later by the padding's time on the
    /// wire (the simulator delivers it then too). Boxed: rare, and only on real TCP.
    held: Option<Box<Bytes>>,
}

/// A message whose length prefix has been read.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Its length from the prefix, padding included.
    len: u64,
    /// How many of those bytes are real, once its first bytes have said.
    real: Option<usize>,
}

impl Decoder {
    /// A decoder for a stream whose padding is real bytes (real TCP).
    pub fn new(max_len: Option<u64>) -> Decoder {
        Decoder {
            max_len,
            padding: Padding::Real,
            pending: None,
            skip_left: 0,
            padding_total: 0,
            held: None,
        }
    }

    /// The same decoder for a stream whose padding travels as `padding` says.
    pub(crate) fn with_padding(self, padding: Padding) -> Decoder {
        Decoder { padding, ..self }
    }

    /// Padding bytes this decoder has accounted for without storing them.
    pub fn padding_total(&self) -> u64 {
        self.padding_total
    }

    /// Takes the next whole message payload out of `buf` (its real bytes), or `None`
    /// until more bytes arrive. After an error the stream is unusable and the
    /// connection must close.
    ///
    /// A message with real padding comes back once its padding is in as well (the
    /// payload held meanwhile, the zeros dropped as they arrive), as a library
    /// delivers it: whole.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
        if self.held.is_some() {
            return Ok(self.skip_padding(buf).then(|| self.held.take().map(|p| *p)).flatten());
        }
        match self.decode_keeping(buf, usize::MAX)? {
            Some((payload, _)) if self.skipping() => {
                self.held = Some(Box::new(payload));
                Ok(None)
            }
            got => Ok(got.map(|(payload, _)| payload)),
        }
    }

    /// [`Self::decode`] for a reader that keeps at most `keep` bytes of a message, its
    /// head (a bystander, `wire/tap.rs`): the payload's first `keep` real bytes, and
    /// how many real bytes after them were not kept. Those are dropped as they arrive,
    /// as padding is, so the payload comes back once its head is in, and the message
    /// is whole only once [`Self::skipping`] says nothing is left to drop. The limit
    /// and the ceiling judge the message's whole length, as for [`Self::decode`].
    pub fn decode_keeping(
        &mut self,
        buf: &mut BytesMut,
        keep: usize,
    ) -> Result<Option<(Bytes, u64)>, WireError> {
        if !self.skip_padding(buf) {
            return Ok(None);
        }
        let mut pending = match self.pending {
            Some(pending) => pending,
            None if buf.len() < LEN_PREFIX_LEN => return Ok(None),
            None => Pending { len: self.check_len(buf.get_u64())?, real: None },
        };
        let real = match pending.real.or_else(|| real_len(pending.len, buf).map(|r| r as usize)) {
            Some(real) => real,
            None => {
                self.pending = Some(pending);
                return Ok(None);
            }
        };
        pending.real = Some(real);
        self.pending = Some(pending);
        let kept = real.min(keep);
        if buf.len() < kept {
            return Ok(None);
        }
        self.pending = None;
        // A buffer that holds just this message becomes it whole: a read of one
        // message (the usual one) then hands its allocation on as it is, where a split
        // would first add a shared header to it, one more allocation.
        let payload = if kept == buf.len() {
            std::mem::take(buf).freeze()
        } else {
            buf.split_to(kept).freeze()
        };
        let cut = (real - kept) as u64;
        let padding = pending.len - real as u64;
        self.padding_total += padding;
        let skip = if self.padding == Padding::Real { cut + padding } else { cut };
        if skip > 0 {
            self.skip_left = skip;
            self.skip_padding(buf);
        }
        Ok(Some((payload, cut)))
    }

    /// Whether bytes of the last message (its padding, or what
    /// [`Self::decode_keeping`] did not keep) are still to arrive and be dropped.
    pub fn skipping(&self) -> bool {
        self.skip_left > 0
    }

    /// Drops real padding from the front of `buf`; whether none is left to drop.
    fn skip_padding(&mut self, buf: &mut BytesMut) -> bool {
        let n = self.skip_left.min(buf.len() as u64);
        buf.advance(n as usize);
        self.skip_left -= n;
        self.skip_left == 0
    }

    /// How many more bytes would complete the padding, length or message in progress:
    /// a hint for sizing the next read, never an allocation made on the peer's say-so
    /// alone.
    pub(crate) fn bytes_wanted(&self, buf: &BytesMut) -> usize {
        if self.skip_left > 0 {
            return usize::try_from(self.skip_left).unwrap_or(usize::MAX);
        }
        let unit = match self.pending {
            Some(Pending { real: Some(real), .. }) => real,
            Some(Pending { len, real: None }) => (HEAD_MAX as u64).min(len) as usize,
            None => LEN_PREFIX_LEN,
        };
        unit.saturating_sub(buf.len())
    }

    /// Called when the stream has ended: bytes of an unfinished length, message or
    /// padding left mean the peer closed mid-message.
    pub fn finish(&self, buf: &BytesMut) -> Result<(), WireError> {
        let got = buf.len() as u64;
        if self.skip_left > 0 {
            return Err(WireError::Truncated { needed: self.skip_left, got });
        }
        match self.pending {
            Some(Pending { len, real }) => {
                let needed = real.map_or(len, |real| real as u64);
                Err(WireError::Truncated { needed, got })
            }
            None if got > 0 => Err(WireError::Truncated { needed: LEN_PREFIX_LEN as u64, got }),
            None => Ok(()),
        }
    }

    /// Rejects a length above the limit or the hard ceiling before any byte of the
    /// payload is stored. Memory for one message is therefore bounded by the smaller
    /// of the two, however the peer's bytes arrive. The length counts a modelled
    /// message's padding too (`wire/modelled.rs`): the limit judges what the message
    /// stands for, as the real library would see it.
    fn check_len(&self, len: u64) -> Result<u64, WireError> {
        // The configured limit speaks first: it is what the user set, and what NNG's
        // own error would name.
        if let Some(max) = self.max_len.filter(|max| len > *max) {
            return Err(WireError::TooLong { len, max });
        }
        if len > LEN_MAX_HARD {
            return Err(WireError::BeyondCeiling { len });
        }
        Ok(len)
    }
}

/// Appends one message to `out`: the length, each header id as a big-endian u32, then
/// the body. The body is copied once, straight into the batch that goes to the wire.
/// The length counts the padding the message's payload header declares
/// (`modelled.rs`), which is returned: the caller sends that many zero bytes after
/// the message (real TCP) or leaves them to the transport's accounting (simulator).
#[must_use = "a modelled message's padding must be sent or accounted"]
pub fn encode(header: &[u32], body: &[u8], out: &mut BytesMut) -> u64 {
    let real = header.len() * ID_LEN + body.len();
    out.reserve(LEN_PREFIX_LEN + real);
    let len_at = out.len();
    out.put_u64(0);
    for id in header {
        out.put_u32(*id);
    }
    out.put_slice(body);
    let head_at = len_at + LEN_PREFIX_LEN;
    let padding = padding_of(&out[head_at..out.len().min(head_at + HEAD_MAX)]);
    let len = (real as u64).saturating_add(padding);
    out[len_at..head_at].copy_from_slice(&len.to_be_bytes());
    padding
}

/// How a receiving socket peels routing ids off the front of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderRule {
    /// No header: PUB, SUB, XPUB, XSUB, PUSH, PULL, PAIR, BUS.
    None,
    /// Exactly one id, the request or survey id a reply echoes: REQ and SURVEYOR, and
    /// DEALER because NNG's raw REQ moves the same four bytes into the header.
    RequestId,
    /// Every id up to and including the first with the high bit set (the request's
    /// backtrace): REP, ROUTER and RESPONDENT receiving requests.
    Backtrace,
    /// PAIR v1's hop count, one 32-bit word, taken off and checked: a message without
    /// one, or whose count is above [`PAIR_V1_TTL_MAX`], is not delivered.
    HopCount,
}

impl HeaderRule {
    /// The rule for messages arriving at a socket of type `receiver`.
    pub(crate) fn for_receiver(receiver: SocketType) -> HeaderRule {
        use SocketType::*;
        match receiver {
            Req | Dealer | Surveyor => HeaderRule::RequestId,
            Rep | Router | Respondent => HeaderRule::Backtrace,
            Pub | Sub | XPub | XSub | Push | Pull | Pair | Bus => HeaderRule::None,
        }
    }
}

/// One message whose payload does not carry the header its receiver's protocol
/// requires. The driver drops it, records it and keeps the connection, unless the
/// library closes the connection for it ([`SpProtocol::closes_connection`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub rule: HeaderRule,
    /// The whole payload as it arrived, for the trace.
    pub payload: Bytes,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.payload.len();
        match self.rule {
            HeaderRule::RequestId if len >= ID_LEN => {
                write!(f, "{len}-byte reply has no id with the high bit set")
            }
            HeaderRule::RequestId => write!(f, "{len}-byte reply is shorter than a request id"),
            HeaderRule::Backtrace if walk_backtrace(&self.payload) == Backtrace::TooLong => {
                write!(
                    f,
                    "{len}-byte request has no id with the high bit set among its first \
                     {BACKTRACE_IDS_MAX} (a request makes at most {BACKTRACE_IDS_MAX} hops)"
                )
            }
            HeaderRule::Backtrace => {
                write!(f, "{len}-byte request has no id with the high bit set")
            }
            HeaderRule::None => write!(f, "{len}-byte message is malformed"),
            HeaderRule::HopCount => write!(
                f,
                "{len}-byte PAIR v1 message has no hop count of at most {PAIR_V1_TTL_MAX}"
            ),
        }
    }
}

impl std::error::Error for Malformed {}

impl Malformed {
    /// The error that closes the connection for this message whatever the
    /// receiver's library: a PAIR v1 message without a hop count or with one above
    /// `PAIR_V1_HOPS_MAX` (255), as NNG's PAIR v1 does (the only library that speaks
    /// it; docs/sp-wire.md). [`SpProtocol::closes_connection`] adds the rest.
    pub fn closes_connection(&self) -> Option<WireError> {
        if self.rule != HeaderRule::HopCount {
            return None;
        }
        let len = self.payload.len();
        match hop_count(&self.payload) {
            None => Some(WireError::BadHopCount { len, hops: None }),
            Some(hops) if hops > PAIR_V1_HOPS_MAX => {
                Some(WireError::BadHopCount { len, hops: Some(hops) })
            }
            Some(_) => None,
        }
    }
}

/// Splits a received payload into header and body by `rule`. The body shares the
/// payload's memory.
pub fn split(rule: HeaderRule, payload: Bytes) -> Result<Msg, Malformed> {
    let ids = match rule {
        HeaderRule::None => 0,
        HeaderRule::RequestId if payload.len() >= ID_LEN => 1,
        HeaderRule::RequestId => return Err(Malformed { rule, payload }),
        HeaderRule::Backtrace => match walk_backtrace(&payload) {
            Backtrace::Ids(ids) => ids,
            Backtrace::RunsOut | Backtrace::TooLong => return Err(Malformed { rule, payload }),
        },
        HeaderRule::HopCount => return split_hop_count(payload),
    };
    let mut body = payload;
    // Room for one more id: a ROUTER or a device pushes the hop id in front of what
    // arrived, which would otherwise regrow (and copy) every request's header.
    let mut header = Vec::with_capacity(ids + 1);
    header.extend((0..ids).map(|_| body.get_u32()));
    Ok(Msg { header, body })
}

/// PAIR v1's hop count, the message's first 32-bit word, if it has one.
fn hop_count(payload: &[u8]) -> Option<u32> {
    payload.get(..ID_LEN).map(|h| u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
}

/// PAIR v1: the hop count comes off and is checked; the application sees the body
/// alone, as from NNG's cooked PAIR v1. NNG drops a message whose count is above its
/// TTL and keeps the connection (probed); it closes the connection for a missing
/// count or one above 255 (read in NNG's PAIR v1), and so does patchbay's driver,
/// told by [`Malformed::closes_connection`] (docs/sp-wire.md).
fn split_hop_count(payload: Bytes) -> Result<Msg, Malformed> {
    match hop_count(&payload) {
        Some(hops) if hops <= PAIR_V1_TTL_MAX => {
            Ok(Msg { header: Vec::new(), body: payload.slice(ID_LEN..) })
        }
        _ => Err(Malformed { rule: HeaderRule::HopCount, payload }),
    }
}

/// What a REP, RESPONDENT or raw REP finds reading a request's backtrace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backtrace {
    /// This many ids, the last the first with the high bit set.
    Ids(usize),
    /// The payload ends before such an id, within [`BACKTRACE_IDS_MAX`] ids.
    RunsOut,
    /// [`BACKTRACE_IDS_MAX`] ids without one: the request has made too many hops.
    TooLong,
}

/// Reads ids from the front of `payload` as NNG's REP does: at most
/// [`BACKTRACE_IDS_MAX`] of them, up to and including the first with the high bit set.
fn walk_backtrace(payload: &[u8]) -> Backtrace {
    let mut ids = payload.chunks_exact(ID_LEN).take(BACKTRACE_IDS_MAX);
    match ids.position(is_request_id) {
        Some(position) => Backtrace::Ids(position + 1),
        None if payload.len() >= BACKTRACE_IDS_MAX * ID_LEN => Backtrace::TooLong,
        None => Backtrace::RunsOut,
    }
}

/// How many ids lead `payload` up to and including the first with the high bit set,
/// however many there are (NNG's raw REQ reads them without a bound); `None` when the
/// payload runs out first.
fn request_id_at(payload: &[u8]) -> Option<usize> {
    let position = payload.chunks_exact(ID_LEN).position(is_request_id)?;
    Some(position + 1)
}

/// Whether a 4-byte routing id has the high bit set: a request (or survey) id, the
/// end of a backtrace.
fn is_request_id(id: &[u8]) -> bool {
    u32::from_be_bytes([id[0], id[1], id[2], id[3]]) & REQUEST_ID_BIT != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::payload::{Payload, PayloadKind};

    /// The probe bytes from docs/sp-wire.md.
    const REP_HANDSHAKE: [u8; 8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x31, 0x00, 0x00];
    const REQ_HANDSHAKE: [u8; 8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00];

    fn framed(payload: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        out.put_u64(payload.len() as u64);
        out.put_slice(payload);
        out
    }

    #[test]
    fn handshake_matches_probe_bytes() {
        assert_eq!(handshake(SocketType::Rep), REP_HANDSHAKE);
        assert_eq!(handshake(SocketType::Req), REQ_HANDSHAKE);
        assert_eq!(handshake(SocketType::Router), REP_HANDSHAKE);
        assert_eq!(handshake(SocketType::Dealer), REQ_HANDSHAKE);
    }

    #[test]
    fn handshake_accepts_pairing_protocols() {
        assert_eq!(check_handshake(SocketType::Rep, &REQ_HANDSHAKE), Ok(0x30));
        assert_eq!(check_handshake(SocketType::Req, &REP_HANDSHAKE), Ok(0x31));
        assert_eq!(check_handshake(SocketType::Router, &REQ_HANDSHAKE), Ok(0x30));
        // DEALER–DEALER and ROUTER–ROUTER are ZeroMQ pairs, laxer than NNG.
        assert_eq!(check_handshake(SocketType::Dealer, &REQ_HANDSHAKE), Ok(0x30));
        assert_eq!(check_handshake(SocketType::Router, &REP_HANDSHAKE), Ok(0x31));
        let sub = handshake(SocketType::Sub);
        assert_eq!(check_handshake(SocketType::XPub, &sub), Ok(0x21));
    }

    #[test]
    fn handshake_rejects_mismatch_naming_both() {
        let err = check_handshake(SocketType::Req, &REQ_HANDSHAKE).unwrap_err();
        let mismatch =
            WireError::ProtocolMismatch { ours: SocketType::Req, ours_id: 0x30, peer_id: 0x30 };
        assert_eq!(err, mismatch);
        let text = err.to_string();
        assert!(text.contains("REQ (SP 0x30)") && text.contains("we are REQ"), "{text}");
        let rep = check_handshake(SocketType::Rep, &REP_HANDSHAKE).unwrap_err();
        assert!(matches!(rep, WireError::ProtocolMismatch { peer_id: 0x31, .. }));
    }

    /// The PAIR v1 probe of NNG 1.11 (pynng's Pair1): handshake `00 53 50 00 00 11 00
    /// 00`, every message `00 00 00 01` then the body.
    const PAIR_V1_HANDSHAKE: [u8; 8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x11, 0x00, 0x00];
    const PAIR_V0_HANDSHAKE: [u8; 8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x10, 0x00, 0x00];

    #[test]
    fn pair_v1_handshake_and_hop_count_match_the_nng_probe() {
        let v1 = SpProtocol::new(SocketType::Pair, true);
        assert_eq!(v1.handshake(), PAIR_V1_HANDSHAKE);
        assert_eq!(SpProtocol::new(SocketType::Pair, false).handshake(), PAIR_V0_HANDSHAKE);
        assert_eq!(SpProtocol::new(SocketType::Req, true).handshake(), REQ_HANDSHAKE);
        assert_eq!(v1.check_handshake(&PAIR_V1_HANDSHAKE), Ok(0x11));
        let mut out = BytesMut::new();
        assert_eq!(encode(v1.outgoing_header(&[]), b"hello", &mut out), 0);
        assert_eq!(&out[8..], &[0, 0, 0, 1, b'h', b'e', b'l', b'l', b'o']);
        let msg = split(v1.header_rule(), Bytes::from_static(&[0, 0, 0, 1, b'a', b'b', b'c']));
        assert_eq!(msg, Ok(Msg { header: vec![], body: Bytes::from_static(b"abc") }));
        let eight = split(HeaderRule::HopCount, Bytes::from_static(&[0, 0, 0, 8, b'k']));
        assert_eq!(eight.map(|m| m.body), Ok(Bytes::from_static(b"k")));
    }

    #[test]
    fn pair_v1_drops_messages_past_the_ttl_or_without_a_hop_count() {
        for bad in [&[0, 0, 0, 9, b'x'][..], &[0, 0, 1, 0, b'x'][..], &[0, 0, 1][..]] {
            let payload = Bytes::copy_from_slice(bad);
            let err = split(HeaderRule::HopCount, payload.clone()).unwrap_err();
            assert_eq!(err, Malformed { rule: HeaderRule::HopCount, payload });
            assert!(err.to_string().contains("no hop count of at most 8"), "{err}");
        }
    }

    /// NNG keeps the connection for a count of 9 to 255 (the message is dropped) and
    /// closes it for a missing count or one of 256 or more; patchbay kept it for all
    /// three before (issue 12).
    #[test]
    fn pair_v1_closes_the_connection_on_a_missing_hop_count_or_one_above_255() {
        let verdict = |bytes: &[u8]| {
            let payload = Bytes::copy_from_slice(bytes);
            split(HeaderRule::HopCount, payload).unwrap_err().closes_connection()
        };
        assert_eq!(verdict(&[0, 0, 0, 9, b'x']), None);
        assert_eq!(verdict(&[0, 0, 0, 255]), None);
        assert_eq!(
            verdict(&[0, 0, 1, 0, b'x']),
            Some(WireError::BadHopCount { len: 5, hops: Some(256) })
        );
        let short = verdict(&[0, 0, 1]).expect("closes");
        assert_eq!(short, WireError::BadHopCount { len: 3, hops: None });
        assert_eq!(short.to_string(), "3-byte PAIR v1 message is too short for its hop count");
        // Other protocols' malformed messages keep the connection, as NNG's do.
        let reply = split(HeaderRule::RequestId, Bytes::from_static(b"ab")).unwrap_err();
        assert_eq!(reply.closes_connection(), None);
    }

    /// Regression (issue 12): NNG's default PAIR (v1) was refused as "SP 0x11
    /// (unknown)". A v0–v1 mismatch now names both versions and the cure.
    #[test]
    fn a_pair_version_mismatch_names_both_versions_and_the_hint() {
        let v0 = SpProtocol::new(SocketType::Pair, false);
        let err = v0.check_handshake(&PAIR_V1_HANDSHAKE).unwrap_err();
        assert_eq!(
            err,
            WireError::ProtocolMismatch { ours: SocketType::Pair, ours_id: 0x10, peer_id: 0x11 }
        );
        let text = err.to_string();
        assert!(
            text.contains("we are PAIR v0 (SP 0x10), the peer speaks PAIR v1 (SP 0x11)"),
            "{text}"
        );
        assert!(text.contains("set `pair_version: 0` on the NNG side"), "{text}");
        let v1 = SpProtocol::new(SocketType::Pair, true);
        let text = v1.check_handshake(&PAIR_V0_HANDSHAKE).unwrap_err().to_string();
        assert!(text.contains("we are PAIR v1 (SP 0x11), the peer speaks PAIR v0"), "{text}");
        let other = v1.check_handshake(&REQ_HANDSHAKE).unwrap_err().to_string();
        assert!(!other.contains("hint"), "{other}");
    }

    #[test]
    fn handshake_rejects_bad_magic_and_reserved() {
        let bad_magic = *b"GET / HT";
        assert_eq!(
            check_handshake(SocketType::Rep, &bad_magic),
            Err(WireError::BadMagic { got: *b"GET " })
        );
        let mut reserved = REQ_HANDSHAKE;
        reserved[7] = 1;
        assert_eq!(
            check_handshake(SocketType::Rep, &reserved),
            Err(WireError::ReservedNonZero { got: [0, 1] })
        );
    }

    #[test]
    fn request_id_probe_splits_for_rep_and_req() {
        let payload = Bytes::from_static(&[0x80, 0x00, 0x00, 0x01, b'h', b'i']);
        let at_rep = split(HeaderRule::for_receiver(SocketType::Rep), payload.clone()).unwrap();
        assert_eq!(at_rep, Msg { header: vec![0x8000_0001], body: Bytes::from_static(b"hi") });
        let at_req = split(HeaderRule::for_receiver(SocketType::Req), payload).unwrap();
        assert_eq!(at_req.header, vec![0x8000_0001]);
    }

    #[test]
    fn hop_and_request_probe_splits_as_backtrace() {
        let payload = Bytes::from_static(&[0, 0, 0, 7, 0x80, 0, 0, 2, b'x']);
        let msg = split(HeaderRule::Backtrace, payload).unwrap();
        assert_eq!(msg.header, vec![7, 0x8000_0002]);
        assert_eq!(msg.body, Bytes::from_static(b"x"));
        let mut out = BytesMut::new();
        assert_eq!(encode(&msg.header, &msg.body, &mut out), 0);
        assert_eq!(&out[..], &[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 7, 0x80, 0, 0, 2, b'x']);
    }

    #[test]
    fn malformed_headers_are_per_message() {
        let no_request_id = Bytes::from_static(&[0, 0, 0, 7, 0, 0, 0, 8, 1]);
        let err = split(HeaderRule::Backtrace, no_request_id.clone()).unwrap_err();
        assert_eq!(err, Malformed { rule: HeaderRule::Backtrace, payload: no_request_id });
        let short = Bytes::from_static(&[0x80, 0]);
        assert!(split(HeaderRule::RequestId, short).is_err());
        let plain = split(HeaderRule::None, Bytes::from_static(b"ab")).unwrap();
        assert!(plain.header.is_empty());
    }

    /// A protocol's receiver as `library: nng` (`nng`) or `library: nanomsg` reads it.
    fn receiver(socket: SocketType, nng: bool) -> SpProtocol {
        SpProtocol::for_socket(socket, &SocketOptions { nng_queues: nng, ..Default::default() })
    }

    /// What a receiver does with `payload`: `Ok` with the header it took, or `Err`
    /// with `Some(reason)` when the connection closes and `None` when the message is
    /// dropped and the connection kept.
    fn verdict(socket: SocketType, nng: bool, payload: &[u8]) -> Result<Vec<u32>, Option<String>> {
        let protocol = receiver(socket, nng);
        match protocol.split(Bytes::copy_from_slice(payload)) {
            Ok(msg) => Ok(msg.header),
            Err(bad) => Err(protocol.closes_connection(&bad).map(|e| e.to_string())),
        }
    }

    /// A backtrace of `ids` ids, the last the request id, as bytes.
    fn backtrace(ids: u32) -> Vec<u8> {
        let id = |k| if k == ids { k | REQUEST_ID_BIT } else { k };
        (1..=ids).map(id).flat_map(u32::to_be_bytes).collect()
    }

    /// NNG 1.11 closes the connection ("kicks the pipe") when a message ends before
    /// the header its receiver reads: a REQ's reply or a SURVEYOR's response under 4
    /// bytes; a request or survey whose ids run out before one with the high bit set
    /// (REP, RESPONDENT, raw REP: within 8 ids; raw REQ: at all). nanomsg 1.2 drops
    /// every such message and keeps the connection; so does NNG a request with 8 ids
    /// and no request id among them (too many hops). Read in both libraries' sources
    /// (docs/sp-wire.md); patchbay dropped them all and kept every connection.
    #[test]
    fn a_message_that_ends_before_its_request_id_closes_the_connection_on_nng_only() {
        use SocketType::*;
        let closes = |text: &str| Err(Some(text.to_owned()));
        let no_id: Vec<u8> = (1..=2u32).flat_map(u32::to_be_bytes).collect();
        let eight_hops: Vec<u8> = (1..=8u32).flat_map(u32::to_be_bytes).collect();
        let nine_hops = backtrace(9);
        for (socket, payload, nng) in [
            (Rep, &b""[..], closes("0-byte request ends before an id with the high bit set")),
            (Rep, b"abc", closes("3-byte request ends before an id with the high bit set")),
            (Rep, &no_id, closes("8-byte request ends before an id with the high bit set")),
            (Router, b"abc", closes("3-byte request ends before an id with the high bit set")),
            (Respondent, b"abc", closes("3-byte survey ends before an id with the high bit set")),
            (Rep, &eight_hops, Err(None)),
            (Rep, &nine_hops, Err(None)),
            (Req, b"ab", closes("2-byte reply is too short for a request id")),
            (Surveyor, b"", closes("0-byte response is too short for a survey id")),
            (Dealer, b"ab", closes("2-byte reply ends before an id with the high bit set")),
            (Dealer, &no_id, closes("8-byte reply ends before an id with the high bit set")),
        ] {
            assert_eq!(verdict(socket, true, payload), nng, "nng {socket} {payload:?}");
            let nanomsg =
                if socket == Dealer && payload.len() >= 4 { Ok(vec![1]) } else { Err(None) };
            assert_eq!(verdict(socket, false, payload), nanomsg, "nanomsg {socket} {payload:?}");
        }
        // What both take: a request id among the first 8 ids, a reply of 4 bytes or
        // more (a REQ drops one whose id it did not send, keeping the connection), a
        // raw REQ's reply whose request id follows hop ids (the split takes the first).
        let seven_then_id = backtrace(8);
        for nng in [true, false] {
            assert_eq!(verdict(Rep, nng, &seven_then_id).map(|h| h.len()), Ok(8));
            assert_eq!(verdict(Req, nng, &no_id), Ok(vec![1]));
            assert_eq!(verdict(Dealer, nng, &[0, 0, 0, 7, 0x80, 0, 0, 1, b'x']), Ok(vec![7]));
            assert_eq!(verdict(Pull, nng, b""), Ok(vec![]));
        }
        // The drops say why.
        let dropped = |payload: &[u8]| {
            split(HeaderRule::Backtrace, Bytes::copy_from_slice(payload)).unwrap_err().to_string()
        };
        assert_eq!(dropped(&no_id), "8-byte request has no id with the high bit set");
        assert_eq!(
            dropped(&nine_hops),
            "36-byte request has no id with the high bit set among its first 8 (a request \
             makes at most 8 hops)"
        );
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let mut wire = BytesMut::new();
        assert_eq!(encode(&[0x8000_0001], b"hello", &mut wire), 0);
        assert_eq!(encode(&[], b"", &mut wire), 0);
        assert_eq!(&wire[..12], &[0, 0, 0, 0, 0, 0, 0, 9, 0x80, 0, 0, 1]);
        let mut decoder = Decoder::new(None);
        assert_eq!(decoder.decode(&mut wire).unwrap().unwrap()[4..], b"hello"[..]);
        assert_eq!(decoder.decode(&mut wire).unwrap().unwrap().len(), 0);
        assert_eq!(decoder.decode(&mut wire), Ok(None));
        assert!(decoder.finish(&wire).is_ok());
    }

    #[test]
    fn decoder_fed_byte_by_byte() {
        let mut stream = framed(b"first");
        stream.extend_from_slice(&framed(b"")[..]);
        stream.extend_from_slice(&framed(b"third one")[..]);
        let mut decoder = Decoder::new(Some(64));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in stream.iter() {
            buf.put_u8(*byte);
            assert!(decoder.bytes_wanted(&buf) <= 9);
            while let Some(payload) = decoder.decode(&mut buf).unwrap() {
                got.push(payload);
            }
        }
        assert_eq!(got, vec![&b"first"[..], &b""[..], &b"third one"[..]]);
        assert!(decoder.finish(&buf).is_ok());
    }

    #[test]
    fn decoder_checks_length_before_payload_arrives() {
        let mut buf = BytesMut::new();
        buf.put_u64(1025);
        let mut decoder = Decoder::new(Some(1024));
        assert_eq!(decoder.decode(&mut buf), Err(WireError::TooLong { len: 1025, max: 1024 }));
        let mut garbage = BytesMut::from(&[0xff; 8][..]);
        let err = Decoder::new(None).decode(&mut garbage).unwrap_err();
        assert_eq!(err, WireError::BeyondCeiling { len: u64::MAX });
    }

    /// Regression (issue 17): with the receive limit unlimited, a 2^62 prefix was
    /// accepted and everything after it buffered. The ceiling holds whatever the limit.
    #[test]
    fn a_length_above_the_hard_ceiling_is_refused_whatever_the_limit() {
        for limit in [None, Some(u64::MAX), Some(1 << 62)] {
            let mut buf = BytesMut::new();
            buf.put_u64(1 << 62);
            buf.put_slice(b"whatever follows");
            let err = Decoder::new(limit).decode(&mut buf).unwrap_err();
            assert_eq!(err, WireError::BeyondCeiling { len: 1 << 62 }, "limit {limit:?}");
            assert!(err.to_string().contains("hard ceiling of 4294967296 bytes"), "{err}");
        }
        let mut at_ceiling = BytesMut::new();
        at_ceiling.put_u64(LEN_MAX_HARD);
        let mut decoder = Decoder::new(None);
        assert_eq!(decoder.decode(&mut at_ceiling), Ok(None), "the ceiling itself is allowed");
        // It asks for the head that decides a modelled message's split, never for the
        // whole length at once.
        assert_eq!(decoder.bytes_wanted(&at_ceiling), crate::wire::modelled::HEAD_MAX);
    }

    #[test]
    fn decoder_reports_truncation_at_eof() {
        let mut decoder = Decoder::new(None);
        let mut buf = BytesMut::from(&framed(b"abcdef")[..10]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(decoder.finish(&buf), Err(WireError::Truncated { needed: 6, got: 2 }));
        let partial_len = BytesMut::from(&[0u8, 0, 0][..]);
        let fresh = Decoder::new(None);
        assert_eq!(fresh.finish(&partial_len), Err(WireError::Truncated { needed: 8, got: 3 }));
    }

    /// A job that models 100 MiB: its length prefix says so, the encoder's buffer
    /// holds only its real bytes, and a 1 MiB limit refuses it from the prefix alone.
    #[test]
    fn a_modelled_message_meets_the_receive_limit_by_its_full_length_unallocated() {
        let body = Payload::new(PayloadKind::Job, 1, 100 << 20).encode();
        let mut wire = BytesMut::new();
        assert_eq!(encode(&[], &body, &mut wire), 100 << 20);
        assert_eq!(wire[..8], (20 + (100u64 << 20)).to_be_bytes());
        assert!(wire.capacity() < 1024, "encoder allocated {} bytes", wire.capacity());

        let mut over = wire.clone();
        let mut limited = Decoder::new(Some(1 << 20)).with_padding(Padding::Virtual);
        let too_long = WireError::TooLong { len: 20 + (100 << 20), max: 1 << 20 };
        assert_eq!(limited.decode(&mut over), Err(too_long.clone()));
        assert!(too_long.to_string().starts_with("message too large"), "{too_long}");

        let mut raised = Decoder::new(Some(200 << 20)).with_padding(Padding::Virtual);
        let mut buf = wire.clone();
        assert_eq!(raised.decode(&mut buf), Ok(Some(body)));
        assert_eq!(raised.padding_total(), 100 << 20);
        assert!(buf.is_empty() && buf.capacity() < 1024, "decoder stored {}", buf.capacity());
        assert!(raised.finish(&buf).is_ok());
    }

    /// Over real TCP the padding arrives as bytes: the reader drops it as it comes,
    /// so its buffer never holds more than one read, hands the message over once its
    /// padding is in, and finds the next.
    #[test]
    fn real_padding_is_dropped_as_it_arrives_and_the_message_handed_over_whole() {
        let modelled = 10u64 << 20;
        let body = Payload::new(PayloadKind::Job, 1, modelled).encode();
        let mut head = BytesMut::new();
        let padding = encode(&[0x8000_0001], &body, &mut head);
        let mut tail = BytesMut::new();
        assert_eq!(encode(&[0x8000_0002], b"next", &mut tail), 0);
        let read = 64 * 1024;
        let mut decoder = Decoder::new(Some(modelled + 1024));
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&head);
        let mut left = padding;
        while left > 0 {
            // Its real bytes are all there, but a message is handed over whole.
            assert_eq!(decoder.decode(&mut buf), Ok(None));
            assert_eq!(decoder.bytes_wanted(&buf) as u64, left);
            let n = left.min(read);
            buf.extend_from_slice(&vec![0; n as usize]);
            left -= n;
            assert!(buf.capacity() <= 2 * read as usize, "buffer grew to {}", buf.capacity());
        }
        let first = decoder.decode(&mut buf).unwrap().expect("whole once its padding is in");
        assert_eq!(first[4..], body[..]);
        assert!(buf.is_empty() && decoder.finish(&buf).is_ok(), "all the padding is dropped");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&tail);
        assert_eq!(decoder.decode(&mut buf).unwrap().unwrap()[4..], b"next"[..]);
        assert_eq!(decoder.padding_total(), modelled);
        assert!(decoder.finish(&buf).is_ok());
    }

    /// A stream cut off in the middle of a message's padding is truncated.
    #[test]
    fn a_stream_ending_inside_real_padding_is_truncated() {
        let mut wire = BytesMut::new();
        let padding = encode(&[], &Payload::new(PayloadKind::Job, 1, 100).encode(), &mut wire);
        wire.extend_from_slice(&[0; 40]);
        let mut decoder = Decoder::new(None);
        assert_eq!(decoder.decode(&mut wire), Ok(None), "held until its padding is in");
        assert_eq!(
            decoder.finish(&wire),
            Err(WireError::Truncated { needed: padding - 40, got: 0 })
        );
    }

    /// Encodes `messages` as one stream, padding written out or left virtual.
    fn padded_stream(messages: &[(Vec<u32>, Bytes)], padding: Padding) -> (BytesMut, u64) {
        let mut wire = BytesMut::new();
        let mut total = 0;
        for (ids, body) in messages {
            let pad = encode(ids, body, &mut wire);
            total += pad;
            if padding == Padding::Real {
                wire.extend_from_slice(&vec![0; pad as usize]);
            }
        }
        (wire, total)
    }

    /// A routed message: `ids` routing ids (the last a request id), then a modelled
    /// payload with `extra` bytes after its header, or `extra` plain bytes.
    fn message(i: usize, ids: usize, modelled: Option<u64>, extra: usize) -> (Vec<u32>, Bytes) {
        let ids = (0..ids).map(|k| k as u32 | if k + 1 == ids { REQUEST_ID_BIT } else { 0 });
        let body = match modelled {
            Some(m) => {
                Payload::new(PayloadKind::Job, i as u64, m).with_extra(vec![b'e'; extra]).encode()
            }
            None => Bytes::from(vec![b'p'; extra]),
        };
        (ids.collect(), body)
    }

    proptest::proptest! {
        /// Modelled and plain messages, routed or not, cut anywhere, come out as their
        /// real bytes with every padding byte accounted, on either kind of stream.
        #[test]
        fn modelled_messages_round_trip_however_the_stream_is_cut(
            specs in proptest::collection::vec(
                (0usize..3, proptest::option::of(0u64..5000), 0usize..40), 1..8),
            chunk in 1usize..700,
            real in proptest::bool::ANY,
        ) {
            let messages: Vec<(Vec<u32>, Bytes)> = specs
                .iter()
                .enumerate()
                .map(|(i, (ids, modelled, extra))| message(i, *ids, *modelled, *extra))
                .collect();
            let padding = if real { Padding::Real } else { Padding::Virtual };
            let (wire, total) = padded_stream(&messages, padding);
            let mut decoder = Decoder::new(None).with_padding(padding);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(payload) = decoder.decode(&mut buf).unwrap() {
                    got.push(payload);
                }
            }
            proptest::prop_assert!(decoder.finish(&buf).is_ok());
            proptest::prop_assert_eq!(decoder.padding_total(), total);
            let want: Vec<Bytes> = messages
                .iter()
                .map(|(ids, body)| {
                    let mut one = BytesMut::new();
                    ids.iter().for_each(|id| one.put_u32(*id));
                    one.put_slice(body);
                    one.freeze()
                })
                .collect();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            max_len in proptest::option::of(0u64..64),
            chunk in 1usize..32,
        ) {
            let mut decoder = Decoder::new(max_len);
            let mut buf = BytesMut::new();
            'feed: for piece in bytes.chunks(chunk) {
                buf.extend_from_slice(piece);
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Some(payload)) => {
                            for rule in [HeaderRule::None, HeaderRule::RequestId, HeaderRule::Backtrace, HeaderRule::HopCount] {
                                let _ = split(rule, payload.clone());
                            }
                        }
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
            }
            let _ = decoder.finish(&buf);
        }
    }
}
