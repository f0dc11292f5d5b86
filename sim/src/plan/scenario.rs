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
    /// The group named.
    pub group: GroupId,
    /// One replica of it (`client.3`), or `None` for every replica.
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
    /// Always this value.
    Fixed(f64),
    /// Any value in `[min, max)`, evenly.
    Uniform {
        /// The lowest value.
        min: f64,
        /// The bound no value reaches.
        max: f64,
    },
    /// Memoryless waits (Poisson arrivals) around a mean.
    Exponential {
        /// The mean.
        mean: f64,
    },
    /// A bell around `mean`, cut at zero (no negative time or size).
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        stddev: f64,
    },
    /// Log-normal given by its median and its 99th percentile, which users know better
    /// than mu and sigma.
    LogNormal {
        /// The median.
        median: f64,
        /// The 99th percentile.
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

/// A link's own conditions, overriding the network's between two sets of nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkPlan {
    /// The two ends (either direction).
    pub between: [Selector; 2],
    /// One-way latency per message, in nanoseconds; `None` for the network's.
    pub latency: Option<Distribution>,
    /// Fraction of packets lost (0 to 1; TCP resends them late); `None` for the network's.
    pub loss: Option<f64>,
    /// Bytes per second each way; infinite for `unlimited`, `None` for the network's.
    pub bandwidth: Option<f64>,
}

/// The simulated network every connection crosses.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkPlan {
    /// The simulator's step: the granularity of simulated time.
    pub tick: Duration,
    /// One-way latency per message, in nanoseconds.
    pub latency: Distribution,
    /// Fraction of packets lost (0 to 1), which TCP resends late.
    pub loss: f64,
    /// Bytes per second every link carries at most, each way; infinite when unlimited.
    pub bandwidth: f64,
    /// Links whose conditions differ from the network's, in file order.
    pub links: Vec<LinkPlan>,
}

/// What one group does, every field checked against its design's workload list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadPlan {
    /// Requests each replica issues (`None`: the design's default; a client issues none).
    pub requests: Option<u64>,
    /// Per second, per replica.
    pub rate: Option<f64>,
    /// When each replica starts, in nanoseconds from the run's start.
    pub start_at: Option<Distribution>,
    /// Payload size per message, in bytes.
    pub size: Option<Distribution>,
    /// Time a worker spends per request, in nanoseconds.
    pub service_time: Option<Distribution>,
    /// Messages a publisher publishes per second.
    pub publish_rate: Option<f64>,
    /// Messages a publisher publishes in all.
    pub publishes: Option<u64>,
    /// When a subscriber joins, in nanoseconds from the run's start.
    pub join_at: Option<Distribution>,
    /// When a subscriber leaves, in nanoseconds from the run's start.
    pub leave_at: Option<Distribution>,
    /// How long a comet user stays logged in, in nanoseconds.
    pub session: Option<Distribution>,
    /// How long a comet user stays logged out, in nanoseconds.
    pub offline: Option<Distribution>,
    /// Fraction of comet users logged in at the start (0 to 1).
    pub online_fraction: Option<f64>,
    /// Jobs an aggregator client sends.
    pub jobs: Option<u64>,
    /// Chunks per job.
    pub chunks: Option<u64>,
}

/// What a fault does.
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
    /// Every kind, in the order the files' documentation lists them.
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

    /// The name a file gives it (`kind: partition`).
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

    pub(crate) fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the fault acts on nodes (`node:`) rather than links (`between:`).
    pub(crate) fn is_node_fault(self) -> bool {
        matches!(self, FaultKind::Kill | FaultKind::Crash | FaultKind::Restart | FaultKind::Stall)
    }
}

/// One scheduled fault.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// What it does.
    pub kind: FaultKind,
    /// When it begins, from the run's start.
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
    /// Whether a link fault holds traffic from the first side to the second only.
    pub oneway: bool,
    /// A `latency` fault's latency, in nanoseconds.
    pub latency: Option<Distribution>,
    /// A `loss` fault's loss fraction (0 to 1).
    pub rate: Option<f64>,
    /// A `bandwidth` fault's limit in bytes per second, each way; infinite lifts it.
    pub bandwidth: Option<f64>,
}

impl FaultPlan {
    /// When the fault ends in a run whose safety phase lasts `duration`: its own
    /// `until`, else the heal at `duration`; never before it begins. The run's
    /// timetable (`run/phases.rs`) and the resolver's check of restarts
    /// (`resolve/restarts.rs`) read it here.
    pub fn ends_at(&self, duration: Duration) -> Duration {
        self.until.unwrap_or(duration).max(self.at)
    }
}

/// Faults drawn from each run's seed.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmPlan {
    /// The kinds a drawn fault may be.
    pub kinds: Vec<FaultKind>,
    /// The nodes drawn faults may hit.
    pub targets: Vec<Selector>,
    /// Fewest faults drawn per seed.
    pub faults_min: u64,
    /// Most faults drawn per seed.
    pub faults_max: u64,
    /// How long each drawn fault lasts, in nanoseconds (`None`: until the heal).
    pub duration: Option<Distribution>,
    /// The range a drawn `loss` fault's rate comes from.
    pub loss: Option<(f64, f64)>,
    /// A drawn `latency` fault's latency, in nanoseconds.
    pub latency: Option<Distribution>,
}

/// An invariant the scenario checks, with its parameters resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct InvariantPlan {
    /// Its registered name.
    pub name: &'static str,
    /// Its parameters, defaults filled in, by name.
    pub params: BTreeMap<String, ParamValue>,
}

/// The outcome a scenario expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Every invariant passes.
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
    /// The fewest.
    pub min: u64,
    /// `None` is unbounded (`.inf` in the file).
    pub max: Option<u64>,
}

impl CountRange {
    /// Whether `n` lies in the range.
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
    /// In how many seeds the outcome must show.
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
            parts.push(format!("{name} violations: {range}"));
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

/// The name `expect: {drops: …}` gives `reason`.
pub fn drop_reason_name(reason: DropReason) -> &'static str {
    DROP_REASONS.iter().find(|(_, r)| *r == reason).map_or("?", |(name, _)| name)
}

/// An immutable, fully checked scenario.
#[derive(Clone, Debug)]
pub struct ScenarioPlan {
    /// The scenario's `name`.
    pub name: String,
    /// The file it was read from, as given.
    pub file: PathBuf,
    /// Its `description`, if it has one.
    pub description: Option<String>,
    /// The topology it runs, resolved with the scenario's parameters.
    pub topology: TopologyPlan,
    /// How long the safety phase (faults on schedule) lasts.
    pub duration: Duration,
    /// The bound on the liveness phase that follows the heal.
    pub liveness: Duration,
    /// The seeds a sweep runs by default.
    pub seeds: Vec<u64>,
    /// How long TCP holds a connection that hears nothing before resetting it.
    pub tcp_timeout: Duration,
    /// The simulated network.
    pub network: NetworkPlan,
    /// What each group does.
    pub workload: BTreeMap<GroupId, WorkloadPlan>,
    /// The scheduled faults, in file order (`FaultBegin { fault }` indexes them).
    pub faults: Vec<FaultPlan>,
    /// Faults drawn per seed, if the scenario asks for a swarm.
    pub swarm: Option<SwarmPlan>,
    /// The invariants checked, in file order (each run's outcomes follow it).
    pub invariants: Vec<InvariantPlan>,
    /// The verdicts the scenario expects.
    pub expect: Expect,
    /// Where the expected outcome must show and the counts it comes with.
    pub expect_bounds: ExpectBounds,
    /// Why a sweep of every shipped scenario leaves it out (`only_when_named`): it runs
    /// only when named. `None`: every sweep runs it.
    pub only_when_named: Option<String>,
    /// Whether the simulator may end a run once provably nothing more can happen in
    /// it, with the trace the full run would have left (`run/simulated.rs`). On
    /// unless `sim --no-idle-end` turns it off, to compare a run with its full length.
    pub end_when_idle: bool,
}

impl ScenarioPlan {
    /// The whole expectation in words: `violated: x; in any seed; x violations: [1, 5]`.
    pub(crate) fn expect_text(&self) -> String {
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
