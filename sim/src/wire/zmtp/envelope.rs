//! Between a socket core's messages and ZMTP frames, per connection: where the SP
//! backtrace the cores speak (`socket/mod.rs`) meets ZeroMQ's envelopes.
//!
//! The cores model a message as a stack of 32-bit routing ids and a body; ZeroMQ
//! carries the same route as frames in front of an empty delimiter frame. The rules,
//! per socket type (docs/zmtp.md, "Envelopes"):
//! - A REQ sends `[empty, body frames]`: its request id does not travel, as in libzmq
//!   without `ZMQ_REQ_CORRELATE`. The id of the last request sent on the connection
//!   is remembered and put back on the reply, so the core matches it.
//! - A REP reads the envelope up to the delimiter and keeps it under a request id of
//!   its own making; the reply carrying that id goes out behind the same envelope.
//!   A request without a delimiter is malformed (libzmq's REP drops it too).
//! - DEALER and ROUTER are transparent: each hop id goes out as a 4-byte big-endian
//!   frame, a request id as the empty delimiter (which ends the route), and back in,
//!   leading 4-byte frames (high bit clear) followed by a delimiter become hop ids and
//!   a fresh request id. Frames that do not end in a delimiter are all body.
//! - Every other type sends its body's frames and nothing else.
//!
//! A body holding several frames uses the `PBMP` trailer (`socket/multipart.rs`);
//! here it becomes real frames, and frames become that trailer again, so a multipart
//! message stays whole. Subscriptions (the cores' `0x01`/`0x00`+prefix bodies from SUB
//! and XSUB) become SUBSCRIBE and CANCEL commands, or 3.0's message form.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

use super::Version;
use super::codec::{encode_cancel, encode_message, encode_subscribe};
use crate::socket::{Msg, REQUEST_ID_BIT, SocketType, multipart};

/// A subscription body's first byte, as the SUB core writes it (`subscriptions.rs`).
const SUBSCRIBE_BYTE: u8 = 1;
const CANCEL_BYTE: u8 = 0;

/// How many REP envelopes a connection keeps while their replies are pending; past
/// it the oldest is forgotten (its late reply is then dropped as unroutable), so a
/// peer that never reads its replies cannot grow this map.
const ENVELOPES_MAX: usize = 4096;

/// One connection's translation state.
#[derive(Debug)]
pub struct Envelope {
    ours: SocketType,
    version: Version,
    /// REQ: the id of the request last sent here, put back on replies.
    last_request_id: Option<u32>,
    /// REP: envelopes of requests whose replies are pending, by the id made for them.
    envelopes: BTreeMap<u32, Vec<Bytes>>,
    /// The next request id made for an incoming request (REP, DEALER, ROUTER).
    next_request_id: u32,
}

/// Why an incoming message cannot be handed to the core: it is dropped as malformed
/// (its frames joined for the trace) and the connection carries on.
#[derive(Debug, PartialEq, Eq)]
pub struct Unroutable(pub Bytes);

impl Envelope {
    pub fn new(ours: SocketType, version: Version) -> Envelope {
        Envelope {
            ours,
            version,
            last_request_id: None,
            envelopes: BTreeMap::new(),
            next_request_id: 0,
        }
    }

    /// Appends `msg`, as the core handed it for this connection, to `out`.
    pub fn encode(&mut self, msg: &Msg, out: &mut BytesMut) {
        use SocketType::*;
        if matches!(self.ours, Sub | XSub)
            && let Some((&first, prefix)) = msg.body.split_first()
        {
            match first {
                SUBSCRIBE_BYTE => return encode_subscribe(self.version, prefix, out),
                CANCEL_BYTE => return encode_cancel(self.version, prefix, out),
                _ => {}
            }
        }
        let mut frames = match self.ours {
            Req => {
                self.last_request_id = msg.request_id();
                vec![Bytes::new()]
            }
            Rep => msg.request_id().and_then(|id| self.envelopes.remove(&id)).unwrap_or_default(),
            Dealer | Router => route_frames(&msg.header),
            _ => Vec::new(),
        };
        if self.ours == Rep {
            frames.push(Bytes::new());
        }
        frames.extend(body_frames(&msg.body));
        encode_message(&frames, out);
    }

    /// The core's message for a ZMTP message's `frames`.
    pub fn decode(&mut self, mut frames: Vec<Bytes>) -> Result<Msg, Unroutable> {
        use SocketType::*;
        match self.ours {
            Req => {
                // libzmq's REQ drops a reply that does not start with the delimiter.
                if frames.first().is_none_or(|f| !f.is_empty()) {
                    return Err(Unroutable(join(&frames)));
                }
                let header = self.last_request_id.into_iter().collect();
                Ok(Msg { header, body: join(&frames[1..]) })
            }
            Rep => {
                let Some(at) = frames.iter().position(Bytes::is_empty) else {
                    return Err(Unroutable(join(&frames)));
                };
                let body = join(&frames[at + 1..]);
                frames.truncate(at);
                let id = self.fresh_request_id();
                if self.envelopes.len() >= ENVELOPES_MAX {
                    self.envelopes.pop_first();
                }
                self.envelopes.insert(id, frames);
                Ok(Msg { header: vec![id], body })
            }
            Dealer | Router => Ok(self.split_route(frames)),
            _ => Ok(Msg::new(join(&frames))),
        }
    }

    fn fresh_request_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = (id + 1) & !REQUEST_ID_BIT;
        id | REQUEST_ID_BIT
    }

    /// Leading hop-id frames then a delimiter make the header; anything else is body.
    fn split_route(&mut self, frames: Vec<Bytes>) -> Msg {
        let hops = frames.iter().take_while(|f| hop_id(f).is_some()).count();
        if frames.get(hops).is_none_or(|f| !f.is_empty()) {
            return Msg::new(join(&frames));
        }
        let mut header: Vec<u32> = frames[..hops].iter().filter_map(|f| hop_id(f)).collect();
        header.push(self.fresh_request_id());
        Msg { header, body: join(&frames[hops + 1..]) }
    }
}

/// A hop id's frame: 4 bytes, big-endian, high bit clear.
fn hop_id(frame: &[u8]) -> Option<u32> {
    let id = u32::from_be_bytes(frame.try_into().ok()?);
    (id & REQUEST_ID_BIT == 0).then_some(id)
}

/// The frames a DEALER's or ROUTER's header goes out as: hop ids, then a delimiter
/// for the request id, which ends the route.
fn route_frames(header: &[u32]) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(header.len());
    for id in header {
        if id & REQUEST_ID_BIT != 0 {
            frames.push(Bytes::new());
            break;
        }
        frames.push(Bytes::copy_from_slice(&id.to_be_bytes()));
    }
    frames
}

/// A body's frames: the `PBMP` trailer's, or the body as one frame.
fn body_frames(body: &Bytes) -> Vec<Bytes> {
    if multipart::is_multipart(body) { multipart::decode(body) } else { vec![body.clone()] }
}

/// Frames as one body: a single frame as itself, several with the trailer.
fn join(frames: &[Bytes]) -> Bytes {
    match frames {
        [] => Bytes::new(),
        [one] => one.clone(),
        many => multipart::encode(many),
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::{Decoder, Event, Limits};
    use super::*;

    /// Encodes `msg` as `ours` and reads the frames back as a peer would.
    fn frames_of(envelope: &mut Envelope, msg: &Msg) -> Vec<Bytes> {
        let mut out = BytesMut::new();
        envelope.encode(msg, &mut out);
        match Decoder::new(SocketType::Pair, Limits::default()).decode(&mut out) {
            Ok(Some(Event::Message(frames))) => frames,
            other => panic!("expected one message, got {other:?}"),
        }
    }

    fn b(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn req_sends_a_delimiter_and_puts_its_request_id_back_on_the_reply() {
        let mut req = Envelope::new(SocketType::Req, Version::V3_1);
        let request = Msg { header: vec![REQUEST_ID_BIT | 7], body: b("ask") };
        assert_eq!(frames_of(&mut req, &request), [b(""), b("ask")]);
        let reply = req.decode(vec![b(""), b("answer")]).expect("a delimited reply");
        assert_eq!(reply, Msg { header: vec![REQUEST_ID_BIT | 7], body: b("answer") });
        assert_eq!(req.decode(vec![b("no delimiter")]), Err(Unroutable(b("no delimiter"))));
    }

    #[test]
    fn rep_replies_behind_the_envelope_its_request_came_with() {
        let mut rep = Envelope::new(SocketType::Rep, Version::V3_1);
        let request = rep.decode(vec![b("hop1"), b("hop2"), b(""), b("q")]).expect("delimited");
        assert_eq!(request.body, b("q"));
        let reply = Msg { header: request.header.clone(), body: b("r") };
        assert_eq!(frames_of(&mut rep, &reply), [b("hop1"), b("hop2"), b(""), b("r")]);
        assert!(rep.decode(vec![b("undelimited")]).is_err());
    }

    #[test]
    fn dealer_and_router_carry_hop_ids_as_frames_both_ways() {
        let mut dealer = Envelope::new(SocketType::Dealer, Version::V3_1);
        let msg = Msg { header: vec![5, REQUEST_ID_BIT | 1], body: b("x") };
        let frames = frames_of(&mut dealer, &msg);
        assert_eq!(frames, [Bytes::from_static(&[0, 0, 0, 5]), b(""), b("x")]);
        let back = dealer.decode(frames).expect("transparent");
        assert_eq!(back.header[0], 5);
        assert!(back.header[1] & REQUEST_ID_BIT != 0, "the delimiter is a request id");
        assert_eq!(back.body, b("x"));
        // No delimiter: every frame is body, even a 4-byte first one.
        let plain = dealer.decode(vec![b("abcd"), b("tail")]).expect("transparent");
        assert!(plain.header.is_empty());
        assert_eq!(multipart::decode(&plain.body), [b("abcd"), b("tail")]);
    }

    #[test]
    fn multipart_bodies_travel_as_real_frames_and_come_back_whole() {
        let mut push = Envelope::new(SocketType::Push, Version::V3_1);
        let body = multipart::encode(&[b("topic"), b(""), b("payload")]);
        let frames = frames_of(&mut push, &Msg::new(body.clone()));
        assert_eq!(frames, [b("topic"), b(""), b("payload")]);
        let mut pull = Envelope::new(SocketType::Pull, Version::V3_1);
        assert_eq!(pull.decode(frames).expect("a message").body, body);
    }

    #[test]
    fn subscriptions_become_commands_in_3_1_and_messages_in_3_0() {
        let sub_body = Msg::new(Bytes::from_static(b"\x01news"));
        let mut sub = Envelope::new(SocketType::Sub, Version::V3_1);
        let mut out = BytesMut::new();
        sub.encode(&sub_body, &mut out);
        assert_eq!(&out[..], b"\x04\x0e\x09SUBSCRIBEnews");
        let mut old = Envelope::new(SocketType::XSub, Version::V3_0);
        out.clear();
        old.encode(&Msg::new(Bytes::from_static(b"\x00news")), &mut out);
        assert_eq!(&out[..], b"\x00\x05\x00news");
    }
}
