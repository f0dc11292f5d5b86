//! Property tests of every socket core under random driver histories (issue 5, item 4).
//!
//! A history is a list of what the driver in `net/` can do to a core, in the order it
//! does it: attach a fresh pipe, bring its transport up or down, detach it (down first,
//! as `run_established` ends before the pipe goes), hand over a message from a
//! connected pipe only while `can_receive` allows, write (`poll_transmit`) only on a
//! connected pipe, let the application send and receive, and let time pass, firing
//! `on_timeout` at each deadline `poll_timeout` asks for. Peers' messages are
//! well-formed for the type most of the time (replies echo request ids that really
//! went out, requests carry a backtrace, subscribers send subscriptions) and garbage
//! otherwise, including headers the wire layer would never produce.
//!
//! [`record`] runs a history and keeps everything as a [`Trace`]; each property is a
//! pure function from a trace to `Result<(), String>` listing every violation. The
//! same functions are fed deliberately broken cores (a wrapper that ignores the HWM,
//! routes to a stale pipe, sends a second request...) to prove each can fail.
//!
//! Every property runs `PATCHBAY_PROPTEST_CASES` cases (256 by default) from a fixed
//! seed (`PROPTEST_RNG_SEED` overrides it), so CI is reproducible; failures are kept
//! in `sim/proptest-regressions/socket/props.txt`, committed, and replayed first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, RngAlgorithm, RngSeed, TestCaseError,
    TestError, TestRunner,
};

use super::multipart;
use super::subscriptions::{any_matches, command_body, topic};
use super::{
    DropReason, HwmPolicy, Msg, PipeId, Pipes, REQUEST_ID_BIT, RecvError, SendError, SocketCore,
    SocketEvent, SocketOptions, SocketType, Subscriber, Surveyor, make_core,
};

/// Cases per property when `PATCHBAY_PROPTEST_CASES` is not set: the whole module
/// takes a few seconds in a debug build.
const CASES_DEFAULT: u32 = 256;

/// The seed every run uses unless `PROPTEST_RNG_SEED` says otherwise.
const SEED: u64 = 0x5eed_c0e5;

/// Committed regressions, replayed before new cases.
const REGRESSIONS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/socket/props.txt");

/// Cases a search for a deliberately broken core gets, whatever the environment says:
/// the proof that a property can fail must not depend on how far CI explores.
const FLAW_CASES: u32 = 256;

const RESEND_IVL_MS: u64 = 700;
const SURVEY_DEADLINE_MS: u64 = 1_000;
/// Handed to REQ and SURVEYOR as their first id (the core sets the high bit).
const FIRST_REQUEST_ID: u32 = 0x100;
/// Request ids no REQ or SURVEYOR here ever uses: a peer answering something else.
const FOREIGN_ID_BASE: u32 = 0xC000_0000;
/// A hop id no pipe of a ROUTER here ever has.
const UNKNOWN_HOP: u32 = 0x7fff_0000;

/// What SUB/XSUB subscribe to and what subscribers ask a PUB/XPUB for.
const PREFIXES: [&str; 4] = ["", "a", "ab", "b"];
/// What messages start with; "c" matches only the empty prefix.
const TOPICS: [&str; 5] = ["", "a", "ab", "b", "c"];

/// The socket-wide choices of one case.
#[derive(Clone, Debug)]
struct Setup {
    socket: SocketType,
    /// 0 means unlimited, as `ZMQ_SNDHWM = 0`.
    sndhwm_msgs: u32,
    rcvhwm_msgs: u32,
    /// REQ: whether the resend timer is on.
    resend: bool,
    router_mandatory: bool,
    /// SUB/XSUB: indices into [`PREFIXES`] subscribed at construction.
    subscribe: Vec<usize>,
    /// PUB, SUB, XSUB, BUS: NNG's queueing (drop the oldest, read on) instead of
    /// libzmq's.
    nng_queues: bool,
    /// PUSH, PAIR, DEALER: the SP libraries' send buffer on the socket, `sndhwm_msgs`
    /// then 1 (one message a connected pipe), instead of libzmq's per-pipe queues.
    sp_send_buffer: Option<u32>,
    /// REQ: a send waits for a connected pipe (NNG) instead of returning at once.
    req_send_waits: bool,
    /// The receiver takes the pipe ready first, each pipe holding one (nanomsg's
    /// `nn_fq`; NNG's PULL, REP and RESPONDENT), instead of fair-queueing.
    recv_ready_first: bool,
}

impl Setup {
    fn options(&self) -> SocketOptions {
        SocketOptions {
            sndhwm_msgs: self.sndhwm_msgs,
            rcvhwm_msgs: self.rcvhwm_msgs,
            req_resend_ivl: self.resend.then(|| Duration::from_millis(RESEND_IVL_MS)),
            survey_deadline: Duration::from_millis(SURVEY_DEADLINE_MS),
            subscribe: self.subscribe.iter().map(|i| PREFIXES[*i].as_bytes().to_vec()).collect(),
            router_mandatory: self.router_mandatory,
            nng_queues: self.nng_queues,
            sp_send_buffer: self.sp_send_buffer,
            req_send_waits: self.req_send_waits,
            recv_ready_first: self.recv_ready_first,
            ..SocketOptions::default()
        }
    }
}

/// The core a setup describes, built by the factory the run uses.
fn real_core(setup: &Setup) -> Box<dyn SocketCore> {
    make_core(setup.socket, &setup.options(), FIRST_REQUEST_ID)
}

prop_compose! {
    fn setup(types: &'static [SocketType])(
        socket in proptest::sample::select(types),
        sndhwm_msgs in 0..=8u32,
        rcvhwm_msgs in 0..=8u32,
        resend in proptest::bool::weighted(0.8),
        router_mandatory in proptest::bool::weighted(0.25),
        subscribe in proptest::collection::vec(0..PREFIXES.len(), 0..3),
        nng_queues in proptest::bool::weighted(0.3),
        sp_send_buffer in proptest::option::weighted(0.3, 0..=3u32),
        req_send_waits in proptest::bool::weighted(0.3),
        recv_ready_first in proptest::bool::weighted(0.2),
    ) -> Setup {
        // As the resolver gives them: a send buffer only on a PUSH or PAIR, whose
        // pipes then hold one message each.
        let sp_send_buffer = sp_send_buffer
            .filter(|_| matches!(socket, SocketType::Push | SocketType::Pair | SocketType::Dealer));
        let sndhwm_msgs = if sp_send_buffer.is_some() { 1 } else { sndhwm_msgs };
        // As the resolver gives it: NNG's PULL, REP and RESPONDENT always, nanomsg's
        // receivers when drawn (never with NNG's queues; nanomsg has no XPUB).
        let nng_holds_one = matches!(socket, SocketType::Pull | SocketType::Rep | SocketType::Respondent);
        let recv_ready_first = if nng_queues {
            nng_holds_one
        } else {
            recv_ready_first && socket != SocketType::XPub
        };
        Setup {
            socket,
            sndhwm_msgs,
            rcvhwm_msgs,
            resend,
            router_mandatory,
            subscribe,
            nng_queues,
            sp_send_buffer,
            req_send_waits,
            recv_ready_first,
        }
    }
}

/// Random choices a message is built from; what they mean depends on the socket type
/// and on the direction (see [`Driver::inbound`] and [`Driver::outbound`]).
#[derive(Clone, Debug)]
struct Knobs {
    /// Which flavour of message: well-formed for low values, odd or garbage for high.
    kind: u8,
    /// Picks a pipe, a request id or a hop, modulo what exists.
    pick: usize,
    /// Raw ids for garbage headers and device hops.
    header: Vec<u32>,
    topic: usize,
    multipart: bool,
    pad_bytes: u8,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        0..6u8,
        any::<usize>(),
        proptest::collection::vec(any::<u32>(), 0..4),
        0..TOPICS.len(),
        any::<bool>(),
        0..24u8,
    )
        .prop_map(|(kind, pick, header, topic, multipart, pad_bytes)| Knobs {
            kind,
            pick,
            header,
            topic,
            multipart,
            pad_bytes,
        })
}

/// One thing the driver or the application does. Pipe operands index the pipes issued
/// so far (detached ones included); an operation that the driver could not perform on
/// that pipe now (write on a pipe that is down, deliver to a full one) does nothing.
#[derive(Clone, Debug)]
enum Op {
    Attach,
    Connect(usize),
    Disconnect(usize),
    Detach(usize),
    Arrive(usize, Knobs),
    /// The writer drains up to this many messages.
    Write(usize, u8),
    Send(Knobs),
    Recv,
    AdvanceMs(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Attach),
        3 => any::<usize>().prop_map(Op::Connect),
        1 => any::<usize>().prop_map(Op::Disconnect),
        1 => any::<usize>().prop_map(Op::Detach),
        5 => (any::<usize>(), knobs()).prop_map(|(p, k)| Op::Arrive(p, k)),
        5 => (any::<usize>(), 1..5u8).prop_map(|(p, n)| Op::Write(p, n)),
        5 => knobs().prop_map(Op::Send),
        4 => Just(Op::Recv),
        2 => (0..2_500u16).prop_map(Op::AdvanceMs),
    ]
}

/// What happened, in the order it happened.
#[derive(Clone, Debug)]
enum Step {
    /// The core was built; its events are those of construction (initial subscriptions).
    Start,
    Attach(PipeId),
    Connect(PipeId, bool),
    Detach(PipeId),
    Arrive(PipeId, Msg),
    Write(PipeId, Msg),
    Send(Msg, Result<(), SendError>),
    Recv(Result<Msg, RecvError>),
    Timeout,
    /// Right after `on_timeout`, the core still wanted a timeout at or before now: the
    /// driver's timer task would spin (it panics instead).
    TimerStuck(Duration),
    /// The write just logged came after `may_transmit` said the pipe had nothing: a
    /// connection's writer would not have asked (`net/conn.rs`), and the message would
    /// have waited for the next wake-up.
    Unannounced(PipeId),
}

/// One step and the events the core reported during it.
#[derive(Clone, Debug)]
struct Record {
    at: Duration,
    step: Step,
    events: Vec<SocketEvent>,
}

#[derive(Clone, Debug)]
struct Trace {
    setup: Setup,
    records: Vec<Record>,
}

/// Drives a core as `net/driver.rs` and `net/conn.rs` do, and records what it did.
struct Driver {
    core: Box<dyn SocketCore>,
    now: Duration,
    issued: Vec<PipeId>,
    attached: BTreeSet<PipeId>,
    connected: BTreeSet<PipeId>,
    /// Request and survey ids seen going out, newest last: what peers may answer.
    written_ids: Vec<u32>,
    /// Makes every message body unique, so a trace can tell messages apart.
    bodies_made: u32,
    records: Vec<Record>,
}

/// Runs `ops` against `core` and returns the trace, or what the core panicked with.
fn record(setup: &Setup, core: Box<dyn SocketCore>, ops: &[Op]) -> Result<Trace, String> {
    let mut driver = Driver {
        core,
        now: Duration::ZERO,
        issued: Vec::new(),
        attached: BTreeSet::new(),
        connected: BTreeSet::new(),
        written_ids: Vec::new(),
        bodies_made: 0,
        records: Vec::new(),
    };
    driver.log(Step::Start);
    let run = catch_unwind(AssertUnwindSafe(|| ops.iter().for_each(|op| driver.step(setup, op))));
    match run {
        Ok(()) => Ok(Trace { setup: setup.clone(), records: driver.records }),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let last = driver.records.last().map(|r| &r.step);
            Err(format!("{} panicked after {last:?}: {message}", setup.socket))
        }
    }
}

impl Driver {
    fn log(&mut self, step: Step) {
        let events = std::iter::from_fn(|| self.core.poll_event()).collect();
        self.records.push(Record { at: self.now, step, events });
    }

    fn pipe(&self, index: usize) -> Option<PipeId> {
        (!self.issued.is_empty()).then(|| self.issued[index % self.issued.len()])
    }

    fn step(&mut self, setup: &Setup, op: &Op) {
        let now = self.now;
        match op {
            Op::Attach => {
                let pipe = self.issued.len() as PipeId + 1;
                self.issued.push(pipe);
                self.attached.insert(pipe);
                self.core.attach(pipe, now);
                self.log(Step::Attach(pipe));
            }
            Op::Connect(i) => {
                let up = |p: &PipeId| self.attached.contains(p) && !self.connected.contains(p);
                let Some(pipe) = self.pipe(*i).filter(up) else { return };
                self.connect(pipe, true);
            }
            Op::Disconnect(i) => {
                let Some(pipe) = self.pipe(*i).filter(|p| self.connected.contains(p)) else {
                    return;
                };
                self.connect(pipe, false);
            }
            Op::Detach(i) => {
                let Some(pipe) = self.pipe(*i).filter(|p| self.attached.contains(p)) else {
                    return;
                };
                if self.connected.contains(&pipe) {
                    self.connect(pipe, false);
                }
                self.attached.remove(&pipe);
                self.core.detach(pipe, now);
                self.log(Step::Detach(pipe));
            }
            Op::Arrive(i, knobs) => {
                let readable = |p: &PipeId| self.connected.contains(p) && self.core.can_receive(*p);
                let Some(pipe) = self.pipe(*i).filter(readable) else { return };
                let msg = self.inbound(setup.socket, knobs);
                self.core.on_message(pipe, msg.clone(), now);
                self.log(Step::Arrive(pipe, msg));
            }
            Op::Write(i, budget) => {
                let Some(pipe) = self.pipe(*i).filter(|p| self.connected.contains(p)) else {
                    return;
                };
                for _ in 0..*budget {
                    let announced = self.core.may_transmit(pipe);
                    let Some(msg) = self.core.poll_transmit(pipe, now) else { break };
                    // The transport takes each message whole at once.
                    self.core.on_written(pipe, now);
                    if let Some(id) = msg.request_id().filter(|id| !self.written_ids.contains(id)) {
                        self.written_ids.push(id);
                    }
                    self.log(Step::Write(pipe, msg));
                    if !announced {
                        let step = Step::Unannounced(pipe);
                        self.records.push(Record { at: now, step, events: Vec::new() });
                    }
                }
            }
            Op::Send(knobs) => {
                let msg = self.outbound(setup.socket, knobs);
                let result = self.core.send(msg.clone(), now);
                self.log(Step::Send(msg, result));
            }
            Op::Recv => {
                let result = self.core.recv(now);
                self.log(Step::Recv(result));
            }
            Op::AdvanceMs(ms) => self.advance(now + Duration::from_millis(u64::from(*ms))),
        }
    }

    fn connect(&mut self, pipe: PipeId, up: bool) {
        if up {
            self.connected.insert(pipe);
        } else {
            self.connected.remove(&pipe);
        }
        self.core.set_connected(pipe, up, self.now);
        self.log(Step::Connect(pipe, up));
    }

    /// The timer task: sleeps to each deadline up to `until` and fires it there.
    fn advance(&mut self, until: Duration) {
        while let Some(deadline) = self.core.poll_timeout().filter(|d| *d <= until) {
            self.now = self.now.max(deadline);
            self.core.on_timeout(self.now);
            self.log(Step::Timeout);
            if let Some(next) = self.core.poll_timeout().filter(|next| *next <= self.now) {
                self.log(Step::TimerStuck(next));
                break;
            }
        }
        self.now = until;
    }

    /// A unique body whose first frame starts with the chosen topic.
    fn body(&mut self, knobs: &Knobs) -> Bytes {
        self.bodies_made += 1;
        let first = format!("{}#{}", TOPICS[knobs.topic], self.bodies_made);
        let pad = "x".repeat(usize::from(knobs.pad_bytes));
        if knobs.multipart {
            multipart::encode(&[first.into(), format!("b{pad}").into()])
        } else {
            Bytes::from(first + &pad)
        }
    }

    /// An id that went out (the newest more often than not), or a foreign one.
    fn answerable_id(&self, pick: usize) -> u32 {
        match self.written_ids.len() {
            0 => FOREIGN_ID_BASE | (pick as u32 & 0xffff),
            n if pick.is_multiple_of(2) => self.written_ids[n - 1],
            n => self.written_ids[pick % n],
        }
    }

    /// What a peer sends this socket type, decoded as `wire::split` would.
    fn inbound(&mut self, socket: SocketType, k: &Knobs) -> Msg {
        use SocketType::*;
        let body = self.body(k);
        let garbage = k.kind >= 5;
        let header = match socket {
            // The receiver's header rule is `RequestId`.
            Req | Dealer | Surveyor => match k.kind {
                0..=2 => vec![self.answerable_id(k.pick)],
                3 => vec![FOREIGN_ID_BASE | (k.pick as u32 & 0xffff)],
                4 => [self.answerable_id(k.pick)].into_iter().chain(k.header.clone()).collect(),
                _ => k.header.clone(),
            },
            // `Backtrace`: device hops, then the requester's id.
            Rep | Router | Respondent if !garbage => {
                let hops = k.header.iter().map(|h| h & !REQUEST_ID_BIT).take(2);
                hops.chain([REQUEST_ID_BIT | k.pick as u32]).collect()
            }
            _ if garbage => k.header.clone(),
            _ => Vec::new(),
        };
        let body = match (socket, k.kind) {
            (Pub | XPub, 0..=1) => {
                command_body(true, PREFIXES[k.topic % PREFIXES.len()].as_bytes())
            }
            (Pub | XPub, 2) => command_body(false, PREFIXES[k.topic % PREFIXES.len()].as_bytes()),
            _ => body,
        };
        Msg { header, body }
    }

    /// What the application sends on this socket type.
    fn outbound(&mut self, socket: SocketType, k: &Knobs) -> Msg {
        let body = self.body(k);
        let prefix = PREFIXES[k.topic % PREFIXES.len()].as_bytes();
        match socket {
            SocketType::Router => {
                let target = match k.kind {
                    0..=2 => Some(self.pipe(k.pick).unwrap_or(UNKNOWN_HOP)),
                    3 => Some(UNKNOWN_HOP + (k.pick % 4) as u32),
                    4 => None,
                    _ => Some(REQUEST_ID_BIT | k.pick as u32),
                };
                let header = target.into_iter().chain([REQUEST_ID_BIT | 7]).collect();
                Msg { header, body }
            }
            SocketType::Sub | SocketType::XSub => match k.kind {
                0..=2 => Msg::new(command_body(true, prefix)),
                3 => Msg::new(command_body(false, prefix)),
                _ => Msg::new(body),
            },
            _ => Msg { header: k.header.clone(), body },
        }
    }
}

/// Every violation a check finds, each with the step it happened at.
#[derive(Default)]
struct Violations {
    found: Vec<String>,
}

impl Violations {
    fn add(&mut self, index: usize, record: &Record, what: String) {
        self.found.push(format!("step {index} at {:?} ({:?}): {what}", record.at, record.step));
    }

    fn finish(self) -> Result<(), String> {
        if self.found.is_empty() { Ok(()) } else { Err(self.found.join("\n")) }
    }

    /// Every step of `trace` that `flags` says is a violation, and what it says.
    fn of_steps(trace: &Trace, flags: impl Fn(&Step) -> Option<String>) -> Result<(), String> {
        let mut v = Violations::default();
        for (n, r) in trace.records.iter().enumerate() {
            if let Some(what) = flags(&r.step) {
                v.add(n, r, what);
            }
        }
        v.finish()
    }
}

/// The pipes' lifecycle as the driver drove it.
#[derive(Default)]
struct PipeStates {
    attached: BTreeSet<PipeId>,
    connected: BTreeSet<PipeId>,
}

impl PipeStates {
    fn apply(&mut self, step: &Step) {
        match step {
            Step::Attach(p) => {
                self.attached.insert(*p);
            }
            Step::Connect(p, true) => {
                self.connected.insert(*p);
            }
            Step::Connect(p, false) => {
                self.connected.remove(p);
            }
            Step::Detach(p) => {
                self.attached.remove(p);
            }
            _ => {}
        }
    }
}

fn below_hwm(len: u32, hwm_msgs: u32) -> bool {
    hwm_msgs == 0 || len < hwm_msgs
}

fn enqueued(events: &[SocketEvent]) -> impl Iterator<Item = (PipeId, &Msg)> {
    events.iter().filter_map(|e| match e {
        SocketEvent::Enqueued { pipe, msg, .. } => Some((*pipe, msg.whole())),
        _ => None,
    })
}

/// Property 1, every socket type: no queue depth a core reports exceeds its HWM, the
/// outbound depths reported are the messages really queued, only types whose policy
/// is to drop drop for HWM reasons, and the blocking types (DEALER, PUSH, PAIR) refuse
/// the send exactly when no pipe they could use has room, and queue what they accept.
///
/// SUB and XSUB may drop subscriptions and forwarded messages they send upstream
/// (`subscribe.rs` documents why); REQ holds one request, so its depth is at most 1.
fn check_hwm(trace: &Trace) -> Result<(), String> {
    use SocketType::*;
    let s = &trace.setup;
    let mut v = Violations::default();
    let mut pipes = PipeStates::default();
    let mut outbound: BTreeMap<PipeId, u32> = BTreeMap::new();
    // PAIR talks to the first pipe attached while it has none.
    let mut pair_peer: Option<PipeId> = None;
    // A PUSH's or PAIR's send buffer on the socket (the SP libraries'), and how many
    // messages wait in it: a connected pipe with room takes the oldest of them.
    let sp = s.sp_send_buffer.filter(|_| matches!(s.socket, Push | Pair | Dealer));
    let mut waiting = 0u32;
    for (n, r) in trace.records.iter().enumerate() {
        let room = |p: &PipeId| below_hwm(outbound.get(p).copied().unwrap_or(0), s.sndhwm_msgs);
        // libzmq queues on a pipe still connecting (`IMMEDIATE=0`); the SP libraries
        // hand a message only to a connected pipe.
        let usable = |p: &PipeId| room(p) && (sp.is_none() || pipes.connected.contains(p));
        let pipe_free = match s.socket {
            Pair => pair_peer.is_some_and(|p| usable(&p)),
            _ => pipes.attached.iter().any(usable),
        };
        match &r.step {
            Step::Send(_, result) if matches!(s.socket, Dealer | Push | Pair) => {
                let must_block = !pipe_free && sp.is_none_or(|buffer| waiting >= buffer);
                let blocked = *result == Err(SendError::WouldBlock);
                if blocked != must_block {
                    let what = format!(
                        "send returned {result:?}; every usable pipe full and nothing more \
                         can wait: {must_block}"
                    );
                    v.add(n, r, what);
                }
                let on_pipe = usize::from(pipe_free || sp.is_none());
                if result.is_ok() && enqueued(&r.events).count() != on_pipe {
                    let what = format!("accepted a message and queued it on {on_pipe} pipe(s)");
                    v.add(n, r, what);
                }
                if result.is_ok() && on_pipe == 0 {
                    waiting += 1;
                }
            }
            Step::Send(_, result) if s.socket == Req && *result != Err(SendError::State) => {
                // NNG's REQ waits for a connected pipe; libzmq's and nanomsg's never
                // block. Any connected pipe has room: the one request a REQ queues is
                // the one this send cancels first.
                let free = pipes.attached.iter().any(|p| pipes.connected.contains(p));
                let must_block = s.req_send_waits && !free;
                if (*result == Err(SendError::WouldBlock)) != must_block {
                    let what = format!(
                        "REQ send returned {result:?} (waits for a pipe: {}, a connected pipe \
                         with room: {free})",
                        s.req_send_waits
                    );
                    v.add(n, r, what);
                }
            }
            Step::Attach(p) if pair_peer.is_none() => pair_peer = Some(*p),
            Step::Detach(p) if pair_peer == Some(*p) => pair_peer = None,
            Step::Write(p, msg) if s.socket != Req => match outbound.get_mut(p) {
                Some(depth) if *depth > 0 => *depth -= 1,
                _ => v.add(n, r, format!("wrote {msg:?} on pipe {p}, where nothing was queued")),
            },
            _ => {}
        }
        pipes.apply(&r.step);
        // NNG's PUB makes room at a full pipe: its `Hwm` drop on a send is that pipe's
        // oldest message, and the new one is queued after it.
        let evicts = s.nng_queues && matches!(s.socket, Pub | XPub);
        for event in &r.events {
            match event {
                SocketEvent::Dropped { reason: DropReason::Hwm, pipe: Some(p), .. }
                    if matches!(r.step, Step::Send(..)) && matches!(s.socket, Pub | XPub) =>
                {
                    let queued_after = enqueued(&r.events).any(|(q, _)| q == *p);
                    if evicts != queued_after {
                        let what = format!(
                            "a full pipe {p} {} the new message (NNG's queues: {evicts})",
                            if queued_after { "took" } else { "refused" }
                        );
                        v.add(n, r, what);
                    }
                    match outbound.get_mut(p) {
                        Some(depth) if evicts && *depth > 0 => *depth -= 1,
                        _ if evicts => v.add(n, r, format!("evicted from empty pipe {p}")),
                        _ => {}
                    }
                }
                SocketEvent::Enqueued { pipe, depth, .. } => {
                    if s.sndhwm_msgs > 0 && *depth > s.sndhwm_msgs {
                        v.add(n, r, format!("outbound depth {depth} on pipe {pipe} above SNDHWM"));
                    }
                    if !pipes.attached.contains(pipe) {
                        v.add(n, r, format!("queued on pipe {pipe}, which is not attached"));
                    }
                    if sp.is_some() && !pipes.connected.contains(pipe) {
                        v.add(n, r, format!("queued on pipe {pipe}, which is not connected"));
                    }
                    // Outside a send, a pipe takes a message that waited on the socket.
                    if sp.is_some() && !matches!(r.step, Step::Send(..)) {
                        match waiting.checked_sub(1) {
                            Some(left) => waiting = left,
                            None => v.add(n, r, format!("pipe {pipe} took a message none sent")),
                        }
                    }
                    if s.socket == Req {
                        if *depth != 1 {
                            v.add(n, r, format!("REQ has {depth} messages queued on pipe {pipe}"));
                        }
                        continue;
                    }
                    let model = outbound.entry(*pipe).or_insert(0);
                    *model += 1;
                    if *model != *depth {
                        v.add(n, r, format!("reported depth {depth}, but {model} are queued"));
                    }
                }
                // NNG's raw REP holds one message per pipe beyond its socket queue of
                // RCVHWM (`check_inbound` holds it to exactly that).
                SocketEvent::Arrived { pipe, depth, .. }
                    if s.rcvhwm_msgs > 0 && *depth > s.rcvhwm_msgs + u32::from(xrep0(s)) =>
                {
                    v.add(n, r, format!("inbound depth {depth} on pipe {pipe} above RCVHWM"));
                }
                SocketEvent::Dropped { reason: DropReason::Hwm, pipe, .. } => {
                    let upstream = matches!(s.socket, Sub | XSub)
                        && matches!(r.step, Step::Send(..) | Step::Attach(_));
                    // NNG's SUB and XSUB read on and make room in a full queue.
                    let reads_on = s.nng_queues
                        && matches!(s.socket, Sub | XSub)
                        && matches!(r.step, Step::Arrive(..));
                    if s.socket.hwm_policy() == HwmPolicy::Block && !upstream && !reads_on {
                        let what =
                            format!("{} blocks at its HWM but dropped on {pipe:?}", s.socket);
                        v.add(n, r, what);
                    }
                }
                // A pipe's messages go with it; an SP pipe's one goes with its connection.
                SocketEvent::Dropped { reason: DropReason::PipeClosed, pipe: Some(p), .. }
                    if matches!(r.step, Step::Detach(_))
                        || (sp.is_some() && matches!(r.step, Step::Connect(_, false))) =>
                {
                    if let Some(depth) = outbound.get_mut(p) {
                        *depth = depth.saturating_sub(1);
                    }
                }
                _ => {}
            }
        }
        // Nothing waits on the socket while a pipe could take it.
        if waiting > 0 {
            let room = |p: &PipeId| below_hwm(outbound.get(p).copied().unwrap_or(0), 1);
            let free = pipes.attached.iter().find(|p| pipes.connected.contains(p) && room(p));
            let free =
                if s.socket == Pair { free.filter(|p| Some(**p) == pair_peer) } else { free };
            if let Some(p) = free {
                v.add(
                    n,
                    r,
                    format!("{waiting} message(s) wait on the socket while pipe {p} is free"),
                );
            }
        }
    }
    v.finish()
}

/// Property 1, inbound half, every socket type: each `Arrived` depth is the number of
/// messages really waiting on that pipe (so RCVHWM is checked against the truth, not
/// only against what the core says), and `recv` hands over the oldest waiting message
/// of some pipe, never one that did not arrive. Messages leave a pipe's queue by
/// `recv` or by a drop outside an arrival (a REQ's stale replies on a new send, a
/// SURVEYOR's at its deadline, a SUB's on a cancelled prefix).
///
/// XPUB's subscription messages are not unique (two pipes may both send `0x01a`), so
/// which pipe a `recv` took one from is ambiguous and its depths are only bounded.
fn check_inbound(trace: &Trace) -> Result<(), String> {
    let s = &trace.setup;
    let mut v = Violations::default();
    let mut waiting: BTreeMap<PipeId, VecDeque<Msg>> = BTreeMap::new();
    // NNG's SUB, XSUB, BUS and SURVEYOR keep one queue for the socket: RCVHWM bounds every pipe's
    // messages together, and a receive takes the oldest of them all. Its raw REP too,
    // where RCVHWM is the socket's queue and each pipe holds one message beyond it.
    let per_socket = s.nng_queues
        && matches!(
            s.socket,
            SocketType::Sub | SocketType::XSub | SocketType::Bus | SocketType::Surveyor
        )
        || socket_queue(s).is_some();
    let mut arrivals: VecDeque<(PipeId, Msg)> = VecDeque::new();
    let left = |arrivals: &mut VecDeque<(PipeId, Msg)>, pipe: PipeId, msg: &Msg| {
        if let Some(at) = arrivals.iter().position(|(p, m)| *p == pipe && m == msg) {
            arrivals.remove(at);
        }
    };
    let take_front = |waiting: &mut BTreeMap<PipeId, VecDeque<Msg>>, pipe: Option<PipeId>, msg| {
        let fronts = waiting.iter_mut().filter(|(p, _)| pipe.is_none_or(|want| **p == want));
        let (_, queue) = fronts.into_iter().find(|(_, q)| q.front() == Some(msg))?;
        queue.pop_front()
    };
    for (n, r) in trace.records.iter().enumerate() {
        let arriving = matches!(r.step, Step::Arrive(..));
        for event in &r.events {
            match event {
                SocketEvent::Arrived { pipe, depth, msg } => {
                    let queue = waiting.entry(*pipe).or_default();
                    queue.push_back(msg.whole().clone());
                    arrivals.push_back((*pipe, msg.whole().clone()));
                    let real = queue.len() as u32;
                    if s.socket != SocketType::XPub && real != *depth {
                        v.add(n, r, format!("reported inbound depth {depth}, but {real} wait"));
                    }
                    if s.rcvhwm_msgs > 0 && real > s.rcvhwm_msgs && socket_queue(s).is_none() {
                        v.add(n, r, format!("{real} messages wait on pipe {pipe}, above RCVHWM"));
                    }
                }
                SocketEvent::Dropped { pipe: Some(pipe), msg, .. } if !arriving => {
                    if let Some(gone) = take_front(&mut waiting, Some(*pipe), msg) {
                        left(&mut arrivals, *pipe, &gone);
                    }
                }
                // NNG's SUB reads on at a full queue and discards its oldest message.
                SocketEvent::Dropped { reason: DropReason::Hwm, pipe: Some(pipe), msg }
                    if s.nng_queues && s.socket == SocketType::Sub =>
                {
                    let evicted = take_front(&mut waiting, Some(*pipe), msg);
                    match evicted {
                        None => {
                            let what = format!("dropped {msg:?} on pipe {pipe}, not its oldest");
                            v.add(n, r, what);
                        }
                        Some(gone) if per_socket => {
                            if arrivals.front().map(|(_, m)| m) != Some(&gone) {
                                v.add(n, r, format!("evicted {gone:?}, not the socket's oldest"));
                            }
                            left(&mut arrivals, *pipe, &gone);
                        }
                        Some(_) => {}
                    }
                }
                _ => {}
            }
        }
        if let Step::Recv(Ok(msg)) = &r.step {
            if take_front(&mut waiting, None, msg).is_none() {
                v.add(n, r, format!("received {msg:?}, which is no pipe's oldest waiting message"));
            } else if per_socket {
                match arrivals.pop_front() {
                    Some((_, oldest)) if oldest == *msg => {}
                    oldest => v.add(n, r, format!("received {msg:?} before {oldest:?}")),
                }
            }
        }
        let held: usize = waiting.values().map(VecDeque::len).sum();
        if let Some(queue) = socket_queue(s) {
            let beyond = arrivals.iter().skip(queue);
            for (pipe, _) in beyond.clone() {
                let count = beyond.clone().filter(|(p, _)| p == pipe).count();
                if count > 1 {
                    v.add(n, r, format!("pipe {pipe} holds {count} beyond the socket's queue"));
                }
            }
        } else if per_socket && s.rcvhwm_msgs > 0 && held > s.rcvhwm_msgs as usize {
            v.add(n, r, format!("{held} messages wait on the socket, above RCVHWM"));
        }
    }
    v.finish()
}

/// Whether `setup` is NNG's raw REP or raw REQ (`nng_queues` on a ROUTER or DEALER),
/// which receive into a socket queue of RCVHWM and hold one message per pipe beyond it.
fn xrep0(setup: &Setup) -> bool {
    setup.nng_queues && matches!(setup.socket, SocketType::Router | SocketType::Dealer)
}

/// The socket queue of the sockets that hold one message a pipe beyond it: RCVHWM
/// for NNG's raw REP and raw REQ, none where the pipe ready first is taken
/// (`recv_ready_first`: each pipe holds one, taken in the order the pipes became
/// ready).
fn socket_queue(setup: &Setup) -> Option<usize> {
    if setup.recv_ready_first {
        Some(0)
    } else if xrep0(setup) {
        Some(setup.rcvhwm_msgs as usize)
    } else {
        None
    }
}

/// Property 1 as a whole: both halves.
fn check_queues(trace: &Trace) -> Result<(), String> {
    match (check_hwm(trace), check_inbound(trace)) {
        (Ok(()), Ok(())) => Ok(()),
        (outbound, inbound) => Err([outbound.err(), inbound.err()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// Property 2, REQ: one request is live at a time. Every request placed on a queue or
/// written carries the id of the latest send (a new send takes an id never used
/// before, a resend reuses it); nothing is written after its reply was accepted; each
/// copy written was placed on that pipe first (never two copies in flight from one
/// placement); a cancel names the request it replaced; every reply either reaches the
/// application (only the first reply to the live id) or is dropped with a reason; and
/// the application only ever receives replies the core accepted.
fn check_req(trace: &Trace) -> Result<(), String> {
    let mut v = Violations::default();
    let mut live: Option<u32> = None;
    // Whether a request awaits its reply, and so would be cancelled by a new send.
    let mut outstanding = false;
    // The request the latest send replaced, if any: `Some(None)` if it was never
    // placed, so its id was never seen.
    let mut replaced: Option<Option<u32>> = None;
    // Set by a send until its request is first placed, which tells its id.
    let mut fresh = false;
    let mut answered = false;
    let mut queued_on: Option<PipeId> = None;
    let mut unread = 0u32;
    let mut used: BTreeSet<u32> = BTreeSet::new();
    for (n, r) in trace.records.iter().enumerate() {
        match &r.step {
            // NNG's REQ, with no connected pipe to take the request, blocks the send
            // having cancelled the outstanding request: then nothing is live.
            Step::Send(_, Err(SendError::WouldBlock)) if trace.setup.req_send_waits => {
                replaced = outstanding.then_some(live);
                (live, fresh, answered, queued_on, unread) = (None, false, false, None, 0);
                outstanding = false;
            }
            Step::Send(_, result) => {
                if result.is_err() {
                    v.add(n, r, format!("REQ refused a request: {result:?}"));
                }
                replaced = outstanding.then_some(live);
                (live, fresh, answered, queued_on, unread) = (None, true, false, None, 0);
                outstanding = true;
            }
            Step::Detach(p) if queued_on == Some(*p) => queued_on = None,
            Step::Write(p, msg) => {
                let want: Vec<u32> = live.filter(|_| !answered).into_iter().collect();
                if msg.header != want {
                    let what =
                        format!("wrote request {:?} while {want:?} is outstanding", msg.header);
                    v.add(n, r, what);
                } else if queued_on != Some(*p) {
                    v.add(n, r, format!("wrote a copy on pipe {p} that was never placed there"));
                }
                queued_on = None;
            }
            Step::Recv(Ok(msg)) => {
                if unread == 0 {
                    v.add(n, r, format!("handed over {msg:?}, which no accepted reply explains"));
                }
                unread = unread.saturating_sub(1);
            }
            _ => {}
        }
        let arrival = match &r.step {
            Step::Arrive(_, msg) => Some(msg),
            _ => None,
        };
        let mut outcomes = 0;
        for event in &r.events {
            match event {
                SocketEvent::Enqueued { pipe, msg, .. } | SocketEvent::Resent { pipe, msg, .. } => {
                    let msg = msg.whole();
                    let Some(id) = msg.request_id().filter(|_| msg.header.len() == 1) else {
                        v.add(n, r, format!("placed {msg:?}, whose header is not one request id"));
                        continue;
                    };
                    if fresh {
                        if !used.insert(id) {
                            v.add(n, r, format!("a new request reused id {id:#x}"));
                        }
                        (live, fresh) = (Some(id), false);
                    } else if live != Some(id) {
                        let what = format!("placed {id:#x} while {live:x?} is outstanding");
                        v.add(n, r, what);
                    }
                    if answered {
                        v.add(n, r, format!("placed {id:#x} again after its reply was accepted"));
                    }
                    queued_on = Some(*pipe);
                }
                SocketEvent::Cancelled { request_id } => {
                    let expected = match replaced {
                        Some(Some(id)) => id == *request_id,
                        Some(None) => !used.contains(request_id),
                        None => false,
                    };
                    if !expected {
                        let what = format!("cancelled {request_id:#x}; it replaced {replaced:x?}");
                        v.add(n, r, what);
                    }
                }
                SocketEvent::Arrived { msg, .. } => {
                    outcomes += 1;
                    let id = arrival.and_then(|m| m.header.first().copied());
                    if id.is_none() || id != live || answered {
                        let what = format!(
                            "accepted {msg:?} (reply id {id:x?}) while {live:x?} is outstanding, \
                             answered already: {answered}"
                        );
                        v.add(n, r, what);
                    }
                    (answered, outstanding, queued_on, unread) = (true, false, None, unread + 1);
                }
                SocketEvent::Dropped { reason, msg, .. } => {
                    outcomes += usize::from(arrival.is_some());
                    let own = live.is_some() && msg.request_id() == live;
                    if *reason == DropReason::PipeClosed && own {
                        v.add(n, r, "dropped its own outstanding request".into());
                    }
                }
                _ => {}
            }
        }
        if arrival.is_some() && outcomes != 1 {
            v.add(n, r, format!("a reply had {outcomes} outcomes, not one"));
        }
    }
    v.finish()
}

/// Property 3, ROUTER: a message goes only to the pipe its first hop id names, and
/// only while that pipe is attached; a message for an unknown or detached hop (or with
/// no hop) is queued nowhere and is dropped as `UnknownPeer` (with `router_mandatory`,
/// refused with `HostUnreachable`); a full pipe drops as `Hwm` (or refuses with
/// `WouldBlock`); each pipe writes exactly what was routed to it, in order; and every
/// received message is tagged with the pipe it arrived on.
fn check_router(trace: &Trace) -> Result<(), String> {
    let s = &trace.setup;
    let mut v = Violations::default();
    let mut pipes = PipeStates::default();
    let mut routed: BTreeMap<PipeId, VecDeque<Msg>> = BTreeMap::new();
    let mut unread: Vec<Msg> = Vec::new();
    let dropped_as = |events: &[SocketEvent], want: DropReason| {
        events.iter().any(|e| matches!(e, SocketEvent::Dropped { reason, .. } if *reason == want))
    };
    for (n, r) in trace.records.iter().enumerate() {
        pipes.apply(&r.step);
        let queued: Vec<(PipeId, &Msg)> = enqueued(&r.events).collect();
        match &r.step {
            Step::Send(msg, result) => {
                let target = msg.header.first().copied().filter(|t| pipes.attached.contains(t));
                let Some(pipe) = target else {
                    if let Some((pipe, _)) = queued.first() {
                        let what =
                            format!("routed to pipe {pipe} a message for hop {:x?}", msg.header);
                        v.add(n, r, what);
                    }
                    let recorded = if s.router_mandatory {
                        *result == Err(SendError::HostUnreachable)
                    } else {
                        result.is_ok() && dropped_as(&r.events, DropReason::UnknownPeer)
                    };
                    if !recorded {
                        v.add(n, r, format!("an unroutable message left no trace: {result:?}"));
                    }
                    continue;
                };
                let queue = routed.entry(pipe).or_default();
                if !below_hwm(queue.len() as u32, s.sndhwm_msgs) {
                    let recorded = if s.router_mandatory {
                        *result == Err(SendError::WouldBlock)
                    } else {
                        dropped_as(&r.events, DropReason::Hwm)
                    };
                    if !recorded || !queued.is_empty() {
                        v.add(n, r, format!("pipe {pipe} is full, yet {queued:?}, {result:?}"));
                    }
                    continue;
                }
                let want = Msg { header: msg.header[1..].to_vec(), body: msg.body.clone() };
                if queued != [(pipe, &want)] {
                    v.add(n, r, format!("expected {want:?} queued on pipe {pipe}, saw {queued:?}"));
                }
                queue.push_back(want);
            }
            Step::Write(pipe, msg) => {
                let want = routed.get_mut(pipe).and_then(VecDeque::pop_front);
                if want.as_ref() != Some(msg) {
                    v.add(n, r, format!("wrote {msg:?} on pipe {pipe}, where {want:?} was next"));
                }
            }
            Step::Detach(pipe) => {
                routed.remove(pipe);
            }
            Step::Arrive(pipe, msg) => {
                let tagged = Msg {
                    header: [*pipe].into_iter().chain(msg.header.iter().copied()).collect(),
                    body: msg.body.clone(),
                };
                let arrived = r.events.iter().any(|e| {
                    matches!(e, SocketEvent::Arrived { pipe: p, msg: m, .. } if p == pipe && *m.whole() == tagged)
                });
                if !arrived {
                    v.add(n, r, format!("expected {tagged:?} to arrive from pipe {pipe}"));
                }
                unread.push(tagged);
            }
            Step::Recv(Ok(msg)) => match unread.iter().position(|m| m == msg) {
                Some(at) => {
                    unread.remove(at);
                }
                None => v.add(n, r, format!("received {msg:?}, which no pipe delivered")),
            },
            _ => {}
        }
        if !matches!(r.step, Step::Send(..)) && !queued.is_empty() {
            v.add(n, r, format!("queued {queued:?} without being asked to send"));
        }
    }
    v.finish()
}

/// SURVEYOR: responses reach the application only for the current survey and only
/// before its deadline (`survey_deadline` after the send); a response arriving for
/// another survey or after the deadline is never queued.
fn check_survey_deadline(trace: &Trace) -> Result<(), String> {
    let mut v = Violations::default();
    let deadline_after = Duration::from_millis(SURVEY_DEADLINE_MS);
    // The current survey's id (known once a copy is queued or dropped) and deadline.
    let mut survey: Option<(Option<u32>, Duration)> = None;
    let mut unread = 0u32;
    for (n, r) in trace.records.iter().enumerate() {
        if survey.is_some_and(|(_, deadline)| r.at >= deadline) {
            unread = 0;
        }
        match &r.step {
            Step::Send(..) => {
                let id = r.events.iter().find_map(|e| {
                    let msg = match e {
                        SocketEvent::Enqueued { msg, .. } => msg.whole(),
                        SocketEvent::Dropped { msg, .. } => msg,
                        _ => return None,
                    };
                    msg.request_id().filter(|_| msg.header.len() == 1)
                });
                survey = Some((id, r.at + deadline_after));
                unread = 0;
            }
            Step::Recv(Ok(msg)) => {
                if survey.is_none_or(|(_, deadline)| r.at >= deadline) {
                    v.add(n, r, format!("delivered {msg:?} outside the open survey {survey:x?}"));
                }
                if unread == 0 {
                    v.add(n, r, format!("delivered {msg:?}, which no accepted response explains"));
                }
                unread = unread.saturating_sub(1);
            }
            _ => {}
        }
        for event in &r.events {
            if let SocketEvent::Arrived { msg, .. } = event {
                let id = match &r.step {
                    Step::Arrive(_, m) => m.header.first().copied(),
                    _ => None,
                };
                let open =
                    survey.is_some_and(|(s, deadline)| s.is_some() && s == id && r.at < deadline);
                if !open {
                    v.add(
                        n,
                        r,
                        format!(
                            "accepted {msg:?} (id {id:x?}) outside the open survey {survey:x?}"
                        ),
                    );
                }
                unread += 1;
            }
        }
    }
    v.finish()
}

/// SUB: every message queued for or handed to the application matches a prefix the
/// socket is subscribed to at that moment (by the `Subscription` events it reported);
/// matching is on the first frame.
fn check_sub_filter(trace: &Trace) -> Result<(), String> {
    let mut v = Violations::default();
    let mut held: BTreeSet<Bytes> = BTreeSet::new();
    let matches = |held: &BTreeSet<Bytes>, msg: &Msg| any_matches(held.iter(), &topic(&msg.body));
    for (n, r) in trace.records.iter().enumerate() {
        for event in &r.events {
            match event {
                SocketEvent::Subscription { pipe: None, prefix, on: true } => {
                    held.insert(prefix.clone());
                }
                SocketEvent::Subscription { pipe: None, prefix, on: false } => {
                    held.remove(prefix);
                }
                SocketEvent::Arrived { msg, .. } if !matches(&held, msg.whole()) => {
                    v.add(n, r, format!("queued {msg:?}, which matches none of {held:?}"));
                }
                _ => {}
            }
        }
        if let Step::Recv(Ok(msg)) = &r.step
            && !matches(&held, msg)
        {
            v.add(n, r, format!("delivered {msg:?}, which matches none of {held:?}"));
        }
    }
    v.finish()
}

/// Every core: the driver's timer never spins (after `on_timeout` the next deadline is
/// later than now). Panics are reported by [`record`] before any check runs.
fn check_timer_progress(trace: &Trace) -> Result<(), String> {
    Violations::of_steps(trace, |step| match step {
        Step::TimerStuck(next) => {
            Some(format!("still wants a timeout at {next:?} right after handling one"))
        }
        _ => None,
    })
}

/// Every core: `may_transmit` never says a pipe has nothing while `poll_transmit`
/// would hand out a message on it. A writer that has emptied a pipe asks the core
/// again only when `may_transmit` says so, so such a message would be stranded until
/// the next wake-up.
fn check_may_transmit(trace: &Trace) -> Result<(), String> {
    Violations::of_steps(trace, |step| match step {
        Step::Unannounced(pipe) => {
            Some(format!("wrote on pipe {pipe} after may_transmit said it had nothing"))
        }
        _ => None,
    })
}

type Factory = fn(&Setup) -> Box<dyn SocketCore>;
type Check = fn(&Trace) -> Result<(), String>;

/// A property: a check over traces of the listed socket types.
struct Property {
    name: &'static str,
    /// Added to the seed so that properties do not all draw the same histories.
    seed_offset: u64,
    types: &'static [SocketType],
    check: Check,
}

const HWM: Property = Property {
    name: "hwm_is_never_exceeded_and_only_dropping_types_drop",
    seed_offset: 1,
    types: &SocketType::ALL,
    check: check_queues,
};
const REQ_ONE_OUTSTANDING: Property = Property {
    name: "req_never_has_two_requests_outstanding",
    seed_offset: 2,
    types: &[SocketType::Req],
    check: check_req,
};
const ROUTER_KNOWN_PEERS: Property = Property {
    name: "router_never_routes_to_a_peer_it_does_not_know",
    seed_offset: 3,
    types: &[SocketType::Router],
    check: check_router,
};
const SURVEY_DEADLINE: Property = Property {
    name: "surveyor_never_delivers_after_its_deadline",
    seed_offset: 4,
    types: &[SocketType::Surveyor],
    check: check_survey_deadline,
};
const SUB_FILTER: Property = Property {
    name: "sub_never_delivers_an_unsubscribed_message",
    seed_offset: 5,
    types: &[SocketType::Sub],
    check: check_sub_filter,
};
const NO_PANIC: Property = Property {
    name: "no_core_panics_nor_spins_its_timer",
    seed_offset: 6,
    types: &SocketType::ALL,
    check: check_timer_progress,
};
const MAY_TRANSMIT: Property = Property {
    name: "may_transmit_never_hides_a_message",
    seed_offset: 7,
    types: &SocketType::ALL,
    check: check_may_transmit,
};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    env_or("PROPTEST_RNG_SEED", SEED)
}

/// A fixed seed, a fixed budget, the committed regressions. A search for a broken core
/// neither reads the environment nor saves what it finds: its failures are expected.
fn config(property: &Property, flawed: bool) -> Config {
    let (cases, seed) = if flawed {
        (FLAW_CASES, SEED)
    } else {
        (env_or("PATCHBAY_PROPTEST_CASES", CASES_DEFAULT), seed())
    };
    let persistence: Option<Box<dyn FailurePersistence>> =
        if flawed { None } else { Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))) };
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed.wrapping_add(property.seed_offset)),
        failure_persistence: persistence,
        max_shrink_iters: if flawed { 256 } else { 4096 },
        ..Config::default()
    }
}

/// Runs `property` over cores built by `factory`; on failure, the seed first, then a
/// repro command, then the shrunk case and what it violated.
fn search(property: &Property, factory: Factory, flawed: bool) -> Result<(), String> {
    let mut runner = TestRunner::new(config(property, flawed));
    let strategy = (setup(property.types), proptest::collection::vec(op(), 0..160));
    let outcome = runner.run(&strategy, |(setup, ops)| {
        let trace = record(&setup, factory(&setup), &ops).map_err(TestCaseError::fail)?;
        (property.check)(&trace).map_err(TestCaseError::fail)
    });
    outcome.map_err(|failure| {
        let seed = seed();
        let detail = match failure {
            TestError::Fail(reason, input) => format!("{reason}\nminimal input: {input:#?}"),
            TestError::Abort(reason) => format!("aborted: {reason}"),
        };
        format!(
            "SEED={seed} {}\nrepro: PROPTEST_RNG_SEED={seed} cargo test -p patchbay --lib \
             socket::props::{}\n{detail}",
            property.name, property.name
        )
    })
}

fn holds(property: &Property) {
    if let Err(report) = search(property, real_core, false) {
        panic!("{report}");
    }
}

/// The property must catch the broken core, with a violation that says `expected`.
fn catches(property: &Property, factory: Factory, expected: &str) {
    match search(property, factory, true) {
        Ok(()) => panic!("{} did not catch the broken core in {FLAW_CASES} cases", property.name),
        Err(report) => assert!(report.contains(expected), "caught, but not as expected:\n{report}"),
    }
}

#[test]
fn hwm_is_never_exceeded_and_only_dropping_types_drop() {
    holds(&HWM);
}

#[test]
fn req_never_has_two_requests_outstanding() {
    holds(&REQ_ONE_OUTSTANDING);
}

#[test]
fn router_never_routes_to_a_peer_it_does_not_know() {
    holds(&ROUTER_KNOWN_PEERS);
}

#[test]
fn surveyor_never_delivers_after_its_deadline() {
    holds(&SURVEY_DEADLINE);
}

#[test]
fn sub_never_delivers_an_unsubscribed_message() {
    holds(&SUB_FILTER);
}

#[test]
fn no_core_panics_nor_spins_its_timer() {
    holds(&NO_PANIC);
}

#[test]
fn may_transmit_never_hides_a_message() {
    holds(&MAY_TRANSMIT);
}

/// How a broken core is broken.
#[derive(Clone, Copy, Debug)]
enum Flaw {
    /// A full PUSH takes the message and drops it as `Hwm` instead of blocking.
    DropsInsteadOfBlocking,
    /// A ROUTER sends a message for an unknown hop to some attached pipe.
    RoutesUnknownToFirstPipe,
    /// A REQ writes its previous request once more after a new send.
    SendsOldRequestAgain,
    /// A REQ hands the application replies it dropped as late.
    DeliversLateReplies,
    /// A REQ reads the first id of a reply without checking there is one.
    PanicsOnEmptyHeader,
    /// A REQ ignores `on_timeout`, so its deadline stays in the past.
    IgnoresTimeouts,
    /// A SUB that reads on at a full queue drops what arrived, not its oldest.
    DropsTheArrivalNotTheOldest,
}

/// A real core with one flaw wrapped around it.
struct Flawed {
    inner: Box<dyn SocketCore>,
    flaw: Flaw,
    attached: BTreeSet<PipeId>,
    /// The last message written (`SendsOldRequestAgain`).
    last_written: Option<Msg>,
    /// What the flaw will hand out when it gets the chance.
    stash: Option<Msg>,
    events: VecDeque<SocketEvent>,
}

impl Flawed {
    fn build(setup: &Setup, flaw: Flaw) -> Box<dyn SocketCore> {
        Box::new(Flawed {
            inner: real_core(setup),
            flaw,
            attached: BTreeSet::new(),
            last_written: None,
            stash: None,
            events: VecDeque::new(),
        })
    }
}

impl SocketCore for Flawed {
    fn socket_type(&self) -> SocketType {
        self.inner.socket_type()
    }

    fn takes(&self, pipe: PipeId) -> bool {
        self.inner.takes(pipe)
    }

    fn pipes(&self) -> &Pipes {
        self.inner.pipes()
    }

    fn pipes_mut(&mut self) -> &mut Pipes {
        self.inner.pipes_mut()
    }

    fn attach(&mut self, pipe: PipeId, now: Duration) {
        self.attached.insert(pipe);
        self.inner.attach(pipe, now);
    }

    fn set_connected(&mut self, pipe: PipeId, connected: bool, now: Duration) {
        self.inner.set_connected(pipe, connected, now);
    }

    /// The real core's answer, which knows nothing of what a flaw makes up: a flaw
    /// that writes a message of its own (`SendsOldRequestAgain`) writes it unannounced.
    fn may_transmit(&self, pipe: PipeId) -> bool {
        self.inner.may_transmit(pipe)
    }

    fn detach(&mut self, pipe: PipeId, now: Duration) {
        self.attached.remove(&pipe);
        self.inner.detach(pipe, now);
    }

    fn send(&mut self, mut msg: Msg, now: Duration) -> Result<(), SendError> {
        match self.flaw {
            Flaw::DropsInsteadOfBlocking => {
                let result = self.inner.send(msg.clone(), now);
                if result != Err(SendError::WouldBlock) {
                    return result;
                }
                self.events.push_back(SocketEvent::Dropped {
                    pipe: None,
                    reason: DropReason::Hwm,
                    msg,
                });
                Ok(())
            }
            Flaw::RoutesUnknownToFirstPipe => {
                let known = msg.header.first().is_some_and(|hop| self.attached.contains(hop));
                if let Some(first) = self.attached.first().filter(|_| !known) {
                    match msg.header.first_mut() {
                        Some(hop) => *hop = *first,
                        None => msg.header.push(*first),
                    }
                }
                self.inner.send(msg, now)
            }
            Flaw::SendsOldRequestAgain => {
                self.stash = self.last_written.take();
                self.inner.send(msg, now)
            }
            _ => self.inner.send(msg, now),
        }
    }

    fn recv(&mut self, now: Duration) -> Result<Msg, RecvError> {
        let result = self.inner.recv(now);
        match self.flaw {
            Flaw::DeliversLateReplies => result.or_else(|e| self.stash.take().ok_or(e)),
            _ => result,
        }
    }

    fn on_message(&mut self, pipe: PipeId, msg: Msg, now: Duration) {
        match self.flaw {
            Flaw::DeliversLateReplies if msg.request_id().is_some() => {
                self.stash = Some(Msg::new(msg.body.clone()));
            }
            Flaw::PanicsOnEmptyHeader => {
                let _reply_id = msg.header[0];
            }
            Flaw::DropsTheArrivalNotTheOldest if !self.inner.pipes().has_inbound_room(pipe) => {
                let reason = DropReason::Hwm;
                return self.events.push_back(SocketEvent::Dropped {
                    pipe: Some(pipe),
                    reason,
                    msg,
                });
            }
            _ => {}
        }
        self.inner.on_message(pipe, msg, now);
    }

    fn can_receive(&self, pipe: PipeId) -> bool {
        self.inner.can_receive(pipe)
    }

    fn poll_transmit(&mut self, pipe: PipeId, now: Duration) -> Option<Msg> {
        let msg = self.inner.poll_transmit(pipe, now);
        match (self.flaw, msg) {
            (Flaw::SendsOldRequestAgain, Some(msg)) => {
                self.last_written = Some(msg.clone());
                Some(msg)
            }
            (Flaw::SendsOldRequestAgain, None) => self.stash.take(),
            (_, msg) => msg,
        }
    }

    fn on_written(&mut self, pipe: PipeId, now: Duration) {
        self.inner.on_written(pipe, now);
    }

    fn tracks_writes(&self) -> bool {
        self.inner.tracks_writes()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }

    fn on_timeout(&mut self, now: Duration) {
        if !matches!(self.flaw, Flaw::IgnoresTimeouts) {
            self.inner.on_timeout(now);
        }
    }

    fn poll_event(&mut self) -> Option<SocketEvent> {
        self.events.pop_front().or_else(|| self.inner.poll_event())
    }
}

#[test]
fn hwm_property_catches_a_core_that_ignores_its_hwm() {
    let unlimited = |s: &Setup| real_core(&Setup { sndhwm_msgs: 0, rcvhwm_msgs: 0, ..s.clone() });
    catches(&HWM, unlimited, "above");
}

#[test]
fn hwm_property_catches_a_blocking_type_that_drops() {
    let push: &'static [SocketType] = &[SocketType::Push];
    let property = Property { types: push, ..HWM };
    catches(
        &property,
        |s| Flawed::build(s, Flaw::DropsInsteadOfBlocking),
        "PUSH blocks at its HWM",
    );
}

#[test]
fn hwm_property_catches_an_nng_pub_that_drops_the_new_message() {
    let publ: &'static [SocketType] = &[SocketType::Pub];
    let property = Property { types: publ, ..HWM };
    let libzmq_queues = |s: &Setup| real_core(&Setup { nng_queues: false, ..s.clone() });
    catches(&property, libzmq_queues, "refused the new message (NNG's queues: true)");
}

#[test]
fn hwm_property_catches_a_req_that_waits_where_its_library_does_not() {
    let req: &'static [SocketType] = &[SocketType::Req];
    let property = Property { types: req, ..HWM };
    let waits = |s: &Setup| real_core(&Setup { req_send_waits: true, ..s.clone() });
    catches(&property, waits, "REQ send returned Err(WouldBlock)");
}

#[test]
fn hwm_property_catches_an_sp_push_that_queues_as_libzmqs() {
    let push: &'static [SocketType] = &[SocketType::Push];
    let property = Property { types: push, ..HWM };
    // Per-pipe queues where the setup asks for a send buffer: with no pipe the send
    // blocks, where the SP libraries' socket buffer takes it (and on a pipe still
    // connecting it queues, where theirs wait on the socket; the search meets
    // whichever its histories reach first).
    let per_pipe = |s: &Setup| real_core(&Setup { sp_send_buffer: None, ..s.clone() });
    catches(&property, per_pipe, "nothing more can wait: false");
}

/// A nanomsg receiver that fair-queues instead of taking the pipe ready first (the
/// model before `nanomsg-pull-ready-first`) hands over a message before an older one.
#[test]
fn queue_property_catches_a_nanomsg_receiver_that_takes_pipes_in_turn() {
    use SocketType::*;
    let property = Property { types: &[Pull, Rep, Sub, Dealer, Router, Bus], ..HWM };
    // One message a pipe, as nanomsg's: only the order differs.
    let in_turn =
        |s: &Setup| real_core(&Setup { recv_ready_first: false, rcvhwm_msgs: 1, ..s.clone() });
    catches(&property, in_turn, "before");
}

/// A random search rarely fills an NNG SUB (arrivals must outrun receives on one
/// pipe), so this history is written out: three arrivals on a queue of one.
#[test]
fn queue_property_catches_an_nng_sub_that_drops_the_arrival_not_its_oldest() {
    let setup = Setup {
        socket: SocketType::Sub,
        sndhwm_msgs: 1,
        rcvhwm_msgs: 1,
        resend: false,
        router_mandatory: false,
        subscribe: vec![0],
        nng_queues: true,
        sp_send_buffer: None,
        req_send_waits: false,
        recv_ready_first: false,
    };
    let knobs =
        |pick| Knobs { kind: 0, pick, header: vec![], topic: 0, multipart: false, pad_bytes: 0 };
    let mut ops = vec![Op::Attach, Op::Connect(0)];
    ops.extend((0..3).map(|i| Op::Arrive(0, knobs(i))));
    ops.push(Op::Recv);
    let real = record(&setup, real_core(&setup), &ops).expect("no panic");
    assert_eq!(check_queues(&real), Ok(()));
    let flawed = Flawed::build(&setup, Flaw::DropsTheArrivalNotTheOldest);
    let report = check_queues(&record(&setup, flawed, &ops).expect("no panic"));
    assert!(report.as_ref().is_err_and(|r| r.contains("not its oldest")), "{report:?}");
}

#[test]
fn queue_property_catches_a_message_received_that_never_waited() {
    let req: &'static [SocketType] = &[SocketType::Req];
    let property = Property { types: req, ..HWM };
    let factory = |s: &Setup| Flawed::build(s, Flaw::DeliversLateReplies);
    catches(&property, factory, "which is no pipe's oldest waiting message");
}

#[test]
fn req_property_catches_a_second_request_on_the_wire() {
    catches(&REQ_ONE_OUTSTANDING, |s| Flawed::build(s, Flaw::SendsOldRequestAgain), "outstanding");
}

#[test]
fn may_transmit_property_catches_a_message_made_up_after_saying_none() {
    let req: &'static [SocketType] = &[SocketType::Req];
    let property = Property { types: req, ..MAY_TRANSMIT };
    let factory = |s: &Setup| Flawed::build(s, Flaw::SendsOldRequestAgain);
    catches(&property, factory, "after may_transmit said it had nothing");
}

#[test]
fn req_property_catches_a_late_reply_handed_over() {
    let factory = |s: &Setup| Flawed::build(s, Flaw::DeliversLateReplies);
    catches(&REQ_ONE_OUTSTANDING, factory, "which no accepted reply explains");
}

#[test]
fn router_property_catches_routing_to_an_unknown_peer() {
    let factory = |s: &Setup| Flawed::build(s, Flaw::RoutesUnknownToFirstPipe);
    catches(&ROUTER_KNOWN_PEERS, factory, "a message for hop");
}

#[test]
fn survey_property_catches_a_deadline_that_comes_late() {
    let late = |s: &Setup| -> Box<dyn SocketCore> {
        let options = SocketOptions {
            survey_deadline: Duration::from_millis(2 * SURVEY_DEADLINE_MS),
            ..s.options()
        };
        Box::new(Surveyor::new(options, FIRST_REQUEST_ID))
    };
    catches(&SURVEY_DEADLINE, late, "outside the open survey");
}

#[test]
fn sub_property_catches_a_subscriber_that_does_not_filter() {
    let unfiltered =
        |s: &Setup| -> Box<dyn SocketCore> { Box::new(Subscriber::new_xsub(s.options())) };
    catches(&SUB_FILTER, unfiltered, "which matches none of");
}

#[test]
fn panic_property_catches_a_core_that_panics_on_garbage() {
    let req: &'static [SocketType] = &[SocketType::Req];
    let property = Property { types: req, ..NO_PANIC };
    catches(&property, |s| Flawed::build(s, Flaw::PanicsOnEmptyHeader), "REQ panicked");
}

#[test]
fn timer_property_catches_a_core_whose_deadline_never_moves() {
    let req: &'static [SocketType] = &[SocketType::Req];
    let property = Property { types: req, ..NO_PANIC };
    catches(&property, |s| Flawed::build(s, Flaw::IgnoresTimeouts), "right after handling one");
}

/// The histories reach what the properties are about, so a pass is not vacuous: over
/// the CI budget some case fires a REQ resend, has a ROUTER drop for an unknown peer,
/// expires a survey, drops at the HWM (and NNG's PUB and SUB make room at theirs),
/// drops an unsubscribed message, and REQ and SURVEYOR accept answers (so the checks
/// on accepted replies are exercised); an SP PUSH or PAIR keeps a message on the
/// socket and blocks, and NNG's REQ blocks for want of a pipe.
#[test]
fn histories_reach_the_interesting_cases() {
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    // SUBs alone too: a queue fills only when arrivals outrun receives on one pipe;
    // and SURVEYORs, whose responses must come back within a survey.
    let cases = [&SocketType::ALL[..], &[SocketType::Sub], &[SocketType::Surveyor]].map(|types| {
        let property = Property { types, ..HWM };
        let runner = TestRunner::new(config(&property, true));
        (runner, (setup(types), proptest::collection::vec(op(), 0..160)))
    });
    for (mut runner, strategy) in cases {
        for _ in 0..FLAW_CASES {
            let (setup, ops) = strategy.new_tree(&mut runner).expect("strategy").current();
            let trace = record(&setup, real_core(&setup), &ops).expect("no panic");
            for r in &trace.records {
                let label = match &r.step {
                    // A PUSH or PAIR send kept on the socket for want of a pipe.
                    Step::Send(_, Ok(()))
                        if setup.sp_send_buffer.is_some() && enqueued(&r.events).count() == 0 =>
                    {
                        "sp send waited on the socket"
                    }
                    Step::Send(_, Err(SendError::WouldBlock)) if setup.sp_send_buffer.is_some() => {
                        "sp send blocked"
                    }
                    Step::Send(_, Err(SendError::WouldBlock)) if setup.req_send_waits => {
                        "nng req send blocked"
                    }
                    _ => continue,
                };
                seen.insert(label);
            }
            for event in trace.records.iter().flat_map(|r| &r.events) {
                let label = match event {
                    SocketEvent::Resent { timer: true, .. } => "timer resend",
                    SocketEvent::Dropped { reason: DropReason::UnknownPeer, .. } => "unknown peer",
                    SocketEvent::SurveyExpired { .. } => "survey expired",
                    SocketEvent::Dropped { reason: DropReason::Hwm, .. }
                        if setup.nng_queues && setup.socket == SocketType::Sub =>
                    {
                        "nng sub evicted"
                    }
                    SocketEvent::Dropped { reason: DropReason::Hwm, .. }
                        if setup.nng_queues && setup.socket == SocketType::Pub =>
                    {
                        "nng pub evicted"
                    }
                    SocketEvent::Dropped { reason: DropReason::Hwm, .. } => "hwm drop",
                    SocketEvent::Dropped { reason: DropReason::Unsubscribed, .. } => "unsubscribed",
                    SocketEvent::Dropped { reason: DropReason::LateReply, .. } => "late reply",
                    SocketEvent::Dropped { reason: DropReason::Malformed, .. } => "malformed",
                    SocketEvent::Arrived { .. } if setup.socket == SocketType::Req => {
                        "reply accepted"
                    }
                    SocketEvent::Arrived { .. } if setup.socket == SocketType::Surveyor => {
                        "response accepted"
                    }
                    _ => continue,
                };
                seen.insert(label);
            }
        }
    }
    let want = [
        "hwm drop",
        "late reply",
        "malformed",
        "nng pub evicted",
        "nng req send blocked",
        "nng sub evicted",
        "reply accepted",
        "response accepted",
        "sp send blocked",
        "sp send waited on the socket",
        "survey expired",
        "timer resend",
        "unknown peer",
        "unsubscribed",
    ];
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), want);
}

/// A real core that is given time zero on every call, whatever the driver's clock
/// says: what an untraced driver hands a core whose type keeps no timers
/// (`SocketType::keeps_timers`, `net/shared.rs`), which then reads no clock.
struct Frozen(Box<dyn SocketCore>);

impl SocketCore for Frozen {
    fn socket_type(&self) -> SocketType {
        self.0.socket_type()
    }

    fn takes(&self, pipe: PipeId) -> bool {
        self.0.takes(pipe)
    }

    fn pipes(&self) -> &Pipes {
        self.0.pipes()
    }

    fn pipes_mut(&mut self) -> &mut Pipes {
        self.0.pipes_mut()
    }

    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        self.0.attach(pipe, Duration::ZERO);
    }

    fn set_connected(&mut self, pipe: PipeId, connected: bool, _now: Duration) {
        self.0.set_connected(pipe, connected, Duration::ZERO);
    }

    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        self.0.detach(pipe, Duration::ZERO);
    }

    fn send(&mut self, msg: Msg, _now: Duration) -> Result<(), SendError> {
        self.0.send(msg, Duration::ZERO)
    }

    fn recv(&mut self, _now: Duration) -> Result<Msg, RecvError> {
        self.0.recv(Duration::ZERO)
    }

    fn on_message(&mut self, pipe: PipeId, msg: Msg, _now: Duration) {
        self.0.on_message(pipe, msg, Duration::ZERO);
    }

    fn can_receive(&self, pipe: PipeId) -> bool {
        self.0.can_receive(pipe)
    }

    fn poll_transmit(&mut self, pipe: PipeId, _now: Duration) -> Option<Msg> {
        self.0.poll_transmit(pipe, Duration::ZERO)
    }

    fn on_written(&mut self, pipe: PipeId, _now: Duration) {
        self.0.on_written(pipe, Duration::ZERO);
    }

    fn tracks_writes(&self) -> bool {
        self.0.tracks_writes()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.0.poll_timeout()
    }

    fn on_timeout(&mut self, _now: Duration) {
        self.0.on_timeout(Duration::ZERO);
    }

    fn poll_event(&mut self) -> Option<SocketEvent> {
        self.0.poll_event()
    }
}

/// Runs the same histories against each core of `types` as it is and frozen at time
/// zero, and fails at the first step where the two differ (what was written,
/// received, sent back or reported). `keeps_timers` types are skipped unless
/// `flawed`, where finding a difference is the point.
fn time_blindness(types: &'static [SocketType], flawed: bool) -> Result<(), String> {
    let property = Property {
        name: "cores_without_timers_do_not_depend_on_the_time",
        seed_offset: 7,
        types,
        check: check_timer_progress,
    };
    let mut runner = TestRunner::new(config(&property, flawed));
    let strategy = (setup(types), proptest::collection::vec(op(), 0..160));
    let outcome = runner.run(&strategy, |(setup, ops)| {
        if setup.socket.keeps_timers() && !flawed {
            return Ok(());
        }
        let timed = record(&setup, real_core(&setup), &ops).map_err(TestCaseError::fail)?;
        let frozen = record(&setup, Box::new(Frozen(real_core(&setup))), &ops)
            .map_err(TestCaseError::fail)?;
        let shown = |r: &Record| format!("{:?} {:?}", r.step, r.events);
        let steps = timed.records.iter().zip(&frozen.records);
        if let Some((n, (t, f))) = steps.enumerate().find(|(_, (t, f))| shown(t) != shown(f)) {
            let (t, f) = (shown(t), shown(f));
            let why =
                format!("{} differs at step {n}: given the time, {t}; at zero, {f}", setup.socket);
            return Err(TestCaseError::fail(why));
        }
        if timed.records.len() != frozen.records.len() {
            let (t, f) = (timed.records.len(), frozen.records.len());
            let why = format!(
                "{} differs in length: {t} steps given the time, {f} at zero",
                setup.socket
            );
            return Err(TestCaseError::fail(why));
        }
        Ok(())
    });
    outcome.map_err(|failure| failure.to_string())
}

#[test]
fn cores_without_timers_do_not_depend_on_the_time_they_are_given() {
    if let Err(report) = time_blindness(&SocketType::ALL, false) {
        panic!("{report}");
    }
}

#[test]
fn time_check_catches_a_core_that_keeps_timers() {
    let req: &'static [SocketType] = &[SocketType::Req];
    let report = time_blindness(req, true).expect_err("a REQ resends on time, frozen or not");
    assert!(report.contains("REQ differs"), "caught, but not as expected:\n{report}");
}
