//! `fair_queuing`: no ready peer waits more than the bound while others are served.
//!
//! PULL, DEALER, ROUTER, SUB, XSUB and REP fair-queue their input across pipes
//! (docs/library-semantics.md, "Routing"). For each such socket the checker keeps, per
//! pipe, the messages that arrived (`Deliver`) and that the application has not taken
//! yet. Each time the application takes one (`Receive`), every *other* pipe whose
//! oldest waiting message has waited longer than `bound` (default 1s) is starved:
//! the socket served someone else while it waited. Each waiting message is reported
//! at most once, at the first receive that passed it over.
//!
//! The approximation: `Receive` names no pipe, so it is paired with an arrival by
//! message id (the oldest waiting copy of that id, on any pipe), and a message
//! without an id is taken to be the oldest head of all pipes, which is what a fair
//! queue serving in arrival order would hand out and so can never show starvation.
//! A message dropped from a pipe (`Drop` naming it) stops waiting; a kill or crash
//! of the node empties its queues. A trace in which no receive ever happened while
//! another pipe had something waiting never tested fairness, and says `Unknown`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::plan::{FaultKind, Replica};
use crate::socket::{PipeId, SocketType};
use crate::trace::{EventKind, MsgId, SocketIndex};
use crate::vocab::ParamDefault;

use super::verdict::{CheckInput, Outcome, Violation, dur};
use super::{Invariant, bound};

pub const NAME: &str = "fair_queuing";

/// `fair_queuing` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    Invariant::new(NAME, "no ready peer waits more than the bound while others are served", check)
        .param(bound(ParamDefault::Value("1s")))
}

/// The bound of a hand-built check input that gives none: the declared default.
const DEFAULT_BOUND: Duration = Duration::from_secs(1);

const FAIR_QUEUED: [SocketType; 6] = [
    SocketType::Pull,
    SocketType::Dealer,
    SocketType::Router,
    SocketType::Sub,
    SocketType::XSub,
    SocketType::Rep,
];

/// A message waiting on a pipe for the application.
#[derive(Debug)]
struct Waiting {
    id: Option<MsgId>,
    arrived: Duration,
    /// Whether its starvation has been reported already.
    reported: bool,
}

type Queues = BTreeMap<PipeId, VecDeque<Waiting>>;

pub fn check(input: &CheckInput) -> Outcome {
    let bound = input.duration_param("bound").unwrap_or(DEFAULT_BOUND);
    let mut sockets: BTreeMap<(Replica, SocketIndex), Queues> = BTreeMap::new();
    let (mut receives, mut contended) = (0u64, 0u64);
    let mut violations = Vec::new();
    for event in input.trace.iter() {
        if let EventKind::FaultBegin { fault, .. } = event.kind {
            let Some(f) = input.plan.faults.get(fault as usize) else { continue };
            if matches!(f.kind, FaultKind::Kill | FaultKind::Crash) {
                let hit = |node: &Replica| f.nodes.iter().any(|s| s.picks(*node));
                sockets.retain(|(node, _), _| !hit(node));
            }
            continue;
        }
        let (Some(node), Some(socket)) = (event.node, event.socket) else { continue };
        let fair = input.socket_type(node, Some(socket)).is_some_and(|t| FAIR_QUEUED.contains(&t));
        if !fair {
            continue;
        }
        let queues = sockets.entry((node, socket)).or_default();
        match &event.kind {
            EventKind::Deliver { pipe, msg, .. } => {
                let waiting = Waiting { id: msg.id, arrived: event.at, reported: false };
                queues.entry(*pipe).or_default().push_back(waiting);
            }
            EventKind::Drop {
                pipe: Some(pipe),
                msg: crate::trace::MsgInfo { id: Some(id), .. },
                ..
            } => {
                if let Some(queue) = queues.get_mut(pipe)
                    && let Some(i) = queue.iter().position(|w| w.id == Some(*id))
                {
                    queue.remove(i);
                }
            }
            EventKind::Receive { msg } => {
                receives += 1;
                let Some(served) = take(queues, msg.id) else { continue };
                let mut passed_over = false;
                for (pipe, queue) in queues.iter_mut().filter(|(p, _)| **p != served) {
                    let Some(head) = queue.front_mut() else { continue };
                    passed_over = true;
                    let waited = event.at.saturating_sub(head.arrived);
                    if waited > bound && !head.reported {
                        head.reported = true;
                        let id = head
                            .id
                            .map_or_else(|| "without an id".to_owned(), |i| input.msg_name(i));
                        violations.push(Violation::new(
                            event.at,
                            Some(node),
                            format!(
                                "{} pipe {pipe} starved: message {id} waited from {} to {} ({}, bound {}) while the application was served from pipe {served}",
                                input.socket_name(node, Some(socket)),
                                dur(head.arrived),
                                dur(event.at),
                                dur(waited),
                                dur(bound)
                            ),
                        ));
                    }
                }
                contended += u64::from(passed_over);
            }
            _ => {}
        }
    }
    if contended == 0 {
        return Outcome::unknown(
            NAME,
            format!(
                "{receives} receives, none while another pipe had a message waiting: fairness never tested"
            ),
        );
    }
    let note =
        format!("{receives} receives, {contended} with other pipes waiting; bound {}", dur(bound));
    Outcome::from_violations(NAME, violations).with_note(note)
}

/// Takes the message the application received off its pipe, and says which pipe:
/// the oldest waiting copy of its id, or without an id the oldest head of all.
fn take(queues: &mut Queues, id: Option<MsgId>) -> Option<PipeId> {
    let found = match id {
        Some(id) => queues
            .iter()
            .filter_map(|(pipe, q)| {
                q.iter().position(|w| w.id == Some(id)).map(|i| (q[i].arrived, *pipe, i))
            })
            .min(),
        None => {
            queues.iter().filter_map(|(pipe, q)| q.front().map(|w| (w.arrived, *pipe, 0))).min()
        }
    };
    let (_, pipe, i) = found?;
    queues.get_mut(&pipe).map(|q| q.remove(i));
    Some(pipe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{at, ms, msg, node, plan_with, run, texts, trace};
    use crate::plan::ScenarioPlan;
    use crate::trace::TraceEvent;

    fn puller() -> ScenarioPlan {
        plan_with(&[("sink", 1, &[SocketType::Pull])])
    }

    fn deliver(t: u64, pipe: PipeId, id: MsgId) -> TraceEvent {
        let kind = EventKind::Deliver { pipe, depth: 1, hwm: 1000, msg: msg(Some(id), None) };
        at(ms(t), node(0, 0), Some(0), kind)
    }

    fn receive(t: u64, id: MsgId) -> TraceEvent {
        at(ms(t), node(0, 0), Some(0), EventKind::Receive { msg: msg(Some(id), None) })
    }

    fn outcome(events: Vec<TraceEvent>) -> Outcome {
        run(check, &trace(events, Some(ms(1000)), ms(9000)), &puller())
    }

    #[test]
    fn passes_when_pipes_take_turns() {
        let events = vec![
            deliver(0, 1, 1),
            deliver(0, 1, 2),
            deliver(0, 2, 11),
            deliver(0, 2, 12),
            receive(10, 1),
            receive(20, 11),
            receive(30, 2),
            receive(40, 12),
        ];
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(
            outcome.note.as_deref(),
            Some("4 receives, 3 with other pipes waiting; bound 1s")
        );
    }

    #[test]
    fn a_starved_pipe_is_reported_once_per_waiting_message() {
        let mut events = vec![deliver(0, 2, 99)];
        for i in 0..4 {
            events.push(deliver(i * 600, 1, i));
            events.push(receive(i * 600 + 1, i));
        }
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "sink.0.pull pipe 2 starved: message sink.0#99 waited from 0 to 1201ms (1201ms, bound 1s) while the application was served from pipe 1"
            ]
        );
    }

    #[test]
    fn a_lone_pipe_never_tests_fairness() {
        let outcome = outcome(vec![deliver(0, 1, 1), receive(5000, 1)]);
        assert_eq!(outcome.verdict, Verdict::Unknown);
    }
}
