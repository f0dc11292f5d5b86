//! `resend_interval`: a REQ resends on time, and only while it has no reply.
//!
//! For each REQ socket of each replica the checker follows the outstanding request
//! through the trace: it starts at the request's first `Enqueue`, goes out again at
//! each `Resend`, and ends with its reply (`Deliver` or `Receive` on the socket), a
//! `Cancel`, or the death of the process. Each timer resend must come no earlier than
//! the interval after the timer was armed and no later than the interval plus the
//! tolerance (default: one simulator tick, the granularity at which timers fire; a
//! real run's default is `run::real::REAL_TIMER_SLACK`) after the request last went
//! out; a request left waiting past that with a pipe up
//! is a missed resend. With `req_resend_ivl` off any timer resend is a violation. A
//! run in which no REQ sent anything checked nothing, and says `Unknown`.
//!
//! Two reference points, because patchbay and NNG differ (socket/req.rs): patchbay's
//! core arms the timer when the application sends and re-arms it only when the timer
//! fires, while NNG also re-arms it when a pipe takes the request. So the earliest
//! allowed timer resend is measured from the send or the previous timer resend
//! (`armed_at`), and the latest from the last time the request went out for any
//! reason (`last_out_at`: original send, any resend, or a pipe coming up to carry a
//! request that had nowhere to go). A trace of either model then passes.
//!
//! What is not a missed resend: a request with no pipe up (the core keeps it queued
//! on a dead pipe and has nothing to resend: it goes out when a pipe comes up), one
//! at a stalled replica, or one whose process a kill or crash ended. Those faults are
//! seen through the scenario's fault list, so a fault the runtime drew itself (beyond
//! that list) is invisible here. A request queued on a pipe that is up but cannot
//! write (peer not reading) also goes unresent in the core; the trace does not show
//! writes, so that would read as a missed resend.
//!
//! A REQ with NNG 1.11's resend tick (`req_resend_tick`, an nng REQ's default) is
//! judged as NNG behaves: its first timer resend comes on the first tick at or after
//! the interval (so up to one tick later than the interval allows), and every timer
//! resend after it one tick after the one before. Per-tick resends of such a REQ are
//! what the library does, not a violation; the same gaps at a REQ without the tick
//! are early.
//!
//! An external program's REQ (a `process:` node under `real`) is judged from what the
//! fault proxy read off the wire, not from its own timer: each resend shows when the
//! proxy saw it, a scheduling delay late, so the tolerance applies on the early side
//! too there. patchbay's own sockets record their timer's firing, and get none.
//!
//! The note says which resend behaviour the trace shows (docs/library-semantics.md):
//! one resend per interval (nanomsg, NNG ≤1.6, patchbay), or, from the first resend
//! on, one every tick (NNG ≥1.7), judged from gaps between consecutive timer resends.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::plan::{FaultKind, InvariantPlan, ParamValue, Replica, Selector};
use crate::socket::{PipeId, SocketType};
use crate::trace::{EventKind, SocketIndex, TraceEvent};
use crate::vocab::{Param, ParamDefault, ParamKind};

use super::verdict::{CheckInput, Outcome, Violation, dur};
use super::{Invariant, any_socket, requires};

pub const NAME: &str = "resend_interval";

const TOLERANCE: Param = Param {
    name: "tolerance",
    kind: ParamKind::Duration,
    default: ParamDefault::Computed("one simulator tick; 20 ms under `real`"),
    doc: "slack allowed beyond the interval",
};

/// Gives `invariant`, if it is this one and the scenario set no `tolerance`, `slack`
/// for it. A real run does (`run/real.rs`): its timers fire when the operating system
/// schedules them, a millisecond or more after they are due, where the simulator's
/// fire on their tick, the default tolerance.
pub(crate) fn default_tolerance(invariant: &mut InvariantPlan, slack: Duration) {
    if invariant.name == NAME {
        let tolerance = invariant.params.entry(TOLERANCE.name.to_owned());
        tolerance.or_insert(ParamValue::Duration(slack));
    }
}

/// `resend_interval` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "a REQ resends no earlier than its interval, no later than the interval plus the tolerance, and only while it has no reply";
    Invariant::new(NAME, summary, check)
        .param(TOLERANCE)
        .applies(|t, _| requires(any_socket(t, &[SocketType::Req]), "no node has a REQ socket"))
}

/// The request a REQ socket awaits a reply to.
#[derive(Debug)]
struct Request {
    id: u32,
    /// When the resend timer was last armed, at the earliest: the application's send
    /// (or the first enqueue, if no send was seen) or the last timer resend.
    armed_at: Duration,
    /// The last time the request went out, for whatever reason.
    last_out_at: Duration,
    /// The last timer resend with no other resend since, for the behaviour gaps.
    last_timer_at: Option<Duration>,
    /// The resend due after `last_out_at` has been reported missing; one report per
    /// silence, not one per event after it.
    missed_reported: bool,
}

/// What the checker knows of one REQ socket of one replica.
#[derive(Debug)]
struct ReqSocket {
    node: Replica,
    /// `client.0.req`, for violation texts.
    name: String,
    ivl: Option<Duration>,
    /// NNG 1.11's resend tick, if the socket models it.
    tick: Option<Duration>,
    tolerance: Duration,
    /// Whether the socket is an external program's, its timings read off the wire by
    /// the fault proxy rather than taken from its own timer.
    off_the_wire: bool,
    /// Pipes whose connection is established.
    up: BTreeSet<PipeId>,
    /// When the application last sent, until that request's first enqueue.
    sent_at: Option<Duration>,
    outstanding: Option<Request>,
    /// The last request answered, and when.
    answered: Option<(u32, Duration)>,
    /// Whether the trace records the core accepting replies (`Deliver`) on this
    /// socket; if not, the application's `Receive` stands in for it.
    saw_deliver: bool,
    /// Requests followed, for the note and to tell a vacuous run.
    requests: u64,
    /// Requests that went out with no request id: an external program's REQ on ZMTP,
    /// where none travels (docs/wire-trace.md), so its resends cannot be told.
    without_id: u64,
}

/// What the note reports: how the trace's timer resends are spaced.
#[derive(Debug, Default)]
struct Behaviour {
    timer_resends: u64,
    /// Gaps between consecutive timer resends of one request of at least the
    /// interval (one per interval) and shorter (per tick).
    per_interval: Vec<Duration>,
    shorter: Vec<Duration>,
}

pub fn check(input: &CheckInput) -> Outcome {
    let tolerance = input.duration_param("tolerance").unwrap_or(input.plan.network.tick);
    let mut checker = Checker {
        input: *input,
        tolerance,
        sockets: BTreeMap::new(),
        stalls: BTreeMap::new(),
        violations: Vec::new(),
        behaviour: Behaviour::default(),
    };
    for event in input.trace.iter() {
        checker.event(&event);
    }
    let end = input.end();
    for socket in checker.sockets.values_mut() {
        let stalled = stalled(&checker.stalls, socket.node);
        socket.check_missed(end, stalled, None, &mut checker.violations);
    }
    let requests: u64 = checker.sockets.values().map(|s| s.requests).sum();
    if requests == 0 && checker.violations.is_empty() {
        // No request ever went out, so there was nothing to time: a pass would be
        // vacuous, and usually means the run never got going. Or requests went out
        // with no id to tell a resend by.
        let without_id: u64 = checker.sockets.values().map(|s| s.without_id).sum();
        if without_id > 0 {
            let why = format!(
                "{without_id} requests went out with no request id on the wire (an external \
                 program's REQ on ZMTP, where none travels): a resend cannot be told from a \
                 new request"
            );
            return Outcome::unknown(NAME, why);
        }
        return Outcome::unknown(NAME, "no REQ socket sent a request: nothing to check");
    }
    let note = format!(
        "{}; {requests} requests followed, {} timer resends, on {} REQ sockets; tolerance {}",
        checker.behaviour.describe(),
        checker.behaviour.timer_resends,
        checker.sockets.len(),
        dur(tolerance)
    );
    Outcome::from_violations(NAME, checker.violations).with_note(note)
}

struct Checker<'a> {
    input: CheckInput<'a>,
    tolerance: Duration,
    sockets: BTreeMap<(Replica, SocketIndex), ReqSocket>,
    /// Stall faults in effect, by index, with the replicas they hold.
    stalls: BTreeMap<u32, &'a [Selector]>,
    violations: Vec<Violation>,
    behaviour: Behaviour,
}

impl Checker<'_> {
    fn event(&mut self, event: &TraceEvent) {
        match (&event.kind, event.node, event.socket) {
            (EventKind::FaultBegin { fault, .. }, None, _) => self.fault(event.at, *fault, true),
            (EventKind::FaultEnd { fault, .. }, None, _) => self.fault(event.at, *fault, false),
            (kind, Some(node), Some(index)) => {
                if !self.track(node, index) {
                    return;
                }
                let stalled = stalled(&self.stalls, node);
                let socket = self.sockets.get_mut(&(node, index)).expect("tracked above");
                socket.event(event.at, kind, stalled, &mut self.violations, &mut self.behaviour);
            }
            _ => {}
        }
    }

    /// Starts following a socket the first time it shows up, if it is a REQ.
    fn track(&mut self, node: Replica, index: SocketIndex) -> bool {
        if self.sockets.contains_key(&(node, index)) {
            return true;
        }
        let Some(plan) = self.input.socket_plan(node, index) else { return false };
        if plan.socket_type != SocketType::Req {
            return false;
        }
        let socket = ReqSocket {
            node,
            name: self.input.socket_name(node, Some(index)),
            ivl: plan.options.req_resend_ivl.value,
            tick: plan.options.req_resend_tick.value,
            tolerance: self.tolerance,
            off_the_wire: self
                .input
                .plan
                .topology
                .groups
                .get(node.group.0 as usize)
                .is_some_and(|g| g.process.is_some()),
            up: BTreeSet::new(),
            sent_at: None,
            outstanding: None,
            answered: None,
            saw_deliver: false,
            requests: 0,
            without_id: 0,
        };
        self.sockets.insert((node, index), socket);
        true
    }

    /// A node fault changes what a REQ at the replicas it holds can do: a kill or
    /// crash ends the process and its request; a stall suspends resending until it
    /// ends. Each affected socket is checked for a resend already overdue first.
    fn fault(&mut self, at: Duration, index: u32, begins: bool) {
        let Some(fault) = self.input.plan.faults.get(index as usize) else { return };
        // A `restart` fault revives a process a kill or crash already ended (and does
        // nothing to a running one), so only those two end a request.
        let ends_process = matches!(fault.kind, FaultKind::Kill | FaultKind::Crash);
        let stall = fault.kind == FaultKind::Stall;
        if !(ends_process && begins || stall) {
            return;
        }
        for socket in self.sockets.values_mut() {
            if !fault.nodes.iter().any(|s| s.picks(socket.node)) {
                continue;
            }
            let stalled = stalled(&self.stalls, socket.node);
            socket.check_missed(at, stalled, None, &mut self.violations);
            if ends_process {
                socket.restart();
            } else if !begins {
                socket.went_out(at);
            }
        }
        if stall && begins {
            self.stalls.insert(index, &fault.nodes);
        } else if stall {
            self.stalls.remove(&index);
        }
    }
}

fn stalled(stalls: &BTreeMap<u32, &[Selector]>, node: Replica) -> bool {
    stalls.values().any(|selectors| selectors.iter().any(|s| s.picks(node)))
}

impl ReqSocket {
    fn event(
        &mut self,
        at: Duration,
        kind: &EventKind,
        stalled: bool,
        out: &mut Vec<Violation>,
        behaviour: &mut Behaviour,
    ) {
        let timer_resend_of = match kind {
            EventKind::Resend { request_id, timer: true, .. } => Some(*request_id),
            _ => None,
        };
        self.check_missed(at, stalled, timer_resend_of, out);
        match kind {
            EventKind::Send { .. } => self.sent_at = Some(at),
            EventKind::Cancel { request_id }
                if self.outstanding.as_ref().is_some_and(|r| r.id == *request_id) =>
            {
                self.outstanding = None;
            }
            EventKind::Enqueue { msg, .. } => match msg.request_id {
                Some(id) => self.enqueued(at, id),
                None => self.without_id += 1,
            },
            EventKind::Resend { request_id, timer, .. } => {
                self.resent(at, *request_id, *timer, out, behaviour)
            }
            EventKind::Deliver { .. } => {
                self.saw_deliver = true;
                self.replied(at);
            }
            // The application may read a reply long after the core accepted it, even
            // after sending the next request; where the trace shows the acceptance
            // (`Deliver`), that alone ends a request.
            EventKind::Receive { .. } if !self.saw_deliver => self.replied(at),
            EventKind::Connect { pipe, .. } => {
                if self.up.is_empty() {
                    self.went_out(at);
                }
                self.up.insert(*pipe);
            }
            EventKind::Disconnect { pipe, .. } => {
                self.up.remove(pipe);
            }
            _ => {}
        }
    }

    /// The first enqueue of a request id is its original send. The core cancels the
    /// old request before enqueueing a new one, so one still outstanding here was
    /// lost with its process (a restart the fault list does not show); it is dropped
    /// without blame.
    fn enqueued(&mut self, at: Duration, id: u32) {
        self.requests += 1;
        let armed_at = self.sent_at.take().filter(|s| *s <= at).unwrap_or(at);
        self.outstanding = Some(Request {
            id,
            armed_at,
            last_out_at: at,
            last_timer_at: None,
            missed_reported: false,
        });
    }

    fn replied(&mut self, at: Duration) {
        if let Some(request) = self.outstanding.take() {
            self.answered = Some((request.id, at));
        }
    }

    /// The outstanding request went out (again) at `at` without the timer: the late
    /// bound counts from here.
    fn went_out(&mut self, at: Duration) {
        if let Some(request) = self.outstanding.as_mut() {
            request.last_out_at = request.last_out_at.max(at);
            request.last_timer_at = None;
            request.missed_reported = false;
        }
    }

    /// The process is gone: a new one starts empty, and may reuse request ids.
    fn restart(&mut self) {
        self.up.clear();
        self.sent_at = None;
        self.outstanding = None;
        self.answered = None;
    }

    /// Reports the resend that should have come by the deadline if it is past at
    /// `now` and nothing excuses it. A timer resend arriving late is reported by
    /// `resent` as late instead, so one silence gives one violation.
    fn check_missed(
        &mut self,
        now: Duration,
        stalled: bool,
        timer_resend_of: Option<u32>,
        out: &mut Vec<Violation>,
    ) {
        let Some(ivl) = self.ivl else { return };
        let tick = self.tick;
        let Some(request) = self.outstanding.as_mut() else { return };
        let (step, slack) = due(ivl, tick, request);
        let deadline = deadline_after(request.last_out_at, [step, slack, self.tolerance]);
        let excused = stalled || self.up.is_empty() || timer_resend_of == Some(request.id);
        if request.missed_reported || now <= deadline || excused {
            return;
        }
        request.missed_reported = true;
        out.push(Violation::new(
            deadline,
            Some(self.node),
            format!(
                "{} did not resend request {:#010x} by {}: it last went out at {}, the interval is {} plus {} tolerance, and it still had no reply at {}",
                self.name,
                request.id,
                dur(deadline),
                dur(request.last_out_at),
                dur(step.saturating_add(slack)),
                dur(self.tolerance),
                dur(now)
            ),
        ));
    }

    fn resent(
        &mut self,
        at: Duration,
        id: u32,
        timer: bool,
        out: &mut Vec<Violation>,
        behaviour: &mut Behaviour,
    ) {
        let current = self.outstanding.as_ref().is_some_and(|r| r.id == id);
        let text = match (self.ivl, self.answered) {
            (None, _) if timer => format!(
                "{} made a timer resend of request {id:#010x} at {}, but req_resend_ivl is off",
                self.name,
                dur(at)
            ),
            _ if current => {
                match self.ivl {
                    Some(ivl) if timer => self.timer_resent(at, ivl, out, behaviour),
                    _ => self.went_out(at),
                }
                return;
            }
            (_, Some((answered, replied_at))) if answered == id => format!(
                "{} made a {} of request {id:#010x} at {}, after its reply at {}",
                self.name,
                if timer { "timer resend" } else { "resend" },
                dur(at),
                dur(replied_at)
            ),
            _ => format!(
                "{} made a {} of request {id:#010x} at {}, which was not outstanding (cancelled, or never sent)",
                self.name,
                if timer { "timer resend" } else { "resend" },
                dur(at)
            ),
        };
        out.push(Violation::new(at, Some(self.node), text));
    }

    /// Times a timer resend of the outstanding request against both bounds.
    fn timer_resent(
        &mut self,
        at: Duration,
        ivl: Duration,
        out: &mut Vec<Violation>,
        behaviour: &mut Behaviour,
    ) {
        let request = self.outstanding.as_mut().expect("checked by the caller");
        let (step, slack) = due(ivl, self.tick, request);
        let earliest = request.armed_at.saturating_add(step);
        // Read off the wire, each resend shows when the proxy saw it, a scheduling
        // delay after the program's timer fired; the one before may have been delayed
        // more, so a gap can look shorter than the timer's by that much.
        let early_slack = if self.off_the_wire { self.tolerance } else { Duration::ZERO };
        let latest = deadline_after(request.last_out_at, [step, slack, self.tolerance]);
        if at.saturating_add(early_slack) < earliest {
            out.push(Violation::new(
                at,
                Some(self.node),
                format!(
                    "{} resent request {:#010x} at {}, early: {} after its timer was armed at {}; the interval is {}",
                    self.name,
                    request.id,
                    dur(at),
                    dur(at - request.armed_at),
                    dur(request.armed_at),
                    dur(step)
                ),
            ));
        } else if at > latest && !request.missed_reported {
            out.push(Violation::new(
                at,
                Some(self.node),
                format!(
                    "{} resent request {:#010x} at {}, late: {} after it last went out at {}; the interval is {} plus {} tolerance",
                    self.name,
                    request.id,
                    dur(at),
                    dur(at - request.last_out_at),
                    dur(request.last_out_at),
                    dur(step.saturating_add(slack)),
                    dur(self.tolerance)
                ),
            ));
        }
        behaviour.record(at, request.last_timer_at, ivl);
        request.armed_at = at;
        request.last_out_at = at;
        request.last_timer_at = Some(at);
        request.missed_reported = false;
    }
}

/// The latest a resend may come: `from` plus each allowance. An interval or a
/// tolerance may be as long as a file can write (`tolerance: 18446744073709551615s`),
/// and a sum past what a `Duration` holds is a bound no run reaches: it saturates.
fn deadline_after(from: Duration, allowances: [Duration; 3]) -> Duration {
    allowances.into_iter().fold(from, Duration::saturating_add)
}

/// When the next timer resend of `request` is due: `step` after its timer was armed,
/// with `slack` more allowed for the tick it waits for. Without a tick: the interval.
/// With NNG's tick: the first resend on the first tick at or after the interval, then
/// one every tick.
fn due(ivl: Duration, tick: Option<Duration>, request: &Request) -> (Duration, Duration) {
    match (tick, request.last_timer_at) {
        (None, _) => (ivl, Duration::ZERO),
        (Some(tick), None) => (ivl, tick),
        (Some(tick), Some(_)) => (tick, Duration::ZERO),
    }
}

impl Behaviour {
    fn record(&mut self, at: Duration, previous: Option<Duration>, ivl: Duration) {
        self.timer_resends += 1;
        let Some(previous) = previous else { return };
        let gap = at.saturating_sub(previous);
        if gap >= ivl { self.per_interval.push(gap) } else { self.shorter.push(gap) }
    }

    /// Which of the behaviours in docs/library-semantics.md the gaps show.
    fn describe(&self) -> String {
        let range = |gaps: &[Duration]| {
            let min = gaps.iter().min().copied().unwrap_or_default();
            let max = gaps.iter().max().copied().unwrap_or_default();
            format!("{} ({} to {})", gaps.len(), dur(min), dur(max))
        };
        let (long, short) = (&self.per_interval, &self.shorter);
        match (long.is_empty(), short.is_empty()) {
            _ if self.timer_resends == 0 => "no timer resends".to_owned(),
            (true, true) => "timer resends, but never two in a row for one request: cannot tell one per interval from one per tick".to_owned(),
            (false, true) => format!(
                "one resend per interval (nanomsg, NNG ≤1.6): gaps between consecutive timer resends {}",
                range(long)
            ),
            (true, false) => format!(
                "resends on every tick after the first (NNG ≥1.7): gaps between consecutive timer resends {}",
                range(short)
            ),
            (false, false) => format!(
                "mixed: gaps between consecutive timer resends {} of at least the interval, {} shorter",
                range(long),
                range(short)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{
        REQ, at, client, fault, ms, msg, plan, run, run_event, texts, trace,
    };
    use crate::plan::{ParamValue, ScenarioPlan};
    use crate::trace::Trace;

    const R1: u32 = 0x8000_0001;
    const R2: u32 = 0x8000_0002;

    fn on(t: u64, node: u32, kind: EventKind) -> TraceEvent {
        at(ms(t), client(node), Some(REQ), kind)
    }

    fn connect(t: u64, pipe: PipeId) -> TraceEvent {
        on(t, 0, EventKind::Connect { pipe, peer: None })
    }

    fn disconnect(t: u64, pipe: PipeId) -> TraceEvent {
        on(t, 0, EventKind::Disconnect { pipe, reason: "reset".into() })
    }

    /// The application sends request `rid` at `t` and the core queues it at once.
    fn request(t: u64, node: u32, rid: u32) -> [TraceEvent; 2] {
        let id = Some(u64::from(rid));
        [
            on(t, node, EventKind::Send { msg: msg(id, None) }),
            on(
                t,
                node,
                EventKind::Enqueue { pipe: 1, depth: 1, hwm: 1000, msg: msg(id, Some(rid)) },
            ),
        ]
    }

    fn resend(t: u64, node: u32, rid: u32, timer: bool) -> TraceEvent {
        let kind = EventKind::Resend { pipe: 1, request_id: rid, timer, msg: msg(None, Some(rid)) };
        on(t, node, kind)
    }

    /// The core accepts the reply and the application takes it.
    fn reply(t: u64, node: u32) -> [TraceEvent; 2] {
        [
            on(t, node, EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg: msg(None, None) }),
            on(t, node, EventKind::Receive { msg: msg(None, None) }),
        ]
    }

    fn events(parts: Vec<Vec<TraceEvent>>) -> Trace {
        let mut events: Vec<TraceEvent> = parts.into_iter().flatten().collect();
        events.sort_by_key(|e| e.at);
        trace(events, Some(ms(3000)), ms(6000))
    }

    fn outcome_with(plan: &ScenarioPlan, parts: Vec<Vec<TraceEvent>>) -> Outcome {
        run(check, &events(parts), plan)
    }

    fn outcome(parts: Vec<Vec<TraceEvent>>) -> Outcome {
        outcome_with(&plan(), parts)
    }

    fn note(outcome: &Outcome) -> &str {
        outcome.note.as_deref().unwrap_or_default()
    }

    #[test]
    fn a_deadline_past_what_a_duration_holds_is_never_reached() {
        let (zero, ms) = (Duration::ZERO, Duration::from_millis(1));
        assert_eq!(deadline_after(ms, [ms, ms, ms]), 4 * ms);
        assert_eq!(deadline_after(ms, [ms, zero, Duration::MAX]), Duration::MAX);
    }

    #[test]
    fn passes_when_resends_come_once_per_interval_within_the_tick() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![resend(1100, 0, R1, true), resend(2105, 0, R1, true)],
            reply(2300, 0).to_vec(),
        ]);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert!(
            note(&outcome).starts_with("one resend per interval (nanomsg, NNG ≤1.6)"),
            "{outcome:?}"
        );
    }

    #[test]
    fn an_early_resend_is_a_violation_at_every_socket_that_makes_one() {
        let outcome = outcome(vec![
            vec![connect(0, 1), on(0, 1, EventKind::Connect { pipe: 1, peer: None })],
            request(100, 0, R1).to_vec(),
            request(100, 1, R1).to_vec(),
            vec![resend(900, 0, R1, true), resend(1900, 0, R1, true)],
            vec![resend(1099, 1, R1, true)],
            reply(2000, 0).to_vec(),
            reply(2000, 1).to_vec(),
        ]);
        assert_eq!(
            texts(&outcome),
            [
                "client.0.req resent request 0x80000001 at 900ms, early: 800ms after its timer was armed at 100ms; the interval is 1s",
                "client.1.req resent request 0x80000001 at 1099ms, early: 999ms after its timer was armed at 100ms; the interval is 1s",
            ]
        );
        assert_eq!(outcome.violations[1].node, Some(client(1)));
    }

    #[test]
    fn a_late_resend_is_one_violation_not_also_a_missed_one() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![resend(1150, 0, R1, true)],
            reply(1200, 0).to_vec(),
        ]);
        assert_eq!(
            texts(&outcome),
            [
                "client.0.req resent request 0x80000001 at 1150ms, late: 1050ms after it last went out at 100ms; the interval is 1s plus 10ms tolerance"
            ]
        );
    }

    #[test]
    fn the_tolerance_parameter_widens_the_late_bound() {
        let trace = events(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![resend(1150, 0, R1, true)],
            reply(1200, 0).to_vec(),
        ]);
        let plan = plan();
        let params = BTreeMap::from([("tolerance".to_owned(), ParamValue::Duration(ms(100)))]);
        let outcome = check(&CheckInput { trace: &trace, plan: &plan, params: &params });
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
    }

    /// Read off the wire (an external program's REQ), a resend may show up to the
    /// tolerance before its due time; patchbay's own REQ, timed by its own timer, may
    /// not. A resend earlier than the slack is early at either.
    #[test]
    fn the_tolerance_widens_the_early_bound_only_at_an_external_programs_req() {
        let params = BTreeMap::from([("tolerance".to_owned(), ParamValue::Duration(ms(10)))]);
        let judge = |external: bool, resend_at: u64| {
            let trace = events(vec![
                vec![connect(0, 1)],
                request(100, 0, R1).to_vec(),
                vec![resend(resend_at, 0, R1, true)],
                reply(1200, 0).to_vec(),
            ]);
            let mut plan = plan();
            plan.topology.groups[0].process = external.then(|| crate::plan::ProcessPlan {
                command: Vec::new(),
                env: BTreeMap::new(),
                cwd: ".".into(),
                ready: crate::plan::Ready::Ports,
                ready_timeout: ms(1000),
            });
            check(&CheckInput { trace: &trace, plan: &plan, params: &params })
        };
        assert_eq!(judge(true, 1095).verdict, Verdict::Pass, "{:?}", judge(true, 1095));
        assert_eq!(
            texts(&judge(false, 1095)),
            [
                "client.0.req resent request 0x80000001 at 1095ms, early: 995ms after its timer was armed at 100ms; the interval is 1s"
            ]
        );
        assert_eq!(judge(true, 1089).verdict, Verdict::Fail, "beyond the slack");
    }

    #[test]
    fn a_request_left_unresent_until_the_end_is_one_missed_resend() {
        let outcome = outcome(vec![vec![connect(0, 1)], request(100, 0, R1).to_vec()]);
        assert_eq!(
            texts(&outcome),
            [
                "client.0.req did not resend request 0x80000001 by 1110ms: it last went out at 100ms, the interval is 1s plus 10ms tolerance, and it still had no reply at 6s"
            ]
        );
        assert_eq!(outcome.violations[0].at, ms(1110));
    }

    #[test]
    fn a_reply_after_the_deadline_with_no_resend_is_a_missed_resend() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            reply(1500, 0).to_vec(),
        ]);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert!(
            texts(&outcome)[0].contains("did not resend request 0x80000001 by 1110ms"),
            "{outcome:?}"
        );
        assert!(texts(&outcome)[0].ends_with("no reply at 1500ms"), "{outcome:?}");
    }

    #[test]
    fn a_resend_after_the_reply_is_a_violation() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            reply(500, 0).to_vec(),
            vec![resend(1100, 0, R1, true)],
        ]);
        assert_eq!(
            texts(&outcome),
            [
                "client.0.req made a timer resend of request 0x80000001 at 1100ms, after its reply at 500ms"
            ]
        );
    }

    #[test]
    fn a_resend_of_a_cancelled_request_is_a_violation() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![on(600, 0, EventKind::Cancel { request_id: R1 })],
            request(600, 0, R2).to_vec(),
            vec![resend(1100, 0, R1, true), resend(1600, 0, R2, true)],
            reply(1700, 0).to_vec(),
        ]);
        assert_eq!(
            texts(&outcome),
            [
                "client.0.req made a timer resend of request 0x80000001 at 1100ms, which was not outstanding (cancelled, or never sent)"
            ]
        );
    }

    #[test]
    fn any_timer_resend_with_resend_off_is_a_violation_and_nothing_is_missed() {
        let mut plan = plan();
        plan.topology.groups[0].sockets[0].options.req_resend_ivl.value = None;
        let outcome = outcome_with(
            &plan,
            vec![
                vec![connect(0, 1)],
                request(100, 0, R1).to_vec(),
                vec![resend(1100, 0, R1, true)],
            ],
        );
        assert_eq!(
            texts(&outcome),
            [
                "client.0.req made a timer resend of request 0x80000001 at 1100ms, but req_resend_ivl is off"
            ]
        );
        let quiet = outcome_with(&plan, vec![vec![connect(0, 1)], request(100, 0, R1).to_vec()]);
        assert_eq!(quiet.verdict, Verdict::Pass, "{quiet:?}");
        assert!(note(&quiet).starts_with("no timer resends"));
    }

    /// The core does not re-arm the timer on an immediate resend (socket/req.rs) and
    /// NNG does; both timings pass, and the immediate resend moves the late bound.
    #[test]
    fn an_immediate_resend_is_not_timed_but_moves_the_late_bound() {
        let lost_pipe = || vec![disconnect(600, 1), resend(600, 0, R1, false), connect(600, 2)];
        let start = || vec![vec![connect(0, 1)], request(100, 0, R1).to_vec(), lost_pipe()];
        for timer_at in [1100, 1610] {
            let mut parts = start();
            parts.push(vec![resend(timer_at, 0, R1, true)]);
            parts.push(reply(1700, 0).to_vec());
            let outcome = outcome(parts);
            assert_eq!(outcome.verdict, Verdict::Pass, "timer resend at {timer_at}: {outcome:?}");
        }
        let mut parts = start();
        parts.push(reply(1700, 0).to_vec());
        let missed = outcome(parts);
        assert!(texts(&missed)[0].contains("by 1610ms"), "{missed:?}");
    }

    #[test]
    fn no_resend_is_due_while_no_pipe_is_up() {
        let down = || {
            vec![
                vec![connect(0, 1)],
                request(100, 0, R1).to_vec(),
                vec![disconnect(500, 1), resend(500, 0, R1, false)],
            ]
        };
        assert_eq!(outcome(down()).verdict, Verdict::Pass);
        // When a pipe comes up the queued request goes out, and the timer resends it
        // within an interval of that.
        let mut parts = down();
        parts.push(vec![connect(4000, 1), resend(4100, 0, R1, true)]);
        parts.push(reply(4200, 0).to_vec());
        assert_eq!(outcome(parts).verdict, Verdict::Pass);
        let mut parts = down();
        parts.push(vec![connect(4000, 1)]);
        let missed = outcome(parts);
        assert!(texts(&missed)[0].contains("by 5010ms"), "{missed:?}");
    }

    #[test]
    fn a_killed_requester_owes_no_resend_and_a_stalled_one_owes_it_after_the_stall() {
        let mut killed = plan();
        killed.faults = vec![fault(FaultKind::Kill, ms(500))];
        let kill = vec![run_event(ms(500), EventKind::FaultBegin { fault: 0, touched: 1 })];
        let parts = vec![vec![connect(0, 1)], request(100, 0, R1).to_vec(), kill];
        assert_eq!(outcome_with(&killed, parts).verdict, Verdict::Pass);

        // A restart revives a dead process and leaves a running one alone.
        let mut restarted = plan();
        restarted.faults = vec![fault(FaultKind::Restart, ms(500))];
        let restart = vec![run_event(ms(500), EventKind::FaultBegin { fault: 0, touched: 0 })];
        let parts = vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            restart,
            vec![resend(1100, 0, R1, true)],
            reply(1200, 0).to_vec(),
        ];
        assert_eq!(outcome_with(&restarted, parts).verdict, Verdict::Pass);

        let mut stalled = plan();
        stalled.faults = vec![fault(FaultKind::Stall, ms(500))];
        let stall = |end| {
            vec![
                run_event(ms(500), EventKind::FaultBegin { fault: 0, touched: 1 }),
                run_event(ms(end), EventKind::FaultEnd { fault: 0, touched: 1 }),
            ]
        };
        let mut parts = vec![vec![connect(0, 1)], request(100, 0, R1).to_vec(), stall(3000)];
        parts.push(vec![resend(3005, 0, R1, true)]);
        parts.push(reply(3100, 0).to_vec());
        assert_eq!(outcome_with(&stalled, parts).verdict, Verdict::Pass);
        let parts = vec![vec![connect(0, 1)], request(100, 0, R1).to_vec(), stall(3000)];
        let missed = outcome_with(&stalled, parts);
        assert!(texts(&missed)[0].contains("by 4010ms"), "{missed:?}");
    }

    #[test]
    fn resends_every_tick_after_the_first_are_early_and_named_nng_1_7() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![resend(1100, 0, R1, true), resend(1110, 0, R1, true), resend(1120, 0, R1, true)],
            reply(1125, 0).to_vec(),
        ]);
        assert_eq!(outcome.violations.len(), 2, "{outcome:?}");
        assert!(
            note(&outcome).starts_with("resends on every tick after the first (NNG ≥1.7)"),
            "{outcome:?}"
        );
    }

    /// The same trace at a REQ that models NNG 1.11's 10 ms resend tick: per-tick
    /// resends are the library's behaviour and pass; one that skips a tick is late,
    /// and a first resend before the interval is still early.
    #[test]
    fn an_nng_req_with_a_resend_tick_passes_per_tick_resends_and_not_skipped_ticks() {
        let mut nng = plan();
        nng.topology.groups[0].sockets[0].options.req_resend_tick.value =
            Some(Duration::from_millis(10));
        let per_tick = outcome_with(
            &nng,
            vec![
                vec![connect(0, 1)],
                request(100, 0, R1).to_vec(),
                vec![
                    resend(1105, 0, R1, true),
                    resend(1115, 0, R1, true),
                    resend(1125, 0, R1, true),
                ],
                reply(1130, 0).to_vec(),
            ],
        );
        assert_eq!(per_tick.verdict, Verdict::Pass, "{per_tick:?}");
        assert!(
            note(&per_tick).starts_with("resends on every tick after the first"),
            "{per_tick:?}"
        );
        let skipped = outcome_with(
            &nng,
            vec![
                vec![connect(0, 1)],
                request(100, 0, R1).to_vec(),
                vec![
                    resend(1100, 0, R1, true),
                    resend(1110, 0, R1, true),
                    resend(1150, 0, R1, true),
                ],
                reply(1160, 0).to_vec(),
            ],
        );
        assert_eq!(skipped.violations.len(), 1, "{skipped:?}");
        assert!(skipped.violations[0].text.contains("at 1150ms, late: 40ms after"), "{skipped:?}");
        let early = outcome_with(
            &nng,
            vec![
                vec![connect(0, 1)],
                request(100, 0, R1).to_vec(),
                vec![resend(1000, 0, R1, true)],
                reply(1005, 0).to_vec(),
            ],
        );
        assert_eq!(early.violations.len(), 1, "{early:?}");
        assert!(early.violations[0].text.contains("at 1s, early: 900ms after"), "{early:?}");
    }

    #[test]
    fn a_run_in_which_no_request_went_out_is_unknown() {
        let outcome = outcome(vec![vec![connect(0, 1)]]);
        assert_eq!(outcome.verdict, Verdict::Unknown);
        assert_eq!(note(&outcome), "no REQ socket sent a request: nothing to check");
    }

    #[test]
    fn a_single_resend_per_request_cannot_name_a_behaviour() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![resend(1100, 0, R1, true)],
            reply(1200, 0).to_vec(),
        ]);
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert!(note(&outcome).starts_with("timer resends, but never two in a row"), "{outcome:?}");
    }

    #[test]
    fn a_reply_read_late_does_not_end_the_next_request() {
        // The core accepted R1's reply at 500; the application read it only after
        // sending R2, whose timer resend is then still owed and on time.
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![on(
                500,
                0,
                EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg: msg(None, None) },
            )],
            request(600, 0, R2).to_vec(),
            vec![on(700, 0, EventKind::Receive { msg: msg(None, None) })],
            vec![resend(1600, 0, R2, true)],
            reply(1700, 0).to_vec(),
        ]);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
    }

    #[test]
    fn without_deliver_events_the_receive_ends_the_request() {
        let outcome = outcome(vec![
            vec![connect(0, 1)],
            request(100, 0, R1).to_vec(),
            vec![on(500, 0, EventKind::Receive { msg: msg(None, None) })],
            vec![resend(1100, 0, R1, true)],
        ]);
        assert!(texts(&outcome)[0].contains("after its reply at 500ms"), "{outcome:?}");
    }
}
