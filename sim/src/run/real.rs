//! One seed of one scenario over real TCP on 127.0.0.1, in real time.
//!
//! The same supervisors, designs, socket drivers and trace as a simulated run; what
//! differs is underneath: a tokio runtime with a real clock (`NodeCtx` reads tokio's
//! time, which here is the wall clock measured from the run's start), `TokioTcp`
//! sockets on ephemeral ports, and a fault proxy on every link (`proxy.rs`) driven by
//! the simulator's own fault world and timetable. The invariants then read the trace
//! unchanged.
//!
//! A real run is not deterministic: the operating system schedules the sockets, so
//! two runs of a seed differ in timing and may differ in verdicts. The seed still
//! drives every draw the designs, the latency model and swarm faults make.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use crate::design::{Completion, Registry};
use crate::plan::{Distribution, Replica, ScenarioPlan};
use crate::trace::{Recorder, Trace};

use super::RunError;
use super::faults::FaultWorld;
use super::node::{Net, RunCtx, supervise};
use super::proxy::RealNet;
use super::world::{Phases, group_runtimes, links};

/// More replicas than this are more real sockets, proxies and tasks than one
/// machine should run for a test: such a scenario needs simulated time.
pub const REPLICAS_MAX: u32 = 300;
/// A real run longer than this (after `--time-scale`) is refused: simulated time
/// covers it in seconds.
pub const REAL_TIME_MAX: Duration = Duration::from_secs(10 * 60);
/// How often the run loop looks at the clock between timetable entries: to sweep
/// `tcp_timeout` and to end the liveness phase once every finite workload is done.
const TICK: Duration = Duration::from_millis(10);

/// How to run on the real network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RealOptions {
    /// Every duration of the scenario's timetable is multiplied by this (see
    /// [`scaled`]); 1.0 runs the scenario as written.
    pub time_scale: f64,
}

impl Default for RealOptions {
    fn default() -> Self {
        RealOptions { time_scale: 1.0 }
    }
}

/// Why a scenario cannot be run on the real network, if it cannot: the simulator's
/// own reasons, too many replicas for one machine, or a run too long in real time.
/// (A time scale leaves socket timers as they are, so a scenario whose outcome
/// hangs on a workload time against a timer, such as `lru-idle-resend`, runs but
/// may differ from its `expect`: reported, as every real-timing difference is.)
pub fn skip_reason(plan: &ScenarioPlan, registry: &Registry, opts: RealOptions) -> Option<String> {
    if let Err(e) = super::world::check_runnable(plan, registry) {
        return Some(e.to_string());
    }
    let replicas: u32 = plan.topology.groups.iter().map(|g| g.count).sum();
    if replicas > REPLICAS_MAX {
        return Some(format!(
            "needs simulated time: {replicas} replicas are more real sockets than one machine should run (at most {REPLICAS_MAX})"
        ));
    }
    let length = (plan.duration + plan.liveness).mul_f64(opts.time_scale);
    if length > REAL_TIME_MAX {
        return Some(format!(
            "needs simulated time: {length:?} of real time (at most {REAL_TIME_MAX:?}; a smaller --time-scale shortens it)"
        ));
    }
    None
}

/// The scenario with its timetable scaled by `f`: the safety and liveness phases,
/// fault times, `tcp_timeout`, swarm fault lengths, the workload's start, join, leave,
/// session and offline times, and its rates and bandwidths (divided by `f`, so a link
/// stays as busy relative to its workload). Per-message costs
/// (latency, service times) and socket options are left as they are: a millisecond
/// of latency shrunk further means nothing on a real network.
pub fn scaled(plan: &ScenarioPlan, f: f64) -> ScenarioPlan {
    let mut p = plan.clone();
    if f == 1.0 {
        return p;
    }
    let d = |x: Duration| x.mul_f64(f);
    let dist = |x: &mut Option<Distribution>| {
        if let Some(x) = x.as_mut() {
            *x = scale_distribution(*x, f);
        }
    };
    p.duration = d(p.duration);
    p.liveness = d(p.liveness);
    p.tcp_timeout = d(p.tcp_timeout);
    for fault in &mut p.faults {
        fault.at = d(fault.at);
        // `until: end` stays the run's end, whatever the scale.
        fault.until = fault.until.map(|u| if u == Duration::MAX { u } else { d(u) });
        fault.bandwidth = fault.bandwidth.map(|b| b / f);
    }
    p.network.bandwidth /= f;
    for link in &mut p.network.links {
        link.bandwidth = link.bandwidth.map(|b| b / f);
    }
    if let Some(swarm) = p.swarm.as_mut() {
        dist(&mut swarm.duration);
    }
    for w in p.workload.values_mut() {
        w.rate = w.rate.map(|r| r / f);
        w.publish_rate = w.publish_rate.map(|r| r / f);
        for x in [&mut w.start_at, &mut w.join_at, &mut w.leave_at, &mut w.session, &mut w.offline]
        {
            dist(x);
        }
    }
    p
}

fn scale_distribution(d: Distribution, f: f64) -> Distribution {
    match d {
        Distribution::Fixed(v) => Distribution::Fixed(v * f),
        Distribution::Uniform { min, max } => Distribution::Uniform { min: min * f, max: max * f },
        Distribution::Exponential { mean } => Distribution::Exponential { mean: mean * f },
        Distribution::Normal { mean, stddev } => {
            Distribution::Normal { mean: mean * f, stddev: stddev * f }
        }
        Distribution::LogNormal { median, p99 } => {
            Distribution::LogNormal { median: median * f, p99: p99 * f }
        }
    }
}

/// Runs an already scaled plan on the real network and returns its trace.
pub(super) fn run(plan: &ScenarioPlan, registry: &Registry, seed: u64) -> Result<Trace, RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Internal(format!("tokio runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let trace = local.block_on(&runtime, drive(plan, registry, seed));
    // Dropping the set drops every node, socket and proxy task of the run.
    drop(local);
    trace
}

async fn drive(plan: &ScenarioPlan, registry: &Registry, seed: u64) -> Result<Trace, RunError> {
    let world = FaultWorld::with_base_latency(plan, seed, true);
    let recorder = Recorder::default();
    let completion = Completion::default();
    let groups = group_runtimes(plan, registry, &world);
    let net = RealNet::new(world.clone());
    let mut connects: BTreeMap<(Replica, usize), Vec<_>> = BTreeMap::new();
    for link in links(plan) {
        let addr = net
            .listen(link)
            .await
            .map_err(|e| RunError::Internal(format!("cannot open a fault proxy: {e}")))?;
        connects.entry((link.from, link.from_socket)).or_default().push(addr);
    }
    // Only which sockets bind matters here: each binds an ephemeral port when it starts.
    let mut binds = BTreeMap::new();
    for g in &plan.topology.groups {
        for index in 0..g.count {
            for (si, s) in g.sockets.iter().enumerate() {
                if s.bind.is_some() {
                    binds.insert((Replica { group: g.id, index }, si), RealNet::ephemeral());
                }
            }
        }
    }
    let rt = Rc::new(RunCtx {
        world: world.clone(),
        recorder: recorder.clone(),
        completion: completion.clone(),
        seed,
        binds,
        connects,
        net: Net::Real(net),
    });
    let epoch = tokio::time::Instant::now();
    for g in &groups {
        for index in 0..g.group.count {
            let replica = Replica { group: g.group.id, index };
            tokio::task::spawn_local(supervise(rt.clone(), g.clone(), replica, epoch));
        }
    }
    let phases = Phases::new(plan, registry, &world, &recorder, &completion);
    Ok(step_through(phases, epoch).await)
}

/// The simulator's phases in real time: between timetable entries the loop wakes
/// every `TICK` to sweep `tcp_timeout` and to see whether the workload is done.
async fn step_through(mut phases: Phases<'_>, epoch: tokio::time::Instant) -> Trace {
    while phases.advance(epoch.elapsed()) {
        let due = phases.next_due().min(epoch.elapsed() + TICK);
        tokio::time::sleep_until(epoch + due).await;
    }
    phases.finish(epoch.elapsed())
}
