//! The network: the simulator's tick, default latency, loss and bandwidth, per-link
//! overrides, and the selectors (`broker`, `client.3`) that name their ends.

use std::collections::BTreeMap;
use std::time::Duration;

use super::dist::Quantity;
use crate::plan::{
    Connection, Distribution, GroupId, LinkPlan, NetworkPlan, Selector, TopologyPlan,
};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawLink, RawNetwork};
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
        let links: Vec<(usize, LinkPlan)> = raw
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
                Some((i, LinkPlan { between: sides?, latency, loss, bandwidth }))
            })
            .collect();
        self.check_links(&links, &raw.links);
        let links = links.into_iter().map(|(_, link)| link).collect();
        NetworkPlan { tick, latency, loss, bandwidth, links }
    }

    /// Each link names a pair of ends once, and some connection can use it: a link
    /// between two nodes that no connection joins (or between a node and itself, see
    /// below) would shape nothing. Of two links for one pair the run would take the later
    /// one's latency and loss and the later bandwidth, so the first would silently
    /// change nothing (or only part of what it says). A link applies to the connections
    /// between its two ends: between a node and itself there are some only where its
    /// replicas connect to each other (a BUS mesh, `connect: peer.bus` on `peer`), or
    /// one connects to its own socket (`node.N.socket`).
    fn check_links(&mut self, links: &[(usize, LinkPlan)], raw: &[RawLink]) {
        let path = YamlPath::root().key("network").key("links");
        // Each pair of ends, either way round, to the first link that names it.
        let mut first: BTreeMap<[Selector; 2], usize> = BTreeMap::new();
        // Each node's connects to its own sockets, the only ones that can join two of
        // its replicas.
        let mut own: BTreeMap<GroupId, Vec<&Connection>> = BTreeMap::new();
        for c in &self.topology.connections {
            if c.to.group == c.from_group {
                own.entry(c.from_group).or_default().push(c);
            }
        }
        for (i, link) in links {
            let [a, b] = link.between;
            let ends = &raw[*i].between;
            let at = path.index(*i).key("between");
            let pair = if a <= b { [a, b] } else { [b, a] };
            if let Some(&j) = first.get(&pair) {
                let line = self.diags.locate(&path.index(j), Target::Value).map_or_else(
                    || format!("`network.links[{j}]`"),
                    |l| format!("line {}", l.line),
                );
                self.diags
                    .error(
                        &at,
                        Target::Value,
                        Code::DuplicateLink,
                        format!(
                            "`{}` and `{}` already have a link: `between: [{}]` at {line}",
                            ends[0],
                            ends[1],
                            raw[j].between.join(", ")
                        ),
                    )
                    .hint(format!(
                        "give a pair of ends one link: write this entry's latency, loss and bandwidth in the one at {line}; of the two, the run would read latency and loss from the later one only"
                    ));
                continue;
            }
            first.insert(pair, *i);
            let unjoined = if a.group == b.group {
                let count = self.topology.group(a.group).count;
                let own = own.get(&a.group).map_or(&[][..], Vec::as_slice);
                let joined = own.iter().any(|c| joins(c, count, a, b) || joins(c, count, b, a));
                let node = &self.topology.group(a.group).name;
                (!joined).then(|| self_link_hint(self.topology, a.group, node))
            } else {
                let joined = self.topology.connections.iter().any(|c| {
                    let ends = [c.from_group, c.to.group];
                    ends == [a.group, b.group] || ends == [b.group, a.group]
                });
                (!joined).then(|| link_hint(self.topology, a.group, b.group))
            };
            if let Some(hint) = unjoined {
                self.diags
                    .error(
                        &at,
                        Target::Value,
                        Code::BadValue,
                        format!(
                            "no connection joins `{}` and `{}`: a link between them would carry nothing",
                            ends[0], ends[1]
                        ),
                    )
                    .hint(hint);
            }
        }
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
                .hint(format!(
                    "for example `between: [{}]`",
                    example_ends(self.topology).join(", ")
                ));
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

/// Whether `c`, a connect of a node of `count` replicas to its own socket, opens a
/// pipe from a replica `from` picks to one `to` picks (`run/wiring.rs`, `links`): to
/// `node.N.socket` each replica connects to replica N (N itself included); to
/// `node.socket` the node is a mesh, each replica connecting to every one below it.
fn joins(c: &Connection, count: u32, from: Selector, to: Selector) -> bool {
    if let Some(r) = c.to.replica {
        return to.replica.is_none_or(|t| t == r);
    }
    match (from.replica, to.replica) {
        (Some(i), Some(t)) => t < i,
        (Some(i), None) => i >= 1,
        (None, Some(t)) => t.saturating_add(1) < count,
        (None, None) => count >= 2,
    }
}

/// Two node names of `topology` for an example `between:`: the ends of its first
/// connection between two nodes, else its first two nodes, else `client` and `broker`.
pub(super) fn example_ends(topology: &TopologyPlan) -> [&str; 2] {
    let name = |g: GroupId| topology.group(g).name.as_str();
    if let Some(c) = topology.connections.iter().find(|c| c.from_group != c.to.group) {
        return [name(c.from_group), name(c.to.group)];
    }
    match topology.groups.as_slice() {
        [a, b, ..] => [a.name.as_str(), b.name.as_str()],
        _ => ["client", "broker"],
    }
}

/// What a link between two nodes needs, and whom each connects with.
fn link_hint(topology: &TopologyPlan, a: GroupId, b: GroupId) -> String {
    let peers = |g: GroupId| {
        let name = &topology.group(g).name;
        match peers_of(topology, g).as_slice() {
            [] => format!("`{name}` connects with no other node"),
            peers => format!("`{name}` connects with {}", quoted(peers)),
        }
    };
    format!(
        "a link shapes the connections between its two ends, not traffic relayed through other nodes; {}, {}",
        peers(a),
        peers(b)
    )
}

/// The other nodes `group` connects with, or that connect with it, by name.
fn peers_of(topology: &TopologyPlan, group: GroupId) -> Vec<&str> {
    let mut peers: Vec<&str> = topology
        .connections
        .iter()
        .filter_map(|c| match (c.from_group == group, c.to.group == group) {
            (true, false) => Some(c.to.group),
            (false, true) => Some(c.from_group),
            _ => None,
        })
        .map(|g| topology.group(g).name.as_str())
        .collect();
    peers.sort_unstable();
    peers.dedup();
    peers
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
}

/// What a link between a node and itself needs, and the nodes `group` does connect with.
fn self_link_hint(topology: &TopologyPlan, group: GroupId, node: &str) -> String {
    let peers = match peers_of(topology, group).as_slice() {
        [] => String::new(),
        peers => format!("; `{node}` connects with {}", quoted(peers)),
    };
    format!(
        "a link shapes the connections between its two ends; a node's replicas connect to each other only when one of its sockets connects to its own node (a BUS mesh: `connect: peer.bus` on node `peer` with `count` above 1), and a replica to itself only through `{node}.N.socket`{peers}"
    )
}
