//! Packing replicas onto simulated hosts.
//!
//! turmoil gives every host a link to every other and steps each one every tick, so
//! its cost grows with the cube of the host count (docs/turmoil.md):
//! a topology node cannot be one host once counts reach the hundreds. Replicas of a
//! group are spread round-robin over a few hosts instead, and node-level faults reach
//! a single replica through the fault shim around its streams. Two limits of turmoil
//! bound the packing: 16,384 outgoing connections per host (64,512 when raised), and
//! a budget on hosts overall.

use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawTopology;

use super::topology::{Connection, Group};

/// Hosts a topology may use unless its `placement.max_hosts` says otherwise.
pub const DEFAULT_MAX_HOSTS: u64 = 64;
/// Above this the simulation is too slow to be useful (about 35 s of wall time per
/// simulated second at 200 hosts).
pub const HARD_MAX_HOSTS: u64 = 256;
/// Outgoing connections one simulated host can hold: turmoil's ephemeral port range,
/// raised to its maximum by the runtime.
pub const MAX_CONNECTIONS_PER_HOST: u64 = 64_512;
/// Replicas of a small group get a host each, up to this many hosts per group.
const DEFAULT_HOSTS_PER_GROUP: u64 = 8;

/// Fills in `hosts` for every group that did not set it and checks the limits.
pub(crate) fn assign(
    raw: &RawTopology,
    groups: &mut [Group],
    connections: &[Connection],
    max_hosts: u64,
    diags: &mut Diagnostics,
) {
    for group in groups.iter_mut() {
        let outgoing: u64 =
            connections.iter().filter(|c| c.from_group == group.id).map(|c| c.pipes).sum();
        let count = u64::from(group.count);
        let needed = outgoing.div_ceil(MAX_CONNECTIONS_PER_HOST).max(1);
        let path = node_path(raw, &group.name);
        if group.hosts == 0 {
            group.hosts = count.min(DEFAULT_HOSTS_PER_GROUP).max(needed).min(count) as u32;
        } else if u64::from(group.hosts) > count {
            diags
                .error(
                    &path.key("hosts"),
                    Target::Value,
                    Code::OutOfRange,
                    format!("`hosts: {}` is more than the node's {count} replicas", group.hosts),
                )
                .hint(format!("at most `hosts: {count}`"));
        } else if u64::from(group.hosts) < needed {
            diags
                .error(
                    &path.key("hosts"),
                    Target::Value,
                    Code::TooManyConnections,
                    format!(
                        "node `{}` opens {outgoing} connections from {} hosts; a simulated host holds at most {MAX_CONNECTIONS_PER_HOST}",
                        group.name, group.hosts
                    ),
                )
                .hint(format!("use `hosts: {needed}` or more"));
        }
        if u64::from(group.hosts) < needed && group.hosts > 0 && needed > count {
            diags.error(
                &path,
                Target::Value,
                Code::TooManyConnections,
                format!(
                    "each replica of node `{}` opens more than {MAX_CONNECTIONS_PER_HOST} connections",
                    group.name
                ),
            );
        }
    }
    let total: u64 = groups.iter().map(|g| u64::from(g.hosts)).sum();
    if total > max_hosts {
        let path = YamlPath::root().key("placement").key("max_hosts");
        let target = if raw.placement.as_ref().and_then(|p| p.max_hosts.as_ref()).is_some() {
            path
        } else {
            YamlPath::root().key("nodes")
        };
        diags
            .error(
                &target,
                Target::Key,
                Code::TooManyHosts,
                format!("the topology needs {total} simulated hosts; the limit is {max_hosts}"),
            )
            .hint("pack replicas with a smaller `hosts:` per node, or raise `placement.max_hosts` (slower: cost grows with hosts cubed)");
    }
}

fn node_path(raw: &RawTopology, name: &str) -> YamlPath {
    let index = raw.nodes.iter().position(|n| n.name == name).unwrap_or(0);
    YamlPath::root().key("nodes").index(index)
}
