//! The resolved scenario: a topology plan plus what happens to it and what must hold.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rand::Rng;

use crate::socket::DropReason;

use super::topology::{GroupId, ParamValue, Replica, TopologyPlan};

/// A group or one replica of it, as named in faults and links: `broker`, `client.3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selector {
    pub group: GroupId,
    pub replica: Option<u32>,
}

impl Selector {
    /// Whether this selector names `node`: its whole group, or just that replica.
    pub fn picks(&self, node: Replica) -> bool {
        self.group == node.group && self.replica.is_none_or(|i| i == node.index)
    }
}

/// A value drawn per event. Durations are in nanoseconds, sizes in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    Fixed(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
    },
    Normal {
        mean: f64,
        stddev: f64,
    },
    /// Log-normal given by its median and its 99th percentile, which users know better
    /// than mu and sigma.
    LogNormal {
        median: f64,
        p99: f64,
    },
}

impl Distribution {
    /// A draw from this distribution with `rng` (nanoseconds for durations, bytes for
    /// sizes). Designs, the fault world and swarms all draw through here, each with
    /// its own seeded generator.
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        match *self {
            Distribution::Fixed(v) => v,
            Distribution::Uniform { min, max } if max > min => rng.random_range(min..max),
            Distribution::Uniform { min, .. } => min,
            Distribution::Exponential { mean } => -mean * (1.0 - rng.random::<f64>()).ln(),
            Distribution::Normal { mean, stddev } => {
                (mean + stddev * standard_normal(rng)).max(0.0)
            }
            Distribution::LogNormal { median, p99 } => {
                // p99 = median * exp(2.326 sigma)
                let sigma = (p99 / median).ln() / 2.326;
                median * (sigma * standard_normal(rng)).exp()
            }
        }
    }
}

/// Box-Muller: two uniforms, one standard normal.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Distribution {
    /// The largest value the distribution can produce, or its 99th percentile where it
    /// is unbounded: what timing checks use as a bound.
    pub fn high(&self) -> f64 {
        match *self {
            Distribution::Fixed(v) => v,
            Distribution::Uniform { max, .. } => max,
            Distribution::Exponential { mean } => mean * 4.61,
            Distribution::Normal { mean, stddev } => mean + 2.33 * stddev,
            Distribution::LogNormal { p99, .. } => p99,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkPlan {
    pub between: [Selector; 2],
    pub latency: Option<Distribution>,
    pub loss: Option<f64>,
    /// Bytes per second each way; infinite for `unlimited`, `None` for the network's.
    pub bandwidth: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkPlan {
    pub tick: Duration,
    pub latency: Distribution,
    pub loss: f64,
    /// Bytes per second every link carries at most, each way; infinite when unlimited.
    pub bandwidth: f64,
    pub links: Vec<LinkPlan>,
}

/// What one group does, every field checked against its design's workload list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadPlan {
    pub requests: Option<u64>,
    /// Per second, per replica.
    pub rate: Option<f64>,
    pub start_at: Option<Distribution>,
    pub size: Option<Distribution>,
    pub service_time: Option<Distribution>,
    pub publish_rate: Option<f64>,
    pub publishes: Option<u64>,
    pub join_at: Option<Distribution>,
    pub leave_at: Option<Distribution>,
    pub session: Option<Distribution>,
    pub offline: Option<Distribution>,
    pub online_fraction: Option<f64>,
    pub jobs: Option<u64>,
    pub chunks: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// Traffic between two sets is held; it flows again when the partition heals, and
    /// connections held longer than `tcp_timeout` are reset at both ends.
    Partition,
    /// Like a partition, but meant as congestion: everything is delivered late.
    Clog,
    /// The process dies: its connections are reset; it restarts empty after `for`.
    Kill,
    /// The machine goes silent: peers see nothing until their own timeouts.
    Crash,
    /// A killed or crashed node comes back, empty.
    Restart,
    /// The node stops reading, like a long GC pause.
    Stall,
    /// Link latency changes.
    Latency,
    /// Link loss changes (TCP retransmits: messages arrive late, not never).
    Loss,
    /// Link bandwidth changes: bytes flow each way no faster than the limit.
    Bandwidth,
}

impl FaultKind {
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Partition,
        FaultKind::Clog,
        FaultKind::Kill,
        FaultKind::Crash,
        FaultKind::Restart,
        FaultKind::Stall,
        FaultKind::Latency,
        FaultKind::Loss,
        FaultKind::Bandwidth,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Clog => "clog",
            FaultKind::Kill => "kill",
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::Stall => "stall",
            FaultKind::Latency => "latency",
            FaultKind::Loss => "loss",
            FaultKind::Bandwidth => "bandwidth",
        }
    }

    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the fault acts on nodes (`node:`) rather than links (`between:`).
    pub fn is_node_fault(self) -> bool {
        matches!(self, FaultKind::Kill | FaultKind::Crash | FaultKind::Restart | FaultKind::Stall)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    pub kind: FaultKind,
    pub at: Duration,
    /// When the fault ends (or, for `kill` and `crash`, when the node restarts);
    /// `None` lasts until the safety phase ends and everything heals. A time past
    /// the scenario's `duration` lasts into the liveness phase; `Duration::MAX`
    /// (`until: end`) lasts to the run's end.
    pub until: Option<Duration>,
    /// Targets of a node fault.
    pub nodes: Vec<Selector>,
    /// The two sides of a link fault.
    pub between: Option<[Vec<Selector>; 2]>,
    pub oneway: bool,
    pub latency: Option<Distribution>,
    pub rate: Option<f64>,
    /// A `bandwidth` fault's limit in bytes per second, each way; infinite lifts it.
    pub bandwidth: Option<f64>,
}

/// Faults drawn from each run's seed.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmPlan {
    pub kinds: Vec<FaultKind>,
    pub targets: Vec<Selector>,
    pub faults_min: u64,
    pub faults_max: u64,
    pub duration: Option<Distribution>,
    pub loss: Option<(f64, f64)>,
    pub latency: Option<Distribution>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InvariantPlan {
    pub name: &'static str,
    pub params: BTreeMap<String, ParamValue>,
}

/// The outcome a scenario expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Pass,
    /// These invariants must be violated (and every other listed one must pass).
    Violated(Vec<String>),
}

/// In how many seeds the expected outcome must show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpectIn {
    /// Every seed ends as expected (the default).
    #[default]
    Every,
    /// At least one seed shows the expected outcome, and every other seed passes
    /// every invariant: a bug that bites in some seeds only.
    Any,
}

/// A count a scenario expects, per seed: between `min` and `max` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountRange {
    pub min: u64,
    /// `None` is unbounded (`.inf` in the file).
    pub max: Option<u64>,
}

impl CountRange {
    pub fn contains(&self, n: u64) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

impl std::fmt::Display for CountRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max {
            Some(max) if max == self.min => write!(f, "{max}"),
            Some(max) => write!(f, "[{}, {max}]", self.min),
            None => write!(f, "[{}, .inf]", self.min),
        }
    }
}

/// What `expect` says beyond the verdicts: where the outcome shows and how much.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectBounds {
    pub seeds: ExpectIn,
    /// Violations per seed of a violated invariant, by invariant name.
    pub violations: BTreeMap<String, CountRange>,
    /// Dropped messages per seed, by drop reason, over every socket of the run.
    pub drops: BTreeMap<DropReason, CountRange>,
}

impl ExpectBounds {
    /// `in: any; violations: …; drops: …` for tables and `--explain`; empty when
    /// nothing beyond the verdicts is expected.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.seeds == ExpectIn::Any {
            parts.push("in any seed".to_owned());
        }
        for (name, range) in &self.violations {
            parts.push(format!("{name} ×{range}"));
        }
        for (reason, range) in &self.drops {
            parts.push(format!("drops {} {range}", drop_reason_name(*reason)));
        }
        parts.join("; ")
    }
}

/// Drop reasons as `expect: {drops: …}` names them.
pub const DROP_REASONS: [(&str, DropReason); 8] = [
    ("hwm", DropReason::Hwm),
    ("unknown_peer", DropReason::UnknownPeer),
    ("pipe_closed", DropReason::PipeClosed),
    ("late_reply", DropReason::LateReply),
    ("peer_gone", DropReason::PeerGone),
    ("malformed", DropReason::Malformed),
    ("unsubscribed", DropReason::Unsubscribed),
    ("expired", DropReason::Expired),
];

pub fn drop_reason_name(reason: DropReason) -> &'static str {
    DROP_REASONS.iter().find(|(_, r)| *r == reason).map_or("?", |(name, _)| name)
}

/// An immutable, fully checked scenario.
#[derive(Clone, Debug)]
pub struct ScenarioPlan {
    pub name: String,
    pub file: PathBuf,
    pub description: Option<String>,
    pub topology: TopologyPlan,
    pub duration: Duration,
    pub liveness: Duration,
    pub seeds: Vec<u64>,
    pub tcp_timeout: Duration,
    pub network: NetworkPlan,
    pub workload: BTreeMap<GroupId, WorkloadPlan>,
    pub faults: Vec<FaultPlan>,
    pub swarm: Option<SwarmPlan>,
    pub invariants: Vec<InvariantPlan>,
    pub expect: Expect,
    /// Where the expected outcome must show and the counts it comes with.
    pub expect_bounds: ExpectBounds,
}

impl ScenarioPlan {
    /// The whole expectation in words: `violated: x; in any seed; x ×[1, 5]`.
    pub fn expect_text(&self) -> String {
        let verdicts = match &self.expect {
            Expect::Pass => "pass".to_owned(),
            Expect::Violated(names) => format!("violated: {}", names.join(", ")),
        };
        match self.expect_bounds.describe() {
            more if more.is_empty() => verdicts,
            more => format!("{verdicts}; {more}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn a_group_selector_picks_each_replica_and_a_replica_selector_only_its_own() {
        let node = |group, index| Replica { group: GroupId(group), index };
        let group = Selector { group: GroupId(1), replica: None };
        let one = Selector { group: GroupId(1), replica: Some(2) };
        assert!(group.picks(node(1, 0)) && group.picks(node(1, 7)));
        assert!(!group.picks(node(0, 0)));
        assert!(one.picks(node(1, 2)));
        assert!(!one.picks(node(1, 3)) && !one.picks(node(2, 2)));
    }

    #[test]
    fn a_distribution_draws_within_its_shape_and_a_degenerate_one_is_its_value() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        assert_eq!(Distribution::Fixed(3.0).sample(&mut rng), 3.0);
        assert_eq!(Distribution::Uniform { min: 5.0, max: 5.0 }.sample(&mut rng), 5.0);
        let uniform = Distribution::Uniform { min: 1.0, max: 2.0 };
        let draws: Vec<f64> = (0..100).map(|_| uniform.sample(&mut rng)).collect();
        assert!(draws.iter().all(|d| (1.0..2.0).contains(d)), "{draws:?}");
        let normal = Distribution::Normal { mean: 0.0, stddev: 10.0 };
        // Negative draws clamp to zero: a duration or size is never negative.
        assert!((0..100).map(|_| normal.sample(&mut rng)).all(|d| d >= 0.0));
    }
}
