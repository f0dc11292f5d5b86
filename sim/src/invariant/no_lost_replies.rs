//! `no_lost_replies`: every request a requester issues gets exactly one reply.
//!
//! It counts units of work, not socket messages: requester designs record
//! `RequestIssued` once per request however often the socket resends it, and
//! `ReplyAccepted` once the application has the answer. A second reply, a reply to a
//! request never issued, a request given up on (`RequestAbandoned`: the user asked for
//! no lost replies, so giving up is losing it) and a request still unanswered when
//! the liveness phase ends are all violations. A request is lost only once the run
//! has given it the whole liveness phase: from the heal, or from its issue if it was
//! issued later (by a requester restarted at or after the heal, say). One the run
//! ended on sooner was still in flight, its requester still waiting: whether it would
//! have been answered is undecidable, so that alone makes the verdict `Unknown`,
//! never a pass or a loss. So does a run that stopped before its liveness phase, and
//! a run in which no request was issued at all, since there was nothing to lose.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::plan::Replica;
use crate::socket::SocketType;
use crate::trace::{AppEvent, EventKind, MsgId};
use crate::vocab::Role;

use super::verdict::{CheckInput, Outcome, Violation, dur};
use super::{Invariant, any_role, requires};

pub const NAME: &str = "no_lost_replies";

/// `no_lost_replies` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    Invariant::new(
        NAME,
        "every request gets exactly one reply by the end of the liveness phase",
        check,
    )
    .applies(|t, r| {
        // An external program's REQ is a requester too: the real run's wire trace
        // records its requests and replies (docs/wire-trace.md).
        let external_req =
            t.groups.iter().any(|g| g.process.is_some() && g.has_socket_type(&[SocketType::Req]));
        requires(
            any_role(t, r, Role::Requester) || external_req,
            "no node sends requests (no design with the requester role)",
        )
    })
}

/// What became of one issued request.
#[derive(Debug)]
struct Request {
    issued_at: Duration,
    /// The requester; `None` only for a hand-built trace that left it out.
    node: Option<Replica>,
    /// When its first reply was accepted.
    replied_at: Option<Duration>,
    abandoned: bool,
}

pub fn check(input: &CheckInput) -> Outcome {
    let mut requests: BTreeMap<MsgId, Request> = BTreeMap::new();
    let mut violations = Vec::new();
    let who = |node: Option<Replica>| node.map_or_else(|| "?".to_owned(), |n| input.node_name(n));

    for event in input.trace.iter() {
        let EventKind::App(app) = &event.kind else { continue };
        let (at, node) = (event.at, event.node);
        match *app {
            AppEvent::RequestIssued { id } => {
                if let Some(first) = requests.get(&id) {
                    violations.push(Violation::new(
                        at,
                        node,
                        format!(
                            "request {id} issued again at {} by {} (first issued at {} by {})",
                            dur(at),
                            who(node),
                            dur(first.issued_at),
                            who(first.node), id = input.msg_name(id)),
                    ));
                    continue;
                }
                let request = Request { issued_at: at, node, replied_at: None, abandoned: false };
                requests.insert(id, request);
            }
            AppEvent::ReplyAccepted { id } => match requests.get_mut(&id) {
                None => violations.push(Violation::new(
                    at,
                    node,
                    format!(
                        "{} accepted a reply to request {id} at {}, but no request {id} was issued before it",
                        who(node),
                        dur(at), id = input.msg_name(id)),
                )),
                Some(request) => match request.replied_at {
                    Some(first) => violations.push(Violation::new(
                        at,
                        node,
                        format!(
                            "reply delivered twice: request {id} issued at {} by {} was answered at {} and again at {}",
                            dur(request.issued_at),
                            who(request.node),
                            dur(first),
                            dur(at), id = input.msg_name(id)),
                    )),
                    None => request.replied_at = Some(at),
                },
            },
            AppEvent::RequestAbandoned { id } => {
                let Some(request) = requests.get_mut(&id) else {
                    violations.push(Violation::new(
                        at,
                        node,
                        format!(
                            "{} abandoned request {id} at {}, which it never issued",
                            who(node),
                            dur(at), id = input.msg_name(id)),
                    ));
                    continue;
                };
                // A request abandoned after its reply came is not lost; only one given
                // up unanswered is.
                if request.replied_at.is_none() && !request.abandoned {
                    request.abandoned = true;
                    violations.push(Violation::new(
                        at,
                        node,
                        format!(
                            "request {id} issued at {} by {} was abandoned at {} without a reply: lost",
                            dur(request.issued_at),
                            who(request.node),
                            dur(at), id = input.msg_name(id)),
                    ));
                }
            }
            AppEvent::WorkDone { .. }
            | AppEvent::Published { .. }
            | AppEvent::PartsReceived { .. }
            | AppEvent::Joined
            | AppEvent::Left
            | AppEvent::TaskIssued { .. }
            | AppEvent::KillSent { .. }
            | AppEvent::SurveyStarted { .. }
            | AppEvent::ChunkSent { .. }
            | AppEvent::ChunkAggregated { .. }
            | AppEvent::JobFinished { .. }
            | AppEvent::CometLogin { .. }
            | AppEvent::CometLogout { .. }
            | AppEvent::CometRouted { .. }
            | AppEvent::Note { .. }
            | AppEvent::User(_) => {}
        }
    }

    // Requests neither answered nor abandoned (abandonment was reported already). A
    // request whose requester was killed or crashed before its reply came has nobody
    // left to lose it to: it is counted apart, not a lost reply.
    let end = input.end();
    let ends = input.process_ends();
    let requester_died = |r: &Request| r.node.is_some_and(|n| ends.between(n, r.issued_at, end));
    type Unanswered<'a> = Vec<(MsgId, &'a Request)>;
    let (orphaned, in_flight): (Unanswered, Unanswered) = requests
        .iter()
        .filter(|(_, r)| r.replied_at.is_none() && !r.abandoned)
        .map(|(id, r)| (*id, r))
        .partition(|(_, r)| requester_died(r));
    // A request is owed the whole liveness phase from the heal or its issue,
    // whichever is later; the run may have ended before that (at its bound, on a
    // request issued in the liveness phase). The heal is the scheduled one, at
    // `duration`: on a real network the trace stamps it when the wall clock got
    // there, a little late, while the bound the run ends at is still scheduled.
    let heal = input.plan.duration;
    let owed_until =
        |r: &Request| input.trace.healed_at.map(|_| heal.max(r.issued_at) + input.plan.liveness);
    let (in_flight, lost): (Unanswered, Unanswered) =
        in_flight.into_iter().partition(|(_, r)| owed_until(r).is_none_or(|d| d > end));
    let issued = requests.len();
    let died = if orphaned.is_empty() {
        String::new()
    } else {
        format!("; {} went down with their requester (killed or crashed)", orphaned.len())
    };

    // The liveness phase ran its course for these: whatever is still unanswered never
    // will be. The violation is pinned to the issue time, where the request's story
    // starts.
    for (id, request) in lost {
        violations.push(Violation::new(
            request.issued_at,
            request.node,
            format!(
                "request {id} issued at {} by {} never got a reply (run ended at {})",
                dur(request.issued_at),
                who(request.node),
                dur(end),
                id = input.msg_name(id)
            ),
        ));
    }
    if !in_flight.is_empty() {
        let when = match input.trace.healed_at {
            None => "before its liveness phase",
            Some(_) => "before the liveness phase had run its course for them",
        };
        let note = format!(
            "{} of {issued} requests were still in flight when the run ended {when}; whether they would have been answered is undecidable{died}",
            in_flight.len()
        );
        if violations.is_empty() {
            return Outcome::unknown(NAME, note);
        }
        return Outcome::from_violations(NAME, violations).with_note(note);
    }
    if issued == 0 && violations.is_empty() {
        // Resolution refuses this invariant on a topology without requesters, so no
        // request at all means the workload never started: a pass would be vacuous.
        return Outcome::unknown(NAME, "no request was issued: nothing to check");
    }
    Outcome::from_violations(NAME, violations).with_note(format!("{issued} requests issued{died}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{at, client, ms, run, texts, trace};
    use crate::trace::{EventKind, TraceEvent};

    fn app(t: u64, node: u32, event: AppEvent) -> TraceEvent {
        at(ms(t), client(node), None, EventKind::App(event))
    }

    fn issued(t: u64, node: u32, id: MsgId) -> TraceEvent {
        app(t, node, AppEvent::RequestIssued { id })
    }

    fn accepted(t: u64, node: u32, id: MsgId) -> TraceEvent {
        app(t, node, AppEvent::ReplyAccepted { id })
    }

    /// The test plan: a safety phase of 1 s (the scheduled heal) and a liveness phase
    /// of 4 s, so a run healed at 1 s and ended at 5 s gave every request issued
    /// before the heal its whole liveness phase.
    fn plan() -> crate::plan::ScenarioPlan {
        let mut plan = super::super::verdict::testing::plan();
        plan.duration = ms(1000);
        plan.liveness = ms(4000);
        plan
    }

    fn check_events(events: Vec<TraceEvent>, healed_at: Option<u64>) -> Outcome {
        run(check, &trace(events, healed_at.map(ms), ms(5000)), &plan())
    }

    #[test]
    fn passes_when_every_request_gets_one_reply() {
        let events = vec![
            issued(0, 0, 1),
            issued(5, 1, 2),
            accepted(40, 1, 2),
            accepted(50, 0, 1),
            issued(60, 0, 3),
            accepted(90, 0, 3),
        ];
        let outcome = check_events(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(outcome.note.as_deref(), Some("3 requests issued"));
    }

    #[test]
    fn a_request_whose_requester_was_killed_is_not_a_lost_reply() {
        use crate::invariant::verdict::testing::{node_fault, run_event};
        use crate::plan::FaultKind;
        let mut plan = plan();
        plan.faults = vec![node_fault(FaultKind::Kill, ms(30), client(0))];
        let events = vec![
            issued(0, 0, 1),
            issued(5, 1, 2),
            run_event(ms(30), EventKind::FaultBegin { fault: 0, touched: 1 }),
        ];
        let outcome = run(check, &trace(events, Some(ms(1000)), ms(5000)), &plan);
        // Request 1 went down with client.0; request 2 is still lost.
        assert_eq!(
            texts(&outcome),
            ["request client.0#2 issued at 5ms by client.1 never got a reply (run ended at 5s)"]
        );
        assert!(
            outcome.note.as_deref().is_some_and(|n| n.contains("1 went down with their requester"))
        );
    }

    #[test]
    fn a_request_never_answered_after_the_liveness_phase_is_lost() {
        let events = vec![issued(0, 0, 1), accepted(50, 0, 1), issued(60, 1, 2), issued(70, 0, 3)];
        let outcome = check_events(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "request client.0#2 issued at 60ms by client.1 never got a reply (run ended at 5s)",
                "request client.0#3 issued at 70ms by client.0 never got a reply (run ended at 5s)",
            ]
        );
        assert_eq!(outcome.violations[0].node, Some(client(1)));
    }

    /// Regression (issue 11): a client restarted at the heal re-ran its workload and
    /// the run ended soon after; its request in flight was reported lost although
    /// the liveness phase had not run its course for it.
    #[test]
    fn a_request_issued_after_the_heal_is_in_flight_until_the_liveness_phase_has_passed_for_it() {
        // Healed at 1 s, liveness 4 s, ended at 5 s: a request issued at 1.5 s was owed
        // an answer until 5.5 s, one issued at 900 ms until 5 s.
        let events = vec![issued(900, 0, 1), issued(1500, 1, 2)];
        let outcome = check_events(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            ["request client.0#1 issued at 900ms by client.0 never got a reply (run ended at 5s)"]
        );
        assert!(
            outcome
                .note
                .as_deref()
                .is_some_and(|n| n.starts_with("1 of 2 requests were still in flight")),
            "{outcome:?}"
        );
        let only_late = check_events(vec![issued(1500, 1, 2)], Some(1000));
        assert_eq!(only_late.verdict, Verdict::Unknown, "{only_late:?}");
    }

    /// Regression (merge of issue 11's branches): over real TCP the heal is stamped
    /// when the wall clock got there, a few milliseconds after `duration`, while the
    /// run still ends at its scheduled bound; measuring the liveness phase from the
    /// stamp turned every loss of a real run into "in flight".
    #[test]
    fn a_late_stamped_heal_still_gives_the_liveness_phase_from_the_scheduled_one() {
        let outcome = check_events(vec![issued(900, 0, 1)], Some(1007));
        assert_eq!(outcome.verdict, Verdict::Fail, "{outcome:?}");
        assert_eq!(
            texts(&outcome),
            ["request client.0#1 issued at 900ms by client.0 never got a reply (run ended at 5s)"]
        );
    }

    #[test]
    fn a_second_reply_to_one_request_is_a_violation() {
        let events = vec![issued(0, 0, 1), accepted(50, 0, 1), accepted(80, 0, 1)];
        let outcome = check_events(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "reply delivered twice: request client.0#1 issued at 0 by client.0 was answered at 50ms and again at 80ms"
            ]
        );
        assert_eq!(outcome.violations[0].at, ms(80));
    }

    #[test]
    fn a_reply_to_a_request_never_issued_is_a_violation() {
        let events = vec![accepted(10, 0, 9), issued(20, 0, 9), accepted(30, 0, 9)];
        let outcome = check_events(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "client.0 accepted a reply to request client.0#9 at 10ms, but no request client.0#9 was issued before it"
            ]
        );
    }

    #[test]
    fn an_abandoned_request_counts_as_lost() {
        let events = vec![
            issued(0, 0, 1),
            app(2500, 0, AppEvent::RequestAbandoned { id: 1 }),
            issued(2600, 0, 2),
            accepted(2700, 0, 2),
        ];
        let outcome = check_events(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "request client.0#1 issued at 0 by client.0 was abandoned at 2500ms without a reply: lost"
            ]
        );
    }

    #[test]
    fn in_flight_requests_without_a_liveness_phase_are_unknown_not_a_pass() {
        let events = vec![issued(0, 0, 1), accepted(50, 0, 1), issued(60, 0, 2)];
        let outcome = check_events(events, None);
        assert_eq!(outcome.verdict, Verdict::Unknown);
        assert!(outcome.violations.is_empty());
        assert!(
            outcome.note.as_deref().is_some_and(|n| n.starts_with("1 of 2 requests")),
            "{outcome:?}"
        );
    }

    #[test]
    fn in_flight_requests_do_not_hide_other_violations() {
        let events =
            vec![issued(0, 0, 1), accepted(50, 0, 1), accepted(55, 0, 1), issued(60, 0, 2)];
        let outcome = check_events(events, None);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.violations.len(), 1, "the in-flight request is not blamed: {outcome:?}");
        assert!(outcome.note.is_some());
    }

    #[test]
    fn a_run_with_no_request_at_all_is_unknown() {
        let outcome = check_events(Vec::new(), Some(1000));
        assert_eq!(outcome.verdict, Verdict::Unknown);
        assert_eq!(outcome.note.as_deref(), Some("no request was issued: nothing to check"));
    }

    #[test]
    fn every_answered_run_without_a_liveness_phase_still_passes() {
        let events = vec![issued(0, 0, 1), accepted(50, 0, 1)];
        assert_eq!(check_events(events, None).verdict, Verdict::Pass);
    }
}
