//! REQ: one outstanding request, tagged with a request id, with nanomsg/NNG's
//! semantics or libzmq's as the options say (docs/library-semantics.md, "REQ, library by
//! library").
//!
//! nanomsg and NNG (the default): what sends the request (again) is the application's
//! send; the resend timer; the loss of the pipe it went out on (at once, to another
//! connected pipe); a pipe becoming available while it waits. A new send cancels the
//! outstanding request, and a reply to anything but the outstanding id is dropped as
//! late. The request is never in two pipe queues at once, so a pipe's outbound queue
//! holds at most the current request.
//!
//! NNG with resends off (`req_reset_on_pipe_loss`, from `req_resend_ivl: off`): the
//! loss of the pipe the request went out on abandons it (reported `Cancelled`) and
//! fails the application's pending receive, or its next, with
//! [`RecvError::ConnectionReset`] (NNG's `req0_pipe_close`, `NNG_ECONNRESET`);
//! nothing is sent again, and the socket takes a new request.
//!
//! libzmq (`req_resend_on_pipe_loss` off, `req_strict` on): the request goes to one
//! pipe and stays there. A connection that drops and comes back keeps the pipe, so a
//! request still queued goes out on the new connection, but one already written is
//! gone; a pipe that is closed takes the request with it. Either way nothing sends it
//! again and the REQ waits for its reply for ever: a second send before that reply
//! has been received is refused with a state error (`EFSM`).

use std::time::Duration;

use super::deal::Deal;
use super::pipes::Pipes;
use super::rep::spill_header;
use super::resend_tick::ResendTick;
use super::{
    DropReason, Msg, PipeId, REQUEST_ID_BIT, RecvError, SendError, SocketCore, SocketEvent,
    SocketOptions, SocketType,
};

/// Where the outstanding request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    /// No pipe can take it; it goes out when a pipe is attached or connects.
    Waiting,
    /// In this pipe's outbound queue, not written yet.
    Queued(PipeId),
    /// Written on this pipe; the reply may come back on any pipe.
    Sent(PipeId),
    /// Gone with a pipe that closed, and never sent again (libzmq): only a reply from
    /// a peer that got it before the pipe went could still end the wait.
    Lost,
}

/// The request awaiting its reply.
#[derive(Debug)]
struct Outstanding {
    /// The request id, high bit set.
    id: u32,
    /// The request as it goes on the wire: header `[id]`, then the body.
    msg: Msg,
    placement: Placement,
    /// Whether the request has been on a pipe's queue before: every placement after
    /// the first is reported as `Resent`, at the moment it is queued again (which, on
    /// a pipe still connecting, is before it is written).
    placed_before: bool,
    /// When the resend timer fires; `None` when resending is off.
    deadline: Option<Duration>,
}

#[derive(Debug)]
/// A REQ core: one outstanding request, resent on its interval or a pipe change.
pub struct Req {
    pipes: Pipes,
    resend_ivl: Option<Duration>,
    /// NNG 1.11's resend tick (`resend_tick.rs`); `None` resends once per interval,
    /// on time (nanomsg, NNG 1.6).
    tick: Option<ResendTick>,
    /// Whether losing the request's pipe sends it again elsewhere (nanomsg, NNG).
    resend_on_pipe_loss: bool,
    /// Whether losing the request's pipe abandons it and fails the receive (NNG with
    /// resends off); before `resend_on_pipe_loss`.
    reset_on_pipe_loss: bool,
    /// Set when a request was abandoned so: the next receive fails with
    /// `ConnectionReset`, once (NNG's `conn_reset`). A new send clears it.
    conn_reset: bool,
    /// Whether a send before the reply has been received is refused (libzmq).
    strict: bool,
    /// Whether replies are matched by request id, or taken from the request's pipe.
    correlate: bool,
    /// Whether a send waits until a connected pipe takes the request (NNG).
    send_waits: bool,
    /// True from a send until its reply is received by the application: libzmq's
    /// "receiving reply" state, which outlasts `outstanding` by the unread reply.
    awaiting_recv: bool,
    /// The id the next request gets.
    next_request_id: u32,
    /// `None` is the idle state: nothing sent, or the reply accepted.
    outstanding: Option<Outstanding>,
    /// True while the resend timer is placing the request, so the `Resent` event can
    /// say whether the interval or a lost pipe caused it (the `resend_interval` check
    /// times only the former).
    timer_firing: bool,
}

/// Request ids keep the high bit set and count up through the other 31 bits.
fn as_request_id(counter: u32) -> u32 {
    counter | REQUEST_ID_BIT
}

impl Req {
    /// `first_request_id` comes from the run's seeded random source, as NNG starts at a
    /// random id; its high bit is set here whatever it was.
    pub fn new(options: SocketOptions, first_request_id: u32) -> Req {
        let mut pipes = Pipes::new(&options);
        // libzmq's REQ deals as its PUSH does; an SP REQ (and one whose library is
        // not named, which behaves as NNG's) sends to the pipe idle longest.
        pipes.deal_in(if options.zmtp { Deal::libzmq() } else { Deal::ready_list() });
        Req {
            pipes,
            resend_ivl: options.req_resend_ivl,
            tick: options.req_resend_tick.map(ResendTick::new),
            resend_on_pipe_loss: options.req_resend_on_pipe_loss,
            reset_on_pipe_loss: options.req_reset_on_pipe_loss,
            conn_reset: false,
            strict: options.req_strict,
            correlate: options.req_correlate,
            send_waits: options.req_send_waits,
            awaiting_recv: false,
            next_request_id: as_request_id(first_request_id),
            outstanding: None,
            timer_firing: false,
        }
    }

    fn take_request_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = as_request_id(id.wrapping_add(1));
        id
    }

    /// Abandons the outstanding request for a new one: it leaves its queue, a late
    /// reply to it will be dropped, and an accepted reply nobody read is stale too.
    fn cancel(&mut self) {
        while let Some((pipe, reply)) = self.pipes.pop_inbound() {
            self.pipes.drop_msg(Some(pipe), DropReason::LateReply, reply);
        }
        if self.outstanding.is_some() {
            self.unqueue();
            let old = self.outstanding.take().expect("checked above");
            self.pipes.push_event(SocketEvent::Cancelled { request_id: old.id });
        }
    }

    /// Takes the request out of the pipe queue it sits in, so that placing it again
    /// never leaves a duplicate behind.
    fn unqueue(&mut self) {
        let Some(out) = self.outstanding.as_mut() else { return };
        if let Placement::Queued(pipe) = out.placement {
            let id = out.id;
            self.pipes.take_outbound(pipe, |m| m.request_id() == Some(id));
            out.placement = Placement::Waiting;
        }
    }

    /// Puts the request on the next pipe in the library's order (`deal.rs`),
    /// preferring pipes whose transport is up (nanomsg, NNG); with `connected_only`,
    /// only those. libzmq's `lb_t` prefers none (`Pipes::next_sendable` ignores the
    /// preference for it): it takes every pipe in turn, one still connecting too, so a
    /// request may wait on a peer that is not up while another could answer it (the
    /// conformance row `zmq-req-connecting`). With no such pipe the request stays
    /// where it is, and if the choice is the queue it already sits in nothing changes:
    /// it has not been written, so there is nothing to resend.
    fn place(&mut self, connected_only: bool) {
        let Some(current) = self.placement() else { return };
        let chosen = self
            .pipes
            .next_sendable(true)
            .or_else(|| if connected_only { None } else { self.pipes.next_sendable(false) });
        let Some(pipe) = chosen.filter(|p| current != Placement::Queued(*p)) else { return };
        self.unqueue();
        self.put_on(pipe);
    }

    fn put_on(&mut self, pipe: PipeId) {
        let out = self.outstanding.as_mut().expect("only called with a request");
        let depth = self.pipes.push_outbound(pipe, out.msg.clone()).expect("chosen for its room");
        let msg = self.pipes.event_msg(&out.msg);
        let event = if out.placed_before {
            SocketEvent::Resent { pipe, request_id: out.id, timer: self.timer_firing, msg }
        } else {
            SocketEvent::Enqueued { pipe, depth, msg }
        };
        out.placed_before = true;
        out.placement = Placement::Queued(pipe);
        self.pipes.push_event(event);
    }

    /// NNG with resends off: the pipe holding the request is lost, so the request is
    /// abandoned (lifted off that pipe's queue if it was not written, so it is not
    /// reported as dropped there) and the receive fails. Nothing outstanding is left
    /// for the steps after it to move.
    fn reset_if_on(&mut self, pipe: PipeId) {
        let on_pipe = matches!(self.placement(),
            Some(Placement::Queued(p) | Placement::Sent(p)) if p == pipe);
        if on_pipe && self.reset_on_pipe_loss {
            self.unqueue();
            let lost = self.outstanding.take().expect("placed");
            self.pipes.push_event(SocketEvent::Cancelled { request_id: lost.id });
            self.conn_reset = true;
        }
    }

    fn placement(&self) -> Option<Placement> {
        self.outstanding.as_ref().map(|out| out.placement)
    }

    /// A reply that matches the outstanding id ends the request; anything else is the
    /// answer to a request given up on (or a second answer to this one) and is dropped.
    /// Without correlation (libzmq's default) any reply on the request's pipe ends
    /// it, and on any pipe once that pipe is gone.
    fn accept_reply(&mut self, pipe: PipeId, mut reply: Msg, now: Duration) {
        let id = reply.header[0];
        let ends_request = |out: &Outstanding| match out.placement {
            _ if out.id == id => true,
            _ if self.correlate => false,
            Placement::Sent(p) | Placement::Queued(p) => p == pipe,
            Placement::Lost => true,
            Placement::Waiting => false,
        };
        if !self.outstanding.as_ref().is_some_and(ends_request) {
            return self.pipes.drop_msg(Some(pipe), DropReason::LateReply, reply);
        }
        self.unqueue();
        self.outstanding = None;
        if let Some(tick) = self.tick.as_mut() {
            tick.on_idle(now);
        }
        spill_header(&mut reply, 1);
        reply.header.clear();
        self.pipes.push_inbound(pipe, reply);
    }
}

impl SocketCore for Req {
    fn socket_type(&self) -> SocketType {
        SocketType::Req
    }

    pipes_in_field!(pipes);

    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        self.pipes.attach(pipe);
        if self.placement() == Some(Placement::Waiting) {
            self.place(false);
        }
    }

    /// A pipe coming up takes a request that waits or sits on a pipe still down (NNG
    /// hands the request to the first peer ready). The pipe the request went out on
    /// going down sends it again at once, to a connected pipe if there is one, else
    /// onto a pipe still down, to go out when one comes up. The resend deadline is not
    /// moved by such a resend (NNG restarts it whenever a pipe takes the request, in
    /// `req0_run_send_queue`; the difference only shifts the next timer resend).
    ///
    /// libzmq moves nothing: a request stays in the pipe it was given to, and one
    /// already written on a connection that dropped is lost. NNG with resends off
    /// abandons it and fails the receive (an NNG pipe is its connection).
    fn set_connected(&mut self, pipe: PipeId, connected: bool, _now: Duration) {
        if !connected {
            self.reset_if_on(pipe);
        }
        self.pipes.set_connected(pipe, connected);
        // libzmq with `ZMQ_IMMEDIATE` terminates the pipe of a connection that drops:
        // a request still queued on it is gone with it (`Pipes` reported it).
        if !connected
            && !self.resend_on_pipe_loss
            && self.pipes.is_immediate()
            && self.placement() == Some(Placement::Queued(pipe))
        {
            self.outstanding.as_mut().expect("placed").placement = Placement::Lost;
            return;
        }
        match self.placement() {
            Some(Placement::Waiting) if connected => self.place(true),
            _ if !self.resend_on_pipe_loss => {}
            Some(Placement::Queued(q)) if connected && !self.pipes.is_connected(q) => {
                self.place(true)
            }
            Some(Placement::Sent(p)) if !connected && p == pipe => self.place(false),
            Some(Placement::Queued(p)) if !connected && p == pipe => self.place(true),
            _ => {}
        }
    }

    /// The request is lifted off a dying pipe before the pipe drops its queue, so it
    /// is resent elsewhere rather than reported `PipeClosed`. libzmq leaves it to die
    /// with the pipe (reported `PipeClosed` if it was still queued) and waits on; NNG
    /// with resends off abandons it and fails the receive.
    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        self.reset_if_on(pipe);
        let on_pipe = matches!(self.placement(),
            Some(Placement::Queued(p) | Placement::Sent(p)) if p == pipe);
        if on_pipe && !self.resend_on_pipe_loss {
            self.outstanding.as_mut().expect("placed").placement = Placement::Lost;
            return self.pipes.detach(pipe);
        }
        if on_pipe {
            self.unqueue();
            self.outstanding.as_mut().expect("placed").placement = Placement::Waiting;
        }
        self.pipes.detach(pipe);
        if on_pipe {
            self.place(false);
        }
    }

    /// Sends a new request, cancelling any outstanding one (NNG; libzmq with
    /// `REQ_RELAXED` and `REQ_CORRELATE`). The application's header is replaced by the
    /// request id. With no pipe the request waits for one, so this never blocks
    /// (libzmq, nanomsg), except with `req_send_waits` (NNG): then a send with no
    /// connected pipe to take it blocks, having cancelled the outstanding request, as
    /// NNG's `req0_ctx_send` does. The resend timer starts now, which for NNG is when
    /// a pipe takes the request, as NNG starts it.
    /// With NNG 1.11's tick the first resend is the first tick at or after the
    /// resend time.
    /// A strict REQ (libzmq) refuses the send while the last reply is unread.
    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.send_or_return(msg, now).map_err(|(error, _)| error)
    }

    /// Refuses only a strict REQ's second request, before touching the message, so it
    /// is handed back untouched and a blocking send keeps no copy.
    fn send_or_return(&mut self, msg: Msg, now: Duration) -> Result<(), (SendError, Msg)> {
        if self.strict && self.awaiting_recv {
            return Err((SendError::State, msg));
        }
        // A new request ends a reset nobody read, as NNG's `req0_ctx_send` does
        // (`req0_ctx_reset`), even if it then waits for a pipe.
        self.conn_reset = false;
        if self.send_waits {
            // NNG's `req0_ctx_send` cancels the outstanding request first, which frees
            // the pipe it sat on unwritten, then keeps the send pending until a pipe
            // is ready: the caller blocks and tries again. Checking before the cancel
            // refused a send that pipe could take, and nothing woke the caller again.
            self.cancel();
            if !self.pipes.any_sendable(true) {
                return Err((SendError::WouldBlock, msg));
            }
        }
        self.awaiting_recv = true;
        self.cancel();
        let id = self.take_request_id();
        let deadline = self.resend_ivl.map(|ivl| match self.tick.as_mut() {
            Some(tick) => {
                tick.on_send(now);
                tick.at_or_after(now + ivl)
            }
            None => now + ivl,
        });
        self.outstanding = Some(Outstanding {
            id,
            msg: Msg { header: vec![id], body: msg.body },
            placement: Placement::Waiting,
            placed_before: false,
            deadline,
        });
        self.place(false);
        Ok(())
    }

    fn recv(&mut self, _now: Duration) -> Result<Msg, RecvError> {
        match self.pipes.pop_inbound() {
            Some((_, reply)) => {
                self.awaiting_recv = false;
                Ok(reply)
            }
            None if self.outstanding.is_some() => Err(RecvError::WouldBlock),
            None if self.conn_reset => {
                self.conn_reset = false;
                self.awaiting_recv = false;
                Err(RecvError::ConnectionReset)
            }
            None => Err(RecvError::State),
        }
    }

    /// A reply must start with a request id; REQ is the end of the route, so a hop id
    /// in front (or nothing at all) means the reply is malformed, and it is dropped:
    /// NNG's and nanomsg's REQ find no request of that id and discard it, keeping the
    /// pipe. A reply too short for any id never gets here: on SP the driver closes
    /// its connection where the library does (NNG; `SpProtocol::closes_connection`)
    /// and reports the drop where it does not (nanomsg).
    fn on_message(&mut self, pipe: PipeId, msg: Msg, now: Duration) {
        if !self.pipes.can_receive(pipe) {
            // Gone or full: the pipes report it without the reply ending the request.
            return self.pipes.push_inbound(pipe, msg);
        }
        match msg.header.first() {
            Some(id) if id & REQUEST_ID_BIT != 0 => self.accept_reply(pipe, msg, now),
            _ => self.pipes.drop_msg(Some(pipe), DropReason::Malformed, msg),
        }
    }

    fn poll_transmit(&mut self, pipe: PipeId, _now: Duration) -> Option<Msg> {
        let msg = self.pipes.pop_outbound(pipe)?;
        if let Some(out) =
            self.outstanding.as_mut().filter(|o| o.placement == Placement::Queued(pipe))
        {
            out.placement = Placement::Sent(pipe);
        }
        Some(msg)
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.outstanding.as_ref().and_then(|out| out.deadline)
    }

    /// Without a tick, one resend per interval, as nanomsg and NNG up to 1.6 do: the
    /// next deadline is a full interval after this resend. With NNG 1.11's tick the
    /// resend time is never moved forward, so the next resend is the next tick
    /// (`resend_tick.rs`).
    fn on_timeout(&mut self, now: Duration) {
        let resend_ivl = self.resend_ivl;
        let next_tick = self.tick.as_ref().map(|tick| tick.after(now));
        let Some(out) = self.outstanding.as_mut() else { return };
        if out.deadline.is_none_or(|deadline| now < deadline) {
            return;
        }
        out.deadline = resend_ivl.map(|ivl| next_tick.unwrap_or(now + ivl));
        self.timer_firing = true;
        self.place(false);
        self.timer_firing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::super::EventMsg;
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::*;

    const IVL_MS: u64 = 10_000;
    const FIRST: u32 = 0x8000_0007;

    fn req(resend_ivl: Option<Duration>) -> Req {
        Req::new(SocketOptions { req_resend_ivl: resend_ivl, ..opts(10, 10) }, 7)
    }

    fn resending() -> Req {
        req(Some(ms(IVL_MS)))
    }

    /// `(pipe, request id)` of every `Resent` event.
    fn resends(events: &[SocketEvent]) -> Vec<(PipeId, u32)> {
        events
            .iter()
            .filter_map(|e| match e {
                SocketEvent::Resent { pipe, request_id, .. } => Some((*pipe, *request_id)),
                _ => None,
            })
            .collect()
    }

    fn reply(id: u32, body: &'static str) -> Msg {
        msg(&[id], body)
    }

    #[test]
    fn tags_requests_with_consecutive_ids_replacing_the_header() {
        let mut req = resending();
        up(&mut req, &[1]);
        req.send(msg(&[99, 98], "a"), ms(0)).unwrap();
        req.send(msg(&[], "b"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST + 1], "b".into())]);
        let mut wrap = Req::new(SocketOptions::default(), u32::MAX);
        assert_eq!(wrap.take_request_id(), 0xFFFF_FFFF);
        assert_eq!(wrap.take_request_id(), 0x8000_0000);
        // The seed's high bit is forced on.
        assert_eq!(Req::new(SocketOptions::default(), 5).take_request_id(), 0x8000_0005);
    }

    #[test]
    fn resends_exactly_at_the_interval_and_again_one_interval_later() {
        let mut req = resending();
        up(&mut req, &[1]);
        req.send(msg(&[], "q"), ms(1_000)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q".into())]);
        assert_eq!(req.poll_timeout(), Some(ms(1_000 + IVL_MS)));
        events(&mut req);
        req.on_timeout(ms(1_000 + IVL_MS - 1));
        assert_eq!(resends(&events(&mut req)), []);
        req.on_timeout(ms(1_000 + IVL_MS));
        assert_eq!(resends(&events(&mut req)), [(1, FIRST)]);
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q".into())]);
        assert_eq!(req.poll_timeout(), Some(ms(1_000 + 2 * IVL_MS)));
        req.on_timeout(ms(1_000 + 2 * IVL_MS));
        assert_eq!(resends(&events(&mut req)), [(1, FIRST)]);
    }

    /// NNG 1.11's measured pattern: resend time 2 s with the 1 s tick gave arrivals
    /// at 0, 2, 3, 4 s (every tick after the first resend); without the tick (NNG
    /// 1.6, nanomsg) 0, 2, 4 s.
    #[test]
    fn with_nng_s_tick_every_tick_after_the_first_resend_resends() {
        let ticking = |tick| SocketOptions {
            req_resend_ivl: Some(ms(2_000)),
            req_resend_tick: tick,
            ..opts(10, 10)
        };
        let resend_times = |options: SocketOptions| {
            let mut req = Req::new(options, 7);
            up(&mut req, &[1]);
            req.send(msg(&[], "q"), ms(0)).unwrap();
            let mut at = Vec::new();
            while let Some(t) = req.poll_timeout().filter(|t| *t <= ms(4_500)) {
                transmit_all(&mut req, 1);
                req.on_timeout(t);
                if !resends(&events(&mut req)).is_empty() {
                    at.push(t.as_millis());
                }
            }
            at
        };
        assert_eq!(resend_times(ticking(Some(ms(1_000)))), [2_000, 3_000, 4_000]);
        assert_eq!(resend_times(ticking(None)), [2_000, 4_000]);
        // A resend time off the tick's phase waits for the next tick: 2.5 s -> 3 s.
        let off_phase =
            SocketOptions { req_resend_ivl: Some(ms(2_500)), ..ticking(Some(ms(1_000))) };
        assert_eq!(resend_times(off_phase), [3_000, 4_000]);
    }

    #[test]
    fn a_reply_ends_the_request_and_its_timer() {
        let mut req = resending();
        up(&mut req, &[1]);
        assert_eq!(req.recv(ms(0)), Err(RecvError::State));
        req.send(msg(&[], "q"), ms(0)).unwrap();
        transmit_all(&mut req, 1);
        assert_eq!(req.recv(ms(1)), Err(RecvError::WouldBlock));
        req.on_message(1, reply(FIRST, "r"), ms(5));
        assert_eq!(req.poll_timeout(), None);
        req.on_timeout(ms(3 * IVL_MS));
        assert_eq!(resends(&events(&mut req)), []);
        assert_eq!(transmit_all(&mut req, 1), []);
        assert_eq!(req.recv(ms(6)), Ok(msg(&[], "r")));
        assert_eq!(req.recv(ms(6)), Err(RecvError::State));
    }

    #[test]
    fn each_resend_goes_to_the_next_pipe() {
        let mut req = resending();
        up(&mut req, &[1, 2, 3]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut req, 1).len(), 1);
        req.on_timeout(ms(IVL_MS));
        assert_eq!(transmit_all(&mut req, 2), [(vec![FIRST], "q".into())]);
        req.on_timeout(ms(2 * IVL_MS));
        assert_eq!(transmit_all(&mut req, 3), [(vec![FIRST], "q".into())]);
        assert_eq!(resends(&events(&mut req)), [(2, FIRST), (3, FIRST)]);
    }

    #[test]
    fn losing_the_pipe_it_went_out_on_resends_at_once_elsewhere() {
        let mut req = resending();
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        transmit_all(&mut req, 1);
        events(&mut req);
        req.set_connected(1, false, ms(50));
        assert_eq!(resends(&events(&mut req)), [(2, FIRST)]);
        assert_eq!(transmit_all(&mut req, 2), [(vec![FIRST], "q".into())]);
        // Pipe 1 coming back must not bring a second copy.
        req.set_connected(1, true, ms(60));
        assert_eq!(transmit_all(&mut req, 1), []);
    }

    #[test]
    fn a_request_not_yet_written_moves_without_being_duplicated() {
        let mut req = resending();
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        req.set_connected(1, false, ms(1));
        req.set_connected(1, true, ms(2));
        let total = transmit_all(&mut req, 1).len() + transmit_all(&mut req, 2).len();
        assert_eq!(total, 1);
    }

    #[test]
    fn with_no_other_pipe_a_lost_request_waits_for_a_new_one() {
        let mut req = resending();
        up(&mut req, &[1]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        transmit_all(&mut req, 1);
        req.detach(1, ms(1));
        let events_now = events(&mut req);
        assert!(events_now.iter().all(|e| !matches!(e, SocketEvent::Dropped { .. })));
        assert_eq!(resends(&events_now), []);
        req.attach(2, ms(2));
        assert_eq!(resends(&events(&mut req)), [(2, FIRST)]);
        req.set_connected(2, true, ms(3));
        assert_eq!(transmit_all(&mut req, 2), [(vec![FIRST], "q".into())]);
    }

    #[test]
    fn a_request_sent_without_pipes_goes_out_on_attach() {
        let mut req = resending();
        req.send(msg(&[], "q"), ms(0)).unwrap();
        assert_eq!(events(&mut req), []);
        req.attach(1, ms(10));
        let enqueued =
            SocketEvent::Enqueued { pipe: 1, depth: 1, msg: EventMsg::Whole(reply(FIRST, "q")) };
        assert_eq!(events(&mut req), [enqueued]);
        req.set_connected(1, true, ms(20));
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q".into())]);
    }

    #[test]
    fn a_request_queued_on_a_connecting_pipe_takes_the_first_pipe_up() {
        let mut req = resending();
        req.attach(1, ms(0));
        req.attach(2, ms(0));
        req.send(msg(&[], "q"), ms(0)).unwrap();
        req.set_connected(2, true, ms(5));
        assert_eq!(transmit_all(&mut req, 2), [(vec![FIRST], "q".into())]);
        req.set_connected(1, true, ms(6));
        assert_eq!(transmit_all(&mut req, 1), []);
    }

    #[test]
    fn a_new_request_cancels_the_old_and_its_late_reply_is_dropped() {
        let mut req = resending();
        up(&mut req, &[1]);
        req.send(msg(&[], "old"), ms(0)).unwrap();
        transmit_all(&mut req, 1);
        req.send(msg(&[], "new"), ms(1)).unwrap();
        assert!(events(&mut req).contains(&SocketEvent::Cancelled { request_id: FIRST }));
        req.on_message(1, reply(FIRST, "late"), ms(2));
        let late = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::LateReply,
            msg: reply(FIRST, "late"),
        };
        assert_eq!(events(&mut req), [late]);
        assert_eq!(req.recv(ms(2)), Err(RecvError::WouldBlock));
        req.on_message(1, reply(FIRST + 1, "fresh"), ms(3));
        assert_eq!(req.recv(ms(3)), Ok(msg(&[], "fresh")));
    }

    #[test]
    fn a_cancelled_request_still_queued_never_goes_out() {
        let mut req = resending();
        req.attach(1, ms(0));
        req.send(msg(&[], "old"), ms(0)).unwrap();
        req.send(msg(&[], "new"), ms(1)).unwrap();
        req.set_connected(1, true, ms(2));
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST + 1], "new".into())]);
    }

    #[test]
    fn wrong_duplicate_and_malformed_replies_are_dropped() {
        let mut req = resending();
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        events(&mut req);
        req.on_message(2, reply(0x8000_0999, "wrong"), ms(1));
        req.on_message(2, msg(&[], "empty"), ms(1));
        req.on_message(2, msg(&[5, FIRST], "hop first"), ms(1));
        req.on_message(2, reply(FIRST, "right"), ms(1));
        req.on_message(1, reply(FIRST, "duplicate"), ms(2));
        let reasons: Vec<_> = events(&mut req)
            .into_iter()
            .filter_map(|e| match e {
                SocketEvent::Dropped { reason, msg, .. } => Some((reason, msg.body)),
                _ => None,
            })
            .collect();
        let want = [
            (DropReason::LateReply, "wrong"),
            (DropReason::Malformed, "empty"),
            (DropReason::Malformed, "hop first"),
            (DropReason::LateReply, "duplicate"),
        ];
        assert_eq!(reasons, want.map(|(r, b)| (r, b.into())));
        assert_eq!(req.recv(ms(3)), Ok(msg(&[], "right")));
    }

    #[test]
    fn an_unread_reply_is_stale_once_a_new_request_goes_out() {
        let mut req = resending();
        up(&mut req, &[1]);
        req.send(msg(&[], "q1"), ms(0)).unwrap();
        req.on_message(1, reply(FIRST, "r1"), ms(1));
        req.send(msg(&[], "q2"), ms(2)).unwrap();
        assert_eq!(req.recv(ms(3)), Err(RecvError::WouldBlock));
        let dropped = events(&mut req).into_iter().any(|e| {
            e == SocketEvent::Dropped {
                pipe: Some(1),
                reason: DropReason::LateReply,
                msg: msg(&[], "r1"),
            }
        });
        assert!(dropped);
    }

    #[test]
    fn without_a_resend_interval_it_never_resends() {
        let mut req = req(None);
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        transmit_all(&mut req, 1);
        assert_eq!(req.poll_timeout(), None);
        req.on_timeout(ms(3_600_000));
        assert_eq!(resends(&events(&mut req)), []);
        assert_eq!(transmit_all(&mut req, 2), []);
    }

    /// A REQ as `library: zeromq` configures it (plan/options.rs): no resend of any
    /// kind, strict send-receive.
    fn libzmq() -> Req {
        let options = SocketOptions {
            zmtp: true,
            req_resend_ivl: None,
            req_resend_on_pipe_loss: false,
            req_strict: true,
            req_correlate: false,
            ..opts(10, 10)
        };
        Req::new(options, 7)
    }

    /// libzmq's REQ with `req_relaxed`, and `req_correlate` as given.
    fn relaxed(correlate: bool) -> Req {
        let mut req = libzmq();
        req.strict = false;
        req.correlate = correlate;
        req
    }

    /// Sends `q1`, gives up on it for `q2`, and lets `q1`'s reply arrive late on the
    /// same pipe, then `q2`'s: what the application reads.
    fn late_reply_after_giving_up(req: &mut Req) -> Vec<Result<Msg, RecvError>> {
        up(req, &[1]);
        req.send(msg(&[], "q1"), ms(0)).unwrap();
        transmit_all(req, 1);
        req.send(msg(&[], "q2"), ms(10)).unwrap();
        assert!(events(req).contains(&SocketEvent::Cancelled { request_id: FIRST }));
        transmit_all(req, 1);
        req.on_message(1, reply(FIRST, "r1"), ms(20));
        let first = req.recv(ms(20));
        req.on_message(1, reply(FIRST + 1, "r2"), ms(30));
        vec![first, req.recv(ms(30))]
    }

    #[test]
    fn libzmq_relaxed_without_correlate_takes_the_abandoned_requests_reply_for_the_new_one() {
        let mut req = relaxed(false);
        let got = late_reply_after_giving_up(&mut req);
        assert_eq!(got, [Ok(msg(&[], "r1")), Err(RecvError::State)]);
        let late = events(&mut req).into_iter().any(|e| {
            matches!(e, SocketEvent::Dropped { reason: DropReason::LateReply, msg, .. }
                if msg.body == "r2")
        });
        assert!(late, "the real reply to q2 is dropped as late");
    }

    #[test]
    fn libzmq_relaxed_with_correlate_drops_the_abandoned_requests_reply() {
        let mut req = relaxed(true);
        let got = late_reply_after_giving_up(&mut req);
        assert_eq!(got, [Err(RecvError::WouldBlock), Ok(msg(&[], "r2"))]);
    }

    #[test]
    fn libzmq_without_correlate_ignores_a_reply_on_another_pipe() {
        let mut req = relaxed(false);
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut req, 1).len(), 1);
        req.on_message(2, reply(0x8000_0999, "stray"), ms(1));
        assert_eq!(req.recv(ms(1)), Err(RecvError::WouldBlock));
        req.on_message(1, reply(0x8000_0999, "on the request's pipe"), ms(2));
        assert_eq!(req.recv(ms(2)), Ok(msg(&[], "on the request's pipe")));
    }

    #[test]
    fn libzmq_a_written_request_whose_connection_drops_is_never_resent() {
        let mut req = libzmq();
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q".into())]);
        events(&mut req);
        req.set_connected(1, false, ms(50));
        req.set_connected(2, false, ms(50));
        req.set_connected(2, true, ms(60));
        req.set_connected(1, true, ms(60));
        assert_eq!(events(&mut req), []);
        assert_eq!(transmit_all(&mut req, 1), []);
        assert_eq!(transmit_all(&mut req, 2), []);
        assert_eq!(req.poll_timeout(), None);
        assert_eq!(req.recv(ms(70)), Err(RecvError::WouldBlock));
        // Stuck: the design's next request is refused, as libzmq's EFSM.
        assert_eq!(req.send(msg(&[], "next"), ms(80)), Err(SendError::State));
    }

    #[test]
    fn libzmq_a_request_whose_pipe_closes_is_lost_and_a_new_pipe_gets_nothing() {
        let mut req = libzmq();
        up(&mut req, &[1]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        transmit_all(&mut req, 1);
        events(&mut req);
        req.detach(1, ms(1));
        req.attach(2, ms(2));
        req.set_connected(2, true, ms(3));
        assert_eq!(events(&mut req), []);
        assert_eq!(transmit_all(&mut req, 2), []);
        assert_eq!(req.recv(ms(4)), Err(RecvError::WouldBlock));
        // A peer that got it before the pipe went may still answer, on any pipe.
        req.on_message(2, reply(FIRST, "r"), ms(5));
        assert_eq!(req.recv(ms(5)), Ok(msg(&[], "r")));
    }

    #[test]
    fn libzmq_a_queued_request_dies_with_its_pipe_as_pipe_closed() {
        let mut req = libzmq();
        req.attach(1, ms(0));
        req.attach(2, ms(0));
        req.send(msg(&[], "q"), ms(0)).unwrap();
        events(&mut req);
        req.detach(1, ms(1));
        let dropped = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::PipeClosed,
            msg: reply(FIRST, "q"),
        };
        assert_eq!(events(&mut req), [dropped]);
        req.set_connected(2, true, ms(2));
        assert_eq!(transmit_all(&mut req, 2), []);
    }

    #[test]
    fn libzmq_a_queued_request_keeps_its_pipe_across_a_reconnect() {
        let mut req = libzmq();
        req.attach(1, ms(0));
        up(&mut req, &[2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        // Round-robin from the first pipe attached, whether or not it is connected.
        let mut placed = events(&mut req);
        let Some(SocketEvent::Enqueued { pipe, .. }) = placed.pop() else {
            panic!("no Enqueued event")
        };
        let other = 3 - pipe;
        req.set_connected(pipe, true, ms(1));
        req.set_connected(pipe, false, ms(2));
        req.set_connected(other, true, ms(3));
        assert_eq!(transmit_all(&mut req, other), []);
        req.set_connected(pipe, true, ms(4));
        assert_eq!(transmit_all(&mut req, pipe), [(vec![FIRST], "q".into())]);
        assert_eq!(resends(&events(&mut req)), []);
    }

    /// libzmq's `lb_t` takes each pipe in turn, connected or not: the second request
    /// waits on a pipe still connecting while the first pipe's peer could answer it.
    #[test]
    fn libzmq_sends_in_turn_to_a_pipe_still_connecting() {
        let mut req = libzmq();
        up(&mut req, &[1]);
        req.attach(2, ms(0));
        req.send(msg(&[], "q1"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q1".into())]);
        req.on_message(1, reply(FIRST, "r1"), ms(1));
        assert_eq!(req.recv(ms(1)), Ok(msg(&[], "r1")));
        req.send(msg(&[], "q2"), ms(2)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), []);
        req.set_connected(2, true, ms(3));
        assert_eq!(transmit_all(&mut req, 2), [(vec![FIRST + 1], "q2".into())]);
    }

    #[test]
    fn libzmq_refuses_a_second_send_until_the_reply_is_received() {
        let mut req = libzmq();
        up(&mut req, &[1]);
        req.send(msg(&[], "q1"), ms(0)).unwrap();
        assert_eq!(req.send(msg(&[], "q2"), ms(1)), Err(SendError::State));
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q1".into())]);
        req.on_message(1, reply(FIRST, "r1"), ms(2));
        // Accepted but unread: libzmq is still in its receiving state.
        assert_eq!(req.send(msg(&[], "q2"), ms(3)), Err(SendError::State));
        assert_eq!(req.recv(ms(4)), Ok(msg(&[], "r1")));
        req.send(msg(&[], "q2"), ms(5)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST + 1], "q2".into())]);
    }

    #[test]
    fn nng_and_nanomsg_resend_on_pipe_loss_and_cancel_on_a_second_send() {
        let defaults = SocketOptions::default();
        assert!(defaults.req_resend_on_pipe_loss && !defaults.req_strict);
        let mut req = req(None);
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        transmit_all(&mut req, 1);
        events(&mut req);
        req.detach(1, ms(1));
        assert_eq!(resends(&events(&mut req)), [(2, FIRST)]);
        req.send(msg(&[], "q2"), ms(2)).unwrap();
        assert!(events(&mut req).contains(&SocketEvent::Cancelled { request_id: FIRST }));
    }

    #[test]
    fn an_nng_req_send_waits_for_a_connected_pipe_and_cancels_the_old_request() {
        let waits = SocketOptions { req_send_waits: true, ..opts(10, 10) };
        let mut req = Req::new(waits, 7);
        assert_eq!(req.send(msg(&[], "q"), ms(0)), Err(SendError::WouldBlock));
        req.attach(1, ms(0));
        assert_eq!(req.send(msg(&[], "q"), ms(0)), Err(SendError::WouldBlock), "still connecting");
        assert!(events(&mut req).is_empty(), "a refused send leaves no trace");
        req.set_connected(1, true, ms(1));
        req.send(msg(&[], "q"), ms(1)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q".into())]);
        // The pipe goes: the next send cancels the outstanding request, then waits.
        req.set_connected(1, false, ms(2));
        events(&mut req);
        assert_eq!(req.send(msg(&[], "q2"), ms(2)), Err(SendError::WouldBlock));
        assert_eq!(events(&mut req), [SocketEvent::Cancelled { request_id: FIRST }]);
        req.set_connected(1, true, ms(3));
        req.send(msg(&[], "q2"), ms(3)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST + 1], "q2".into())]);
        // libzmq's and nanomsg's REQ take a request with no pipe at all.
        assert_eq!(Req::new(opts(10, 10), 7).send(msg(&[], "q"), ms(0)), Ok(()));
    }

    /// A REQ as `library: nng` with `req_resend_ivl: off` configures it
    /// (plan/options.rs): its send waits for a pipe, and a lost pipe resets.
    fn nng_without_resends() -> Req {
        let options = SocketOptions {
            req_resend_ivl: None,
            req_resend_on_pipe_loss: false,
            req_reset_on_pipe_loss: true,
            req_send_waits: true,
            ..opts(10, 10)
        };
        Req::new(options, 7)
    }

    /// NNG's `req0_pipe_close` with the resend time off: the request written on the
    /// pipe that closes is abandoned, nothing goes to the other pipe, and the pending
    /// receive fails with `ConnectionReset`, once; the socket takes a new request.
    #[test]
    fn nng_without_resends_a_lost_pipe_fails_the_receive_and_resends_nothing() {
        let mut req = nng_without_resends();
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q".into())]);
        assert_eq!(req.recv(ms(1)), Err(RecvError::WouldBlock), "the receive waits");
        events(&mut req);
        req.detach(1, ms(2));
        assert_eq!(events(&mut req), [SocketEvent::Cancelled { request_id: FIRST }]);
        assert_eq!(transmit_all(&mut req, 2), []);
        assert_eq!(req.poll_timeout(), None);
        assert_eq!(req.recv(ms(3)), Err(RecvError::ConnectionReset));
        assert_eq!(req.recv(ms(3)), Err(RecvError::State), "the reset is reported once");
        // A late reply to the abandoned request is dropped; a new request goes out.
        req.on_message(2, reply(FIRST, "late"), ms(4));
        assert_eq!(req.recv(ms(4)), Err(RecvError::State));
        req.send(msg(&[], "q2"), ms(5)).unwrap();
        assert_eq!(transmit_all(&mut req, 2), [(vec![FIRST + 1], "q2".into())]);
    }

    /// The connection under the request's pipe dropping is the same loss (an NNG pipe
    /// is its connection); a request not yet written leaves that queue without being
    /// reported dropped there, and a send before any receive clears the reset.
    #[test]
    fn nng_without_resends_a_dropped_connection_resets_and_a_new_send_clears_it() {
        let mut req = nng_without_resends();
        up(&mut req, &[1, 2]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        events(&mut req);
        req.set_connected(1, false, ms(1));
        assert_eq!(events(&mut req), [SocketEvent::Cancelled { request_id: FIRST }]);
        req.set_connected(1, true, ms(2));
        assert_eq!(transmit_all(&mut req, 1), []);
        assert_eq!(transmit_all(&mut req, 2), []);
        req.send(msg(&[], "q2"), ms(3)).unwrap();
        assert_eq!(req.recv(ms(3)), Err(RecvError::WouldBlock), "no reset for q2");
    }

    /// Losing a pipe that does not hold the request, or losing the request's once
    /// the reply is in, changes nothing; losing the next request's pipe resets.
    #[test]
    fn nng_without_resends_only_the_requests_pipe_counts_and_only_before_its_reply() {
        let mut req = nng_without_resends();
        up(&mut req, &[1, 2, 3]);
        req.send(msg(&[], "q"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST], "q".into())]);
        req.detach(2, ms(1));
        assert_eq!(req.recv(ms(1)), Err(RecvError::WouldBlock));
        req.on_message(1, reply(FIRST, "r"), ms(2));
        req.detach(1, ms(3));
        assert_eq!(req.recv(ms(3)), Ok(msg(&[], "r")));
        req.send(msg(&[], "q2"), ms(4)).unwrap();
        assert_eq!(transmit_all(&mut req, 3), [(vec![FIRST + 1], "q2".into())]);
        req.set_connected(3, false, ms(5));
        assert_eq!(req.recv(ms(5)), Err(RecvError::ConnectionReset));
    }

    /// The property search found it: the only connected pipe (SNDHWM 1) held the
    /// outstanding request, not yet written, and the next send was refused although
    /// cancelling that request frees the pipe.
    #[test]
    fn an_nng_req_send_takes_the_pipe_its_cancelled_request_held() {
        let waits = SocketOptions { req_send_waits: true, ..opts(1, 10) };
        let mut req = Req::new(waits, 7);
        req.attach(1, ms(0));
        req.set_connected(1, true, ms(0));
        req.send(msg(&[], "q"), ms(0)).unwrap();
        events(&mut req);
        assert_eq!(req.send(msg(&[], "q2"), ms(0)), Ok(()));
        assert!(events(&mut req).contains(&SocketEvent::Cancelled { request_id: FIRST }));
        assert_eq!(transmit_all(&mut req, 1), [(vec![FIRST + 1], "q2".into())]);
    }
}
