//! REP: receives requests fair-queued across pipes and answers each on the pipe it
//! came from, with the backtrace it came with.
//!
//! The backtrace is the SP header up to and including the request id (the first id
//! with the high bit set): the hop ids that ROUTERs and devices pushed on the way, then
//! the requester's id. A reply carries it back so each hop can pop its id and route
//! (docs/sp-wire.md). A reply to a requester that has gone is
//! discarded, as in NNG, but reported here as `PeerGone`.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::pipes::Pipes;
use super::{
    DropReason, Msg, PipeId, REQUEST_ID_BIT, RecvError, SendError, SocketCore, SocketOptions,
    SocketType,
};

/// The request the application received last and has not answered yet.
#[derive(Debug)]
struct Pending {
    pipe: PipeId,
    backtrace: Vec<u32>,
}

#[derive(Debug)]
/// A REP core: one request at a time, its reply routed back by the request's stack.
pub struct Rep {
    pipes: Pipes,
    pending: Option<Pending>,
    /// Every receive abandons the pending request (`SocketOptions::rep_recv_cancels`).
    recv_cancels: bool,
    /// A receive with a request pending fails (`SocketOptions::rep_strict`).
    strict: bool,
}

impl Rep {
    /// A REP core with these options.
    pub fn new(options: SocketOptions) -> Rep {
        let mut pipes = Pipes::new(&options);
        // An SP reply goes only on the connection its request came in on.
        pipes.pipe_per_connection(&options);
        Rep {
            pipes,
            pending: None,
            recv_cancels: options.rep_recv_cancels,
            strict: options.rep_strict,
        }
    }
}

/// Splits a request into backtrace and body, or gives it back when no id has the
/// request bit.
fn split_request(mut msg: Msg) -> Result<Msg, Msg> {
    let Some(at) = msg.header.iter().position(|id| id & REQUEST_ID_BIT != 0) else {
        return Err(msg);
    };
    spill_header(&mut msg, at + 1);
    Ok(msg)
}

/// Keeps the first `keep` ids of the header and moves the rest into the body.
///
/// On the SP wire the header ends at the request id and anything after it is body.
/// A header that goes on past it (a DEALER application that pushed extra ids) is
/// given the wire's reading: those ids become the first bytes of the body,
/// big-endian, exactly as a real REP or REQ would see them.
pub(super) fn spill_header(msg: &mut Msg, keep: usize) {
    if keep >= msg.header.len() {
        return;
    }
    let extra = msg.header.split_off(keep);
    let mut body = BytesMut::with_capacity(extra.len() * 4 + msg.body.len());
    extra.iter().for_each(|id| body.put_u32(*id));
    body.put_slice(&msg.body);
    msg.body = Bytes::from(body);
}

impl SocketCore for Rep {
    fn socket_type(&self) -> SocketType {
        SocketType::Rep
    }

    pipes_in_field!(pipes);

    /// Answers the pending request. A full pipe drops the reply: REP's HWM policy is
    /// to drop, as in libzmq where a REP sends through a ROUTER-like pipe table.
    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.send_or_return(msg, now).map_err(|(error, _)| error)
    }

    /// Refuses only with no request to answer, before touching the message, so it is
    /// handed back untouched and a blocking send keeps no copy.
    fn send_or_return(&mut self, msg: Msg, _now: Duration) -> Result<(), (SendError, Msg)> {
        let Some(Pending { pipe, backtrace }) = self.pending.take() else {
            return Err((SendError::State, msg));
        };
        let reply = Msg { header: backtrace, body: msg.body };
        // An SP library's pipe is its connection (`Pipes::pipe_per_connection`): a
        // dialling REP's whose connection is down is gone. (One that went and came
        // back is taken for the same pipe: a request is not tied to its connection.)
        if !self.pipes.takes_copies(pipe) {
            self.pipes.drop_msg(Some(pipe), DropReason::PeerGone, reply);
            return Ok(());
        }
        self.pipes.enqueue_or_drop(pipe, reply);
        Ok(())
    }

    /// Takes the next request. One received but not answered yet is abandoned: NNG's
    /// REP forgets it and answers only the newest, and the abandoned requester's REQ
    /// will resend or time out. nanomsg's REP abandons it at every receive, one that
    /// finds nothing too (`rep_recv_cancels`); libzmq's refuses the receive and keeps
    /// it (`rep_strict`).
    fn recv(&mut self, _now: Duration) -> Result<Msg, RecvError> {
        if self.strict && self.pending.is_some() {
            return Err(RecvError::State);
        }
        if self.recv_cancels {
            self.pending = None;
        }
        let (pipe, msg) = self.pipes.pop_inbound().ok_or(RecvError::WouldBlock)?;
        self.pending = Some(Pending { pipe, backtrace: msg.header.clone() });
        Ok(msg)
    }

    fn on_message(&mut self, pipe: PipeId, msg: Msg, _now: Duration) {
        match split_request(msg) {
            Ok(request) => self.pipes.push_inbound(pipe, request),
            Err(msg) => self.pipes.drop_msg(Some(pipe), DropReason::Malformed, msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::SocketEvent;
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::*;

    const RID: u32 = 0x8000_0042;

    fn rep() -> Rep {
        let mut rep = Rep::new(opts(10, 10));
        up(&mut rep, &[1, 2]);
        rep
    }

    #[test]
    fn keeps_the_backtrace_with_device_hops_and_puts_it_back_on_the_reply() {
        let mut rep = rep();
        rep.on_message(2, msg(&[3, 9, RID], "question"), ms(0));
        assert_eq!(rep.recv(ms(0)), Ok(msg(&[3, 9, RID], "question")));
        rep.send(msg(&[], "answer"), ms(1)).unwrap();
        assert_eq!(transmit_all(&mut rep, 2), [(vec![3, 9, RID], "answer".into())]);
        assert_eq!(transmit_all(&mut rep, 1), []);
    }

    /// With no request to answer the very message comes back, untouched; the next
    /// request's answer goes out as usual.
    #[test]
    fn a_send_without_a_request_hands_the_message_itself_back() {
        let mut rep = rep();
        let early = msg(&[5], "too early");
        let header_at = early.header.as_ptr();
        let (error, back) = rep.send_or_return(early, ms(0)).unwrap_err();
        assert_eq!((error, back.header.as_ptr()), (SendError::State, header_at));
        assert_eq!(back, msg(&[5], "too early"));
        rep.on_message(1, msg(&[RID], "q"), ms(0));
        rep.recv(ms(0)).unwrap();
        assert_eq!(rep.send_or_return(msg(&[], "a"), ms(1)), Ok(()));
        assert_eq!(transmit_all(&mut rep, 1), [(vec![RID], "a".into())]);
    }

    #[test]
    fn ids_after_the_request_id_are_body_as_on_the_wire() {
        let mut rep = rep();
        rep.on_message(1, msg(&[RID, 0x0102_0304], "xy"), ms(0));
        let got = rep.recv(ms(0)).unwrap();
        assert_eq!(got.header, [RID]);
        assert_eq!(&got.body[..], b"\x01\x02\x03\x04xy");
    }

    #[test]
    fn a_request_without_a_request_id_is_malformed() {
        let mut rep = rep();
        rep.on_message(1, msg(&[3, 9], "no id"), ms(0));
        let want = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::Malformed,
            msg: msg(&[3, 9], "no id"),
        };
        assert_eq!(events(&mut rep), [want]);
        assert_eq!(rep.recv(ms(0)), Err(RecvError::WouldBlock));
    }

    #[test]
    fn a_reply_to_a_vanished_requester_is_dropped_as_peer_gone() {
        let mut rep = rep();
        rep.on_message(1, msg(&[RID], "q"), ms(0));
        rep.recv(ms(0)).unwrap();
        rep.detach(1, ms(1));
        events(&mut rep);
        assert_eq!(rep.send(msg(&[], "a"), ms(2)), Ok(()));
        let want = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::PeerGone,
            msg: msg(&[RID], "a"),
        };
        assert_eq!(events(&mut rep), [want]);
    }

    #[test]
    fn send_needs_a_request_to_answer() {
        let mut rep = rep();
        assert_eq!(rep.send(msg(&[], "a"), ms(0)), Err(SendError::State));
        rep.on_message(1, msg(&[RID], "q"), ms(0));
        rep.recv(ms(0)).unwrap();
        assert_eq!(rep.send(msg(&[], "a"), ms(0)), Ok(()));
        assert_eq!(rep.send(msg(&[], "again"), ms(0)), Err(SendError::State));
    }

    #[test]
    fn a_second_recv_abandons_the_unanswered_request() {
        let mut rep = rep();
        rep.on_message(1, msg(&[0x8000_0001], "first"), ms(0));
        rep.on_message(2, msg(&[0x8000_0002], "second"), ms(0));
        rep.recv(ms(0)).unwrap();
        rep.recv(ms(0)).unwrap();
        rep.send(msg(&[], "answer"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut rep, 1), []);
        assert_eq!(transmit_all(&mut rep, 2), [(vec![0x8000_0002], "answer".into())]);
        assert_eq!(rep.send(msg(&[], "answer"), ms(0)), Err(SendError::State));
    }

    #[test]
    fn an_empty_recv_keeps_the_pending_request() {
        let mut rep = rep();
        rep.on_message(1, msg(&[RID], "q"), ms(0));
        rep.recv(ms(0)).unwrap();
        assert_eq!(rep.recv(ms(0)), Err(RecvError::WouldBlock));
        rep.send(msg(&[], "a"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut rep, 1), [(vec![RID], "a".into())]);
    }

    /// nanomsg's REP (`rep_recv_cancels`) abandons the request at the empty receive,
    /// so the reply has nothing to answer (nanomsg's EFSM).
    #[test]
    fn at_nanomsg_an_empty_recv_abandons_the_pending_request() {
        let mut rep = Rep::new(SocketOptions { rep_recv_cancels: true, ..opts(10, 10) });
        up(&mut rep, &[1, 2]);
        rep.on_message(1, msg(&[RID], "q"), ms(0));
        rep.recv(ms(0)).unwrap();
        assert_eq!(rep.recv(ms(0)), Err(RecvError::WouldBlock));
        assert_eq!(rep.send(msg(&[], "a"), ms(0)), Err(SendError::State));
        assert_eq!(transmit_all(&mut rep, 1), []);
    }

    /// libzmq's REP (`rep_strict`) refuses a receive while a request is unanswered,
    /// even with another request waiting, and answers the first.
    #[test]
    fn at_libzmq_a_receive_before_the_reply_is_refused_and_the_request_kept() {
        let mut rep = Rep::new(SocketOptions { rep_strict: true, ..opts(10, 10) });
        up(&mut rep, &[1, 2]);
        rep.on_message(1, msg(&[RID], "q1"), ms(0));
        rep.on_message(2, msg(&[RID], "q2"), ms(0));
        assert_eq!(rep.recv(ms(0)).map(|m| m.body), Ok("q1".into()));
        assert_eq!(rep.recv(ms(0)), Err(RecvError::State));
        rep.send(msg(&[], "a"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut rep, 1), [(vec![RID], "a".into())]);
        assert_eq!(rep.recv(ms(0)).map(|m| m.body), Ok("q2".into()));
    }

    #[test]
    fn receives_fair_queued_across_pipes() {
        let mut rep = rep();
        for (pipe, body) in [(1, "a1"), (1, "a2"), (2, "b1")] {
            rep.on_message(pipe, msg(&[RID], body), ms(0));
        }
        let got: Vec<_> = std::iter::from_fn(|| rep.recv(ms(0)).ok()).map(|m| m.body).collect();
        assert_eq!(got, ["a1", "b1", "a2"]);
    }

    #[test]
    fn a_reply_to_a_full_pipe_is_dropped() {
        let mut rep = Rep::new(opts(1, 10));
        up(&mut rep, &[1]);
        for body in ["q1", "q2"] {
            rep.on_message(1, msg(&[RID], body), ms(0));
        }
        for body in ["a1", "a2"] {
            rep.recv(ms(0)).unwrap();
            rep.send(msg(&[], body), ms(0)).unwrap();
        }
        let drops: Vec<_> = events(&mut rep)
            .into_iter()
            .filter(|e| matches!(e, SocketEvent::Dropped { reason: DropReason::Hwm, .. }))
            .collect();
        assert_eq!(drops.len(), 1);
        assert_eq!(transmit_all(&mut rep, 1), [(vec![RID], "a1".into())]);
    }

    /// An SP REP's pipe is its connection: a reply to a request whose connection
    /// has gone down is dropped (`PeerGone`), not queued for the next connection.
    #[test]
    fn an_sp_reply_whose_connection_is_down_is_dropped() {
        use super::super::DropReason;
        use super::super::pipes::testing::per_connection;
        let mut rep = Rep::new(per_connection(10, 10));
        up(&mut rep, &[1]);
        rep.on_message(1, msg(&[RID], "q"), ms(0));
        assert_eq!(rep.recv(ms(1)).unwrap().body, "q");
        rep.set_connected(1, false, ms(2));
        rep.send(msg(&[], "a"), ms(3)).unwrap();
        let gone = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::PeerGone,
            msg: msg(&[RID], "a"),
        };
        assert!(events(&mut rep).contains(&gone));
        rep.set_connected(1, true, ms(4));
        assert_eq!(transmit_all(&mut rep, 1), []);
    }
}
