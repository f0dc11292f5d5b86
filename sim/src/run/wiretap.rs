//! The wire trace: what the fault proxy records for sockets patchbay does not run.
//!
//! On the real network every byte of every link passes a fault proxy (`proxy.rs`).
//! A node patchbay does not run (a user's own program) records no events of its
//! own, so the proxy records them for it, from the bytes: each direction of a
//! connection that has such a socket at one end is read by a [`Tap`] (`wire/tap.rs`,
//! the sockets' own SP and ZMTP codecs) and every decoded message becomes events
//! at that socket, shaped as a socket's own so the invariants read them unchanged:
//!
//! - bytes **leaving** it, when the proxy reads them: `Send` then `Enqueue` on the
//!   connection's pipe; a REQ's SP request going out again with the same request id
//!   (the 4-byte id with the high bit) is a `Resend` instead, a timer resend unless
//!   the connection it last went out on had closed (then it went out at once on a new
//!   pipe, as after a lost pipe, which no interval governs);
//! - bytes **arriving** at it, when the proxy hands them to its kernel: `Deliver` then
//!   `Receive` (the proxy cannot see when the program reads, so it stands in for the
//!   application);
//! - subscriptions it sends: `Subscription { pipe: None }` when a prefix is first
//!   sent (or withdrawn), as a subscriber's own, and an `Enqueue` on each pipe that
//!   carries it, as the SUB core queues it; subscriptions it receives:
//!   `Subscription { pipe: Some(..) }`;
//! - the connection: `Connect` (peer named) once the proxy reaches the target,
//!   `Disconnect` when it ends.
//!
//! A connection an outside program made through a door (`--ports as-written`) is
//! traced the same way at the socket it reaches, its `Connect` naming no peer; the
//! outside program itself is no node and records nothing.
//!
//! A message's id is the patchbay payload header's (`wire/payload.rs`) when the
//! program passed one through (a broker, an echo worker), found as a socket's own
//! events find it or, failing that, behind the routing ids the receiver's rule left
//! in the body; its request id is SP's. What cannot be seen: a real NNG SUB
//! filters on arrival and sends no subscriptions on SP's wire, so its `Receive`s are
//! arrivals before its filter; a ZMTP REQ's request id does not travel (libzmq
//! without `ZMQ_REQ_CORRELATE`), so resends are told only on SP.
//!
//! A decode failure is recorded once per connection and direction as a note at the
//! socket (`wire trace stopped: ...`) and that direction is not read further; the
//! proxy forwards the bytes as before. Which sockets are traced is the real network's
//! choice ([`WireTrace`]): the ones marked through `RealNet::trace_wire`, or, to prove
//! the decoder against sockets that do record their own events, every socket. The
//! user's account of all this is docs/wire-trace.md.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::RunError;
use super::faults::OUTSIDE;
use super::wiring::Link;
use crate::plan::{GroupId, MsgIdLayout, MsgOrigin, Replica, ScenarioPlan};
use crate::socket::{Msg, PipeId, REQUEST_ID_BIT, SocketType};
use crate::trace::{AppEvent, EventKind, MsgId, MsgInfo, Recorder, SocketIndex, TraceEvent};
use crate::wire::modelled::HEAD_MAX;
use crate::wire::payload::Payload;
use crate::wire::payload::msg_info;
use crate::wire::tap::{Framing, Tap, Tapped};

/// Which sockets' ends of the links the proxies decode, and where the events go.
#[derive(Clone, Debug, Default)]
pub enum WireTrace {
    /// Only the sockets marked as not run by patchbay (`RealNet::trace_wire`), into
    /// the run's own trace. With none marked nothing is decoded and nothing costs.
    #[default]
    External,
    /// Every socket's end of every link, into this recorder and not the run's trace:
    /// the test mode that proves the decoder against the sockets' own events.
    Everything(Recorder),
}

/// The wire trace of one real run: which ends are traced, and each traced socket's
/// state across its connections.
#[derive(Debug)]
pub(super) struct WireTaps {
    recorder: Recorder,
    everything: bool,
    /// The run's time zero, which the sockets' own events count from.
    epoch: Cell<tokio::time::Instant>,
    /// Every socket of the plan: its type, the protocol it speaks, and its name
    /// (`broker.frontend`) for notes.
    shapes: BTreeMap<(GroupId, usize), (SocketType, Framing, String)>,
    /// Sockets marked as run outside patchbay.
    external: RefCell<BTreeSet<(GroupId, usize)>>,
    /// Each traced socket of each replica, by first connection.
    sockets: RefCell<BTreeMap<(Replica, usize), Traced>>,
    /// Numbers the proxies' connections, so a REQ knows where a request last went.
    next_conn: Cell<u64>,
    /// Each group's message id layout, for the ids derived for an external REQ's
    /// requests.
    id_layouts: BTreeMap<GroupId, MsgIdLayout>,
    /// Where the wire trace says the run cannot go on (an external REQ that made
    /// more requests than its ids have room for): the run's failure, which ends it.
    failed: Rc<RefCell<Option<RunError>>>,
}

/// What the wire trace keeps of one traced socket.
#[derive(Debug, Default)]
struct Traced {
    /// The pipe id the next connection gets (from 1, as the driver numbers them).
    next_pipe: PipeId,
    /// A REQ's last request id out, the connection it went on, and whether that
    /// connection has closed since.
    last_request: Option<(u32, u64, bool)>,
    /// Prefixes it has subscribed to, as seen on any of its connections.
    prefixes: BTreeSet<Bytes>,
    /// An external REQ's requests so far: the counter of the next id derived for one.
    requests_issued: u64,
    /// An external REQ has made every id its group's layout has room for.
    out_of_ids: bool,
    /// An external REQ's request awaiting its reply: its SP request id (`None` on
    /// ZMTP, where none travels) and the id derived for it.
    awaiting: Option<(Option<u32>, MsgId)>,
}

impl WireTaps {
    pub fn new(plan: &ScenarioPlan, run_recorder: &Recorder, wire: WireTrace) -> WireTaps {
        let (recorder, everything) = match wire {
            WireTrace::External => (run_recorder.clone(), false),
            WireTrace::Everything(recorder) => (recorder, true),
        };
        let shapes = plan
            .topology
            .groups
            .iter()
            .flat_map(|g| g.sockets.iter().enumerate().map(move |(i, s)| (g, i, s)))
            .map(|(g, i, s)| {
                let framing = match s.options.socket_options() {
                    o if o.zmtp => Framing::Zmtp,
                    o if o.pair_v1 => Framing::SpPairV1,
                    _ => Framing::Sp,
                };
                ((g.id, i), (s.socket_type, framing, format!("{}.{}", g.name, s.name)))
            })
            .collect();
        WireTaps {
            recorder,
            everything,
            epoch: Cell::new(tokio::time::Instant::now()),
            shapes,
            external: RefCell::default(),
            sockets: RefCell::default(),
            next_conn: Cell::new(0),
            id_layouts: (plan.topology.groups.iter())
                .map(|g| (g.id, MsgIdLayout::for_count(g.count)))
                .collect(),
            failed: Rc::default(),
        }
    }

    /// Records the run's failure in `failed` (the run's own, which ends it) when the
    /// wire trace cannot go on.
    pub fn failing_into(mut self, failed: Rc<RefCell<Option<RunError>>>) -> WireTaps {
        self.failed = failed;
        self
    }

    /// Counts time from `epoch`, the instant the run's sockets count from (set once
    /// external programs are ready; what they send before then is at time zero).
    pub fn count_from(&self, epoch: tokio::time::Instant) {
        self.epoch.set(epoch);
    }

    /// Marks socket `socket` of every replica of `group` as run outside patchbay.
    #[cfg_attr(not(test), allow(dead_code))] // called by `RealNet::trace_wire`
    pub fn mark_external(&self, group: GroupId, socket: usize) {
        self.external.borrow_mut().insert((group, socket));
    }

    fn traced(&self, replica: Replica, socket: usize) -> bool {
        self.everything || self.external(replica, socket)
    }

    /// Whether the socket is run outside patchbay (not merely traced to test the tap).
    fn external(&self, replica: Replica, socket: usize) -> bool {
        self.external.borrow().contains(&(replica.group, socket))
    }

    /// The tap of a connection the proxy has just carried through to its target, or
    /// `None` when neither end is traced (the usual case: nothing is decoded). A
    /// door's connection (from [`OUTSIDE`]) is traced at its target alone.
    pub fn open(self: &Rc<Self>, link: Link) -> Option<ConnTap> {
        let ends = [(link.from, link.from_socket), (link.to, link.to_socket)];
        let traced = ends.map(|(r, s)| r != OUTSIDE && self.traced(r, s));
        if traced == [false, false] {
            return None;
        }
        let shape = |(r, s): (Replica, usize)| {
            let (socket_type, framing, name) = self.shapes.get(&(r.group, s))?;
            Some((*socket_type, *framing, format!("{name}[{}]", r.index)))
        };
        let b = shape(ends[1])?;
        let a = match shape(ends[0]) {
            Some(a) => a,
            // An outside program speaks the target's protocol; its socket is taken to
            // be the type that usually talks to the target (a REQ to a REP), whose
            // rule reads what the target sends it.
            None if link.from == OUTSIDE => {
                let peer = b.0.valid_peers().first().copied().unwrap_or(b.0);
                (peer, b.1, "an outside program".to_owned())
            }
            None => return None,
        };
        let conn = self.next_conn.get();
        self.next_conn.set(conn + 1);
        let types = [a.0, b.0];
        let framing = a.1;
        let names = [a.2, b.2];
        let tap = |from: usize| Tap::new(framing, types[1 - from]);
        let mut pipes = [None, None];
        for end in 0..2 {
            if traced[end] {
                let pipe = self.new_pipe(ends[end]);
                pipes[end] = Some(pipe);
                // An outside program is no replica: the connection's peer is unnamed.
                let peer = Some(ends[1 - end].0).filter(|&p| p != OUTSIDE);
                self.record(ends[end], EventKind::Connect { pipe, peer });
            }
        }
        Some(ConnTap {
            taps: self.clone(),
            conn,
            ends,
            types,
            names,
            request_ids: framing != Framing::Zmtp,
            pipes,
            sent: [0, 1].map(|d| traced[d].then(|| tap(d))),
            arrived: [0, 1].map(|d| traced[1 - d].then(|| tap(d))),
        })
    }

    fn new_pipe(&self, end: (Replica, usize)) -> PipeId {
        let mut sockets = self.sockets.borrow_mut();
        let traced = sockets.entry(end).or_default();
        traced.next_pipe += 1;
        traced.next_pipe
    }

    fn record(&self, (node, socket): (Replica, usize), kind: EventKind) {
        let at: Duration = self.epoch.get().elapsed();
        let socket = Some(socket as SocketIndex);
        self.recorder.record(TraceEvent { at, node: Some(node), socket, kind });
    }
}

/// The wire trace of one forwarded connection: per direction, a tap fed as the proxy
/// reads (when the sender is traced) and one fed as it releases (when the receiver
/// is). End 0 is the connector, end 1 the bound socket, as in the proxy.
#[derive(Debug)]
pub(super) struct ConnTap {
    taps: Rc<WireTaps>,
    conn: u64,
    ends: [(Replica, usize); 2],
    types: [SocketType; 2],
    /// Each end as `group.socket[replica]`, for notes.
    names: [String; 2],
    /// Whether request ids travel on this connection's wire: SP's do; on ZMTP none
    /// does (a libzmq REQ sends none without `ZMQ_REQ_CORRELATE`, and one that
    /// does sends it as a frame the receiving rule reads as a routing id), so the
    /// id the receiving rule makes up for each delimiter is its own bookkeeping,
    /// counted per decoder, and no request id is read from it.
    request_ids: bool,
    /// Each traced end's pipe on this connection.
    pipes: [Option<PipeId>; 2],
    /// `sent[d]` reads what end `d` writes, as the proxy reads it.
    sent: [Option<Tap>; 2],
    /// `arrived[d]` reads what end `d` writes, as the proxy hands it to the other end.
    arrived: [Option<Tap>; 2],
}

impl ConnTap {
    /// The proxy read `bytes` from end `end`.
    pub fn read(&mut self, end: usize, bytes: &[u8]) {
        let Some(pipe) = self.pipes[end] else { return };
        for item in self.feed(end, bytes, true) {
            match item {
                Tapped::Message { msg, cut } => self.left(end, pipe, &msg, cut),
                Tapped::Subscribe(prefix) => self.subscribed(end, pipe, prefix, true),
                Tapped::Cancel(prefix) => self.subscribed(end, pipe, prefix, false),
            }
        }
    }

    /// The proxy handed `bytes`, written by end `from`, to the other end.
    pub fn released(&mut self, from: usize, bytes: &[u8]) {
        let to = 1 - from;
        let Some(pipe) = self.pipes[to] else { return };
        for item in self.feed(from, bytes, false) {
            let kind = match item {
                Tapped::Message { msg, cut } => {
                    let msg = self.info(&msg, cut);
                    let deliver = EventKind::Deliver { pipe, depth: 0, hwm: 0, msg };
                    self.taps.record(self.ends[to], deliver);
                    self.taps.record(self.ends[to], EventKind::Receive { msg });
                    self.requester_accepted(to, &msg);
                    continue;
                }
                Tapped::Subscribe(prefix) => subscription(Some(pipe), &prefix, true),
                Tapped::Cancel(prefix) => subscription(Some(pipe), &prefix, false),
            };
            self.taps.record(self.ends[to], kind);
        }
    }

    /// The connection ended: each traced end loses its pipe.
    pub fn closed(&mut self, reason: &str) {
        for end in 0..2 {
            let Some(pipe) = self.pipes[end] else { continue };
            let mut sockets = self.taps.sockets.borrow_mut();
            if let Some((_, conn, lost)) =
                sockets.get_mut(&self.ends[end]).and_then(|t| t.last_request.as_mut())
                && *conn == self.conn
            {
                *lost = true;
            }
            drop(sockets);
            let reason = reason.to_owned();
            self.taps.record(self.ends[end], EventKind::Disconnect { pipe, reason });
        }
    }

    /// What the trace records of a decoded message ([`wire_info`]), without a request
    /// id where none travels.
    fn info(&self, msg: &Msg, cut: u64) -> MsgInfo {
        let info = wire_info(msg, cut);
        MsgInfo { request_id: info.request_id.filter(|_| self.request_ids), ..info }
    }

    /// Feeds a direction's tap; its first failure is noted at the traced end.
    fn feed(&mut self, from: usize, bytes: &[u8], sent: bool) -> Vec<Tapped> {
        let slot = if sent { &mut self.sent[from] } else { &mut self.arrived[from] };
        let Some(tap) = slot.as_mut() else { return Vec::new() };
        match tap.feed(bytes) {
            Ok(items) => items,
            Err(failed) => {
                let at_end = if sent { from } else { 1 - from };
                let text = format!(
                    "wire trace stopped on the connection from {} to {}: {failed}",
                    self.names[from],
                    self.names[1 - from]
                );
                self.taps.record(self.ends[at_end], EventKind::App(AppEvent::Note { text }));
                Vec::new()
            }
        }
    }

    /// A message left traced end `end` on `pipe` (its head, `cut` bytes not kept).
    fn left(&mut self, end: usize, pipe: PipeId, msg: &Msg, cut: u64) {
        let info = self.info(msg, cut);
        let request_id = info.request_id.filter(|_| self.types[end] == SocketType::Req);
        let mut sockets = self.taps.sockets.borrow_mut();
        let traced = sockets.entry(self.ends[end]).or_default();
        let previous = traced.last_request;
        if let Some(rid) = request_id {
            traced.last_request = Some((rid, self.conn, false));
        }
        drop(sockets);
        let kind = match (request_id, previous) {
            (Some(rid), Some((last, _, lost))) if last == rid => {
                EventKind::Resend { pipe, request_id: rid, timer: !lost, msg: info }
            }
            _ => {
                self.requester_issued(end, request_id, &info);
                // The application's send as the socket's own events show it: a REQ's
                // request id is the socket's, added below the application.
                let sent = MsgInfo {
                    request_id: info.request_id.filter(|_| request_id.is_none()),
                    ..info
                };
                self.taps.record(self.ends[end], EventKind::Send { msg: sent });
                EventKind::Enqueue { pipe, depth: 0, hwm: 0, msg: info }
            }
        };
        self.taps.record(self.ends[end], kind);
    }

    /// An external REQ sent a new request (not a resend): as a requester design
    /// would, it records `RequestIssued`, so `no_lost_replies` judges it. A body that
    /// carries patchbay's payload is another requester's request passed on (a broker's
    /// REQ towards its workers), which that requester has issued already; any other
    /// body is the program's own request, and gets an id of the REQ's replica and a
    /// counter that runs across its incarnations, so no two requests share one. The
    /// counter is bounded by the group's id layout (`MsgIdLayout::max_counter`, 2^32
    /// at a node of up to 4,096 replicas): the request after the last has no id, and,
    /// as for a design out of ids (`NodeCtx::next_msg_id`), the run ends as one that
    /// could not run, naming the socket and the limit. (Packed as if every counter were
    /// below 2^20, a counter past it lost its high bits and named an earlier request.)
    fn requester_issued(&mut self, end: usize, request_id: Option<u32>, info: &MsgInfo) {
        let (node, socket) = self.ends[end];
        if self.types[end] != SocketType::Req || !self.taps.external(node, socket) {
            return;
        }
        if info.id.is_some() {
            return;
        }
        let layout =
            self.taps.id_layouts.get(&node.group).copied().unwrap_or(MsgIdLayout::WHOLE_FIELD);
        let mut sockets = self.taps.sockets.borrow_mut();
        let traced = sockets.entry(self.ends[end]).or_default();
        let counter = u32::try_from(traced.requests_issued).ok();
        let origin = counter.map(|counter| MsgOrigin { node, incarnation: 0, counter });
        let Some(id) = origin.and_then(|o| layout.pack(o)) else {
            // Its earlier request's reply is no longer awaited: the real REQ has moved on.
            traced.awaiting = None;
            let first = !std::mem::replace(&mut traced.out_of_ids, true);
            drop(sockets);
            if first {
                self.out_of_ids(end, layout.max_counter());
            }
            return;
        };
        traced.requests_issued += 1;
        // A REQ has one request out: a new one replaces the one before, whose reply
        // the socket would now drop.
        traced.awaiting = Some((request_id, id));
        drop(sockets);
        self.taps.record(self.ends[end], EventKind::App(AppEvent::RequestIssued { id }));
    }

    /// External REQ `end` has made more requests than its `limit` of ids: noted at the
    /// socket, and the run's failure.
    fn out_of_ids(&self, end: usize, limit: u64) {
        let name = &self.names[end];
        let text = format!(
            "wire trace: `{name}` (an external program's REQ) made more than {limit} (2^{power}) requests, every id its node's replicas have room for; its later requests are not traced",
            power = limit.trailing_zeros()
        );
        self.taps.record(self.ends[end], EventKind::App(AppEvent::Note { text }));
        let at = crate::spec::format_duration(self.taps.epoch.get().elapsed());
        let why = format!(
            "the external REQ `{name}` made more than {limit} (2^{power}) requests, {at} into the run: the wire trace gives each an id of its replica, which holds 2^32 of them at a node of up to 4,096 replicas and half as many for each doubling of the count beyond (docs/limits.md); make fewer requests a run (a shorter run, or fewer replicas of the node)",
            power = limit.trailing_zeros()
        );
        self.taps.failed.borrow_mut().get_or_insert(RunError::NotRunnable(why));
    }

    /// A message arrived at external REQ `end`: the reply to the request it awaits
    /// (its SP request id matches; on ZMTP, whatever arrives next, as libzmq's REQ
    /// takes it) is accepted, as a requester design records `ReplyAccepted`. A reply
    /// to an older request is dropped by a real REQ, and accepts nothing.
    fn requester_accepted(&mut self, end: usize, msg: &MsgInfo) {
        let (node, socket) = self.ends[end];
        if self.types[end] != SocketType::Req || !self.taps.external(node, socket) {
            return;
        }
        let mut sockets = self.taps.sockets.borrow_mut();
        let Some(traced) = sockets.get_mut(&self.ends[end]) else { return };
        let Some((awaited, id)) = traced.awaiting else { return };
        let answers = match awaited {
            Some(rid) => msg.request_id == Some(rid),
            None => true,
        };
        if !answers {
            return;
        }
        traced.awaiting = None;
        drop(sockets);
        self.taps.record(self.ends[end], EventKind::App(AppEvent::ReplyAccepted { id }));
    }

    /// Traced end `end` sent a subscription (or withdrew one) on `pipe`: the socket's
    /// own change, recorded when it first shows on any of its connections, then the
    /// subscription queued on the pipe as the SUB core queues it (`0x01` or `0x00`
    /// and the prefix, whichever form the wire gave it).
    fn subscribed(&mut self, end: usize, pipe: PipeId, prefix: Bytes, on: bool) {
        let mut sockets = self.taps.sockets.borrow_mut();
        let traced = sockets.entry(self.ends[end]).or_default();
        let changed = if on {
            traced.prefixes.insert(prefix.clone())
        } else {
            traced.prefixes.remove(&prefix)
        };
        drop(sockets);
        if changed {
            self.taps.record(self.ends[end], subscription(None, &prefix, on));
        }
        let msg = MsgInfo { id: None, request_id: None, len: 1 + prefix.len() as u64 };
        self.taps.record(self.ends[end], EventKind::Enqueue { pipe, depth: 0, hwm: 0, msg });
    }
}

/// What the trace records of a decoded message: what a socket's own events would
/// (`msg_info`), or, when that finds no payload id, the first payload header at an
/// id's boundary among the message's routing ids, with the request id before it.
/// The receiver's rule may leave ids in the body that the sender had on its stack (a
/// device's DEALER takes one id of a REP's reply); the wire still holds both. `msg`
/// is the message's head when the tap kept only that: its body was `cut` bytes longer.
fn wire_info(msg: &Msg, cut: u64) -> MsgInfo {
    let info = msg_info(msg);
    let info = MsgInfo { len: info.len.max(msg.body.len() as u64 + cut), ..info };
    if info.id.is_some() {
        return info;
    }
    let mut words = msg.header.clone();
    for at in (0..msg.body.len().min(HEAD_MAX)).step_by(4) {
        let rest = &msg.body[at..];
        if let Some((_, id, len)) = Payload::peek(rest) {
            let request_id = words.iter().copied().find(|w| w & REQUEST_ID_BIT != 0);
            return MsgInfo { id: Some(id), request_id, len: len.max(rest.len() as u64 + cut) };
        }
        let Some(word) = rest.first_chunk::<4>() else { break };
        words.push(u32::from_be_bytes(*word));
    }
    info
}

fn subscription(pipe: Option<PipeId>, prefix: &[u8], on: bool) -> EventKind {
    EventKind::Subscription { pipe, prefix: String::from_utf8_lossy(prefix).into_owned(), on }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::plan::testing::{node, plan_with};
    use crate::wire::payload::{Payload, PayloadKind};
    use crate::wire::{encode, handshake};

    fn taps(recorder: &Recorder) -> Rc<WireTaps> {
        let plan =
            plan_with(&[("client", 1, &[SocketType::Req]), ("worker", 1, &[SocketType::Rep])]);
        Rc::new(WireTaps::new(&plan, recorder, WireTrace::External))
    }

    /// The client's REQ dialling the worker's REP.
    fn link() -> Link {
        Link { from: node(0, 0), from_socket: 0, to: node(1, 0), to_socket: 0 }
    }

    /// An SP message: routing ids, then a payload with id `id`.
    fn message(header: &[u32], id: u64) -> BytesMut {
        let mut out = BytesMut::new();
        let padding = encode(header, &Payload::new(PayloadKind::Request, id, 0).encode(), &mut out);
        assert_eq!(padding, 0);
        out
    }

    fn kinds(recorder: &Recorder) -> Vec<(Replica, EventKind)> {
        recorder.take().into_iter().map(|e| (e.node.expect("at a node"), e.kind)).collect()
    }

    #[test]
    fn only_a_marked_socket_is_traced_and_its_events_are_a_sockets_own() {
        let recorder = Recorder::default();
        let taps = taps(&recorder);
        assert!(taps.open(link()).is_none(), "nothing is marked: nothing is decoded");
        taps.mark_external(GroupId(1), 0);
        let mut tap = taps.open(link()).expect("the worker's end is marked");
        tap.read(0, &handshake(SocketType::Req));
        tap.read(0, &message(&[0x8000_0005], 7));
        tap.released(0, &handshake(SocketType::Req));
        tap.released(0, &message(&[0x8000_0005], 7));
        tap.read(1, &handshake(SocketType::Rep));
        tap.read(1, &message(&[0x8000_0005], 8));
        tap.closed("reset");
        let msg = |id, rid| MsgInfo { id: Some(id), request_id: Some(rid), len: 20 };
        let worker = node(1, 0);
        assert_eq!(
            kinds(&recorder),
            [
                (worker, EventKind::Connect { pipe: 1, peer: Some(node(0, 0)) }),
                (
                    worker,
                    EventKind::Deliver { pipe: 1, depth: 0, hwm: 0, msg: msg(7, 0x8000_0005) }
                ),
                (worker, EventKind::Receive { msg: msg(7, 0x8000_0005) }),
                (worker, EventKind::Send { msg: msg(8, 0x8000_0005) }),
                (
                    worker,
                    EventKind::Enqueue { pipe: 1, depth: 0, hwm: 0, msg: msg(8, 0x8000_0005) }
                ),
                (worker, EventKind::Disconnect { pipe: 1, reason: "reset".into() }),
            ]
        );
    }

    #[test]
    fn a_req_repeating_a_request_id_resends_on_a_timer_unless_its_connection_was_lost() {
        let recorder = Recorder::default();
        let taps = taps(&recorder);
        taps.mark_external(GroupId(0), 0);
        let resends = |recorder: &Recorder| {
            let kinds = kinds(recorder).into_iter().map(|(_, k)| k);
            kinds
                .filter_map(|k| match k {
                    EventKind::Enqueue { pipe, msg, .. } => Some(("sent", pipe, msg.request_id)),
                    EventKind::Resend { pipe, timer: true, request_id, .. } => {
                        Some(("timer", pipe, Some(request_id)))
                    }
                    EventKind::Resend { pipe, request_id, .. } => {
                        Some(("at once", pipe, Some(request_id)))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let mut first = taps.open(link()).expect("the client's end is marked");
        first.read(0, &handshake(SocketType::Req));
        first.read(0, &message(&[0x8000_0001], 1));
        first.read(0, &message(&[0x8000_0001], 1));
        first.closed("reset");
        let mut second = taps.open(link()).expect("marked");
        second.read(0, &handshake(SocketType::Req));
        second.read(0, &message(&[0x8000_0001], 1));
        second.read(0, &message(&[0x8000_0002], 2));
        let r = |n: u32| Some(0x8000_0000 | n);
        assert_eq!(
            resends(&recorder),
            [("sent", 1, r(1)), ("timer", 1, r(1)), ("at once", 2, r(1)), ("sent", 2, r(2))]
        );
    }

    #[test]
    fn bytes_it_cannot_read_are_noted_once_at_the_traced_socket() {
        let recorder = Recorder::default();
        let taps = taps(&recorder);
        taps.mark_external(GroupId(1), 0);
        let mut tap = taps.open(link()).expect("marked");
        tap.released(0, b"GET / HTTP/1.1\r\n");
        tap.released(0, &message(&[0x8000_0001], 1));
        let notes: Vec<_> = kinds(&recorder)
            .into_iter()
            .filter_map(|(at, k)| match k {
                EventKind::App(AppEvent::Note { text }) => Some((at, text)),
                _ => None,
            })
            .collect();
        assert_eq!(
            notes,
            [(
                node(1, 0),
                "wire trace stopped on the connection from client.req[0] to worker.rep[0]: bad SP handshake magic 47 45 54 20, expected 00 53 50 00".to_owned()
            )]
        );
    }

    /// A pynng REQ (NNG 1.11) with a 300 ms resend time on a 50 ms tick; it
    /// prints `SENT` once its request is out and then waits for a reply that never
    /// comes. Killed by its guard.
    const PYNNG_REQ: &str = "import sys, time, pynng, pynng.options as o\n\
s = pynng.Req0(resend_time=300)\n\
o._setopt_ms(s, b'req:resend-tick', 50)\n\
s.dial('tcp://127.0.0.1:' + sys.argv[1], block=True)\n\
s.send(b'hello')\n\
print('SENT', flush=True)\n\
time.sleep(30)\n";

    /// The python child, killed when the test ends however it ends.
    struct Killed(std::process::Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// The first connection to `listener`; a guard against a peer that never dials
    /// (python3 or pynng missing), not a wait for one.
    fn accept_within(listener: std::net::TcpListener, guard: Duration) -> std::net::TcpStream {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let runtime = runtime.expect("a tokio runtime");
        let stream = runtime.block_on(async {
            listener.set_nonblocking(true).expect("nonblocking listener");
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let accepted = crate::net::timer::timeout(guard, listener.accept()).await;
            let (stream, _) = accepted
                .unwrap_or_else(|_| panic!("the pynng REQ did not dial in {guard:?}"))
                .expect("accept");
            stream.into_std().expect("a std stream")
        });
        stream.set_nonblocking(false).expect("blocking stream");
        stream
    }

    /// Issue 13: a REQ patchbay does not run is judged from the proxy's trace alone,
    /// and NNG 1.11's resends on every tick after the first show as such. The test
    /// plays the REP end itself (handshake, then silence) and hands the tap what the
    /// client writes for a second of wall time: the client's own clock sets the pace.
    #[test]
    fn a_pynng_req_judged_from_the_wire_alone_resends_on_every_tick_as_nng_1_11_does() {
        use std::io::{Read, Write};
        use std::time::Instant;

        use crate::invariant::CheckInput;
        use crate::plan::{InvariantPlan, ParamValue};
        use crate::trace::Trace;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("bound").port().to_string();
        let child = std::process::Command::new("python3")
            .args(["-c", PYNNG_REQ, &port])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 with pynng (CI installs it)");
        let mut child = Killed(child);
        let mut stream = accept_within(listener, Duration::from_secs(10));
        stream.write_all(&handshake(SocketType::Rep)).expect("handshake");
        let recorder = Recorder::default();
        let mut plan =
            plan_with(&[("client", 1, &[SocketType::Req]), ("worker", 1, &[SocketType::Rep])]);
        // The client's interval is 300 ms, timed from when it sent; the tap sees the
        // send a little later on the wire (0.4 ms on a loaded machine), so judged with
        // 300 ms the first resend could read as early. 290 ms leaves that slack and
        // still calls every 50 ms tick resend after it early.
        plan.topology.groups[0].sockets[0].options.req_resend_ivl.value =
            Some(Duration::from_millis(290));
        let taps = Rc::new(WireTaps::new(&plan, &recorder, WireTrace::External));
        taps.mark_external(GroupId(0), 0);
        let mut tap = taps.open(link()).expect("the client's end is marked");
        tap.released(1, &handshake(SocketType::Rep));
        let mut line = [0u8; 5];
        child.0.stdout.as_mut().expect("piped").read_exact(&mut line).expect("SENT");
        assert_eq!(&line, b"SENT\n");
        // A window of the client's traffic, not a wait for it: every resend in it counts.
        let until = Instant::now() + Duration::from_millis(1200);
        let mut buf = [0u8; 4096];
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).expect("timeout");
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => tap.read(0, &buf[..n]),
                Err(_) => break,
            }
        }
        drop(child);
        let events = recorder.take();
        let ended_at = events.last().map_or(Duration::ZERO, |e| e.at);
        let timer = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Resend { timer: true, .. }))
            .count();
        assert!(timer >= 5, "a second of 50 ms ticks after a 300 ms wait: {events:?}");
        let trace = Trace { events, ended_at, ..Trace::default() };
        // One tick of slack: NNG checks its timer on the tick.
        let params = BTreeMap::from([(
            "tolerance".to_owned(),
            ParamValue::Duration(Duration::from_millis(60)),
        )]);
        let invariant = InvariantPlan { name: "resend_interval", params };
        let input = CheckInput { trace: &trace, plan: &plan, params: &invariant.params };
        let outcome = crate::registry::Registry::builtin().check(&invariant, &input);
        let note = outcome.note.clone().unwrap_or_default();
        assert!(
            note.starts_with("resends on every tick after the first (NNG ≥1.7)"),
            "{outcome:?}"
        );
        // Every resend after the first is early against the 300 ms interval.
        assert_eq!(outcome.violations.len(), timer - 1, "{outcome:?}");
    }

    /// An SP message of routing ids and a foreign body (not patchbay's payload).
    fn foreign(header: &[u32], body: &'static [u8]) -> BytesMut {
        let mut out = BytesMut::new();
        let padding = encode(header, &Bytes::from_static(body), &mut out);
        assert_eq!(padding, 0, "a foreign body declares no modelled size");
        out
    }

    fn requester_events(recorder: &Recorder) -> Vec<AppEvent> {
        let app = recorder.take().into_iter().filter_map(|e| match e.kind {
            EventKind::App(
                a @ (AppEvent::RequestIssued { .. } | AppEvent::ReplyAccepted { .. }),
            ) => Some(a),
            _ => None,
        });
        app.collect()
    }

    /// An external REQ's own requests are issued and accepted once each (a resend
    /// issues nothing); a request carrying patchbay's payload was another
    /// requester's and issues nothing; a reply to a request the REQ has moved on from
    /// accepts nothing, as the real REQ drops it.
    #[test]
    fn an_external_req_issues_its_own_requests_and_accepts_only_the_awaited_reply() {
        let recorder = Recorder::default();
        let taps = taps(&recorder);
        taps.mark_external(GroupId(0), 0);
        let mut tap = taps.open(link()).expect("the client's end is marked");
        tap.read(0, &handshake(SocketType::Req));
        tap.released(1, &handshake(SocketType::Rep));
        tap.read(0, &foreign(&[0x8000_0001], b"job-0"));
        tap.read(0, &foreign(&[0x8000_0001], b"job-0"));
        tap.released(1, &foreign(&[0x8000_0001], b"job-0"));
        tap.read(0, &message(&[0x8000_0002], 7));
        tap.read(0, &foreign(&[0x8000_0003], b"job-1"));
        tap.read(0, &foreign(&[0x8000_0004], b"job-2"));
        tap.released(1, &foreign(&[0x8000_0003], b"job-1"));
        let id = |counter| MsgOrigin { node: node(0, 0), incarnation: 0, counter }.pack();
        assert_eq!(
            requester_events(&recorder),
            [
                AppEvent::RequestIssued { id: id(0) },
                AppEvent::ReplyAccepted { id: id(0) },
                AppEvent::RequestIssued { id: id(1) },
                AppEvent::RequestIssued { id: id(2) },
            ]
        );
    }

    /// A libzmq REQ's requests carry no request id on ZMTP, so each one is the
    /// program's own and the next message back is its reply, on whichever of its
    /// connections the request went. (The receiving REP's rule makes up an id for
    /// each delimiter, counted per connection: read as the REQ's, the second
    /// connection's first request looked like a timer resend of the first's, and
    /// no reply matched.)
    #[test]
    fn an_external_zmtp_req_over_two_connections_has_each_reply_accepted_and_no_resend() {
        use crate::plan::{Effective, EffectiveOptions, Library};
        use crate::wire::zmtp::{Version, encode_message, encode_ready, greeting};

        let recorder = Recorder::default();
        let mut plan =
            plan_with(&[("client", 1, &[SocketType::Req]), ("worker", 2, &[SocketType::Rep])]);
        for socket in plan.topology.groups.iter_mut().flat_map(|g| g.sockets.iter_mut()) {
            let library = Effective::default(Some(Library::ZeroMq), "test");
            socket.options = EffectiveOptions::for_library(socket.socket_type, library);
        }
        let taps = Rc::new(WireTaps::new(&plan, &recorder, WireTrace::External));
        taps.mark_external(GroupId(0), 0);
        let zmtp_start = |socket| {
            let mut out = BytesMut::from(&greeting(Version::V3_1)[..]);
            encode_ready(socket, b"", &mut out);
            out
        };
        let frames = |body: &[u8]| {
            let mut out = BytesMut::new();
            encode_message(&[&b""[..], body], &mut out);
            out
        };
        let mut conns: Vec<ConnTap> = (0..2)
            .map(|w| {
                let link = Link { to: node(1, w), ..link() };
                let mut tap = taps.open(link).expect("the client's end is marked");
                tap.read(0, &zmtp_start(SocketType::Req));
                tap.released(1, &zmtp_start(SocketType::Rep));
                tap
            })
            .collect();
        for i in 0..4 {
            let tap = &mut conns[i % 2];
            let request = format!("hello {i}");
            tap.read(0, &frames(request.as_bytes()));
            tap.released(1, &frames(request.as_bytes()));
        }
        let events = recorder.take();
        let resends = events.iter().filter(|e| matches!(e.kind, EventKind::Resend { .. }));
        assert_eq!(resends.count(), 0, "a libzmq REQ never resends: {events:?}");
        let app: Vec<AppEvent> = (events.into_iter())
            .filter_map(|e| match e.kind {
                EventKind::App(
                    a @ (AppEvent::RequestIssued { .. } | AppEvent::ReplyAccepted { .. }),
                ) => Some(a),
                _ => None,
            })
            .collect();
        let id = |counter| MsgOrigin { node: node(0, 0), incarnation: 0, counter }.pack();
        let expected: Vec<AppEvent> = (0..4)
            .flat_map(|i| {
                [AppEvent::RequestIssued { id: id(i) }, AppEvent::ReplyAccepted { id: id(i) }]
            })
            .collect();
        assert_eq!(app, expected);
    }

    /// An external REQ's requests get ids in its group's layout: a counter past 2^20
    /// (which `MsgOrigin::pack` cut to its low 20 bits, naming request 0 again) reads
    /// back as itself, and the request after its group's last id gets none, no two
    /// sharing one: noted once at the socket, and the run's failure.
    #[test]
    fn an_external_req_past_its_ids_ends_the_run_and_no_two_requests_share_an_id() {
        let recorder = Recorder::default();
        let plan =
            plan_with(&[("client", 1, &[SocketType::Req]), ("worker", 1, &[SocketType::Rep])]);
        let failed = Rc::new(RefCell::new(None));
        let taps = WireTaps::new(&plan, &recorder, WireTrace::External);
        let taps = Rc::new(taps.failing_into(failed.clone()));
        taps.mark_external(GroupId(0), 0);
        let mut tap = taps.open(link()).expect("the client's end is marked");
        let issued_so_far = |n: u64| {
            let mut sockets = taps.sockets.borrow_mut();
            let traced = sockets.get_mut(&(node(0, 0), 0)).expect("traced");
            traced.requests_issued = n;
        };
        let last = MsgIdLayout::for_count(1).max_counter() - 1;
        assert_eq!(last, u64::from(u32::MAX), "a node of one replica has 2^32 ids");
        tap.read(0, &handshake(SocketType::Req));
        tap.read(0, &foreign(&[0x8000_0001], b"job-0"));
        issued_so_far(1 << 20);
        tap.read(0, &foreign(&[0x8000_0002], b"job-1"));
        issued_so_far(last);
        tap.read(0, &foreign(&[0x8000_0003], b"job-2"));
        tap.read(0, &foreign(&[0x8000_0004], b"job-3"));
        tap.read(0, &foreign(&[0x8000_0005], b"job-4"));
        let events = recorder.take();
        let counters: Vec<u64> = (events.iter())
            .filter_map(|e| match e.kind {
                EventKind::App(AppEvent::RequestIssued { id }) => Some(id),
                _ => None,
            })
            .map(|id| u64::from(MsgOrigin::decode(&plan.topology, id).counter))
            .collect();
        assert_eq!(counters, [0, 1 << 20, last], "job-3 and job-4 have no id");
        let notes: Vec<&str> = (events.iter())
            .filter_map(|e| match &e.kind {
                EventKind::App(AppEvent::Note { text }) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            notes,
            [
                "wire trace: `client.req[0]` (an external program's REQ) made more than 4294967296 (2^32) requests, every id its node's replicas have room for; its later requests are not traced"
            ]
        );
        let failed = failed.borrow().clone();
        assert!(
            matches!(&failed, Some(RunError::NotRunnable(why))
                if why.starts_with("the external REQ `client.req[0]` made more than 4294967296 (2^32) requests, ")),
            "{failed:?}"
        );
    }
}
