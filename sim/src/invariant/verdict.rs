//! What a checker hands back: a verdict, every violation it found, and a note.
//!
//! Every checker takes the same [`CheckInput`] (the finished trace, the scenario it
//! ran, the invariant's parameters) and returns an [`Outcome`]. A checker never stops
//! at the first violation: it returns them all, in time order, and a run keeps the
//! first [`VIOLATIONS_KEPT`] of them with the exact count ([`Outcome::keep_first`]),
//! so a run with hundreds of thousands of violations holds a few examples, not all of
//! them, for the rest of its sweep. `Unknown` is for a
//! trace that cannot decide the property (work still in flight when the run stopped,
//! or no checker yet), and is never to be read as a pass.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::plan::{FaultKind, FaultPlan, GroupId, ParamValue, Replica, ScenarioPlan, SocketPlan};
use crate::socket::SocketType;
use crate::spec::units::format_duration;
use crate::trace::{AppEvent, EventKind, MsgId, SocketIndex, Trace};
#[cfg(doc)]
use crate::vocab::{ParamDefault, ParamKind};

/// Whether an invariant held over one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The invariant held over the whole trace.
    Pass,
    /// The trace shows the invariant broken; the outcome lists each violation.
    Fail,
    /// The trace cannot decide it; the outcome's note says why.
    Unknown,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
        })
    }
}

/// Violations a run keeps per invariant, in time order: the examples reports and
/// repro lines show (they show the first), while the count stays exact.
pub const VIOLATIONS_KEPT: usize = 100;

/// One place where an invariant did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Simulated time the violation is pinned to: when it happened, or for something
    /// that never happened, the event it should have followed (each checker says).
    pub at: Duration,
    /// The replica it happened at; `None` for run-level violations (faults).
    pub node: Option<Replica>,
    /// A sentence for the report, naming nodes, sockets and times itself.
    pub text: String,
}

impl Violation {
    /// A violation at `at` (at `node`, or run-wide), said in `text`.
    pub fn new(at: Duration, node: Option<Replica>, text: impl Into<String>) -> Violation {
        Violation { at, node, text: text.into() }
    }
}

/// The result of checking one invariant over one trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The invariant's registered name.
    pub name: &'static str,
    /// Whether it held.
    pub verdict: Verdict,
    /// Sorted by time; empty unless the verdict is `Fail`. After a run, only the
    /// first [`VIOLATIONS_KEPT`]: [`Outcome::violation_count`] is how many there were.
    pub violations: Vec<Violation>,
    /// What the report should say beside the verdict: why it is unknown, what the
    /// trace showed (for instance which resend behaviour), or why a pass is a pass.
    pub note: Option<String>,
    /// Violations found after those in `violations`, let go by
    /// [`Outcome::keep_first`].
    not_kept: u64,
}

impl Outcome {
    /// `Fail` with the violations in time order if there are any, else `Pass`. The
    /// sort is stable, so violations at the same instant keep the order the checker
    /// found them in, which is the trace's order.
    pub fn from_violations(name: &'static str, mut violations: Vec<Violation>) -> Outcome {
        violations.sort_by_key(|v| v.at);
        let verdict = if violations.is_empty() { Verdict::Pass } else { Verdict::Fail };
        Outcome { name, verdict, violations, note: None, not_kept: 0 }
    }

    /// An outcome the trace cannot decide.
    pub fn unknown(name: &'static str, note: impl Into<String>) -> Outcome {
        Outcome {
            name,
            verdict: Verdict::Unknown,
            violations: Vec::new(),
            note: Some(note.into()),
            not_kept: 0,
        }
    }

    /// How many violations the checker found: those kept in `violations` and those
    /// [`Outcome::keep_first`] let go. `expect` counts, the verdict table and the
    /// report's JSON read this, never `violations.len()`.
    pub fn violation_count(&self) -> u64 {
        self.violations.len() as u64 + self.not_kept
    }

    /// Keeps the first `n` violations (the earliest) and counts the rest, so that what
    /// a run holds does not grow with how badly it failed. The verdict and
    /// [`Outcome::violation_count`] are unchanged.
    pub fn keep_first(mut self, n: usize) -> Outcome {
        if self.violations.len() > n {
            self.not_kept += (self.violations.len() - n) as u64;
            self.violations.truncate(n);
            self.violations.shrink_to_fit();
        }
        self
    }

    pub(crate) fn with_note(mut self, note: impl Into<String>) -> Outcome {
        self.note = Some(note.into());
        self
    }

    /// Whether the verdict is `Pass`.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// Everything a checker reads. Cheap to copy: it only borrows.
#[derive(Clone, Copy, Debug)]
pub struct CheckInput<'a> {
    /// The finished trace of the run.
    pub trace: &'a Trace,
    /// The scenario the run played, resolved.
    pub plan: &'a ScenarioPlan,
    /// The invariant's parameters, their names and kinds checked by the resolver: the
    /// scenario's, and the declared default of each it left out
    /// ([`ParamDefault::Value`]). Only one declared [`ParamDefault::Computed`] may be
    /// missing, and the checker then works out its value. Read them typed with
    /// [`CheckInput::duration_param`] and the others.
    pub params: &'a BTreeMap<String, ParamValue>,
}

impl CheckInput<'_> {
    /// Parameter `name`, declared [`ParamKind::Duration`]; `None` when it has no value
    /// (declared [`ParamDefault::Computed`] and left out) or is of another kind.
    pub fn duration_param(&self, name: &str) -> Option<Duration> {
        match self.params.get(name) {
            Some(ParamValue::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// Parameter `name`, declared [`ParamKind::Count`]; `None` as for
    /// [`CheckInput::duration_param`].
    pub fn count_param(&self, name: &str) -> Option<u64> {
        match self.params.get(name) {
            Some(ParamValue::Count(n)) => Some(*n),
            _ => None,
        }
    }

    /// Parameter `name`, declared [`ParamKind::Size`], in bytes (`Some(None)` is
    /// `unlimited`); `None` as for [`CheckInput::duration_param`].
    pub fn size_param(&self, name: &str) -> Option<Option<u64>> {
        match self.params.get(name) {
            Some(ParamValue::Size(bytes)) => Some(*bytes),
            _ => None,
        }
    }

    /// Parameter `name`, declared [`ParamKind::Number`]; `None` as for
    /// [`CheckInput::duration_param`].
    pub fn number_param(&self, name: &str) -> Option<f64> {
        match self.params.get(name) {
            Some(ParamValue::Number(x)) => Some(*x),
            _ => None,
        }
    }

    /// Parameter `name`, declared [`ParamKind::Bool`]; `None` as for
    /// [`CheckInput::duration_param`].
    pub fn bool_param(&self, name: &str) -> Option<bool> {
        match self.params.get(name) {
            Some(ParamValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// Parameter `name`, declared [`ParamKind::Text`] or [`ParamKind::OneOf`]; `None`
    /// as for [`CheckInput::duration_param`].
    pub fn text_param(&self, name: &str) -> Option<&str> {
        match self.params.get(name) {
            Some(ParamValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The socket an event names, if the plan has it. Traces come from the plan, so a
    /// miss means a runtime bug; checkers skip such events rather than panic.
    pub(crate) fn socket_plan(&self, node: Replica, socket: SocketIndex) -> Option<&SocketPlan> {
        let group = self.plan.topology.groups.get(node.group.0 as usize)?;
        group.sockets.get(usize::from(socket))
    }

    /// `client.3`, as reports and selectors spell a replica: for a violation's text.
    pub fn node_name(&self, node: Replica) -> String {
        match self.plan.topology.groups.get(node.group.0 as usize) {
            Some(group) => format!("{}.{}", group.name, node.index),
            None => format!("group#{}.{}", node.group.0, node.index),
        }
    }

    /// Fault `index` of the plan named in full: as the trace names it (which says
    /// whether a swarm drew it), or from the plan for a hand-built trace.
    pub(crate) fn fault_name(&self, index: usize, fault: &FaultPlan) -> String {
        match self.trace.faults.get(index) {
            Some(named) => named.text.clone(),
            None => {
                format!("fault #{index} ({})", crate::trace::fault_text(&self.plan.topology, fault))
            }
        }
    }

    /// `client.3#7`: a message id as reports spell it (the replica that made it, and
    /// its count there), for a violation's text.
    pub fn msg_name(&self, id: impl std::borrow::Borrow<MsgId>) -> String {
        crate::trace::msg_label(&self.plan.topology, *id.borrow())
    }

    /// `client.3.req`: a replica's socket by its topology name, as traces and
    /// `connect:` write it (the replica alone for `None`), for a violation's text.
    pub fn socket_name(&self, node: Replica, socket: Option<SocketIndex>) -> String {
        match socket {
            Some(i) => self.plan.topology.socket_name(node, usize::from(i)),
            None => self.node_name(node),
        }
    }

    /// Where the run ended: the trace's end, or its last event if that is later (a
    /// trace built by hand may leave `ended_at` at zero).
    pub fn end(&self) -> Duration {
        let last = self.trace.last_at().unwrap_or(Duration::ZERO);
        self.trace.ended_at.max(last)
    }

    /// The type of the socket an event names, if the event names one the plan has.
    pub fn socket_type(&self, node: Replica, socket: Option<SocketIndex>) -> Option<SocketType> {
        socket.and_then(|i| self.socket_plan(node, i)).map(|p| p.socket_type)
    }

    /// The sockets a connect in either direction wires to socket `socket` of `group`,
    /// as (group, socket index), in the plan's order.
    pub(crate) fn peer_sockets(&self, group: GroupId, socket: usize) -> Vec<(GroupId, usize)> {
        let mut peers = Vec::new();
        for c in &self.plan.topology.connections {
            if c.from_group == group && c.from_socket == socket {
                peers.push((c.to.group, c.to.socket));
            }
            if c.to.group == group && c.to.socket == socket {
                peers.push((c.from_group, c.from_socket));
            }
        }
        peers
    }

    /// The ids producers declared as pipeline tasks (`AppEvent::TaskIssued`).
    pub(crate) fn issued_tasks(&self) -> BTreeSet<MsgId> {
        let issued = self.trace.iter().filter_map(|e| match e.kind {
            EventKind::App(AppEvent::TaskIssued { id }) => Some(id),
            _ => None,
        });
        issued.collect()
    }

    /// Whether a `Send` of `id` on `socket` of `node` pushes a pipeline task, and if so
    /// the PULL sockets the plan wires to that PUSH. When producers declare their tasks
    /// (`issued` holds the declared ids) a task is a declared id sent on any PUSH;
    /// otherwise, any id sent on a PUSH of a pipeline's first stage (a group with a
    /// PUSH and no PULL: nothing feeds it).
    pub(crate) fn task_pullers(
        &self,
        node: Replica,
        socket: SocketIndex,
        id: MsgId,
        issued: &BTreeSet<MsgId>,
    ) -> Option<Vec<(GroupId, usize)>> {
        let group = self.plan.topology.groups.get(node.group.0 as usize)?;
        let is_push = group.sockets.get(usize::from(socket))?.socket_type == SocketType::Push;
        let is_task = if issued.is_empty() {
            !group.has_socket_type(&[SocketType::Pull])
        } else {
            issued.contains(&id)
        };
        if !is_push || !is_task {
            return None;
        }
        let is_pull = |(g, s): &(GroupId, usize)| {
            let plan = self.plan.topology.groups.get(g.0 as usize).and_then(|g| g.sockets.get(*s));
            plan.is_some_and(|p| p.socket_type == SocketType::Pull)
        };
        Some(
            self.peer_sockets(node.group, usize::from(socket))
                .into_iter()
                .filter(is_pull)
                .collect(),
        )
    }
}

/// Where a message id says it was made (its layout lives in `plan/msg_id.rs`).
pub(crate) use crate::plan::MsgOrigin;

/// Durations in violation texts. A whole number of milliseconds, which is every time
/// in a simulated run, is spelled as the files spell it (`1s`, `1010ms`); a time read
/// from a real clock is rounded to the microsecond (`407.312ms`, `5.002002s`) rather
/// than spelled out in nanoseconds.
pub(crate) fn dur(d: Duration) -> String {
    let micros = d.as_micros();
    if d.as_nanos().is_multiple_of(1_000_000) || micros == 0 {
        return format_duration(d);
    }
    // (micros a unit, the unit, digits of a fraction of it)
    let (per, unit, width) =
        if micros < 1_000_000 { (1_000, "ms", 3) } else { (1_000_000, "s", 6) };
    let (whole, fraction) = (micros / per, micros % per);
    let fraction = format!("{fraction:0width$}");
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { format!("{whole}{unit}") } else { format!("{whole}.{fraction}{unit}") }
}

#[cfg(test)]
mod dur_tests {
    use std::time::Duration;

    use super::dur;

    #[test]
    fn simulated_times_keep_the_files_spelling_and_real_ones_round_to_microseconds() {
        let cases = [
            (Duration::from_millis(2020), "2020ms"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_nanos(407_312_143), "407.312ms"),
            (Duration::from_nanos(5_002_002_162), "5.002002s"),
            (Duration::from_nanos(1_500_000_400), "1.5s"),
            (Duration::from_nanos(999), "999ns"),
        ];
        for (d, want) in cases {
            assert_eq!(dur(d), want, "{d:?}");
        }
    }
}

/// Builders for checker unit tests: a minimal scenario and synthetic traces, built as
/// struct literals so the tests do not depend on the resolver or the runtime.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use crate::plan::{MsgId, ScenarioPlan};
    use crate::trace::{EventKind, MsgInfo, Trace, TraceEvent};

    use super::{CheckInput, Outcome, Replica};

    pub(crate) use crate::plan::testing::*;

    /// A message id as `design/ctx.rs` packs it.
    pub(crate) fn msg_id(node: Replica, incarnation: u32, counter: u32) -> MsgId {
        crate::plan::MsgOrigin { node, incarnation, counter }.pack()
    }

    pub(crate) fn msg(id: Option<u64>, request_id: Option<u32>) -> MsgInfo {
        MsgInfo { id, request_id, len: 20 }
    }

    /// An event at a node, on a socket or (`None`) not.
    pub(crate) fn at(
        t: Duration,
        node: Replica,
        socket: Option<u16>,
        kind: EventKind,
    ) -> TraceEvent {
        TraceEvent { at: t, node: Some(node), socket, kind }
    }

    /// A run-level event (faults, phases).
    pub(crate) fn run_event(t: Duration, kind: EventKind) -> TraceEvent {
        TraceEvent { at: t, node: None, socket: None, kind }
    }

    /// A trace whose safety phase ended at `healed_at` and which ended at `ended_at`.
    pub(crate) fn trace(
        events: Vec<TraceEvent>,
        healed_at: Option<Duration>,
        ended_at: Duration,
    ) -> Trace {
        Trace { events, healed_at, ended_at, ..Trace::default() }
    }

    /// Runs `checker` over `trace` and `plan` with no parameters.
    pub(crate) fn run(
        checker: fn(&CheckInput) -> Outcome,
        trace: &Trace,
        plan: &ScenarioPlan,
    ) -> Outcome {
        let params = BTreeMap::new();
        checker(&CheckInput { trace, plan, params: &params })
    }

    /// The violation texts, for assertions that read like the report.
    pub(crate) fn texts(outcome: &Outcome) -> Vec<&str> {
        outcome.violations.iter().map(|v| v.text.as_str()).collect()
    }
}

impl<'a> CheckInput<'a> {
    /// When processes ended: the `FaultBegin` of every scheduled kill or crash, read
    /// from the trace once. Faults the runtime drew itself (beyond the scenario's
    /// list) have no plan to name their nodes, so they are not seen.
    ///
    /// A checker reads this once and asks it per request, task or unit: asking the
    /// trace itself each time decoded the whole trace per question, and a run that
    /// took 0.8 s left 10,000 unanswered requests that took 100 s to check.
    pub(crate) fn process_ends(&self) -> ProcessEnds<'a> {
        let faults: &'a [FaultPlan] = &self.plan.faults;
        let ends = self.trace.iter().filter_map(|e| match e.kind {
            EventKind::FaultBegin { fault, .. } if e.node.is_none() => {
                let plan = faults.get(fault as usize)?;
                matches!(plan.kind, FaultKind::Kill | FaultKind::Crash).then_some((plan, e.at))
            }
            _ => None,
        });
        ProcessEnds { ends: ends.collect() }
    }
}

/// Every scheduled kill and crash that began in a run, with when
/// ([`CheckInput::process_ends`]).
#[derive(Debug)]
pub(crate) struct ProcessEnds<'a> {
    ends: Vec<(&'a FaultPlan, Duration)>,
}

impl ProcessEnds<'_> {
    /// When the process at `node` ended, in trace order.
    pub(crate) fn of(&self, node: Replica) -> impl DoubleEndedIterator<Item = Duration> + '_ {
        self.how(node).map(|(at, _)| at)
    }

    /// When the process at `node` ended and how, as a violation words it (`killed`
    /// or `crashed`), in trace order.
    pub(crate) fn how(
        &self,
        node: Replica,
    ) -> impl DoubleEndedIterator<Item = (Duration, &'static str)> + '_ {
        let picks = move |f: &FaultPlan| f.nodes.iter().any(|s| s.picks(node));
        self.ends
            .iter()
            .filter(move |(f, _)| picks(f))
            .map(|&(f, at)| (at, if f.kind == FaultKind::Crash { "crashed" } else { "killed" }))
    }

    /// Whether the process at `node` was killed or crashed in `(after, until]`.
    pub(crate) fn between(&self, node: Replica, after: Duration, until: Duration) -> bool {
        self.of(node).any(|t| t > after && t <= until)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::ms;
    use super::*;

    #[test]
    fn a_message_id_decodes_to_the_replica_incarnation_and_counter_that_made_it() {
        let made_by = testing::node(3, 70_000);
        let origin = MsgOrigin::of(testing::msg_id(made_by, 2, 12_345));
        assert_eq!(origin, MsgOrigin { node: made_by, incarnation: 2, counter: 12_345 });
    }

    #[test]
    fn violations_come_back_in_time_order_and_make_a_fail() {
        let v = |t, text: &str| Violation::new(ms(t), None, text);
        let outcome =
            Outcome::from_violations("x", vec![v(30, "c"), v(10, "a"), v(30, "d"), v(20, "b")]);
        assert_eq!(outcome.verdict, Verdict::Fail);
        let texts: Vec<_> = outcome.violations.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
    }

    /// Issue 16: a comet run at a million users failed `fanout_correct` 207,522 times;
    /// its outcome keeps the first examples and the exact count.
    #[test]
    fn a_huge_violation_list_is_cut_to_its_first_examples_with_the_exact_count_kept() {
        let found: Vec<Violation> = (0..207_522u64)
            .rev()
            .map(|t| Violation::new(Duration::from_micros(t), None, format!("v{t}")))
            .collect();
        let outcome = Outcome::from_violations("x", found).keep_first(VIOLATIONS_KEPT);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.violation_count(), 207_522);
        assert_eq!(outcome.violations.len(), VIOLATIONS_KEPT);
        let texts: Vec<&str> = outcome.violations.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts[..3], ["v0", "v1", "v2"], "the earliest are kept");
        assert_eq!(texts[VIOLATIONS_KEPT - 1], format!("v{}", VIOLATIONS_KEPT - 1));
        // Keeping fewer again counts on from there; a short list is left alone.
        let again = outcome.keep_first(1);
        assert_eq!((again.violations.len(), again.violation_count()), (1, 207_522));
        let short = Outcome::from_violations("x", vec![Violation::new(ms(1), None, "a")]);
        assert_eq!(short.clone().keep_first(VIOLATIONS_KEPT), short);
        assert_eq!(short.violation_count(), 1);
    }

    #[test]
    fn no_violations_is_a_pass_and_verdicts_print_in_lower_case() {
        let outcome = Outcome::from_violations("x", Vec::new());
        assert!(outcome.passed());
        let shown: Vec<_> = [Verdict::Pass, Verdict::Fail, Verdict::Unknown]
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert_eq!(shown, ["pass", "fail", "unknown"]);
        assert_eq!(Outcome::unknown("x", "why").verdict, Verdict::Unknown);
    }
}
