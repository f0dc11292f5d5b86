//! The trace: every socket-level event and every fault of one run, in order.
//!
//! Nodes and the fault injector append [`TraceEvent`]s; invariants read the finished
//! trace and nothing else. Each event is stamped with simulated time, the replica it
//! happened at, and the message id the designs carry end to end in the payload, so a
//! checker can follow one request through every broker. The trace hash (FNV-1a over
//! a canonical byte encoding) is what `--check-determinism` compares.

mod hash;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::plan::Replica;
use crate::socket::{DropReason, PipeId};

pub use hash::trace_hash;

/// A message id assigned by the design that created the message, carried in its
/// payload through every hop. `None` for messages with no patchbay payload.
pub type MsgId = u64;

/// Which socket of a replica an event happened on: the index into its group's
/// `sockets` in the plan.
pub type SocketIndex = u16;

/// What is known of a message at an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgInfo {
    pub id: Option<MsgId>,
    /// The REQ request id on the message's stack, if any.
    pub request_id: Option<u32>,
    /// Modelled size in bytes (large payloads are modelled, not allocated).
    pub len: u64,
}

/// Application-level markers that designs record: the units of work invariants count.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppEvent {
    /// A requester issued request `id` (once, however often the socket resends it).
    RequestIssued { id: MsgId },
    /// A requester accepted the reply to request `id`.
    ReplyAccepted { id: MsgId },
    /// A requester gave up on request `id` (its own timeout, or the run ended).
    RequestAbandoned { id: MsgId },
    /// A worker finished the work for `id`.
    WorkDone { id: MsgId },
    /// A publisher published `id` on `topic` (its first frame as text, bytes that are
    /// not UTF-8 replaced), so `subscription_delivery` can match it against prefixes.
    Published { id: MsgId, topic: String },
    /// The application received message `id` as `parts` frames of the `expected`
    /// the sender wrote (`multipart_atomicity`).
    PartsReceived { id: MsgId, parts: u32, expected: u32 },
    /// A subscriber's subscription period began: it subscribed (a SUB's own
    /// `Subscription` events say to what) and started receiving.
    Joined,
    /// A subscriber's subscription period ended; it receives nothing more.
    Left,
    /// A producer pushed task `id` into a pipeline (`pipeline_conservation`).
    TaskIssued { id: MsgId },
    /// A sink sent the kill signal `id`; each worker's `Receive` of `id` on its control
    /// socket is its delivery.
    KillSent { id: MsgId },
    /// A surveyor started survey `id`; responses carry the same id, and the SURVEYOR's
    /// `SurveyExpired` that follows closes it.
    SurveyStarted { id: MsgId },
    /// An aggregator client sent chunk `seq` (0, 1, ...) of `job` on its connection:
    /// message `id`, standing for `len` bytes (`aggregate_complete`).
    ChunkSent { id: MsgId, job: u64, seq: u64, len: u64 },
    /// An aggregator's job worker appended chunk `id` to `job`'s aggregate; `conn` is
    /// the hop id of the connection it came in on (the ROUTER's, one per connection).
    ChunkAggregated { id: MsgId, job: u64, conn: u32, seq: u64, len: u64 },
    /// An aggregator finished `job`: every connection it expected had sent its last chunk.
    JobFinished { job: u64 },
    /// The comet router saw `user` log in (its view, which `fanout_correct` judges by).
    CometLogin { user: u32 },
    /// The comet router saw `user` log out.
    CometLogout { user: u32 },
    /// The comet router routed message `id` from `from`: sent to `delivered` logged-in
    /// followers, skipped `dropped` logged-out ones. Recorded before the sends.
    CometRouted { id: MsgId, from: u32, delivered: u32, dropped: u32 },
    /// Free-form note from a design, for reports.
    Note { text: String },
}

/// Every kind of event a run records.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// The application handed a message to a socket.
    Send {
        msg: MsgInfo,
    },
    /// The socket queued it on a pipe; `depth` after the push, `hwm` the pipe's bound
    /// (0 is unlimited).
    Enqueue {
        pipe: PipeId,
        depth: u32,
        hwm: u32,
        msg: MsgInfo,
    },
    /// A message from the wire reached the socket's inbound queue.
    Deliver {
        pipe: PipeId,
        depth: u32,
        hwm: u32,
        msg: MsgInfo,
    },
    /// The application took a message from the socket.
    Receive {
        msg: MsgInfo,
    },
    Drop {
        pipe: Option<PipeId>,
        reason: DropReason,
        msg: MsgInfo,
    },
    /// A REQ sent its outstanding request again, same id. `timer` is true when the
    /// resend timer fired; false when it went out at once because the pipe it was on
    /// was lost or a peer appeared, which no interval governs.
    Resend {
        pipe: PipeId,
        request_id: u32,
        timer: bool,
        msg: MsgInfo,
    },
    Cancel {
        request_id: u32,
    },
    /// A subscription took effect or was cancelled (see `SocketEvent::Subscription`);
    /// the prefix is shown as text, bytes that are not UTF-8 replaced.
    Subscription {
        pipe: Option<PipeId>,
        prefix: String,
        on: bool,
    },
    SurveyExpired {
        survey_id: u32,
    },
    Connect {
        pipe: PipeId,
        peer: Option<Replica>,
    },
    Disconnect {
        pipe: PipeId,
        reason: String,
    },
    ProtocolError {
        reason: String,
    },
    /// A connection attempt failed before its handshake completed (refused, reset,
    /// handshake deadline). `out_of_descriptors` when the process or system had no
    /// file descriptor left: the machine's limit, which makes a real run unusable.
    ConnectFailed {
        reason: String,
        out_of_descriptors: bool,
    },
    /// A listener failed to accept a connection; it backs off and keeps serving the
    /// connections it has. `out_of_descriptors` as for `ConnectFailed`.
    AcceptFailed {
        reason: String,
        out_of_descriptors: bool,
    },
    /// A fault began (index into the scenario's faults); `touched` counts the
    /// connections or nodes it affected.
    FaultBegin {
        fault: u32,
        touched: u32,
    },
    FaultEnd {
        fault: u32,
        touched: u32,
    },
    /// The run moved from the safety phase to the liveness phase.
    Healed,
    App(AppEvent),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TraceEvent {
    pub at: Duration,
    /// `None` for run-level events (faults, phases).
    pub node: Option<Replica>,
    pub socket: Option<SocketIndex>,
    pub kind: EventKind,
}

/// The finished record of one run.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
    /// When the safety phase ended and everything healed.
    pub healed_at: Option<Duration>,
    /// When the run stopped.
    pub ended_at: Duration,
    /// Whether the liveness phase ran to quiescence (every workload finished) rather
    /// than hitting its bound.
    pub quiesced: bool,
}

impl Trace {
    pub fn hash(&self) -> u64 {
        trace_hash(&self.events)
    }

    /// Events at one replica.
    pub fn at_node(&self, node: Replica) -> impl Iterator<Item = &TraceEvent> {
        self.events.iter().filter(move |e| e.node == Some(node))
    }

    pub fn app_events(&self) -> impl Iterator<Item = (&TraceEvent, &AppEvent)> {
        self.events.iter().filter_map(|e| match &e.kind {
            EventKind::App(a) => Some((e, a)),
            _ => None,
        })
    }
}

/// Where a running simulation appends events. Cheap to clone; single-threaded (one
/// simulation runs on one thread).
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    events: Rc<RefCell<Vec<TraceEvent>>>,
}

impl Recorder {
    pub fn record(&self, event: TraceEvent) {
        self.events.borrow_mut().push(event);
    }

    pub fn len(&self) -> usize {
        self.events.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.borrow().is_empty()
    }

    /// Takes every event recorded so far.
    pub fn take(&self) -> Vec<TraceEvent> {
        std::mem::take(&mut *self.events.borrow_mut())
    }
}
