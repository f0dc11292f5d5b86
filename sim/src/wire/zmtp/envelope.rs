//! Between a socket core's messages and ZMTP frames, per connection: where the SP
//! backtrace the cores speak (`socket/mod.rs`) meets ZeroMQ's envelopes.
//!
//! The cores model a message as a stack of 32-bit routing ids and a body; ZeroMQ
//! carries the same route as frames in front of an empty delimiter frame. The rules,
//! per socket type (docs/zmtp.md, "Envelopes"):
//! - A REQ sends `[empty, body frames]`: its request id does not travel, as in libzmq
//!   without `ZMQ_REQ_CORRELATE`. The id of the last request sent on the connection
//!   is remembered and put back on the reply, so the core matches it. With
//!   `req_correlate` it sends `[id, empty, body frames]` as libzmq does, the id a
//!   4-byte frame, and a reply counts as the last request's only if it starts with
//!   that frame (libzmq skips any other; here the core drops it as a late reply).
//! - A REP reads the envelope up to the delimiter and keeps it under a request id of
//!   its own making; the reply carrying that id goes out behind the same envelope.
//!   A request without a delimiter is malformed (libzmq's REP drops it too).
//! - DEALER and ROUTER are transparent: each hop id goes out as a frame, a request id
//!   as the empty delimiter (which ends the route), and back in, leading hop frames
//!   followed by a delimiter become hop ids and a fresh request id. Frames that do not
//!   end in a delimiter are all body. A hop id with bit 30 set is a zeromq ROUTER's
//!   generated identity (`socket/router.rs`) and travels as libzmq's 5 bytes, `00` and
//!   the id big-endian; one with bit 30 clear (an SP pipe id, a REQ_CORRELATE id) as
//!   4 bytes big-endian. Each form reads back as the id it came from.
//! - Every other type sends its body's frames and nothing else.
//!
//! A body holding several frames uses the `PBMP` trailer (`socket/multipart.rs`);
//! here it becomes real frames, and frames become that trailer again, so a multipart
//! message stays whole. Subscriptions (the cores' `0x01`/`0x00`+prefix bodies from SUB
//! and XSUB) become SUBSCRIBE and CANCEL commands, or 3.0's message form.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

use super::Version;
use super::codec::{encode_cancel, encode_message_with, encode_more, encode_subscribe, put_more};
use crate::socket::{Msg, REQUEST_ID_BIT, SocketType, multipart};
use crate::wire::Padding;

/// A subscription body's first byte, as the SUB core writes it (`subscriptions.rs`).
const SUBSCRIBE_BYTE: u8 = 1;
const CANCEL_BYTE: u8 = 0;

/// How many REP envelopes a connection keeps while their replies are pending; past
/// it the oldest is forgotten (its late reply is then dropped as unroutable), so a
/// peer that never reads its replies cannot grow this map.
const ENVELOPES_MAX: usize = 4096;
/// Room reserved for an envelope ahead of the body: a few hop frames (7 bytes each
/// with their header), a delimiter and the body's own header (9 at most).
const ENVELOPE_RESERVE: usize = 48;

/// One connection's translation state.
#[derive(Debug)]
pub struct Envelope {
    ours: SocketType,
    version: Version,
    /// REQ: the id of the request last sent here, put back on replies.
    last_request_id: Option<u32>,
    /// REQ: `ZMQ_REQ_CORRELATE`, the request id travelling in front of the delimiter.
    correlate: bool,
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
    /// `correlate` is the socket's `req_correlate` (read by a REQ only).
    pub fn new(ours: SocketType, version: Version, correlate: bool) -> Envelope {
        Envelope {
            ours,
            version,
            last_request_id: None,
            correlate,
            envelopes: BTreeMap::new(),
            next_request_id: 0,
        }
    }

    /// Appends `msg`, as the core handed it for this connection, to `out`.
    pub fn encode(&mut self, msg: &Msg, out: &mut BytesMut) {
        self.encode_for(msg, out, Padding::Virtual);
    }

    /// [`Self::encode`] on a stream whose modelled padding travels as `padding` says.
    /// Where it is [`Padding::Real`] (real TCP), a modelled message's last frame counts
    /// its padding ([`super::encode_message_padded`]), and the padding the caller must
    /// send as zeros right after is returned; 0 otherwise, and for most messages.
    pub fn encode_for(&mut self, msg: &Msg, out: &mut BytesMut, padding: Padding) -> u64 {
        let padded = padding == Padding::Real;
        use SocketType::*;
        if matches!(self.ours, Sub | XSub)
            && let Some((&first, prefix)) = msg.body.split_first()
        {
            match first {
                SUBSCRIBE_BYTE => {
                    encode_subscribe(self.version, prefix, out);
                    return 0;
                }
                CANCEL_BYTE => {
                    encode_cancel(self.version, prefix, out);
                    return 0;
                }
                _ => {}
            }
        }
        // The envelope goes straight into `out`, each frame put together on the stack:
        // no frame and no list of frames is allocated for it.
        out.reserve(ENVELOPE_RESERVE + msg.body.len());
        match self.ours {
            Req => {
                self.last_request_id = msg.request_id();
                if let Some(id) = self.last_request_id.filter(|_| self.correlate) {
                    put_more(&correlate_frame(id), out);
                }
                put_more(&[], out);
            }
            Rep => {
                let envelope = msg.request_id().and_then(|id| self.envelopes.remove(&id));
                encode_more(envelope.as_deref().unwrap_or_default(), out);
                put_more(&[], out);
            }
            Dealer | Router => put_route(&msg.header, out),
            _ => {}
        }
        match multipart::is_multipart(&msg.body) {
            true => encode_message_with(&multipart::decode(&msg.body), padded, out),
            false => encode_message_with(&[&msg.body], padded, out),
        }
    }

    /// Forgets the envelopes a REP keeps for its replies: for a reader that never
    /// writes them (a bystander, `wire/tap.rs`), whose map would otherwise fill up to
    /// its bound, each envelope holding on to the memory its request arrived in.
    pub fn forget_envelopes(&mut self) {
        self.envelopes.clear();
    }

    /// The core's message for a ZMTP message's `frames`.
    pub fn decode(&mut self, mut frames: Vec<Bytes>) -> Result<Msg, Unroutable> {
        self.decode_from(&mut frames)
    }

    /// Whether a message of one frame is that frame as it is (all but REQ, REP,
    /// DEALER and ROUTER, whose frames carry an envelope): `decode_from` then gives
    /// `Msg::new(frame)`, so a receiver may skip it (`Decoder::decode_short_body`).
    pub fn one_frame_is_body(&self) -> bool {
        !matches!(
            self.ours,
            SocketType::Req | SocketType::Rep | SocketType::Dealer | SocketType::Router
        )
    }

    /// [`Envelope::decode`] that leaves `frames` empty with its capacity, for the
    /// decoder to fill again ([`super::Decoder::recycle`]): a connection then decodes
    /// one-frame messages without an allocation, and hands the frame to the core
    /// without copying or counting another reference.
    pub fn decode_from(&mut self, frames: &mut Vec<Bytes>) -> Result<Msg, Unroutable> {
        use SocketType::*;
        let decoded = match self.ours {
            Req => self.decode_reply(frames),
            Rep => self.decode_request(std::mem::take(frames)),
            // Taken: the list goes with its message rather than back to the decoder,
            // whose reuse of it would hold about 150 bytes at every idle connection
            // end (a comet router's million of them).
            Dealer | Router => Ok(self.split_route(std::mem::take(frames))),
            _ if frames.len() == 1 => Ok(Msg::new(frames.pop().unwrap_or_default())),
            _ => Ok(Msg::new(join(frames))),
        };
        frames.clear();
        decoded
    }

    /// A REP's request: the envelope up to the delimiter is kept for the reply.
    fn decode_request(&mut self, mut frames: Vec<Bytes>) -> Result<Msg, Unroutable> {
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

    /// A REQ's reply: libzmq's REQ drops one that does not start with the delimiter
    /// (after the id frame with `req_correlate`). With correlation, a reply whose id
    /// frame is not the last request's gets an id no request has (the request's with
    /// its low bits flipped), so the core drops it as an abandoned request's.
    fn decode_reply(&self, frames: &[Bytes]) -> Result<Msg, Unroutable> {
        let (id, rest) = match (self.correlate, frames) {
            (false, rest) => (self.last_request_id, rest),
            (true, [id, rest @ ..]) if id.len() == 4 => {
                let last = self.last_request_id;
                let matches = last.is_some_and(|last| id[..] == correlate_frame(last));
                (last.map(|last| if matches { last } else { last ^ CORRELATE_MASK }), rest)
            }
            (true, _) => return Err(Unroutable(join(frames))),
        };
        if rest.first().is_none_or(|f| !f.is_empty()) {
            return Err(Unroutable(join(frames)));
        }
        Ok(Msg { header: id.into_iter().collect(), body: join(&rest[1..]) })
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
        let mut header = Vec::with_capacity(hops + 1);
        header.extend(frames[..hops].iter().filter_map(|f| hop_id(f)));
        header.push(self.fresh_request_id());
        Msg { header, body: join(&frames[hops + 1..]) }
    }
}

/// Bit 30 of a hop id: set on a zeromq ROUTER's generated identities, which travel
/// in libzmq's 5-byte form.
const GENERATED_ID_BIT: u32 = 1 << 30;
/// The bits of a request id a REQ_CORRELATE frame carries: those of a hop id with bit
/// 30 clear, so the frame passes through a patchbay DEALER or ROUTER unchanged.
const CORRELATE_MASK: u32 = GENERATED_ID_BIT - 1;

/// A hop id's frame: `00` and 4 bytes big-endian with bit 30 set (a generated
/// identity), or 4 bytes big-endian with the top two bits clear.
fn hop_id(frame: &[u8]) -> Option<u32> {
    match frame {
        [0, id @ ..] if id.len() == 4 => {
            let id = u32::from_be_bytes(id.try_into().ok()?);
            (id & (REQUEST_ID_BIT | GENERATED_ID_BIT) == GENERATED_ID_BIT).then_some(id)
        }
        _ => {
            let id = u32::from_be_bytes(frame.try_into().ok()?);
            (id & (REQUEST_ID_BIT | GENERATED_ID_BIT) == 0).then_some(id)
        }
    }
}

/// Appends the frame hop id `id` travels as (the inverse of [`hop_id`]), with MORE.
fn put_hop(id: u32, out: &mut BytesMut) {
    let be = id.to_be_bytes();
    if id & GENERATED_ID_BIT != 0 {
        put_more(&[0, be[0], be[1], be[2], be[3]], out);
    } else {
        put_more(&be, out);
    }
}

/// A REQ_CORRELATE request id's frame: 4 bytes, as libzmq's, holding the id's low 30
/// bits big-endian (libzmq copies a random 32-bit counter in host order; the bytes
/// are opaque to every peer, which only echoes them).
fn correlate_frame(request_id: u32) -> [u8; 4] {
    (request_id & CORRELATE_MASK).to_be_bytes()
}

/// Appends a DEALER's or ROUTER's header as it goes out: hop ids, then a delimiter
/// for the request id, which ends the route.
fn put_route(header: &[u32], out: &mut BytesMut) {
    for &id in header {
        if id & REQUEST_ID_BIT != 0 {
            put_more(&[], out);
            return;
        }
        put_hop(id, out);
    }
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

    /// The receiver's shortcut (`one_frame_is_body`) holds for exactly the types
    /// whose `decode` of one frame is that frame as the body.
    #[test]
    fn one_frame_is_the_body_exactly_where_decode_says_so() {
        for ours in SocketType::ALL {
            // An empty frame too: a DEALER or ROUTER reads it as a delimiter.
            let as_is = [b("x"), b("")].into_iter().all(|frame| {
                let mut envelope = Envelope::new(ours, Version::V3_1, false);
                envelope.decode(vec![frame.clone()]) == Ok(Msg::new(frame))
            });
            let envelope = Envelope::new(ours, Version::V3_1, false);
            assert_eq!(envelope.one_frame_is_body(), as_is, "{ours}");
        }
    }

    #[test]
    fn req_sends_a_delimiter_and_puts_its_request_id_back_on_the_reply() {
        let mut req = Envelope::new(SocketType::Req, Version::V3_1, false);
        let request = Msg { header: vec![REQUEST_ID_BIT | 7], body: b("ask") };
        assert_eq!(frames_of(&mut req, &request), [b(""), b("ask")]);
        let reply = req.decode(vec![b(""), b("answer")]).expect("a delimited reply");
        assert_eq!(reply, Msg { header: vec![REQUEST_ID_BIT | 7], body: b("answer") });
        assert_eq!(req.decode(vec![b("no delimiter")]), Err(Unroutable(b("no delimiter"))));
    }

    #[test]
    fn rep_replies_behind_the_envelope_its_request_came_with() {
        let mut rep = Envelope::new(SocketType::Rep, Version::V3_1, false);
        let request = rep.decode(vec![b("hop1"), b("hop2"), b(""), b("q")]).expect("delimited");
        assert_eq!(request.body, b("q"));
        let reply = Msg { header: request.header.clone(), body: b("r") };
        assert_eq!(frames_of(&mut rep, &reply), [b("hop1"), b("hop2"), b(""), b("r")]);
        assert!(rep.decode(vec![b("undelimited")]).is_err());
    }

    /// The list a DEALER's or ROUTER's message came in goes with it: the decoder
    /// would otherwise keep it, and its capacity, at every idle connection end.
    #[test]
    fn a_routed_message_takes_its_frame_list_with_it() {
        for ours in [SocketType::Dealer, SocketType::Router] {
            let mut envelope = Envelope::new(ours, Version::V3_1, false);
            let mut frames = vec![Bytes::from_static(&[0, 0, 0, 5]), b(""), b("x")];
            let msg = envelope.decode_from(&mut frames).expect("transparent");
            assert_eq!((msg.header[0], msg.body), (5, b("x")), "{ours}");
            assert_eq!(frames.capacity(), 0, "{ours}: the decoder keeps no list");
        }
        // A one-frame type hands its list back emptied, to be filled again.
        let mut envelope = Envelope::new(SocketType::Pull, Version::V3_1, false);
        let mut frames = vec![b("x")];
        assert_eq!(envelope.decode_from(&mut frames).expect("as is").body, b("x"));
        assert!(frames.is_empty() && frames.capacity() > 0);
    }

    #[test]
    fn dealer_and_router_carry_hop_ids_as_frames_both_ways() {
        let mut dealer = Envelope::new(SocketType::Dealer, Version::V3_1, false);
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
    fn a_generated_identity_travels_as_libzmqs_five_bytes_and_reads_back() {
        let mut dealer = Envelope::new(SocketType::Dealer, Version::V3_1, false);
        let msg = Msg { header: vec![0x6b8b_4567, 9, REQUEST_ID_BIT | 1], body: b("x") };
        let frames = frames_of(&mut dealer, &msg);
        let want = [&[0, 0x6b, 0x8b, 0x45, 0x67][..], &[0, 0, 0, 9], b"", b"x"];
        assert_eq!(frames, want.map(Bytes::copy_from_slice));
        let back = dealer.decode(frames).expect("transparent");
        assert_eq!(back.header[..2], [0x6b8b_4567, 9]);
        // Neither form is read from a frame the other would write.
        for odd in [&[1, 0x6b, 0x8b, 0x45, 0x67][..], &[0, 0, 0, 0, 9], &[0x6b, 0x8b, 0x45, 0x67]] {
            let plain = dealer.decode(vec![Bytes::copy_from_slice(odd), b(""), b("y")]).unwrap();
            assert!(plain.header.is_empty(), "{odd:?} read as a hop: {plain:?}");
        }
    }

    #[test]
    fn a_correlating_req_sends_its_id_frame_and_takes_only_the_reply_carrying_it() {
        let mut req = Envelope::new(SocketType::Req, Version::V3_1, true);
        let request = Msg { header: vec![REQUEST_ID_BIT | 0x4123_4567], body: b("ask") };
        let frames = frames_of(&mut req, &request);
        assert_eq!(frames, [Bytes::from_static(&[0x01, 0x23, 0x45, 0x67]), b(""), b("ask")]);
        let reply = req.decode(frames[..2].iter().cloned().chain([b("answer")]).collect());
        assert_eq!(reply, Ok(Msg { header: request.header.clone(), body: b("answer") }));
        // Another id: a reply to no request the core has, which it drops as late.
        let stale = req.decode(vec![Bytes::from_static(&[0, 0, 0, 1]), b(""), b("old")]).unwrap();
        assert_ne!(stale.header, request.header);
        assert!(stale.header[0] & REQUEST_ID_BIT != 0, "still a reply: {stale:?}");
        // No id frame, or no delimiter after it: malformed.
        assert!(req.decode(vec![b(""), b("bare")]).is_err());
        assert!(req.decode(vec![Bytes::from_static(&[1, 35, 69, 103]), b("x")]).is_err());
        // The id frame passes a patchbay ROUTER or DEALER as a hop and comes back as is.
        let mut dealer = Envelope::new(SocketType::Dealer, Version::V3_1, false);
        let through = dealer.decode(frames.clone()).expect("a hop and a delimiter");
        assert_eq!(frames_of(&mut dealer, &through), frames);
    }

    #[test]
    fn multipart_bodies_travel_as_real_frames_and_come_back_whole() {
        let mut push = Envelope::new(SocketType::Push, Version::V3_1, false);
        let body = multipart::encode(&[b("topic"), b(""), b("payload")]);
        let frames = frames_of(&mut push, &Msg::new(body.clone()));
        assert_eq!(frames, [b("topic"), b(""), b("payload")]);
        let mut pull = Envelope::new(SocketType::Pull, Version::V3_1, false);
        assert_eq!(pull.decode(frames).expect("a message").body, body);
    }

    #[test]
    fn subscriptions_become_commands_in_3_1_and_messages_in_3_0() {
        let sub_body = Msg::new(Bytes::from_static(b"\x01news"));
        let mut sub = Envelope::new(SocketType::Sub, Version::V3_1, false);
        let mut out = BytesMut::new();
        sub.encode(&sub_body, &mut out);
        assert_eq!(&out[..], b"\x04\x0e\x09SUBSCRIBEnews");
        let mut old = Envelope::new(SocketType::XSub, Version::V3_0, false);
        out.clear();
        old.encode(&Msg::new(Bytes::from_static(b"\x00news")), &mut out);
        assert_eq!(&out[..], b"\x00\x05\x00news");
    }
}
