//! Faults: their kind, their window (`at`, `for`, `until`), their targets, and the
//! fields each kind takes.
//!
//! Faults are flat structs in the file; which fields make sense depends on the fault's
//! kind, so each misplaced field is reported with what would fit instead.

use std::time::Duration;

use super::dist::Quantity;
use super::network::example_ends;
use crate::plan::{FaultKind, FaultPlan, Selector};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawFault;
use crate::spec::scalar::OneOrMany;
use crate::spec::suggest::did_you_mean;
use crate::spec::units::format_duration;

use super::scenario::ScenarioResolver;

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
                    Code::FaultOutOfRange,
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
                        Code::ConflictingFields,
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
                        Code::OutOfRange,
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
                            Code::FaultEndsEarly,
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

    pub(super) fn selectors(
        &mut self,
        targets: &OneOrMany<String>,
        path: &YamlPath,
    ) -> Vec<Selector> {
        // `node: []` or a side `[]` would make a fault that hits nothing.
        if targets.is_empty() {
            self.diags
                .error(path, Target::Value, Code::Empty, "an empty list names no node")
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

    pub(super) fn fault_sides(
        &mut self,
        sides: &[OneOrMany<String>],
        path: &YamlPath,
    ) -> Option<[Vec<Selector>; 2]> {
        if sides.len() != 2 {
            let [a, b] = example_ends(self.topology);
            let many = match self.topology.group_by_name(a) {
                Some(g) if g.count >= 2 => format!(" or `between: [[{a}.0, {a}.1], {b}]`"),
                _ => String::new(),
            };
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::BadValue,
                    format!("`between` needs two sides, found {}", sides.len()),
                )
                .hint(format!("for example `between: [{a}.0, {b}]`{many}"));
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
                Code::BadValue,
                "a node is on both sides of the fault",
            );
        }
        Some([a, b])
    }

    /// Every field a fault of `kind` needs is there and every field it ignores is not.
    pub(super) fn check_fault_fields(&mut self, f: &RawFault, kind: FaultKind, path: &YamlPath) {
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
                        Code::FieldNotApplicable,
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
                            fields_taken(allows).join(", ")
                        ),
                    });
            }
            if !is_set && needs.contains(&field) {
                let example = match field {
                    "node" => "node: worker.0".to_owned(),
                    "between" => format!("between: [{}]", example_ends(self.topology).join(", ")),
                    "latency" => "latency: 200ms".to_owned(),
                    "bandwidth" => "bandwidth: 1MiB/s".to_owned(),
                    _ => "rate: 0.05".to_owned(),
                };
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::MissingField,
                        format!("a `{}` fault needs `{field}`", kind.name()),
                    )
                    .hint(format!("add `{example}`"));
            }
        }
    }

    pub(super) fn unknown_fault_kind(&mut self, kind: &str, path: &YamlPath) {
        let names = FaultKind::ALL.map(FaultKind::name);
        let d = self.diags.error(
            path,
            Target::Value,
            Code::UnknownFault,
            format!("`{kind}` is not a kind of fault"),
        );
        match did_you_mean(kind, names) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None => d.hint(format!("fault kinds: {}", names.join(", "))),
        };
    }
}

/// The fields of a fault that `allows`, as a hint lists them: `for` stands for the
/// fault's window, which `until` sets as well.
fn fields_taken<'f>(allows: &[&'f str]) -> Vec<&'f str> {
    allows.iter().flat_map(|&f| if f == "for" { vec!["for", "until"] } else { vec![f] }).collect()
}
