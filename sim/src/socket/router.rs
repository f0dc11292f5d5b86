//! ROUTER (NNG's raw REP, ZeroMQ's XREP): tags each incoming message with the pipe it
//! came from and routes each outgoing message by the tag at the front of its header.
//!
//! The tag is the pipe id pushed onto the front of the SP backtrace as a hop id (high
//! bit clear), which is how this model stands in for ZeroMQ's identity frame. A
//! message for a pipe the ROUTER does not know, or for a full one, is dropped and
//! reported; with `router_mandatory` the send fails instead (docs/library-semantics.md,
//! "High-water marks").

use std::time::Duration;

use super::pipes::Pipes;
use super::{
    DropReason, Msg, PipeId, REQUEST_ID_BIT, SendError, SocketCore, SocketOptions, SocketType,
};

#[derive(Debug)]
/// A ROUTER core: pushes each peer's hop id on arrival and routes replies by it.
pub struct Router {
    pipes: Pipes,
    /// `ZMQ_ROUTER_MANDATORY`: report unroutable sends to the application as errors.
    mandatory: bool,
}

impl Router {
    /// A ROUTER core with these options.
    pub fn new(options: SocketOptions) -> Router {
        Router { mandatory: options.router_mandatory, pipes: Pipes::new(&options) }
    }

    /// Drops an unroutable message, or hands `error` to the application when
    /// `router_mandatory` is set (then the message is the application's to keep).
    fn refuse(
        &mut self,
        pipe: Option<PipeId>,
        reason: DropReason,
        error: SendError,
        msg: Msg,
    ) -> Result<(), SendError> {
        if self.mandatory {
            return Err(error);
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
    }

    /// Routes by the front hop id, which is popped. A pipe that is attached but whose
    /// transport is down still takes the message, which waits for the reconnect.
    /// Deviation: libzmq forgets a peer's identity the moment its connection drops
    /// and would drop the message; here the connecting side's pipe outlives the drop.
    fn send(&mut self, mut msg: Msg, _now: Duration) -> Result<(), SendError> {
        let target = (!msg.header.is_empty()).then(|| msg.header[0]);
        let Some(pipe) = target.filter(|id| self.pipes.is_attached(*id)) else {
            return self.refuse(None, DropReason::UnknownPeer, SendError::HostUnreachable, msg);
        };
        if !self.pipes.has_room(pipe) {
            return self.refuse(Some(pipe), DropReason::Hwm, SendError::WouldBlock, msg);
        }
        msg.header.remove(0);
        self.pipes.enqueue(pipe, msg).expect("room was checked");
        Ok(())
    }

    fn on_message(&mut self, pipe: PipeId, mut msg: Msg, _now: Duration) {
        msg.header.insert(0, pipe);
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
