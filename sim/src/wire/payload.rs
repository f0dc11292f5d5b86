//! The payload built-in designs put in message bodies, so ids travel end to end.
//!
//! A body starts with a fixed 20-byte header: the magic `PB1`, a kind byte, the
//! message id, and the modelled length (large payloads are modelled, never
//! allocated: a 100 MB job is 20 bytes plus its declared size). On the wire the
//! declared size is padding after the body, counted in the SP length prefix, so
//! receive limits and bandwidth see it (`wire/modelled.rs`). Bodies without the
//! magic (from a real NNG peer, say) are simply payloads without an id.

use bytes::{BufMut, Bytes, BytesMut};

use crate::plan::MsgId;
use crate::socket::{EventMsg, Msg, MsgInfo, multipart};

const MAGIC: &[u8; 3] = b"PB1";
/// The byte a payload header starts with, for a search for one (`wire/modelled.rs`).
pub(crate) const MAGIC_FIRST: u8 = MAGIC[0];
/// Bytes taken by the header.
pub const HEADER_LEN: usize = 20;

/// What a payload is, for designs that multiplex kinds on one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum PayloadKind {
    Request = 1,
    Reply = 2,
    /// A worker announcing it is ready (article 000), carrying no result.
    Ready = 3,
    /// A worker's result, which is also its next "ready" (article 000).
    Result = 4,
    /// A job handed from a broker to a worker.
    Job = 5,
    Publish = 6,
    Task = 7,
    Control = 8,
    Survey = 9,
    Response = 10,
    Chunk = 11,
    Login = 12,
    Logout = 13,
    /// A liveness beat between a Paranoid Pirate broker and its workers.
    Heartbeat = 14,
}

impl PayloadKind {
    fn from_u8(b: u8) -> Option<PayloadKind> {
        use PayloadKind::*;
        [
            Request, Reply, Ready, Result, Job, Publish, Task, Control, Survey, Response, Chunk,
            Login, Logout, Heartbeat,
        ]
        .into_iter()
        .find(|k| *k as u8 == b)
    }
}

/// A decoded payload header plus whatever bytes follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub kind: PayloadKind,
    pub id: MsgId,
    /// The size the message stands for, in bytes.
    pub modelled_len: u64,
    /// Design-specific bytes after the header (a topic, a job number, ...).
    pub extra: Bytes,
}

impl Payload {
    pub fn new(kind: PayloadKind, id: MsgId, modelled_len: u64) -> Payload {
        Payload { kind, id, modelled_len, extra: Bytes::new() }
    }

    pub fn with_extra(mut self, extra: impl Into<Bytes>) -> Payload {
        self.extra = extra.into();
        self
    }

    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(HEADER_LEN + self.extra.len());
        b.put_slice(MAGIC);
        b.put_u8(self.kind as u8);
        b.put_u64(self.id);
        b.put_u64(self.modelled_len);
        b.put_slice(&self.extra);
        b.freeze()
    }

    /// `None` when the body is not a patchbay payload.
    pub fn decode(body: &Bytes) -> Option<Payload> {
        let (kind, id, modelled_len) = Payload::peek(body)?;
        Some(Payload { kind, id, modelled_len, extra: body.slice(HEADER_LEN..) })
    }

    /// Kind, id and modelled length without copying anything.
    pub(crate) fn peek(body: &[u8]) -> Option<(PayloadKind, MsgId, u64)> {
        if body.len() < HEADER_LEN || &body[..3] != MAGIC {
            return None;
        }
        let kind = PayloadKind::from_u8(body[3])?;
        let id = u64::from_be_bytes(body[4..12].try_into().ok()?);
        let len = u64::from_be_bytes(body[12..20].try_into().ok()?);
        Some((kind, id, len))
    }
}

/// What the trace records of a message: its payload id and modelled size if it has a
/// patchbay payload (in the body, or in a frame of a multipart body, where envelopes
/// put a topic first), and its request id if its stack has one.
pub fn msg_info(msg: &Msg) -> MsgInfo {
    let frames = || multipart::decode(&msg.body);
    let peeked = Payload::peek(&msg.body).or_else(|| {
        let multipart = multipart::is_multipart(&msg.body);
        multipart.then(|| frames().iter().find_map(|f| Payload::peek(f))).flatten()
    });
    MsgInfo {
        id: peeked.map(|(_, id, _)| id),
        request_id: msg.request_id(),
        len: peeked.map_or(msg.body.len() as u64, |(_, _, len)| len.max(msg.body.len() as u64)),
    }
}

/// What the trace records of the message an event is about, however much of it the
/// event holds.
pub fn event_msg_info(msg: &EventMsg) -> MsgInfo {
    match msg {
        EventMsg::Whole(msg) => msg_info(msg),
        EventMsg::Info(info) => *info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_bodies() {
        let p = Payload::new(PayloadKind::Job, 0xdead_beef, 100 << 20).with_extra(&b"topic"[..]);
        assert_eq!(Payload::decode(&p.encode()), Some(p));
        assert_eq!(Payload::decode(&Bytes::from_static(b"hello from nng, not ours")), None);
        assert_eq!(Payload::decode(&Bytes::from_static(b"PB1")), None);
    }
}
