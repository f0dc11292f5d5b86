//! Packing replicas onto simulated hosts: fills in `hosts` for every group that did
//! not set it and checks the limits `plan/placement.rs` states (docs/turmoil.md says
//! why turmoil needs them).

use crate::plan::placement::MAX_CONNECTIONS_PER_HOST;
use crate::plan::{Connection, Group};
use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawTopology;

/// Fills in `hosts` for every group that did not set it and checks the limits.
pub(crate) fn assign(
    raw: &RawTopology,
    groups: &mut [Group],
    connections: &[Connection],
    max_hosts: u64,
    diags: &mut Diagnostics,
) {
    for group in groups.iter_mut() {
        assign_group(raw, group, connections, diags);
    }
    check_total(raw, groups, max_hosts, diags);
}

/// One group's hosts: filled in when the file left them out, else checked against
/// its replicas and the connections it opens.
fn assign_group(
    raw: &RawTopology,
    group: &mut Group,
    connections: &[Connection],
    diags: &mut Diagnostics,
) {
    let outgoing: u64 =
        connections.iter().filter(|c| c.from_group == group.id).map(|c| c.pipes).sum();
    let count = u64::from(group.count);
    let needed = outgoing.div_ceil(MAX_CONNECTIONS_PER_HOST).max(1);
    let path = node_path(raw, &group.name);
    if group.hosts == 0 {
        // As few hosts as the connections need: turmoil steps every host every
        // tick, so each one costs time even idle, and faults act per replica in
        // the shim wherever it runs (docs/turmoil.md).
        group.hosts = needed.min(count).max(1) as u32;
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

/// The hosts of every group together must stay under the topology's limit.
fn check_total(raw: &RawTopology, groups: &[Group], max_hosts: u64, diags: &mut Diagnostics) {
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
    let index = raw.nodes.iter().position(|n| n.name() == name).unwrap_or(0);
    YamlPath::root().key("nodes").index(index)
}
