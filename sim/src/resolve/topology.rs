//! Raw topology → [`TopologyPlan`]: every check on a topology file, in one pass.
//!
//! The resolver never stops at the first problem: each mistake becomes a diagnostic
//! with its place in the file, and resolution goes on with what is left so the user
//! sees everything at once. Only when no error was recorded is a plan returned.

use std::collections::BTreeMap;

use crate::registry::Registry;
use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::{Seg, YamlPath};
use crate::spec::raw::{RawNode, RawTopology};
use crate::spec::scalar::Scalar;
use crate::spec::source::SourceFile;
use crate::spec::suggest::did_you_mean;

use crate::plan::Effective;
use crate::plan::Library;
use crate::plan::placement;
use crate::plan::{Group, GroupId, PROCESS_DESIGN, ParamValue, TopologyPlan};

use super::scalars::{WholeRange, whole_number};

/// Largest replica count a group may have.
pub(crate) const MAX_COUNT: u64 = 10_000_000;
const _: () = assert!(MAX_COUNT <= crate::trace::MAX_REPLICAS, "message ids hold every replica");

/// A node's `count` of replicas.
const COUNT: WholeRange = WholeRange {
    min: 1,
    max: MAX_COUNT,
    below_hint: "remove the node instead of giving it no replicas",
    above_hint: None,
    example_hint: TOPOLOGY_EXAMPLE,
};
/// A node's `hosts`: how many simulated hosts its replicas are packed onto.
const HOSTS: WholeRange = WholeRange {
    min: 1,
    max: u32::MAX as u64,
    below_hint: "leave `hosts` out to have placement choose",
    above_hint: None,
    example_hint: TOPOLOGY_EXAMPLE,
};
/// `placement.max_hosts`: the most hosts the whole topology may use.
const MAX_HOSTS: WholeRange = WholeRange {
    min: 1,
    max: placement::HARD_MAX_HOSTS,
    below_hint: "leave `max_hosts` out for the default",
    above_hint: None,
    example_hint: TOPOLOGY_EXAMPLE,
};
/// A topology's whole numbers may also name a parameter.
const TOPOLOGY_EXAMPLE: &str = "for example `3`, or `$param` to use a topology parameter";
/// The same, for a value that came from a parameter: it cannot name another.
const PARAM_VALUE_EXAMPLE: &str = "for example `3`";

/// What a scenario changes in the topology it runs.
#[derive(Debug, Default)]
pub struct TopologyOverrides<'a> {
    /// Parameter values replacing the topology's defaults (the scenario checks that
    /// each names a declared parameter).
    pub params: BTreeMap<String, &'a Scalar>,
    /// The scenario that sets them: an error about such a value is reported where the
    /// topology uses it, and its hint names the scenario's line.
    pub scenario: Option<&'a SourceFile>,
}

pub(super) struct TopologyResolver<'r, 'd, 'a> {
    pub(super) registry: &'r Registry,
    pub(super) diags: &'d mut Diagnostics<'a>,
    pub(super) params: BTreeMap<String, Scalar>,
    /// The scenario whose `params` replaced some of `params`, if any.
    pub(super) scenario: Option<&'a SourceFile>,
    /// The parameters the scenario sets, each with where it sets it (`file:line:column`)
    /// once an error has been traced to it: located on demand, and once, because each
    /// location parses the scenario again.
    pub(super) params_set_at: BTreeMap<String, Option<String>>,
    /// The topology's `library:`, which nodes and sockets inherit.
    pub(super) library: Option<Effective<Option<Library>>>,
}

impl<'r, 'd, 'a> TopologyResolver<'r, 'd, 'a> {
    pub(super) fn new(registry: &'r Registry, diags: &'d mut Diagnostics<'a>) -> Self {
        TopologyResolver {
            registry,
            diags,
            params: BTreeMap::new(),
            scenario: None,
            params_set_at: BTreeMap::new(),
            library: None,
        }
    }

    pub(super) fn diags(&mut self) -> &mut Diagnostics<'a> {
        self.diags
    }

    /// Resolves everything but scenario overrides of socket options, which the caller
    /// applies afterwards with positions in its own file.
    pub(super) fn resolve(
        mut self,
        raw: &RawTopology,
        overrides: &TopologyOverrides<'a>,
    ) -> Option<TopologyPlan> {
        self.params = raw.params.clone();
        for (name, value) in &overrides.params {
            // Only a declared parameter can be overridden: an undeclared one must not
            // join the plan's parameters, or the scenario's check that each override
            // names a declared parameter would always pass.
            if let Some(slot) = self.params.get_mut(name) {
                *slot = (*value).clone();
            }
        }
        self.scenario = overrides.scenario;
        self.params_set_at = overrides.params.keys().map(|name| (name.clone(), None)).collect();
        let root = YamlPath::root();
        self.library = self.written_library(&raw.library, &root.key("library"));
        let mut groups: Vec<Group> = Vec::new();
        // The names taken so far: a topology may have tens of thousands of nodes, and
        // looking each up in `groups` made loading it take quadratic time.
        let mut taken = std::collections::BTreeSet::new();
        for (i, node) in raw.nodes.iter().enumerate() {
            let path = root.key("nodes").index(i);
            if node.name.is_none() {
                // Reported here; the node's other fields are still checked below, and
                // nothing can refer to it, so the plan is never built.
                self.diags.missing_field(&path, "name").hint(
                    "name the node, for example `name: worker`; sockets address it as `worker.0`",
                );
            } else if !taken.insert(node.name()) && groups.iter().any(|g| g.name == node.name()) {
                // Named by its place in the file: group ids skip nodes that failed.
                let first = raw.nodes.iter().position(|n| n.name == node.name).unwrap_or(0);
                let msg = format!("two nodes are named `{}`", node.name());
                self.diags
                    .error(&path.key("name"), Target::Value, Code::DuplicateNode, msg)
                    .hint(format!("`nodes[{first}]` already uses that name; names must be unique"));
                continue;
            }
            if i as u64 == crate::trace::MAX_GROUPS {
                self.too_many_nodes(&path, raw.nodes.len());
            }
            if let Some(group) = self.group(node, GroupId(groups.len() as u32), &path) {
                groups.push(group);
            }
        }
        if raw.nodes.is_empty() {
            self.diags
                .error(
                    &root.key("nodes"),
                    Target::Key,
                    Code::Empty,
                    "a topology needs at least one node",
                )
                .hint("add a node: `- {name: client, design: client, sockets: [...]}`");
        }
        self.check_param_rules(raw, &groups);
        let connections = self.connections(raw, &mut groups);
        self.check_binds(raw, &groups);
        self.check_pairs(raw, &groups, &connections);
        let max_hosts = self.max_hosts(raw);
        let before = self.diags.as_slice().len();
        super::placement::assign(raw, &mut groups, &connections, max_hosts, self.diags);
        self.name_the_params_of_placement(raw, &groups, before);
        if self.diags.has_errors() {
            return None;
        }
        let params =
            self.params.iter().map(|(k, v)| (k.clone(), ParamValue::Raw(v.text.clone()))).collect();
        Some(TopologyPlan {
            name: raw.name.clone().unwrap_or_else(|| self.diags.source().stem()),
            file: self.diags.source().path.clone(),
            description: raw.description.clone(),
            params,
            groups,
            connections,
        })
    }

    /// `$name` → the parameter's value as its file wrote it (text and YAML kind, so a
    /// `true` stays a true/false); anything else unchanged.
    pub(super) fn expand_scalar(&mut self, scalar: &Scalar, path: &YamlPath) -> Option<Scalar> {
        let Some(name) = scalar.text.strip_prefix('$') else {
            return Some(scalar.clone());
        };
        if let Some(value) = self.params.get(name) {
            return Some(value.clone());
        }
        let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
        let d = self.diags.error(
            path,
            Target::Value,
            Code::UnknownParam,
            format!("`${name}` names no topology parameter"),
        );
        match did_you_mean(name, known.iter().copied()) {
            Some(s) => d.hint(format!("did you mean `${s}`?")),
            None if known.is_empty() => d.hint("declare it under the top-level `params:`"),
            None => d.hint(format!("declared parameters: {}", known.join(", "))),
        };
        None
    }

    /// Amends what was reported about `path` since the first `before` diagnostics, when
    /// the value there was `written` as a `$param`: the check saw the parameter's value,
    /// the file shows its name, so the message names it, and the hint traces a value a
    /// scenario set to the scenario's line. A hint that offers `$param` as a way to write the
    /// value loses the offer: a parameter's value cannot itself name one.
    pub(super) fn name_the_param(&mut self, written: &Scalar, path: &YamlPath, before: usize) {
        let Some(param) = written.text.strip_prefix('$') else { return };
        if self.diags.as_slice().len() == before {
            return;
        }
        let set_at = self.param_set_at(param);
        for diag in self.diags.since_mut(before) {
            if diag.yaml_path.as_ref() != Some(path) {
                continue;
            }
            diag.message = format!("{} (the value of `${param}`)", diag.message);
            if diag.hint.as_deref() == Some(TOPOLOGY_EXAMPLE) {
                diag.hint = Some(PARAM_VALUE_EXAMPLE.to_owned());
            }
            if let Some(at) = &set_at {
                let origin = format!("`${param}` is set by the scenario's `params` at {at}");
                diag.hint = Some(match diag.hint.take() {
                    Some(hint) => format!("{hint}; {origin}"),
                    None => origin,
                });
            }
        }
    }

    /// Amends what placement reported since the first `before` diagnostics when
    /// `$param`s decided it: a `too-many-hosts` (reported at `nodes`, far from any
    /// `$param`) names the nodes whose replica `count` or `hosts` is a parameter and
    /// that take more than one host, and a `placement.max_hosts` that is one; a
    /// `too-many-connections` about one node names the parameter its `count` is. Each
    /// hint traces a value a scenario set to the scenario's line, as
    /// [`Self::name_the_param`] does for a value checked where it is written.
    fn name_the_params_of_placement(&mut self, raw: &RawTopology, groups: &[Group], before: usize) {
        let placed = |d: &crate::spec::Diagnostic| {
            matches!(d.code, Code::TooManyHosts | Code::TooManyConnections)
        };
        if !self.diags.as_slice()[before.min(self.diags.as_slice().len())..].iter().any(placed) {
            return;
        }
        let param =
            |s: Option<&Scalar>| s.and_then(|s| s.text.strip_prefix('$')).map(str::to_owned);
        let index = raw.node_indices();
        // For `too-many-hosts`: (what the message says, the parameter it names).
        let mut named: Vec<(String, String)> = Vec::new();
        for group in groups.iter().filter(|g| g.hosts > 1) {
            let Some(node) = index.get(group.name.as_str()).map(|&i| &raw.nodes[i]) else {
                continue;
            };
            if let Some(p) = param(node.hosts.as_ref()) {
                let says = format!(
                    "node `{}` asks for {} hosts (the value of `${p}`)",
                    group.name, group.hosts
                );
                named.push((says, p));
            } else if let (None, Some(p)) = (&node.hosts, param(node.count.as_ref())) {
                // Placement chose the hosts for the replicas the parameter asked for.
                let says = format!(
                    "node `{}` takes {} for its {} replicas (the value of `${p}`)",
                    group.name, group.hosts, group.count
                );
                named.push((says, p));
            }
        }
        if let Some(p) = param(raw.placement.as_ref().and_then(|pl| pl.max_hosts.as_ref())) {
            named.push((format!("the limit is the value of `${p}`"), p));
        }
        // For `too-many-connections`: each node's `count` that is a parameter.
        let counts: BTreeMap<usize, (String, u32)> = raw
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, node)| {
                let count = groups.iter().find(|g| g.name == node.name())?.count;
                Some((i, (param(node.count.as_ref())?, count)))
            })
            .collect();
        let mut set_at: BTreeMap<String, Option<String>> = BTreeMap::new();
        for p in named.iter().map(|(_, p)| p).chain(counts.values().map(|(p, _)| p)) {
            if !set_at.contains_key(p) {
                let at = self.param_set_at(p);
                set_at.insert(p.clone(), at);
            }
        }
        let origin = |p: &str| {
            set_at
                .get(p)
                .cloned()
                .flatten()
                .map(|at| format!("`${p}` is set by the scenario's `params` at {at}"))
        };
        let mut hosts_origins: Vec<String> = Vec::new();
        for o in named.iter().filter_map(|(_, p)| origin(p)) {
            if !hosts_origins.contains(&o) {
                hosts_origins.push(o);
            }
        }
        let says: Vec<&str> = named.iter().map(|(says, _)| says.as_str()).collect();
        for diag in self.diags.since_mut(before).iter_mut() {
            let (note, origins) = match diag.code {
                Code::TooManyHosts if !named.is_empty() => (says.join("; "), hosts_origins.clone()),
                Code::TooManyConnections => {
                    let node = diag.yaml_path.as_ref().and_then(|path| match path.segs() {
                        [Seg::Key(nodes), Seg::Index(i), ..] if nodes == "nodes" => Some(*i),
                        _ => None,
                    });
                    let Some((p, count)) = node.and_then(|i| counts.get(&i)) else { continue };
                    let note = format!("its {count} replicas are the value of `${p}`");
                    (note, origin(p).into_iter().collect())
                }
                _ => continue,
            };
            diag.message = format!("{}: {note}", diag.message);
            if !origins.is_empty() {
                let origin = origins.join("; ");
                diag.hint = Some(match diag.hint.take() {
                    Some(hint) => format!("{hint}; {origin}"),
                    None => origin,
                });
            }
        }
    }

    /// Where the scenario sets `param`, if it does.
    fn param_set_at(&mut self, param: &str) -> Option<String> {
        let scenario = self.scenario?;
        let slot = self.params_set_at.get_mut(param)?;
        let at = slot.get_or_insert_with(|| {
            let path = YamlPath::root().key("params").key(param);
            let at = crate::spec::yaml::locate(scenario, &path, Target::Value)
                .map_or(String::new(), |l| format!(":{}:{}", l.line, l.column));
            format!("{}{at}", scenario.path.display())
        });
        Some(at.clone())
    }

    pub(super) fn group(&mut self, node: &RawNode, id: GroupId, path: &YamlPath) -> Option<Group> {
        if let Some(name) = &node.name {
            self.check_name(name, &path.key("name"), "node");
        }
        let count = self.count(node, path);
        let behaviour_ok = self.check_behaviour(node, path);
        let design = node.design.as_ref().and_then(|name| self.design(name, path));
        let params = design.map(|d| self.design_params(node, d, path)).unwrap_or_default();
        let library = self
            .written_library(&node.library, &path.key("library"))
            .or_else(|| self.library.clone());
        let mut sockets = Vec::new();
        for (i, raw) in node.sockets.iter().enumerate() {
            let spath = path.key("sockets").index(i);
            if node.sockets[..i].iter().any(|s| s.name == raw.name) {
                self.diags.error(
                    &spath.key("name"),
                    Target::Value,
                    Code::DuplicateSocket,
                    format!("{} has two sockets named `{}`", node.label(), raw.name),
                );
                continue;
            }
            if let Some(s) = self.socket(raw, design, library.as_ref(), &spath) {
                sockets.push(s);
            }
        }
        if let Some(design) = design {
            self.check_design_sockets(node, design, path);
        }
        let hosts = match &node.hosts {
            Some(h) => self.param_whole_number(h, &path.key("hosts"), HOSTS).map(|h| h as u32),
            None => Some(0), // chosen by placement
        };
        let process = match &node.process {
            Some(raw) => Some(self.process(node, raw, path)?),
            None => None,
        };
        let design = match (&node.design, &process) {
            (Some(name), None) if behaviour_ok => name.clone(),
            (None, Some(_)) => PROCESS_DESIGN.to_owned(),
            _ => return None,
        };
        Some(Group {
            id,
            name: node.name().to_owned(),
            count: count?,
            design,
            params,
            sockets,
            hosts: hosts?,
            process,
        })
    }

    /// Node and socket names: letters, digits, `_` and `-`; no dots, which separate
    /// the parts of `node.N.socket`.
    pub(super) fn check_name(&mut self, name: &str, path: &YamlPath, what: &str) {
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            self.diags
                .error(path, Target::Value, Code::BadName, format!("`{name}` is not a valid {what} name"))
                .hint("use letters, digits, `_` and `-`, starting with a letter (dots separate `node.N.socket`)");
        }
    }

    /// Message ids carry the node's index in a field of fixed width
    /// (`plan/msg_id.rs`), so past its limit ids of different nodes would collide.
    pub(super) fn too_many_nodes(&mut self, first_extra: &YamlPath, nodes: usize) {
        let limit = crate::trace::MAX_GROUPS;
        self.diags
            .error(
                first_extra,
                Target::Key,
                Code::TooManyNodes,
                format!("a topology may have at most {limit} nodes, this one has {nodes}"),
            )
            .hint("message ids hold the node index in 12 bits; give one node more replicas (`count`) instead of repeating it");
    }

    pub(super) fn count(&mut self, node: &RawNode, path: &YamlPath) -> Option<u32> {
        let Some(raw) = &node.count else { return Some(1) };
        self.param_whole_number(raw, &path.key("count"), COUNT).map(|n| n as u32)
    }

    /// A whole number written at `path` as a number or a `$param` ([`whole_number`]),
    /// a mistake in a parameter's value reported where the parameter is used.
    fn param_whole_number(
        &mut self,
        raw: &Scalar,
        path: &YamlPath,
        range: WholeRange,
    ) -> Option<u64> {
        // A `$param` the topology does not declare is reported by `expand_scalar`.
        let scalar = self.expand_scalar(raw, path)?;
        let before = self.diags.as_slice().len();
        let n = whole_number(self.diags, &scalar, path, range);
        self.name_the_param(raw, path, before);
        n
    }

    pub(super) fn max_hosts(&mut self, raw: &RawTopology) -> u64 {
        let default = placement::DEFAULT_MAX_HOSTS;
        let Some(s) = raw.placement.as_ref().and_then(|p| p.max_hosts.as_ref()) else {
            return default;
        };
        let path = YamlPath::root().key("placement").key("max_hosts");
        self.param_whole_number(s, &path, MAX_HOSTS).unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::Registry;
    use crate::resolve::{TopologyOverrides, resolve_topology_source};
    use crate::spec::SourceFile;

    /// A client node of `count` replicas on `hosts` hosts (left to placement when
    /// empty) under `max_hosts`, and one worker; the topology declares `n`, `h`, `m` and `k`.
    fn topology(count: &str, hosts: &str, max_hosts: &str) -> String {
        let hosts = if hosts.is_empty() { String::new() } else { format!("    hosts: {hosts}\n") };
        format!(
            "name: t\nparams: {{n: 100000, h: 2, m: 8, k: 2}}\nplacement: {{max_hosts: {max_hosts}}}\nnodes:\n  \
             - name: client\n    count: {count}\n{hosts}    design: client\n    \
             sockets: [{{name: req, type: REQ, connect: worker.rep}}]\n  \
             - name: worker\n    design: echo-worker\n    sockets: [{{name: rep, type: REP, bind: true}}]\n"
        )
    }

    fn load(text: String) -> crate::resolve::Loaded<crate::plan::TopologyPlan> {
        let src = SourceFile::new("t.yaml", text);
        resolve_topology_source(&src, &Registry::builtin(), &TopologyOverrides::default())
    }

    #[test]
    fn hosts_and_max_hosts_may_be_parameters_as_their_hint_says() {
        let loaded = load(topology("$n", "$h", "$m"));
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let plan = loaded.plan.expect("it loads");
        assert_eq!(plan.group_by_name("client").map(|g| (g.count, g.hosts)), Some((100_000, 2)));
    }

    #[test]
    fn a_placement_error_names_the_parameters_that_decided_it() {
        let hosts = load(topology("$n", "", "$k"));
        let messages: Vec<&str> = hosts.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "the topology needs 3 simulated hosts; the limit is 2: node `client` takes 2 for its 100000 replicas (the value of `$n`); the limit is the value of `$k`"
            ]
        );
        let connections = load(topology("$n", "1", "8"));
        let messages: Vec<&str> =
            connections.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "node `client` opens 100000 connections from 1 hosts; a simulated host holds at most 64512: its 100000 replicas are the value of `$n`"
            ]
        );
        // Written as numbers, nothing is said of parameters.
        let plain = load(topology("100000", "9", "8"));
        assert!(
            plain.diagnostics.iter().all(|d| !d.message.contains('$')),
            "{:?}",
            plain.diagnostics
        );
    }
}
