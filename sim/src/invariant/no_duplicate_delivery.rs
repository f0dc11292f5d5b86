//! `no_duplicate_delivery`: the application at one socket takes each message id once.
//!
//! It reads the application's `Receive` events, keyed by replica and socket, and
//! reports every receive of an id that socket has delivered before, with the time of
//! the first delivery and of the repeat. Messages without a patchbay id (`id: None`,
//! say from a real NNG peer) cannot be told apart and are skipped. A restarted replica
//! keeps its key: it is the same node in the topology, and a message it is handed
//! again after a restart is still handed to it twice. A run in which no message with
//! an id reached an application checked nothing, and says `Unknown`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::plan::Replica;
use crate::trace::{EventKind, MsgId, SocketIndex};

use super::Invariant;
use super::verdict::{CheckInput, Outcome, Violation, dur};

pub const NAME: &str = "no_duplicate_delivery";

/// `no_duplicate_delivery` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    Invariant::new(NAME, "no message id is delivered to the application twice at one node", check)
}

pub fn check(input: &CheckInput) -> Outcome {
    // (node, socket, id) -> when it was first received.
    let mut first_seen: BTreeMap<(Replica, Option<SocketIndex>, MsgId), Duration> = BTreeMap::new();
    let mut received = 0u64;
    let mut violations = Vec::new();
    for event in input.trace.iter() {
        let EventKind::Receive { msg } = &event.kind else { continue };
        let (Some(node), Some(id)) = (event.node, msg.id) else { continue };
        received += 1;
        match first_seen.get(&(node, event.socket, id)) {
            None => {
                first_seen.insert((node, event.socket, id), event.at);
            }
            Some(&first) => violations.push(Violation::new(
                event.at,
                Some(node),
                format!(
                    "message {id} delivered twice to the application at {}: at {} and again at {}",
                    input.socket_name(node, event.socket),
                    dur(first),
                    dur(event.at),
                    id = input.msg_name(id)
                ),
            )),
        }
    }
    if received == 0 {
        // Nothing with an id reached an application: a pass would be vacuous.
        return Outcome::unknown(NAME, "no message with an id was received: nothing to check");
    }
    let note = format!("{received} receives of messages with ids checked");
    Outcome::from_violations(NAME, violations).with_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{REQ, at, client, ms, msg, plan, run, texts, trace};
    use crate::trace::TraceEvent;

    fn receive(t: u64, node: u32, id: Option<MsgId>) -> TraceEvent {
        at(ms(t), client(node), Some(REQ), EventKind::Receive { msg: msg(id, None) })
    }

    fn outcome(events: Vec<TraceEvent>) -> Outcome {
        run(check, &trace(events, Some(ms(1000)), ms(2000)), &plan())
    }

    #[test]
    fn passes_when_each_id_arrives_once_per_node() {
        // The same id at two different replicas is two deliveries, not a duplicate.
        let events =
            vec![receive(10, 0, Some(1)), receive(20, 1, Some(1)), receive(30, 0, Some(2))];
        assert_eq!(outcome(events).verdict, Verdict::Pass);
    }

    #[test]
    fn reports_every_duplicate_with_both_times() {
        let events = vec![
            receive(10, 0, Some(1)),
            receive(20, 0, Some(2)),
            receive(30, 0, Some(1)),
            receive(40, 0, Some(1)),
        ];
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "message client.0#1 delivered twice to the application at client.0.req: at 10ms and again at 30ms",
                "message client.0#1 delivered twice to the application at client.0.req: at 10ms and again at 40ms",
            ]
        );
        assert_eq!(outcome.violations[0].at, ms(30));
        assert_eq!(outcome.violations[0].node, Some(client(0)));
    }

    #[test]
    fn messages_without_an_id_are_ignored() {
        let events = vec![receive(10, 0, None), receive(20, 0, None), receive(30, 0, Some(1))];
        assert_eq!(outcome(events).verdict, Verdict::Pass);
    }

    #[test]
    fn nothing_with_an_id_received_is_unknown_not_a_pass() {
        let outcome = outcome(vec![receive(10, 0, None)]);
        assert_eq!(outcome.verdict, Verdict::Unknown);
        assert_eq!(
            outcome.note.as_deref(),
            Some("no message with an id was received: nothing to check")
        );
    }

    #[test]
    fn sends_and_deliveries_to_the_socket_queue_are_not_receives() {
        let events = vec![
            receive(10, 0, Some(1)),
            at(ms(20), client(0), Some(REQ), EventKind::Send { msg: msg(Some(1), None) }),
            at(
                ms(30),
                client(0),
                Some(REQ),
                EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg: msg(Some(1), None) },
            ),
        ];
        assert_eq!(outcome(events).verdict, Verdict::Pass);
    }
}
