//! `hwm_bound`: no pipe holds more than its high-water mark, and only socket types
//! that drop at the mark ever drop there.
//!
//! Every `Enqueue` (outbound) and `Deliver` (inbound) records the pipe's depth after
//! the push and its bound; a depth above a non-zero bound is a violation (0 means
//! unlimited). A `Drop { reason: Hwm }` is legal only at a socket whose type's
//! `hwm_policy()` is `Drop` (PUB, XPUB, ROUTER and the others `socket/mod.rs` lists):
//! PUSH, DEALER, REQ and PAIR must block the sender instead (docs/library-semantics.md,
//! "High-water marks"), so a `Hwm` drop there is a lost message. SUB and XSUB block
//! on their receive side but send only subscriptions upstream, which libzmq's
//! distributor drops at a full pipe like any PUB message (`socket/subscribe.rs`), so a
//! `Hwm` drop there is legal too. A drop at a socket
//! the plan does not know cannot be judged and is skipped. A trace with no queueing
//! event and no drop checked nothing, and says `Unknown`.

use crate::socket::{DropReason, HwmPolicy, SocketType};
use crate::trace::EventKind;

use super::Invariant;
use super::verdict::{CheckInput, Outcome, Violation};

pub const NAME: &str = "hwm_bound";

/// `hwm_bound` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    Invariant::new(
        NAME,
        "no pipe holds more than its high-water mark, and only socket types that drop ever drop",
        check,
    )
}

pub fn check(input: &CheckInput) -> Outcome {
    let mut violations = Vec::new();
    let (mut queued, mut drops) = (0u64, 0u64);
    for event in input.trace.iter() {
        let Some(node) = event.node else { continue };
        let (direction, pipe, depth, hwm, msg) = match &event.kind {
            EventKind::Enqueue { pipe, depth, hwm, msg } => ("outbound", pipe, depth, hwm, msg),
            EventKind::Deliver { pipe, depth, hwm, msg } => ("inbound", pipe, depth, hwm, msg),
            EventKind::Drop { reason: DropReason::Hwm, msg, .. } => {
                drops += 1;
                let Some(socket_type) = input.socket_type(node, event.socket) else { continue };
                let upstream_only = matches!(socket_type, SocketType::Sub | SocketType::XSub);
                if socket_type.hwm_policy() == HwmPolicy::Block && !upstream_only {
                    let id =
                        msg.id.map_or_else(|| "without an id".to_owned(), |i| input.msg_name(i));
                    violations.push(Violation::new(
                        event.at,
                        Some(node),
                        format!(
                            "{} dropped message {id} at its high-water mark at {}, but a {socket_type} socket must block, not drop",
                            input.socket_name(node, event.socket),
                            super::verdict::dur(event.at)
                        ),
                    ));
                }
                continue;
            }
            _ => continue,
        };
        queued += 1;
        if *hwm != 0 && depth > hwm {
            let id = msg.id.map_or_else(|| "without an id".to_owned(), |i| input.msg_name(i));
            violations.push(Violation::new(
                event.at,
                Some(node),
                format!(
                    "{} pipe {pipe} held {depth} {direction} messages at {}, above its high-water mark of {hwm} (message {id})",
                    input.socket_name(node, event.socket),
                    super::verdict::dur(event.at)
                ),
            ));
        }
    }
    if queued == 0 && drops == 0 {
        return Outcome::unknown(NAME, "no message was queued or dropped: nothing to check");
    }
    let note = format!("{queued} enqueues and deliveries, {drops} high-water-mark drops checked");
    Outcome::from_violations(NAME, violations).with_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{at, ms, msg, node, plan_with, run, texts, trace};
    use crate::plan::ScenarioPlan;
    use crate::trace::TraceEvent;

    /// Group 0 `publisher` with a PUB; group 1 `pusher` with a PUSH.
    fn two_senders() -> ScenarioPlan {
        plan_with(&[("publisher", 1, &[SocketType::Pub]), ("pusher", 1, &[SocketType::Push])])
    }

    fn enqueue(t: u64, group: u32, depth: u32, hwm: u32) -> TraceEvent {
        let kind = EventKind::Enqueue { pipe: 1, depth, hwm, msg: msg(Some(7), None) };
        at(ms(t), node(group, 0), Some(0), kind)
    }

    fn deliver(t: u64, group: u32, depth: u32, hwm: u32) -> TraceEvent {
        let kind = EventKind::Deliver { pipe: 2, depth, hwm, msg: msg(Some(8), None) };
        at(ms(t), node(group, 0), Some(0), kind)
    }

    fn hwm_drop(t: u64, group: u32) -> TraceEvent {
        let kind = EventKind::Drop { pipe: Some(1), reason: DropReason::Hwm, msg: msg(None, None) };
        at(ms(t), node(group, 0), Some(0), kind)
    }

    fn outcome(events: Vec<TraceEvent>) -> Outcome {
        run(check, &trace(events, Some(ms(1000)), ms(2000)), &two_senders())
    }

    #[test]
    fn passes_at_the_mark_with_unlimited_pipes_and_drops_where_the_type_drops() {
        let events = vec![
            enqueue(10, 0, 10, 10),
            deliver(20, 1, 10, 10),
            enqueue(30, 1, 5000, 0),
            hwm_drop(40, 0),
        ];
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(
            outcome.note.as_deref(),
            Some("3 enqueues and deliveries, 1 high-water-mark drops checked")
        );
    }

    #[test]
    fn a_depth_above_the_mark_is_a_violation_each_time() {
        let outcome = outcome(vec![enqueue(10, 1, 11, 10), deliver(20, 0, 3, 2)]);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "pusher.0.push pipe 1 held 11 outbound messages at 10ms, above its high-water mark of 10 (message publisher.0#7)",
                "publisher.0.pub pipe 2 held 3 inbound messages at 20ms, above its high-water mark of 2 (message publisher.0#8)",
            ]
        );
    }

    #[test]
    fn a_hwm_drop_at_a_push_is_a_violation_because_push_blocks() {
        let outcome = outcome(vec![hwm_drop(10, 0), hwm_drop(20, 1)]);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "pusher.0.push dropped message without an id at its high-water mark at 20ms, but a PUSH socket must block, not drop"
            ]
        );
        assert_eq!(outcome.violations[0].node, Some(node(1, 0)));
    }

    #[test]
    fn a_sub_may_drop_the_subscriptions_it_sends_upstream_but_a_pair_may_not_drop() {
        let plan = plan_with(&[("sub", 1, &[SocketType::Sub]), ("pair", 1, &[SocketType::Pair])]);
        let outcome =
            run(check, &trace(vec![hwm_drop(10, 0), hwm_drop(20, 1)], None, ms(50)), &plan);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.violations.len(), 1, "{outcome:?}");
        assert_eq!(outcome.violations[0].node, Some(node(1, 0)));
    }

    #[test]
    fn other_drop_reasons_are_not_judged_and_an_empty_trace_is_unknown() {
        let closed = EventKind::Drop {
            pipe: Some(1),
            reason: DropReason::PipeClosed,
            msg: msg(Some(1), None),
        };
        let outcome = outcome(vec![at(ms(10), node(1, 0), Some(0), closed)]);
        assert_eq!(outcome.verdict, Verdict::Unknown);
        assert_eq!(
            outcome.note.as_deref(),
            Some("no message was queued or dropped: nothing to check")
        );
    }
}
