//! What a checker hands back: a verdict, every violation it found, and a note.
//!
//! Every checker takes the same [`CheckInput`] (the finished trace, the scenario it
//! ran, the invariant's parameters) and returns an [`Outcome`]. A checker never stops
//! at the first violation: reports list them all, in time order. `Unknown` is for a
//! trace that cannot decide the property (work still in flight when the run stopped,
//! or no checker yet), and is never to be read as a pass.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::plan::{ParamValue, Replica, ScenarioPlan, SocketPlan};
use crate::spec::units::format_duration;
use crate::trace::{SocketIndex, Trace};

/// Whether an invariant held over one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
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
    pub fn new(at: Duration, node: Option<Replica>, text: impl Into<String>) -> Violation {
        Violation { at, node, text: text.into() }
    }
}

/// The result of checking one invariant over one trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub name: &'static str,
    pub verdict: Verdict,
    /// Sorted by time; empty unless the verdict is `Fail`.
    pub violations: Vec<Violation>,
    /// What the report should say beside the verdict: why it is unknown, what the
    /// trace showed (for instance which resend behaviour), or why a pass is a pass.
    pub note: Option<String>,
}

impl Outcome {
    /// `Fail` with the violations in time order if there are any, else `Pass`. The
    /// sort is stable, so violations at the same instant keep the order the checker
    /// found them in, which is the trace's order.
    pub fn from_violations(name: &'static str, mut violations: Vec<Violation>) -> Outcome {
        violations.sort_by_key(|v| v.at);
        let verdict = if violations.is_empty() { Verdict::Pass } else { Verdict::Fail };
        Outcome { name, verdict, violations, note: None }
    }

    /// An outcome the trace cannot decide.
    pub fn unknown(name: &'static str, note: impl Into<String>) -> Outcome {
        Outcome { name, verdict: Verdict::Unknown, violations: Vec::new(), note: Some(note.into()) }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Outcome {
        self.note = Some(note.into());
        self
    }

    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// Everything a checker reads. Cheap to copy: it only borrows.
#[derive(Clone, Copy, Debug)]
pub struct CheckInput<'a> {
    pub trace: &'a Trace,
    pub plan: &'a ScenarioPlan,
    /// The invariant's parameters as the scenario gave them (resolution checked names
    /// and kinds); a missing one takes the checker's default.
    pub params: &'a BTreeMap<String, ParamValue>,
}

impl CheckInput<'_> {
    /// A duration parameter, if given.
    pub fn duration_param(&self, name: &str) -> Option<Duration> {
        match self.params.get(name) {
            Some(ParamValue::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// The socket an event names, if the plan has it. Traces come from the plan, so a
    /// miss means a runtime bug; checkers skip such events rather than panic.
    pub fn socket_plan(&self, node: Replica, socket: SocketIndex) -> Option<&SocketPlan> {
        let group = self.plan.topology.groups.get(node.group.0 as usize)?;
        group.sockets.get(usize::from(socket))
    }

    /// `client.3`, as reports and selectors spell a replica.
    pub fn node_name(&self, node: Replica) -> String {
        match self.plan.topology.groups.get(node.group.0 as usize) {
            Some(group) => format!("{}.{}", group.name, node.index),
            None => format!("group#{}.{}", node.group.0, node.index),
        }
    }

    /// `client.3/req`: a replica's socket by its topology name.
    pub fn socket_name(&self, node: Replica, socket: Option<SocketIndex>) -> String {
        let node_name = self.node_name(node);
        match socket {
            Some(i) => match self.socket_plan(node, i) {
                Some(plan) => format!("{node_name}/{}", plan.name),
                None => format!("{node_name}/socket#{i}"),
            },
            None => node_name,
        }
    }

    /// Where the run ended: the trace's end, or its last event if that is later (a
    /// trace built by hand may leave `ended_at` at zero).
    pub fn end(&self) -> Duration {
        let last = self.trace.events.last().map_or(Duration::ZERO, |e| e.at);
        self.trace.ended_at.max(last)
    }
}

/// Durations in violation texts, spelled as the files spell them (`1s`, `1010ms`).
pub(crate) fn dur(d: Duration) -> String {
    format_duration(d)
}

/// Builders for checker unit tests: a minimal scenario and synthetic traces, built as
/// struct literals so the tests do not depend on the resolver or the runtime.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::plan::{
        Distribution, EffectiveOptions, Expect, FaultKind, FaultPlan, Group, GroupId, NetworkPlan,
        ScenarioPlan, Selector, SocketPlan, TopologyPlan,
    };
    use crate::socket::SocketType;
    use crate::trace::{EventKind, MsgInfo, Trace, TraceEvent};

    use super::{CheckInput, Outcome, Replica};

    /// The simulator tick of the test scenario, the default resend tolerance.
    pub(crate) const TICK: Duration = Duration::from_millis(10);
    /// The test REQ socket's resend interval.
    pub(crate) const IVL: Duration = Duration::from_secs(1);
    /// Index of the REQ socket in the client group.
    pub(crate) const REQ: u16 = 0;

    pub(crate) fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Replica `index` of the `client` group (group 0).
    pub(crate) fn client(index: u32) -> Replica {
        Replica { group: GroupId(0), index }
    }

    /// One group `client` of two replicas, each with one REQ socket `req` resending
    /// every [`IVL`]; the network ticks every [`TICK`]; no faults.
    pub(crate) fn plan() -> ScenarioPlan {
        let mut options = EffectiveOptions::defaults(SocketType::Req);
        options.req_resend_ivl.value = Some(IVL);
        let req = SocketPlan {
            name: "req".into(),
            socket_type: SocketType::Req,
            bind: None,
            connects: Vec::new(),
            options,
        };
        let group = Group {
            id: GroupId(0),
            name: "client".into(),
            count: 2,
            design: "client".into(),
            params: BTreeMap::new(),
            sockets: vec![req],
            hosts: 2,
        };
        let topology = TopologyPlan {
            name: "test".into(),
            file: PathBuf::from("test.yaml"),
            description: None,
            params: BTreeMap::new(),
            groups: vec![group],
            connections: Vec::new(),
        };
        ScenarioPlan {
            name: "test".into(),
            file: PathBuf::from("test-scenario.yaml"),
            description: None,
            topology,
            duration: Duration::from_secs(10),
            liveness: Duration::from_secs(10),
            seeds: vec![1],
            tcp_timeout: Duration::from_secs(900),
            network: NetworkPlan {
                tick: TICK,
                latency: Distribution::Fixed(0.0),
                loss: 0.0,
                links: Vec::new(),
            },
            workload: BTreeMap::new(),
            faults: Vec::new(),
            swarm: None,
            invariants: Vec::new(),
            expect: Expect::Pass,
        }
    }

    /// A fault of `kind` at `at` on every client replica, lasting until the heal.
    pub(crate) fn fault(kind: FaultKind, at: Duration) -> FaultPlan {
        FaultPlan {
            kind,
            at,
            until: None,
            nodes: vec![Selector { group: GroupId(0), replica: None }],
            between: None,
            oneway: false,
            latency: None,
            rate: None,
        }
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
        Trace { events, healed_at, ended_at, quiesced: false }
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

#[cfg(test)]
mod tests {
    use super::testing::ms;
    use super::*;

    #[test]
    fn violations_come_back_in_time_order_and_make_a_fail() {
        let v = |t, text: &str| Violation::new(ms(t), None, text);
        let outcome =
            Outcome::from_violations("x", vec![v(30, "c"), v(10, "a"), v(30, "d"), v(20, "b")]);
        assert_eq!(outcome.verdict, Verdict::Fail);
        let texts: Vec<_> = outcome.violations.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
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
