//! A run's timetable, whatever its clock: each fault's start and end, the heal, and
//! the bounded liveness phase, which ends early once every finite workload is done.
//! The simulator advances it between turmoil steps (`simulated.rs`), the real
//! network between sleeps (`real.rs`).

use std::time::Duration;

use crate::design::{Completion, Role};
use crate::plan::{FaultKind, Replica, ScenarioPlan, Selector};
use crate::registry::Registry;
use crate::trace::{EventKind, Recorder, Trace, TraceEvent};

use super::faults::FaultWorld;
use super::wiring::replicas_of;

/// How long a run goes on after every workload has finished, for messages still in
/// flight to land.
const DRAIN: Duration = Duration::from_secs(1);

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
        if f.until.is_some() || !matches!(f.kind, FaultKind::Restart) {
            schedule.push((f.ends_at(plan.duration), Action::End(i)));
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
        } else {
            self.world.stop_sweeping();
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
    pub(crate) fn next_due(&self) -> Duration {
        self.schedule.get(self.next).map_or(self.end(), |(at, _)| *at).min(self.end())
    }

    /// When the run ends, as things stand: the liveness bound, or the drain's end.
    pub(super) fn end(&self) -> Duration {
        let bound = self.plan.duration + self.plan.liveness;
        self.drain_until.map_or(bound, |d| d.min(bound))
    }

    pub fn finish(self, ended_at: Duration) -> Trace {
        // Compact unless the run spilled: checkers read it as a stream. `run/mod.rs`
        // names the run's faults, drawn ones included.
        let mut trace = self.recorder.take_trace();
        trace.healed_at = self.healed_at;
        trace.ended_at = ended_at;
        trace.quiesced = self.quiesced;
        trace
    }
}
