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
use crate::plan::placement::MAX_CONNECTIONS_PER_HOST;
use crate::plan::{Replica, ScenarioPlan};
use crate::registry::Registry;
use crate::socket::SocketOptions;
use crate::trace::{Recorder, SocketIndex, Trace};

use super::RunError;
use super::faults::{FaultWorld, SharedHosts, turmoil_latency};
use super::node::sink_naming_peers;
use super::phases::Phases;
use super::platform::{Platform, ReplicaTask};
use super::shim::ShimTransport;
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

/// Which turmoil host each group's host is: host `h` of every group shares one
/// turmoil host with the other groups' as long as the ports and connections of all
/// of them fit on it. turmoil steps every host every tick whether anything happens or
/// not and links every pair of them (docs/turmoil.md), so an idle run costs in
/// proportion to its hosts; faults act per replica in the shim, so sharing a host
/// changes nothing a fault hits.
#[derive(Clone, Debug)]
struct HostPacking {
    /// Per group (by id), the turmoil host of each of its hosts.
    of_group: BTreeMap<u32, Vec<HostKey>>,
    count: u32,
}

/// What one group's host needs of the turmoil host it lands on.
#[derive(Clone, Copy, Debug, Default)]
struct Load {
    /// Outgoing connections: turmoil's ephemeral ports.
    connections: u64,
    /// Bound sockets: listener ports below the ephemeral range.
    ports: u64,
}

impl HostPacking {
    fn new(plan: &ScenarioPlan) -> HostPacking {
        let (mut of_group, mut loads) = (BTreeMap::new(), Vec::<Load>::new());
        let ports_max = u64::from(EPHEMERAL_FIRST - FIRST_PORT);
        for g in &plan.topology.groups {
            let hosts = u64::from(g.hosts.max(1));
            let outgoing: u64 = (plan.topology.connections.iter())
                .filter(|c| c.from_group == g.id)
                .map(|c| c.pipes)
                .sum();
            let binds = g.sockets.iter().filter(|s| s.bind.is_some()).count() as u64;
            let need = Load {
                connections: outgoing.div_ceil(hosts),
                ports: u64::from(g.count).div_ceil(hosts) * binds,
            };
            let mut mine: Vec<HostKey> = Vec::new();
            for _ in 0..hosts {
                // A group's hosts stay apart: the resolver spread them for the limits.
                let fits = |t: usize, l: &Load| {
                    !mine.contains(&(t as HostKey))
                        && l.connections + need.connections <= MAX_CONNECTIONS_PER_HOST
                        && l.ports + need.ports <= ports_max
                };
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
    recorder: Recorder,
    addrs: Addrs,
    /// The turmoil host of each replica.
    packing: HostPacking,
    /// Supervisors waiting for their host's first step, which starts them in order.
    queues: Rc<RefCell<BTreeMap<HostKey, Vec<ReplicaTask>>>>,
}

impl Platform for SimPlatform {
    type Transport = ShimTransport;

    fn transport(&self, replica: Replica) -> ShimTransport {
        ShimTransport { me: replica, world: self.world.clone() }
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

pub(super) fn simulate(
    plan: &ScenarioPlan,
    registry: &Registry,
    seed: u64,
) -> Result<Trace, RunError> {
    let world = FaultWorld::new(plan, seed);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(plan.network.tick)
        .min_message_latency(turmoil_latency(plan).unwrap_or(Duration::ZERO))
        .max_message_latency(turmoil_latency(plan).unwrap_or(Duration::ZERO))
        .simulation_duration(plan.duration + plan.liveness + Duration::from_secs(1))
        .ephemeral_ports(EPHEMERAL_FIRST..=65535)
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
    let addrs = wire(plan, &packing, &ips)?;
    for ((replica, _), addr) in &addrs.binds {
        world.state.borrow_mut().listeners.insert(*addr, *replica);
    }
    let (recorder, completion) = (Recorder::default(), Completion::default());
    let platform =
        SimPlatform { world: world.clone(), recorder: recorder.clone(), addrs, packing, queues };
    let rt = start_replicas(platform, &world, &recorder, &completion, seed, &groups);
    let trace = step_through(plan, registry, &mut sim, &world, &recorder, &completion);
    // A host that never ran would leave its supervisors holding the run context.
    rt.platform.queues.borrow_mut().clear();
    trace
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

fn step_through(
    plan: &ScenarioPlan,
    registry: &Registry,
    sim: &mut turmoil::Sim<'_>,
    world: &Rc<FaultWorld>,
    recorder: &Recorder,
    completion: &Completion,
) -> Result<Trace, RunError> {
    let mut phases = Phases::new(plan, registry, world, recorder, completion);
    while phases.advance(sim.elapsed()) {
        sim.step().map_err(|e| RunError::Internal(format!("turmoil: {e}")))?;
    }
    Ok(phases.finish(sim.elapsed()))
}

/// The simulator's own network for a hand-built harness: the fault shim every
/// simulated run's sockets use, over a fault world with no fault in it, so a test
/// that runs sockets over it runs what `sim` runs (turmoil's latency is all there
/// is). Must be used inside a turmoil simulation.
#[derive(Clone, Debug)]
pub struct SimNetwork {
    world: Rc<FaultWorld>,
}

impl Default for SimNetwork {
    fn default() -> Self {
        SimNetwork { world: FaultWorld::fault_free(0) }
    }
}

impl SimNetwork {
    /// `replica` listens at `addr`: its turmoil host's address and the port it binds.
    /// A connect through the shim names the replica it reaches by this, as a run's
    /// wiring registers every bound socket; a connect to an address nobody listens
    /// at is refused.
    pub fn listens_at(&self, addr: SocketAddr, replica: Replica) {
        self.world.state.borrow_mut().listeners.insert(addr, replica);
    }

    /// The transport `replica`'s sockets are handed.
    pub fn transport(&self, replica: Replica) -> ShimTransport {
        ShimTransport { me: replica, world: self.world.clone() }
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
    fn a_group_that_would_overflow_a_shared_host_gets_hosts_of_its_own() {
        let mut plan = small();
        plan.topology.groups[0].hosts = 2;
        connect(&mut plan, (0, 0), (1, 0));
        connect(&mut plan, (2, 0), (1, 0));
        // Each of the client's two hosts dials 40,000 connections, the worker's one
        // host 30,000: it fits beside neither (64,512 ports a host).
        plan.topology.connections[0].pipes = 80_000;
        plan.topology.connections[1].pipes = 30_000;
        let packing = HostPacking::new(&plan);
        let hosts: Vec<&Vec<HostKey>> = packing.of_group.values().collect();
        assert_eq!(hosts, [&vec![0, 1], &vec![0], &vec![2]]);
        assert_eq!(packing.count, 3);
        // A group's own hosts are never the same turmoil host.
        assert_eq!(packing.host(Replica { group: plan.topology.groups[0].id, index: 3 }), 1);
    }
}
