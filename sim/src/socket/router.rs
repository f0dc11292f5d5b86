//! ROUTER (NNG's raw REP, ZeroMQ's XREP): tags each incoming message with the pipe it
//! came from and routes each outgoing message by the tag at the front of its header.
//!
//! The tag is a routing id pushed onto the front of the SP backtrace as a hop id (high
//! bit clear), which is how this model stands in for ZeroMQ's identity frame. On SP
//! (NNG, nanomsg) it is the pipe id. A `library: zeromq` ROUTER makes its ids as
//! libzmq 4.3.5 does for a peer without an `Identity`: a counter starting at
//! [`ROUTING_ID_FIRST`], one per connection, which travels on ZMTP as the 5-byte
//! frame `00` + the id big-endian (docs/zmtp.md, "Envelopes"). A
//! message for a pipe the ROUTER does not know, or for a full one, is dropped and
//! reported; with `router_mandatory` the send fails instead (docs/library-semantics.md,
//! "High-water marks").

use std::collections::BTreeMap;
use std::time::Duration;

use super::pipes::Pipes;
use super::{
    DropReason, Msg, PipeId, REQUEST_ID_BIT, SendError, SocketCore, SocketOptions, SocketType,
};

/// The first routing id a libzmq 4.3.5 ROUTER generates in a fresh process: its
/// counter starts at `generate_random()`, which is glibc's unseeded `rand()`
/// (0x6b8b4567) since libzmq never seeds it (probed with pyzmq 26.2.0: a ROUTER's
/// first three peers without an `Identity` get `00 6b 8b 45 67`, `...68`, `...69`;
/// docs/library-semantics.md, "ROUTER identities"). Bit 30 is set, which is what marks
/// a hop id as such a 5-byte identity on the wire.
pub const ROUTING_ID_FIRST: u32 = 0x6b8b_4567;
/// The range the counter stays in: bit 30 set, the high bit (request ids') clear.
const ROUTING_ID_BASE: u32 = 0x4000_0000;

#[derive(Debug)]
/// A ROUTER core: pushes each peer's hop id on arrival and routes replies by it.
pub struct Router {
    pipes: Pipes,
    /// `ZMQ_ROUTER_MANDATORY`: report unroutable sends to the application as errors.
    mandatory: bool,
    /// libzmq's generated identities (`library: zeromq`); `None` routes by pipe id.
    routing_ids: Option<RoutingIds>,
}

/// A zeromq ROUTER's generated identities, both ways.
#[derive(Debug)]
struct RoutingIds {
    /// The id the next connection gets.
    next: u32,
    by_pipe: BTreeMap<PipeId, u32>,
    pipe_by_id: BTreeMap<u32, PipeId>,
}

impl RoutingIds {
    fn assign(&mut self, pipe: PipeId) {
        let id = self.next;
        // libzmq's counter is 32 bits wide; ours wraps inside bit 30's range, which
        // takes a billion connections to differ.
        self.next = ROUTING_ID_BASE | (id.wrapping_add(1) & (ROUTING_ID_BASE - 1));
        self.by_pipe.insert(pipe, id);
        self.pipe_by_id.insert(id, pipe);
    }
}

impl Router {
    /// A ROUTER core with these options.
    pub fn new(options: SocketOptions) -> Router {
        let routing_ids = options.zmtp.then(|| RoutingIds {
            next: ROUTING_ID_FIRST,
            by_pipe: BTreeMap::new(),
            pipe_by_id: BTreeMap::new(),
        });
        let mut pipes = Pipes::new(&options);
        pipes.receive_as_nng_raw(&options);
        Router { mandatory: options.router_mandatory, pipes, routing_ids }
    }

    /// The hop id messages from `pipe` carry: its routing id, or the pipe id itself.
    fn hop_of(&self, pipe: PipeId) -> u32 {
        self.routing_ids.as_ref().map_or(pipe, |ids| {
            *ids.by_pipe.get(&pipe).expect("a message on a pipe never attached")
        })
    }

    /// The pipe a hop id names, if it names one.
    fn pipe_of(&self, hop: u32) -> Option<PipeId> {
        match &self.routing_ids {
            Some(ids) => ids.pipe_by_id.get(&hop).copied(),
            None => Some(hop),
        }
    }

    /// Drops an unroutable message, or hands `error` and the message back to the
    /// application when `router_mandatory` is set (then the message is its to keep).
    fn refuse(
        &mut self,
        pipe: Option<PipeId>,
        reason: DropReason,
        error: SendError,
        msg: Msg,
    ) -> Result<(), (SendError, Msg)> {
        if self.mandatory {
            return Err((error, msg));
        }
        self.pipes.drop_msg(pipe, reason, msg);
        Ok(())
    }
}

impl SocketCore for Router {
    fn socket_type(&self) -> SocketType {
        SocketType::Router
    }

    pipes_in_field!(pipes);

    /// A pipe id becomes a hop id on the backtrace, where the high bit marks request
    /// ids instead; a driver handing out larger ids is broken.
    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        assert!(pipe & REQUEST_ID_BIT == 0, "ROUTER pipe id {pipe:#x} does not fit in 31 bits");
        self.pipes.attach(pipe);
        if let Some(ids) = &mut self.routing_ids {
            ids.assign(pipe);
        }
    }

    /// libzmq forgets a generated identity with its pipe; so does this model (what
    /// already arrived keeps its hop id, and a reply to it is then unroutable).
    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        self.pipes.detach(pipe);
        if let Some(ids) = &mut self.routing_ids
            && let Some(id) = ids.by_pipe.remove(&pipe)
        {
            ids.pipe_by_id.remove(&id);
        }
    }

    /// Routes by the front hop id, which is popped. A pipe that is attached but whose
    /// transport is down still takes the message, which waits for the reconnect, as
    /// libzmq's does: a ROUTER that connected keeps its pipe, and the id it knows the
    /// peer by, across a drop (`ZMQ_IMMEDIATE` 0), and what it sent meanwhile goes
    /// out on the reconnect to whoever listens there now (measured with pyzmq; row
    /// `zmq-router-reconnects`). A bound ROUTER's pipe goes with its connection
    /// (`detach`). patchbay's ROUTER takes no `immediate`, under which libzmq would
    /// drop the pipe and its id at the drop instead.
    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.send_or_return(msg, now).map_err(|(error, _)| error)
    }

    /// A refused message is handed back untouched, so a blocking send keeps no copy.
    fn send_or_return(&mut self, mut msg: Msg, _now: Duration) -> Result<(), (SendError, Msg)> {
        let target = msg.header.first().and_then(|hop| self.pipe_of(*hop));
        // The common case, a known pipe with room, costs one lookup in the pipe table;
        // which refusal it is, only a refused message asks.
        let Some(pipe) = target.filter(|id| self.pipes.has_room(*id)) else {
            return match target.filter(|id| self.pipes.is_attached(*id)) {
                Some(pipe) => self.refuse(Some(pipe), DropReason::Hwm, SendError::WouldBlock, msg),
                None => self.refuse(None, DropReason::UnknownPeer, SendError::HostUnreachable, msg),
            };
        };
        msg.header.remove(0);
        self.pipes.enqueue(pipe, msg).expect("room was checked");
        Ok(())
    }

    fn on_message(&mut self, pipe: PipeId, mut msg: Msg, _now: Duration) {
        msg.header.insert(0, self.hop_of(pipe));
        self.pipes.push_inbound(pipe, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::super::SocketEvent;
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::*;

    fn router(mandatory: bool, sndhwm: u32) -> Router {
        Router::new(SocketOptions { router_mandatory: mandatory, ..opts(sndhwm, 10) })
    }

    fn dropped(events: Vec<SocketEvent>) -> Vec<(Option<PipeId>, DropReason, Msg)> {
        events
            .into_iter()
            .filter_map(|e| match e {
                SocketEvent::Dropped { pipe, reason, msg } => Some((pipe, reason, msg)),
                _ => None,
            })
            .collect()
    }

    /// NNG's raw REP (`nng_queues`) receives into one socket queue of RCVHWM (1 here),
    /// in arrival order; while it is full each pipe holds one message more and is not
    /// read. libzmq's ROUTER keeps RCVHWM per pipe and fair-queues.
    #[test]
    fn nngs_raw_rep_queues_for_the_socket_and_holds_one_a_pipe_beyond() {
        let mut router = Router::new(SocketOptions { nng_queues: true, ..opts(10, 1) });
        up(&mut router, &[1, 2]);
        let readable = |r: &Router| (r.can_receive(1), r.can_receive(2));
        router.on_message(1, msg(&[0x8000_0001], "a"), ms(0));
        assert_eq!(readable(&router), (true, true), "the socket queue holds a");
        router.on_message(1, msg(&[0x8000_0002], "b"), ms(0));
        assert_eq!(readable(&router), (false, true), "pipe 1 holds b beyond it");
        router.on_message(2, msg(&[0x8000_0003], "c"), ms(0));
        assert_eq!(readable(&router), (false, false), "pipe 2 holds c");
        assert_eq!(router.recv(ms(1)).unwrap().body, "a");
        assert_eq!(readable(&router), (true, false), "b moved into the socket queue");
        let rest: Vec<_> = std::iter::from_fn(|| router.recv(ms(1)).ok()).map(|m| m.body).collect();
        assert_eq!(rest, ["b", "c"], "in arrival order");
        let mut libzmq = Router::new(opts(10, 1));
        up(&mut libzmq, &[1, 2]);
        libzmq.on_message(1, msg(&[0x8000_0001], "a"), ms(0));
        assert_eq!(readable(&libzmq), (false, true), "RCVHWM 1 per pipe");
    }

    #[test]
    fn prepends_the_hop_id_and_routes_the_reply_by_it() {
        let mut router = router(false, 10);
        up(&mut router, &[4, 9]);
        router.on_message(9, msg(&[0x8000_0001], "from9"), ms(0));
        router.on_message(4, msg(&[0x8000_0002], "from4"), ms(0));
        let first = router.recv(ms(0)).unwrap();
        assert_eq!(first, msg(&[4, 0x8000_0002], "from4"));
        let second = router.recv(ms(0)).unwrap();
        assert_eq!(second, msg(&[9, 0x8000_0001], "from9"));
        router.send(Msg { body: "to9".into(), ..second }, ms(1)).unwrap();
        router.send(Msg { body: "to4".into(), ..first }, ms(1)).unwrap();
        assert_eq!(transmit_all(&mut router, 9), [(vec![0x8000_0001], "to9".into())]);
        assert_eq!(transmit_all(&mut router, 4), [(vec![0x8000_0002], "to4".into())]);
    }

    #[test]
    fn a_device_hop_stacks_in_front_of_earlier_hops() {
        let mut router = router(false, 10);
        up(&mut router, &[3]);
        router.on_message(3, msg(&[7, 0x8000_0005], "req"), ms(0));
        assert_eq!(router.recv(ms(0)), Ok(msg(&[3, 7, 0x8000_0005], "req")));
    }

    #[test]
    fn drops_messages_for_unknown_peers_and_says_so() {
        let mut router = router(false, 10);
        up(&mut router, &[1, 2]);
        router.detach(2, ms(0));
        assert_eq!(router.send(msg(&[5, 0x8000_0001], "nobody"), ms(0)), Ok(()));
        assert_eq!(router.send(msg(&[2, 0x8000_0001], "gone"), ms(0)), Ok(()));
        assert_eq!(router.send(msg(&[], "no header"), ms(0)), Ok(()));
        let reasons: Vec<_> =
            dropped(events(&mut router)).into_iter().map(|d| (d.1, d.2)).collect();
        let want = [(5, "nobody"), (2, "gone")]
            .map(|(id, b)| (DropReason::UnknownPeer, msg(&[id, 0x8000_0001], b)));
        assert_eq!(reasons[..2], want);
        assert_eq!(reasons[2], (DropReason::UnknownPeer, msg(&[], "no header")));
        assert_eq!(transmit_all(&mut router, 1), []);
    }

    #[test]
    fn drops_at_a_full_pipe() {
        let mut router = router(false, 1);
        up(&mut router, &[1]);
        router.send(msg(&[1], "a"), ms(0)).unwrap();
        assert_eq!(router.send(msg(&[1], "b"), ms(0)), Ok(()));
        assert_eq!(dropped(events(&mut router)), [(Some(1), DropReason::Hwm, msg(&[1], "b"))]);
        assert_eq!(transmit_all(&mut router, 1), [(vec![], "a".into())]);
    }

    #[test]
    fn mandatory_fails_the_send_instead_of_dropping() {
        let mut router = router(true, 1);
        up(&mut router, &[1]);
        assert_eq!(router.send(msg(&[8], "x"), ms(0)), Err(SendError::HostUnreachable));
        assert_eq!(router.send(msg(&[], "x"), ms(0)), Err(SendError::HostUnreachable));
        router.send(msg(&[1], "a"), ms(0)).unwrap();
        assert_eq!(router.send(msg(&[1], "b"), ms(0)), Err(SendError::WouldBlock));
        assert_eq!(dropped(events(&mut router)), []);
    }

    /// A refused send hands the very message back (its header still in the `Vec` it
    /// was sent in), with its hop id still in front: a blocking send keeps no copy.
    #[test]
    fn a_mandatory_refusal_hands_the_message_itself_back() {
        let mut router = router(true, 1);
        up(&mut router, &[1]);
        let unknown = msg(&[8], "x");
        let header_at = unknown.header.as_ptr();
        let (error, back) = router.send_or_return(unknown, ms(0)).unwrap_err();
        assert_eq!((error, back.header.as_ptr()), (SendError::HostUnreachable, header_at));
        assert_eq!(back, msg(&[8], "x"));
        router.send_or_return(msg(&[1], "a"), ms(0)).unwrap();
        let (error, back) = router.send_or_return(msg(&[1], "b"), ms(0)).unwrap_err();
        assert_eq!((error, back), (SendError::WouldBlock, msg(&[1], "b")));
        assert_eq!(transmit_all(&mut router, 1), [(vec![], "a".into())]);
    }

    fn zeromq_router() -> Router {
        Router::new(SocketOptions { zmtp: true, ..opts(10, 10) })
    }

    #[test]
    fn a_zeromq_router_tags_connections_with_libzmqs_generated_ids_and_routes_by_them() {
        let mut router = zeromq_router();
        up(&mut router, &[7, 3]);
        router.on_message(3, msg(&[0x8000_0001], "from3"), ms(0));
        router.on_message(7, msg(&[0x8000_0002], "from7"), ms(0));
        let got: Vec<_> = std::iter::from_fn(|| router.recv(ms(0)).ok()).collect();
        // Ids follow attach order (7 first), as libzmq's follow connection order.
        assert_eq!(
            got,
            [msg(&[0x6b8b_4568, 0x8000_0001], "from3"), msg(&[0x6b8b_4567, 0x8000_0002], "from7")]
        );
        router.send(msg(&[0x6b8b_4568, 0x8000_0001], "to3"), ms(1)).unwrap();
        assert_eq!(transmit_all(&mut router, 3), [(vec![0x8000_0001], "to3".into())]);
        // A pipe id is not a routing id here.
        router.send(msg(&[3, 0x8000_0001], "by pipe id"), ms(1)).unwrap();
        let dropped = dropped(events(&mut router));
        assert_eq!(
            dropped,
            [(None, DropReason::UnknownPeer, msg(&[3, 0x8000_0001], "by pipe id"))]
        );
    }

    #[test]
    fn a_zeromq_router_forgets_a_detached_pipes_id_and_never_reuses_it() {
        let mut router = zeromq_router();
        up(&mut router, &[1]);
        router.detach(1, ms(0));
        up(&mut router, &[2]);
        router.on_message(2, msg(&[], "x"), ms(0));
        assert_eq!(router.recv(ms(0)), Ok(msg(&[0x6b8b_4568], "x")));
        router.send(msg(&[0x6b8b_4567], "to the gone"), ms(0)).unwrap();
        assert_eq!(dropped(events(&mut router))[0].1, DropReason::UnknownPeer);
    }

    #[test]
    fn routing_ids_wrap_inside_bit_30s_range() {
        let mut ids =
            RoutingIds { next: 0x7fff_ffff, by_pipe: BTreeMap::new(), pipe_by_id: BTreeMap::new() };
        ids.assign(1);
        ids.assign(2);
        assert_eq!(ids.by_pipe.values().copied().collect::<Vec<_>>(), [0x7fff_ffff, 0x4000_0000]);
    }

    #[test]
    fn receives_fair_queued_across_pipes() {
        let mut router = router(false, 10);
        up(&mut router, &[1, 2]);
        for (pipe, body) in [(2, "b1"), (2, "b2"), (1, "a1")] {
            router.on_message(pipe, msg(&[], body), ms(0));
        }
        let got: Vec<_> = std::iter::from_fn(|| router.recv(ms(0)).ok()).collect();
        assert_eq!(got, [msg(&[1], "a1"), msg(&[2], "b1"), msg(&[2], "b2")]);
    }
}
