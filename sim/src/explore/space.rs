//! What exploration may vary in a scenario, and the proptest strategy that draws cases.
//!
//! A [`Space`] is read off the user's scenario: which fault kinds to draw (the
//! scenario's `swarm:` block, or a default set), how many faults at most, the safety
//! phase's length, the topology's count parameters, the workload's whole-number fields
//! (`requests`, `chunks`, ...), and socket options with a few meaningful values each.
//! A [`Case`] is one point of that space. Cases keep their faults as genes (a kind, a
//! target and times as fractions of the safety phase) rather than as resolved faults,
//! so shrinking the duration or a count never leaves a fault pointing outside the run.
//!
//! Every strategy here shrinks towards the simplest scenario: fewer faults (proptest's
//! `vec` drops elements), shorter and earlier faults, the first fault kind and target,
//! counts and workload sizes towards 1, the duration towards a quarter of the
//! original, and every option back to what the scenario already says. Counts and the
//! duration are drawn as written more often than not ([`TowardsLow`]), so unshrunk
//! cases look like the scenario the user wrote with faults added.

use std::time::Duration;

use proptest::num::u64::BinarySearch;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, NewTree};
use proptest::test_runner::TestRunner;

use crate::plan::{FaultKind, ScenarioPlan};
use crate::socket::SocketType;
use crate::spec::edit::Tree;

/// Fault kinds drawn when the scenario has no `swarm:` block. `restart` is left out:
/// `kill` and `crash` already restart their node when their `for` ends.
pub const DEFAULT_KINDS: [FaultKind; 7] = [
    FaultKind::Partition,
    FaultKind::Clog,
    FaultKind::Latency,
    FaultKind::Loss,
    FaultKind::Stall,
    FaultKind::Kill,
    FaultKind::Crash,
];

/// Faults a case holds at most when the scenario's `swarm:` block does not say.
pub const DEFAULT_MAX_FAULTS: usize = 4;

/// Count parameters above this are left alone: they size a population (the comet
/// router's users), not a handful of replicas, and growing them only slows runs.
const COUNT_PARAM_MAX: i64 = 64;

/// One fault as drawn: turned into a scenario fault once the case's counts are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultGene {
    /// Index into [`Space::kinds`].
    pub kind: usize,
    /// Picks the target: for node faults a replica of the targeted groups, for link
    /// faults one of the topology's connections and a replica at its connecting end.
    pub target: u32,
    /// Start, in thousandths of the safety phase.
    pub at: u16,
    /// Length, in thousandths of the safety phase.
    pub len: u16,
    /// Size of a `latency` or `loss` fault, in thousandths of its range.
    pub amount: u16,
    /// Whether a partition or clog holds one direction only.
    pub oneway: bool,
}

/// A socket option exploration may set, with the values it tries.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionKnob {
    /// `node.socket`, as the scenario's `overrides` key it.
    pub socket: String,
    pub option: &'static str,
    pub choices: Vec<Tree>,
}

/// A whole-number knob: a topology parameter or a workload field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountKnob {
    /// The parameter name, or `group.field` for a workload field.
    pub name: String,
    pub base: u64,
    pub max: u64,
}

/// Everything exploration may vary in one scenario.
#[derive(Clone, Debug)]
pub struct Space {
    pub kinds: Vec<FaultKind>,
    pub max_faults: usize,
    pub duration: Duration,
    /// Whether the safety phase keeps its length (the scenario has no liveness phase).
    pub fixed_duration: bool,
    pub params: Vec<CountKnob>,
    pub workload: Vec<CountKnob>,
    pub options: Vec<OptionKnob>,
}

/// One generated variant of the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The simulation seed the variant runs with.
    pub seed: u64,
    pub duration_ms: u64,
    pub faults: Vec<FaultGene>,
    /// One per [`Space::params`].
    pub params: Vec<u64>,
    /// One per [`Space::workload`].
    pub workload: Vec<u64>,
    /// One per [`Space::options`]: an index into its `choices`, `None` keeps it.
    pub options: Vec<Option<usize>>,
}

impl Space {
    /// The space of `plan`, whose scenario file was read as `doc` and whose topology
    /// file as `topology_doc`. `max_faults` overrides the scenario's own bound.
    pub fn of(
        plan: &ScenarioPlan,
        doc: &Tree,
        topology_doc: &Tree,
        max_faults: Option<usize>,
    ) -> Space {
        let (kinds, swarm_max) = match &plan.swarm {
            Some(s) if !s.kinds.is_empty() => (s.kinds.clone(), s.faults_max as usize),
            _ => (DEFAULT_KINDS.to_vec(), DEFAULT_MAX_FAULTS),
        };
        Space {
            kinds,
            max_faults: max_faults.unwrap_or(swarm_max),
            duration: plan.duration,
            fixed_duration: plan.liveness.is_zero(),
            params: count_params(doc, topology_doc),
            workload: workload_counts(doc),
            options: option_knobs(plan),
        }
    }

    /// The same space with everything but faults (and the seed) held as written.
    pub fn faults_only(self) -> Space {
        Space {
            fixed_duration: true,
            params: Vec::new(),
            workload: Vec::new(),
            options: Vec::new(),
            ..self
        }
    }

    /// The proptest strategy drawing cases of this space.
    pub(crate) fn strategy(&self) -> BoxedStrategy<Case> {
        let base_ms = self.duration.as_millis().max(1) as u64;
        // Without a liveness phase nothing in flight at the end is given time to land,
        // so a shorter safety phase would only cut work off: keep it as written.
        let shortest_ms = if self.fixed_duration { base_ms } else { (base_ms / 4).max(1) };
        let gene = (
            0..self.kinds.len().max(1),
            any::<u32>(),
            0u16..1000,
            1u16..1000,
            0u16..1000,
            proptest::bool::weighted(0.25),
        )
            .prop_map(|(kind, target, at, len, amount, oneway)| FaultGene {
                kind,
                target,
                at,
                len,
                amount,
                oneway,
            });
        let counts = |knobs: &[CountKnob]| -> Vec<TowardsLow> {
            knobs.iter().map(|k| TowardsLow { lo: 1, base: k.base, max: k.max.max(1) }).collect()
        };
        let options: Vec<BoxedStrategy<Option<usize>>> = self
            .options
            .iter()
            .map(|k| prop_oneof![Just(None), (0..k.choices.len()).prop_map(Some)].boxed())
            .collect();
        (
            // A seed a person can read and type; the space of runs is no smaller for it.
            any::<u32>().prop_map(u64::from).no_shrink(),
            TowardsLow { lo: shortest_ms, base: base_ms, max: base_ms },
            proptest::collection::vec(gene, 0..=self.max_faults),
            counts(&self.params),
            counts(&self.workload),
            options,
        )
            .prop_map(|(seed, duration_ms, faults, params, workload, options)| Case {
                seed,
                duration_ms,
                faults,
                params,
                workload,
                options,
            })
            .boxed()
    }
}

/// A whole number drawn as written (`base`) two times in three and from `lo..=max`
/// otherwise, which shrinks by binary search from wherever it started down towards
/// `lo`: a case looks like the user's scenario more often than not, and shrinking
/// still finds the smallest count that fails.
#[derive(Clone, Copy, Debug)]
struct TowardsLow {
    lo: u64,
    base: u64,
    max: u64,
}

impl Strategy for TowardsLow {
    type Tree = BinarySearch;
    type Value = u64;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let rng = runner.rng();
        let start = if !rng.next_u32().is_multiple_of(3) {
            self.base
        } else {
            self.lo + rng.next_u64() % (self.max.saturating_sub(self.lo) + 1)
        };
        Ok(BinarySearch::new_above(self.lo, start.clamp(self.lo, self.max.max(self.lo))))
    }
}

/// Topology parameters that hold a small whole number, with the scenario's override
/// where it has one: these are replica counts in every shipped topology. Growing one
/// is allowed up to twice its value (at least 2), shrinking down to 1.
fn count_params(doc: &Tree, topology_doc: &Tree) -> Vec<CountKnob> {
    let overrides = doc.get("params");
    let mut out = Vec::new();
    for (name, value) in topology_doc.get("params").map(Tree::entries).unwrap_or_default() {
        let value = overrides.and_then(|o| o.get(name)).unwrap_or(value);
        if let Some(n) = value.as_i64().filter(|n| (1..=COUNT_PARAM_MAX).contains(n)) {
            let base = n as u64;
            out.push(CountKnob { name: name.clone(), base, max: (base * 2).max(2) });
        }
    }
    out
}

/// The workload's whole-number fields: how much work each replica does. Exploration
/// only shrinks them (a smaller failing case is easier to read; a larger one is the
/// same bug, slower).
fn workload_counts(doc: &Tree) -> Vec<CountKnob> {
    let mut out = Vec::new();
    for (group, fields) in doc.get("workload").map(Tree::entries).unwrap_or_default() {
        for (field, value) in fields.entries() {
            if let Some(n) = value.as_i64().filter(|n| *n >= 1) {
                let base = n as u64;
                out.push(CountKnob { name: format!("{group}.{field}"), base, max: base });
            }
        }
    }
    out
}

/// Options that change how a pattern copes with faults, each with a few values the
/// real libraries allow: high-water marks, reconnect and (for REQ) resend intervals.
fn option_knobs(plan: &ScenarioPlan) -> Vec<OptionKnob> {
    let text = |s: &str| Tree::Str(s.to_owned());
    let mut out = Vec::new();
    for g in &plan.topology.groups {
        for s in &g.sockets {
            let socket = format!("{}.{}", g.name, s.name);
            out.push(OptionKnob {
                socket: socket.clone(),
                option: "sndhwm",
                choices: vec![Tree::Int(1), Tree::Int(10), Tree::Int(100)],
            });
            out.push(OptionKnob {
                socket: socket.clone(),
                option: "reconnect_ivl",
                choices: vec![text("10ms"), text("1s")],
            });
            if s.socket_type == SocketType::Req {
                out.push(OptionKnob {
                    socket,
                    option: "req_resend_ivl",
                    choices: vec![text("1s"), text("10s")],
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{TestRng, TestRunner};

    use super::*;

    fn space() -> Space {
        Space {
            kinds: DEFAULT_KINDS.to_vec(),
            max_faults: 3,
            duration: Duration::from_secs(8),
            fixed_duration: false,
            params: vec![CountKnob { name: "workers".into(), base: 3, max: 6 }],
            workload: vec![CountKnob { name: "client.requests".into(), base: 20, max: 20 }],
            options: vec![],
        }
    }

    #[test]
    fn cases_stay_inside_the_space() {
        let space = space();
        let mut runner = TestRunner::new_with_rng(
            Default::default(),
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        for _ in 0..200 {
            let case = space.strategy().new_tree(&mut runner).expect("a tree").current();
            assert!(case.faults.len() <= 3, "{case:?}");
            assert!((2_000..=8_000).contains(&case.duration_ms), "{case:?}");
            assert!((1..=6).contains(&case.params[0]), "{case:?}");
            assert!((1..=20).contains(&case.workload[0]), "{case:?}");
            assert!(case.faults.iter().all(|f| f.kind < space.kinds.len() && f.len >= 1));
        }
    }

    #[test]
    fn shrinking_removes_every_fault_and_brings_counts_to_one() {
        let space = space();
        let mut runner = TestRunner::new_with_rng(
            Default::default(),
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        // Find a case with faults and set counts, then shrink it as a property that
        // always fails would: every simplification is accepted.
        let mut tree = loop {
            let tree = space.strategy().new_tree(&mut runner).expect("a tree");
            let c = tree.current();
            if !c.faults.is_empty() && c.params[0] > 1 {
                break tree;
            }
        };
        while tree.simplify() {}
        let simplest = tree.current();
        assert!(simplest.faults.is_empty(), "{simplest:?}");
        assert_eq!((simplest.params[0], simplest.workload[0]), (1, 1), "{simplest:?}");
        assert_eq!(simplest.duration_ms, 2_000, "{simplest:?}");
    }
}
