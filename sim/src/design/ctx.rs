//! What a running design is handed: its sockets, parameters, workload, randomness and
//! a way to record application-level events.
//!
//! The runtime builds one `NodeCtx` per replica incarnation (a restart builds a new
//! one, empty, as a restarted process is). Everything a design may touch comes
//! through here, so a design runs unchanged over turmoil and over real TCP.
//!
//! A design may close and reopen one of its sockets ([`NodeCtx::reopen`]), which the
//! ZeroMQ guide's Lazy Pirate client does to get out of a REQ stuck on a lost request.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::net::SocketHandle;
use crate::net::timer::Sleep;
use crate::plan::{Distribution, MsgIdLayout, ParamValue, Replica, TopologyPlan, WorkloadPlan};
use crate::socket::{Msg, RecvError, SendError, SocketType};
use crate::trace::{AppEvent, EventKind, MsgId, MsgOrigin, Recorder, SocketIndex, TraceEvent};
use crate::wire::payload::msg_info;

/// Opens socket number `index` of the replica's node afresh, as the run opened it
/// when the incarnation started (same options and peers, a new request id).
#[derive(Clone)]
pub struct Reopener(pub Rc<dyn Fn(SocketIndex) -> ReopenFuture>);

/// What a [`Reopener`] returns: the fresh socket, or why it could not be opened.
pub type ReopenFuture = Pin<Box<dyn Future<Output = std::io::Result<SocketHandle>>>>;

impl std::fmt::Debug for Reopener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reopener")
    }
}

/// A design's entry point: runs the replica until its work is done (or for ever; the
/// runtime drops the future when the node is killed or the run ends). Shared by every
/// replica of every run, across the threads that run seeds side by side; built by
/// [`Design::run`](super::Design::run) from a closure.
#[derive(Clone)]
pub struct DesignFn(Arc<dyn Fn(NodeCtx) -> BoxedDesignFuture + Send + Sync>);

impl DesignFn {
    /// Wraps a behaviour; [`Design::run`](super::Design::run) is the usual way.
    pub fn new(behaviour: impl Fn(NodeCtx) -> BoxedDesignFuture + Send + Sync + 'static) -> Self {
        DesignFn(Arc::new(behaviour))
    }

    /// Starts the behaviour for one replica incarnation.
    pub fn call(&self, ctx: NodeCtx) -> BoxedDesignFuture {
        (self.0)(ctx)
    }
}

impl std::fmt::Debug for DesignFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DesignFn")
    }
}

/// The future a design's behaviour returns, boxed; it runs on its replica's thread.
pub type BoxedDesignFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Which replicas' current incarnations have completed their finite workload, so
/// the runtime can end the liveness phase as soon as everything is done. A replica
/// counts once however often it finished: a restarted client that runs its workload
/// again must not stand in for another that has not finished.
#[derive(Clone, Debug, Default)]
pub struct Completion {
    done: Rc<RefCell<BTreeSet<Replica>>>,
}

impl Completion {
    /// Replicas whose finite workload is done so far.
    pub fn count(&self) -> u64 {
        self.done.borrow().len() as u64
    }

    /// A new incarnation of `replica` starts its workload over.
    pub fn restart(&self, replica: Replica) {
        self.done.borrow_mut().remove(&replica);
    }
}

/// What [`NodeCtx::next_msg_id`] unwinds a design with when its incarnation has
/// made every id its group's layout has room for; the run (`run/node.rs`) catches it
/// and ends with its text as a run error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutOfMsgIds {
    /// What the run error says, naming the replica and the limit.
    pub(crate) text: String,
}

impl OutOfMsgIds {
    fn new(replica: &str, limit: u64, at: Duration) -> OutOfMsgIds {
        let text = format!(
            "`{replica}` had made all {limit} (2^{power}) message ids one incarnation of it has room for, {at} into the run: an id holds a replica's index and counter in 44 bits, which gives 2^32 ids a replica at a node of up to 4,096 replicas and half as many for each doubling of the count beyond (docs/limits.md); make fewer messages a replica (a longer `heartbeat_ivl`, a shorter run)",
            power = limit.trailing_zeros(),
            at = crate::spec::format_duration(at),
        );
        OutOfMsgIds { text }
    }
}

/// One replica's view of the world.
#[derive(Debug)]
pub struct NodeCtx {
    /// The replica this context runs.
    pub replica: Replica,
    /// `group.index`, as in traces.
    pub name: String,
    /// How many times this replica has been (re)started before; 0 the first time.
    pub incarnation: u32,
    /// The design's parameters as the topology set them, defaults filled in; read them
    /// typed through `param_count`, `param_duration` and the like.
    pub params: BTreeMap<String, ParamValue>,
    /// The scenario's workload for this group (all `None` when it gives none), one
    /// copy shared by every replica of the group: 280 bytes each for a million comet
    /// users otherwise (issue 16).
    pub workload: Rc<WorkloadPlan>,
    /// Each socket by name, with its index in the group's socket list for the trace,
    /// sorted by name. A slice rather than the BTreeMap it comes as: a map of one or
    /// two sockets keeps a leaf of 11 entries, 808 B for each of comet's 100,000
    /// users (issue 16).
    sockets: Box<[(String, SocketIndex, SocketHandle)]>,
    /// The replica's own random stream, kept as its seed and how far it has been
    /// drawn rather than as a generator: a ChaCha8 generator is 320 bytes, kept for
    /// every comet subscriber between draws that come seconds apart (issue 16).
    rng: RngPosition,
    recorder: Recorder,
    epoch: tokio::time::Instant,
    /// The counter of the next id this incarnation makes (a `u64`, so the last of
    /// 2^32 ids leaves a counter after it).
    next_id: Cell<u64>,
    /// How the replica's group shares its ids' replica field (`plan/msg_id.rs`).
    msg_ids: MsgIdLayout,
    completion: Completion,
    /// How the run reopens a socket; `None` where the caller gave none (unit tests).
    reopener: Option<Reopener>,
    /// The run's topology, one copy every replica shares, for naming message ids
    /// ([`NodeCtx::msg_label`]); `None` where the caller gave none.
    topology: Option<Rc<TopologyPlan>>,
}

/// What a replica's context is built from, named field by field: every backend
/// (the simulator, the real network, the benches) and every hand-built harness fills
/// the same struct, so none passes ten arguments in an order it must remember.
#[derive(Debug)]
pub struct NodeParts {
    /// The replica the context runs.
    pub replica: Replica,
    /// `group.index`, as in traces.
    pub name: String,
    /// How many times this replica has been (re)started before; 0 the first time.
    pub incarnation: u32,
    /// The design's parameters, defaults filled in.
    pub params: BTreeMap<String, ParamValue>,
    /// The scenario's workload for this group (all `None` when it gives none); the
    /// group's replicas may share one (`WorkloadPlan::default().into()` for none).
    pub workload: Rc<WorkloadPlan>,
    /// Each socket by name, with its index in the group's socket list for the trace.
    pub sockets: BTreeMap<String, (SocketIndex, SocketHandle)>,
    /// Seeds the replica's own random stream.
    pub seed: u64,
    /// Where the replica's events go.
    pub recorder: Recorder,
    /// The run's time zero: trace times count from here.
    pub epoch: tokio::time::Instant,
    /// Where the design reports that its finite workload is done.
    pub completion: Completion,
}

impl NodeCtx {
    /// The context of one replica, from its parts (a backend or a test harness builds them).
    pub fn new(parts: NodeParts) -> NodeCtx {
        let NodeParts {
            replica,
            name,
            incarnation,
            params,
            workload,
            sockets,
            seed,
            recorder,
            epoch,
            completion,
        } = parts;
        NodeCtx {
            replica,
            name,
            incarnation,
            params,
            workload,
            sockets: sockets.into_iter().map(|(name, (i, h))| (name, i, h)).collect(),
            rng: RngPosition { seed, word_pos: Cell::new(0) },
            recorder,
            epoch,
            next_id: Cell::new(0),
            msg_ids: MsgIdLayout::WHOLE_FIELD,
            completion,
            reopener: None,
            topology: None,
        }
    }

    /// Makes ids in `layout`, the layout of the replica's group
    /// ([`MsgIdLayout::for_count`] of its `count`, as every backend gives it), which
    /// sets how many ids an incarnation may make. A context built without it makes
    /// them in [`MsgIdLayout::WHOLE_FIELD`], whose 2^20 every group has room for.
    pub fn with_msg_ids(mut self, layout: MsgIdLayout) -> NodeCtx {
        self.msg_ids = layout;
        self
    }

    /// Gives the context the run's topology, so that [`NodeCtx::msg_label`] names any
    /// replica's message ids, and makes ids in the layout it gives the replica's group
    /// (as [`NodeCtx::with_msg_ids`] would), so the two always agree. Every backend
    /// gives it; a hand-built context without it names only this replica's own ids.
    pub fn with_topology(mut self, topology: Rc<TopologyPlan>) -> NodeCtx {
        if topology.groups.get(self.replica.group.0 as usize).is_some() {
            self.msg_ids = MsgIdLayout::of_group(&topology, self.replica.group);
        }
        self.topology = Some(topology);
        self
    }

    /// Lets designs reopen their sockets through `reopener`.
    pub fn with_reopener(mut self, reopener: Reopener) -> NodeCtx {
        self.reopener = Some(reopener);
        self
    }

    /// Closes the socket named `name` and opens it again, empty: the new socket has
    /// nothing queued and nothing to read, and makes its connections anew. The old
    /// one is closed without waiting for it, and lingers as its `linger` says: at
    /// libzmq's default (for ever) it goes on connecting to deliver what it had
    /// queued, as libzmq does, which is why the guide's Lazy Pirate sets linger 0
    /// (docs/library-semantics.md, "Linger"). It ends with the process at the latest.
    /// Recorded in the trace as a note. `Err` says why it could not be done; only a
    /// socket that binds nothing can be reopened.
    pub async fn reopen(&self, name: &str) -> Result<(), String> {
        let Some(reopener) = &self.reopener else {
            return Err("this run cannot reopen sockets".to_owned());
        };
        let (_, index, handle) = self.find_socket(name).ok_or(format!("no socket `{name}`"))?;
        if !handle.local_addrs().is_empty() {
            return Err(format!(
                "socket `{name}` binds, and only a connecting socket can be reopened"
            ));
        }
        let fresh = (reopener.0)(*index).await.map_err(|e| format!("reopening `{name}`: {e}"))?;
        handle.replace(fresh);
        self.record(AppEvent::Note { text: format!("{} reopened socket `{name}`", self.name) });
        Ok(())
    }

    /// The socket the topology declares under `name`. Resolution checked that every
    /// socket a design needs exists, so a missing one is a bug in the design.
    pub fn socket(&self, name: &str) -> Socket<'_> {
        match self.find_socket(name) {
            Some((_, index, handle)) => Socket { ctx: self, index: *index, handle },
            None => panic!("design at {} asked for undeclared socket `{name}`", self.name),
        }
    }

    /// Whether the node declares a socket named `name` (an optional socket may be absent).
    pub fn has_socket(&self, name: &str) -> bool {
        self.find_socket(name).is_some()
    }

    /// The socket named `name`, found by binary search (the slice is sorted by name).
    fn find_socket(&self, name: &str) -> Option<&(String, SocketIndex, SocketHandle)> {
        let at = self.sockets.binary_search_by(|(n, ..)| n.as_str().cmp(name)).ok()?;
        self.sockets.get(at)
    }

    /// Time since the start of the run (simulated under turmoil).
    pub fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.epoch)
    }

    /// Waits `d` of run time (simulated under turmoil). Designs sleep through here so
    /// that time, like everything else, reaches them through the context.
    pub async fn sleep(&self, d: Duration) {
        crate::net::timer::sleep(d).await;
    }

    /// Waits until the run's clock reads `at`.
    pub fn sleep_until(&self, at: Duration) -> SleepUntil<'_> {
        self.sleep_until_or_never(Some(at))
    }

    /// Waits until the run's clock reads `at`, or for ever when `at` is `None` (a
    /// design with nothing scheduled that waits on its sockets beside it).
    pub fn sleep_until_or_never(&self, at: Option<Duration>) -> SleepUntil<'_> {
        SleepUntil { state: Wait::At { ctx: self, at } }
    }

    /// Message `id` as traces and reports spell it, `client.3#7` (`client.3~1#7` when
    /// a restarted incarnation made it), for a design's notes: a raw id reads as
    /// 268435456. Without the topology ([`NodeCtx::with_topology`]) only this
    /// replica's own ids are named so, and any other is its number.
    pub fn msg_label(&self, id: MsgId) -> String {
        if let Some(topology) = &self.topology {
            return crate::trace::msg_label(topology, id);
        }
        let origin = self.msg_ids.unpack(id);
        if origin.node != self.replica {
            return id.to_string();
        }
        crate::plan::msg_id::label_at(&self.name, &origin)
    }

    /// A fresh message id, unique across the run (the layout is [`MsgOrigin`]'s, the
    /// counter shared as the group's [`MsgIdLayout`] says).
    ///
    /// An incarnation makes at most [`MsgIdLayout::max_counter`] ids (2^20 to 2^32,
    /// by its group's count), and asking for one more would repeat an id. It does not
    /// return then: it unwinds the design, without a panic message, and the run ends
    /// with an error that names the replica and the limit (a "cannot run", not an
    /// internal error: the scenario asked for more than patchbay's ids hold).
    pub fn next_msg_id(&self) -> MsgId {
        let n = self.next_id.get();
        let limit = self.msg_ids.max_counter();
        let Some(counter) = u32::try_from(n).ok().filter(|_| n < limit) else {
            std::panic::resume_unwind(Box::new(OutOfMsgIds::new(&self.name, limit, self.now())));
        };
        self.next_id.set(n + 1);
        let origin = MsgOrigin { node: self.replica, incarnation: self.incarnation, counter };
        match self.msg_ids.pack(origin) {
            Some(id) => id,
            None => panic!("{}: its group's id layout has no room for its index", self.name),
        }
    }

    /// Records an application event at this replica and the current time: one of
    /// the markers invariants count ([`AppEvent`]), or a typed event of the design's
    /// own ([`UserEvent`](crate::trace::UserEvent)), which reports show and checkers read field by field:
    /// `ctx.record(UserEvent::new("job_done").field("job", 7))`.
    pub fn record(&self, event: impl Into<AppEvent>) {
        self.recorder.record(TraceEvent {
            at: self.now(),
            node: Some(self.replica),
            socket: None,
            kind: EventKind::App(event.into()),
        });
    }

    /// The resolved value of parameter `name`, as the resolver typed it; `None` when
    /// the design declares no such parameter, or declares it
    /// [`ParamDefault::Computed`](super::ParamDefault::Computed) and the topology gave
    /// none (any other declared one always has a value: the topology's, or the
    /// declared default).
    pub fn param(&self, name: &str) -> Option<&ParamValue> {
        self.params.get(name)
    }

    /// Parameter `name`, declared [`ParamKind::Count`](super::ParamKind::Count).
    pub fn param_count(&self, name: &str) -> u64 {
        match self.typed_param(name, "a count") {
            ParamValue::Count(n) => *n,
            other => self.mistyped(name, "a count", other),
        }
    }

    /// Parameter `name`, declared [`ParamKind::Duration`](super::ParamKind::Duration).
    pub fn param_duration(&self, name: &str) -> Duration {
        match self.typed_param(name, "a duration") {
            ParamValue::Duration(d) => *d,
            other => self.mistyped(name, "a duration", other),
        }
    }

    /// Parameter `name`, declared [`ParamKind::Size`](super::ParamKind::Size), in
    /// bytes; `None` is `unlimited`.
    pub fn param_size(&self, name: &str) -> Option<u64> {
        match self.typed_param(name, "a size") {
            ParamValue::Size(bytes) => *bytes,
            other => self.mistyped(name, "a size", other),
        }
    }

    /// Parameter `name`, declared [`ParamKind::Number`](super::ParamKind::Number).
    pub fn param_number(&self, name: &str) -> f64 {
        match self.typed_param(name, "a number") {
            ParamValue::Number(x) => *x,
            other => self.mistyped(name, "a number", other),
        }
    }

    /// Parameter `name`, declared [`ParamKind::Bool`](super::ParamKind::Bool).
    pub fn param_bool(&self, name: &str) -> bool {
        match self.typed_param(name, "true or false") {
            ParamValue::Bool(b) => *b,
            other => self.mistyped(name, "true or false", other),
        }
    }

    /// Parameter `name`, declared [`ParamKind::Text`](super::ParamKind::Text) or
    /// [`ParamKind::OneOf`](super::ParamKind::OneOf).
    pub fn param_text(&self, name: &str) -> &str {
        match self.typed_param(name, "text") {
            ParamValue::Text(s) | ParamValue::Raw(s) => s,
            other => self.mistyped(name, "text", other),
        }
    }

    /// A declared parameter's value. The resolver gave every declared parameter one
    /// (but those whose default the design computes), so a missing one is a bug in the
    /// design (it reads what it never declared), said loudly; the runtime reports a
    /// design's panic as an internal error of the run.
    fn typed_param(&self, name: &str, wanted: &str) -> &ParamValue {
        self.params.get(name).unwrap_or_else(|| {
            panic!(
                "design at {} read parameter `{name}` as {wanted}, but it has no value: its \
                 Design declares no such parameter (declare it with `.param(..)`), or \
                 declares it `ParamDefault::Computed` (read that with `ctx.param`)",
                self.name
            )
        })
    }

    fn mistyped(&self, name: &str, wanted: &str, found: &ParamValue) -> ! {
        panic!(
            "design at {} read parameter `{name}` as {wanted}, but it is declared as another \
             kind (value `{found}`)",
            self.name
        )
    }

    /// Says this replica's finite workload is complete.
    pub fn finished(&self) {
        self.completion.done.borrow_mut().insert(self.replica);
    }

    /// A draw from `dist` (nanoseconds for durations, bytes for sizes).
    pub fn sample(&self, dist: &Distribution) -> f64 {
        self.rng.draw(|rng| dist.sample(rng))
    }

    /// A draw from `dist` (nanoseconds) with the replica's own seeded stream, as a duration.
    pub fn sample_duration(&self, dist: &Distribution) -> Duration {
        Duration::from_nanos(self.sample(dist).max(0.0) as u64)
    }

    /// A uniform draw in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        self.rng.draw(|rng| rng.random::<f64>())
    }
}

pin_project_lite::pin_project! {
    /// What [`NodeCtx::sleep_until`] returns: it reads the clock at its first poll and
    /// makes its timer then, if the time has not come. Written out rather than an
    /// `async fn` because every design future waiting on it holds it: an `async`
    /// body kept its own copies of the context, the instant and the time it read
    /// beside the timer (88 bytes of each of a million comet users; issue 16).
    #[derive(Debug)]
    #[must_use = "a timer does nothing unless awaited"]
    pub struct SleepUntil<'a> {
        #[pin]
        state: Wait<'a>,
    }
}

pin_project_lite::pin_project! {
    #[project = WaitProj]
    #[derive(Debug)]
    enum Wait<'a> {
        /// Not polled yet: the clock is read at the first poll.
        At { ctx: &'a NodeCtx, at: Option<Duration> },
        Sleeping { #[pin] sleep: Sleep },
    }
}

impl Future for SleepUntil<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.project().state;
        if let WaitProj::At { ctx, at } = state.as_mut().project() {
            let Some(at) = *at else { return Poll::Pending };
            let now = ctx.now();
            if at <= now {
                return Poll::Ready(());
            }
            state.set(Wait::Sleeping { sleep: crate::net::timer::sleep(at - now) });
        }
        match state.project() {
            WaitProj::Sleeping { sleep } => sleep.poll(cx),
            WaitProj::At { .. } => unreachable!("a timer is made at the first poll"),
        }
    }
}

/// A ChaCha8 stream kept as its seed and its position in 32-bit words. ChaCha makes
/// each 64-byte block from the key and the block's number alone, so a generator set
/// to the position gives exactly the words the kept generator would have given next:
/// the draws, and so every trace, are the same. Setting a generator to a position
/// makes a buffer of four blocks (256 bytes), most of a draw's cost, so the last
/// generators used on this thread are kept in [`RECENT_STREAMS`] and a draw that
/// finds its stream there where it left it takes the next words from that buffer.
#[derive(Debug)]
struct RngPosition {
    seed: u64,
    /// Words drawn so far. The stream's own counter is 68 bits; 2^64 words are more
    /// than any run draws.
    word_pos: Cell<u64>,
}

/// How many generators [`RECENT_STREAMS`] keeps: enough for the few replicas that
/// draw in turn (a run's workers), 2.7 KB a thread.
const RECENT_STREAMS_LEN: usize = 8;

/// A generator kept after a draw, with the stream it belongs to and where it stands.
type RecentStream = (u64, u64, ChaCha8Rng);

thread_local! {
    /// Generators of recent draws, each in the slot its seed picks (seeds are mixed,
    /// `run::node::replica_seed`). A slot is used only when both its seed and its
    /// position match the stream's, and a generator is a function of the two alone,
    /// so what is kept here cannot change a draw, whichever run or stream left it.
    static RECENT_STREAMS: RefCell<[Option<RecentStream>; RECENT_STREAMS_LEN]> =
        const { RefCell::new([const { None }; RECENT_STREAMS_LEN]) };
}

impl RngPosition {
    /// Runs `f` with the generator where the stream stands, then keeps where it left it.
    fn draw<T>(&self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        let slot = (self.seed % RECENT_STREAMS_LEN as u64) as usize;
        let word_pos = self.word_pos.get();
        // Taken out of its slot while `f` runs, so a draw that panics leaves no
        // generator behind at a position it does not stand at.
        let kept = RECENT_STREAMS.with(|r| r.borrow_mut()[slot].take());
        let mut rng = match kept {
            Some((seed, at, rng)) if seed == self.seed && at == word_pos => rng,
            _ => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                if word_pos > 0 {
                    rng.set_word_pos(word_pos.into());
                }
                rng
            }
        };
        let drawn = f(&mut rng);
        let word_pos = rng.get_word_pos() as u64;
        self.word_pos.set(word_pos);
        RECENT_STREAMS.with(|r| r.borrow_mut()[slot] = Some((self.seed, word_pos, rng)));
        drawn
    }
}

/// A design's handle on one of its sockets: sends and receives are recorded in the
/// trace as application events, so designs cannot forget to.
#[derive(Debug, Clone, Copy)]
pub struct Socket<'a> {
    ctx: &'a NodeCtx,
    index: SocketIndex,
    handle: &'a SocketHandle,
}

impl Socket<'_> {
    /// The type the topology gave this socket.
    pub fn socket_type(&self) -> SocketType {
        self.handle.socket_type()
    }

    fn trace(&self, kind: EventKind) {
        self.trace_at(self.ctx.now(), kind);
    }

    fn trace_at(&self, at: Duration, kind: EventKind) {
        let (node, socket) = (Some(self.ctx.replica), Some(self.index));
        self.ctx.recorder.record(TraceEvent { at, node, socket, kind });
    }

    /// Sends, waiting while every pipe is full (the socket's HWM policy decides what
    /// "full" does). One clock reading serves the trace event and the first attempt:
    /// the socket and this context count time from the same epoch.
    pub async fn send(&self, msg: Msg) -> Result<(), SendError> {
        let info = msg_info(&msg);
        let at = self.ctx.now();
        self.trace_at(at, EventKind::Send { msg: info });
        self.handle.send_at(msg, at).await
    }

    /// Receives the next message, waiting for one. The trace event takes the time the
    /// socket read for the receive, where it read one (same epoch, same poll).
    pub async fn recv(&self) -> Result<Msg, RecvError> {
        let (msg, at) = self.handle.recv_timed().await?;
        let at = at.unwrap_or_else(|| self.ctx.now());
        self.trace_at(at, EventKind::Receive { msg: msg_info(&msg) });
        Ok(msg)
    }

    /// Sends without waiting: fails at once where `send` would wait (a full pipe, no peer).
    pub fn try_send(&self, msg: Msg) -> Result<(), SendError> {
        let info = msg_info(&msg);
        let sent = self.handle.try_send(msg);
        if sent.is_ok() {
            self.trace(EventKind::Send { msg: info });
        }
        sent
    }

    /// Receives without waiting: `RecvError::WouldBlock` when nothing is queued.
    pub fn try_recv(&self) -> Result<Msg, RecvError> {
        let msg = self.handle.try_recv()?;
        self.trace(EventKind::Receive { msg: msg_info(&msg) });
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::GroupId;
    use crate::trace::{FieldValue, UserEvent};
    use rand::RngCore;

    /// A context with the given parameters and no sockets, recording into `recorder`.
    fn ctx_with(params: &[(&str, ParamValue)], recorder: Recorder) -> NodeCtx {
        let params = params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let replica = Replica { group: GroupId(2), index: 5 };
        let epoch = tokio::time::Instant::now();
        let (workload, sockets) = (Rc::new(WorkloadPlan::default()), BTreeMap::new());
        let completion = Completion::default();
        NodeCtx::new(NodeParts {
            replica,
            name: "w.5".into(),
            incarnation: 0,
            params,
            workload,
            sockets,
            seed: 1,
            recorder,
            epoch,
            completion,
        })
    }

    /// A design's note names a message as reports do (`client.1~2#3`), not by its raw
    /// id (268435456 in a new user's trace): any replica's with the topology, its own
    /// without.
    #[test]
    fn a_message_id_is_labelled_as_reports_spell_it() {
        let ctx = ctx_with(&[], Recorder::default());
        let own = ctx.next_msg_id();
        let client = Replica { group: GroupId(0), index: 1 };
        let other = MsgOrigin { node: client, incarnation: 2, counter: 3 }.pack();
        assert_eq!(ctx.msg_label(own), "w.5#0");
        assert_eq!(ctx.msg_label(other), other.to_string(), "no topology to name it by");
        let plan = crate::plan::testing::plan_with(&[
            ("client", 2, &[SocketType::Req]),
            ("device", 1, &[SocketType::Router]),
            ("w", 6, &[SocketType::Rep]),
        ]);
        let ctx = ctx_with(&[], Recorder::default()).with_topology(Rc::new(plan.topology));
        let own = ctx.next_msg_id();
        assert_eq!(ctx.msg_label(own), "w.5#0");
        assert_eq!(ctx.msg_label(other), "client.1~2#3");
    }

    #[test]
    fn typed_parameter_accessors_return_the_resolved_values() {
        let ctx = ctx_with(
            &[
                ("n", ParamValue::Count(7)),
                ("ivl", ParamValue::Duration(Duration::from_millis(250))),
                ("max", ParamValue::Size(Some(65_536))),
                ("cap", ParamValue::Size(None)),
                ("ratio", ParamValue::Number(0.25)),
                ("on", ParamValue::Bool(true)),
                ("topics", ParamValue::Text("A,B".into())),
            ],
            Recorder::default(),
        );
        assert_eq!(ctx.param_count("n"), 7);
        assert_eq!(ctx.param_duration("ivl"), Duration::from_millis(250));
        assert_eq!((ctx.param_size("max"), ctx.param_size("cap")), (Some(65_536), None));
        assert_eq!(ctx.param_number("ratio"), 0.25);
        assert!(ctx.param_bool("on"));
        assert_eq!(ctx.param_text("topics"), "A,B");
        assert_eq!(ctx.param("absent"), None);
    }

    #[test]
    fn a_mistyped_parameter_read_panics_naming_the_design_and_the_parameter() {
        let ctx = ctx_with(&[("n", ParamValue::Count(7))], Recorder::default());
        let message = |f: &dyn Fn()| {
            let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
            panic.downcast_ref::<String>().cloned().unwrap_or_default()
        };
        let mistyped = message(&|| {
            ctx.param_duration("n");
        });
        assert!(
            mistyped.starts_with("design at w.5 read parameter `n` as a duration"),
            "{mistyped}"
        );
        let undeclared = message(&|| {
            ctx.param_bool("wakeup");
        });
        assert!(undeclared.contains("declares no such parameter"), "{undeclared}");
    }

    #[test]
    fn a_user_event_is_recorded_at_the_replica_with_its_fields_in_order() {
        let recorder = Recorder::default();
        let ctx = ctx_with(&[], recorder.clone());
        ctx.record(UserEvent::new("job_done").field("job", 7).field("by", "w.5"));
        let events = recorder.take();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].node, Some(Replica { group: GroupId(2), index: 5 }));
        let EventKind::App(AppEvent::User(e)) = &events[0].kind else { panic!("{events:?}") };
        assert_eq!(e.name, "job_done");
        let fields = [("job".to_owned(), FieldValue::Int(7)), ("by".to_owned(), "w.5".into())];
        assert_eq!(e.fields, fields);
    }

    /// The stream kept as a position gives the very values a kept generator gives,
    /// across buffer refills and 64-bit draws that straddle them.
    #[test]
    fn the_random_stream_kept_as_a_position_draws_what_a_kept_generator_draws() {
        let kept = RefCell::new(ChaCha8Rng::seed_from_u64(42));
        let position = RngPosition { seed: 42, word_pos: Cell::new(0) };
        for i in 0..300 {
            if i % 7 == 3 {
                // One word alone, so later 64-bit draws start at odd positions.
                let word = position.draw(|rng| rng.next_u32());
                assert_eq!(word, kept.borrow_mut().next_u32(), "draw {i}");
            } else {
                let unit = position.draw(|rng| rng.random::<f64>());
                assert_eq!(unit.to_bits(), kept.borrow_mut().random::<f64>().to_bits(), "draw {i}");
            }
        }
        assert_eq!(u128::from(position.word_pos.get()), kept.borrow().get_word_pos());
        let other = RngPosition { seed: 43, word_pos: Cell::new(0) };
        assert_ne!(
            other.draw(|rng| rng.next_u64()),
            RngPosition { seed: 42, word_pos: Cell::new(0) }.draw(|rng| rng.next_u64())
        );
    }

    /// Streams drawn in turn, two of them the same seed at different positions and two
    /// seeds that share a slot of the thread's recent generators, each give what a
    /// generator of its own gives: a kept generator is used only where it stands.
    #[test]
    fn streams_drawn_in_turn_each_draw_what_a_generator_of_their_own_draws() {
        let seeds = [42, 42 + RECENT_STREAMS_LEN as u64, 43, 42];
        let kept: Vec<_> =
            seeds.iter().map(|&s| RefCell::new(ChaCha8Rng::seed_from_u64(s))).collect();
        let positions: Vec<_> =
            seeds.iter().map(|&seed| RngPosition { seed, word_pos: Cell::new(0) }).collect();
        // The last stream starts 5 words on, so it never stands where the first does.
        for _ in 0..5 {
            positions[3].draw(|rng| rng.next_u32());
            kept[3].borrow_mut().next_u32();
        }
        for i in 0..400usize {
            // Runs of one stream (kept generator reused) and changes of stream (rebuilt).
            let s = (i / 3 + i % 2) % seeds.len();
            let unit = positions[s].draw(|rng| rng.random::<f64>());
            assert_eq!(unit.to_bits(), kept[s].borrow_mut().random::<f64>().to_bits(), "draw {i}");
        }
    }

    /// A draw that panics moves the stream nowhere: the next draw gives what the
    /// stream gave before it, as it did when every draw built its own generator.
    #[test]
    fn a_draw_that_panics_leaves_the_stream_where_it_stood() {
        let position = RngPosition { seed: 7, word_pos: Cell::new(0) };
        let mut kept = ChaCha8Rng::seed_from_u64(7);
        assert_eq!(position.draw(|rng| rng.next_u32()), kept.next_u32());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            position.draw(|rng| {
                rng.next_u64();
                panic!("a distribution that fails")
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(position.draw(|rng| rng.next_u64()), kept.next_u64());
    }

    /// What `next_msg_id` unwinds with when it refuses an id.
    fn refused(ctx: &NodeCtx) -> OutOfMsgIds {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.next_msg_id()))
            .expect_err("no id past the limit");
        *unwound.downcast::<OutOfMsgIds>().expect("unwound with the limit, not a panic")
    }

    /// A Paranoid Pirate broker beating to ten workers every millisecond made 2^20 ids
    /// in 105 s, when every id of an incarnation had to fit 20 bits: a node of ten (or
    /// of one) lends its counter the 12 replica bits it does not use.
    #[test]
    fn an_incarnation_makes_more_than_2_20_ids_when_its_group_has_room() {
        let layout = MsgIdLayout::for_count(10);
        let ctx = ctx_with(&[], Recorder::default()).with_msg_ids(layout);
        let made: Vec<MsgId> = (0..(1u32 << 20) + 3).map(|_| ctx.next_msg_id()).collect();
        let origin = |counter| MsgOrigin { node: ctx.replica, incarnation: 0, counter };
        for (counter, &id) in (0..).zip(&made) {
            assert_eq!(layout.unpack(id), origin(counter), "id {id:#x}");
            if counter < 1 << 20 {
                assert_eq!(id, origin(counter).pack(), "the id it was before counters carried");
            }
        }
        let mut distinct = made.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), made.len(), "no id made twice");
        // On to the last counter a `u32` holds, and no further.
        ctx.next_id.set(u64::from(u32::MAX));
        let last = ctx.next_msg_id();
        assert_eq!(layout.unpack(last), origin(u32::MAX));
        assert!(distinct.binary_search(&last).is_err());
        let out = refused(&ctx);
        assert!(
            out.text
                .starts_with("`w.5` had made all 4294967296 (2^32) message ids one incarnation"),
            "{}",
            out.text
        );
    }

    #[test]
    fn the_id_past_its_groups_limit_unwinds_naming_the_replica_and_the_limit() {
        // A million subscribers, as comet-1m has, take 20 of the 24 replica bits.
        let ctx =
            ctx_with(&[], Recorder::default()).with_msg_ids(MsgIdLayout::for_count(1_000_000));
        ctx.next_id.set((1 << 24) - 1);
        let last = ctx.next_msg_id();
        assert_eq!(MsgIdLayout::for_count(1_000_000).unpack(last).counter, (1 << 24) - 1);
        let out = refused(&ctx);
        assert!(
            out.text.starts_with("`w.5` had made all 16777216 (2^24) message ids one incarnation"),
            "{}",
            out.text
        );
        assert!(out.text.contains("docs/limits.md"), "{}", out.text);
        // Refused again, not skipped past: the counter stays where it stopped.
        assert!(refused(&ctx).text.starts_with("`w.5` had made all 16777216 (2^24)"));
        assert_eq!(ctx.next_id.get(), 1 << 24);
        // A context no backend gave a layout keeps to the 2^20 every group has.
        let bare = ctx_with(&[], Recorder::default());
        bare.next_id.set((1 << 20) - 1);
        bare.next_msg_id();
        assert!(refused(&bare).text.contains("all 1048576 (2^20) message ids"));
    }

    /// A wait for a time that passed before its first poll is ready at that poll; a
    /// wait for `None` never is; a wait for a later time ends exactly then.
    #[test]
    fn a_wait_until_an_instant_ends_at_that_instant_or_never() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let ctx = ctx_with(&[], Recorder::default());
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let mut made_early = std::pin::pin!(ctx.sleep_until(Duration::from_millis(3)));
            crate::net::timer::sleep(Duration::from_millis(5)).await;
            assert!(made_early.as_mut().poll(&mut cx).is_ready(), "its time has passed");
            let mut never = std::pin::pin!(ctx.sleep_until_or_never(None));
            assert!(never.as_mut().poll(&mut cx).is_pending());
            ctx.sleep_until(Duration::from_millis(20)).await;
            assert_eq!(ctx.now(), Duration::from_millis(20));
            assert!(never.as_mut().poll(&mut cx).is_pending());
        });
    }
}
