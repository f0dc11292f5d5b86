//! The simulator: one seed of one scenario over turmoil. It registers a turmoil host
//! per group host, wires the simulated addresses, hands the replicas to the shared
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
use crate::plan::{Replica, ScenarioPlan};
use crate::registry::Registry;
use crate::socket::SocketOptions;
use crate::trace::{Recorder, SocketIndex, Trace};

use super::RunError;
use super::faults::{FaultWorld, turmoil_latency};
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

/// A simulated host: (group id, host number within the group).
type HostKey = (u32, u32);

fn host_name(group: u32, host: u32) -> String {
    format!("g{group}h{host}")
}

/// Addresses of every bound socket, and every connecting socket's targets.
fn wire(plan: &ScenarioPlan, ips: &BTreeMap<(u32, u32), IpAddr>) -> Result<Addrs, RunError> {
    let mut binds = BTreeMap::new();
    let mut next_port: BTreeMap<(u32, u32), u16> = BTreeMap::new();
    for g in &plan.topology.groups {
        for index in 0..g.count {
            let host = (g.id.0, g.host_of(index));
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
    /// How many hosts each group (by id) is spread over.
    hosts: BTreeMap<u32, u32>,
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
        let host = replica.index % self.hosts[&replica.group.0];
        self.queues.borrow_mut().entry((replica.group.0, host)).or_default().push(task);
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
    // Hosts are registered first so their addresses are known; each starts the
    // supervisors queued for it, all queued before the first step.
    let queues: Rc<RefCell<BTreeMap<HostKey, Vec<ReplicaTask>>>> = Rc::default();
    let (mut ips, mut hosts) = (BTreeMap::new(), BTreeMap::new());
    for g in &groups {
        hosts.insert(g.group.id.0, g.group.hosts);
        for h in 0..g.group.hosts {
            let (name, key) = (host_name(g.group.id.0, h), (g.group.id.0, h));
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
    }
    let addrs = wire(plan, &ips)?;
    for ((replica, _), addr) in &addrs.binds {
        world.state.borrow_mut().listeners.insert(*addr, *replica);
    }
    let (recorder, completion) = (Recorder::default(), Completion::default());
    let platform =
        SimPlatform { world: world.clone(), recorder: recorder.clone(), addrs, hosts, queues };
    let rt = start_replicas(platform, &world, &recorder, &completion, seed, &groups);
    let trace = step_through(plan, registry, &mut sim, &world, &recorder, &completion);
    // A host that never ran would leave its supervisors holding the run context.
    rt.platform.queues.borrow_mut().clear();
    trace
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
