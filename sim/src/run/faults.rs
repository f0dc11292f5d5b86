//! The fault world: what is wrong with the network and the nodes right now.
//!
//! turmoil's own partitions stall a TCP stream for ever (no retransmission), which
//! real TCP does not do, so patchbay never uses them. Instead every connection runs
//! through the shim in `shim.rs`, and the shim asks this state, on every read and
//! write, whether the data may flow: a partition or clog holds traffic, which flows
//! again when it heals; a connection whose data has been held longer than
//! `tcp_timeout` is reset at both ends, as Linux gives up after its retransmissions;
//! a killed node's connections are reset at once; a crashed node goes silent; a
//! stalled node stops reading and writing; a link with a bandwidth limit lets bytes
//! leave each way no faster than the limit. Because faults act on replicas through
//! the shim, many replicas can share one simulated host and a fault still hits
//! exactly the replica named.
//!
//! One simulation runs on one thread, so this is shared by `Rc` across every host.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;

use crate::plan::{
    Distribution, FaultKind, FaultPlan, NetworkPlan, Replica, ScenarioPlan, Selector,
};

/// Identifies one connection, shared by its two ends.
pub type ConnId = u64;

/// Whether a replica's process is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Killed: connections were reset; restarts empty when the fault ends.
    Killed,
    /// The machine went silent: peers see nothing until their own timeouts.
    Crashed,
}

#[derive(Debug)]
pub struct ReplicaState {
    pub status: Status,
    pub stalled: bool,
    /// Bumped at every restart; a supervisor runs one incarnation at a time.
    pub incarnation: u32,
    /// Wakes the replica's supervisor when its status changes.
    pub notify: Rc<Notify>,
}

/// One connection: its two ends and what is in flight between them.
#[derive(Debug)]
pub struct Conn {
    /// `[connector, acceptor]`.
    pub ends: [Replica; 2],
    /// Bytes written by end `i` not yet released to the other end's reader.
    pub in_flight: [u64; 2],
    /// Whether end `i`'s machine has crashed: from then on nothing its process or
    /// kernel would send leaves it (no data, no FIN, no RST), for good. A restart
    /// resets the connection; the silence outlives it so the dead incarnation's
    /// streams never close either.
    pub silent: [bool; 2],
    /// The task last left waiting on turmoil at end `i`: a reset wakes it, since
    /// turmoil itself may never (a crashed peer sends nothing, not even a close).
    pub waiting: [Option<Waker>; 2],
    /// What only faults set, boxed while it holds anything: every connection of a
    /// run has an entry here (a million in a comet run), and these 72 bytes were
    /// half of each (issue 16).
    trouble: Option<Box<Trouble>>,
}

/// The rarely set part of a [`Conn`].
#[derive(Debug, Default)]
struct Trouble {
    /// Why the connection was reset, once it has been.
    broken: Option<String>,
    /// Since when end `i`'s data has been blocked (held, or its peer crashed) with
    /// something in flight: Linux's retransmission timer, in effect.
    blocked_since: [Option<Duration>; 2],
}

impl Conn {
    fn new(ends: [Replica; 2]) -> Conn {
        Conn {
            ends,
            in_flight: [0, 0],
            silent: [false, false],
            waiting: [None, None],
            trouble: None,
        }
    }

    /// Why the connection was reset, if it has been.
    pub fn broken(&self) -> Option<&str> {
        self.trouble.as_ref().and_then(|t| t.broken.as_deref())
    }

    fn break_with(&mut self, reason: &str) {
        self.trouble.get_or_insert_with(Box::default).broken = Some(reason.to_owned());
    }
}

/// Traffic held from one set of replicas to another.
#[derive(Debug)]
struct Hold {
    fault: u32,
    sides: [Vec<Selector>; 2],
    oneway: bool,
}

/// A latency, loss or bandwidth change on the links between two sets.
#[derive(Debug)]
struct LinkChange {
    fault: Option<u32>,
    sides: [Vec<Selector>; 2],
    latency: Option<Distribution>,
    loss: Option<f64>,
    /// Bytes per second each way; infinite lifts a limit.
    bandwidth: Option<f64>,
}

fn matches(sel: &[Selector], r: Replica) -> bool {
    sel.iter().any(|s| s.picks(r))
}

fn between(sides: &[Vec<Selector>; 2], a: Replica, b: Replica, oneway: bool) -> bool {
    (matches(&sides[0], a) && matches(&sides[1], b))
        || (!oneway && matches(&sides[1], a) && matches(&sides[0], b))
}

/// The far end of a connection an outside program made through a door (`run/proxy.rs`,
/// `--ports as-written`): no replica of the topology, so no selector picks it, and
/// only holds ([`held_by`]) know where it stands.
pub(crate) const OUTSIDE: Replica = Replica { group: crate::plan::GroupId(u32::MAX), index: 0 };

/// Whether `hold` holds traffic from `a` to `b`. The outside stands on the far side
/// of every partition or clog that names the node it talks to: a partition cuts a
/// node's outside clients as it cuts it from the other side (a oneway one holds the
/// direction from its first side to its second, the outside taking the node's
/// opposite side). Latency, loss and bandwidth changes between sets of nodes never
/// pick it, as `between` never does.
fn held_by(hold: &Hold, a: Replica, b: Replica) -> bool {
    if a == OUTSIDE || b == OUTSIDE {
        let (node, from_outside) = if a == OUTSIDE { (b, true) } else { (a, false) };
        let [first, second] = [0, 1].map(|side| matches(&hold.sides[side], node));
        // From the outside to a node on the second side is first-to-second, and so on.
        let forward = if from_outside { second } else { first };
        return forward || (!hold.oneway && (first || second));
    }
    between(&hold.sides, a, b, hold.oneway)
}

/// Whether data from end `from` of `c` cannot be acknowledged now: held by a
/// partition, or its receiver crashed.
fn blocked(
    replicas: &BTreeMap<Replica, ReplicaState>,
    holds: &[Hold],
    c: &Conn,
    from: usize,
) -> bool {
    let (a, b) = (c.ends[from], c.ends[1 - from]);
    let crashed = replicas.get(&b).is_some_and(|s| s.status == Status::Crashed);
    crashed || holds.iter().any(|h| held_by(h, a, b))
}

/// When one chunk leaves a link, from [`FaultWorld::pace`].
#[derive(Clone, Copy, Debug)]
#[must_use = "a pace takes bandwidth only once committed"]
pub struct Pace {
    /// The limited direction (sender, receiver); `None` on an unlimited link.
    link: Option<(Replica, Replica)>,
    /// When the chunk's last byte has left the sender.
    pub leaves_at: Duration,
    /// The bandwidth fault that set the limit, if one did.
    fault: Option<u32>,
}

/// Linux retransmits a SYN for about 127 s before `connect` fails (tcp_syn_retries 6).
pub(crate) const SYN_TIMEOUT: Duration = Duration::from_secs(127);
/// Minimum retransmission timeout on Linux: what one lost segment costs.
const RTO_MIN: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct State {
    pub replicas: BTreeMap<Replica, ReplicaState>,
    pub conns: BTreeMap<ConnId, Conn>,
    /// Which replica listens at each simulated address.
    pub listeners: BTreeMap<SocketAddr, Replica>,
    /// Which replica a socket address other than a listener's stands for, so the trace
    /// can name each connection's peer: a dialler's own end (the accepting side sees
    /// it), and on the real network each fault proxy's listening address (the
    /// connector sees it; it stands for the proxy's target). Latest wins: ports are
    /// reused.
    pub peer_names: BTreeMap<SocketAddr, Replica>,
    /// Connects to each address not yet accepted: the shim keeps this under a
    /// listener's backlog (`LISTEN_BACKLOG` in `shim.rs`).
    pub syn_slots: BTreeMap<SocketAddr, std::sync::Arc<tokio::sync::Semaphore>>,
    holds: Vec<Hold>,
    links: Vec<LinkChange>,
    base_latency: Distribution,
    base_loss: f64,
    /// `network.bandwidth`, bytes per second; infinite when unlimited.
    base_bandwidth: f64,
    /// When each direction of each limited link (sender, receiver) has sent every
    /// byte handed to it so far: the next chunk starts leaving no earlier. Kept per
    /// pair of replicas, so connections between the same two share the limit.
    free_at: BTreeMap<(Replica, Replica), Duration>,
    tcp_timeout: Duration,
    next_conn: ConnId,
    /// What each fault affected, for the trace's `FaultEnd`.
    effects: BTreeMap<u32, u32>,
    /// How many replicas are crashed now: the run loop asks every tick whether any
    /// is, and a scan of every replica cost a third of a large run's time.
    crashed: usize,
    /// Whether any connection has been reset, or silenced by a crash, in this run:
    /// until one has, the shim's checks on every read and write need no lookup (at
    /// 100,000 connections that lookup was the simulator's own largest cost).
    any_broken: bool,
    any_silent: bool,
    /// How many replicas are stalled now: the shim asks on every read and write, and
    /// while none is (the common case) that needs no lookup.
    stalled: usize,
    /// While faults are in force (and so the run loop sweeps every step), the
    /// connections with data in flight at either end: the only ones a sweep can find
    /// blocked. Built by the first sweep of a faulty spell, kept by every write and
    /// release during it, dropped when it ends. A sweep of every connection every step
    /// was a sixth of a 100-client partition scenario's instructions.
    flowing: Option<BTreeSet<ConnId>>,
}

/// Which replicas share a turmoil host, and what the shim adds between two that do:
/// turmoil applies its fixed latency only between hosts, and within one host delivers
/// a write one tick later (docs/turmoil.md), so the shim adds the rest.
#[derive(Clone, Debug, Default)]
pub struct SharedHosts {
    /// The fixed latency turmoil applies between hosts, less one tick.
    pub extra: Duration,
    /// Per group (by id), the turmoil host of each of its hosts; replica `i` is on
    /// host `i % len`.
    pub of_group: BTreeMap<u32, Vec<u32>>,
}

impl SharedHosts {
    fn same_host(&self, a: Replica, b: Replica) -> bool {
        let host = |r: Replica| {
            let hosts = self.of_group.get(&r.group.0)?;
            hosts.get(r.index as usize % hosts.len().max(1)).copied()
        };
        host(a).is_some_and(|h| host(b) == Some(h))
    }
}

/// The shared fault world of one run.
#[derive(Debug)]
pub struct FaultWorld {
    pub state: RefCell<State>,
    /// Set by the simulator once it has packed the replicas onto hosts.
    shared: RefCell<SharedHosts>,
    rng: RefCell<ChaCha8Rng>,
    /// Readers and writers waiting for a fault to change.
    wakers: RefCell<Vec<Waker>>,
    /// Calls into the shim so far (each read, write, flush, close, connect and accept
    /// poll, and each stream dropped): the run loop takes a count that stops moving
    /// for long enough as "nothing in flight" (`simulated.rs`).
    activity: Cell<u64>,
}

/// The network latency turmoil itself can apply: a fixed latency with no per-link
/// override and no latency fault to change it. Then the shim adds nothing on the
/// common path, and no chunk needs a timer of its own (the benchmark's main cost).
pub(crate) fn turmoil_latency(plan: &ScenarioPlan) -> Option<Duration> {
    let Distribution::Fixed(ns) = plan.network.latency else { return None };
    // A paced chunk's latency counts from when its last byte leaves, which only the
    // shim knows; so any bandwidth limit moves the latency into the shim too.
    let shim_only = changes(plan, FaultKind::Latency) || limits_bandwidth(plan);
    (plan.network.links.is_empty() && !shim_only).then(|| Duration::from_nanos(ns as u64))
}

/// Whether a fault of `kind` is written or may be drawn.
fn changes(plan: &ScenarioPlan, kind: FaultKind) -> bool {
    plan.faults.iter().any(|f| f.kind == kind)
        || plan.swarm.as_ref().is_some_and(|s| s.kinds.contains(&kind))
}

/// Whether any link of the run may have a bandwidth limit.
fn limits_bandwidth(plan: &ScenarioPlan) -> bool {
    plan.network.bandwidth.is_finite()
        || plan.network.links.iter().any(|l| l.bandwidth.is_some_and(f64::is_finite))
        || changes(plan, FaultKind::Bandwidth)
}

impl FaultWorld {
    pub fn new(plan: &ScenarioPlan, seed: u64) -> Rc<FaultWorld> {
        // When turmoil applies the base latency, the shim must not add it again.
        Self::with_base_latency(plan, seed, turmoil_latency(plan).is_none())
    }

    /// A fault world whose `delay` includes the network's base latency or not: the
    /// real network's fault proxy applies all of it, turmoil sometimes applies it
    /// itself.
    pub(crate) fn with_base_latency(plan: &ScenarioPlan, seed: u64, base: bool) -> Rc<FaultWorld> {
        let mut network = plan.network.clone();
        if !base {
            network.latency = Distribution::Fixed(0.0);
        }
        Self::over(&network, plan.tcp_timeout, seed)
    }

    /// A fault world with no fault, no latency of its own, no loss and no bandwidth
    /// limit, for a harness that runs sockets over the simulator's shim without a
    /// scenario (the parity tests): turmoil's own latency is all there is.
    pub(crate) fn fault_free(seed: u64) -> Rc<FaultWorld> {
        let network = NetworkPlan {
            tick: Duration::from_millis(1),
            latency: Distribution::Fixed(0.0),
            loss: 0.0,
            bandwidth: f64::INFINITY,
            links: Vec::new(),
        };
        // Nothing is ever held, so no connection can time out.
        Self::over(&network, Duration::MAX, seed)
    }

    /// A fault world over `network`, whose latency is the part the shim adds.
    fn over(network: &NetworkPlan, tcp_timeout: Duration, seed: u64) -> Rc<FaultWorld> {
        let links = network
            .links
            .iter()
            .map(|l| LinkChange {
                fault: None,
                sides: [vec![l.between[0]], vec![l.between[1]]],
                latency: l.latency,
                loss: l.loss,
                bandwidth: l.bandwidth,
            })
            .collect();
        let state = State {
            replicas: BTreeMap::new(),
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            peer_names: BTreeMap::new(),
            syn_slots: BTreeMap::new(),
            holds: Vec::new(),
            links,
            base_latency: network.latency,
            base_loss: network.loss,
            base_bandwidth: network.bandwidth,
            free_at: BTreeMap::new(),
            tcp_timeout,
            next_conn: 1,
            effects: BTreeMap::new(),
            crashed: 0,
            any_broken: false,
            any_silent: false,
            stalled: 0,
            flowing: None,
        };
        Rc::new(FaultWorld {
            state: RefCell::new(state),
            shared: RefCell::default(),
            rng: RefCell::new(ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_fa17)),
            wakers: RefCell::new(Vec::new()),
            activity: Cell::new(0),
        })
    }

    /// Counts a call into the shim (see `activity`).
    pub(crate) fn note_activity(&self) {
        self.activity.set(self.activity.get() + 1);
    }

    /// Calls into the shim so far.
    pub(crate) fn activity(&self) -> u64 {
        self.activity.get()
    }

    /// Says which replicas share a turmoil host (see [`SharedHosts`]).
    pub fn share_hosts(&self, shared: SharedHosts) {
        *self.shared.borrow_mut() = shared;
    }

    pub(crate) fn add_replica(&self, r: Replica) -> Rc<Notify> {
        let notify = Rc::new(Notify::new());
        let st = ReplicaState {
            status: Status::Running,
            stalled: false,
            incarnation: 0,
            notify: notify.clone(),
        };
        self.state.borrow_mut().replicas.insert(r, st);
        notify
    }

    pub(crate) fn register_wait(&self, waker: &Waker) {
        let mut wakers = self.wakers.borrow_mut();
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    /// Wakes everything waiting on a fault: cheap, and the waiters re-check.
    pub(crate) fn wake_all(&self) {
        for w in self.wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    pub(crate) fn new_conn(&self, connector: Replica, acceptor: Replica) -> ConnId {
        let mut st = self.state.borrow_mut();
        let id = st.next_conn;
        st.next_conn += 1;
        st.conns.insert(id, Conn::new([connector, acceptor]));
        id
    }

    /// Forgets a connection both ends have closed, so later faults do not count it.
    pub(crate) fn close_conn(&self, id: ConnId) {
        let mut st = self.state.borrow_mut();
        st.conns.remove(&id);
        if let Some(flowing) = st.flowing.as_mut() {
            flowing.remove(&id);
        }
    }

    /// The two replicas of connection `id`, connector first.
    pub(crate) fn conn_ends(&self, id: ConnId) -> Option<[Replica; 2]> {
        self.state.borrow().conns.get(&id).map(|c| c.ends)
    }

    /// Whether end `end` of connection `id` belongs to a machine that crashed while
    /// the connection was open: it sends nothing more, not even a close.
    pub(crate) fn silenced(&self, id: ConnId, end: usize) -> bool {
        let st = self.state.borrow();
        st.any_silent && st.conns.get(&id).is_some_and(|c| c.silent[end])
    }

    pub(crate) fn conn_broken(&self, id: ConnId) -> Option<String> {
        let st = self.state.borrow();
        if !st.any_broken {
            return None;
        }
        st.conns.get(&id).and_then(|c| c.broken().map(str::to_owned))
    }

    /// The replica at the other end of a connection whose peer address is `addr`.
    pub(crate) fn peer_at(&self, addr: SocketAddr) -> Option<Replica> {
        let st = self.state.borrow();
        st.listeners.get(&addr).or_else(|| st.peer_names.get(&addr)).copied()
    }

    /// Says that `addr` stands for `replica` (see `State::peer_names`).
    pub(crate) fn name_peer(&self, addr: SocketAddr, replica: Replica) {
        self.state.borrow_mut().peer_names.insert(addr, replica);
    }

    pub fn status(&self, r: Replica) -> Status {
        self.state.borrow().replicas.get(&r).map_or(Status::Running, |s| s.status)
    }

    /// How many times `r` has restarted: its current (or, while down, last)
    /// incarnation.
    pub fn incarnation(&self, r: Replica) -> u32 {
        self.state.borrow().replicas.get(&r).map_or(0, |s| s.incarnation)
    }

    pub fn stalled(&self, r: Replica) -> bool {
        let st = self.state.borrow();
        st.stalled > 0 && st.replicas.get(&r).is_some_and(|s| s.stalled)
    }

    /// Whether traffic from `from` to `to` is held now.
    pub fn held(&self, from: Replica, to: Replica) -> Option<u32> {
        self.state.borrow().holds.iter().find(|h| held_by(h, from, to)).map(|h| h.fault)
    }

    pub(crate) fn note_effect(&self, fault: u32) {
        *self.state.borrow_mut().effects.entry(fault).or_default() += 1;
    }

    pub(crate) fn on_write(&self, id: ConnId, end: usize, bytes: u64) {
        let mut guard = self.state.borrow_mut();
        let State { conns, flowing, .. } = &mut *guard;
        if let Some(c) = conns.get_mut(&id) {
            let was_idle = c.in_flight == [0, 0];
            c.in_flight[end] += bytes;
            if was_idle
                && bytes > 0
                && let Some(flowing) = flowing.as_mut()
            {
                flowing.insert(id);
            }
        }
    }

    pub(crate) fn on_release(&self, id: ConnId, from_end: usize, bytes: u64) {
        let mut guard = self.state.borrow_mut();
        let State { conns, flowing, .. } = &mut *guard;
        if let Some(c) = conns.get_mut(&id) {
            c.in_flight[from_end] = c.in_flight[from_end].saturating_sub(bytes);
            if c.in_flight == [0, 0]
                && let Some(flowing) = flowing.as_mut()
            {
                flowing.remove(&id);
                // What the next sweep would have done: nothing in flight, nothing
                // blocked, so no blocked spell goes on.
                if c.broken().is_none() {
                    c.trouble = None;
                }
            }
        }
    }

    /// The delay a chunk sent now from `from` to `to` suffers: the link's latency, plus
    /// one retransmission timeout (doubling) for each loss drawn.
    pub fn delay(&self, from: Replica, to: Replica) -> Duration {
        let st = self.state.borrow();
        // A change of bandwidth alone says nothing about latency or loss.
        let change = st.links.iter().rev().find(|l| {
            (l.latency.is_some() || l.loss.is_some()) && between(&l.sides, from, to, false)
        });
        let latency = change.and_then(|l| l.latency).unwrap_or(st.base_latency);
        let loss = change.and_then(|l| l.loss).unwrap_or(st.base_loss);
        let fault = change.and_then(|l| l.fault);
        drop(st);
        if let Some(fault) = fault {
            self.note_effect(fault);
        }
        let mut rng = self.rng.borrow_mut();
        let mut delay = Duration::from_nanos(latency.sample(&mut *rng).max(0.0) as u64);
        let shared = self.shared.borrow();
        if !shared.extra.is_zero() && shared.same_host(from, to) {
            delay += shared.extra;
        }
        let mut rto = RTO_MIN;
        while loss > 0.0 && rng.random::<f64>() < loss && rto < Duration::from_secs(120) {
            delay += rto;
            rto *= 2;
        }
        delay
    }

    /// When a chunk of `bytes` handed at `now` to the link from `from` to `to` has left
    /// it whole: at once on an unlimited link; on a limited one, after the bytes ahead
    /// of it and its own at the limit, so the bytes a direction has sent never exceed
    /// the limit times the time elapsed. Latency counts from then. `now` is the
    /// backend's clock (simulated time, or the real run's time since its start); the
    /// answer is exact to the nanosecond, rounded up, and draws nothing random.
    /// Nothing changes until the caller [`commit`](Self::commit)s the pace, once the
    /// chunk is surely sent (a write the stream refuses must not take bandwidth).
    pub(crate) fn pace(&self, from: Replica, to: Replica, now: Duration, bytes: u64) -> Pace {
        let st = self.state.borrow();
        let change = st
            .links
            .iter()
            .rev()
            .find(|l| l.bandwidth.is_some() && between(&l.sides, from, to, false));
        let limit = change.and_then(|l| l.bandwidth).unwrap_or(st.base_bandwidth);
        if !limit.is_finite() {
            return Pace { link: None, leaves_at: now, fault: None };
        }
        let free_at = st.free_at.get(&(from, to)).copied().unwrap_or_default();
        let takes = Duration::from_nanos((bytes as f64 * 1e9 / limit).ceil() as u64);
        let leaves_at = free_at.max(now) + takes;
        Pace { link: Some((from, to)), leaves_at, fault: change.and_then(|l| l.fault) }
    }

    /// The chunk paced by `pace` was sent: the bytes after it wait for it.
    pub(crate) fn commit(&self, pace: Pace) {
        let Some(link) = pace.link else { return };
        self.state.borrow_mut().free_at.insert(link, pace.leaves_at);
        if let Some(fault) = pace.fault {
            self.note_effect(fault);
        }
    }

    /// Remembers the task waiting on turmoil at end `end` of `id`, for a reset.
    pub(crate) fn wait_on_conn(&self, id: ConnId, end: usize, waker: &Waker) {
        if let Some(c) = self.state.borrow_mut().conns.get_mut(&id) {
            match &mut c.waiting[end] {
                Some(w) if w.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Resets every connection matching `pick`, at both ends.
    fn reset_where(&self, reason: &str, pick: impl Fn(ConnId, &Conn) -> bool) -> u32 {
        let mut n = 0;
        let mut waiting = Vec::new();
        let mut st = self.state.borrow_mut();
        st.any_broken = true;
        for (id, c) in st.conns.iter_mut() {
            if c.broken().is_none() && pick(*id, c) {
                c.break_with(reason);
                waiting.extend(c.waiting.iter_mut().filter_map(Option::take));
                n += 1;
            }
        }
        drop(st);
        waiting.into_iter().for_each(Waker::wake);
        self.wake_all();
        n
    }

    /// Applies the start of a fault; returns how many things it touched.
    pub fn begin(
        &self,
        index: u32,
        f: &FaultPlan,
        replicas_of: &dyn Fn(&[Selector]) -> Vec<Replica>,
    ) -> u32 {
        let touched = match f.kind {
            FaultKind::Partition | FaultKind::Clog => {
                let sides = f.between.clone().unwrap_or_default();
                let hold = Hold { fault: index, sides, oneway: f.oneway };
                let count = self.count_conns(|c| held_by(&hold, c.ends[0], c.ends[1]));
                self.state.borrow_mut().holds.push(hold);
                count
            }
            FaultKind::Latency | FaultKind::Loss | FaultKind::Bandwidth => {
                let sides = f.between.clone().unwrap_or_default();
                let count = self.count_conns(|c| between(&sides, c.ends[0], c.ends[1], false));
                let change = LinkChange {
                    fault: Some(index),
                    sides,
                    latency: f.latency,
                    loss: f.rate,
                    bandwidth: f.bandwidth,
                };
                self.state.borrow_mut().links.push(change);
                count
            }
            FaultKind::Kill => self.each(&replicas_of(&f.nodes), |w, r| w.kill(r)),
            FaultKind::Crash => self.each(&replicas_of(&f.nodes), |w, r| w.crash(r)),
            FaultKind::Restart => self.each(&replicas_of(&f.nodes), |w, r| w.restart(r)),
            FaultKind::Stall => self.each(&replicas_of(&f.nodes), |w, r| w.set_stall(r, true)),
        };
        self.wake_all();
        touched
    }

    /// Applies the end of a fault; returns how many things it affected in all.
    pub fn end(
        &self,
        index: u32,
        f: &FaultPlan,
        replicas_of: &dyn Fn(&[Selector]) -> Vec<Replica>,
    ) -> u32 {
        match f.kind {
            FaultKind::Partition | FaultKind::Clog => {
                self.state.borrow_mut().holds.retain(|h| h.fault != index)
            }
            FaultKind::Latency | FaultKind::Loss | FaultKind::Bandwidth => {
                self.state.borrow_mut().links.retain(|l| l.fault != Some(index));
            }
            FaultKind::Kill | FaultKind::Crash => {
                self.each(&replicas_of(&f.nodes), |w, r| w.restart(r));
            }
            FaultKind::Restart => {}
            FaultKind::Stall => {
                self.each(&replicas_of(&f.nodes), |w, r| w.set_stall(r, false));
            }
        }
        self.wake_all();
        self.state.borrow().effects.get(&index).copied().unwrap_or(0)
    }

    fn each(&self, rs: &[Replica], f: impl Fn(&Self, Replica) -> bool) -> u32 {
        rs.iter().map(|r| u32::from(f(self, *r))).sum()
    }

    fn count_conns(&self, pick: impl Fn(&Conn) -> bool) -> u32 {
        self.state.borrow().conns.values().filter(|c| c.broken().is_none() && pick(c)).count()
            as u32
    }

    fn set_status(&self, r: Replica, status: Status) -> bool {
        let mut st = self.state.borrow_mut();
        let Some(rs) = st.replicas.get_mut(&r) else { return false };
        if rs.status == status {
            return false;
        }
        let was_crashed = rs.status == Status::Crashed;
        rs.status = status;
        if status == Status::Running {
            rs.incarnation += 1;
        }
        rs.notify.notify_one();
        let now_crashed = status == Status::Crashed;
        if was_crashed != now_crashed {
            st.crashed = if now_crashed { st.crashed + 1 } else { st.crashed - 1 };
        }
        true
    }

    fn kill(&self, r: Replica) -> bool {
        if !self.set_status(r, Status::Killed) {
            return false;
        }
        self.reset_where("connection reset: the peer process was killed", |_, c| {
            c.ends.contains(&r)
        });
        true
    }

    /// The machine goes silent: every connection it has an end of stops sending from
    /// that end at once, whatever its process was doing (a lingering socket's flush,
    /// a close on drop); its peers' data to it is held, as by a partition, until
    /// `tcp_timeout` resets them or the machine restarts.
    fn crash(&self, r: Replica) -> bool {
        if !self.set_status(r, Status::Crashed) {
            return false;
        }
        let mut st = self.state.borrow_mut();
        st.any_silent = true;
        for c in st.conns.values_mut() {
            for end in 0..2 {
                c.silent[end] |= c.ends[end] == r;
            }
        }
        true
    }

    fn restart(&self, r: Replica) -> bool {
        let was = self.status(r);
        if !self.set_status(r, Status::Running) {
            return false;
        }
        if was == Status::Crashed {
            // The machine is back with no memory of its connections: the peers' next
            // segment is answered with a reset. (patchbay resets them now rather than
            // at the peer's next write: a small, documented simplification.)
            // Its zombie ends stay, silent, until the run ends (`trunk.rs`).
            self.reset_where("connection reset: the peer machine rebooted", |_, c| {
                c.ends.contains(&r)
            });
        }
        true
    }

    fn set_stall(&self, r: Replica, stalled: bool) -> bool {
        let mut st = self.state.borrow_mut();
        let Some(rs) = st.replicas.get_mut(&r) else { return false };
        let changed = rs.stalled != stalled;
        rs.stalled = stalled;
        if changed {
            if stalled {
                st.stalled += 1;
            } else {
                st.stalled -= 1;
            }
        }
        changed
    }

    /// Resets connections whose data has been blocked longer than `tcp_timeout`.
    /// Called by the run loop between steps while any fault is active: one pass over
    /// the connections with data in flight (`flowing`), in id order, with no copy of
    /// their ids.
    pub fn sweep(&self, now: Duration) {
        let mut expired = BTreeSet::new();
        {
            let mut guard = self.state.borrow_mut();
            let State { conns, replicas, holds, tcp_timeout, flowing, .. } = &mut *guard;
            // The first sweep of a spell settles the connections with nothing in
            // flight, as every sweep did, and keeps the others; later ones need not
            // look at an idle one: it cannot be blocked, and was settled when its last
            // bytes were released (`on_release`).
            let flowing = flowing.get_or_insert_with(|| {
                let mut busy = BTreeSet::new();
                for (id, c) in conns.iter_mut().filter(|(_, c)| c.broken().is_none()) {
                    if c.in_flight == [0, 0] {
                        c.trouble = None;
                    } else {
                        busy.insert(*id);
                    }
                }
                busy
            });
            for &id in flowing.iter() {
                let Some(c) = conns.get_mut(&id).filter(|c| c.broken().is_none()) else {
                    continue;
                };
                let blocked = [0, 1].map(|e| c.in_flight[e] > 0 && blocked(replicas, holds, c, e));
                if blocked == [false, false] {
                    // Nothing blocked and not broken: nothing rare left to keep.
                    c.trouble = None;
                    continue;
                }
                let trouble = c.trouble.get_or_insert_with(Box::default);
                for (since, blocked) in trouble.blocked_since.iter_mut().zip(blocked) {
                    if !blocked {
                        *since = None;
                        continue;
                    }
                    let since = *since.get_or_insert(now);
                    if now.saturating_sub(since) >= *tcp_timeout {
                        expired.insert(id);
                    }
                }
            }
        }
        if !expired.is_empty() {
            self.reset_where(
                "connection reset: tcp_timeout expired with data unacknowledged",
                |id, _| expired.contains(&id),
            );
        }
    }

    /// Ends a spell of sweeps: with no fault in force the run loop stops sweeping, so
    /// the connections with data in flight need no keeping until the next spell.
    pub(crate) fn stop_sweeping(&self) {
        self.state.borrow_mut().flowing = None;
    }

    /// Whether any fault is active, so the run loop knows whether to sweep.
    pub(crate) fn any_active(&self) -> bool {
        let st = self.state.borrow();
        !st.holds.is_empty() || st.crashed > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::testing::{client, fault, ms, plan};

    /// A world over the test plan, whose network carries `bandwidth` bytes per second.
    fn world(bandwidth: f64) -> Rc<FaultWorld> {
        let mut plan = plan();
        plan.network.bandwidth = bandwidth;
        FaultWorld::new(&plan, 1)
    }

    #[test]
    fn a_limited_direction_sends_its_bytes_one_after_another_at_the_limit() {
        let w = world(1000.0);
        let (a, b) = (client(0), client(1));
        let first = w.pace(a, b, ms(0), 500);
        assert_eq!(first.leaves_at, ms(500));
        w.commit(first);
        // The next chunk waits for the first, even when handed over at once.
        let second = w.pace(a, b, ms(100), 250);
        assert_eq!(second.leaves_at, ms(750));
        w.commit(second);
        // The other direction has its own pace; an idle link starts afresh.
        assert_eq!(w.pace(b, a, ms(100), 250).leaves_at, ms(350));
        assert_eq!(w.pace(a, b, ms(2000), 1).leaves_at, ms(2001));
    }

    #[test]
    fn a_pace_not_committed_takes_no_bandwidth() {
        let w = world(1000.0);
        let (a, b) = (client(0), client(1));
        let refused = w.pace(a, b, ms(0), 500);
        assert_eq!(w.pace(a, b, ms(0), 500).leaves_at, refused.leaves_at);
    }

    #[test]
    fn a_bandwidth_fault_limits_its_link_until_it_ends_and_unlimited_lifts_it() {
        let w = world(f64::INFINITY);
        let (a, b) = (client(0), client(1));
        assert_eq!(w.pace(a, b, ms(5), 1 << 20).leaves_at, ms(5), "unlimited by default");
        let mut limit = fault(FaultKind::Bandwidth, ms(0));
        limit.between = Some([
            vec![Selector { group: a.group, replica: Some(0) }],
            vec![Selector { group: b.group, replica: Some(1) }],
        ]);
        limit.bandwidth = Some(2000.0);
        w.begin(0, &limit, &|_| Vec::new());
        let paced = w.pace(b, a, ms(10), 100);
        assert_eq!(paced.leaves_at, ms(60), "both ways");
        w.commit(paced);
        w.end(0, &limit, &|_| Vec::new());
        assert_eq!(w.pace(b, a, ms(20), 100).leaves_at, ms(20), "healed");
        // A limit of `unlimited` over a limited network lifts it for a while.
        let w = world(1000.0);
        limit.bandwidth = Some(f64::INFINITY);
        w.begin(0, &limit, &|_| Vec::new());
        assert_eq!(w.pace(a, b, ms(0), 1000).leaves_at, ms(0));
    }

    #[test]
    fn a_bandwidth_change_leaves_the_link_latency_as_it_was() {
        let mut plan = plan();
        let (a, b) = (client(0), client(1));
        let sel = |r: Replica| Selector { group: r.group, replica: Some(r.index) };
        plan.network.links.push(crate::plan::LinkPlan {
            between: [sel(a), sel(b)],
            latency: Some(Distribution::Fixed(7e6)),
            loss: None,
            bandwidth: None,
        });
        let w = FaultWorld::new(&plan, 1);
        let mut limit = fault(FaultKind::Bandwidth, ms(0));
        limit.between = Some([vec![sel(a)], vec![sel(b)]]);
        limit.bandwidth = Some(1000.0);
        w.begin(0, &limit, &|_| Vec::new());
        assert_eq!(w.delay(a, b), ms(7));
    }

    #[test]
    fn any_active_follows_a_crash_until_its_restart() {
        let w = FaultWorld::new(&plan(), 1);
        w.add_replica(client(0));
        w.add_replica(client(1));
        assert!(!w.any_active());
        let crash = fault(FaultKind::Crash, ms(0));
        assert_eq!(w.begin(0, &crash, &|_| vec![client(0), client(1)]), 2);
        assert!(w.any_active());
        // A second crash of a crashed replica counts it once.
        assert_eq!(w.begin(1, &crash, &|_| vec![client(0)]), 0);
        assert_eq!(w.end(1, &crash, &|_| vec![client(0)]), 0);
        assert!(w.any_active(), "client.1 is still down");
        w.end(0, &crash, &|_| vec![client(1)]);
        assert!(!w.any_active());
    }

    /// The shim skips its per-connection lookups until a reset or a crash has
    /// happened; the first one must still show on the connections it hit.
    #[test]
    fn a_reset_and_a_crash_show_on_their_connections_and_not_on_others() {
        let w = FaultWorld::new(&plan(), 1);
        for i in 0..3 {
            w.add_replica(client(i));
        }
        let (a, b) = (w.new_conn(client(0), client(1)), w.new_conn(client(2), client(1)));
        assert_eq!((w.conn_broken(a), w.silenced(a, 0)), (None, false));
        assert_eq!(w.begin(0, &fault(FaultKind::Crash, ms(0)), &|_| vec![client(0)]), 1);
        assert_eq!((w.silenced(a, 0), w.silenced(a, 1), w.silenced(b, 0)), (true, false, false));
        assert_eq!(w.begin(1, &fault(FaultKind::Kill, ms(0)), &|_| vec![client(2)]), 1);
        let reason = w.conn_broken(b).expect("the killed replica's connection is reset");
        assert!(reason.contains("killed"), "{reason}");
        assert_eq!(w.conn_broken(a), None, "client.0 only crashed");
    }

    /// The shim skips its stall lookup while no replica is stalled: a replica two
    /// stalls name counts once, and shows stalled from its first stall to an end.
    #[test]
    fn a_stall_shows_on_its_replica_until_it_ends_and_never_on_another() {
        let w = FaultWorld::new(&plan(), 1);
        w.add_replica(client(0));
        w.add_replica(client(1));
        let stall = fault(FaultKind::Stall, ms(0));
        assert!(!w.stalled(client(0)));
        assert_eq!(w.begin(0, &stall, &|_| vec![client(0)]), 1);
        assert_eq!(w.begin(1, &stall, &|_| vec![client(0)]), 0, "already stalled");
        assert_eq!((w.stalled(client(0)), w.stalled(client(1))), (true, false));
        w.end(0, &stall, &|_| vec![client(0)]);
        assert_eq!((w.stalled(client(0)), w.stalled(client(1))), (false, false));
        w.end(1, &stall, &|_| vec![client(0)]);
        assert!(!w.stalled(client(0)));
        assert_eq!(w.begin(2, &stall, &|_| vec![client(1)]), 1);
        assert_eq!((w.stalled(client(0)), w.stalled(client(1))), (false, true));
    }

    /// A door's connection (from [`OUTSIDE`]) is held by a partition naming its node
    /// on either side, one way only as a oneway partition holds, and by no other.
    #[test]
    fn a_partition_naming_a_node_holds_its_outside_connections_and_no_other_does() {
        let w = FaultWorld::new(&plan(), 1);
        let one = |i| vec![Selector { group: crate::plan::GroupId(0), replica: Some(i) }];
        let partition = |oneway| FaultPlan {
            between: Some([one(0), one(1)]),
            oneway,
            ..fault(FaultKind::Partition, ms(0))
        };
        let outside = |r| [w.held(OUTSIDE, r), w.held(r, OUTSIDE)];
        assert_eq!(outside(client(0)), [None, None]);
        w.begin(0, &partition(false), &|_| Vec::new());
        assert_eq!(outside(client(0)), [Some(0), Some(0)]);
        assert_eq!(outside(client(1)), [Some(0), Some(0)]);
        assert_eq!(outside(client(2)), [None, None], "client.2 is on no side");
        w.end(0, &partition(false), &|_| Vec::new());
        assert_eq!(outside(client(0)), [None, None], "healed");
        // From client.0 to client.1 only: the outside takes the side opposite each.
        w.begin(1, &partition(true), &|_| Vec::new());
        assert_eq!(outside(client(0)), [None, Some(1)], "client.0 cannot send out");
        assert_eq!(outside(client(1)), [Some(1), None], "nothing reaches client.1");
    }

    /// Between a fault's first sweep and its end, a sweep visits only connections with
    /// data in flight: one that starts sending in the middle of the spell, or is made
    /// then, is still reset once its data has been held for `tcp_timeout`, and not
    /// before; one that drained and was written again counts afresh.
    #[test]
    fn a_connection_blocked_in_the_middle_of_a_spell_times_out_from_then() {
        let mut plan = plan();
        plan.tcp_timeout = ms(50);
        let w = FaultWorld::new(&plan, 1);
        for i in 0..4 {
            w.add_replica(client(i));
        }
        let one = |i| vec![Selector { group: crate::plan::GroupId(0), replica: Some(i) }];
        let partition =
            FaultPlan { between: Some([one(0), one(1)]), ..fault(FaultKind::Partition, ms(0)) };
        let (held, free) = (w.new_conn(client(0), client(1)), w.new_conn(client(2), client(1)));
        w.begin(0, &partition, &|_| Vec::new());
        let sweep_to = |from: u64, to: u64| (from..=to).for_each(|t| w.sweep(ms(t)));
        sweep_to(0, 9);
        // Made and written in the middle of the spell.
        let late = w.new_conn(client(1), client(0));
        w.on_write(held, 0, 10);
        w.on_write(free, 0, 10);
        sweep_to(10, 19);
        w.on_write(late, 1, 10);
        // `free` is not held: its bytes arrive, and it is written again later.
        w.on_release(free, 0, 10);
        sweep_to(20, 59);
        assert_eq!(w.conn_broken(held), None, "held for 49 ms of 50");
        w.sweep(ms(60));
        assert!(w.conn_broken(held).is_some(), "held from 10 ms, reset at 60 ms");
        assert_eq!(w.conn_broken(free), None, "never held");
        sweep_to(61, 69);
        assert_eq!(w.conn_broken(late), None, "held from 20 ms: 49 ms of 50");
        w.sweep(ms(70));
        assert!(w.conn_broken(late).is_some(), "held from 20 ms, reset at 70 ms");
    }

    #[test]
    fn the_shim_adds_the_rest_of_the_latency_only_between_replicas_of_one_host() {
        let w = world(f64::INFINITY);
        let shared = SharedHosts { extra: ms(4), of_group: BTreeMap::from([(0, vec![0, 1])]) };
        w.share_hosts(shared);
        // client.0 and client.2 are on host 0, client.1 on host 1.
        assert_eq!(w.delay(client(0), client(2)), ms(4));
        assert_eq!(w.delay(client(0), client(1)), ms(0));
    }
}
