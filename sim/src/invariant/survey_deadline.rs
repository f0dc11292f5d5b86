//! `survey_deadline`: no response reaches a surveyor's application after its survey's
//! deadline, and every response that reached the socket in time reaches it.
//!
//! A survey starts when the application sends on a SURVEYOR socket (its first
//! `Enqueue` if the trace has no `Send`), and a new send ends the previous survey, as
//! in nanomsg. Its deadline is the socket's `SurveyExpired` for that survey when the
//! trace has one, else the start plus the socket's `survey_deadline` option. Each
//! response the application takes (`Receive`) after the deadline is a violation.
//! Each response that reached the socket (`Deliver`) before the deadline but that the
//! application never took, by the deadline or at all, is a violation too, unless the
//! surveyor's own process was killed or crashed meanwhile.
//!
//! Responses are matched to surveys by the survey id on their stack when the trace
//! carries one, else they belong to the survey in progress; deliveries are paired
//! with receives by message id, or first in, first out for messages without one.
//! Respondents that died never answer, and their missing responses are nothing this
//! checker can see: it judges what arrived. A survey still open when the run ended
//! is not judged for responses left unread. A run with no survey is `Unknown`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::plan::Replica;
use crate::socket::SocketType;
use crate::trace::{EventKind, MsgInfo, SocketIndex, TraceEvent};

use super::verdict::{CheckInput, Outcome, ProcessEnds, Violation, dur};
use super::{Invariant, any_socket, requires};

pub const NAME: &str = "survey_deadline";

/// `survey_deadline` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "no response is delivered after the survey's deadline, and every live respondent's timely response is";
    Invariant::new(NAME, summary, check).applies(|t, _| {
        requires(any_socket(t, &[SocketType::Surveyor]), "no node has a SURVEYOR socket")
    })
}

/// The survey a SURVEYOR socket has in progress.
#[derive(Debug)]
struct Survey {
    /// The survey id, once an `Enqueue` has shown it.
    id: Option<u32>,
    started: Duration,
    /// Start plus the socket's `survey_deadline`.
    planned_deadline: Duration,
    /// When the socket said the survey expired, if it did.
    expired_at: Option<Duration>,
    /// Responses delivered before the deadline and not yet received: (id, when).
    timely: Vec<(Option<u64>, Duration)>,
}

impl Survey {
    fn deadline(&self) -> Duration {
        self.expired_at.unwrap_or(self.planned_deadline)
    }

    /// Whether the deadline has passed at an event at `at`, in trace order.
    fn past_deadline(&self, at: Duration) -> bool {
        self.expired_at.is_some() || at > self.planned_deadline
    }

    fn name(&self) -> String {
        match self.id {
            Some(id) => format!("survey {id} (started at {})", dur(self.started)),
            None => format!("the survey started at {}", dur(self.started)),
        }
    }
}

struct Checker<'a> {
    input: CheckInput<'a>,
    ends: ProcessEnds<'a>,
    current: BTreeMap<(Replica, SocketIndex), Survey>,
    surveys: u64,
    responses: u64,
    violations: Vec<Violation>,
}

pub fn check(input: &CheckInput) -> Outcome {
    let mut checker = Checker {
        input: *input,
        ends: input.process_ends(),
        current: BTreeMap::new(),
        surveys: 0,
        responses: 0,
        violations: Vec::new(),
    };
    for event in input.trace.iter() {
        checker.event(&event);
    }
    let end = input.end();
    let open = std::mem::take(&mut checker.current);
    for ((node, socket), survey) in open {
        // A survey whose deadline the run did not reach may yet have been read.
        if survey.past_deadline(end) {
            checker.close(node, socket, survey);
        }
    }
    if checker.surveys == 0 {
        return Outcome::unknown(NAME, "no SURVEYOR started a survey: nothing to check");
    }
    let note = format!("{} surveys, {} responses delivered", checker.surveys, checker.responses);
    Outcome::from_violations(NAME, checker.violations).with_note(note)
}

impl Checker<'_> {
    fn event(&mut self, event: &TraceEvent) {
        let (Some(node), Some(socket)) = (event.node, event.socket) else { return };
        if self.input.socket_type(node, Some(socket)) != Some(SocketType::Surveyor) {
            return;
        }
        let key = (node, socket);
        match &event.kind {
            EventKind::Send { .. } => self.start(node, socket, event.at),
            EventKind::Enqueue { msg, .. } => {
                if !self.current.contains_key(&key) {
                    self.start(node, socket, event.at);
                }
                let survey = self.current.get_mut(&key).expect("started above");
                survey.id = survey.id.or(msg.request_id);
            }
            EventKind::SurveyExpired { survey_id } => {
                if let Some(survey) = self.current.get_mut(&key)
                    && survey.id.is_none_or(|id| id == *survey_id)
                {
                    survey.expired_at.get_or_insert(event.at);
                }
            }
            EventKind::Deliver { msg, .. } => {
                self.responses += 1;
                let Some(survey) = self.survey_of(key, msg) else { return };
                if !survey.past_deadline(event.at) {
                    survey.timely.push((msg.id, event.at));
                }
            }
            EventKind::Receive { msg } => self.receive(node, socket, event.at, msg),
            _ => {}
        }
    }

    /// The survey in progress at the socket, if the response belongs to it.
    fn survey_of(&mut self, key: (Replica, SocketIndex), msg: &MsgInfo) -> Option<&mut Survey> {
        let survey = self.current.get_mut(&key)?;
        let stale = matches!((survey.id, msg.request_id), (Some(a), Some(b)) if a != b);
        if stale { None } else { Some(survey) }
    }

    fn start(&mut self, node: Replica, socket: SocketIndex, at: Duration) {
        if let Some(previous) = self.current.remove(&(node, socket)) {
            self.close(node, socket, previous);
        }
        let Some(plan) = self.input.socket_plan(node, socket) else { return };
        let deadline = at + plan.options.survey_deadline.value;
        let survey = Survey {
            id: None,
            started: at,
            planned_deadline: deadline,
            expired_at: None,
            timely: Vec::new(),
        };
        self.surveys += 1;
        self.current.insert((node, socket), survey);
    }

    fn receive(&mut self, node: Replica, socket: SocketIndex, at: Duration, msg: &MsgInfo) {
        let name = self.input.socket_name(node, Some(socket));
        let Some(survey) = self.survey_of((node, socket), msg) else {
            let id = msg.request_id.map_or_else(String::new, |i| format!(" to survey {i}"));
            self.violations.push(Violation::new(
                at,
                Some(node),
                format!("{name} handed the application a response{id} at {}, after a newer survey began", dur(at)),
            ));
            return;
        };
        // A late receive still takes the response off the unread list: it is
        // reported once, as late, not also as never received.
        let position = match msg.id {
            Some(id) => survey.timely.iter().position(|(m, _)| *m == Some(id)),
            None => (!survey.timely.is_empty()).then_some(0),
        };
        if let Some(i) = position {
            survey.timely.remove(i);
        }
        if survey.past_deadline(at) {
            let text = format!(
                "{name} handed the application a response to {} at {}, after its deadline at {}",
                survey.name(),
                dur(at),
                dur(survey.deadline())
            );
            self.violations.push(Violation::new(at, Some(node), text));
        }
    }

    /// Ends a survey: responses that came in time but were never read are lost.
    fn close(&mut self, node: Replica, socket: SocketIndex, survey: Survey) {
        let name = self.input.socket_name(node, Some(socket));
        for (id, arrived) in &survey.timely {
            if self.ends.between(node, *arrived, self.input.end()) {
                continue;
            }
            let id = id.map_or_else(|| "without an id".to_owned(), |i| self.input.msg_name(i));
            self.violations.push(Violation::new(
                *arrived,
                Some(node),
                format!(
                    "{name} got response {id} to {} at {}, before its deadline at {}, but the application never received it",
                    survey.name(),
                    dur(*arrived),
                    dur(survey.deadline())
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{at, ms, msg, node, plan_with, run, texts, trace};
    use crate::plan::ScenarioPlan;

    /// One `surveyor` whose SURVEYOR has a 500ms deadline, and 2 `respondent`s.
    fn survey() -> ScenarioPlan {
        let mut plan = plan_with(&[
            ("surveyor", 1, &[SocketType::Surveyor]),
            ("respondent", 2, &[SocketType::Respondent]),
        ]);
        plan.topology.groups[0].sockets[0].options.survey_deadline.value = ms(500);
        plan
    }

    fn ev(t: u64, kind: EventKind) -> TraceEvent {
        at(ms(t), node(0, 0), Some(0), kind)
    }

    /// Survey `id` sent at `t` and queued on one pipe.
    fn start(t: u64, id: u32) -> [TraceEvent; 2] {
        [
            ev(t, EventKind::Send { msg: msg(None, None) }),
            ev(t, EventKind::Enqueue { pipe: 1, depth: 1, hwm: 0, msg: msg(None, Some(id)) }),
        ]
    }

    fn deliver(t: u64, survey: u32, id: u64) -> TraceEvent {
        ev(t, EventKind::Deliver { pipe: 1, depth: 1, hwm: 0, msg: msg(Some(id), Some(survey)) })
    }

    fn receive(t: u64, id: u64) -> TraceEvent {
        ev(t, EventKind::Receive { msg: msg(Some(id), None) })
    }

    fn outcome(events: Vec<TraceEvent>) -> Outcome {
        run(check, &trace(events, Some(ms(3000)), ms(5000)), &survey())
    }

    #[test]
    fn passes_when_timely_responses_are_read_and_late_ones_never_surface() {
        let mut events = start(0, 1).to_vec();
        events.extend([
            deliver(100, 1, 10),
            receive(101, 10),
            deliver(200, 1, 11),
            receive(202, 11),
        ]);
        events.push(ev(500, EventKind::SurveyExpired { survey_id: 1 }));
        events.extend(start(1000, 2));
        events.extend([deliver(1100, 2, 12), receive(1100, 12)]);
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(outcome.note.as_deref(), Some("2 surveys, 3 responses delivered"));
    }

    #[test]
    fn a_response_received_after_the_deadline_is_a_violation() {
        let mut events = start(0, 1).to_vec();
        events.extend([deliver(100, 1, 10), receive(600, 10)]);
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "surveyor.0.surveyor handed the application a response to survey 1 (started at 0) at 600ms, after its deadline at 500ms"
            ]
        );
    }

    #[test]
    fn the_expiry_event_is_the_deadline_when_the_trace_has_one() {
        let mut events = start(0, 1).to_vec();
        events.extend([ev(400, EventKind::SurveyExpired { survey_id: 1 }), receive(450, 10)]);
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert!(texts(&outcome)[0].ends_with("after its deadline at 400ms"), "{outcome:?}");
    }

    #[test]
    fn a_timely_response_the_application_never_got_is_a_violation() {
        let mut events = start(0, 1).to_vec();
        events.push(deliver(100, 1, 10));
        events.extend(start(1000, 2));
        let outcome = outcome(events);
        assert_eq!(
            texts(&outcome),
            [
                "surveyor.0.surveyor got response surveyor.0#10 to survey 1 (started at 0) at 100ms, before its deadline at 500ms, but the application never received it"
            ]
        );
    }

    #[test]
    fn no_survey_is_unknown() {
        assert_eq!(outcome(Vec::new()).verdict, Verdict::Unknown);
    }
}
