//! `multipart_atomicity`: a multipart message arrives whole or not at all.
//!
//! The socket trace knows messages, not frames, so the receiving design says what it
//! got: `AppEvent::PartsReceived { id, parts, expected }`, recorded by every design
//! that receives multipart messages (a subscriber taking `[topic, payload]` from a
//! publisher). Each such event with `parts != expected` is a torn message. A run in
//! which no design recorded one checked nothing (the topology may send no multipart
//! message, or its designs do not report frames yet), and says `Unknown`.

use crate::trace::{AppEvent, EventKind};

use super::Invariant;
use super::verdict::{CheckInput, Outcome, Violation, dur};

pub const NAME: &str = "multipart_atomicity";

/// `multipart_atomicity` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "a multipart message arrives whole or not at all";
    Invariant::new(NAME, summary, check)
}

pub fn check(input: &CheckInput) -> Outcome {
    let mut received = 0u64;
    let mut violations = Vec::new();
    for event in input.trace.iter() {
        let EventKind::App(app) = &event.kind else { continue };
        let AppEvent::PartsReceived { id, parts, expected } = *app else { continue };
        received += 1;
        if parts != expected {
            let who = event.node.map_or_else(|| "?".to_owned(), |n| input.node_name(n));
            violations.push(Violation::new(
                event.at,
                event.node,
                format!(
                    "{who} received message {id} at {} as {parts} of its {expected} frames",
                    dur(event.at),
                    id = input.msg_name(id)
                ),
            ));
        }
    }
    if received == 0 {
        return Outcome::unknown(
            NAME,
            "no design reported the frames of a multipart message it received: nothing to check",
        );
    }
    let note = format!("{received} multipart messages received");
    Outcome::from_violations(NAME, violations).with_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{at, client, ms, plan, run, texts, trace};
    use crate::trace::{EventKind, TraceEvent};

    fn parts(t: u64, id: u64, parts: u32, expected: u32) -> TraceEvent {
        let kind = EventKind::App(AppEvent::PartsReceived { id, parts, expected });
        at(ms(t), client(0), None, kind)
    }

    fn outcome(events: Vec<TraceEvent>) -> Outcome {
        run(check, &trace(events, Some(ms(1000)), ms(2000)), &plan())
    }

    #[test]
    fn passes_when_every_message_arrives_whole() {
        let outcome = outcome(vec![parts(10, 1, 2, 2), parts(20, 2, 3, 3)]);
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert_eq!(outcome.note.as_deref(), Some("2 multipart messages received"));
    }

    #[test]
    fn every_torn_message_is_a_violation() {
        let outcome = outcome(vec![parts(10, 1, 1, 2), parts(20, 2, 2, 2), parts(30, 3, 3, 2)]);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "client.0 received message client.0#1 at 10ms as 1 of its 2 frames",
                "client.0 received message client.0#3 at 30ms as 3 of its 2 frames",
            ]
        );
    }

    #[test]
    fn no_multipart_report_is_unknown() {
        assert_eq!(outcome(Vec::new()).verdict, Verdict::Unknown);
    }
}
