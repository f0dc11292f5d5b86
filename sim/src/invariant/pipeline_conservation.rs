//! `pipeline_conservation`: every task pushed is pulled exactly once.
//!
//! Tasks are what producers declare with `AppEvent::TaskIssued` (the `ventilator`
//! does), from the declaration on; a declared task that never got sent is lost too.
//! A trace without declarations falls back on the messages with an id that the
//! application sends (`Send`) on a PUSH socket of a pipeline's first stage: a group
//! with a PUSH socket and no PULL socket (nothing feeds it). A task is pulled when
//! the application takes it (`Receive`) at a PULL socket the plan wires to the PUSH
//! it left from; a later stage that forwards the same id on its own PUSH is
//! therefore not counted twice.
//!
//! What goes in must come out. A task pulled twice is a violation. So is a task
//! never pulled, including one lost with a killed or crashed node: the scenario
//! `pipeline-worker-killed` expects this invariant violated. The note keeps the two
//! apart ("lost with a killed node" per node, and "lost otherwise"): a task is lost
//! with a node when its last trace shows it there (delivered to that node's PULL and
//! never received, or queued at the pusher on a pipe to that node and dropped or
//! stuck) and a kill or crash of that node began after it got there. A task queued
//! on a pipe to a node killed before it was queued (a connecting libzmq PUSH keeps
//! dealing to a dead worker's pipe) is among the losses otherwise, and says so; the
//! note counts those apart. A task pulled
//! by a middle stage (a group that also pushes) that was killed before it finished
//! with it (its `WorkDone`, or its sending the id on) is lost with that node too:
//! pulled, but what went in did not come out. A run that
//! ended before its liveness phase cannot tell a task still in flight from a lost
//! one, so unattributed losses alone then make the verdict `Unknown`; so does a run
//! that pushed no task.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::plan::{GroupId, Replica};
use crate::socket::{PipeId, SocketType};
use crate::trace::{AppEvent, EventKind, MsgId, SocketIndex};

use super::verdict::{CheckInput, Outcome, ProcessEnds, Violation, dur};
use super::{Invariant, any_socket, requires};

pub const NAME: &str = "pipeline_conservation";

/// `pipeline_conservation` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "every task pushed is pulled exactly once, except tasks lost with a killed node, which are counted";
    Invariant::new(NAME, summary, check)
        .applies(|t, _| requires(any_socket(t, &[SocketType::Push]), "no node has a PUSH socket"))
}

/// Where a task was last seen before being pulled, and since when.
#[derive(Clone, Copy, Debug)]
struct Held {
    /// The node whose PULL it was delivered to, or the peer of the pipe it was queued on.
    node: Replica,
    since: Duration,
    /// Queued at the pusher (on a pipe to `node`), not yet delivered to `node`.
    queued: bool,
}

/// What became of one task.
#[derive(Debug)]
struct Task {
    pushed_at: Duration,
    pusher: Replica,
    /// The PULL sockets (group, socket index) wired to the PUSH it left from.
    pullers: Vec<(GroupId, usize)>,
    /// Where it was last seen before being pulled.
    held_by: Option<Held>,
    pulled: Vec<(Replica, Duration)>,
    /// Where a middle stage finished with it: its `WorkDone`, or its sending the id on.
    handled: Vec<(Replica, Duration)>,
}

pub fn check(input: &CheckInput) -> Outcome {
    let issued = input.issued_tasks();
    let mut tasks: BTreeMap<MsgId, Task> = BTreeMap::new();
    // The peer replica of each pipe, per (node, socket), from `Connect` events.
    let mut peers: BTreeMap<(Replica, Option<SocketIndex>, PipeId), Replica> = BTreeMap::new();
    for event in input.trace.iter() {
        let Some(node) = event.node else { continue };
        match &event.kind {
            EventKind::Connect { pipe, peer: Some(peer) } => {
                peers.insert((node, event.socket, *pipe), *peer);
            }
            EventKind::App(AppEvent::TaskIssued { id }) => {
                // Declared before it is sent: a task that never got out is lost too.
                let task = Task {
                    pushed_at: event.at,
                    pusher: node,
                    pullers: Vec::new(),
                    held_by: None,
                    pulled: Vec::new(),
                    handled: Vec::new(),
                };
                tasks.entry(*id).or_insert(task);
            }
            EventKind::App(AppEvent::WorkDone { id }) => {
                if let Some(task) = tasks.get_mut(id) {
                    task.handled.push((node, event.at));
                }
            }
            EventKind::Send { msg } => {
                if let Some(task) = msg.id.and_then(|id| tasks.get_mut(&id))
                    && task.pusher != node
                {
                    task.handled.push((node, event.at));
                }
                let (Some(id), Some(socket)) = (msg.id, event.socket) else { continue };
                let Some(pullers) = input.task_pullers(node, socket, id, &issued) else {
                    continue;
                };
                let task = tasks.entry(id).or_insert(Task {
                    pushed_at: event.at,
                    pusher: node,
                    pullers: Vec::new(),
                    held_by: None,
                    pulled: Vec::new(),
                    handled: Vec::new(),
                });
                if task.pullers.is_empty() {
                    task.pullers = pullers;
                }
            }
            EventKind::Enqueue { pipe, msg, .. } => {
                let Some(task) = msg.id.and_then(|id| tasks.get_mut(&id)) else { continue };
                if task.pusher == node
                    && let Some(peer) = peers.get(&(node, event.socket, *pipe))
                {
                    task.held_by = Some(Held { node: *peer, since: event.at, queued: true });
                }
            }
            EventKind::Deliver { msg, .. } | EventKind::Receive { msg } => {
                let Some(task) = msg.id.and_then(|id| tasks.get_mut(&id)) else { continue };
                let Some(socket) = event.socket else { continue };
                if !task.pullers.contains(&(node.group, usize::from(socket))) {
                    continue;
                }
                match event.kind {
                    EventKind::Receive { .. } => task.pulled.push((node, event.at)),
                    _ => {
                        task.held_by = Some(Held { node, since: event.at, queued: false });
                    }
                }
            }
            _ => {}
        }
    }
    judge(input, &tasks)
}

/// When a middle stage (a puller whose group also pushes) that pulled the task was
/// killed or crashed before it finished with it, and which, if it was.
fn killed_before_done(
    input: &CheckInput,
    ends: &ProcessEnds,
    task: &Task,
    puller: Replica,
    pulled_at: Duration,
) -> Option<(Duration, &'static str)> {
    let group = input.plan.topology.groups.get(puller.group.0 as usize)?;
    if !group.has_socket_type(&[SocketType::Push]) {
        return None;
    }
    let (killed_at, how) = ends.how(puller).find(|&(k, _)| k >= pulled_at)?;
    let done = task.handled.iter().any(|(n, t)| *n == puller && *t >= pulled_at && *t <= killed_at);
    (!done).then_some((killed_at, how))
}

fn judge(input: &CheckInput, tasks: &BTreeMap<MsgId, Task>) -> Outcome {
    let mut violations = Vec::new();
    // By node and how it went down (`killed`, `crashed`).
    let mut lost_with: BTreeMap<(Replica, &str), u64> = BTreeMap::new();
    let mut lost_otherwise = 0u64;
    // Of those, queued for a node killed before they were.
    let mut queued_for_dead = 0u64;
    let end = input.end();
    let ends = input.process_ends();
    for (id, task) in tasks {
        let pushed = format!(
            "task {id} pushed at {} by {}",
            dur(task.pushed_at),
            input.node_name(task.pusher),
            id = input.msg_name(id)
        );
        if let [(first, first_at), rest @ ..] = task.pulled.as_slice() {
            if let Some((killed_at, how)) =
                killed_before_done(input, &ends, task, *first, *first_at)
            {
                *lost_with.entry((*first, how)).or_default() += 1;
                violations.push(Violation::new(
                    task.pushed_at,
                    Some(task.pusher),
                    format!(
                        "{pushed} was pulled by {} at {}, which was {how} at {} before finishing it",
                        input.node_name(*first),
                        dur(*first_at),
                        dur(killed_at)
                    ),
                ));
            }
            for (again, again_at) in rest {
                violations.push(Violation::new(
                    *again_at,
                    Some(*again),
                    format!(
                        "{pushed} was pulled twice: by {} at {} and by {} at {}",
                        input.node_name(*first),
                        dur(*first_at),
                        input.node_name(*again),
                        dur(*again_at)
                    ),
                ));
            }
            continue;
        }
        let killed = task.held_by.and_then(|held| {
            ends.how(held.node).find(|&(k, _)| k >= held.since).map(|(k, how)| (held.node, k, how))
        });
        match killed {
            Some((holder, killed_at, how)) => {
                *lost_with.entry((holder, how)).or_default() += 1;
                violations.push(Violation::new(
                    task.pushed_at,
                    Some(task.pusher),
                    format!(
                        "{pushed} was lost with {}, {how} at {} while holding it",
                        input.node_name(holder),
                        dur(killed_at)
                    ),
                ));
            }
            None => {
                lost_otherwise += 1;
                // Queued on a pipe to a node already killed: libzmq keeps the pipe of
                // an address it connects to and deals to it all the same.
                let dead = task.held_by.filter(|h| h.queued).and_then(|held| {
                    ends.how(held.node)
                        .rfind(|&(k, _)| k < held.since)
                        .map(|(k, how)| (held, k, how))
                });
                let text = match dead {
                    Some((held, killed_at, how)) => {
                        queued_for_dead += 1;
                        format!(
                            "{pushed} was queued at {} for {}, {how} at {} before it was queued, and never pulled (run ended at {})",
                            dur(held.since),
                            input.node_name(held.node),
                            dur(killed_at),
                            dur(end)
                        )
                    }
                    None => format!("{pushed} was never pulled (run ended at {})", dur(end)),
                };
                violations.push(Violation::new(task.pushed_at, Some(task.pusher), text));
            }
        }
    }
    let mut note = format!("{} tasks pushed", tasks.len());
    for ((node, how), n) in &lost_with {
        note.push_str(&format!("; lost with {how} node {}: {n}", input.node_name(*node)));
    }
    note.push_str(&format!("; lost otherwise: {lost_otherwise}"));
    if queued_for_dead > 0 {
        note.push_str(&format!(" ({queued_for_dead} queued for a node already down)"));
    }
    if tasks.is_empty() {
        return Outcome::unknown(
            NAME,
            "no task was pushed at a pipeline's first stage: nothing to check",
        );
    }
    let only_in_flight = violations.len() as u64 == lost_otherwise;
    if input.trace.healed_at.is_none() && lost_otherwise > 0 && only_in_flight {
        // Without a liveness phase an unpulled task may still have been on its way.
        return Outcome::unknown(
            NAME,
            format!(
                "{note}; the run ended before its liveness phase, so the unpulled tasks may have been in flight"
            ),
        );
    }
    Outcome::from_violations(NAME, violations).with_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{
        at, connect, ms, msg, node, node_fault, plan_with, run, run_event, texts, trace,
    };
    use crate::plan::{FaultKind, ScenarioPlan};
    use crate::trace::TraceEvent;

    const VENT: u32 = 0;
    const WORKER: u32 = 1;

    /// `ventilator` (PUSH) -> 2 `worker`s (PULL, PUSH) -> `sink` (PULL); worker.1 is
    /// killed at 500ms.
    fn pipeline() -> ScenarioPlan {
        let mut plan = plan_with(&[
            ("ventilator", 1, &[SocketType::Push]),
            ("worker", 2, &[SocketType::Pull, SocketType::Push]),
            ("sink", 1, &[SocketType::Pull]),
        ]);
        connect(&mut plan, (WORKER, 0), (VENT, 0));
        connect(&mut plan, (WORKER, 1), (2, 0));
        plan.faults = vec![node_fault(FaultKind::Kill, ms(500), node(WORKER, 1))];
        plan
    }

    fn push(t: u64, id: MsgId) -> TraceEvent {
        at(ms(t), node(VENT, 0), Some(0), EventKind::Send { msg: msg(Some(id), None) })
    }

    fn deliver(t: u64, worker: u32, id: MsgId) -> TraceEvent {
        let kind = EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg: msg(Some(id), None) };
        at(ms(t), node(WORKER, worker), Some(0), kind)
    }

    fn pull(t: u64, worker: u32, id: MsgId) -> TraceEvent {
        at(ms(t), node(WORKER, worker), Some(0), EventKind::Receive { msg: msg(Some(id), None) })
    }

    /// The worker forwarding the same id to the sink, which pulls it.
    fn forwarded(t: u64, worker: u32, id: MsgId) -> [TraceEvent; 2] {
        let m = msg(Some(id), None);
        [
            at(ms(t), node(WORKER, worker), Some(1), EventKind::Send { msg: m }),
            at(ms(t + 1), node(2, 0), Some(0), EventKind::Receive { msg: m }),
        ]
    }

    fn kill(t: u64) -> TraceEvent {
        run_event(ms(t), EventKind::FaultBegin { fault: 0, touched: 1 })
    }

    fn outcome(events: Vec<TraceEvent>, healed_at: Option<u64>) -> Outcome {
        run(check, &trace(events, healed_at.map(ms), ms(5000)), &pipeline())
    }

    #[test]
    fn passes_when_every_task_is_pulled_once_and_forwarding_is_not_a_second_pull() {
        let mut events = vec![push(0, 1), push(1, 2), deliver(5, 0, 1), pull(6, 0, 1)];
        events.extend(forwarded(7, 0, 1));
        events.extend([deliver(8, 1, 2), pull(9, 1, 2)]);
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(outcome.note.as_deref(), Some("2 tasks pushed; lost otherwise: 0"));
    }

    #[test]
    fn a_task_pulled_twice_is_a_violation() {
        let events = vec![push(0, 1), pull(6, 0, 1), pull(9, 1, 1)];
        let outcome = outcome(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "task ventilator.0#1 pushed at 0 by ventilator.0 was pulled twice: by worker.0 at 6ms and by worker.1 at 9ms"
            ]
        );
    }

    #[test]
    fn a_task_lost_with_a_killed_node_is_counted_apart_and_still_fails() {
        let events = vec![
            push(0, 1),
            push(1, 2),
            push(2, 3),
            deliver(5, 1, 1),
            deliver(6, 1, 2),
            pull(7, 1, 1),
            at(ms(8), node(WORKER, 1), None, EventKind::App(AppEvent::WorkDone { id: 1 })),
            kill(500),
            deliver(600, 0, 3),
        ];
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "task ventilator.0#2 pushed at 1ms by ventilator.0 was lost with worker.1, killed at 500ms while holding it",
                "task ventilator.0#3 pushed at 2ms by ventilator.0 was never pulled (run ended at 5s)",
            ]
        );
        assert_eq!(
            outcome.note.as_deref(),
            Some("3 tasks pushed; lost with killed node worker.1: 1; lost otherwise: 1")
        );
    }

    /// The ventilator, connected to worker.1, queues task 1 for it; worker.1's fault
    /// begins at 500ms; then the ventilator queues task 2 for it all the same.
    fn queued_around_the_fault() -> Vec<TraceEvent> {
        let vent = |t, kind| at(ms(t), node(VENT, 0), Some(0), kind);
        let queue = |t, id| {
            vent(t, EventKind::Enqueue { pipe: 2, depth: 1, hwm: 1000, msg: msg(Some(id), None) })
        };
        vec![
            vent(0, EventKind::Connect { pipe: 2, peer: Some(node(WORKER, 1)) }),
            push(10, 1),
            queue(10, 1),
            kill(500),
            push(600, 2),
            queue(600, 2),
        ]
    }

    /// A task the pusher queued on its pipe to a worker killed before the task was
    /// queued (a connecting PUSH keeps dealing to it) is said to be so, and counted
    /// among the losses otherwise; one queued before the kill is lost with the worker.
    #[test]
    fn a_task_queued_for_a_worker_already_killed_is_named_as_such() {
        let mut events = queued_around_the_fault();
        events.push(push(700, 3));
        let outcome = outcome(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "task ventilator.0#1 pushed at 10ms by ventilator.0 was lost with worker.1, killed at 500ms while holding it",
                "task ventilator.0#2 pushed at 600ms by ventilator.0 was queued at 600ms for worker.1, killed at 500ms before it was queued, and never pulled (run ended at 5s)",
                "task ventilator.0#3 pushed at 700ms by ventilator.0 was never pulled (run ended at 5s)",
            ]
        );
        assert_eq!(
            outcome.note.as_deref(),
            Some(
                "3 tasks pushed; lost with killed node worker.1: 1; lost otherwise: 2 (1 queued for a node already down)"
            )
        );
    }

    /// From the new-user audit: in `pipeline-worker-crash` a crashed worker was said
    /// to be killed.
    #[test]
    fn a_crashed_worker_is_said_to_have_crashed() {
        let mut plan = pipeline();
        plan.faults = vec![node_fault(FaultKind::Crash, ms(500), node(WORKER, 1))];
        let events = queued_around_the_fault();
        let outcome = run(check, &trace(events, Some(ms(1000)), ms(5000)), &plan);
        assert_eq!(
            texts(&outcome),
            [
                "task ventilator.0#1 pushed at 10ms by ventilator.0 was lost with worker.1, crashed at 500ms while holding it",
                "task ventilator.0#2 pushed at 600ms by ventilator.0 was queued at 600ms for worker.1, crashed at 500ms before it was queued, and never pulled (run ended at 5s)",
            ]
        );
        assert_eq!(
            outcome.note.as_deref(),
            Some(
                "2 tasks pushed; lost with crashed node worker.1: 1; lost otherwise: 1 (1 queued for a node already down)"
            )
        );
    }

    #[test]
    fn a_task_pulled_by_a_worker_killed_before_finishing_it_is_lost_with_that_worker() {
        let done =
            |t, w, id| at(ms(t), node(WORKER, w), None, EventKind::App(AppEvent::WorkDone { id }));
        // worker.1 finished task 1 before the kill, not task 2.
        let events =
            vec![push(0, 1), push(1, 2), pull(5, 1, 1), done(50, 1, 1), pull(50, 1, 2), kill(500)];
        let outcome = outcome(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "task ventilator.0#2 pushed at 1ms by ventilator.0 was pulled by worker.1 at 50ms, which was killed at 500ms before finishing it"
            ]
        );
        assert!(outcome.note.as_deref().is_some_and(|n| n.contains("worker.1: 1")));
    }

    #[test]
    fn unpulled_tasks_without_a_liveness_phase_are_unknown_but_a_killed_loss_is_not() {
        let in_flight = outcome(vec![push(0, 1), deliver(5, 0, 1)], None);
        assert_eq!(in_flight.verdict, Verdict::Unknown);
        let killed = outcome(vec![push(0, 1), deliver(5, 1, 1), kill(500)], None);
        assert_eq!(killed.verdict, Verdict::Fail);
    }

    #[test]
    fn declared_tasks_are_the_tasks_and_one_never_sent_is_lost() {
        let issued =
            |t, id| at(ms(t), node(VENT, 0), None, EventKind::App(AppEvent::TaskIssued { id }));
        // Message 9 is sent but undeclared (a batch start): not a task.
        let events = vec![push(0, 9), issued(1, 1), push(1, 1), pull(6, 0, 1), issued(2, 2)];
        let outcome = outcome(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "task ventilator.0#2 pushed at 2ms by ventilator.0 was never pulled (run ended at 5s)"
            ]
        );
        assert!(outcome.note.as_deref().is_some_and(|n| n.starts_with("2 tasks pushed")));
    }

    #[test]
    fn no_task_pushed_is_unknown() {
        assert_eq!(outcome(Vec::new(), Some(1000)).verdict, Verdict::Unknown);
    }
}
