//! The network: the simulator's tick, default latency, loss and bandwidth, per-link
//! overrides, and the selectors (`broker`, `client.3`) that name their ends.

use std::time::Duration;

use super::dist::Quantity;
use crate::plan::{Distribution, LinkPlan, NetworkPlan, Selector};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawNetwork;
use crate::spec::suggest::did_you_mean;

use super::scenario::ScenarioResolver;

/// The simulator's tick when the scenario gives none: turmoil's finest.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);
/// Latency of every link the scenario says nothing about.
pub(crate) const DEFAULT_LATENCY_MS: f64 = 1.0;

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn network(&mut self, raw: Option<&RawNetwork>) -> NetworkPlan {
        let path = YamlPath::root().key("network");
        let default = RawNetwork::default();
        let raw = raw.unwrap_or(&default);
        let tick = match &raw.tick {
            None => DEFAULT_TICK,
            Some(s) => match self.duration_of(s, &path.key("tick")) {
                Some(d) if d.is_zero() || d.subsec_nanos() % 1_000_000 != 0 => {
                    self.diags
                        .error(&path.key("tick"), Target::Value, Code::BadValue, "the simulator tick must be a whole number of milliseconds, at least 1ms")
                        .hint("turmoil computes latency in whole milliseconds; `1ms` is the finest");
                    DEFAULT_TICK
                }
                Some(d) if self.tick_in_range(d, &path.key("tick")) => d,
                Some(_) | None => DEFAULT_TICK,
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

    pub(super) fn two_sides(&mut self, names: &[String], path: &YamlPath) -> Option<[Selector; 2]> {
        if names.len() != 2 {
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::BadValue,
                    format!("`between` needs exactly two nodes, found {}", names.len()),
                )
                .hint("for example `between: [client, broker]`");
            return None;
        }
        let a = self.selector(&names[0], &path.index(0));
        let b = self.selector(&names[1], &path.index(1));
        Some([a?, b?])
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
                Code::UnknownNode,
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
        // A whole number too large for a replica index is out of range like any other
        // index past the count, not a malformed selector.
        let parsed = index.map(|i| match i.parse::<u32>() {
            Err(_) if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) => Ok(None),
            other => other.map(Some),
        });
        let replica = match parsed {
            None => None,
            Some(Ok(Some(i))) if i < group.count => Some(i),
            Some(Ok(_)) => {
                let i = index.unwrap_or_default();
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::OutOfRange,
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
                        Code::BadSelector,
                        format!("`{text}` is not a node or replica"),
                    )
                    .hint(format!("write `{name}` for every replica or `{name}.0` for one"));
                return None;
            }
        };
        Some(Selector { group: group.id, replica })
    }
}
