//! Property test over random driver histories: DEALER, ROUTER and REQ are stepped
//! through attach/detach/connect/send/arrive/transmit/recv/time sequences while a small
//! model of the driver's view checks what every core must guarantee.
//!
//! Checked: no queue depth above its HWM; the depths the events report match the
//! model's count; DEALER blocks exactly when every pipe is full; ROUTER writes only
//! on pipes it knows and only what was routed there; REQ only ever writes its current
//! request, one copy per placement, never reports its own request dropped, and never
//! fires the resend timer early.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;

use super::pipes::testing::msg;
use super::{
    DropReason, Msg, PipeId, REQUEST_ID_BIT, RecvError, SocketCore, SocketEvent, SocketOptions,
    SocketType, make_core,
};

const RESEND_IVL_MS: u64 = 1_000;
const FIRST_REQUEST_ID: u32 = REQUEST_ID_BIT | 40;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Dealer,
    Router,
    Req,
}

/// One step of a driver history. Pipe operands index the pipes issued so far
/// (detached ones included), so histories stay meaningful whatever came before.
#[derive(Clone, Debug)]
enum Op {
    Attach,
    Detach(usize),
    Connect(usize, bool),
    Send(usize),
    Arrive(usize, u8),
    Transmit(usize),
    Recv,
    AdvanceMs(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Attach),
        1 => any::<usize>().prop_map(Op::Detach),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(p, c)| Op::Connect(p, c)),
        4 => any::<usize>().prop_map(Op::Send),
        3 => (any::<usize>(), 0..4u8).prop_map(|(p, k)| Op::Arrive(p, k)),
        4 => any::<usize>().prop_map(Op::Transmit),
        2 => Just(Op::Recv),
        2 => (0..2_500u64).prop_map(Op::AdvanceMs),
    ]
}

/// The driver's view of the core, enough to predict what it must do.
struct Harness {
    kind: Kind,
    core: Box<dyn SocketCore>,
    sndhwm_msgs: u32,
    rcvhwm_msgs: u32,
    now: Duration,
    issued: Vec<PipeId>,
    attached: BTreeSet<PipeId>,
    connected: BTreeSet<PipeId>,
    /// DEALER and ROUTER: messages queued per pipe, from `Enqueued` and transmits.
    out_depth: BTreeMap<PipeId, u32>,
    /// ROUTER: the body routed to each pipe, oldest first, to check what comes out.
    routed: BTreeMap<PipeId, Vec<Msg>>,
    /// REQ: the id of the latest request and whether its reply is still awaited.
    current_id: Option<u32>,
    awaiting: bool,
    /// REQ: the pipe whose queue holds the request, per the core's own events.
    queued_on: Option<PipeId>,
    /// REQ: accepted replies the application has not read.
    unread: u32,
}

impl Harness {
    fn new(kind: Kind, sndhwm_msgs: u32, rcvhwm_msgs: u32) -> Harness {
        let options = SocketOptions {
            sndhwm_msgs,
            rcvhwm_msgs,
            req_resend_ivl: Some(Duration::from_millis(RESEND_IVL_MS)),
            ..SocketOptions::default()
        };
        let socket_type = match kind {
            Kind::Dealer => SocketType::Dealer,
            Kind::Router => SocketType::Router,
            Kind::Req => SocketType::Req,
        };
        let core = make_core(socket_type, &options, FIRST_REQUEST_ID);
        Harness {
            kind,
            core,
            sndhwm_msgs,
            rcvhwm_msgs,
            now: Duration::ZERO,
            issued: Vec::new(),
            attached: BTreeSet::new(),
            connected: BTreeSet::new(),
            out_depth: BTreeMap::new(),
            routed: BTreeMap::new(),
            current_id: None,
            awaiting: false,
            queued_on: None,
            unread: 0,
        }
    }

    fn pick(&self, index: usize) -> Option<PipeId> {
        (!self.issued.is_empty()).then(|| self.issued[index % self.issued.len()])
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Attach => self.attach(),
            Op::Detach(i) => self.pick(i).into_iter().for_each(|p| self.detach(p)),
            Op::Connect(i, up) => self.pick(i).into_iter().for_each(|p| self.connect(p, up)),
            Op::Send(i) => self.send(i),
            Op::Arrive(i, flavour) => {
                self.pick(i).into_iter().for_each(|p| self.arrive(p, flavour))
            }
            Op::Transmit(i) => self.pick(i).into_iter().for_each(|p| self.transmit(p)),
            Op::Recv => self.recv(),
            Op::AdvanceMs(ms) => self.advance(Duration::from_millis(ms)),
        }
        self.check_events();
    }

    fn attach(&mut self) {
        let pipe = self.issued.len() as PipeId + 1;
        self.issued.push(pipe);
        self.attached.insert(pipe);
        self.core.attach(pipe, self.now);
    }

    fn detach(&mut self, pipe: PipeId) {
        self.attached.remove(&pipe);
        self.connected.remove(&pipe);
        self.out_depth.remove(&pipe);
        self.routed.remove(&pipe);
        if self.queued_on == Some(pipe) {
            self.queued_on = None;
        }
        self.core.detach(pipe, self.now);
    }

    fn connect(&mut self, pipe: PipeId, up: bool) {
        if up && self.attached.contains(&pipe) {
            self.connected.insert(pipe);
        } else {
            self.connected.remove(&pipe);
        }
        self.core.set_connected(pipe, up, self.now);
    }

    fn send(&mut self, index: usize) {
        match self.kind {
            Kind::Dealer => {
                let full = self.attached.iter().all(|p| self.depth(*p) >= self.sndhwm_msgs);
                let sent = self.core.send(msg(&[7, 8], "dealer"), self.now);
                assert_eq!(sent.is_err(), full, "DEALER blocks exactly when every pipe is full");
            }
            Kind::Router => self.send_routed(index),
            Kind::Req => {
                let id = self
                    .current_id
                    .map_or(FIRST_REQUEST_ID, |id| id.wrapping_add(1) | REQUEST_ID_BIT);
                self.core.send(msg(&[7], "request"), self.now).expect("REQ never blocks");
                (self.current_id, self.awaiting, self.queued_on, self.unread) =
                    (Some(id), true, None, 0);
            }
        }
    }

    /// Routes to one of the issued pipes or to an id no pipe ever had.
    fn send_routed(&mut self, index: usize) {
        let target = self.pick(index).filter(|_| !index.is_multiple_of(5)).unwrap_or(999);
        let body = format!("to {target} #{index}");
        let sent = Msg { header: vec![target, 77], body: body.clone().into() };
        assert_eq!(self.core.send(sent, self.now), Ok(()), "ROUTER drops, never fails");
        if self.attached.contains(&target) && self.depth(target) < self.sndhwm_msgs {
            let want = Msg { header: vec![77], body: body.into() };
            self.routed.entry(target).or_default().push(want);
        }
    }

    fn arrive(&mut self, pipe: PipeId, flavour: u8) {
        // The driver honours backpressure: nothing is read from a pipe that is full.
        if !self.core.can_receive(pipe) {
            return;
        }
        assert!(self.attached.contains(&pipe), "a detached pipe cannot receive");
        let header = match (self.kind, flavour) {
            (Kind::Req, 0) => self.current_id.into_iter().collect(),
            (Kind::Req, 1) => self.current_id.map(|id| id ^ 1).into_iter().collect(),
            (Kind::Req, 2) => vec![],
            _ => vec![u32::from(flavour), REQUEST_ID_BIT | 3],
        };
        let accepted = matches!(self.kind, Kind::Req)
            && self.awaiting
            && header.first() == self.current_id.as_ref();
        if accepted {
            (self.awaiting, self.queued_on, self.unread) = (false, None, self.unread + 1);
        }
        self.core.on_message(pipe, Msg { header, body: "in".into() }, self.now);
    }

    fn transmit(&mut self, pipe: PipeId) {
        let live = self.attached.contains(&pipe) && self.connected.contains(&pipe);
        let out = self.core.poll_transmit(pipe, self.now);
        if out.is_some() {
            self.core.on_written(pipe, self.now);
        }
        let Some(out) = out else {
            if live {
                assert_eq!(self.depth(pipe), 0, "a queued message must come out");
                assert_ne!(self.queued_on, Some(pipe), "REQ's request is stuck on {pipe}");
            }
            return;
        };
        assert!(live, "wrote on pipe {pipe}, which is detached or down");
        match self.kind {
            Kind::Dealer => assert_eq!(out.header, [7, 8], "DEALER leaves headers alone"),
            Kind::Router => {
                let want = self.routed.get_mut(&pipe).map(|q| q.remove(0));
                assert_eq!(Some(out), want, "ROUTER wrote what was not routed to {pipe}");
            }
            Kind::Req => {
                assert!(self.awaiting, "REQ wrote a request after its reply was accepted");
                assert_eq!(out.header, self.current_id.into_iter().collect::<Vec<_>>());
                assert_eq!(self.queued_on.take(), Some(pipe), "a copy nobody placed");
            }
        }
        if let Some(depth) = self.out_depth.get_mut(&pipe) {
            *depth -= 1;
        }
    }

    fn recv(&mut self) {
        let got = self.core.recv(self.now);
        if let (Kind::Router, Ok(msg)) = (self.kind, &got) {
            assert!(self.issued.contains(&msg.header[0]), "ROUTER tagged with no pipe's id");
        }
        if let Kind::Req = self.kind {
            let want = match (self.unread, self.awaiting) {
                (1.., _) => Ok(()),
                (0, true) => Err(RecvError::WouldBlock),
                (0, false) => Err(RecvError::State),
            };
            assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), want);
            self.unread = self.unread.saturating_sub(1);
        }
    }

    /// Calls `on_timeout` whether or not it is due: a core must ignore an early call.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        let due = self.core.poll_timeout().is_some_and(|deadline| deadline <= self.now);
        self.core.on_timeout(self.now);
        let events: Vec<_> = std::iter::from_fn(|| self.core.poll_event()).collect();
        assert!(due || events.is_empty(), "the timer fired early: {events:?}");
        assert!(self.core.poll_timeout().is_none_or(|next| next > self.now));
        events.into_iter().for_each(|e| self.check_event(e));
    }

    fn depth(&self, pipe: PipeId) -> u32 {
        self.out_depth.get(&pipe).copied().unwrap_or(0)
    }

    fn check_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            self.check_event(event);
        }
    }

    fn check_event(&mut self, event: SocketEvent) {
        match event {
            SocketEvent::Enqueued { pipe, depth, msg } => {
                self.check_enqueued(pipe, depth, msg.whole())
            }
            SocketEvent::Arrived { pipe, depth, .. } => {
                assert!(depth <= self.rcvhwm_msgs, "inbound depth {depth} above RCVHWM");
                assert!(self.attached.contains(&pipe));
            }
            SocketEvent::Resent { pipe, request_id, .. } => {
                assert_eq!(Some(request_id), self.current_id, "resent a stale request");
                assert!(self.awaiting && self.attached.contains(&pipe));
                self.queued_on = Some(pipe);
            }
            SocketEvent::Dropped { pipe, reason, .. } => self.check_dropped(pipe, reason),
            SocketEvent::Cancelled { request_id } => {
                assert_ne!(Some(request_id), self.current_id);
            }
            SocketEvent::Subscription { .. } | SocketEvent::SurveyExpired { .. } => {
                panic!("DEALER, ROUTER and REQ neither subscribe nor survey: {event:?}")
            }
        }
    }

    fn check_enqueued(&mut self, pipe: PipeId, depth: u32, msg: &Msg) {
        assert!(depth <= self.sndhwm_msgs, "outbound depth {depth} above SNDHWM");
        assert!(self.attached.contains(&pipe), "enqueued on unknown pipe {pipe}");
        if let Kind::Req = self.kind {
            assert_eq!(msg.header, self.current_id.into_iter().collect::<Vec<_>>());
            assert!(self.awaiting);
            self.queued_on = Some(pipe);
            return;
        }
        let model = self.out_depth.entry(pipe).or_insert(0);
        *model += 1;
        assert_eq!(depth, *model, "reported depth differs from the messages queued");
    }

    fn check_dropped(&self, pipe: Option<PipeId>, reason: DropReason) {
        match (self.kind, reason) {
            (Kind::Req, DropReason::PipeClosed) => panic!("REQ dropped its own request"),
            (Kind::Router, DropReason::Hwm) => {
                let pipe = pipe.expect("an HWM drop names its pipe");
                assert_eq!(self.depth(pipe), self.sndhwm_msgs, "dropped below the HWM");
            }
            (_, DropReason::PeerGone) => panic!("only REP reports PeerGone"),
            _ => {}
        }
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Dealer), Just(Kind::Router), Just(Kind::Req)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cores_keep_their_guarantees_under_any_driver_history(
        kind in kind(),
        sndhwm_msgs in 1..4u32,
        rcvhwm_msgs in 1..4u32,
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let mut harness = Harness::new(kind, sndhwm_msgs, rcvhwm_msgs);
        for op in &ops {
            harness.step(op);
        }
    }
}

/// The REQ resend path the property test relies on is reachable: a history in which
/// the timer fires produces a `Resent`, so a pass above is not vacuous.
#[test]
fn the_property_harness_reaches_a_resend() {
    let mut harness = Harness::new(Kind::Req, 2, 2);
    let ops = [Op::Attach, Op::Connect(0, true), Op::Send(0), Op::Transmit(0)];
    ops.iter().for_each(|op| harness.step(op));
    harness.now += Duration::from_millis(RESEND_IVL_MS);
    harness.core.on_timeout(harness.now);
    assert!(matches!(harness.core.poll_event(), Some(SocketEvent::Resent { pipe: 1, .. })));
}
