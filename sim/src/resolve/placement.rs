//! Packing replicas onto simulated hosts: fills in `hosts` for every group that did
//! not set it (as many as its connections and bound ports need) and checks the limits
//! `plan/placement.rs` states (docs/turmoil.md says why turmoil needs them).

use std::collections::BTreeMap;

use crate::plan::placement::{MAX_BOUND_PER_HOST, MAX_CONNECTIONS_PER_HOST};
use crate::plan::{Connection, Group, GroupId};
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
    // Summed and indexed once: per group, each was a walk of all the connections or
    // nodes, quadratic in a topology of many nodes.
    let mut outgoing: BTreeMap<GroupId, u64> = BTreeMap::new();
    for c in connections {
        *outgoing.entry(c.from_group).or_default() += c.pipes;
    }
    let index_of = raw.node_indices();
    for group in groups.iter_mut() {
        let outgoing = outgoing.get(&group.id).copied().unwrap_or(0);
        let index = index_of.get(group.name.as_str()).copied().unwrap_or(0);
        let path = YamlPath::root().key("nodes").index(index);
        assign_group(group, outgoing, &path, diags);
    }
    check_total(raw, groups, max_hosts, diags);
}

/// One group's hosts: filled in when the file left them out, else checked against
/// its replicas, the connections it opens and the sockets it binds.
fn assign_group(group: &mut Group, outgoing: u64, path: &YamlPath, diags: &mut Diagnostics) {
    let count = u64::from(group.count);
    let for_connections = outgoing.div_ceil(MAX_CONNECTIONS_PER_HOST).max(1);
    let binds = group.sockets.iter().filter(|s| s.bind.is_some()).count() as u64;
    // Whole replicas share a host, so a host holds as many as their bound ports fit.
    let replicas_per_host = MAX_BOUND_PER_HOST.checked_div(binds).unwrap_or(u64::MAX);
    if replicas_per_host == 0 {
        diags.error(
            &path.key("sockets"),
            Target::Key,
            Code::TooManyConnections,
            format!(
                "node `{}` binds {binds} sockets; a simulated host holds at most {MAX_BOUND_PER_HOST}",
                group.name
            ),
        );
        return;
    }
    let for_ports = count.div_ceil(replicas_per_host).max(1);
    if group.hosts == 0 {
        // As few hosts as the connections and bound ports need: turmoil steps every
        // host every tick, so each one costs time even idle, and faults act per
        // replica in the shim wherever it runs (docs/turmoil.md).
        group.hosts = for_connections.min(count).max(for_ports) as u32;
    } else if u64::from(group.hosts) > count {
        diags
            .error(
                &path.key("hosts"),
                Target::Value,
                Code::OutOfRange,
                format!("`hosts: {}` is more than the node's {count} replicas", group.hosts),
            )
            .hint(format!("at most `hosts: {count}`"));
    } else if u64::from(group.hosts) < for_connections {
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
            .hint(format!("use `hosts: {for_connections}` or more"));
    } else if u64::from(group.hosts) < for_ports {
        diags
            .error(
                &path.key("hosts"),
                Target::Value,
                Code::TooManyConnections,
                format!(
                    "`hosts: {}` puts {} bound sockets of node `{}` on one simulated host; a host holds at most {MAX_BOUND_PER_HOST}",
                    group.hosts,
                    count.div_ceil(u64::from(group.hosts)) * binds,
                    group.name
                ),
            )
            .hint(format!("give it more `hosts`: `hosts: {for_ports}` or more"));
    }
    if u64::from(group.hosts) < for_connections && group.hosts > 0 && for_connections > count {
        diags.error(
            path,
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
