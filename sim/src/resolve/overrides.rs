//! What a scenario changes in its topology: parameter values (each must name a declared
//! parameter) and socket options (`overrides: {node.socket: {...}}`), reported with
//! positions in the scenario's own file.

use crate::plan::TopologyPlan;
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
        plan.options.apply(options, plan.socket_type, &path, diags);
    }
}
