//! `per_pipe_order`: messages on one pipe arrive in the order they were sent.
//!
//! Pipe ids are local to each end, so the checker cannot pair a sender's `Enqueue`
//! with the receiver's `Deliver`. It reads order from the message ids instead:
//! `design/ctx.rs` packs into each id the replica and incarnation that made it and a
//! counter that grows in creation order ([`MsgOrigin`]). For every (receiving
//! replica, socket, pipe), the `Deliver`s of ids made by one incarnation of one
//! replica must come with counters that never go down. An equal counter is a resend
//! (a REQ resends the same id) and is not a reordering.
//!
//! Only messages made by the pipe's peer are judged when the peer is known (the
//! receiver's `Connect { peer }`): a message forwarded by a broker or a device may
//! have taken different paths before the last hop (replies from two workers coming
//! back through one broker), and its order on the last pipe proves nothing about the
//! pipe. When the trace does not name the peer every id is judged (the runtime
//! records `peer: None` today, so a DEALER client's replies coming back through a
//! broker from two workers could read as reordered). Messages without
//! an id are skipped; a trace in which no message with an id was delivered checked
//! nothing, and says `Unknown`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::plan::Replica;
use crate::socket::PipeId;
use crate::trace::{EventKind, MsgId, SocketIndex};

use super::Invariant;
use super::verdict::{CheckInput, MsgOrigin, Outcome, Violation, dur};

pub const NAME: &str = "per_pipe_order";

/// `per_pipe_order` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "messages on one pipe arrive in the order they were sent";
    Invariant::new(NAME, summary, check)
}

/// One pipe at the receiving end: (replica, socket, pipe).
type PipeKey = (Replica, Option<SocketIndex>, PipeId);

pub fn check(input: &CheckInput) -> Outcome {
    let mut peers: BTreeMap<PipeKey, Replica> = BTreeMap::new();
    // (pipe, origin replica, incarnation) -> the highest id delivered so far, and when.
    let mut last: BTreeMap<(PipeKey, Replica, u32), (MsgId, Duration)> = BTreeMap::new();
    let (mut judged, mut forwarded) = (0u64, 0u64);
    let mut violations = Vec::new();
    for event in input.trace.iter() {
        let Some(node) = event.node else { continue };
        let (pipe, msg) = match &event.kind {
            EventKind::Connect { pipe, peer: Some(peer) } => {
                peers.insert((node, event.socket, *pipe), *peer);
                continue;
            }
            EventKind::Deliver { pipe, msg, .. } => (*pipe, msg),
            _ => continue,
        };
        let Some(id) = msg.id else { continue };
        let key = (node, event.socket, pipe);
        let origin = MsgOrigin::decode(&input.plan.topology, id);
        if peers.get(&key).is_some_and(|peer| *peer != origin.node) {
            forwarded += 1;
            continue;
        }
        judged += 1;
        let slot = (key, origin.node, origin.incarnation);
        match last.get(&slot) {
            Some(&(before, before_at))
                if MsgOrigin::decode(&input.plan.topology, before).counter > origin.counter =>
            {
                violations.push(Violation::new(
                    event.at,
                    Some(node),
                    format!(
                        "{} pipe {pipe} delivered message {id} at {} after message {before} (delivered at {}), though {} made {id} first",
                        input.socket_name(node, event.socket),
                        dur(event.at),
                        dur(before_at),
                        input.node_name(origin.node),
                        id = input.msg_name(id),
                        before = input.msg_name(before)
                    ),
                ));
            }
            _ => {
                last.insert(slot, (id, event.at));
            }
        }
    }
    if judged == 0 {
        return Outcome::unknown(
            NAME,
            "no message with an id came straight from its maker over a pipe: nothing to check",
        );
    }
    let note = format!(
        "{judged} deliveries on {} pipes checked; {forwarded} forwarded messages not judged",
        last.keys().map(|(pipe, ..)| pipe).collect::<std::collections::BTreeSet<_>>().len()
    );
    Outcome::from_violations(NAME, violations).with_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{
        at, ms, msg, msg_id, node, plan_with, run, texts, trace,
    };
    use crate::plan::ScenarioPlan;
    use crate::socket::SocketType;
    use crate::trace::TraceEvent;

    fn pipeline() -> ScenarioPlan {
        plan_with(&[("pusher", 2, &[SocketType::Push]), ("puller", 1, &[SocketType::Pull])])
    }

    /// Message number `counter` of incarnation 0 of `pusher.{from}`, delivered on `pipe`.
    fn deliver(t: u64, pipe: PipeId, from: u32, counter: u32) -> TraceEvent {
        let m = msg(Some(msg_id(node(0, from), 0, counter)), None);
        at(ms(t), node(1, 0), Some(0), EventKind::Deliver { pipe, depth: 1, hwm: 1000, msg: m })
    }

    fn outcome(events: Vec<TraceEvent>) -> Outcome {
        run(check, &trace(events, Some(ms(1000)), ms(2000)), &pipeline())
    }

    #[test]
    fn passes_when_each_maker_s_messages_arrive_in_order_and_resends_repeat() {
        // Two makers interleave on one pipe, each in order; one id comes twice.
        let events = vec![
            deliver(10, 1, 0, 1),
            deliver(20, 1, 1, 5),
            deliver(30, 1, 0, 2),
            deliver(40, 1, 0, 2),
            deliver(50, 1, 1, 6),
            deliver(60, 2, 0, 1),
        ];
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
    }

    #[test]
    fn out_of_order_ids_on_one_pipe_are_violations_naming_the_pipe_and_both_ids() {
        let events = vec![
            deliver(10, 1, 0, 3),
            deliver(20, 1, 0, 1),
            deliver(30, 1, 0, 2),
            deliver(40, 2, 0, 0),
        ];
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome)[0],
            "puller.0.pull pipe 1 delivered message pusher.0#1 at 20ms after message pusher.0#3 (delivered at 10ms), though pusher.0 made pusher.0#1 first"
        );
        assert_eq!(outcome.violations.len(), 2, "{outcome:?}");
    }

    #[test]
    fn a_new_incarnation_starts_its_counter_again() {
        let restarted = msg(Some(msg_id(node(0, 0), 1, 0)), None);
        let kind = EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg: restarted };
        let events = vec![deliver(10, 1, 0, 9), at(ms(20), node(1, 0), Some(0), kind)];
        assert_eq!(outcome(events).verdict, Verdict::Pass);
    }

    #[test]
    fn messages_forwarded_by_the_pipe_s_peer_are_not_judged() {
        // The pipe's peer is pusher.1, so pusher.0's ids came through it.
        let connect = EventKind::Connect { pipe: 1, peer: Some(node(0, 1)) };
        let events = vec![
            at(ms(0), node(1, 0), Some(0), connect),
            deliver(10, 1, 0, 3),
            deliver(20, 1, 0, 1),
            deliver(30, 1, 1, 1),
        ];
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(
            outcome.note.as_deref(),
            Some("1 deliveries on 1 pipes checked; 2 forwarded messages not judged")
        );
    }

    #[test]
    fn nothing_with_an_id_is_unknown() {
        let kind = EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg: msg(None, None) };
        let outcome = outcome(vec![at(ms(10), node(1, 0), Some(0), kind)]);
        assert_eq!(outcome.verdict, Verdict::Unknown);
    }
}
