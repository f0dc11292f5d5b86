//! Raw scenario → [`ScenarioPlan`]: timing, network, workload, faults, invariants.
//!
//! The topology is resolved first (its own diagnostics name its own file); then
//! everything the scenario says is checked against it, every problem reported.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::design::Registry;
use crate::invariant;
use crate::spec::diag::{Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawDist, RawExpect, RawFault, RawNetwork, RawScenario, RawWorkload};
use crate::spec::scalar::{OneOrMany, Scalar};
use crate::spec::suggest::did_you_mean;
use crate::spec::units::{
    format_duration, parse_bandwidth, parse_duration, parse_rate, parse_size,
};

use super::resolve_topology::parse_param;
use super::scenario::{
    CountRange, DROP_REASONS, Distribution, Expect, ExpectBounds, ExpectIn, FaultKind, FaultPlan,
    InvariantPlan, LinkPlan, NetworkPlan, ScenarioPlan, Selector, SwarmPlan, WorkloadPlan,
};
use super::topology::TopologyPlan;

/// Defaults for what a scenario leaves out.
pub const DEFAULT_SEEDS: u64 = 8;
/// Most seeds a count may ask for; each one is a whole simulation.
const SEEDS_MAX: u64 = 1_000_000;
pub const DEFAULT_LIVENESS: Duration = Duration::from_secs(60);
/// Linux gives up on an established connection after about 15 minutes of
/// retransmissions (tcp_retries2 = 15).
pub const DEFAULT_TCP_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);
pub const DEFAULT_LATENCY_MS: f64 = 1.0;

/// The unit a distribution's values are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Quantity {
    Duration,
    Size,
}

pub(super) struct ScenarioResolver<'r, 'd, 'a> {
    pub(super) registry: &'r Registry,
    pub(super) diags: &'d mut Diagnostics<'a>,
    pub(super) topology: &'d TopologyPlan,
    /// `None` when the duration itself was wrong: everything else is still checked,
    /// only the checks against the duration are skipped.
    pub(super) duration: Option<Duration>,
}

impl ScenarioResolver<'_, '_, '_> {
    /// The safety phase's length: required, and longer than zero.
    pub(super) fn duration_required(
        raw: &RawScenario,
        diags: &mut Diagnostics,
    ) -> Option<Duration> {
        let path = YamlPath::root().key("duration");
        match parse_duration(&raw.duration.text) {
            Ok(d) if d.is_zero() => {
                diags
                    .error(
                        &path,
                        Target::Value,
                        "out-of-range",
                        "`duration` must be longer than zero",
                    )
                    .hint("for example `duration: 60s`");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                let d = diags.error(
                    &path,
                    Target::Value,
                    "bad-unit",
                    format!("`duration`: {}", e.message),
                );
                if let Some(h) = e.hint {
                    d.hint(h);
                }
                None
            }
        }
    }

    pub(super) fn resolve(mut self, raw: &RawScenario) -> Option<ScenarioPlan> {
        let root = YamlPath::root();
        // `liveness: 0` is allowed: a run with no liveness phase, whose in-flight work
        // invariants report as unknown.
        let liveness = match &raw.liveness {
            Some(s) => self.duration_of(s, &root.key("liveness")).unwrap_or(DEFAULT_LIVENESS),
            None => DEFAULT_LIVENESS,
        };
        let tcp_timeout =
            self.opt_duration(&raw.tcp_timeout, &root.key("tcp_timeout"), DEFAULT_TCP_TIMEOUT);
        let seeds = self.seeds(&raw.seeds);
        let network = self.network(raw.network.as_ref());
        let workload = self.workloads(&raw.workload);
        let faults: Vec<FaultPlan> = raw
            .faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| self.fault(f, &root.key("faults").index(i)))
            .collect();
        let swarm = raw.swarm.as_ref().and_then(|s| self.swarm(s));
        let invariants = self.invariants(raw);
        let (expect, expect_bounds) = self.expect(raw, &invariants);
        self.warn_unreached(&workload);
        if self.diags.has_errors() {
            return None;
        }
        let duration = self.duration?;
        Some(ScenarioPlan {
            name: raw.name.clone().unwrap_or_else(|| self.diags.source().stem()),
            file: self.diags.source().path.clone(),
            description: raw.description.clone(),
            topology: self.topology.clone(),
            duration,
            liveness,
            seeds,
            tcp_timeout,
            network,
            workload,
            faults,
            swarm,
            invariants,
            expect,
            expect_bounds,
        })
    }

    pub(super) fn duration_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<Duration> {
        match parse_duration(&s.text) {
            Ok(d) => Some(d),
            Err(e) => {
                let what = path.last().map(|s| s.to_string()).unwrap_or_default();
                let d = self.diags.error(
                    path,
                    Target::Value,
                    "bad-unit",
                    format!("`{what}`: {}", e.message),
                );
                if let Some(h) = e.hint {
                    d.hint(h);
                }
                None
            }
        }
    }

    fn opt_duration(&mut self, s: &Option<Scalar>, path: &YamlPath, default: Duration) -> Duration {
        let Some(s) = s else { return default };
        match self.duration_of(s, path) {
            Some(d) if d.is_zero() => {
                let what = path.last().map(|s| s.to_string()).unwrap_or_default();
                self.diags.error(
                    path,
                    Target::Value,
                    "out-of-range",
                    format!("`{what}` must be longer than zero"),
                );
                default
            }
            Some(d) => d,
            None => default,
        }
    }

    fn seeds(&mut self, raw: &Option<OneOrMany<u64>>) -> Vec<u64> {
        let path = YamlPath::root().key("seeds");
        match raw {
            None => (1..=DEFAULT_SEEDS).collect(),
            Some(OneOrMany::One(0)) => {
                self.diags
                    .error(&path, Target::Value, "out-of-range", "`seeds: 0` runs nothing")
                    .hint("give a count such as `seeds: 20` or a list such as `seeds: [1, 7]`");
                Vec::new()
            }
            Some(OneOrMany::One(n)) if *n > SEEDS_MAX => {
                // The seeds are listed in the plan: a huge count must not allocate them.
                self.diags
                    .error(
                        &path,
                        Target::Value,
                        "out-of-range",
                        format!("`seeds: {n}` asks for more than {SEEDS_MAX} runs"),
                    )
                    .hint("give a smaller count, or list the seeds such as `seeds: [1, 7]`");
                Vec::new()
            }
            Some(OneOrMany::One(n)) => (1..=*n).collect(),
            Some(OneOrMany::Many(list)) if list.is_empty() => {
                self.diags.error(
                    &path,
                    Target::Value,
                    "empty",
                    "an empty list of seeds runs nothing",
                );
                Vec::new()
            }
            Some(OneOrMany::Many(list)) => list.clone(),
        }
    }

    fn network(&mut self, raw: Option<&RawNetwork>) -> NetworkPlan {
        let path = YamlPath::root().key("network");
        let default = RawNetwork::default();
        let raw = raw.unwrap_or(&default);
        let tick = match &raw.tick {
            None => DEFAULT_TICK,
            Some(s) => match self.duration_of(s, &path.key("tick")) {
                Some(d) if d.is_zero() || d.subsec_nanos() % 1_000_000 != 0 => {
                    self.diags
                        .error(&path.key("tick"), Target::Value, "bad-value", "the simulator tick must be a whole number of milliseconds, at least 1ms")
                        .hint("turmoil computes latency in whole milliseconds; `1ms` is the finest");
                    DEFAULT_TICK
                }
                Some(d) => d,
                None => DEFAULT_TICK,
            },
        };
        let latency = raw
            .latency
            .as_ref()
            .and_then(|l| self.dist(l, Quantity::Duration, &path.key("latency")))
            .unwrap_or(Distribution::Fixed(DEFAULT_LATENCY_MS * 1e6));
        let loss = raw.loss.map_or(0.0, |l| self.probability(l, &path.key("loss")));
        let bandwidth = raw
            .bandwidth
            .as_ref()
            .and_then(|b| self.bandwidth_of(b, &path.key("bandwidth")))
            .unwrap_or(f64::INFINITY);
        let links = raw
            .links
            .iter()
            .enumerate()
            .filter_map(|(i, link)| {
                let lpath = path.key("links").index(i);
                // Checked first but used last, so a bad `between` does not hide the
                // link's other mistakes.
                let sides = self.two_sides(&link.between, &lpath.key("between"));
                let latency = link
                    .latency
                    .as_ref()
                    .and_then(|l| self.dist(l, Quantity::Duration, &lpath.key("latency")));
                let loss = link.loss.map(|l| self.probability(l, &lpath.key("loss")));
                let bandwidth = link
                    .bandwidth
                    .as_ref()
                    .and_then(|b| self.bandwidth_of(b, &lpath.key("bandwidth")));
                Some(LinkPlan { between: sides?, latency, loss, bandwidth })
            })
            .collect();
        NetworkPlan { tick, latency, loss, bandwidth, links }
    }

    fn two_sides(&mut self, names: &[String], path: &YamlPath) -> Option<[Selector; 2]> {
        if names.len() != 2 {
            self.diags
                .error(
                    path,
                    Target::Value,
                    "bad-value",
                    format!("`between` needs exactly two nodes, found {}", names.len()),
                )
                .hint("for example `between: [client, broker]`");
            return None;
        }
        let a = self.selector(&names[0], &path.index(0));
        let b = self.selector(&names[1], &path.index(1));
        Some([a?, b?])
    }

    pub(super) fn probability(&mut self, p: f64, path: &YamlPath) -> f64 {
        if (0.0..=1.0).contains(&p) {
            return p;
        }
        self.diags
            .error(
                path,
                Target::Value,
                "out-of-range",
                format!("a probability must be between 0 and 1, found {p}"),
            )
            .hint("write 1% as `0.01`");
        0.0
    }

    /// `broker` or `client.3`.
    pub(super) fn selector(&mut self, text: &str, path: &YamlPath) -> Option<Selector> {
        let (name, index) = match text.split_once('.') {
            Some((name, index)) => (name, Some(index)),
            None => (text, None),
        };
        let Some(group) = self.topology.group_by_name(name) else {
            let d = self.diags.error(
                path,
                Target::Value,
                "unknown-node",
                format!("no node is called `{name}`"),
            );
            match did_you_mean(name, self.topology.groups.iter().map(|g| g.name.as_str())) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!(
                    "the topology's nodes: {}",
                    self.topology
                        .groups
                        .iter()
                        .map(|g| g.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            return None;
        };
        let replica = match index.map(str::parse::<u32>) {
            None => None,
            Some(Ok(i)) if i < group.count => Some(i),
            Some(Ok(i)) => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "out-of-range",
                        format!(
                            "`{text}`: node `{name}` has {} replicas, so `{i}` does not exist",
                            group.count
                        ),
                    )
                    .hint(format!(
                        "replicas are numbered `{name}.0` to `{name}.{}`",
                        group.count - 1
                    ));
                return None;
            }
            Some(Err(_)) => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "bad-selector",
                        format!("`{text}` is not a node or replica"),
                    )
                    .hint(format!("write `{name}` for every replica or `{name}.0` for one"));
                return None;
            }
        };
        Some(Selector { group: group.id, replica })
    }

    pub(super) fn dist(
        &mut self,
        raw: &RawDist,
        q: Quantity,
        path: &YamlPath,
    ) -> Option<Distribution> {
        match raw {
            RawDist::Fixed(s) => self.quantity(s, q, path).map(Distribution::Fixed),
            RawDist::Named { name, args } => {
                self.named_dist(name, args, q, &path.key(name.as_str()))
            }
        }
    }

    fn named_dist(
        &mut self,
        name: &str,
        args: &[Scalar],
        q: Quantity,
        path: &YamlPath,
    ) -> Option<Distribution> {
        const NAMES: [&str; 4] = ["uniform", "exponential", "normal", "lognormal"];
        let arity = match name {
            "exponential" => 1,
            "uniform" | "normal" | "lognormal" => 2,
            _ => {
                let d = self.diags.error(
                    path,
                    Target::Key,
                    "unknown-distribution",
                    format!("`{name}` is not a distribution"),
                );
                match did_you_mean(name, NAMES) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("distributions: {}", NAMES.join(", "))),
                };
                return None;
            }
        };
        if args.len() != arity {
            let example = match name {
                "exponential" => "`{exponential: 50ms}` (the mean)",
                "uniform" => "`{uniform: [1ms, 5ms]}` (min, max)",
                "normal" => "`{normal: [50ms, 5ms]}` (mean, standard deviation)",
                _ => "`{lognormal: [1MiB, 50MiB]}` (median, 99th percentile)",
            };
            self.diags
                .error(
                    path,
                    Target::Value,
                    "bad-distribution",
                    format!("`{name}` takes {arity} value(s), found {}", args.len()),
                )
                .hint(format!("for example {example}"));
            return None;
        }
        let values: Vec<f64> = args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                self.quantity(a, q, &if arity == 1 { path.clone() } else { path.index(i) })
            })
            .collect::<Option<_>>()?;
        let (a, b) = (values[0], values.get(1).copied().unwrap_or(0.0));
        let ordered = |ok: bool, this: &mut Self, what: &str| {
            if !ok {
                this.diags.error(
                    path,
                    Target::Value,
                    "bad-distribution",
                    format!("`{name}`: {what}"),
                );
            }
            ok
        };
        match name {
            "exponential" => ordered(a > 0.0, self, "the mean must be above zero")
                .then_some(Distribution::Exponential { mean: a }),
            "uniform" => ordered(a <= b, self, "the minimum is above the maximum")
                .then_some(Distribution::Uniform { min: a, max: b }),
            "normal" => Some(Distribution::Normal { mean: a, stddev: b }),
            _ => ordered(
                a > 0.0 && a <= b,
                self,
                "the median must be above zero and at most the 99th percentile",
            )
            .then_some(Distribution::LogNormal { median: a, p99: b }),
        }
    }

    fn quantity(&mut self, s: &Scalar, q: Quantity, path: &YamlPath) -> Option<f64> {
        let parsed = match q {
            Quantity::Duration => parse_duration(&s.text).map(|d| d.as_nanos() as f64),
            Quantity::Size => parse_size(&s.text).and_then(|v| {
                v.map(|b| b as f64).ok_or_else(|| crate::spec::units::UnitError {
                    message: "a message size cannot be unlimited".into(),
                    hint: Some("give a size such as `1KiB`".into()),
                })
            }),
        };
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                let d = self.diags.error(path, Target::Value, "bad-unit", e.message);
                if let Some(h) = e.hint {
                    d.hint(h);
                }
                None
            }
        }
    }

    fn workloads(
        &mut self,
        raw: &BTreeMap<String, RawWorkload>,
    ) -> BTreeMap<super::topology::GroupId, WorkloadPlan> {
        let mut out = BTreeMap::new();
        for (name, w) in raw {
            let path = YamlPath::root().key("workload").key(name.as_str());
            let Some(group) = self.topology.group_by_name(name) else {
                let d = self.diags.error(
                    &path,
                    Target::Key,
                    "unknown-node",
                    format!("workload for `{name}`, which is not a node of the topology"),
                );
                if let Some(s) =
                    did_you_mean(name, self.topology.groups.iter().map(|g| g.name.as_str()))
                {
                    d.hint(format!("did you mean `{s}`?"));
                }
                continue;
            };
            let id = group.id;
            let design = self.registry.get(&group.design).map(|d| (d.name(), d.workload_fields()));
            let plan = self.workload(w, design, &path);
            out.insert(id, plan);
        }
        out
    }

    fn invariants(&mut self, raw: &RawScenario) -> Vec<InvariantPlan> {
        let mut out = Vec::new();
        for (i, inv) in raw.invariants.iter().enumerate() {
            let path = YamlPath::root().key("invariants").index(i);
            let Some(spec) = invariant::spec(&inv.name) else {
                let d = self.diags.error(
                    &path,
                    Target::Value,
                    "unknown-invariant",
                    format!("no invariant is called `{}`", inv.name),
                );
                match did_you_mean(&inv.name, invariant::catalog().iter().map(|s| s.name)) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!(
                        "invariants: {}",
                        invariant::catalog().iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                    )),
                };
                continue;
            };
            if out.iter().any(|p: &InvariantPlan| p.name == spec.name) {
                self.diags.error(
                    &path,
                    Target::Value,
                    "duplicate-invariant",
                    format!("`{}` is listed twice", spec.name),
                );
                continue;
            }
            if let Err(reason) = (spec.applies)(self.topology, self.registry) {
                self.diags
                    .error(
                        &path,
                        Target::Value,
                        "invariant-not-applicable",
                        format!("`{}` cannot apply to this topology: {reason}", spec.name),
                    )
                    .hint(format!("`{}` checks that {}", spec.name, spec.summary));
                continue;
            }
            let mut params = BTreeMap::new();
            for (pname, value) in &inv.params {
                let ppath = path.key(spec.name).key(pname.as_str());
                let Some(pspec) = spec.params.iter().find(|p| p.name == pname) else {
                    let d = self.diags.error(
                        &ppath,
                        Target::Key,
                        "unknown-param",
                        format!("`{}` takes no parameter `{pname}`", spec.name),
                    );
                    if spec.params.is_empty() {
                        d.hint("it takes no parameters");
                    } else {
                        d.hint(format!(
                            "it takes: {}",
                            spec.params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    continue;
                };
                match parse_param(pspec.kind, &value.text) {
                    Ok(v) => {
                        params.insert(pname.clone(), v);
                    }
                    Err(hint) => {
                        self.diags
                            .error(
                                &ppath,
                                Target::Value,
                                "bad-value",
                                format!("`{pname}` must be {}", pspec.kind.describe()),
                            )
                            .hint(hint);
                    }
                }
            }
            out.push(InvariantPlan { name: spec.name, params });
        }
        out
    }

    fn expect(
        &mut self,
        raw: &RawScenario,
        invariants: &[InvariantPlan],
    ) -> (Expect, ExpectBounds) {
        let spec = match &raw.expect {
            RawExpect::Pass => return (Expect::Pass, ExpectBounds::default()),
            RawExpect::Spec(spec) => spec,
        };
        let path = YamlPath::root().key("expect");
        let expect = match &spec.violated {
            None => Expect::Pass,
            Some(names) => {
                self.expect_violated(raw, invariants, names, &path.key("violated"));
                Expect::Violated(names.clone())
            }
        };
        let seeds = self.expect_in(spec.in_seeds.as_deref(), &expect, &path.key("in"));
        let mut violations = BTreeMap::new();
        for (name, written) in &spec.violations {
            let vpath = path.key("violations").key(name.as_str());
            if !matches!(&expect, Expect::Violated(v) if v.contains(name)) {
                self.diags
                    .error(
                        &vpath,
                        Target::Key,
                        "count-not-violated",
                        format!("counts violations of `{name}`, which `violated` does not list"),
                    )
                    .hint(format!("add `{name}` to `violated:`, or remove its count"));
                continue;
            }
            if let Some(range) = self.count_range(written, &vpath) {
                if range.min == 0 {
                    self.diags
                        .error(&vpath, Target::Value, "out-of-range", format!("`{name}` is expected to be violated, so it has at least one violation"))
                        .hint("start the range at 1");
                }
                violations.insert(name.clone(), range);
            }
        }
        let mut drops = BTreeMap::new();
        for (name, written) in &spec.drops {
            let dpath = path.key("drops").key(name.as_str());
            let Some((_, reason)) = DROP_REASONS.iter().find(|(n, _)| n == name) else {
                let names = DROP_REASONS.map(|(n, _)| n);
                let d = self.diags.error(
                    &dpath,
                    Target::Key,
                    "unknown-drop-reason",
                    format!("`{name}` is not a drop reason"),
                );
                match did_you_mean(name, names) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("drop reasons: {}", names.join(", "))),
                };
                continue;
            };
            if let Some(range) = self.count_range(written, &dpath) {
                drops.insert(*reason, range);
            }
        }
        (expect, ExpectBounds { seeds, violations, drops })
    }

    fn expect_violated(
        &mut self,
        raw: &RawScenario,
        invariants: &[InvariantPlan],
        names: &[String],
        path: &YamlPath,
    ) {
        if names.is_empty() {
            self.diags
                .error(path, Target::Value, "empty", "`violated` lists no invariant")
                .hint("write `expect: pass` if every invariant should hold");
        }
        for (i, name) in names.iter().enumerate() {
            if !raw.invariants.iter().any(|inv| &inv.name == name) {
                let d = self.diags.error(
                    &path.index(i),
                    Target::Value,
                    "expect-unchecked",
                    format!("expects `{name}` to be violated, but the scenario does not check it"),
                );
                match did_you_mean(name, invariants.iter().map(|p| p.name)) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("add `{name}` to `invariants:`")),
                };
            }
        }
    }

    /// `in: every | any`; `any` only with `violated`, since "passes in some seed"
    /// says nothing of the others.
    fn expect_in(&mut self, written: Option<&str>, expect: &Expect, path: &YamlPath) -> ExpectIn {
        match written {
            None | Some("every") => ExpectIn::Every,
            Some("any") if *expect == Expect::Pass => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "bad-value",
                        "`in: any` needs `violated`: which outcome is to show in some seed?",
                    )
                    .hint("a scenario that must pass does so in every seed; drop `in`");
                ExpectIn::Every
            }
            Some("any") => ExpectIn::Any,
            Some(other) => {
                let d = self.diags.error(
                    path,
                    Target::Value,
                    "unknown-variant",
                    format!("`in: {other}` is neither `every` nor `any`"),
                );
                match did_you_mean(other, ["every", "any"]) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint("`every` seed (the default) or `any` seed"),
                };
                ExpectIn::Every
            }
        }
    }

    /// `N` or `[min, max]` of whole numbers; `max` may be `.inf`.
    fn count_range(&mut self, written: &OneOrMany<Scalar>, path: &YamlPath) -> Option<CountRange> {
        let whole = |s: &Scalar| s.text.replace('_', "").parse::<u64>().ok();
        let range = match written {
            OneOrMany::One(n) => whole(n).map(|n| CountRange { min: n, max: Some(n) }),
            OneOrMany::Many(v) => match v.as_slice() {
                [min, max] if matches!(max.text.as_str(), ".inf" | "+.inf" | "inf") => {
                    whole(min).map(|min| CountRange { min, max: None })
                }
                [min, max] => match (whole(min), whole(max)) {
                    (Some(min), Some(max)) if min <= max => {
                        Some(CountRange { min, max: Some(max) })
                    }
                    _ => None,
                },
                _ => None,
            },
        };
        if range.is_none() {
            self.diags
                .error(
                    path,
                    Target::Value,
                    "bad-range",
                    "a count is a whole number `N` or a range `[min, max]` with min at most max",
                )
                .hint("for example `3`, `[1, 20]`, or `[1, .inf]` for at least one");
        }
        range
    }

    /// A group that no workload-bearing group can reach through the topology graph
    /// never does anything: worth a warning, not an error.
    fn warn_unreached(&mut self, workload: &BTreeMap<super::topology::GroupId, WorkloadPlan>) {
        if workload.is_empty() {
            self.diags
                .warning(
                    &YamlPath::root(),
                    Target::Value,
                    "no-workload",
                    "the scenario gives no node a workload, so nothing will happen",
                )
                .hint("add `workload: {client: {requests: 10}}`");
            return;
        }
        let graph = crate::graph::TopologyGraph::new(self.topology);
        let reached = graph.reachable_from(workload.keys().copied());
        for group in &self.topology.groups {
            if !reached.contains(&group.id) {
                self.diags
                    .warning(
                        &YamlPath::root().key("workload"),
                        Target::Key,
                        "unreached-node",
                        format!("no workload can reach node `{}`", group.name),
                    )
                    .hint("connect it to a node with a workload, or remove it");
            }
        }
    }

    pub(super) fn fault_window(
        &mut self,
        f: &RawFault,
        path: &YamlPath,
    ) -> Option<(Duration, Option<Duration>)> {
        let at = self.duration_of(&f.at, &path.key("at"))?;
        if let Some(duration) = self.duration
            && at > duration
        {
            self.diags
                .error(
                    &path.key("at"),
                    Target::Value,
                    "fault-out-of-range",
                    format!(
                        "the fault starts at {}, after the scenario's duration of {}",
                        format_duration(at),
                        format_duration(duration)
                    ),
                )
                .hint("faults happen in the safety phase, between 0 and `duration`");
        }
        let until = match (&f.for_, &f.until) {
            (Some(_), Some(_)) => {
                self.diags
                    .error(
                        &path.key("until"),
                        Target::Key,
                        "conflicting-fields",
                        "give `for` or `until`, not both",
                    )
                    .hint("`for: 5s` is the same as `until:` five seconds after `at`");
                None
            }
            (Some(len), None) => {
                let len = self.duration_of(len, &path.key("for"))?;
                if len.is_zero() {
                    self.diags.error(
                        &path.key("for"),
                        Target::Value,
                        "out-of-range",
                        "`for` must be longer than zero",
                    );
                }
                // Saturates: a fault that lasts longer than time can count lasts for ever.
                Some(at.saturating_add(len))
            }
            // The fault lasts through the liveness phase to the run's end.
            (None, Some(end)) if end.text == "end" => Some(Duration::MAX),
            (None, Some(end)) => {
                let end = self.duration_of(end, &path.key("until"))?;
                if end <= at {
                    self.diags
                        .error(
                            &path.key("until"),
                            Target::Value,
                            "fault-ends-early",
                            format!(
                                "the fault ends at {}, before it begins at {}",
                                format_duration(end),
                                format_duration(at)
                            ),
                        )
                        .hint("`until` is an absolute time; for a length use `for`");
                }
                Some(end)
            }
            (None, None) => None,
        };
        Some((at, until))
    }

    fn swarm(&mut self, raw: &crate::spec::raw::RawSwarm) -> Option<SwarmPlan> {
        let path = YamlPath::root().key("swarm");
        let mut kinds = Vec::new();
        for (i, k) in raw.kinds.iter().enumerate() {
            match FaultKind::from_name(k) {
                Some(kind) => kinds.push(kind),
                None => self.unknown_fault_kind(k, &path.key("kinds").index(i)),
            }
        }
        let targets: Vec<Selector> = raw
            .targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.selector(t, &path.key("targets").index(i)))
            .collect();
        let (faults_min, faults_max) = match &raw.faults {
            None => (1, 3),
            Some(OneOrMany::One(n)) => (*n, *n),
            Some(OneOrMany::Many(v)) if v.len() == 2 && v[0] <= v[1] => (v[0], v[1]),
            Some(OneOrMany::Many(_)) => {
                self.diags
                    .error(
                        &path.key("faults"),
                        Target::Value,
                        "bad-value",
                        "`faults` is a count or a range `[min, max]`",
                    )
                    .hint("for example `faults: [1, 4]`");
                (1, 3)
            }
        };
        let duration = raw
            .duration
            .as_ref()
            .and_then(|d| self.dist(d, Quantity::Duration, &path.key("duration")));
        let latency = raw
            .latency
            .as_ref()
            .and_then(|d| self.dist(d, Quantity::Duration, &path.key("latency")));
        let loss = match raw.loss.as_deref() {
            None => None,
            Some([a, b]) if (0.0..=1.0).contains(a) && (0.0..=1.0).contains(b) && a <= b => {
                Some((*a, *b))
            }
            Some(_) => {
                self.diags
                    .error(
                        &path.key("loss"),
                        Target::Value,
                        "bad-value",
                        "`loss` is a range of probabilities `[min, max]`",
                    )
                    .hint("for example `loss: [0.01, 0.2]`");
                None
            }
        };
        Some(SwarmPlan { kinds, targets, faults_min, faults_max, duration, loss, latency })
    }

    pub(super) fn unknown_fault_kind(&mut self, kind: &str, path: &YamlPath) {
        let names = FaultKind::ALL.map(FaultKind::name);
        let d = self.diags.error(
            path,
            Target::Value,
            "unknown-fault",
            format!("`{kind}` is not a kind of fault"),
        );
        match did_you_mean(kind, names) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None => d.hint(format!("fault kinds: {}", names.join(", "))),
        };
    }

    pub(super) fn rate_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<f64> {
        match parse_rate(&s.text) {
            Ok(r) if r > 0.0 => Some(r),
            Ok(_) => {
                self.diags.error(path, Target::Value, "out-of-range", "a rate must be above zero");
                None
            }
            Err(e) => {
                let d = self.diags.error(path, Target::Value, "bad-unit", e.message);
                if let Some(h) = e.hint {
                    d.hint(h);
                }
                None
            }
        }
    }

    /// A bandwidth (`1MiB/s`) in bytes per second, above zero; `unlimited` is infinite.
    pub(super) fn bandwidth_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<f64> {
        match parse_bandwidth(&s.text) {
            Ok(b) if b > 0.0 => Some(b),
            Ok(_) => {
                self.diags
                    .error(path, Target::Value, "out-of-range", "a bandwidth must be above zero")
                    .hint("a link that carries nothing is a partition: use `kind: partition`");
                None
            }
            Err(e) => {
                let what = path.last().map(|s| s.to_string()).unwrap_or_default();
                let d = self.diags.error(
                    path,
                    Target::Value,
                    "bad-unit",
                    format!("`{what}`: {}", e.message),
                );
                if let Some(h) = e.hint {
                    d.hint(h);
                }
                None
            }
        }
    }

    pub(super) fn count_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<u64> {
        match s.text.replace('_', "").parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let what = path.last().map(|s| s.to_string()).unwrap_or_default();
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "bad-type",
                        format!("`{what}` must be a whole number, found `{}`", s.text),
                    )
                    .hint("for example `100`");
                None
            }
        }
    }
}
