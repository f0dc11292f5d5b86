//! The trace: every socket-level event and every fault of one run, in order.
//!
//! Nodes and the fault injector append [`TraceEvent`]s; invariants read the finished
//! trace and nothing else. Each event is stamped with simulated time, the replica it
//! happened at, and the message id the designs carry end to end in the payload, so a
//! checker can follow one request through every broker. The trace hash (FNV-1a over
//! a canonical byte encoding) is what `--check-determinism` compares.
//!
//! A message id's bit layout lives with the plan (`plan/msg_id.rs`) and is re-exported
//! here; `fault_name.rs` names faults in full; `compact.rs` is a byte form of events about a
//! quarter of their size in memory: a recorder keeps its events in that form
//! (`compact_events.rs`) and a run's [`Trace`] stays compact, read as a stream through
//! [`Trace::iter`], unless a caller expands it. `spill.rs` keeps a long real run's trace
//! on disk in that form as it is recorded, so the run's memory levels off.
//! `user_event.rs` is the typed event a user's design records of its own.

pub mod compact;
mod compact_events;
mod fault_name;
mod hash;
mod spill;
mod user_event;

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::plan::Replica;
use crate::socket::{DropReason, PipeId};

pub use compact_events::{CompactEvents, CompactIter};
pub use fault_name::{NamedFault, fault_text};
pub use hash::{trace_hash, trace_hash_of};
// The id layout belongs to the plan (it is bounded by the resolver and packed by
// designs); the trace re-exports it because every event carries ids.
pub use crate::plan::msg_id::{
    MAX_COUNTER, MAX_GROUPS, MAX_INCARNATIONS, MAX_REPLICAS, MsgId, MsgIdLayout, MsgOrigin,
    msg_label,
};
// What an event knows of its message is the socket layer's, since a traced socket's
// events carry it; the trace re-exports it because its events carry it too.
pub use crate::socket::MsgInfo;
pub use spill::{Spill, SpilledEvents};
pub use user_event::{FieldValue, UserEvent};

/// Which socket of a replica an event happened on: the index into its group's
/// `sockets` in the plan.
pub type SocketIndex = u16;

/// Application-level markers that designs record: the units of work invariants count.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppEvent {
    /// A requester issued request `id` (once, however often the socket resends it).
    RequestIssued {
        /// The request.
        id: MsgId,
    },
    /// A requester accepted the reply to request `id`.
    ReplyAccepted {
        /// The request answered.
        id: MsgId,
    },
    /// A requester gave up on request `id` (its own timeout, or the run ended).
    RequestAbandoned {
        /// The request given up.
        id: MsgId,
    },
    /// A worker finished the work for `id`.
    WorkDone {
        /// The request or task worked on.
        id: MsgId,
    },
    /// A publisher published `id` on `topic` (its first frame as text, bytes that are
    /// not UTF-8 replaced), so `subscription_delivery` can match it against prefixes.
    Published {
        /// The message published.
        id: MsgId,
        /// Its first frame, as text.
        topic: String,
    },
    /// The application received message `id` as `parts` frames of the `expected`
    /// the sender wrote (`multipart_atomicity`).
    PartsReceived {
        /// The message received.
        id: MsgId,
        /// Frames that arrived.
        parts: u32,
        /// Frames the sender wrote.
        expected: u32,
    },
    /// A subscriber's subscription period began: it subscribed (a SUB's own
    /// `Subscription` events say to what) and started receiving.
    Joined,
    /// A subscriber's subscription period ended; it receives nothing more.
    Left,
    /// A producer pushed task `id` into a pipeline (`pipeline_conservation`).
    TaskIssued {
        /// The task.
        id: MsgId,
    },
    /// A sink sent the kill signal `id`; each worker's `Receive` of `id` on its control
    /// socket is its delivery.
    KillSent {
        /// The kill signal, one message to every worker.
        id: MsgId,
    },
    /// A surveyor started survey `id`; responses carry the same id, and the SURVEYOR's
    /// `SurveyExpired` that follows closes it.
    SurveyStarted {
        /// The survey; its responses carry the same id.
        id: MsgId,
    },
    /// An aggregator client sent chunk `seq` (0, 1, ...) of `job` on its connection:
    /// message `id`, standing for `len` bytes (`aggregate_complete`).
    ChunkSent {
        /// The chunk's message.
        id: MsgId,
        /// The job the chunk belongs to.
        job: u64,
        /// Its place in the job's chunks on this connection, from 0.
        seq: u64,
        /// The bytes it stands for.
        len: u64,
    },
    /// An aggregator's job worker appended chunk `id` to `job`'s aggregate; `conn` is
    /// the hop id of the connection it came in on (the ROUTER's, one per connection).
    ChunkAggregated {
        /// The chunk's message.
        id: MsgId,
        /// The job it was appended to.
        job: u64,
        /// The hop id of the connection it came in on.
        conn: u32,
        /// Its place in the job's chunks on that connection, from 0.
        seq: u64,
        /// The bytes it stands for.
        len: u64,
    },
    /// An aggregator finished `job`: every connection it expected had sent its last chunk.
    JobFinished {
        /// The job finished.
        job: u64,
    },
    /// The comet router saw `user` log in (its view, which `fanout_correct` judges by).
    CometLogin {
        /// The user, by index.
        user: u32,
    },
    /// The comet router saw `user` log out.
    CometLogout {
        /// The user, by index.
        user: u32,
    },
    /// The comet router routed message `id` from `from`: sent to `delivered` logged-in
    /// followers, skipped `dropped` logged-out ones. Recorded before the sends.
    CometRouted {
        /// The message routed.
        id: MsgId,
        /// Its author, by user index.
        from: u32,
        /// Logged-in followers it was sent to.
        delivered: u32,
        /// Logged-out followers it skipped.
        dropped: u32,
    },
    /// Free-form note from a design, for reports.
    Note {
        /// What the design says, in words.
        text: String,
    },
    /// A typed event of a user's design: a name and ordered fields (`user_event.rs`).
    /// No built-in design records one.
    User(UserEvent),
}

/// Every kind of event a run records. `pipe` is the socket's connection the event
/// concerns (a [`PipeId`], unique within the socket for the run); `msg` what is known
/// of the message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// The application handed a message to a socket.
    Send {
        /// The message handed over.
        msg: MsgInfo,
    },
    /// The socket queued it on a pipe; `depth` after the push, `hwm` the pipe's bound
    /// (0 is unlimited).
    Enqueue {
        /// The pipe it was queued on.
        pipe: PipeId,
        /// Messages on the pipe's outbound queue after the push.
        depth: u32,
        /// The pipe's high-water mark, in messages (0: unlimited).
        hwm: u32,
        /// The message queued.
        msg: MsgInfo,
    },
    /// A message from the wire reached the socket's inbound queue.
    Deliver {
        /// The pipe it came in on.
        pipe: PipeId,
        /// Messages on the pipe's inbound queue after it went in.
        depth: u32,
        /// The pipe's inbound high-water mark, in messages (0: unlimited).
        hwm: u32,
        /// The message delivered.
        msg: MsgInfo,
    },
    /// The application took a message from the socket.
    Receive {
        /// The message taken.
        msg: MsgInfo,
    },
    /// The socket discarded a message; every drop is recorded, never silent.
    Drop {
        /// The pipe it was on or came from; `None` when it never reached one.
        pipe: Option<PipeId>,
        /// Why it was dropped.
        reason: DropReason,
        /// The message dropped.
        msg: MsgInfo,
    },
    /// A REQ sent its outstanding request again, same id. `timer` is true when the
    /// resend timer fired; false when it went out at once because the pipe it was on
    /// was lost or a peer appeared, which no interval governs.
    Resend {
        /// The pipe it went out on.
        pipe: PipeId,
        /// The REQ's request id (the same as the first send's).
        request_id: u32,
        /// Whether the resend timer fired (rather than a pipe change).
        timer: bool,
        /// The request sent again.
        msg: MsgInfo,
    },
    /// A REQ abandoned its outstanding request because the application sent a new
    /// one; a reply to it that comes later is dropped as late.
    Cancel {
        /// The REQ's request id given up.
        request_id: u32,
    },
    /// A subscription took effect or was cancelled (see `SocketEvent::Subscription`);
    /// the prefix is shown as text, bytes that are not UTF-8 replaced.
    Subscription {
        /// The pipe it arrived on (at a publisher); `None` at the subscriber itself.
        pipe: Option<PipeId>,
        /// The topic prefix, as text.
        prefix: String,
        /// `true` when subscribing, `false` when cancelling.
        on: bool,
    },
    /// A SURVEYOR's survey reached its deadline; responses after it are dropped.
    SurveyExpired {
        /// The SURVEYOR's survey id.
        survey_id: u32,
    },
    /// A connection to a peer was established (after its handshake).
    Connect {
        /// The pipe the connection became.
        pipe: PipeId,
        /// The peer replica, when it is one of the run's nodes.
        peer: Option<Replica>,
    },
    /// A connection ended; its pipe is gone for good.
    Disconnect {
        /// The pipe that ended.
        pipe: PipeId,
        /// Why it ended, in words.
        reason: String,
    },
    /// A peer broke the protocol (malformed bytes); the connection was closed.
    ProtocolError {
        /// What the peer sent wrong, in words.
        reason: String,
    },
    /// patchbay itself failed at this replica: a design or one of its socket's driver
    /// tasks panicked. The run fails as an internal error, never as a misbehaving peer.
    InternalError {
        /// What failed, in words.
        reason: String,
    },
    /// A connection attempt failed before its handshake completed (refused, reset,
    /// handshake deadline). `out_of_descriptors` when the process or system had no
    /// file descriptor left: the machine's limit, which makes a real run unusable.
    ConnectFailed {
        /// Why, in words.
        reason: String,
        /// Whether the machine ran out of file descriptors.
        out_of_descriptors: bool,
    },
    /// A listener failed to accept a connection; it backs off and keeps serving the
    /// connections it has. `out_of_descriptors` as for `ConnectFailed`.
    AcceptFailed {
        /// Why, in words.
        reason: String,
        /// Whether the machine ran out of file descriptors.
        out_of_descriptors: bool,
    },
    /// A fault began (index into the scenario's faults); `touched` counts the
    /// connections or nodes it affected.
    FaultBegin {
        /// The fault, as an index into [`Trace::faults`].
        fault: u32,
        /// Connections or nodes it affected.
        touched: u32,
    },
    /// A fault ended (healed, or the run healed everything).
    FaultEnd {
        /// The fault, as an index into [`Trace::faults`].
        fault: u32,
        /// Connections or nodes it had affected.
        touched: u32,
    },
    /// The run moved from the safety phase to the liveness phase.
    Healed,
    /// A design's own marker ([`AppEvent`]).
    App(AppEvent),
}

/// One event of a run: when, where and what.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TraceEvent {
    /// Simulated time since the run began (wall time since its start, over real TCP).
    pub at: Duration,
    /// `None` for run-level events (faults, phases).
    pub node: Option<Replica>,
    /// The socket of `node` it happened on; `None` for the application's own
    /// markers, a replica's internal errors and run-level events.
    pub socket: Option<SocketIndex>,
    /// What happened.
    pub kind: EventKind,
}

/// The finished record of one run.
///
/// Its events are held in one of two forms. A trace built by hand, or from a run
/// that spilled to disk, or one a caller [expanded](Trace::expand), has them in
/// `events`. A run's trace keeps them compact (about 20 bytes an event instead of 80)
/// and `events` is empty until expanded. [`Trace::iter`] and [`Trace::len`] read
/// either form, and are what built-in checkers use; `events`, [`Trace::at_node`] and
/// [`Trace::app_events`] need the expanded form.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Every event, in the order recorded (time order), when the trace is expanded;
    /// empty while the trace is compact.
    pub events: Vec<TraceEvent>,
    /// The events in the compact form, while the trace is compact (`events` is then
    /// empty and ignored); `None` for an expanded trace.
    pub compact: Option<CompactEvents>,
    /// When the safety phase ended and everything healed.
    pub healed_at: Option<Duration>,
    /// When the run stopped.
    pub ended_at: Duration,
    /// Whether the liveness phase ran to quiescence (every workload finished) rather
    /// than hitting its bound.
    pub quiesced: bool,
    /// Every fault of the run, in the order `FaultBegin { fault }` indexes them: the
    /// scenario's own, then any a swarm drew for this seed, each named in full. Empty
    /// for traces built by hand.
    pub faults: Vec<NamedFault>,
}

impl Trace {
    /// The full name of fault `index` (`fault #2 (kill worker.0, 1200ms to 3s, drawn
    /// by the swarm)`), or its bare number for a hand-built trace that lists no faults.
    pub fn fault_name(&self, index: u32) -> String {
        match self.faults.get(index as usize) {
            Some(f) => f.text.clone(),
            None => format!("fault #{index}"),
        }
    }

    /// The trace hash `--check-determinism` compares: FNV-1a over the events'
    /// canonical encoding, so equal traces hash alike on every machine, in either form
    /// (a compact trace is hashed from the bytes it holds, without decoding).
    pub fn hash(&self) -> u64 {
        match &self.compact {
            Some(c) => c.hash(),
            None => trace_hash_of(self.iter()),
        }
    }

    /// A trace whose events are `events`, kept compact; the other fields are empty.
    pub fn from_compact(events: CompactEvents) -> Trace {
        Trace { compact: Some(events), ..Trace::default() }
    }

    /// Every event in order, from either form: borrowed from `events`, or decoded one
    /// at a time from the compact form (so a compact trace is never expanded whole).
    pub fn iter(&self) -> Events<'_> {
        match &self.compact {
            Some(c) => Events::Compact(c.iter()),
            None => Events::Expanded(self.events.iter()),
        }
    }

    /// Events the trace holds, in either form.
    pub fn len(&self) -> usize {
        self.compact.as_ref().map_or(self.events.len(), CompactEvents::len)
    }

    /// Whether the trace holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last event's time, if there is one.
    pub fn last_at(&self) -> Option<Duration> {
        match &self.compact {
            Some(c) => c.last_at(),
            None => self.events.last().map(|e| e.at),
        }
    }

    /// Whether the events are held compact (and `events` is empty).
    pub fn is_compact(&self) -> bool {
        self.compact.is_some()
    }

    /// Moves compact events into `events`, about four times their compact size.
    pub fn expand(&mut self) {
        if let Some(c) = self.compact.take() {
            self.events = c.iter().collect();
        }
    }

    /// An expanded copy, decoded straight from the compact form (no copy of it first).
    pub fn expanded(&self) -> Trace {
        Trace {
            events: self.iter().map(Cow::into_owned).collect(),
            compact: None,
            healed_at: self.healed_at,
            ended_at: self.ended_at,
            quiesced: self.quiesced,
            faults: self.faults.clone(),
        }
    }

    /// Events at one replica. Needs an expanded trace (see [`Trace`]).
    ///
    /// # Panics
    ///
    /// On a compact trace, which would otherwise read as if nothing happened: expand
    /// it first ([`Trace::expand`]) or filter [`Trace::iter`]. A run asked to keep
    /// its trace expanded (`KeepTrace::Expanded`, or `true`) returns it expanded.
    pub fn at_node(&self, node: Replica) -> impl Iterator<Item = &TraceEvent> {
        self.assert_expanded("at_node");
        self.events.iter().filter(move |e| e.node == Some(node))
    }

    /// A compact trace's `events` is empty: reading it as if it held the run would
    /// see nothing happen, so a reader that needs the expanded form stops here.
    fn assert_expanded(&self, what: &str) {
        assert!(
            self.compact.is_none(),
            "Trace::{what} reads expanded events; call Trace::expand or read Trace::iter"
        );
    }

    /// The designs' own markers, each with the event that carries it. Needs an
    /// expanded trace (see [`Trace`]).
    ///
    /// # Panics
    ///
    /// On a compact trace, as [`Trace::at_node`] does.
    pub fn app_events(&self) -> impl Iterator<Item = (&TraceEvent, &AppEvent)> {
        self.assert_expanded("app_events");
        self.events.iter().filter_map(|e| match &e.kind {
            EventKind::App(a) => Some((e, a)),
            _ => None,
        })
    }
}

/// The events of a [`Trace`], in order, from whichever form it holds them in.
#[derive(Debug)]
pub enum Events<'a> {
    /// Borrowed from an expanded trace.
    Expanded(std::slice::Iter<'a, TraceEvent>),
    /// Decoded from a compact one.
    Compact(CompactIter<'a>),
}

impl<'a> Iterator for Events<'a> {
    type Item = Cow<'a, TraceEvent>;

    fn next(&mut self) -> Option<Cow<'a, TraceEvent>> {
        match self {
            Events::Expanded(it) => it.next().map(Cow::Borrowed),
            Events::Compact(it) => it.next().map(Cow::Owned),
        }
    }
}

/// Where a running simulation appends events. Cheap to clone; single-threaded (one
/// simulation runs on one thread). In memory in the compact form by default;
/// [`Recorder::spilling`] keeps only the latest batch in memory and the rest on disk.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    store: Rc<RefCell<Store>>,
}

/// What a recorder holds.
#[derive(Debug, Default)]
struct Store {
    /// The events not yet spilled, with a spill.
    events: Vec<TraceEvent>,
    /// Every event, without a spill.
    compact: CompactEvents,
    spill: Option<Spill>,
    /// Why spilling stopped, if it failed: said in the trace as an internal error.
    spill_failed: Option<String>,
}

/// Events a spilling recorder keeps in memory before writing them out: about 2.5 MB
/// of structs, written as one batch of about 0.7 MB.
pub(crate) const SPILL_BATCH_EVENTS: usize = 32 * 1024;

impl Recorder {
    /// A recorder that spills its events to a new file in `dir` a batch at a time.
    pub fn spilling(dir: &std::path::Path) -> std::io::Result<Recorder> {
        let store = Store { spill: Some(Spill::create(dir)?), ..Store::default() };
        Ok(Recorder { store: Rc::new(RefCell::new(store)) })
    }

    /// Appends `event`, spilling a full batch to disk if this recorder spills.
    pub fn record(&self, event: TraceEvent) {
        let mut store = self.store.borrow_mut();
        if store.spill.is_none() {
            store.compact.push(&event);
            return;
        }
        store.events.push(event);
        if store.events.len() >= SPILL_BATCH_EVENTS
            && store.spill.is_some()
            && store.spill_failed.is_none()
        {
            store.spill_batch();
        }
    }

    /// Events recorded so far, spilled ones included.
    pub fn len(&self) -> usize {
        let store = self.store.borrow();
        store.compact.len() + store.events.len() + store.spill.as_ref().map_or(0, Spill::len)
    }

    /// Whether nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes every event recorded so far as a trace (its other fields empty): kept
    /// compact when recorded in memory, expanded when read back from a spill.
    pub fn take_trace(&self) -> Trace {
        let compact = std::mem::take(&mut self.store.borrow_mut().compact);
        if compact.is_empty() {
            Trace { events: self.take(), ..Trace::default() }
        } else {
            Trace::from_compact(compact)
        }
    }

    /// Takes every event recorded so far, expanded, reading spilled ones back. A spill
    /// that failed (a full disk) ends the trace with an `InternalError` saying so,
    /// which fails the run as patchbay's, not the design's.
    pub fn take(&self) -> Vec<TraceEvent> {
        let mut guard = self.store.borrow_mut();
        let store = &mut *guard;
        let recent = std::mem::take(&mut store.events);
        let mut all: Vec<TraceEvent> = std::mem::take(&mut store.compact).iter().collect();
        if let Some(spill) = store.spill.as_mut().filter(|s| !s.is_empty()) {
            all.reserve(spill.len() + recent.len());
            let read = spill
                .events()
                .and_then(|events| events.into_iter().try_for_each(|e| e.map(|e| all.push(e))));
            if let Err(e) = read {
                store.spill_failed.get_or_insert(format!("reading the trace back failed: {e}"));
            }
            // Taken events are not taken again.
            store.spill = None;
        }
        // Without a spill the recent events are the whole trace: handed over, not
        // copied (the copy was 6% of a busy simulated run, and doubled its trace's
        // memory for a moment at the end).
        if all.is_empty() {
            all = recent;
        } else {
            all.extend(recent);
        }
        if let Some(reason) = store.spill_failed.take() {
            let at = all.last().map_or(Duration::ZERO, |e| e.at);
            let kind = EventKind::InternalError { reason };
            all.push(TraceEvent { at, node: None, socket: None, kind });
        }
        all
    }
}

impl Store {
    fn spill_batch(&mut self) {
        let Some(spill) = self.spill.as_mut() else { return };
        match spill.write(&self.events) {
            Ok(()) => self.events.clear(),
            Err(e) => {
                // Keep recording in memory; the run will fail as internal.
                self.spill_failed = Some(format!("spilling the trace failed: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> TraceEvent {
        let msg = MsgInfo { id: Some(i as u64), request_id: None, len: 20 };
        TraceEvent {
            at: Duration::from_micros(i as u64),
            node: Some(Replica { group: crate::plan::GroupId(1), index: (i % 7) as u32 }),
            socket: Some(0),
            kind: EventKind::Enqueue { pipe: 1, depth: (i % 5) as u32, hwm: 1000, msg },
        }
    }

    #[test]
    fn a_recorders_trace_stays_compact_and_reads_back_as_recorded_in_either_form() {
        let recorder = Recorder::default();
        let events: Vec<TraceEvent> = (0..1_000).map(event).collect();
        events.iter().cloned().for_each(|e| recorder.record(e));
        let mut trace = recorder.take_trace();
        trace.ended_at = Duration::from_secs(3);
        assert!(trace.is_compact() && trace.events.is_empty(), "nothing expanded");
        assert_eq!((trace.len(), trace.last_at()), (1_000, Some(events[999].at)));
        assert!(trace.iter().map(Cow::into_owned).eq(events.iter().cloned()));
        assert_eq!(trace.hash(), trace_hash(&events), "the hash does not see the form");
        let copy = trace.expanded();
        assert!(!copy.is_compact() && copy.events == events && copy.ended_at == trace.ended_at);
        trace.expand();
        assert!(!trace.is_compact() && trace.events == events);
    }

    #[test]
    fn a_spilling_recorder_keeps_one_batch_in_memory_and_gives_back_every_event() {
        let dir = std::env::temp_dir();
        let spilling = Recorder::spilling(&dir).expect("a spill file in the temporary directory");
        let path = spilling.store.borrow().spill.as_ref().map(|s| s.path().to_owned());
        let in_memory = Recorder::default();
        let count = SPILL_BATCH_EVENTS * 5 / 2;
        for i in 0..count {
            spilling.record(event(i));
            in_memory.record(event(i));
        }
        assert_eq!(spilling.len(), count);
        assert_eq!(spilling.store.borrow().events.len(), SPILL_BATCH_EVENTS / 2, "two spilled");
        let path = path.expect("spilling");
        // Its name is gone from the folder at once; the open file holds the spill.
        assert!(!path.exists());
        let (spilled, kept) = (spilling.take(), in_memory.take());
        assert_eq!(spilled.len(), count);
        assert!(spilled == kept, "the spilled trace differs from the one kept in memory");
        assert!(!path.exists(), "the spill file is removed once read back");
        assert!(spilling.take().is_empty(), "taken events are not taken again");
    }
}
