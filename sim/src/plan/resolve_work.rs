//! The scenario resolver's checks of faults and workloads, field by field.
//!
//! Faults and workloads are flat structs in the file; which fields make sense depends
//! on the fault's kind or the group's design, so each misplaced field is reported
//! with what would fit instead.

use crate::spec::diag::Target;
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawFault, RawWorkload};
use crate::spec::scalar::{OneOrMany, Scalar, ScalarKind};

use super::resolve_scenario::{Quantity, ScenarioResolver};
use super::scenario::{FaultKind, FaultPlan, Selector, WorkloadPlan};

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn fault(&mut self, f: &RawFault, path: &YamlPath) -> Option<FaultPlan> {
        let Some(kind) = FaultKind::from_name(&f.kind) else {
            self.unknown_fault_kind(&f.kind, &path.key("kind"));
            return None;
        };
        let window = self.fault_window(f, path);
        self.check_fault_fields(f, kind, path);
        let nodes = match &f.node {
            Some(targets) if kind.is_node_fault() => self.selectors(targets, &path.key("node")),
            _ => Vec::new(),
        };
        let between = match &f.between {
            Some(sides) if !kind.is_node_fault() => self.fault_sides(sides, &path.key("between")),
            _ => None,
        };
        let latency =
            f.latency.as_ref().and_then(|l| self.dist(l, Quantity::Duration, &path.key("latency")));
        // Read only where it applies: elsewhere `check_fault_fields` has said so.
        let rate = match &f.rate {
            Some(r) if kind == FaultKind::Loss => self.probability_of(r, &path.key("rate")),
            _ => None,
        };
        let bandwidth =
            f.bandwidth.as_ref().and_then(|b| self.bandwidth_of(b, &path.key("bandwidth")));
        let (at, until) = window?;
        Some(FaultPlan {
            kind,
            at,
            until,
            nodes,
            between,
            oneway: f.oneway.unwrap_or(false),
            latency,
            rate,
            bandwidth,
        })
    }

    /// A probability written as a number (`0.05`).
    fn probability_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<f64> {
        match s.text.parse::<f64>() {
            Ok(p) if s.kind != ScalarKind::String => Some(self.probability(p, path)),
            _ => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "wrong-type",
                        format!("a probability is a number between 0 and 1, found `{}`", s.text),
                    )
                    .hint("write 5% as `0.05`");
                None
            }
        }
    }

    fn selectors(&mut self, targets: &OneOrMany<String>, path: &YamlPath) -> Vec<Selector> {
        // `node: []` or a side `[]` would make a fault that hits nothing.
        if targets.is_empty() {
            self.diags
                .error(path, Target::Value, "empty", "an empty list names no node")
                .hint("name a node or a replica, e.g. `worker` or `worker.0`");
            return Vec::new();
        }
        targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let p = if targets.is_many() { path.index(i) } else { path.clone() };
                self.selector(t, &p)
            })
            .collect()
    }

    fn fault_sides(
        &mut self,
        sides: &[OneOrMany<String>],
        path: &YamlPath,
    ) -> Option<[Vec<Selector>; 2]> {
        if sides.len() != 2 {
            self.diags
                .error(path, Target::Value, "bad-value", format!("`between` needs two sides, found {}", sides.len()))
                .hint("for example `between: [client.0, broker]` or `between: [[client.0, client.1], broker]`");
            return None;
        }
        let a = self.selectors(&sides[0], &path.index(0));
        let b = self.selectors(&sides[1], &path.index(1));
        if a.is_empty() || b.is_empty() {
            return None;
        }
        if a.iter().any(|s| b.contains(s)) {
            self.diags.error(
                path,
                Target::Value,
                "bad-value",
                "a node is on both sides of the fault",
            );
        }
        Some([a, b])
    }

    /// Every field a fault of `kind` needs is there and every field it ignores is not.
    fn check_fault_fields(&mut self, f: &RawFault, kind: FaultKind, path: &YamlPath) {
        let present = [
            ("node", f.node.is_some()),
            ("between", f.between.is_some()),
            ("oneway", f.oneway.is_some()),
            ("latency", f.latency.is_some()),
            ("rate", f.rate.is_some()),
            ("bandwidth", f.bandwidth.is_some()),
            ("for", f.for_.is_some() || f.until.is_some()),
        ];
        let (needs, allows): (&[&str], &[&str]) = match kind {
            FaultKind::Partition | FaultKind::Clog => (&["between"], &["between", "oneway", "for"]),
            FaultKind::Kill | FaultKind::Crash => (&["node"], &["node", "for"]),
            FaultKind::Restart => (&["node"], &["node"]),
            FaultKind::Stall => (&["node"], &["node", "for"]),
            FaultKind::Latency => (&["between", "latency"], &["between", "latency", "for"]),
            FaultKind::Loss => (&["between", "rate"], &["between", "rate", "for"]),
            FaultKind::Bandwidth => (&["between", "bandwidth"], &["between", "bandwidth", "for"]),
        };
        for (field, is_set) in present {
            if is_set && !allows.contains(&field) {
                let key = if field == "for" && f.for_.is_none() { "until" } else { field };
                self.diags
                    .error(
                        &path.key(key),
                        Target::Key,
                        "field-not-applicable",
                        format!("`{key}` does not apply to a `{}` fault", kind.name()),
                    )
                    .hint(match (kind, key) {
                        (FaultKind::Bandwidth, "rate") => "a `bandwidth` fault's limit is \
                            `bandwidth:` (such as `bandwidth: 1MiB/s`); `rate` is a `loss` \
                            fault's probability"
                            .to_owned(),
                        _ => format!(
                            "a `{}` fault takes: at, kind, {}",
                            kind.name(),
                            allows.join(", ")
                        ),
                    });
            }
            if !is_set && needs.contains(&field) {
                let example = match field {
                    "node" => "node: worker.0",
                    "between" => "between: [client, broker]",
                    "latency" => "latency: 200ms",
                    "bandwidth" => "bandwidth: 1MiB/s",
                    _ => "rate: 0.05",
                };
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "missing-field",
                        format!("a `{}` fault needs `{field}`", kind.name()),
                    )
                    .hint(format!("add `{example}`"));
            }
        }
    }

    pub(super) fn workload(
        &mut self,
        w: &RawWorkload,
        design: Option<(&'static str, &[&'static str])>,
        path: &YamlPath,
    ) -> WorkloadPlan {
        let set = [
            ("requests", w.requests.is_some()),
            ("rate", w.rate.is_some()),
            ("start_at", w.start_at.is_some()),
            ("size", w.size.is_some()),
            ("service_time", w.service_time.is_some()),
            ("publish_rate", w.publish_rate.is_some()),
            ("publishes", w.publishes.is_some()),
            ("join_at", w.join_at.is_some()),
            ("leave_at", w.leave_at.is_some()),
            ("session", w.session.is_some()),
            ("offline", w.offline.is_some()),
            ("online_fraction", w.online_fraction.is_some()),
            ("jobs", w.jobs.is_some()),
            ("chunks", w.chunks.is_some()),
        ];
        if let Some((name, reads)) = design {
            for (field, is_set) in set {
                if is_set && !reads.contains(&field) {
                    let d = self.diags.error(
                        &path.key(field),
                        Target::Key,
                        "field-not-applicable",
                        format!("design `{name}` does not read `{field}`"),
                    );
                    if reads.is_empty() {
                        d.hint(format!("`{name}` takes no workload: it only reacts to traffic"));
                    } else {
                        d.hint(format!("`{name}` reads: {}", reads.join(", ")));
                    }
                }
            }
        }
        let dur = |this: &mut Self, d: &Option<crate::spec::raw::RawDist>, key: &str| {
            d.as_ref().and_then(|d| this.dist(d, Quantity::Duration, &path.key(key)))
        };
        WorkloadPlan {
            requests: w.requests.as_ref().and_then(|s| self.count_of(s, &path.key("requests"))),
            rate: w.rate.as_ref().and_then(|s| self.rate_of(s, &path.key("rate"))),
            start_at: dur(self, &w.start_at, "start_at"),
            size: w.size.as_ref().and_then(|d| self.dist(d, Quantity::Size, &path.key("size"))),
            service_time: dur(self, &w.service_time, "service_time"),
            publish_rate: w
                .publish_rate
                .as_ref()
                .and_then(|s| self.rate_of(s, &path.key("publish_rate"))),
            publishes: w.publishes.as_ref().and_then(|s| self.count_of(s, &path.key("publishes"))),
            join_at: dur(self, &w.join_at, "join_at"),
            leave_at: dur(self, &w.leave_at, "leave_at"),
            session: dur(self, &w.session, "session"),
            offline: dur(self, &w.offline, "offline"),
            online_fraction: w
                .online_fraction
                .map(|p| self.probability(p, &path.key("online_fraction"))),
            jobs: w.jobs.as_ref().and_then(|s| self.count_of(s, &path.key("jobs"))),
            chunks: w.chunks.as_ref().and_then(|s| self.count_of(s, &path.key("chunks"))),
        }
    }
}
