//! The wiring every platform shares: what makes a plan's replicas runnable, the
//! links a topology asks for, each group's design and workload, and the start of
//! every replica's supervisor on its platform. The turmoil backend
//! (`simulated.rs`) and the real network (`real.rs`) differ only below this, in
//! their [`Platform`].

use std::rc::Rc;

use crate::design::Completion;
use crate::plan::{Replica, ScenarioPlan, Selector};
use crate::registry::Registry;
use crate::trace::Recorder;

use super::RunError;
use super::faults::FaultWorld;
use super::node::{GroupRuntime, RunCtx, make_core, socket_options, supervise};
use super::platform::{Platform, ReplicaTask};

/// Every group's design must be runnable and every socket type supported. A group
/// that runs an external program (`process:`) is runnable only where `processes`
/// says the platform can start one (the real network).
pub(super) fn check_runnable(
    plan: &ScenarioPlan,
    registry: &Registry,
    processes: bool,
) -> Result<(), RunError> {
    for g in &plan.topology.groups {
        if g.process.is_some() {
            if processes {
                continue;
            }
            return Err(RunError::NotRunnable(format!(
                "real-only: node `{}` runs an external program (`process:`), which the simulator cannot run; run it with `cargo xtask real {}`",
                g.name,
                plan.file.display()
            )));
        }
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

/// Replicas a selector list names, in order.
pub(super) fn replicas_of(plan: &ScenarioPlan, sel: &[Selector]) -> Vec<Replica> {
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

/// Each group's design and workload, with every replica registered in the fault
/// world (running, incarnation 0).
pub(super) fn group_runtimes(
    plan: &ScenarioPlan,
    registry: &Registry,
    world: &FaultWorld,
) -> Vec<Rc<GroupRuntime>> {
    let mut groups = Vec::new();
    let topology = Rc::new(plan.topology.clone());
    for g in &plan.topology.groups {
        for index in 0..g.count {
            world.add_replica(Replica { group: g.id, index });
        }
        // An external program's replicas are the platform's to start (`run/process.rs`).
        if g.process.is_some() {
            continue;
        }
        let design =
            registry.get(&g.design).and_then(|d| d.behaviour().cloned()).expect("checked runnable");
        let workload = Rc::new(plan.workload.get(&g.id).cloned().unwrap_or_default());
        let socket_options = socket_options(g);
        let topology = Rc::clone(&topology);
        groups.push(Rc::new(GroupRuntime {
            group: g.clone(),
            design,
            workload,
            socket_options,
            topology,
        }));
    }
    groups
}

/// Builds the run's context over `platform` and hands every replica's supervisor to
/// it, group by group and replica by replica, which is the order each platform starts
/// them in. Every backend starts its replicas here.
pub(super) fn start_replicas<P: Platform>(
    platform: P,
    world: &Rc<FaultWorld>,
    recorder: &Recorder,
    completion: &Completion,
    seed: u64,
    groups: &[Rc<GroupRuntime>],
) -> Rc<RunCtx<P>> {
    let rt = Rc::new(RunCtx {
        platform,
        world: Rc::clone(world),
        recorder: recorder.clone(),
        completion: completion.clone(),
        seed,
        out_of_ids: Default::default(),
    });
    for g in groups {
        for index in 0..g.group.count {
            let replica = Replica { group: g.group.id, index };
            let (run, g) = (Rc::clone(&rt), Rc::clone(g));
            let task: ReplicaTask =
                Box::new(move |epoch| Box::pin(supervise(run, g, replica, epoch)));
            rt.platform.spawn(replica, task);
        }
    }
    rt
}
