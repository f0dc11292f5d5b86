//! One seed of one scenario over turmoil: build the world, step it through the
//! safety phase (faults on schedule), heal, run the bounded liveness phase, and hand
//! back the trace.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use crate::design::{Completion, Registry, Role};
use crate::plan::{FaultKind, Replica, ScenarioPlan, Selector};
use crate::trace::{EventKind, Recorder, Trace, TraceEvent};

use super::RunError;
use super::faults::{FaultWorld, turmoil_latency};
use super::node::{GroupRuntime, Net, RunCtx, make_core, supervise};

/// How long a run goes on after every workload has finished, for messages still in
/// flight to land.
const DRAIN: Duration = Duration::from_secs(1);

/// A fixed epoch: turmoil would otherwise read the wall clock.
const EPOCH_SECS: u64 = 1_700_000_000;
/// Listener ports start here on every host; turmoil's ephemeral ports start above.
const FIRST_PORT: u16 = 1;
const EPHEMERAL_FIRST: u16 = 1024;

/// Every group's design must be runnable and every socket type supported.
pub(super) fn check_runnable(plan: &ScenarioPlan, registry: &Registry) -> Result<(), RunError> {
    for g in &plan.topology.groups {
        let spec = registry.get(&g.design).ok_or_else(|| {
            RunError::NotRunnable(format!("design `{}` is not registered", g.design))
        })?;
        if !spec.is_runnable() {
            return Err(RunError::NotRunnable(format!(
                "design `{}` (node `{}`) has no simulator behaviour yet",
                g.design, g.name
            )));
        }
        for s in &g.sockets {
            if make_core(s.socket_type, &s.options.socket_options(), 1).is_none() {
                return Err(RunError::NotRunnable(format!(
                    "{} sockets (`{}.{}`) are not simulated yet",
                    s.socket_type, g.name, s.name
                )));
            }
        }
    }
    Ok(())
}

fn host_name(group: u32, host: u32) -> String {
    format!("g{group}h{host}")
}

/// Replicas a selector list names, in order.
fn replicas_of(plan: &ScenarioPlan, sel: &[Selector]) -> Vec<Replica> {
    let mut out = Vec::new();
    for s in sel {
        let g = plan.topology.group(s.group);
        match s.replica {
            Some(i) => out.push(Replica { group: s.group, index: i }),
            None => out.extend((0..g.count).map(|i| Replica { group: s.group, index: i })),
        }
    }
    out
}

/// Addresses of every bound socket, and every connecting socket's targets.
fn wire(plan: &ScenarioPlan, ips: &BTreeMap<(u32, u32), IpAddr>) -> Result<RunCtxAddrs, RunError> {
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
    Ok(RunCtxAddrs { binds, connects })
}

/// One connection a topology asks for: a connecting replica's socket and the bound
/// socket of one target replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Link {
    pub from: Replica,
    pub from_socket: usize,
    pub to: Replica,
    pub to_socket: usize,
}

/// Every link of the topology, in the order each connecting socket dials them.
pub(super) fn links(plan: &ScenarioPlan) -> Vec<Link> {
    let mut out = Vec::new();
    for c in &plan.topology.connections {
        let from = plan.topology.group(c.from_group);
        let to = plan.topology.group(c.to.group);
        for index in 0..from.count {
            let targets: Vec<u32> = match c.to.replica {
                Some(r) => vec![r],
                // A group connecting to itself is a mesh: each replica connects to the
                // replicas below it, one pipe per pair.
                None if to.id == from.id => (0..index).collect(),
                None => (0..to.count).collect(),
            };
            out.extend(targets.into_iter().map(|t| Link {
                from: Replica { group: from.id, index },
                from_socket: c.from_socket,
                to: Replica { group: to.id, index: t },
                to_socket: c.to.socket,
            }));
        }
    }
    out
}

struct RunCtxAddrs {
    binds: BTreeMap<(Replica, usize), SocketAddr>,
    connects: BTreeMap<(Replica, usize), Vec<SocketAddr>>,
}

/// Replicas whose workload is finite: the liveness phase ends early once all are done.
fn finishers(plan: &ScenarioPlan, registry: &Registry) -> u64 {
    plan.workload
        .iter()
        .filter(|(g, w)| {
            let design = registry.get(&plan.topology.group(**g).design);
            let finite = w.requests.is_some() || w.publishes.is_some();
            finite
                && design.is_some_and(|d| {
                    d.has_role(Role::Requester)
                        || d.has_role(Role::Producer)
                        || d.has_role(Role::Publisher)
                })
        })
        .map(|(g, _)| u64::from(plan.topology.group(*g).count))
        .sum()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Action {
    Begin(u32),
    End(u32),
    Heal,
}

pub(super) fn simulate(
    plan: &ScenarioPlan,
    registry: &Registry,
    seed: u64,
) -> Result<Trace, RunError> {
    let world = FaultWorld::new(plan, seed);
    let recorder = Recorder::default();
    let completion = Completion::default();
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
    // Hosts are registered first so their addresses are known; their closures read
    // the wiring through this cell, filled before the first step.
    let ctx_cell: Rc<std::cell::OnceCell<Rc<RunCtx>>> = Rc::new(std::cell::OnceCell::new());
    let mut ips = BTreeMap::new();
    for g in &groups {
        for h in 0..g.group.hosts {
            let name = host_name(g.group.id.0, h);
            let (cell, group, hosts) = (ctx_cell.clone(), g.clone(), g.group.hosts);
            sim.host(name.as_str(), move || {
                let (cell, g) = (cell.clone(), group.clone());
                async move {
                    let rt = cell.get().expect("wired before the first step").clone();
                    let epoch = tokio::time::Instant::now();
                    for index in (h..g.group.count).step_by(hosts as usize) {
                        let replica = Replica { group: g.group.id, index };
                        tokio::task::spawn_local(supervise(rt.clone(), g.clone(), replica, epoch));
                    }
                    std::future::pending::<()>().await;
                    Ok(())
                }
            });
            ips.insert((g.group.id.0, h), sim.lookup(name.as_str()));
        }
    }
    let addrs = wire(plan, &ips)?;
    for ((replica, _), addr) in &addrs.binds {
        world.state.borrow_mut().listeners.insert(*addr, *replica);
    }
    let rt = Rc::new(RunCtx {
        world: world.clone(),
        recorder: recorder.clone(),
        completion: completion.clone(),
        seed,
        binds: addrs.binds,
        connects: addrs.connects,
        net: Net::Simulated,
    });
    ctx_cell.set(rt).map_err(|_| RunError::Internal("wiring set twice".into()))?;
    step_through(plan, registry, &mut sim, &world, &recorder, &completion)
}

/// Each group's design and workload, with every replica registered in the fault
/// world (running, incarnation 0).
pub(super) fn group_runtimes(
    plan: &ScenarioPlan,
    registry: &Registry,
    world: &FaultWorld,
) -> Vec<Rc<GroupRuntime>> {
    let mut groups = Vec::new();
    for g in &plan.topology.groups {
        let design =
            registry.get(&g.design).and_then(|d| d.behaviour().cloned()).expect("checked runnable");
        let workload = plan.workload.get(&g.id).cloned().unwrap_or_default();
        groups.push(Rc::new(GroupRuntime { group: g.clone(), design, workload }));
        for index in 0..g.count {
            world.add_replica(Replica { group: g.id, index });
        }
    }
    groups
}

/// The run's timetable: each fault's start and end, and the heal. A fault without an
/// end of its own ends at the heal; one whose file says it lasts past `duration`
/// (`for` or `until` beyond it, or `until: end`) lasts into the liveness phase, which
/// then checks a system with that fault still in force. An end after the run's end
/// is never reached.
fn schedule(plan: &ScenarioPlan) -> Vec<(Duration, Action)> {
    let mut schedule: Vec<(Duration, Action)> = Vec::new();
    for (i, f) in plan.faults.iter().enumerate() {
        let i = i as u32;
        schedule.push((f.at, Action::Begin(i)));
        let end = f.until.unwrap_or(plan.duration);
        if f.until.is_some() || !matches!(f.kind, FaultKind::Restart) {
            schedule.push((end.max(f.at), Action::End(i)));
        }
    }
    schedule.push((plan.duration, Action::Heal));
    schedule.sort();
    schedule
}

/// Whether a timetable entry starts new incarnations of the replicas it names: the
/// end of a kill or crash, or a restart.
fn restarts(plan: &ScenarioPlan, action: Action) -> bool {
    match action {
        Action::Begin(i) => plan.faults[i as usize].kind == FaultKind::Restart,
        Action::End(i) => {
            matches!(plan.faults[i as usize].kind, FaultKind::Kill | FaultKind::Crash)
        }
        Action::Heal => false,
    }
}

/// Applies one timetable entry to the fault world; returns what the trace records.
/// A replica the entry restarts has a new incarnation whose workload has not
/// finished, whatever the last one did: its completion is cleared here, at the
/// instant of the restart, not when its supervisor next runs, so the run cannot be
/// judged finished in between.
fn apply(
    plan: &ScenarioPlan,
    world: &FaultWorld,
    completion: &Completion,
    action: Action,
    select: &dyn Fn(&[Selector]) -> Vec<Replica>,
) -> EventKind {
    if restarts(plan, action) {
        let (Action::Begin(i) | Action::End(i)) = action else { unreachable!("a fault entry") };
        let replicas = select(&plan.faults[i as usize].nodes);
        let before: Vec<u32> = replicas.iter().map(|r| world.incarnation(*r)).collect();
        let kind = apply_to_world(plan, world, action, select);
        for (r, was) in replicas.iter().zip(before) {
            if world.incarnation(*r) != was {
                completion.restart(*r);
            }
        }
        return kind;
    }
    apply_to_world(plan, world, action, select)
}

fn apply_to_world(
    plan: &ScenarioPlan,
    world: &FaultWorld,
    action: Action,
    select: &dyn Fn(&[Selector]) -> Vec<Replica>,
) -> EventKind {
    match action {
        Action::Begin(i) => EventKind::FaultBegin {
            fault: i,
            touched: world.begin(i, &plan.faults[i as usize], select),
        },
        Action::End(i) => EventKind::FaultEnd {
            fault: i,
            touched: world.end(i, &plan.faults[i as usize], select),
        },
        Action::Heal => EventKind::Healed,
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

/// A run's phases, whatever its clock: the safety phase's timetable of faults, the
/// heal, and the bounded liveness phase, which ends early once every incarnation's
/// finite workload is done (a replica restarted, or still to be, has not finished). The simulator advances it between turmoil steps, the real
/// network between sleeps.
pub(super) struct Phases<'a> {
    plan: &'a ScenarioPlan,
    world: &'a FaultWorld,
    recorder: &'a Recorder,
    completion: &'a Completion,
    schedule: Vec<(Duration, Action)>,
    /// The first timetable entry not applied yet.
    next: usize,
    /// Replicas with a finite workload; the liveness phase ends when all are done.
    finishers: u64,
    healed_at: Option<Duration>,
    quiesced: bool,
    /// Once quiesced, when the drain ends.
    drain_until: Option<Duration>,
}

impl<'a> Phases<'a> {
    pub fn new(
        plan: &'a ScenarioPlan,
        registry: &Registry,
        world: &'a FaultWorld,
        recorder: &'a Recorder,
        completion: &'a Completion,
    ) -> Phases<'a> {
        let finishers = finishers(plan, registry);
        let schedule = schedule(plan);
        Phases {
            plan,
            world,
            recorder,
            completion,
            schedule,
            next: 0,
            finishers,
            healed_at: None,
            quiesced: false,
            drain_until: None,
        }
    }

    /// Applies what is due at `now`; `false` once the run is over.
    pub fn advance(&mut self, now: Duration) -> bool {
        let plan = self.plan;
        let select = |sel: &[Selector]| replicas_of(plan, sel);
        while self.next < self.schedule.len() && self.schedule[self.next].0 <= now {
            let action = self.schedule[self.next].1;
            let kind = apply(plan, self.world, self.completion, action, &select);
            if kind == EventKind::Healed {
                // With no liveness phase nothing is given time to converge, so the
                // trace says it never healed (in-flight work is `unknown`).
                self.healed_at = (!plan.liveness.is_zero()).then_some(now);
            }
            self.recorder.record(TraceEvent { at: now, node: None, socket: None, kind });
            self.next += 1;
        }
        if self.world.any_active() {
            self.world.sweep(now);
        }
        if self.healed_at.is_some()
            && self.finishers > 0
            && self.completion.count() >= self.finishers
            && !self.restart_pending()
            && !self.quiesced
        {
            // Every workload is done, but what the last of them sent may still be on
            // the wire (a publisher finishes when it has sent its last message, not
            // when subscribers have it): drain before stopping, so checkers judge
            // deliveries rather than the moment the run was cut.
            self.quiesced = true;
            self.drain_until = Some(now + DRAIN);
        }
        now < self.end()
    }

    /// Whether a timetable entry not applied yet, due before the liveness bound, will
    /// start a new incarnation: its workload is still to run, so the run is not
    /// finished.
    fn restart_pending(&self) -> bool {
        let bound = self.plan.duration + self.plan.liveness;
        let pending = &self.schedule[self.next..];
        pending.iter().any(|(at, action)| *at < bound && restarts(self.plan, *action))
    }

    /// When the next timetable entry is due, or the run's end.
    pub fn next_due(&self) -> Duration {
        self.schedule.get(self.next).map_or(self.end(), |(at, _)| *at).min(self.end())
    }

    fn end(&self) -> Duration {
        let bound = self.plan.duration + self.plan.liveness;
        self.drain_until.map_or(bound, |d| d.min(bound))
    }

    pub fn finish(self, ended_at: Duration) -> Trace {
        Trace {
            events: self.recorder.take(),
            healed_at: self.healed_at,
            ended_at,
            quiesced: self.quiesced,
            // `run/mod.rs` names the run's faults, drawn ones included.
            faults: Vec::new(),
        }
    }
}
