//! SUB and XSUB: fair-queued receive, with subscriptions sent upstream on ZeroMQ's
//! wire and kept local on SP's.
//!
//! The `SocketCore` trait has only `send`, so a running application changes its
//! subscriptions the way ZeroMQ's XSUB does: by sending `0x01`+prefix to subscribe or
//! `0x00`+prefix to cancel. For a SUB this is patchbay's stand-in for
//! `setsockopt(ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE)`. Prefixes from `options.subscribe`
//! are subscribed at construction. Every subscription goes out on every pipe, and a
//! pipe attached later is sent every current prefix first. A connecting pipe outlives
//! its connection (ZeroMQ's `IMMEDIATE=0`), so a pipe whose connection comes up again
//! is sent every current prefix again, in place of any subscription still queued on
//! it: libzmq's session "hiccups" the pipe of a lost connection and `xsub_t::
//! xhiccuped` resends the whole set, so a SUB whose PUB restarts subscribes to the
//! new one (`zmq-sub-pub-restart`). As in libzmq 4.3's XSUB, prefixes are counted:
//! each subscribe is passed upstream, a cancel only when the last subscription to its
//! prefix goes. NNG's SUB holds a topic once (`Prefixes::set`): a second subscribe
//! changes nothing and one cancel removes it (`nng-sub-double-subscribe`).
//!
//! That travel is ZeroMQ's alone. On SP (`library: nng`, `nanomsg`, or not named) a
//! SUB filters locally and writes nothing to its pipes: NNG's and nanomsg's SUB never
//! send, and a real NNG publisher closes a connection on which a subscriber sends
//! anything (docs/library-semantics.md, "Subscriptions on SP"). The subscription still
//! changes the socket's filter and is still traced as a `Subscription` event. Its
//! filter belongs to the socket, not to a connection, so an SP SUB whose PUB restarts
//! gets the new one's messages with nothing to resend (`nng-sub-pub-restart`).
//!
//! A SUB drops a message that matches none of its prefixes (`Unsubscribed`): a ZeroMQ
//! publisher has filtered already, but an NNG publisher sends everything. An XSUB does
//! not filter (libzmq sets `filter` for SUB only), and forwards any other message it
//! is sent to every pipe, which a FORWARDER device needs.
//!
//! At a full receive queue libzmq's and nanomsg's SUB and XSUB stop reading that
//! pipe until the application takes a message, which pushes back on the publisher.
//! NNG's never stop reading (`nng_queues`): its SUB discards the queue's oldest
//! message to take the new one (`NNG_OPT_SUB_PREFNEW`, on by default, the option
//! `sub_prefer_new`; NNG's `sub0_recv_cb`), its XSUB discards the new one
//! (`xsub0_recv_cb`), as its SUB does with `sub_prefer_new: false`. Either way the
//! discarded message is a `Dropped { reason: Hwm }` event. NNG keeps one queue for
//! the whole socket (128 messages by default), in arrival order, and so does
//! patchbay's `nng` SUB and XSUB (`Pipes::queue_per_socket`): the oldest message
//! discarded is the socket's oldest, whichever publisher sent it.
//!
//! Messages sent upstream are never worth blocking for: a pipe at SNDHWM drops its copy
//! with `Hwm`, as libzmq does with subscriptions (and XSUB's distributor with upstream
//! messages), although `SocketType::hwm_policy` lists SUB and XSUB as blocking for
//! what they receive.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;

use super::pipes::Pipes;
use super::subscriptions::{Prefixes, command_body, parse_command};
use super::{
    DropReason, Msg, PipeId, RecvError, SendError, SocketCore, SocketEvent, SocketOptions,
    SocketType,
};

/// The SUB or XSUB core.
#[derive(Debug)]
pub struct Subscriber {
    /// True for XSUB: no filtering on receive, and any body may be sent upstream.
    xsub: bool,
    pipes: Pipes,
    /// This socket's own prefixes.
    prefixes: Prefixes,
    /// Whether subscriptions travel upstream: only on ZeroMQ's wire (ZMTP).
    upstream: bool,
    /// ZeroMQ's pipes whose connection has been up: one that comes up again is a
    /// reconnect, which subscribes again (`set_connected`). Kept only with `upstream`.
    been_up: BTreeSet<PipeId>,
    /// NNG's queueing: one queue for the socket, which never stops a pipe
    /// (`Pipes::queue_per_socket`); a full one makes room or refuses the new message.
    reads_on: bool,
    /// With `reads_on`, a SUB's full queue discards its oldest message rather than the
    /// new one (`NNG_OPT_SUB_PREFNEW`); an XSUB always discards the new one.
    prefer_new: bool,
}

impl Subscriber {
    /// A SUB subscribed to `options.subscribe` (nothing if empty, as in ZeroMQ).
    pub fn new_sub(options: SocketOptions) -> Subscriber {
        Subscriber::new(false, options)
    }

    /// An XSUB subscribed to `options.subscribe`.
    pub fn new_xsub(options: SocketOptions) -> Subscriber {
        Subscriber::new(true, options)
    }

    fn new(xsub: bool, options: SocketOptions) -> Subscriber {
        let mut pipes = Pipes::new(&options);
        // An SP XSUB's upstream messages go only to publishers connected now.
        pipes.pipe_per_connection(&options);
        if options.nng_queues {
            // NNG's SUB and XSUB receive into one queue for the socket (sub0's and
            // xsub0's `NNG_OPT_RECVBUF`).
            pipes.queue_per_socket();
        }
        let mut core = Subscriber {
            xsub,
            pipes,
            // NNG's SUB keeps a set of topics; libzmq's and nanomsg's count.
            prefixes: if options.nng_queues { Prefixes::set() } else { Prefixes::default() },
            upstream: options.zmtp,
            been_up: BTreeSet::new(),
            reads_on: options.nng_queues,
            prefer_new: options.sub_prefer_new,
        };
        for prefix in options.subscribe {
            core.subscribe(true, Bytes::from(prefix));
        }
        core
    }

    /// A subscription message for every current prefix, in byte order.
    fn subscribe_all(&self) -> Vec<Msg> {
        self.prefixes.iter().map(|p| Msg::new(command_body(true, p))).collect()
    }

    /// Changes this socket's own subscription and tells every pipe when upstream must
    /// know (see the module comment for the counting).
    fn subscribe(&mut self, on: bool, prefix: Bytes) {
        let changed =
            if on { self.prefixes.add(prefix.clone()) } else { self.prefixes.remove(&prefix) };
        if changed {
            let event = SocketEvent::Subscription { pipe: None, prefix: prefix.clone(), on };
            self.pipes.push_event(event);
        }
        if self.upstream && (on || changed) {
            self.pipes.copy_to_attached(&Msg::new(command_body(on, &prefix)));
        }
    }
}

impl SocketCore for Subscriber {
    fn socket_type(&self) -> SocketType {
        if self.xsub { SocketType::XSub } else { SocketType::Sub }
    }

    pipes_in_field!(pipes);

    /// Queues every current prefix on the new pipe, before anything else it carries
    /// (ZeroMQ's wire only: on SP nothing goes upstream).
    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        self.pipes.attach(pipe);
        if !self.upstream {
            return;
        }
        for msg in self.subscribe_all() {
            self.pipes.enqueue_or_drop(pipe, msg);
        }
    }

    /// A connecting pipe whose connection comes up again (not its first) is sent every
    /// current prefix again, first, as libzmq's `xsub_t::xhiccuped` does once the
    /// session has "hiccuped" the pipe of a lost connection: the new peer knows none
    /// of them. Subscriptions still queued on the pipe are taken back, silently, as
    /// the hiccup discards the old pipe's queue: the whole set replaces them (a cancel
    /// among them is for a prefix the set no longer holds). Anything else an XSUB
    /// queued stays, after the set. The first connection sends what `attach` queued,
    /// so its prefixes go out once (ZeroMQ's wire only).
    fn set_connected(&mut self, pipe: PipeId, connected: bool, _now: Duration) {
        self.pipes.set_connected(pipe, connected);
        if !connected || !self.upstream || !self.pipes.is_attached(pipe) {
            return;
        }
        if self.been_up.insert(pipe) {
            return;
        }
        let queued: Vec<Msg> = std::iter::from_fn(|| self.pipes.take_outbound(pipe, |_| true))
            .filter(|msg| parse_command(&msg.body).is_none())
            .collect();
        for msg in self.subscribe_all() {
            self.pipes.enqueue_or_drop(pipe, msg);
        }
        for msg in queued {
            // Reported `Enqueued` when the application sent it; it only moves back.
            if let Err(msg) = self.pipes.push_outbound(pipe, msg) {
                self.pipes.drop_msg(Some(pipe), DropReason::Hwm, msg);
            }
        }
    }

    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        self.been_up.remove(&pipe);
        self.pipes.detach(pipe);
    }

    /// A subscription message changes the subscription and always succeeds. Any other
    /// body is a state error for a SUB (libzmq: `ENOTSUP`) and goes upstream to every
    /// pipe for an XSUB.
    fn send(&mut self, msg: Msg, _now: Duration) -> Result<(), SendError> {
        match parse_command(&msg.body) {
            Some(cmd) => self.subscribe(cmd.on, cmd.prefix),
            None if self.xsub => self.pipes.copy_to_attached(&msg),
            None => return Err(SendError::State),
        }
        Ok(())
    }

    /// A SUB filters again on the way out: a message that arrived while a prefix was
    /// held, and waited while the application cancelled it, is dropped as
    /// `Unsubscribed` rather than delivered. libzmq filters when the application
    /// reads; NNG purges its queue on unsubscribe; either way the application never
    /// sees a message that no current subscription matches.
    fn recv(&mut self, _now: Duration) -> Result<Msg, RecvError> {
        while let Some((pipe, msg)) = self.pipes.pop_inbound() {
            if self.xsub || self.prefixes.matches(&msg.body) {
                return Ok(msg);
            }
            self.pipes.drop_msg(Some(pipe), DropReason::Unsubscribed, msg);
        }
        Err(RecvError::WouldBlock)
    }

    /// A SUB filters on arrival too, so an unwanted message never takes a queue slot;
    /// libzmq filters only when the application reads, after it has held a slot.
    /// With NNG's queueing a full queue takes the message at the cost of its oldest
    /// (SUB) or refuses it (XSUB), both reported as `Hwm` drops.
    fn on_message(&mut self, pipe: PipeId, msg: Msg, _now: Duration) {
        if !self.xsub && !self.prefixes.matches(&msg.body) {
            return self.pipes.drop_msg(Some(pipe), DropReason::Unsubscribed, msg);
        }
        if self.reads_on && self.prefer_new && !self.xsub {
            return self.pipes.push_inbound_evicting(pipe, msg);
        }
        // A full pipe refuses it as `Hwm`: only NNG's XSUB, and its SUB without
        // `NNG_OPT_SUB_PREFNEW`, are ever sent one; every other subscriber stops
        // reading the pipe first (`can_receive`).
        self.pipes.push_inbound(pipe, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::super::multipart;
    use super::super::pipes::testing::{dropped, events, ms, msg, opts, strings, transmit_all, up};
    use super::*;

    fn sub_opts(prefixes: &[&str]) -> SocketOptions {
        let subscribe = prefixes.iter().map(|p| p.as_bytes().to_vec()).collect();
        SocketOptions { subscribe, ..opts(10, 10) }
    }

    /// The same on ZeroMQ's wire, where subscriptions travel upstream.
    fn zmtp_sub_opts(prefixes: &[&str]) -> SocketOptions {
        SocketOptions { zmtp: true, ..sub_opts(prefixes) }
    }

    fn command(on: bool, prefix: &str) -> Msg {
        Msg::new(command_body(on, prefix.as_bytes()))
    }

    fn bodies(core: &mut Subscriber, pipe: PipeId) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| core.poll_transmit(pipe, ms(0))).map(|m| m.body.to_vec()).collect()
    }

    /// What a SUB or XSUB (RCVHWM 2) whose application reads nothing does with "m0"
    /// to "m4" from one pipe: whether it still read the pipe once full, what the
    /// application then gets, and what was reported dropped.
    fn full_queue(xsub: bool, nng: bool) -> (bool, Vec<String>, Vec<String>) {
        full_queue_with(xsub, SocketOptions { nng_queues: nng, ..sub_opts(&[""]) })
    }

    fn full_queue_with(xsub: bool, options: SocketOptions) -> (bool, Vec<String>, Vec<String>) {
        let options = SocketOptions { rcvhwm_msgs: 2, ..options };
        let mut s = if xsub { Subscriber::new_xsub(options) } else { Subscriber::new_sub(options) };
        up(&mut s, &[1]);
        let mut read_on = true;
        for body in ["m0", "m1", "m2", "m3", "m4"] {
            if !s.can_receive(1) {
                read_on = false;
                break;
            }
            s.on_message(1, msg(&[], body), ms(0));
        }
        let dropped = dropped(&events(&mut s), 1, DropReason::Hwm);
        let got = std::iter::from_fn(|| s.recv(ms(1)).ok());
        let got = got.map(|m| String::from_utf8_lossy(&m.body).into_owned()).collect();
        (read_on, got, dropped)
    }

    /// NNG's SUB keeps one queue for the socket (RCVHWM 3 here): the messages of both
    /// publishers count together, the socket's oldest is discarded for a new one, and
    /// the application takes them in arrival order. libzmq's keeps a queue per pipe,
    /// holds all four, and takes them pipe by pipe in turn.
    #[test]
    fn nngs_sub_queues_per_socket_in_arrival_order_and_libzmqs_per_pipe() {
        let run = |nng: bool| {
            let options = SocketOptions { nng_queues: nng, rcvhwm_msgs: 3, ..sub_opts(&[""]) };
            let mut s = Subscriber::new_sub(options);
            up(&mut s, &[1, 2]);
            for (pipe, body) in [(1, "a"), (1, "b"), (2, "c"), (2, "d")] {
                assert!(s.can_receive(pipe), "nng: {nng}: {body} is read");
                s.on_message(pipe, msg(&[], body), ms(0));
            }
            let dropped = dropped(&events(&mut s), 1, DropReason::Hwm);
            let got = std::iter::from_fn(|| s.recv(ms(1)).ok());
            let got: Vec<String> =
                got.map(|m| String::from_utf8_lossy(&m.body).into_owned()).collect();
            (got, dropped)
        };
        assert_eq!(run(true), (strings(&["b", "c", "d"]), strings(&["a"])));
        assert_eq!(run(false), (strings(&["a", "c", "b", "d"]), strings(&[])));
    }

    #[test]
    fn at_a_full_queue_libzmqs_sub_stops_reading_and_nngs_reads_on_keeping_the_newest() {
        for xsub in [false, true] {
            let libzmq = (false, strings(&["m0", "m1"]), strings(&[]));
            assert_eq!(full_queue(xsub, false), libzmq, "xsub: {xsub}");
        }
        let nng_sub = (true, strings(&["m3", "m4"]), strings(&["m0", "m1", "m2"]));
        assert_eq!(full_queue(false, true), nng_sub);
        let nng_xsub = (true, strings(&["m0", "m1"]), strings(&["m2", "m3", "m4"]));
        assert_eq!(full_queue(true, true), nng_xsub);
        // `sub_prefer_new: false` (NNG_OPT_SUB_PREFNEW off): reads on, keeps the oldest.
        let keep_old = SocketOptions { nng_queues: true, sub_prefer_new: false, ..sub_opts(&[""]) };
        assert_eq!(full_queue_with(false, keep_old), nng_xsub);
    }

    #[test]
    fn drops_what_matches_no_subscription_and_delivers_the_rest() {
        let mut s = Subscriber::new_sub(sub_opts(&["a"]));
        up(&mut s, &[1]);
        events(&mut s);
        s.on_message(1, msg(&[], "apple"), ms(0));
        s.on_message(1, msg(&[], "banana"), ms(0));
        assert_eq!(s.recv(ms(0)), Ok(msg(&[], "apple")));
        assert_eq!(s.recv(ms(0)), Err(RecvError::WouldBlock));
        let dropped = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::Unsubscribed,
            msg: msg(&[], "banana"),
        };
        assert!(events(&mut s).contains(&dropped));
    }

    /// Found by `props::sub_never_delivers_an_unsubscribed_message`: a message queued
    /// under a prefix that the application then cancelled was still delivered.
    #[test]
    fn a_message_queued_before_its_prefix_was_cancelled_is_not_delivered() {
        let mut s = Subscriber::new_sub(sub_opts(&["a", "b"]));
        up(&mut s, &[1]);
        s.on_message(1, msg(&[], "a1"), ms(0));
        s.on_message(1, msg(&[], "b1"), ms(0));
        s.send(command(false, "a"), ms(1)).unwrap();
        events(&mut s);
        assert_eq!(s.recv(ms(2)), Ok(msg(&[], "b1")));
        let dropped = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::Unsubscribed,
            msg: msg(&[], "a1"),
        };
        assert_eq!(events(&mut s), [dropped]);
        assert_eq!(s.recv(ms(2)), Err(RecvError::WouldBlock));
        // An XSUB does not filter, so the same history delivers both.
        let mut x = Subscriber::new_xsub(sub_opts(&["a"]));
        up(&mut x, &[1]);
        x.on_message(1, msg(&[], "a1"), ms(0));
        x.send(command(false, "a"), ms(1)).unwrap();
        assert_eq!(x.recv(ms(2)), Ok(msg(&[], "a1")));
    }

    #[test]
    fn a_sub_without_subscriptions_drops_everything_and_the_empty_prefix_takes_all() {
        let mut s = Subscriber::new_sub(opts(10, 10));
        up(&mut s, &[1]);
        s.on_message(1, msg(&[], "x"), ms(0));
        assert_eq!(s.recv(ms(0)), Err(RecvError::WouldBlock));
        s.send(command(true, ""), ms(1)).unwrap();
        s.on_message(1, msg(&[], "x"), ms(1));
        assert_eq!(s.recv(ms(1)), Ok(msg(&[], "x")));
    }

    #[test]
    fn matches_a_multipart_body_on_its_first_frame() {
        let mut s = Subscriber::new_sub(sub_opts(&["AB"]));
        up(&mut s, &[1]);
        s.on_message(1, Msg::new(multipart::encode(&["A".into(), "Bxyz".into()])), ms(0));
        s.on_message(1, Msg::new(multipart::encode(&["ABC".into(), "x".into()])), ms(0));
        let got = s.recv(ms(0)).unwrap();
        assert_eq!(multipart::decode(&got.body)[0], "ABC");
        assert_eq!(s.recv(ms(0)), Err(RecvError::WouldBlock));
    }

    #[test]
    fn subscribes_every_pipe_including_ones_attached_later() {
        let mut s = Subscriber::new_sub(zmtp_sub_opts(&["a"]));
        assert_eq!(
            events(&mut s),
            [SocketEvent::Subscription { pipe: None, prefix: "a".into(), on: true }]
        );
        up(&mut s, &[1]);
        s.send(command(true, "b"), ms(1)).unwrap();
        assert_eq!(bodies(&mut s, 1), [b"\x01a".to_vec(), b"\x01b".to_vec()]);
        // A reconnect: the old pipe goes, a new one must learn every prefix again.
        s.detach(1, ms(2));
        up(&mut s, &[2]);
        assert_eq!(bodies(&mut s, 2), [b"\x01a".to_vec(), b"\x01b".to_vec()]);
    }

    /// A connecting pipe whose connection drops and comes up again (a PUB that
    /// restarted) is sent every prefix again, first, as libzmq's `xhiccuped` does;
    /// the first connection sends them once. A subscription queued while the pipe was
    /// down is replaced by the set, so nothing goes out twice. Before, nothing was
    /// sent again and the new PUB never sent this SUB anything.
    #[test]
    fn a_reconnected_pipe_is_subscribed_again_once() {
        let mut s = Subscriber::new_sub(zmtp_sub_opts(&["a"]));
        s.attach(1, ms(0));
        s.set_connected(1, true, ms(1));
        assert_eq!(bodies(&mut s, 1), [b"\x01a".to_vec()], "the first connection: once");
        s.set_connected(1, false, ms(2));
        s.send(command(true, "b"), ms(3)).unwrap();
        s.set_connected(1, true, ms(4));
        assert_eq!(bodies(&mut s, 1), [b"\x01a".to_vec(), b"\x01b".to_vec()]);
        // A cancel sent while down is for a prefix the set no longer holds.
        s.set_connected(1, false, ms(5));
        s.send(command(false, "a"), ms(6)).unwrap();
        s.set_connected(1, true, ms(7));
        assert_eq!(bodies(&mut s, 1), [b"\x01b".to_vec()]);
        // On SP nothing goes upstream, reconnect or not.
        let mut sp = Subscriber::new_sub(sub_opts(&["a"]));
        up(&mut sp, &[1]);
        sp.set_connected(1, false, ms(1));
        sp.set_connected(1, true, ms(2));
        assert_eq!(bodies(&mut sp, 1), Vec::<Vec<u8>>::new());
    }

    /// An XSUB shares the core (a FORWARDER's XSUB facing a PUB that restarted): the
    /// prefixes it was sent go out again, before the data it queued while down.
    #[test]
    fn a_reconnected_xsub_subscribes_again_before_its_queued_data() {
        let mut x = Subscriber::new_xsub(zmtp_sub_opts(&[]));
        up(&mut x, &[1]);
        x.send(command(true, "a"), ms(1)).unwrap();
        assert_eq!(bodies(&mut x, 1), [b"\x01a".to_vec()]);
        x.set_connected(1, false, ms(2));
        x.send(msg(&[], "data"), ms(3)).unwrap();
        x.set_connected(1, true, ms(4));
        assert_eq!(bodies(&mut x, 1), [b"\x01a".to_vec(), b"data".to_vec()]);
    }

    /// NNG's SUB holds a topic once: "a" subscribed twice (at construction and by a
    /// send) and cancelled once is gone, where libzmq's and nanomsg's still hold it
    /// (`nng-sub-double-subscribe`).
    #[test]
    fn nngs_sub_holds_a_topic_once_and_libzmqs_counts() {
        for (nng, want) in [(true, None), (false, Some(msg(&[], "a1")))] {
            let mut s = Subscriber::new_sub(SocketOptions { nng_queues: nng, ..sub_opts(&["a"]) });
            up(&mut s, &[1]);
            s.send(command(true, "a"), ms(1)).unwrap();
            s.send(command(false, "a"), ms(2)).unwrap();
            s.on_message(1, msg(&[], "a1"), ms(3));
            assert_eq!(s.recv(ms(4)).ok(), want, "nng: {nng}");
        }
    }

    /// Regression (issue 12): on SP a SUB sent ZeroMQ's `0x01`+prefix upstream, and a
    /// real NNG publisher closed the connection for it. It now writes nothing, on a
    /// pipe attached before or after the subscription, and still filters.
    #[test]
    fn an_sp_sub_sends_nothing_upstream_and_still_filters() {
        for xsub in [false, true] {
            let mut s = Subscriber::new(xsub, sub_opts(&["a"]));
            up(&mut s, &[1]);
            s.send(command(true, "b"), ms(1)).unwrap();
            s.send(command(false, "a"), ms(2)).unwrap();
            up(&mut s, &[2]);
            assert_eq!(bodies(&mut s, 1), Vec::<Vec<u8>>::new(), "xsub {xsub}");
            assert_eq!(bodies(&mut s, 2), Vec::<Vec<u8>>::new(), "xsub {xsub}");
            let on_b = SocketEvent::Subscription { pipe: None, prefix: "b".into(), on: true };
            assert!(events(&mut s).contains(&on_b), "the subscription is still traced");
        }
        let mut s = Subscriber::new_sub(sub_opts(&["a"]));
        up(&mut s, &[1]);
        s.on_message(1, msg(&[], "b1"), ms(0));
        s.on_message(1, msg(&[], "a1"), ms(0));
        assert_eq!(s.recv(ms(0)), Ok(msg(&[], "a1")));
        assert_eq!(s.recv(ms(0)), Err(RecvError::WouldBlock));
    }

    #[test]
    fn a_cancel_goes_upstream_only_when_the_last_subscription_to_it_goes() {
        let mut s = Subscriber::new_sub(zmtp_sub_opts(&["a"]));
        up(&mut s, &[1]);
        s.send(command(true, "a"), ms(0)).unwrap();
        s.send(command(false, "a"), ms(0)).unwrap();
        s.on_message(1, msg(&[], "a1"), ms(0));
        assert_eq!(s.recv(ms(0)), Ok(msg(&[], "a1")), "still subscribed once");
        s.send(command(false, "a"), ms(0)).unwrap();
        s.send(command(false, "never"), ms(0)).unwrap();
        assert_eq!(bodies(&mut s, 1), [b"\x01a".to_vec(), b"\x01a".to_vec(), b"\x00a".to_vec()]);
        let off = SocketEvent::Subscription { pipe: None, prefix: "a".into(), on: false };
        assert_eq!(events(&mut s).iter().filter(|e| **e == off).count(), 1);
    }

    #[test]
    fn sub_refuses_data_sends_and_xsub_forwards_them_without_filtering() {
        let mut s = Subscriber::new_sub(opts(10, 10));
        assert_eq!(s.send(msg(&[], "data"), ms(0)), Err(SendError::State));
        let mut x = Subscriber::new_xsub(opts(10, 10));
        up(&mut x, &[1, 2]);
        x.send(msg(&[], "data"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut x, 2), [(vec![], "data".into())]);
        x.on_message(1, msg(&[], "anything"), ms(0));
        assert_eq!(x.recv(ms(0)), Ok(msg(&[], "anything")));
    }

    #[test]
    fn a_full_pipe_drops_the_subscription_and_stops_reading_at_rcvhwm() {
        let mut s =
            Subscriber::new_sub(SocketOptions { sndhwm_msgs: 1, ..zmtp_sub_opts(&["a", "b"]) });
        up(&mut s, &[1]);
        let dropped = events(&mut s).into_iter().find_map(|e| match e {
            SocketEvent::Dropped { reason: DropReason::Hwm, msg, .. } => Some(msg),
            _ => None,
        });
        assert_eq!(dropped, Some(command(true, "b")));
        let mut s = Subscriber::new_sub(SocketOptions { rcvhwm_msgs: 2, ..sub_opts(&[""]) });
        up(&mut s, &[1]);
        s.on_message(1, msg(&[], "x"), ms(0));
        assert!(s.can_receive(1));
        s.on_message(1, msg(&[], "y"), ms(0));
        assert!(!s.can_receive(1));
    }
}
