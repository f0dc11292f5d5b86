//! The simulator: one seed of one scenario over turmoil. It packs the groups' hosts
//! onto as few turmoil hosts as turmoil's limits allow (`HostPacking`), registers
//! them, wires the simulated addresses, hands the replicas to the shared
//! wiring on its [`Platform`] (sockets over the fault shim, supervisors started on
//! the host each replica is packed onto) and steps turmoil through the run's phases.
//! [`SimNetwork`] lends the same shim to hand-built harnesses.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use crate::design::Completion;
use crate::net::EventSink;
use crate::net::timer::Watch;
use crate::plan::placement::MAX_CONNECTIONS_PER_HOST;
use crate::plan::{Replica, ScenarioPlan};
use crate::registry::Registry;
use crate::resolve::next_tick;
use crate::socket::SocketOptions;
use crate::trace::{Recorder, SocketIndex, Trace};

use super::RunError;
use super::faults::{FaultWorld, SharedHosts, turmoil_latency};
use super::node::{RunCtx, sink_naming_peers};
use super::phases::Phases;
use super::platform::{Platform, ReplicaTask};
use super::shim::ShimTransport;
use super::trunk::{Net, TRUNK_CAPACITY};
use super::wiring::{group_runtimes, links, start_replicas};

/// A fixed epoch: turmoil would otherwise read the wall clock.
const EPOCH_SECS: u64 = 1_700_000_000;
/// Listener ports start here on every host; turmoil's ephemeral ports start above.
const FIRST_PORT: u16 = 1;
const EPHEMERAL_FIRST: u16 = 1024;

/// A turmoil host, numbered in registration order.
type HostKey = u32;

fn host_name(host: HostKey) -> String {
    format!("h{host}")
}

/// Which turmoil host each replica runs on. Host `h` of every group shares one
/// turmoil host with the other groups' as long as the ports and connections of all
/// of them fit on it. turmoil steps every host every tick whether anything happens or
/// not and links every pair of them (docs/turmoil.md), so an idle run costs in
/// proportion to its hosts; faults act per replica in the shim, so sharing a host
/// changes nothing a fault hits. Connections take no turmoil socket of their own
/// (`trunk.rs`), so how many a host holds costs nothing per connect: a group host is
/// never split for it.
#[derive(Clone, Debug)]
struct HostPacking {
    /// Per group (by id), the turmoil host of each of its hosts: replica `i` runs on
    /// host `i % len`.
    of_group: BTreeMap<u32, Vec<HostKey>>,
    count: u32,
}

/// What one host of a group needs of the turmoil host it lands on.
#[derive(Clone, Copy, Debug, Default)]
struct Load {
    /// Outgoing connections: each takes a port of the host's ephemeral range.
    connections: u64,
    /// Bound sockets: listener ports below the ephemeral range.
    ports: u64,
}

impl Load {
    /// Whether `self` and `other` fit on one turmoil host together.
    fn fits_with(&self, other: &Load) -> bool {
        let ports_max = u64::from(EPHEMERAL_FIRST - FIRST_PORT);
        self.connections + other.connections <= MAX_CONNECTIONS_PER_HOST
            && self.ports + other.ports <= ports_max
    }
}

/// The hosts group `g` runs on, and what each one needs.
fn parts_of(plan: &ScenarioPlan, g: &crate::plan::Group) -> (u64, Load) {
    let hosts = u64::from(g.hosts.max(1));
    let conns = &plan.topology.connections;
    let outgoing: u64 = conns.iter().filter(|c| c.from_group == g.id).map(|c| c.pipes).sum();
    let binds = g.sockets.iter().filter(|s| s.bind.is_some()).count() as u64;
    let need = Load {
        connections: outgoing.div_ceil(hosts),
        ports: u64::from(g.count).div_ceil(hosts) * binds,
    };
    (hosts, need)
}

impl HostPacking {
    fn new(plan: &ScenarioPlan) -> HostPacking {
        let (mut of_group, mut loads) = (BTreeMap::new(), Vec::<Load>::new());
        for g in &plan.topology.groups {
            let (parts, need) = parts_of(plan, g);
            let mut mine: Vec<HostKey> = Vec::new();
            for _ in 0..parts {
                // A group's parts stay apart: the resolver spread them for the limits.
                let fits =
                    |t: usize, l: &Load| !mine.contains(&(t as HostKey)) && l.fits_with(&need);
                let t = match loads.iter().enumerate().position(|(t, l)| fits(t, l)) {
                    Some(t) => t,
                    None => {
                        loads.push(Load::default());
                        loads.len() - 1
                    }
                };
                loads[t].connections += need.connections;
                loads[t].ports += need.ports;
                mine.push(t as HostKey);
            }
            of_group.insert(g.id.0, mine);
        }
        HostPacking { of_group, count: loads.len() as u32 }
    }

    fn host(&self, replica: Replica) -> HostKey {
        let hosts = &self.of_group[&replica.group.0];
        hosts[replica.index as usize % hosts.len()]
    }
}

/// Addresses of every bound socket, and every connecting socket's targets.
fn wire(
    plan: &ScenarioPlan,
    packing: &HostPacking,
    ips: &BTreeMap<HostKey, IpAddr>,
) -> Result<Addrs, RunError> {
    let mut binds = BTreeMap::new();
    let mut next_port: BTreeMap<HostKey, u16> = BTreeMap::new();
    for g in &plan.topology.groups {
        for index in 0..g.count {
            let host = packing.host(Replica { group: g.id, index });
            for (si, s) in g.sockets.iter().enumerate() {
                if s.bind.is_none() {
                    continue;
                }
                let port = next_port.entry(host).or_insert(FIRST_PORT);
                if *port >= EPHEMERAL_FIRST {
                    return Err(RunError::NotRunnable(format!(
                        "more than {} bound sockets on one simulated host of `{}`: give it more `hosts`",
                        EPHEMERAL_FIRST - 1,
                        g.name
                    )));
                }
                binds.insert(
                    (Replica { group: g.id, index }, si),
                    SocketAddr::new(ips[&host], *port),
                );
                *port += 1;
            }
        }
    }
    let mut connects: BTreeMap<(Replica, usize), Vec<SocketAddr>> = BTreeMap::new();
    for l in links(plan) {
        connects.entry((l.from, l.from_socket)).or_default().push(binds[&(l.to, l.to_socket)]);
    }
    Ok(Addrs { binds, connects })
}

/// Where each socket of the run binds and connects in the simulated network.
#[derive(Debug)]
struct Addrs {
    binds: BTreeMap<(Replica, usize), SocketAddr>,
    connects: BTreeMap<(Replica, usize), Vec<SocketAddr>>,
}

/// The simulator as a platform: every socket over the fault shim at its simulated
/// address, every supervisor queued for the turmoil host its replica is packed onto.
struct SimPlatform {
    world: Rc<FaultWorld>,
    /// The run's connections, carried between turmoil hosts (`trunk.rs`).
    net: Rc<Net>,
    recorder: Recorder,
    addrs: Addrs,
    /// The turmoil host of each replica.
    packing: HostPacking,
    /// Each turmoil host's address.
    ips: BTreeMap<HostKey, IpAddr>,
    /// Supervisors waiting for their host's first step, which starts them in order.
    queues: Rc<RefCell<BTreeMap<HostKey, Vec<ReplicaTask>>>>,
}

impl Platform for SimPlatform {
    type Transport = ShimTransport;

    fn transport(&self, replica: Replica) -> ShimTransport {
        let host = self.ips[&self.packing.host(replica)];
        ShimTransport { me: replica, world: self.world.clone(), net: self.net.clone(), host }
    }

    /// turmoil binds the unspecified address; peers reach it at the host's address.
    fn bind_addr(&self, replica: Replica, socket: usize) -> Option<SocketAddr> {
        let planned = self.addrs.binds.get(&(replica, socket))?;
        Some(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), planned.port()))
    }

    fn connects(&self, replica: Replica, socket: usize) -> Vec<SocketAddr> {
        self.addrs.connects.get(&(replica, socket)).cloned().unwrap_or_default()
    }

    fn event_sink(&self, replica: Replica, socket: SocketIndex, opts: &SocketOptions) -> EventSink {
        sink_naming_peers(self.recorder.clone(), replica, socket, opts, Some(self.world.clone()))
    }

    fn spawn(&self, replica: Replica, task: ReplicaTask) {
        let host = self.packing.host(replica);
        self.queues.borrow_mut().entry(host).or_default().push(task);
    }
}

/// How a simulated run was stepped: turmoil steps taken, and when it was proved idle
/// and stopped early (its trace is the full run's all the same).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Stepping {
    pub steps: u64,
    pub idle_from: Option<Duration>,
}

/// One seed of `plan` under turmoil: its trace, or why the run could not say what the
/// scenario asked, and how it was stepped either way.
pub(super) fn simulate(
    plan: &ScenarioPlan,
    registry: &Registry,
    seed: u64,
) -> (Result<Trace, RunError>, Stepping) {
    // Installed before anything runs, so every timer of the run is in its account;
    // not at all when the run may not end early, which then costs what it did.
    let timers = IdleProof::applies(plan, registry).then(Watch::install);
    let world = FaultWorld::new(plan, seed);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(plan.network.tick)
        .min_message_latency(turmoil_latency(plan).unwrap_or(Duration::ZERO))
        .max_message_latency(turmoil_latency(plan).unwrap_or(Duration::ZERO))
        // The resolver keeps the run within a week (`SIMULATED_RUN_MAX`); a plan built
        // by hand gets no further than `Duration::MAX`.
        .simulation_duration(
            plan.duration.saturating_add(plan.liveness).saturating_add(Duration::from_secs(1)),
        )
        .ephemeral_ports(EPHEMERAL_FIRST..=65535)
        .tcp_capacity(TRUNK_CAPACITY)
        .build();
    let groups = group_runtimes(plan, registry, &world);
    let packing = HostPacking::new(plan);
    world.share_hosts(shared_hosts(plan, &packing));
    // Hosts are registered first so their addresses are known; each starts the
    // supervisors queued for it, all queued before the first step.
    let queues: Rc<RefCell<BTreeMap<HostKey, Vec<ReplicaTask>>>> = Rc::default();
    let mut ips = BTreeMap::new();
    for key in 0..packing.count {
        let name = host_name(key);
        let queues = queues.clone();
        sim.host(name.as_str(), move || {
            let queues = queues.clone();
            async move {
                let epoch = tokio::time::Instant::now();
                let tasks = queues.borrow_mut().remove(&key).unwrap_or_default();
                for task in tasks {
                    tokio::task::spawn_local(task(epoch));
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        ips.insert(key, sim.lookup(name.as_str()));
    }
    let addrs = match wire(plan, &packing, &ips) {
        Ok(addrs) => addrs,
        Err(e) => return (Err(e), Stepping::default()),
    };
    for ((replica, _), addr) in &addrs.binds {
        world.state.borrow_mut().listeners.insert(*addr, *replica);
    }
    let (recorder, completion) = (Recorder::default(), Completion::default());
    let platform = SimPlatform {
        world: world.clone(),
        net: Rc::default(),
        recorder: recorder.clone(),
        addrs,
        packing,
        ips,
        queues,
    };
    let rt = start_replicas(platform, &world, &recorder, &completion, seed, &groups);
    let idle = timers.as_ref().map(|t| IdleProof::new(plan, t.watch(), &world, &recorder));
    let (trace, stepping) = step_through(plan, registry, &mut sim, &rt, idle);
    // A host that never ran would leave its supervisors holding the run context.
    rt.platform.queues.borrow_mut().clear();
    // A replica that ran out of message ids stopped its design: the run cannot say
    // what the scenario asked.
    if let Some(why) = rt.out_of_ids.take() {
        return (Err(RunError::NotRunnable(why)), stepping);
    }
    (trace, stepping)
}

/// What the shim must add between two replicas on one turmoil host: turmoil applies
/// its fixed latency only between hosts and delivers within a host one tick after a
/// write (docs/turmoil.md), so the shim adds the rest of the latency there.
fn shared_hosts(plan: &ScenarioPlan, packing: &HostPacking) -> SharedHosts {
    let latency = turmoil_latency(plan).unwrap_or(Duration::ZERO);
    SharedHosts {
        extra: latency.saturating_sub(plan.network.tick),
        of_group: packing.of_group.clone(),
    }
}

/// Steps turmoil through the run's phases, and stops early once `idle` proves that
/// nothing more can happen: the trace is then finished as the full run would have
/// finished it, at the step the full run would have ended on. A replica that ran out
/// of message ids (`RunCtx::out_of_ids`) ends the stepping at once: the run cannot
/// say what the scenario asked, and its caller reports why.
fn step_through(
    plan: &ScenarioPlan,
    registry: &Registry,
    sim: &mut turmoil::Sim<'_>,
    rt: &RunCtx<SimPlatform>,
    mut idle: Option<IdleProof<'_>>,
) -> (Result<Trace, RunError>, Stepping) {
    let mut phases = Phases::new(plan, registry, &rt.world, &rt.recorder, &rt.completion);
    let mut stepping = Stepping::default();
    while rt.out_of_ids.borrow().is_none() && phases.advance(sim.elapsed()) {
        let now = sim.elapsed();
        if idle.as_mut().is_some_and(|idle| idle.proves(now, &phases)) {
            stepping.idle_from = Some(now);
            break;
        }
        if let Err(e) = sim.step() {
            return (Err(RunError::Internal(format!("turmoil: {e}"))), stepping);
        }
        stepping.steps += 1;
    }
    let ended_at = match stepping.idle_from {
        Some(_) => next_tick(phases.end(), plan.network.tick),
        None => sim.elapsed(),
    };
    (Ok(phases.finish(ended_at)), stepping)
}

/// The proof, checked between steps, that nothing more can happen in a run before its
/// end. At a step boundary `now`, all of:
///
/// 1. No timetable entry is left before the end (`Phases::next_due` is the end), and
///    no fault is in force, so the fault world's sweep has nothing to expire.
/// 2. No timer is armed that could still fire before the step the run would end on
///    (one due two ticks ago has fired, and its task has run): every
///    timer patchbay arms is in the run's account (`net/timer.rs`; clippy refuses
///    tokio's own), and every design of the run declares that it waits only through
///    its context (`Design::timers_through_ctx`).
/// 3. Nothing is in flight: for `settle` (two link latencies and four ticks, a round
///    trip through turmoil's links or its one-tick loopback, as a SYN and its answer
///    take) no call reached the shim, no timer was armed or disarmed and no event was
///    recorded. Whatever was written before that has landed, and a reader waiting for
///    it would have called the shim to take it; what a stalled reader does not take
///    stays where it is, as in the full run. A task woken at a step's last instant
///    runs at the next step, well inside `settle`.
///
/// Partitions, holds, kills and restarts change only at timetable entries, which 1
/// rules out; so from `now` on nothing wakes any task, and the full run would step
/// to its end recording nothing.
struct IdleProof<'a> {
    timers: &'a Watch,
    world: &'a FaultWorld,
    recorder: &'a Recorder,
    tick: Duration,
    settle: Duration,
    /// Timer changes, shim calls and events at the last check, and when they last
    /// moved.
    seen: (u64, u64, usize),
    moved_at: Duration,
}

impl<'a> IdleProof<'a> {
    /// Whether a run of `plan` may end early: the plan allows it and every design in
    /// it arms its timers where the account sees them.
    fn applies(plan: &ScenarioPlan, registry: &Registry) -> bool {
        plan.end_when_idle
            && plan.topology.groups.iter().all(|g| {
                registry.get(&g.design).is_some_and(crate::design::Design::has_timers_through_ctx)
            })
    }

    /// The proof for a run that [`applies`](Self::applies), over its timer account.
    fn new(
        plan: &ScenarioPlan,
        timers: &'a Watch,
        world: &'a FaultWorld,
        recorder: &'a Recorder,
    ) -> IdleProof<'a> {
        let tick = plan.network.tick;
        let latency = turmoil_latency(plan).unwrap_or(Duration::ZERO);
        IdleProof {
            timers,
            world,
            recorder,
            tick,
            // Saturating: a latency written to outlast the run never settles.
            settle: latency.saturating_add(tick.saturating_mul(2)).saturating_mul(2),
            seen: (0, 0, 0),
            moved_at: Duration::ZERO,
        }
    }

    /// Whether nothing more can happen from `now` (a step boundary) to the run's end.
    fn proves(&mut self, now: Duration, phases: &Phases<'_>) -> bool {
        let seen = (self.timers.changes(), self.world.activity(), self.recorder.len());
        if seen != self.seen {
            (self.seen, self.moved_at) = (seen, now);
            return false;
        }
        let end = phases.end();
        // A timer due by `now - 2 ticks` has fired (the tick is whole milliseconds,
        // tokio's timer resolution) and its task has run, in that step or the next,
        // which moved the counts if it did anything; its entry may stay if its owner
        // never polled it again (`Watch::armed_between`).
        let fired_by = now.saturating_sub(self.tick * 2);
        now >= self.moved_at.saturating_add(self.settle).saturating_add(self.tick)
            && phases.next_due() >= end
            && !self.world.any_active()
            && !self.timers.armed_between(fired_by, next_tick(end, self.tick) + self.tick)
    }
}

/// The simulator's own network for a hand-built harness: the fault shim every
/// simulated run's sockets use, over a fault world with no fault in it, so a test
/// that runs sockets over it runs what `sim` runs (turmoil's latency is all there
/// is). Must be used inside a turmoil simulation whose `Builder` was given
/// `.tcp_capacity(SimNetwork::TCP_CAPACITY)`, as every simulated run's is.
///
/// Connections between two hosts share one turmoil stream (`trunk.rs`): where the
/// harness lets turmoil draw each message's latency (`min_message_latency` below
/// `max_message_latency`), a slow message holds back the other connections' messages
/// behind it on that stream. A simulated run's latency is fixed, where this orders
/// nothing new.
#[derive(Clone, Debug)]
pub struct SimNetwork {
    world: Rc<FaultWorld>,
    net: Rc<Net>,
}

impl Default for SimNetwork {
    fn default() -> Self {
        SimNetwork { world: FaultWorld::fault_free(0), net: Rc::default() }
    }
}

impl SimNetwork {
    /// The `tcp_capacity` a harness gives turmoil's `Builder`: a trunk carries every
    /// connection between two hosts and must never run out of turmoil's segment
    /// credit (the shim keeps each connection's own window). At turmoil's default of
    /// 64, a trunk with 64 writes in flight is refused the next, and the connection
    /// that made it is reset.
    pub const TCP_CAPACITY: usize = TRUNK_CAPACITY;

    /// `replica` listens at `addr`: its turmoil host's address and the port it binds.
    /// A connect through the shim names the replica it reaches by this, as a run's
    /// wiring registers every bound socket; a connect to an address nobody listens
    /// at is refused.
    pub fn listens_at(&self, addr: SocketAddr, replica: Replica) {
        self.world.state.borrow_mut().listeners.insert(addr, replica);
    }

    /// The transport `replica`'s sockets are handed, on the turmoil host whose address
    /// is `host` (`Sim::lookup` gives it, also before the host is added). Every socket
    /// of the transport must be used on that host.
    pub fn transport(&self, replica: Replica, host: IpAddr) -> ShimTransport {
        ShimTransport { me: replica, world: self.world.clone(), net: self.net.clone(), host }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{connect, plan_with};
    use crate::socket::SocketType;

    /// Three groups of one host each, as the resolver now places small groups.
    fn small() -> ScenarioPlan {
        let mut plan = plan_with(&[
            ("client", 4, &[SocketType::Req]),
            ("broker", 1, &[SocketType::Router]),
            ("worker", 3, &[SocketType::Req]),
        ]);
        for g in &mut plan.topology.groups {
            g.hosts = 1;
        }
        plan
    }

    #[test]
    fn small_groups_share_one_turmoil_host() {
        let packing = HostPacking::new(&small());
        assert_eq!(packing.count, 1);
        let hosts: Vec<&Vec<HostKey>> = packing.of_group.values().collect();
        assert_eq!(hosts, [&vec![0], &vec![0], &vec![0]]);
    }

    #[test]
    fn a_group_whose_ports_would_overflow_a_shared_host_gets_hosts_of_its_own() {
        let mut plan = small();
        // The client's two hosts bind 600 ports each, the broker's one, the worker's
        // 900: the worker fits beside neither (1,023 listener ports a host).
        (plan.topology.groups[0].count, plan.topology.groups[0].hosts) = (1200, 2);
        plan.topology.groups[2].count = 900;
        for g in &mut plan.topology.groups {
            g.sockets[0].bind = Some(crate::plan::Bind::Auto);
        }
        let packing = HostPacking::new(&plan);
        let hosts: Vec<&Vec<HostKey>> = packing.of_group.values().collect();
        assert_eq!(hosts, [&vec![0, 1], &vec![0], &vec![2]]);
        assert_eq!(packing.count, 3);
        // A group's own hosts are never the same turmoil host.
        assert_eq!(packing.host(Replica { group: plan.topology.groups[0].id, index: 3 }), 1);
    }

    /// Connections take no turmoil socket (`trunk.rs`), so a host's connections cost
    /// nothing per connect and only its ports bound its share: comet's router, its
    /// manager and 40,000 users fit on one turmoil host (they were four, when turmoil
    /// scanned a dialling host's sockets on every connect), and the users' 64,512
    /// ports a host still split 100,000 of them over two.
    #[test]
    fn only_ports_split_a_group_over_turmoil_hosts() {
        let comet = |users: u32, hosts: u32| {
            let mut plan = plan_with(&[
                ("manager", 1, &[SocketType::Rep]),
                ("router", 1, &[SocketType::Router, SocketType::Dealer]),
                ("user", users, &[SocketType::Dealer]),
            ]);
            for g in &mut plan.topology.groups {
                g.hosts = 1;
            }
            plan.topology.groups[2].hosts = hosts;
            connect(&mut plan, (2, 0), (1, 0));
            connect(&mut plan, (1, 1), (0, 0));
            plan.topology.connections[0].pipes = u64::from(users);
            HostPacking::new(&plan)
        };
        let packing = comet(40_000, 1);
        let hosts: Vec<&Vec<HostKey>> = packing.of_group.values().collect();
        assert_eq!(hosts, [&vec![0], &vec![0], &vec![0]]);
        let packing = comet(100_000, 2);
        let hosts: Vec<&Vec<HostKey>> = packing.of_group.values().collect();
        assert_eq!(hosts, [&vec![0], &vec![0], &vec![0, 1]]);
        assert_eq!(HostPacking::new(&small()).count, 1);
    }
}
