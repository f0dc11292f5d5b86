//! What a scenario changes in its topology: parameter values (each must name a declared
//! parameter) and socket options (`overrides: {node.socket: {...}}`), reported with
//! positions in the scenario's own file. A PAIR whose `pair_version` a scenario
//! changes is checked against its peers again, as the topology's connects were.

use crate::plan::{Library, TopologyPlan};
use crate::socket::SocketType;
use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawScenario;
use crate::spec::suggest::did_you_mean;

pub(super) fn check_param_overrides(
    raw: &RawScenario,
    topology: &TopologyPlan,
    diags: &mut Diagnostics,
) {
    for name in raw.params.keys() {
        if topology.params.contains_key(name) {
            continue;
        }
        let d = diags.error(
            &YamlPath::root().key("params").key(name.as_str()),
            Target::Key,
            Code::UnknownParam,
            format!("the topology has no parameter `{name}`"),
        );
        match did_you_mean(name, topology.params.keys().map(String::as_str)) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None => d.hint("a scenario can only override parameters the topology declares"),
        };
    }
}

pub(super) fn apply_option_overrides(
    raw: &RawScenario,
    topology: &mut TopologyPlan,
    diags: &mut Diagnostics,
) {
    // PAIRs given a version here: (group, socket, where the scenario says so).
    let mut versioned = Vec::new();
    for (key, options) in &raw.overrides {
        let path = YamlPath::root().key("overrides").key(key.as_str());
        let Some((node, socket)) = key.split_once('.') else {
            diags
                .error(
                    &path,
                    Target::Key,
                    Code::BadSelector,
                    format!("`{key}` does not name a socket"),
                )
                .hint("write `node.socket`, e.g. `worker.req`");
            continue;
        };
        let Some(group) = topology.groups.iter_mut().find(|g| g.name == node) else {
            diags.error(
                &path,
                Target::Key,
                Code::UnknownNode,
                format!("no node is called `{node}`"),
            );
            continue;
        };
        let Some(plan) = group.sockets.iter_mut().find(|s| s.name == socket) else {
            diags.error(
                &path,
                Target::Key,
                Code::UnknownSocket,
                format!("node `{node}` has no socket `{socket}`"),
            );
            continue;
        };
        let mut options = options.clone();
        for (name, value) in options.scalars_mut() {
            let Some(param) = value.as_ref().and_then(|v| v.text.strip_prefix('$')) else {
                continue;
            };
            diags
                .error(
                    &path.key(name),
                    Target::Value,
                    Code::BadValue,
                    format!("a scenario's `overrides` take values, not parameters (`${param}`)"),
                )
                .hint(format!(
                    "write the value here, or write `{name}: ${param}` in the topology's \
                     options and set `{param}` under this scenario's `params`"
                ));
            // Reported once, here, and not again as a value of the wrong type.
            *value = None;
        }
        plan.options.apply(&options, plan.socket_type, &path, diags);
        if options.pair_version.is_some() && plan.socket_type == SocketType::Pair {
            let socket = group.sockets.iter().position(|s| s.name == socket).expect("found above");
            versioned.push((group.id.0 as usize, socket, path.key("pair_version")));
        }
    }
    check_pair_versions(topology, &versioned, diags);
}

/// Every connect of an overridden PAIR must still join one version to the same one
/// (docs/library-semantics.md, "PAIR versions"); the error points at the override.
fn check_pair_versions(
    topology: &TopologyPlan,
    versioned: &[(usize, usize, YamlPath)],
    diags: &mut Diagnostics,
) {
    let socket = |g: usize, s: usize| &topology.groups[g].sockets[s];
    for c in &topology.connections {
        let ends = [(c.from_group.0 as usize, c.from_socket), (c.to.group.0 as usize, c.to.socket)];
        let Some((_, _, path)) = versioned.iter().find(|(g, s, _)| ends.contains(&(*g, *s))) else {
            continue;
        };
        let (mine, bound) = (socket(ends[0].0, ends[0].1), socket(ends[1].0, ends[1].1));
        let (a, b) = (mine.options.pair_version.value, bound.options.pair_version.value);
        let zmtp = [mine, bound].iter().any(|s| s.options.library.value == Some(Library::ZeroMq));
        if a == b || zmtp {
            continue;
        }
        let (from, to) = (&topology.groups[ends[0].0].name, &topology.groups[ends[1].0].name);
        diags
            .error(
                path,
                Target::Value,
                Code::PairVersionMismatch,
                format!(
                    "this makes `{from}.{}` a PAIR v{a} connected to `{to}.{}`, a PAIR v{b}: their handshakes do not match (SP 0x1{a} and 0x1{b})",
                    mine.name, bound.name
                ),
            )
            .hint("give both PAIRs one `pair_version` (override the other side too), or leave the version to the library");
    }
}
