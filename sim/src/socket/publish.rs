//! PUB and XPUB: a send fans out to every attached pipe whose subscriptions match,
//! and subscriptions arrive from the subscribers as messages (ZeroMQ's way).
//!
//! A pipe at its send high-water mark drops its copy; the send itself never blocks and
//! never fails (docs/library-semantics.md: 100,000 sends with SNDHWM 10 and no
//! subscriber all returned OK). libzmq drops silently; here each dropped copy is a
//! `Dropped { reason: Hwm }` event so the trace can show it. libzmq and nanomsg drop
//! the new copy; NNG's PUB (`nng_queues`) discards the oldest message of the full pipe
//! instead and queues the new one, so a subscriber that falls behind gets the latest
//! (NNG's `pub0_sock_send`; docs/library-semantics.md, "Conformance": `nng-pub-hwm`).
//!
//! A message from a subscriber with body `0x01`+prefix subscribes that pipe to the
//! prefix, `0x00`+prefix cancels it. An XPUB also hands the application those
//! messages that change the socket's overall subscription set (the first pipe to take
//! a prefix, the last to give it up: libzmq without `XPUB_VERBOSE`), plus any other
//! message a subscriber sends upstream, which is how a FORWARDER device passes
//! subscriptions on. A plain PUB has nothing to receive.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;

use super::pipes::Pipes;
use super::subscriptions::{Command, any_matches, command_body, parse_command, topic};
use super::{
    DropReason, Msg, PipeId, RecvError, SendError, SocketCore, SocketEvent, SocketOptions,
    SocketType,
};

/// The PUB or XPUB core; the two differ only in what reaches the application.
#[derive(Debug)]
pub struct Publisher {
    /// True for XPUB: subscription and upstream messages are handed to `recv`.
    xpub: bool,
    pipes: Pipes,
    /// NNG's PUB: a full pipe discards its oldest message to take the new one.
    evict_oldest: bool,
    /// Each attached pipe's subscriptions; `None`: everything. On ZMTP a pipe starts
    /// with none, and gets nothing until its SUB subscribes, as libzmq's PUB filters
    /// before its pipes: a topic no one wants never takes room below the high-water
    /// mark or on the wire (`zmq-pub-filters`). An SP PUB's pipes take everything,
    /// since NNG's and nanomsg's SUBs send no subscriptions and filter for
    /// themselves.
    filters: BTreeMap<PipeId, Option<BTreeSet<Bytes>>>,
    /// Whether the socket speaks ZMTP, whose SUBs subscribe upstream.
    zmtp: bool,
}

impl Publisher {
    /// A PUB: fan-out only; `recv` is a state error.
    /// An SP library's (`sp_pipe_per_connection`) sends only to subscribers whose
    /// connection is up: NNG and nanomsg have no pipe to one still being dialled.
    pub fn new_pub(options: SocketOptions) -> Publisher {
        let mut pipes = Pipes::new(&options);
        pipes.pipe_per_connection(&options);
        Publisher {
            xpub: false,
            pipes,
            evict_oldest: options.nng_queues,
            filters: BTreeMap::new(),
            zmtp: options.zmtp,
        }
    }

    /// An XPUB: a PUB that also delivers subscription messages to the application.
    pub fn new_xpub(options: SocketOptions) -> Publisher {
        Publisher { xpub: true, ..Publisher::new_pub(options) }
    }

    fn wants(&self, pipe: PipeId, topic: &[u8]) -> bool {
        match &self.filters[&pipe] {
            None => true,
            Some(prefixes) => any_matches(prefixes.iter(), topic),
        }
    }

    /// Whether an attached pipe other than `except` holds `prefix`.
    fn held_elsewhere(&self, prefix: &Bytes, except: PipeId) -> bool {
        self.filters
            .iter()
            .any(|(id, f)| *id != except && f.as_ref().is_some_and(|s| s.contains(prefix)))
    }

    /// Applies a subscription message from `pipe`. An XPUB queues it for the
    /// application when the socket's overall set changed.
    fn apply(&mut self, pipe: PipeId, cmd: Command, msg: Msg) {
        let elsewhere = self.held_elsewhere(&cmd.prefix, pipe);
        let set = self.filters.get_mut(&pipe).expect("checked attached").get_or_insert_default();
        let changed = if cmd.on { set.insert(cmd.prefix.clone()) } else { set.remove(&cmd.prefix) };
        if changed {
            let event =
                SocketEvent::Subscription { pipe: Some(pipe), prefix: cmd.prefix, on: cmd.on };
            self.pipes.push_event(event);
        }
        if self.xpub && changed && !elsewhere {
            self.pipes.push_inbound(pipe, msg);
        }
    }
}

impl SocketCore for Publisher {
    fn socket_type(&self) -> SocketType {
        if self.xpub { SocketType::XPub } else { SocketType::Pub }
    }

    pipes_in_field!(pipes);

    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        self.pipes.attach(pipe);
        self.filters.insert(pipe, self.zmtp.then(BTreeSet::new));
    }

    /// The pipe's subscriptions end with it. An XPUB tells the application about each
    /// prefix no other pipe holds, as libzmq does, by queueing the cancel on the
    /// departing pipe just before it goes (what arrived stays readable). If that
    /// pipe's inbound queue is full the cancel is dropped as `Hwm`; libzmq's queue for
    /// these is unbounded.
    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        let Some(filter) = self.filters.get(&pipe) else { return };
        let prefixes: Vec<Bytes> = filter.iter().flatten().cloned().collect();
        for prefix in prefixes {
            let msg = Msg::new(command_body(false, &prefix));
            self.apply(pipe, Command { on: false, prefix }, msg);
        }
        self.filters.remove(&pipe);
        self.pipes.detach(pipe);
    }

    /// Never blocks, never fails. A message that no pipe wants is discarded without
    /// an event: there is no pipe to charge it to, and libzmq counts it as sent. So is
    /// an SP library's copy for a subscriber whose connection is not up: NNG and
    /// nanomsg have no pipe for it (`Pipes::takes_copies`; conformance rows
    /// `nng-pub-dials-early`, `nanomsg-pub-dials-early`). At a full pipe the new copy
    /// is dropped, or with NNG's queues the pipe's oldest.
    fn send(&mut self, msg: Msg, _now: Duration) -> Result<(), SendError> {
        let topic = topic(&msg.body);
        let targets: Vec<PipeId> = self
            .filters
            .keys()
            .copied()
            .filter(|p| self.pipes.takes_copies(*p) && self.wants(*p, &topic))
            .collect();
        for pipe in targets {
            if self.evict_oldest {
                self.pipes.enqueue_evicting(pipe, msg.clone());
            } else {
                self.pipes.enqueue_or_drop(pipe, msg.clone());
            }
        }
        Ok(())
    }

    fn recv(&mut self, _now: Duration) -> Result<Msg, RecvError> {
        if !self.xpub {
            return Err(RecvError::State);
        }
        self.pipes.pop_inbound().map(|(_, msg)| msg).ok_or(RecvError::WouldBlock)
    }

    /// Subscription messages update the pipe's filter. Anything else goes to an
    /// XPUB's application; a PUB has no use for it and reports it `Malformed` (libzmq's
    /// PUB discards it silently).
    fn on_message(&mut self, pipe: PipeId, msg: Msg, _now: Duration) {
        if !self.filters.contains_key(&pipe) {
            return self.pipes.drop_msg(Some(pipe), DropReason::PipeClosed, msg);
        }
        match parse_command(&msg.body) {
            Some(cmd) => self.apply(pipe, cmd, msg),
            None if self.xpub => self.pipes.push_inbound(pipe, msg),
            None => self.pipes.drop_msg(Some(pipe), DropReason::Malformed, msg),
        }
    }

    /// A PUB consumes everything at once, so only an XPUB's queue applies backpressure.
    fn can_receive(&self, pipe: PipeId) -> bool {
        if self.xpub { self.pipes.can_receive(pipe) } else { self.pipes.is_attached(pipe) }
    }
}

#[cfg(test)]
mod tests {
    use super::super::multipart;
    use super::super::pipes::testing::{dropped, events, ms, msg, opts, strings, transmit_all, up};
    use super::*;

    fn sub(prefix: &str) -> Msg {
        Msg::new(command_body(true, prefix.as_bytes()))
    }

    fn cancel(prefix: &str) -> Msg {
        Msg::new(command_body(false, prefix.as_bytes()))
    }

    fn bodies(core: &mut Publisher, pipe: PipeId) -> Vec<String> {
        transmit_all(core, pipe).into_iter().map(|(_, body)| body).collect()
    }

    /// A PUB with pipes 1 ("a"), 2 ("b") and 3 (never subscribed).
    fn pub_with_three() -> Publisher {
        let mut p = Publisher::new_pub(opts(10, 10));
        up(&mut p, &[1, 2, 3]);
        p.on_message(1, sub("a"), ms(0));
        p.on_message(2, sub("b"), ms(0));
        p
    }

    #[test]
    fn fans_out_only_to_matching_pipes_and_everything_to_never_subscribed_ones() {
        let mut p = pub_with_three();
        for body in ["apple", "banana", "cherry"] {
            assert_eq!(p.send(msg(&[], body), ms(1)), Ok(()));
        }
        assert_eq!(bodies(&mut p, 1), ["apple"]);
        assert_eq!(bodies(&mut p, 2), ["banana"]);
        assert_eq!(bodies(&mut p, 3), ["apple", "banana", "cherry"]);
        assert_eq!(
            events(&mut p)[..2],
            [
                SocketEvent::Subscription { pipe: Some(1), prefix: "a".into(), on: true },
                SocketEvent::Subscription { pipe: Some(2), prefix: "b".into(), on: true },
            ]
        );
    }

    #[test]
    fn a_cancelled_pipe_gets_nothing_more() {
        let mut p = pub_with_three();
        p.on_message(1, cancel("a"), ms(1));
        p.send(msg(&[], "apple"), ms(2)).unwrap();
        assert_eq!(bodies(&mut p, 1), Vec::<String>::new());
        assert_eq!(bodies(&mut p, 3), ["apple"]);
        let off = SocketEvent::Subscription { pipe: Some(1), prefix: "a".into(), on: false };
        assert!(events(&mut p).contains(&off));
    }

    /// libzmq's PUB filters before its pipes: a ZMTP pipe gets nothing until its SUB
    /// subscribes, and a topic its SUB does not want takes no room below the HWM.
    #[test]
    fn on_zmtp_only_subscribed_topics_enter_a_pipe() {
        let mut p = Publisher::new_pub(SocketOptions { zmtp: true, ..opts(2, 2) });
        up(&mut p, &[1, 2]);
        p.on_message(1, sub("a"), ms(0));
        p.set_connected(1, false, ms(0));
        for body in ["b1", "b2", "b3", "a1", "a2"] {
            assert_eq!(p.send(msg(&[], body), ms(1)), Ok(()));
        }
        assert_eq!(dropped(&events(&mut p), 1, DropReason::Hwm), Vec::<String>::new());
        p.set_connected(1, true, ms(2));
        assert_eq!(bodies(&mut p, 1), ["a1", "a2"]);
        assert_eq!(bodies(&mut p, 2), Vec::<String>::new(), "never subscribed: nothing");
    }

    /// What a full pipe kept and what it reported dropped, after "m0" to "m4" were
    /// sent to a PUB with SNDHWM 2 whose pipe writes nothing meanwhile.
    fn kept_and_dropped(options: SocketOptions) -> (Vec<String>, Vec<String>) {
        let mut p = Publisher::new_pub(options);
        p.attach(1, ms(0));
        for body in ["m0", "m1", "m2", "m3", "m4"] {
            assert_eq!(p.send(msg(&[], body), ms(1)), Ok(()));
        }
        let dropped = dropped(&events(&mut p), 1, DropReason::Hwm);
        p.set_connected(1, true, ms(2));
        (bodies(&mut p, 1), dropped)
    }

    #[test]
    fn a_full_pipe_drops_the_new_message_but_nngs_drops_its_oldest() {
        let (kept, dropped) = kept_and_dropped(opts(2, 10));
        assert_eq!((kept, dropped), (strings(&["m0", "m1"]), strings(&["m2", "m3", "m4"])));
        let nng = SocketOptions { nng_queues: true, ..opts(2, 10) };
        let (kept, dropped) = kept_and_dropped(nng);
        assert_eq!((kept, dropped), (strings(&["m3", "m4"]), strings(&["m0", "m1", "m2"])));
    }

    #[test]
    fn drops_at_sndhwm_with_events_and_the_send_still_succeeds() {
        let mut p = Publisher::new_pub(opts(2, 10));
        up(&mut p, &[1, 2]);
        p.on_message(2, sub("x"), ms(0));
        events(&mut p);
        for _ in 0..5 {
            assert_eq!(p.send(msg(&[], "m"), ms(1)), Ok(()));
        }
        let events = events(&mut p);
        let hwm_drops = events
            .iter()
            .filter(|e| {
                matches!(e, SocketEvent::Dropped { pipe: Some(1), reason: DropReason::Hwm, .. })
            })
            .count();
        assert_eq!(hwm_drops, 3);
        assert_eq!(events.len(), 5, "two enqueued on pipe 1, three dropped, none for pipe 2");
        // Without subscribers at all, sends still succeed.
        let mut lonely = Publisher::new_pub(opts(1, 1));
        assert!((0..100).all(|_| lonely.send(msg(&[], "m"), ms(0)).is_ok()));
    }

    #[test]
    fn a_multipart_body_is_matched_on_its_first_frame() {
        let mut p = Publisher::new_pub(opts(10, 10));
        up(&mut p, &[1, 2]);
        p.on_message(1, sub("AB"), ms(0));
        p.on_message(2, sub("A"), ms(0));
        p.send(Msg::new(multipart::encode(&["A".into(), "Bxyz".into()])), ms(1)).unwrap();
        assert_eq!(transmit_all(&mut p, 1), []);
        assert_eq!(transmit_all(&mut p, 2).len(), 1);
    }

    #[test]
    fn pub_cannot_receive_and_reports_upstream_data_as_malformed() {
        let mut p = pub_with_three();
        events(&mut p);
        assert_eq!(p.recv(ms(0)), Err(RecvError::State));
        p.on_message(3, msg(&[], "hello"), ms(0));
        assert_eq!(
            events(&mut p),
            [SocketEvent::Dropped {
                pipe: Some(3),
                reason: DropReason::Malformed,
                msg: msg(&[], "hello")
            }]
        );
        assert!(p.can_receive(1));
    }

    #[test]
    fn xpub_delivers_changes_of_its_subscription_set_and_upstream_data() {
        let mut x = Publisher::new_xpub(opts(10, 10));
        up(&mut x, &[1, 2]);
        x.on_message(1, sub("a"), ms(0));
        x.on_message(2, sub("a"), ms(0)); // already held by pipe 1: not delivered
        x.on_message(2, msg(&[], "upstream"), ms(0));
        x.on_message(1, cancel("a"), ms(0)); // pipe 2 still holds it: not delivered
        x.detach(2, ms(1)); // the last holder goes: the cancel is delivered
        let got: Vec<Msg> = std::iter::from_fn(|| x.recv(ms(1)).ok()).collect();
        assert_eq!(got, [sub("a"), msg(&[], "upstream"), cancel("a")]);
        assert!(events(&mut x).iter().any(|e| matches!(e, SocketEvent::Arrived { pipe: 1, .. })));
    }

    #[test]
    fn xpub_stops_reading_a_pipe_at_rcvhwm() {
        let mut x = Publisher::new_xpub(opts(10, 1));
        up(&mut x, &[1]);
        x.on_message(1, sub("a"), ms(0));
        assert!(!x.can_receive(1));
        x.recv(ms(0)).unwrap();
        assert!(x.can_receive(1));
    }

    /// NNG's and nanomsg's PUB has no pipe to a subscriber it is still dialling, nor
    /// to one whose connection dropped: what it publishes meanwhile goes nowhere, and
    /// what a pipe held when its connection dropped is lost (conformance rows
    /// `nng-pub-dials-early`, `nanomsg-pub-dials-early`).
    #[test]
    fn an_sp_pub_publishes_only_to_subscribers_whose_connection_is_up() {
        use super::super::pipes::testing::per_connection;
        let mut p = Publisher::new_pub(per_connection(10, 10));
        p.attach(1, ms(0));
        p.send(msg(&[], "early"), ms(1)).unwrap();
        assert_eq!(events(&mut p), [], "no pipe, no copy, no event");
        p.set_connected(1, true, ms(2));
        p.send(msg(&[], "after"), ms(3)).unwrap();
        assert_eq!(bodies(&mut p, 1), ["after"]);
        p.send(msg(&[], "lost"), ms(4)).unwrap();
        p.set_connected(1, false, ms(5));
        p.send(msg(&[], "down"), ms(6)).unwrap();
        assert_eq!(dropped(&events(&mut p), 1, DropReason::PipeClosed), strings(&["lost"]));
        p.set_connected(1, true, ms(7));
        assert_eq!(bodies(&mut p, 1), Vec::<String>::new());
    }
}

/// Random driver histories over PUB and PUSH: depths never pass SNDHWM, a PUB send
/// never fails, a PUSH never drops a message it accepted except with its pipe, and
/// blocks exactly when no attached pipe has room.
#[cfg(test)]
mod prop {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::super::pipes::testing::{ms, msg};
    use super::super::{DropReason, Push};
    use super::*;

    const SNDHWM: u32 = 3;
    const TOPICS: [&str; 3] = ["a", "ab", "b"];

    #[derive(Clone, Debug)]
    enum Op {
        Attach,
        Detach(usize),
        Connect(usize, bool),
        Subscribe(usize, usize, bool),
        Send(usize),
        Transmit(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => Just(Op::Attach),
            1 => any::<usize>().prop_map(Op::Detach),
            2 => (any::<usize>(), any::<bool>()).prop_map(|(p, c)| Op::Connect(p, c)),
            2 => (any::<usize>(), 0..TOPICS.len(), any::<bool>())
                .prop_map(|(p, t, on)| Op::Subscribe(p, t, on)),
            5 => (0..TOPICS.len()).prop_map(Op::Send),
            3 => any::<usize>().prop_map(Op::Transmit),
        ]
    }

    /// What the driver knows: attached pipes and how many messages each holds.
    #[derive(Default)]
    struct Model {
        issued: Vec<PipeId>,
        depth: BTreeMap<PipeId, u32>,
        accepted: u32,
        written: u32,
        closed: u32,
    }

    impl Model {
        fn pick(&self, i: usize) -> Option<PipeId> {
            (!self.issued.is_empty()).then(|| self.issued[i % self.issued.len()])
        }

        /// Reads the core's events, checking each depth against SNDHWM and the model.
        fn absorb(
            &mut self,
            core: &mut dyn SocketCore,
            is_push: bool,
        ) -> Result<(), TestCaseError> {
            while let Some(e) = core.poll_event() {
                match e {
                    SocketEvent::Enqueued { pipe, depth, .. } => {
                        let d = self.depth.get_mut(&pipe).expect("enqueued on an attached pipe");
                        *d += 1;
                        prop_assert_eq!(*d, depth);
                        prop_assert!(depth <= SNDHWM);
                    }
                    SocketEvent::Dropped { reason: DropReason::PipeClosed, .. } => self.closed += 1,
                    SocketEvent::Dropped { reason, .. } => {
                        prop_assert!(!is_push, "PUSH dropped with {:?}", reason);
                    }
                    _ => {}
                }
            }
            Ok(())
        }
    }

    fn step(
        core: &mut dyn SocketCore,
        m: &mut Model,
        op: Op,
        is_push: bool,
    ) -> Result<(), TestCaseError> {
        match op {
            Op::Attach => {
                let id = m.issued.len() as PipeId + 1;
                m.issued.push(id);
                m.depth.insert(id, 0);
                core.attach(id, ms(0));
            }
            Op::Detach(i) => {
                let Some(p) = m.pick(i) else { return Ok(()) };
                core.detach(p, ms(0));
                m.depth.remove(&p);
            }
            Op::Connect(i, up) => {
                let Some(p) = m.pick(i) else { return Ok(()) };
                core.set_connected(p, up, ms(0));
            }
            Op::Subscribe(i, t, on) => {
                let Some(p) = m.pick(i).filter(|p| m.depth.contains_key(p)) else { return Ok(()) };
                if !is_push {
                    core.on_message(p, Msg::new(command_body(on, TOPICS[t].as_bytes())), ms(0));
                }
            }
            Op::Send(t) => {
                let full = m.depth.values().all(|d| *d >= SNDHWM);
                let result = core.send(msg(&[], TOPICS[t]), ms(0));
                if is_push {
                    prop_assert_eq!(result.is_err(), full, "PUSH blocks exactly when all are full");
                    m.accepted += u32::from(result.is_ok());
                } else {
                    prop_assert_eq!(result, Ok(()));
                }
            }
            Op::Transmit(i) => {
                let Some(p) = m.pick(i) else { return Ok(()) };
                if core.poll_transmit(p, ms(0)).is_some() {
                    *m.depth.get_mut(&p).expect("written from an attached pipe") -= 1;
                    m.written += 1;
                }
            }
        }
        m.absorb(core, is_push)
    }

    proptest! {
        #[test]
        fn pub_and_push_keep_their_bounds(ops in proptest::collection::vec(op(), 1..80)) {
            for is_push in [false, true] {
                let options = SocketOptions { sndhwm_msgs: SNDHWM, ..SocketOptions::default() };
                let mut core: Box<dyn SocketCore> = if is_push {
                    Box::new(Push::new(options))
                } else {
                    Box::new(Publisher::new_pub(options))
                };
                let mut m = Model::default();
                for op in ops.clone() {
                    step(core.as_mut(), &mut m, op, is_push)?;
                }
                if is_push {
                    let queued: u32 = m.depth.values().sum();
                    prop_assert_eq!(m.accepted, m.written + m.closed + queued, "a PUSH lost a message");
                }
            }
        }
    }
}
