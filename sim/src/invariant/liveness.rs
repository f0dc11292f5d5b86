//! `liveness`: after faults heal, every declared unit of work finishes within the bound.
//!
//! Units of work, and what finishes each:
//! - a request (`AppEvent::RequestIssued`): its `ReplyAccepted` or `RequestAbandoned`
//!   (giving up is the requester settling it; `no_lost_replies` judges the loss);
//! - a task (`AppEvent::TaskIssued`, or without declarations an id sent on a PUSH of
//!   a pipeline's first stage, as in `pipeline_conservation`): its `Receive` at a
//!   PULL the plan wires to the PUSH it was sent on;
//! - a survey (a `Send` on a SURVEYOR): the socket's next `SurveyExpired`, or the
//!   next survey's start; at a socket that never records an expiry, its start plus
//!   the socket's `survey_deadline`;
//! - an aggregator job (the first `AppEvent::ChunkSent` of a job number, owned by the
//!   client that sent it): the job's `JobFinished`.
//!
//! Jobs of designs that record no such markers are not seen. A unit must finish by
//! `bound` (default: the scenario's liveness phase) after the heal, or after its own
//! start if it started later. One finishing later, or never finishing in a run that
//! went on past its deadline, is a violation pinned to the deadline. A unit whose
//! owner's process was killed or crashed before it finished had nobody left to want
//! it, and is only counted. A unit whose deadline lies beyond the run's end cannot be
//! judged: those alone make the verdict `Unknown`, as does a run that never healed
//! or declared no work.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::plan::{GroupId, Replica};
use crate::socket::SocketType;
use crate::trace::{AppEvent, EventKind, MsgId, SocketIndex};
use crate::vocab::ParamDefault;

use super::verdict::{CheckInput, Outcome, Violation, dur};
use super::{Invariant, bound};

pub const NAME: &str = "liveness";

/// `liveness` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    Invariant::new(
        NAME,
        "after faults heal, every declared unit of work finishes within the bound",
        check,
    )
    .param(bound(ParamDefault::Computed("the scenario's `liveness`")))
}

/// What kind of work a unit is, and its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    Request(MsgId),
    Task(MsgId),
    /// A survey, by its socket and its number among the socket's surveys.
    Survey(Replica, SocketIndex, u64),
    /// An aggregator job, by its number.
    Job(u64),
}

#[derive(Debug)]
struct Unit {
    started: Duration,
    owner: Replica,
    finished: Option<Duration>,
    /// For tasks: the PULL sockets that may take it.
    pullers: Vec<(GroupId, usize)>,
}

#[derive(Debug, Default)]
struct Counts {
    judged: u64,
    orphaned: u64,
    undecided: u64,
}

pub fn check(input: &CheckInput) -> Outcome {
    let Some(stamped) = input.trace.healed_at else {
        return Outcome::unknown(NAME, "the run ended before faults healed: nothing to check");
    };
    // The heal as scheduled, at `duration`: on a real network the trace stamps it when
    // the wall clock got there, a little late, while the run still ends at its
    // scheduled bound, so a deadline counted from the stamp fell just past the end
    // and left a lost request unjudged (as `no_lost_replies` once did).
    let healed = stamped.min(input.plan.duration);
    let bound = input.duration_param("bound").unwrap_or(input.plan.liveness);
    let units = collect(input);
    if units.is_empty() {
        return Outcome::unknown(NAME, "no unit of work was declared: nothing to check");
    }
    let end = input.end();
    let heal = describe_heal(input, healed);
    let mut counts = Counts::default();
    let ends = input.process_ends();
    let mut violations = Vec::new();
    for (work, unit) in &units {
        if unit.finished.is_some_and(|f| f <= healed) {
            continue;
        }
        let from = unit.started.max(healed);
        let deadline = from + bound;
        if unit.finished.is_some_and(|f| f <= deadline) {
            counts.judged += 1;
            continue;
        }
        // Late or unfinished: excused only if its owner died before it finished.
        if ends.between(unit.owner, unit.started, unit.finished.unwrap_or(end)) {
            counts.orphaned += 1;
            continue;
        }
        let since =
            if from == healed { heal.clone() } else { format!("its start at {}", dur(from)) };
        let what = describe(input, *work, unit);
        let text = match unit.finished {
            Some(f) => {
                format!("{what} finished at {}, more than {} after {since}", dur(f), dur(bound))
            }
            None if end < deadline => {
                counts.undecided += 1;
                continue;
            }
            None => format!(
                "{what} had not finished {} after {since}, nor by the run's end at {}",
                dur(bound),
                dur(end)
            ),
        };
        counts.judged += 1;
        violations.push(Violation::new(deadline, Some(unit.owner), text));
    }
    let note = format!(
        "{} units of work declared, {} judged after {heal} with bound {}; {} orphaned by a killed owner",
        units.len(),
        counts.judged,
        dur(bound),
        counts.orphaned
    );
    if counts.undecided > 0 && violations.is_empty() {
        let why = format!(
            "{note}; {} unfinished units had deadlines beyond the run's end",
            counts.undecided
        );
        return Outcome::unknown(NAME, why);
    }
    Outcome::from_violations(NAME, violations).with_note(note)
}

/// The moment the liveness phase began, in words: "the heal at 10s", or, when a fault
/// the scenario made last past it (`until` beyond `duration`, or `until: end`) was
/// still in force, the end of the fault phase with how many were, since nothing healed.
fn describe_heal(input: &CheckInput, healed: Duration) -> String {
    let lasting = input.plan.faults.iter().filter(|f| f.until.is_some_and(|u| u > healed)).count();
    match lasting {
        0 => format!("the heal at {}", dur(healed)),
        1 => format!("the fault phase's end at {} (1 fault still in force)", dur(healed)),
        n => format!("the fault phase's end at {} ({n} faults still in force)", dur(healed)),
    }
}

fn describe(input: &CheckInput, work: Work, unit: &Unit) -> String {
    let (owner, started) = (input.node_name(unit.owner), dur(unit.started));
    match work {
        Work::Request(id) => {
            format!("request {id} issued at {started} by {owner}", id = input.msg_name(id))
        }
        Work::Task(id) => {
            format!("task {id} pushed at {started} by {owner}", id = input.msg_name(id))
        }
        Work::Survey(node, socket, _) => {
            format!("the survey started at {started} by {}", input.socket_name(node, Some(socket)))
        }
        Work::Job(job) => format!("aggregator job {job} started at {started} by {owner}"),
    }
}

/// Every unit the trace declares, with when it finished.
fn collect(input: &CheckInput) -> BTreeMap<Work, Unit> {
    let issued = input.issued_tasks();
    let mut units: BTreeMap<Work, Unit> = BTreeMap::new();
    // Per SURVEYOR socket: surveys started, and whether it ever records an expiry.
    let mut surveys: BTreeMap<(Replica, SocketIndex), u64> = BTreeMap::new();
    let expiring: Vec<(Replica, Option<SocketIndex>)> = input
        .trace
        .iter()
        .filter(|e| matches!(e.kind, EventKind::SurveyExpired { .. }))
        .filter_map(|e| e.node.map(|n| (n, e.socket)))
        .collect();
    let new_unit = |at, owner| Unit { started: at, owner, finished: None, pullers: Vec::new() };
    let finish = |units: &mut BTreeMap<Work, Unit>, work, at| {
        if let Some(unit) = units.get_mut(&work) {
            unit.finished.get_or_insert(at);
        }
    };
    for event in input.trace.iter() {
        let Some(node) = event.node else { continue };
        let (at, socket) = (event.at, event.socket);
        let socket_type = input.socket_type(node, socket);
        match &event.kind {
            EventKind::App(AppEvent::RequestIssued { id }) => {
                units.entry(Work::Request(*id)).or_insert(new_unit(at, node));
            }
            EventKind::App(AppEvent::TaskIssued { id }) => {
                units.entry(Work::Task(*id)).or_insert(new_unit(at, node));
            }
            EventKind::App(AppEvent::ChunkSent { job, .. }) => {
                units.entry(Work::Job(*job)).or_insert(new_unit(at, node));
            }
            EventKind::App(AppEvent::JobFinished { job }) => {
                finish(&mut units, Work::Job(*job), at)
            }
            EventKind::App(AppEvent::ReplyAccepted { id } | AppEvent::RequestAbandoned { id }) => {
                finish(&mut units, Work::Request(*id), at);
            }
            EventKind::Send { .. } if socket_type == Some(SocketType::Surveyor) => {
                let Some(socket) = socket else { continue };
                let n = surveys.entry((node, socket)).or_default();
                if *n > 0 {
                    finish(&mut units, Work::Survey(node, socket, *n - 1), at);
                }
                let mut unit = new_unit(at, node);
                if !expiring.contains(&(node, Some(socket))) {
                    let deadline =
                        input.socket_plan(node, socket).map(|p| p.options.survey_deadline.value);
                    unit.finished = deadline.map(|d| at + d);
                }
                units.insert(Work::Survey(node, socket, *n), unit);
                *n += 1;
            }
            EventKind::SurveyExpired { .. } => {
                let Some(socket) = socket else { continue };
                if let Some(n) = surveys.get(&(node, socket)).filter(|n| **n > 0) {
                    finish(&mut units, Work::Survey(node, socket, n - 1), at);
                }
            }
            EventKind::Send { msg } => {
                let (Some(id), Some(socket)) = (msg.id, socket) else { continue };
                let Some(pullers) = input.task_pullers(node, socket, id, &issued) else {
                    continue;
                };
                let unit = units.entry(Work::Task(id)).or_insert(new_unit(at, node));
                if unit.pullers.is_empty() {
                    unit.pullers = pullers;
                }
            }
            EventKind::Receive { msg } if socket_type == Some(SocketType::Pull) => {
                let (Some(id), Some(socket)) = (msg.id, socket) else { continue };
                let Some(unit) = units.get_mut(&Work::Task(id)) else { continue };
                if unit.pullers.contains(&(node.group, usize::from(socket))) {
                    unit.finished.get_or_insert(at);
                }
            }
            _ => {}
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{
        at, client, connect, ms, msg, node, node_fault, plan, plan_with, run, run_event, texts,
        trace,
    };
    use crate::plan::{FaultKind, ScenarioPlan};
    use crate::trace::TraceEvent;

    fn app(t: u64, n: u32, event: AppEvent) -> TraceEvent {
        at(ms(t), client(n), None, EventKind::App(event))
    }

    fn issued(t: u64, id: MsgId) -> TraceEvent {
        app(t, 0, AppEvent::RequestIssued { id })
    }

    fn accepted(t: u64, id: MsgId) -> TraceEvent {
        app(t, 0, AppEvent::ReplyAccepted { id })
    }

    /// Healed at 1s, ended at 5s, liveness bound 1s (given as the parameter).
    fn outcome(events: Vec<TraceEvent>, plan: &ScenarioPlan) -> Outcome {
        let params =
            BTreeMap::from([("bound".to_owned(), crate::plan::ParamValue::Duration(ms(1000)))]);
        let trace = trace(events, Some(ms(1000)), ms(5000));
        check(&CheckInput { trace: &trace, plan, params: &params })
    }

    #[test]
    fn passes_when_work_outstanding_at_the_heal_finishes_within_the_bound() {
        let events = vec![
            issued(0, 1),
            accepted(100, 1),
            issued(500, 2),
            accepted(1900, 2),
            issued(3000, 3),
            accepted(3500, 3),
        ];
        let outcome = outcome(events, &plan());
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(
            outcome.note.as_deref(),
            Some(
                "3 units of work declared, 2 judged after the heal at 1s with bound 1s; 0 orphaned by a killed owner"
            )
        );
    }

    #[test]
    fn unfinished_or_late_work_after_the_heal_is_a_violation() {
        let events = vec![issued(0, 1), issued(500, 2), accepted(2500, 2)];
        let outcome = outcome(events, &plan());
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "request client.0#1 issued at 0 by client.0 had not finished 1s after the heal at 1s, nor by the run's end at 5s",
                "request client.0#2 issued at 500ms by client.0 finished at 2500ms, more than 1s after the heal at 1s",
            ]
        );
        assert_eq!(outcome.violations[0].at, ms(2000));
    }

    #[test]
    fn an_unpulled_task_is_unfinished_work_and_a_killed_owner_s_is_only_counted() {
        let mut plan = plan_with(&[
            ("ventilator", 1, &[SocketType::Push]),
            ("worker", 1, &[SocketType::Pull]),
        ]);
        connect(&mut plan, (1, 0), (0, 0));
        plan.faults = vec![node_fault(FaultKind::Kill, ms(300), node(0, 0))];
        let push =
            |t, id| at(ms(t), node(0, 0), Some(0), EventKind::Send { msg: msg(Some(id), None) });
        let pull =
            |t, id| at(ms(t), node(1, 0), Some(0), EventKind::Receive { msg: msg(Some(id), None) });
        let kill = run_event(ms(300), EventKind::FaultBegin { fault: 0, touched: 1 });
        // Task 1 is pulled; task 2's pusher is killed; task 3 (after the restart) is not.
        let events = vec![push(0, 1), push(10, 2), kill, push(1200, 3), pull(1500, 1)];
        let outcome = outcome(events, &plan);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "task ventilator.0#3 pushed at 1200ms by ventilator.0 had not finished 1s after its start at 1200ms, nor by the run's end at 5s"
            ]
        );
        assert!(
            outcome.note.as_deref().is_some_and(|n| n.ends_with("1 orphaned by a killed owner"))
        );
    }

    #[test]
    fn a_survey_finishes_at_its_expiry() {
        let plan = plan_with(&[("surveyor", 1, &[SocketType::Surveyor])]);
        let ev = |t, kind| at(ms(t), node(0, 0), Some(0), kind);
        let events = vec![
            ev(900, EventKind::Send { msg: msg(None, None) }),
            ev(1400, EventKind::SurveyExpired { survey_id: 1 }),
            ev(2000, EventKind::Send { msg: msg(None, None) }),
        ];
        let outcome = outcome(events, &plan);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "the survey started at 2s by surveyor.0.surveyor had not finished 1s after its start at 2s, nor by the run's end at 5s"
            ]
        );
    }

    #[test]
    fn an_aggregator_job_runs_from_its_first_chunk_to_its_finish() {
        let chunk = |t, n, job| app(t, n, AppEvent::ChunkSent { id: t, job, seq: 0, len: 1 });
        let done = |t, job| app(t, 1, AppEvent::JobFinished { job });
        // Job 0 finishes in time; job 1 gets a later connection's chunk but never finishes.
        let events = vec![chunk(0, 0, 0), chunk(10, 0, 1), chunk(1200, 1, 1), done(1500, 0)];
        let outcome = outcome(events, &plan());
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "aggregator job 1 started at 10ms by client.0 had not finished 1s after the heal at 1s, nor by the run's end at 5s"
            ]
        );
    }

    #[test]
    fn a_fault_lasting_past_the_heal_is_named_not_called_healed() {
        let mut plan = plan();
        let mut stall = node_fault(FaultKind::Stall, ms(500), node(0, 0));
        stall.until = Some(Duration::MAX);
        plan.faults = vec![stall];
        let lasting = outcome(vec![issued(0, 1)], &plan);
        assert_eq!(lasting.verdict, Verdict::Fail);
        assert_eq!(
            texts(&lasting),
            [
                "request client.0#1 issued at 0 by client.0 had not finished 1s after the fault phase's end at 1s (1 fault still in force), nor by the run's end at 5s"
            ]
        );
        let note = lasting.note.as_deref().unwrap_or_default();
        assert!(
            note.contains("judged after the fault phase's end at 1s (1 fault still in force) with"),
            "{note}"
        );
        // A fault ending at the heal is healed by it.
        plan.faults[0].until = Some(ms(1000));
        let healed = outcome(vec![issued(0, 1)], &plan);
        assert!(texts(&healed)[0].contains("after the heal at 1s,"), "{healed:?}");
    }

    /// Regression: `req-rep-server-killed` under `cargo xtask real` was `unknown`
    /// where the simulator judges it failed. Its heal was stamped at 10.000941 s, so
    /// a request's deadline fell at 30.000941 s, after the run's scheduled end at
    /// 30.000839 s.
    #[test]
    fn a_late_stamped_heal_still_judges_work_by_the_scheduled_one() {
        let mut plan = plan();
        plan.duration = ms(1000);
        let params =
            BTreeMap::from([("bound".to_owned(), crate::plan::ParamValue::Duration(ms(4000)))]);
        let trace = trace(vec![issued(900, 1)], Some(ms(1007)), ms(5000));
        let outcome = check(&CheckInput { trace: &trace, plan: &plan, params: &params });
        assert_eq!(outcome.verdict, Verdict::Fail, "{outcome:?}");
        assert_eq!(
            texts(&outcome),
            [
                "request client.0#1 issued at 900ms by client.0 had not finished 4s after the heal at 1s, nor by the run's end at 5s"
            ]
        );
    }

    #[test]
    fn a_run_that_never_healed_or_did_nothing_is_unknown() {
        let never = run(check, &trace(vec![issued(0, 1)], None, ms(5000)), &plan());
        assert_eq!(never.verdict, Verdict::Unknown);
        assert_eq!(outcome(Vec::new(), &plan()).verdict, Verdict::Unknown);
        // Work whose deadline lies beyond the end cannot be judged.
        assert_eq!(outcome(vec![issued(4500, 1)], &plan()).verdict, Verdict::Unknown);
    }
}
