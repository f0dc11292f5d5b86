//! A compact byte form of trace events, for traces too long to keep as structs.
//!
//! A `TraceEvent` in memory is about 80 bytes whatever it says; most say little (a
//! pipe, a depth, a message id), so this form writes each field as a LEB128 varint,
//! times as the signed difference from the previous event's, and optional fields
//! behind presence bits: a typical socket event takes about 20 bytes. The encoder and
//! decoder carry the previous time, so a stream must be read from its start in order,
//! as checkers read a trace. Decoding gives back exactly the events encoded (a unit
//! test round-trips every kind), so a trace's hash does not depend on whether it was
//! kept compact.

use std::time::Duration;

use crate::plan::{GroupId, Replica};
use crate::socket::DropReason;

use super::{AppEvent, EventKind, FieldValue, MsgInfo, TraceEvent, UserEvent};

/// Why bytes did not decode: the stream was cut short or was not written by
/// [`Encoder`] (both are bugs in patchbay, or a damaged spill file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "compact trace: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Writes events, in order, to a byte buffer.
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    last_at_ns: u64,
}

/// Reads events, in order, from bytes an [`Encoder`] wrote from its start.
#[derive(Debug, Default)]
pub struct Decoder {
    last_at_ns: u64,
}

/// Bit 6 of the tag byte: the event has a node. Bit 7: it has a socket.
const HAS_NODE: u8 = 1 << 6;
const HAS_SOCKET: u8 = 1 << 7;
/// The tags of application events start here; socket and run events use 0..APP.
const APP: u8 = 32;

impl Encoder {
    /// Appends `e`'s compact form to `out`.
    pub fn encode(&mut self, e: &TraceEvent, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        let flags = if e.node.is_some() { HAS_NODE } else { 0 }
            | if e.socket.is_some() { HAS_SOCKET } else { 0 };
        w.byte(tag(&e.kind) | flags);
        let at_ns = e.at.as_nanos() as u64;
        w.signed(at_ns.wrapping_sub(self.last_at_ns) as i64);
        self.last_at_ns = at_ns;
        if let Some(n) = e.node {
            w.replica(n);
        }
        if let Some(s) = e.socket {
            w.put(u64::from(s));
        }
        match &e.kind {
            EventKind::App(a) => put_app(&mut w, a),
            kind => put_kind(&mut w, kind),
        }
        w.finish();
    }
}

/// Bytes a [`Writer`] gathers before it appends them: more than a socket event's
/// fixed fields take at most (65), so a typical event is one copy into the output.
const WRITER_BUF_LEN: usize = 96;
/// The longest LEB128 varint of a `u64`.
const VARINT_LEN_MAX: usize = 10;

/// Puts an event together on the stack and appends it to the output in one copy.
/// Pushing byte by byte onto the `Vec` checked its capacity at every byte, which was
/// most of the cost of recording a trace. A string is gathered with the rest when it
/// fits in what is left of the buffer; a longer one is appended directly after what
/// was gathered before it.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    buf: [u8; WRITER_BUF_LEN],
    /// Bytes of `buf` in use.
    len: usize,
}

impl<'a> Writer<'a> {
    fn new(out: &'a mut Vec<u8>) -> Writer<'a> {
        Writer { out, buf: [0; WRITER_BUF_LEN], len: 0 }
    }

    /// Appends what was gathered; `self` is spent, so nothing can be left behind.
    #[inline]
    fn finish(self) {
        self.out.extend_from_slice(&self.buf[..self.len]);
    }

    /// Out of line and cold, so the fast paths that call it stay small enough to inline.
    #[cold]
    #[inline(never)]
    fn flush(&mut self) {
        self.out.extend_from_slice(&self.buf[..self.len]);
        self.len = 0;
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        if self.len == WRITER_BUF_LEN {
            self.flush();
        }
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `v` as a LEB128 varint. Most fields are below 128 and take the first branch.
    #[inline(always)]
    fn put(&mut self, mut v: u64) {
        if self.len + VARINT_LEN_MAX > WRITER_BUF_LEN {
            self.flush();
        }
        if v < 0x80 {
            self.buf[self.len] = v as u8;
            self.len += 1;
            return;
        }
        let mut written = 0;
        for slot in &mut self.buf[self.len..self.len + VARINT_LEN_MAX] {
            written += 1;
            if v < 0x80 {
                *slot = v as u8;
                break;
            }
            *slot = (v as u8) | 0x80;
            v >>= 7;
        }
        self.len += written;
    }

    /// `v` zigzagged, so small negative numbers stay short.
    #[inline(always)]
    fn signed(&mut self, v: i64) {
        self.put(((v << 1) ^ (v >> 63)) as u64);
    }

    #[inline(always)]
    fn u32s(&mut self, vs: &[u32]) {
        vs.iter().for_each(|v| self.put(u64::from(*v)));
    }

    /// `None` as 0, `Some(v)` as `v + 1`.
    #[inline]
    fn option(&mut self, v: Option<u64>) {
        self.put(v.map_or(0, |v| v + 1));
    }

    /// The length, then the bytes: gathered with the rest when they fit (a topic, a
    /// reason), appended directly after what was gathered when they do not.
    #[inline(always)]
    fn str(&mut self, s: &str) {
        self.put(s.len() as u64);
        let bytes = s.as_bytes();
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.long_str(bytes),
        }
    }

    /// A string longer than the buffer has room for.
    #[cold]
    #[inline(never)]
    fn long_str(&mut self, bytes: &[u8]) {
        self.flush();
        self.out.extend_from_slice(bytes);
    }

    #[inline(always)]
    fn replica(&mut self, r: Replica) {
        self.put(u64::from(r.group.0));
        self.put(u64::from(r.index));
    }

    /// Presence bits for the id and the request id, the ones present, then the length.
    #[inline(always)]
    fn msg(&mut self, m: &MsgInfo) {
        self.byte(u8::from(m.id.is_some()) | u8::from(m.request_id.is_some()) << 1);
        if let Some(id) = m.id {
            self.put(id);
        }
        if let Some(r) = m.request_id {
            self.put(u64::from(r));
        }
        self.put(m.len);
    }
}

/// An event's tag: its kind, or `APP` plus its application event's kind.
fn tag(kind: &EventKind) -> u8 {
    use AppEvent as A;
    use EventKind as K;
    match kind {
        K::Send { .. } => 0,
        K::Enqueue { .. } => 1,
        K::Deliver { .. } => 2,
        K::Receive { .. } => 3,
        K::Drop { .. } => 4,
        K::Resend { .. } => 5,
        K::Cancel { .. } => 6,
        K::Subscription { .. } => 7,
        K::SurveyExpired { .. } => 8,
        K::Connect { .. } => 9,
        K::Disconnect { .. } => 10,
        K::ProtocolError { .. } => 11,
        K::InternalError { .. } => 12,
        K::FaultBegin { .. } => 13,
        K::FaultEnd { .. } => 14,
        K::Healed => 15,
        K::ConnectFailed { .. } => 16,
        K::AcceptFailed { .. } => 17,
        K::App(a) => {
            APP + match a {
                A::RequestIssued { .. } => 0,
                A::ReplyAccepted { .. } => 1,
                A::RequestAbandoned { .. } => 2,
                A::WorkDone { .. } => 3,
                A::Published { .. } => 4,
                A::PartsReceived { .. } => 5,
                A::Joined => 6,
                A::Left => 7,
                A::TaskIssued { .. } => 8,
                A::KillSent { .. } => 9,
                A::SurveyStarted { .. } => 10,
                A::ChunkSent { .. } => 11,
                A::ChunkAggregated { .. } => 12,
                A::JobFinished { .. } => 13,
                A::CometLogin { .. } => 14,
                A::CometLogout { .. } => 15,
                A::CometRouted { .. } => 16,
                A::Note { .. } => 17,
                A::User(_) => 18,
            }
        }
    }
}

/// A socket or run event's fields, in the order `Reader::kind` reads them.
#[inline(always)]
fn put_kind(o: &mut Writer<'_>, kind: &EventKind) {
    use EventKind as K;
    match kind {
        K::Send { msg } | K::Receive { msg } => o.msg(msg),
        K::Enqueue { pipe, depth, hwm, msg } | K::Deliver { pipe, depth, hwm, msg } => {
            o.u32s(&[*pipe, *depth, *hwm]);
            o.msg(msg);
        }
        K::Drop { pipe, reason, msg } => {
            o.option(pipe.map(u64::from));
            o.byte(drop_reason_byte(*reason));
            o.msg(msg);
        }
        K::Resend { pipe, request_id, timer, msg } => {
            o.u32s(&[*pipe, *request_id, u32::from(*timer)]);
            o.msg(msg);
        }
        K::Cancel { request_id: n } | K::SurveyExpired { survey_id: n } => o.put(u64::from(*n)),
        K::Subscription { pipe, prefix, on } => {
            o.option(pipe.map(u64::from));
            o.str(prefix);
            o.byte(u8::from(*on));
        }
        K::Connect { pipe, peer } => {
            o.put(u64::from(*pipe));
            o.byte(u8::from(peer.is_some()));
            if let Some(p) = peer {
                o.replica(*p);
            }
        }
        K::Disconnect { pipe, reason } => {
            o.put(u64::from(*pipe));
            o.str(reason);
        }
        K::ProtocolError { reason } | K::InternalError { reason } => o.str(reason),
        K::ConnectFailed { reason, out_of_descriptors }
        | K::AcceptFailed { reason, out_of_descriptors } => {
            o.str(reason);
            o.byte(u8::from(*out_of_descriptors));
        }
        K::FaultBegin { fault, touched } | K::FaultEnd { fault, touched } => {
            o.u32s(&[*fault, *touched]);
        }
        K::Healed | K::App(_) => {}
    }
}

/// An application event's fields, in the order `Reader::app` reads them.
fn put_app(o: &mut Writer<'_>, a: &AppEvent) {
    use AppEvent as A;
    let mut all = |vs: &[u64]| vs.iter().for_each(|v| o.put(*v));
    match a {
        A::RequestIssued { id }
        | A::ReplyAccepted { id }
        | A::RequestAbandoned { id }
        | A::WorkDone { id }
        | A::TaskIssued { id }
        | A::KillSent { id }
        | A::SurveyStarted { id }
        | A::JobFinished { job: id } => all(&[*id]),
        A::PartsReceived { id, parts, expected } => {
            all(&[*id, u64::from(*parts), u64::from(*expected)]);
        }
        A::ChunkSent { id, job, seq, len } => all(&[*id, *job, *seq, *len]),
        A::ChunkAggregated { id, job, conn, seq, len } => {
            all(&[*id, *job, u64::from(*conn), *seq, *len]);
        }
        A::CometLogin { user } | A::CometLogout { user } => all(&[u64::from(*user)]),
        A::CometRouted { id, from, delivered, dropped } => {
            all(&[*id, u64::from(*from), u64::from(*delivered), u64::from(*dropped)]);
        }
        A::Joined | A::Left => {}
        A::Published { id, topic } => {
            o.put(*id);
            o.str(topic);
        }
        A::Note { text } => o.str(text),
        A::User(e) => put_user(o, e),
    }
}

/// A user event: its name, its field count, then each key, a kind byte and the value.
fn put_user(o: &mut Writer<'_>, e: &UserEvent) {
    o.str(&e.name);
    o.put(e.fields.len() as u64);
    for (key, value) in &e.fields {
        o.str(key);
        match value {
            FieldValue::Int(n) => {
                o.byte(0);
                o.signed(*n);
            }
            FieldValue::Uint(n) => {
                o.byte(1);
                o.put(*n);
            }
            FieldValue::Text(s) => {
                o.byte(2);
                o.str(s);
            }
            FieldValue::Duration(d) => {
                o.byte(3);
                o.put(d.as_secs());
                o.put(u64::from(d.subsec_nanos()));
            }
            FieldValue::Msg(id) => {
                o.byte(4);
                o.put(*id);
            }
        }
    }
}

impl Decoder {
    /// The next event at the front of `input`, which is advanced past it.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<TraceEvent, DecodeError> {
        let mut r = Reader(input);
        let first = r.byte()?;
        let tag = first & !(HAS_NODE | HAS_SOCKET);
        let delta = r.signed()?;
        let at_ns = self.last_at_ns.wrapping_add(delta as u64);
        self.last_at_ns = at_ns;
        let node = if first & HAS_NODE != 0 { Some(r.replica()?) } else { None };
        let socket = if first & HAS_SOCKET != 0 { Some(r.u16()?) } else { None };
        let kind = if tag >= APP { EventKind::App(r.app(tag - APP)?) } else { r.kind(tag)? };
        Ok(TraceEvent { at: Duration::from_nanos(at_ns), node, socket, kind })
    }
}

/// A cursor over the bytes being decoded.
struct Reader<'a, 'b>(&'a mut &'b [u8]);

impl Reader<'_, '_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.0.split_first().ok_or(DecodeError("cut short"))?;
        *self.0 = rest;
        Ok(b)
    }

    /// A LEB128 varint. Most fields of most events are below 128, one byte, which
    /// is read without the loop: every checker decodes the whole trace again, so this
    /// is the hottest path of a run's report.
    #[inline]
    fn u64(&mut self) -> Result<u64, DecodeError> {
        if let Some((&b, rest)) = self.0.split_first()
            && b < 0x80
        {
            *self.0 = rest;
            return Ok(u64::from(b));
        }
        self.u64_long()
    }

    /// A varint of more than one byte (or none): at most ten bytes, the tenth
    /// contributing its lowest bit.
    fn u64_long(&mut self) -> Result<u64, DecodeError> {
        const MAX_BYTES: usize = 10;
        let bytes: &[u8] = self.0;
        let mut value = 0u64;
        for (i, &b) in bytes.iter().take(MAX_BYTES).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                *self.0 = &bytes[i + 1..];
                return Ok(value);
            }
        }
        Err(DecodeError(if bytes.len() < MAX_BYTES {
            "cut short"
        } else {
            "varint longer than 64 bits"
        }))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.u64()?).map_err(|_| DecodeError("field wider than 32 bits"))
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        u16::try_from(self.u64()?).map_err(|_| DecodeError("field wider than 16 bits"))
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("flag neither 0 nor 1")),
        }
    }

    fn signed(&mut self) -> Result<i64, DecodeError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn option_u32(&mut self) -> Result<Option<u32>, DecodeError> {
        match self.u64()? {
            0 => Ok(None),
            n => u32::try_from(n - 1).map(Some).map_err(|_| DecodeError("option too wide")),
        }
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = usize::try_from(self.u64()?).map_err(|_| DecodeError("string too long"))?;
        if len > self.0.len() {
            return Err(DecodeError("string cut short"));
        }
        let (bytes, rest) = self.0.split_at(len);
        *self.0 = rest;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError("string not UTF-8"))
    }

    fn replica(&mut self) -> Result<Replica, DecodeError> {
        Ok(Replica { group: GroupId(self.u32()?), index: self.u32()? })
    }

    fn msg(&mut self) -> Result<MsgInfo, DecodeError> {
        let flags = self.byte()?;
        let id = if flags & 1 != 0 { Some(self.u64()?) } else { None };
        let request_id = if flags & 2 != 0 { Some(self.u32()?) } else { None };
        Ok(MsgInfo { id, request_id, len: self.u64()? })
    }

    fn kind(&mut self, tag: u8) -> Result<EventKind, DecodeError> {
        use EventKind as K;
        Ok(match tag {
            0 => K::Send { msg: self.msg()? },
            1 => K::Enqueue {
                pipe: self.u32()?,
                depth: self.u32()?,
                hwm: self.u32()?,
                msg: self.msg()?,
            },
            2 => K::Deliver {
                pipe: self.u32()?,
                depth: self.u32()?,
                hwm: self.u32()?,
                msg: self.msg()?,
            },
            3 => K::Receive { msg: self.msg()? },
            4 => K::Drop {
                pipe: self.option_u32()?,
                reason: drop_reason(self.byte()?)?,
                msg: self.msg()?,
            },
            5 => K::Resend {
                pipe: self.u32()?,
                request_id: self.u32()?,
                timer: self.u32()? != 0,
                msg: self.msg()?,
            },
            6 => K::Cancel { request_id: self.u32()? },
            7 => K::Subscription {
                pipe: self.option_u32()?,
                prefix: self.string()?,
                on: self.bool()?,
            },
            8 => K::SurveyExpired { survey_id: self.u32()? },
            9 => K::Connect {
                pipe: self.u32()?,
                peer: if self.bool()? { Some(self.replica()?) } else { None },
            },
            10 => K::Disconnect { pipe: self.u32()?, reason: self.string()? },
            11 => K::ProtocolError { reason: self.string()? },
            12 => K::InternalError { reason: self.string()? },
            13 => K::FaultBegin { fault: self.u32()?, touched: self.u32()? },
            14 => K::FaultEnd { fault: self.u32()?, touched: self.u32()? },
            15 => K::Healed,
            16 => K::ConnectFailed { reason: self.string()?, out_of_descriptors: self.bool()? },
            17 => K::AcceptFailed { reason: self.string()?, out_of_descriptors: self.bool()? },
            _ => return Err(DecodeError("unknown event tag")),
        })
    }

    fn app(&mut self, tag: u8) -> Result<AppEvent, DecodeError> {
        use AppEvent as A;
        Ok(match tag {
            0 => A::RequestIssued { id: self.u64()? },
            1 => A::ReplyAccepted { id: self.u64()? },
            2 => A::RequestAbandoned { id: self.u64()? },
            3 => A::WorkDone { id: self.u64()? },
            4 => A::Published { id: self.u64()?, topic: self.string()? },
            5 => A::PartsReceived { id: self.u64()?, parts: self.u32()?, expected: self.u32()? },
            6 => A::Joined,
            7 => A::Left,
            8 => A::TaskIssued { id: self.u64()? },
            9 => A::KillSent { id: self.u64()? },
            10 => A::SurveyStarted { id: self.u64()? },
            11 => A::ChunkSent {
                id: self.u64()?,
                job: self.u64()?,
                seq: self.u64()?,
                len: self.u64()?,
            },
            12 => A::ChunkAggregated {
                id: self.u64()?,
                job: self.u64()?,
                conn: self.u32()?,
                seq: self.u64()?,
                len: self.u64()?,
            },
            13 => A::JobFinished { job: self.u64()? },
            14 => A::CometLogin { user: self.u32()? },
            15 => A::CometLogout { user: self.u32()? },
            16 => A::CometRouted {
                id: self.u64()?,
                from: self.u32()?,
                delivered: self.u32()?,
                dropped: self.u32()?,
            },
            17 => A::Note { text: self.string()? },
            18 => A::User(self.user()?),
            _ => return Err(DecodeError("unknown application event tag")),
        })
    }

    /// A user event as `put_user` wrote it. The field count is trusted only as far as
    /// the bytes go: each field is read before it is kept, so a damaged count ends in
    /// "cut short", never in a large allocation.
    fn user(&mut self) -> Result<UserEvent, DecodeError> {
        let name = self.string()?;
        let count = self.u64()?;
        let mut fields = Vec::new();
        for _ in 0..count {
            let key = self.string()?;
            let value = match self.byte()? {
                0 => FieldValue::Int(self.signed()?),
                1 => FieldValue::Uint(self.u64()?),
                2 => FieldValue::Text(self.string()?),
                3 => {
                    let secs = self.u64()?;
                    let nanos = self.u32()?;
                    if nanos >= 1_000_000_000 {
                        return Err(DecodeError("duration nanoseconds past a second"));
                    }
                    FieldValue::Duration(Duration::new(secs, nanos))
                }
                4 => FieldValue::Msg(self.u64()?),
                _ => return Err(DecodeError("unknown user field kind")),
            };
            fields.push((key, value));
        }
        Ok(UserEvent { name, fields })
    }
}

/// Every drop reason, in the order of their bytes.
const DROP_REASONS: [DropReason; 8] = [
    DropReason::Hwm,
    DropReason::UnknownPeer,
    DropReason::PipeClosed,
    DropReason::LateReply,
    DropReason::PeerGone,
    DropReason::Malformed,
    DropReason::Unsubscribed,
    DropReason::Expired,
];

fn drop_reason_byte(reason: DropReason) -> u8 {
    // An exhaustive match, so a new reason cannot be forgotten here.
    match reason {
        DropReason::Hwm => 0,
        DropReason::UnknownPeer => 1,
        DropReason::PipeClosed => 2,
        DropReason::LateReply => 3,
        DropReason::PeerGone => 4,
        DropReason::Malformed => 5,
        DropReason::Unsubscribed => 6,
        DropReason::Expired => 7,
    }
}

fn drop_reason(b: u8) -> Result<DropReason, DecodeError> {
    DROP_REASONS.get(usize::from(b)).copied().ok_or(DecodeError("unknown drop reason"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_boundaries_and_refuse_what_no_writer_makes() {
        let values =
            [0, 1, 127, 128, 300, 16_383, 16_384, u64::from(u32::MAX), u64::MAX - 1, u64::MAX];
        for v in values {
            let mut out = Vec::new();
            let mut w = Writer::new(&mut out);
            w.put(v);
            w.flush();
            let mut input = out.as_slice();
            assert_eq!(Reader(&mut input).u64(), Ok(v), "{v}");
            assert!(input.is_empty(), "{v}: {} bytes left", input.len());
        }
        let too_long = [0xff; 11];
        let mut input = too_long.as_slice();
        assert_eq!(Reader(&mut input).u64(), Err(DecodeError("varint longer than 64 bits")));
        for cut in [&[][..], &[0x80][..], &[0xff; 9][..]] {
            let mut input = cut;
            assert_eq!(Reader(&mut input).u64(), Err(DecodeError("cut short")), "{cut:?}");
        }
    }

    /// One event of every kind, with every optional field both present and absent
    /// somewhere, extreme values, and times that go backwards once.
    fn every_kind() -> Vec<TraceEvent> {
        let r = Replica { group: GroupId(4095), index: 16_777_215 };
        let full = MsgInfo { id: Some(u64::MAX), request_id: Some(0x8000_0001), len: 1 << 40 };
        let bare = MsgInfo { id: None, request_id: None, len: 0 };
        let kinds = vec![
            EventKind::Send { msg: full },
            EventKind::Enqueue { pipe: 1, depth: 2, hwm: 0, msg: bare },
            EventKind::Deliver { pipe: u32::MAX, depth: 7, hwm: 1000, msg: full },
            EventKind::Receive { msg: bare },
            EventKind::Drop { pipe: None, reason: DropReason::Expired, msg: full },
            EventKind::Drop { pipe: Some(u32::MAX), reason: DropReason::Hwm, msg: bare },
            EventKind::Resend { pipe: 3, request_id: 9, timer: true, msg: full },
            EventKind::Resend { pipe: 3, request_id: 9, timer: false, msg: bare },
            EventKind::Cancel { request_id: u32::MAX },
            EventKind::Subscription { pipe: None, prefix: "née\u{fffd}".into(), on: true },
            EventKind::Subscription { pipe: Some(0), prefix: String::new(), on: false },
            EventKind::SurveyExpired { survey_id: 5 },
            EventKind::Connect { pipe: 1, peer: None },
            EventKind::Connect { pipe: 2, peer: Some(r) },
            EventKind::Disconnect { pipe: 1, reason: "reset by peer".into() },
            EventKind::ProtocolError { reason: "bad header".into() },
            EventKind::InternalError { reason: "panicked".into() },
            EventKind::ConnectFailed {
                reason: "connection refused".into(),
                out_of_descriptors: false,
            },
            EventKind::AcceptFailed { reason: "EMFILE".into(), out_of_descriptors: true },
            EventKind::FaultBegin { fault: 0, touched: 3 },
            EventKind::FaultEnd { fault: 2, touched: 0 },
            EventKind::Healed,
        ];
        let apps = vec![
            AppEvent::RequestIssued { id: 1 },
            AppEvent::ReplyAccepted { id: 2 },
            AppEvent::RequestAbandoned { id: 3 },
            AppEvent::WorkDone { id: 4 },
            AppEvent::Published { id: 5, topic: "weather".into() },
            AppEvent::PartsReceived { id: 6, parts: 1, expected: 3 },
            AppEvent::Joined,
            AppEvent::Left,
            AppEvent::TaskIssued { id: 7 },
            AppEvent::KillSent { id: 8 },
            AppEvent::SurveyStarted { id: 9 },
            AppEvent::ChunkSent { id: 10, job: 1, seq: 2, len: 3 },
            AppEvent::ChunkAggregated { id: 11, job: 1, conn: 4, seq: 2, len: 3 },
            AppEvent::JobFinished { job: u64::MAX },
            AppEvent::CometLogin { user: 1 },
            AppEvent::CometLogout { user: 2 },
            AppEvent::CometRouted { id: 12, from: 3, delivered: 4, dropped: 5 },
            AppEvent::Note { text: "a note".into() },
            AppEvent::User(UserEvent::new("empty")),
            AppEvent::User(
                UserEvent::new("job_done")
                    .field("job", -7)
                    .field("bytes", u64::MAX)
                    .field("who", "worker.1")
                    .field("took", Duration::new(u64::MAX, 999_999_999))
                    .msg("id", 1 << 52 | 3),
            ),
        ];
        let all = kinds.into_iter().chain(apps.into_iter().map(EventKind::App));
        all.enumerate()
            .map(|(i, kind)| TraceEvent {
                // Time goes backwards once, at event 5.
                at: Duration::from_nanos(if i == 5 { 3 } else { (i as u64) * 1_000_003 }),
                node: (i % 3 != 0).then_some(r),
                socket: (i % 2 == 0).then_some(i as u16),
                kind,
            })
            .collect()
    }

    #[test]
    fn every_event_kind_round_trips_through_the_compact_form() {
        let events = every_kind();
        let (mut enc, mut bytes) = (Encoder::default(), Vec::new());
        for e in &events {
            enc.encode(e, &mut bytes);
        }
        let (mut dec, mut input) = (Decoder::default(), bytes.as_slice());
        let mut back = Vec::new();
        while !input.is_empty() {
            back.push(dec.decode(&mut input).expect("decodes"));
        }
        assert_eq!(back, events);
        assert_eq!(crate::trace::trace_hash(&back), crate::trace::trace_hash(&events));
    }

    /// A user event's field count comes from the bytes; a damaged one must end in an
    /// error once the bytes run out, and an unknown field kind is named.
    #[test]
    fn a_user_event_with_a_damaged_count_or_field_kind_is_an_error() {
        let event = TraceEvent {
            at: Duration::ZERO,
            node: None,
            socket: None,
            kind: EventKind::App(AppEvent::User(UserEvent::new("e").field("k", 1))),
        };
        let mut bytes = Vec::new();
        Encoder::default().encode(&event, &mut bytes);
        // Tag, time, name ("e"), count, key ("k"), kind, value.
        assert_eq!(bytes, [APP + 18, 0, 1, b'e', 1, 1, b'k', 0, 2]);
        let mut huge = bytes.clone();
        huge[4] = 0x7f;
        assert_eq!(Decoder::default().decode(&mut huge.as_slice()), Err(DecodeError("cut short")));
        let mut foreign = bytes.clone();
        foreign[7] = 9;
        assert_eq!(
            Decoder::default().decode(&mut foreign.as_slice()),
            Err(DecodeError("unknown user field kind"))
        );
    }

    #[test]
    fn a_typical_socket_event_takes_a_fraction_of_its_size_in_memory() {
        let e = TraceEvent {
            at: Duration::from_millis(1_234),
            node: Some(Replica { group: GroupId(2), index: 17 }),
            socket: Some(0),
            kind: EventKind::Enqueue {
                pipe: 3,
                depth: 1,
                hwm: 1000,
                msg: MsgInfo { id: Some(1 << 52 | 17 << 28 | 99), request_id: None, len: 20 },
            },
        };
        let mut bytes = Vec::new();
        Encoder::default().encode(&e, &mut bytes);
        assert_eq!(bytes.len(), 23, "{bytes:?}");
        assert!(bytes.len() * 3 < std::mem::size_of::<TraceEvent>());
    }

    /// Few events fill the writer's buffer (a user event with many fields may), so the
    /// paths that flush it when full, and strings that fit what is left of it or do
    /// not, are driven here, against LEB128 and strings written out by hand.
    #[test]
    fn a_writer_past_its_buffer_writes_what_byte_at_a_time_pushes_would() {
        let text = "x".repeat(2 * WRITER_BUF_LEN);
        let mut expected = Vec::new();
        let mut out = vec![7u8];
        let mut w = Writer::new(&mut out);
        for i in 0..100u64 {
            let v = if i % 3 == 0 { u64::MAX } else { i << (i % 64) };
            let mut rest = v;
            while rest >= 0x80 {
                expected.push((rest as u8) | 0x80);
                rest >>= 7;
            }
            expected.push(rest as u8);
            w.put(v);
            expected.push(i as u8);
            w.byte(i as u8);
            // Empty, short, as long as the buffer, longer: 0..=150 bytes.
            let s = &text[..(i as usize * 37) % 151];
            expected.push(s.len() as u8 | if s.len() >= 0x80 { 0x80 } else { 0 });
            if s.len() >= 0x80 {
                expected.push(1);
            }
            expected.extend_from_slice(s.as_bytes());
            w.str(s);
        }
        w.finish();
        assert!(expected.len() > 5 * WRITER_BUF_LEN, "the test must fill the buffer often");
        assert_eq!(out[0], 7, "what was in the output before is kept");
        assert_eq!(out[1..], expected[..]);
    }

    #[test]
    fn cut_or_foreign_bytes_are_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        Encoder::default().encode(&every_kind()[0], &mut bytes);
        bytes.pop();
        assert_eq!(Decoder::default().decode(&mut bytes.as_slice()), Err(DecodeError("cut short")));
        assert_eq!(
            Decoder::default().decode(&mut [31u8, 0].as_slice()),
            Err(DecodeError("unknown event tag"))
        );
    }
}
