//! Raw topology → [`TopologyPlan`]: every check on a topology file, in one pass.
//!
//! The resolver never stops at the first problem: each mistake becomes a diagnostic
//! with its place in the file, and resolution goes on with what is left so the user
//! sees everything at once. Only when no error was recorded is a plan returned.

use std::collections::BTreeMap;

use crate::design::{DesignSpec, ParamKind, Registry};
use crate::socket::SocketType;
use crate::spec::diag::{Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawNode, RawSocket, RawTopology};
use crate::spec::scalar::Scalar;
use crate::spec::suggest::did_you_mean;
use crate::spec::units::{parse_duration, parse_size};

use super::library::Library;
use super::options::{Effective, EffectiveOptions, Source};
use super::placement;
use super::topology::{Bind, Group, GroupId, ParamValue, SocketPlan, TopologyPlan};

/// Largest replica count a group may have.
pub const MAX_COUNT: u64 = 10_000_000;
const _: () = assert!(MAX_COUNT <= crate::trace::MAX_REPLICAS, "message ids hold every replica");

/// What a scenario changes in the topology it runs.
#[derive(Debug, Default)]
pub struct TopologyOverrides<'a> {
    /// Parameter values replacing the topology's defaults (the scenario checks that
    /// each names a declared parameter).
    pub params: BTreeMap<String, &'a Scalar>,
}

pub(super) struct TopologyResolver<'r, 'd, 'a> {
    registry: &'r Registry,
    diags: &'d mut Diagnostics<'a>,
    params: BTreeMap<String, Scalar>,
    /// The topology's `library:`, which nodes and sockets inherit.
    library: Option<Effective<Option<Library>>>,
}

impl<'r, 'd, 'a> TopologyResolver<'r, 'd, 'a> {
    pub(super) fn new(registry: &'r Registry, diags: &'d mut Diagnostics<'a>) -> Self {
        TopologyResolver { registry, diags, params: BTreeMap::new(), library: None }
    }

    pub(super) fn diags(&mut self) -> &mut Diagnostics<'a> {
        self.diags
    }

    /// Resolves everything but scenario overrides of socket options, which the caller
    /// applies afterwards with positions in its own file.
    pub(super) fn resolve(
        mut self,
        raw: &RawTopology,
        param_overrides: &BTreeMap<String, Scalar>,
    ) -> Option<TopologyPlan> {
        self.params = raw.params.clone();
        for (name, value) in param_overrides {
            // Only a declared parameter can be overridden: an undeclared one must not
            // join the plan's parameters, or the scenario's check that each override
            // names a declared parameter would always pass.
            if let Some(slot) = self.params.get_mut(name) {
                *slot = value.clone();
            }
        }
        let root = YamlPath::root();
        self.library = self.written_library(&raw.library, &root.key("library"));
        let mut groups: Vec<Group> = Vec::new();
        for (i, node) in raw.nodes.iter().enumerate() {
            let path = root.key("nodes").index(i);
            if groups.iter().any(|g| g.name == node.name) {
                // Named by its place in the file: group ids skip nodes that failed.
                let first = raw.nodes.iter().position(|n| n.name == node.name).unwrap_or(0);
                let msg = format!("two nodes are named `{}`", node.name);
                self.diags
                    .error(&path.key("name"), Target::Value, "duplicate-node", msg)
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
                    "empty",
                    "a topology needs at least one node",
                )
                .hint("add a node: `- {name: client, design: client, sockets: [...]}`");
        }
        let connections = self.connections(raw, &mut groups);
        self.check_binds(raw, &groups);
        self.check_pairs(raw, &groups, &connections);
        let max_hosts = self.max_hosts(raw);
        placement::assign(raw, &mut groups, &connections, max_hosts, self.diags);
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

    /// `$name` → the parameter's text; anything else unchanged.
    fn expand(&mut self, scalar: &Scalar, path: &YamlPath) -> Option<String> {
        let Some(name) = scalar.text.strip_prefix('$') else {
            return Some(scalar.text.clone());
        };
        if let Some(value) = self.params.get(name) {
            return Some(value.text.clone());
        }
        let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
        let d = self.diags.error(
            path,
            Target::Value,
            "unknown-param",
            format!("`${name}` names no topology parameter"),
        );
        match did_you_mean(name, known.iter().copied()) {
            Some(s) => d.hint(format!("did you mean `${s}`?")),
            None if known.is_empty() => d.hint("declare it under the top-level `params:`"),
            None => d.hint(format!("declared parameters: {}", known.join(", "))),
        };
        None
    }

    fn group(&mut self, node: &RawNode, id: GroupId, path: &YamlPath) -> Option<Group> {
        self.check_name(&node.name, &path.key("name"), "node");
        let count = self.count(node, path);
        let design = self.design(node, path);
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
                    "duplicate-socket",
                    format!("node `{}` has two sockets named `{}`", node.name, raw.name),
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
            Some(h) => self.whole(h, &path.key("hosts"), 1, u64::from(u32::MAX)).map(|h| h as u32),
            None => Some(0), // chosen by placement
        };
        Some(Group {
            id,
            name: node.name.clone(),
            count: count?,
            design: node.design.clone(),
            params,
            sockets,
            hosts: hosts?,
        })
    }

    /// Node and socket names: letters, digits, `_` and `-`; no dots, which separate
    /// the parts of `node.N.socket`.
    fn check_name(&mut self, name: &str, path: &YamlPath, what: &str) {
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            self.diags
                .error(path, Target::Value, "bad-name", format!("`{name}` is not a valid {what} name"))
                .hint("use letters, digits, `_` and `-`, starting with a letter (dots separate `node.N.socket`)");
        }
    }

    /// Message ids carry the node's index in a field of fixed width
    /// (`trace/msg_id.rs`), so past its limit ids of different nodes would collide.
    fn too_many_nodes(&mut self, first_extra: &YamlPath, nodes: usize) {
        let limit = crate::trace::MAX_GROUPS;
        self.diags
            .error(
                first_extra,
                Target::Key,
                "too-many-nodes",
                format!("a topology may have at most {limit} nodes, this one has {nodes}"),
            )
            .hint("message ids hold the node index in 12 bits; give one node more replicas (`count`) instead of repeating it");
    }

    fn count(&mut self, node: &RawNode, path: &YamlPath) -> Option<u32> {
        let Some(raw) = &node.count else { return Some(1) };
        let cpath = path.key("count");
        let text = self.expand(raw, &cpath)?;
        let scalar = Scalar { text, ..raw.clone() };
        self.whole(&scalar, &cpath, 1, MAX_COUNT).map(|n| n as u32)
    }

    /// A whole number in `[min, max]`.
    fn whole(&mut self, s: &Scalar, path: &YamlPath, min: u64, max: u64) -> Option<u64> {
        let what = path.last().map(|s| s.to_string()).unwrap_or_default();
        match s.text.replace('_', "").parse::<i128>() {
            Ok(n) if n < min as i128 => {
                let hint =
                    if min == 1 { "remove the node instead of giving it no replicas" } else { "" };
                let d = self.diags.error(
                    path,
                    Target::Value,
                    "out-of-range",
                    format!("`{what}` must be at least {min}, found {n}"),
                );
                if !hint.is_empty() {
                    d.hint(hint);
                }
                None
            }
            Ok(n) if n > max as i128 => {
                self.diags.error(
                    path,
                    Target::Value,
                    "out-of-range",
                    format!("`{what}` must be at most {max}, found {n}"),
                );
                None
            }
            Ok(n) => Some(n as u64),
            Err(_) => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "bad-type",
                        format!("`{what}` must be a whole number, found `{}`", s.text),
                    )
                    .hint("for example `3`, or `$param` to use a topology parameter");
                None
            }
        }
    }

    fn design(&mut self, node: &RawNode, path: &YamlPath) -> Option<&'r DesignSpec> {
        if let Some(spec) = self.registry.get(&node.design) {
            if spec.is_broken() {
                self.diags
                    .warning(
                        &path.key("design"),
                        Target::Value,
                        "broken-design",
                        format!(
                            "`{}` is deliberately broken: it exists to show that patchbay's checkers catch its bug",
                            spec.name()
                        ),
                    )
                    .hint(format!(
                        "its bug: {}; model real systems with the sound designs",
                        spec.summary_text().trim_start_matches("BROKEN: ").trim_end_matches('.')
                    ));
            }
            return Some(spec);
        }
        let d = self.diags.error(
            &path.key("design"),
            Target::Value,
            "unknown-design",
            format!("no design is called `{}`", node.design),
        );
        let sound = || self.registry.iter().filter(|d| !d.is_broken()).map(|d| d.name());
        match did_you_mean(&node.design, sound()) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None => d.hint(format!(
                "built-in designs: {}; register your own from Rust with `Registry::register`",
                sound().collect::<Vec<_>>().join(", ")
            )),
        };
        None
    }

    fn design_params(
        &mut self,
        node: &RawNode,
        design: &DesignSpec,
        path: &YamlPath,
    ) -> BTreeMap<String, ParamValue> {
        let mut out = BTreeMap::new();
        for (name, raw) in &node.params {
            let ppath = path.key("params").key(name.as_str());
            let Some(spec) = design.params().iter().find(|p| p.name == name) else {
                let names = design.params().iter().map(|p| p.name);
                let d = self.diags.error(
                    &ppath,
                    Target::Key,
                    "unknown-param",
                    format!("design `{}` takes no parameter `{name}`", design.name()),
                );
                match did_you_mean(name, names.clone()) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None if design.params().is_empty() => d.hint("this design takes no parameters"),
                    None => d.hint(format!("it takes: {}", names.collect::<Vec<_>>().join(", "))),
                };
                continue;
            };
            let Some(text) = self.expand(raw, &ppath) else { continue };
            if let Some(v) = self.param_value(spec.kind, &text, &ppath, name) {
                out.insert(name.clone(), v);
            }
        }
        for spec in design.params() {
            if out.contains_key(spec.name) || node.params.contains_key(spec.name) {
                continue;
            }
            match spec.default {
                Some(text) => {
                    if let Ok(v) = parse_param(spec.kind, text) {
                        out.insert(spec.name.to_owned(), v);
                    }
                }
                None => {
                    self.diags
                        .error(
                            path,
                            Target::Value,
                            "missing-param",
                            format!(
                                "design `{}` needs the parameter `{}` ({})",
                                design.name(),
                                spec.name,
                                spec.doc
                            ),
                        )
                        .hint(format!(
                            "add `params: {{{}: ...}}` to node `{}`",
                            spec.name, node.name
                        ));
                }
            }
        }
        out
    }

    fn param_value(
        &mut self,
        kind: ParamKind,
        text: &str,
        path: &YamlPath,
        name: &str,
    ) -> Option<ParamValue> {
        match parse_param(kind, text) {
            Ok(v) => Some(v),
            Err(hint) => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        "bad-value",
                        format!("parameter `{name}` must be {}, found `{text}`", kind.describe()),
                    )
                    .hint(hint);
                None
            }
        }
    }

    fn socket(
        &mut self,
        raw: &RawSocket,
        design: Option<&DesignSpec>,
        inherited: Option<&Effective<Option<Library>>>,
        path: &YamlPath,
    ) -> Option<SocketPlan> {
        self.check_name(&raw.name, &path.key("name"), "socket");
        let socket_type = self.socket_type(&raw.socket_type, &path.key("type"))?;
        if let Some(design) = design {
            self.check_role(raw, socket_type, design, path);
        }
        let bind = raw.bind.as_ref().and_then(|b| self.bind(b, &path.key("bind")));
        // `connect: []` connects to nothing, just like no `connect` at all.
        if raw.bind.is_none() && raw.connect.as_ref().is_none_or(|c| c.is_empty()) {
            self.diags
                .error(
                    path,
                    Target::Value,
                    "unconnected-socket",
                    format!("socket `{}` neither binds nor connects", raw.name),
                )
                .hint("add `bind: true` or `connect: node.socket`");
        }
        let library = self
            .written_library(&raw.library, &path.key("library"))
            .or_else(|| inherited.cloned())
            .unwrap_or_else(|| EffectiveOptions::defaults(socket_type).library);
        self.check_library_has(library.value, socket_type, &raw.name, &path.key("type"));
        let mut options = EffectiveOptions::for_library(socket_type, library);
        if let Some(opts) = &raw.options {
            options.apply(opts, socket_type, &path.key("options"), self.diags);
        }
        Some(SocketPlan {
            name: raw.name.clone(),
            socket_type,
            bind,
            connects: Vec::new(),
            options,
        })
    }

    /// A `library:` as written at `path`, with its place in the file; `None` when
    /// absent, or unknown (then reported).
    fn written_library(
        &mut self,
        written: &Option<String>,
        path: &YamlPath,
    ) -> Option<Effective<Option<Library>>> {
        let text = written.as_deref()?;
        let Some(library) = Library::from_name(text) else {
            let names = Library::ALL.map(Library::name);
            let d = self.diags.error(
                path,
                Target::Value,
                "unknown-library",
                format!("`{text}` is not a library patchbay models"),
            );
            match did_you_mean(text, names) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("libraries: {}", names.join(", "))),
            };
            return None;
        };
        let src = self.diags.source();
        let location = crate::spec::yaml::locate(src, path, Target::Value);
        let source = Source::File { file: src.path.clone(), location };
        Some(Effective { value: Some(library), source })
    }

    /// libzmq has no survey or bus pattern: such a socket cannot stand for it.
    fn check_library_has(
        &mut self,
        library: Option<Library>,
        t: SocketType,
        name: &str,
        path: &YamlPath,
    ) {
        let Some(lib) = library.filter(|l| !l.has(t)) else { return };
        self.diags
            .error(
                path,
                Target::Value,
                "type-not-in-library",
                format!("socket `{name}` is a {t}, which {} does not have", lib.version()),
            )
            .hint(format!(
                "{t} is nanomsg's and NNG's: write `library: nanomsg` or `library: nng` on this socket or its node"
            ));
    }

    fn socket_type(&mut self, text: &str, path: &YamlPath) -> Option<SocketType> {
        if let Some(t) = SocketType::from_name(text) {
            return Some(t);
        }
        // The names the libraries use for the same things.
        let alias = match text.to_ascii_uppercase().as_str() {
            "XREP" => Some("ROUTER (XREP is its old name; NNG's raw REP behaves the same)"),
            "XREQ" => Some("DEALER (XREQ is its old name; NNG's raw REQ behaves the same)"),
            "PUBLISHER" => Some("PUB"),
            "SUBSCRIBER" => Some("SUB"),
            "SURVEY" => Some("SURVEYOR"),
            "RESPONDER" => Some("RESPONDENT"),
            "UPSTREAM" => Some("PUSH"),
            "DOWNSTREAM" => Some("PULL"),
            _ => None,
        };
        let names = SocketType::ALL.map(SocketType::name);
        let d = self.diags.error(
            path,
            Target::Value,
            "unknown-socket-type",
            format!("`{text}` is not a socket type"),
        );
        match alias.map(str::to_owned).or_else(|| did_you_mean(text, names.iter().copied())) {
            Some(s) => d.hint(format!("did you mean {s}?")),
            None => d.hint(format!("socket types: {}", names.join(", "))),
        };
        None
    }

    fn check_role(&mut self, raw: &RawSocket, t: SocketType, design: &DesignSpec, path: &YamlPath) {
        let Some(role) = design.sockets().iter().find(|r| r.name == raw.name) else {
            let names = design.sockets().iter().map(|r| r.name);
            let d = self.diags.error(
                &path.key("name"),
                Target::Value,
                "unknown-socket-role",
                format!("design `{}` uses no socket named `{}`", design.name(), raw.name),
            );
            match did_you_mean(&raw.name, names.clone()) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("its sockets: {}", names.collect::<Vec<_>>().join(", "))),
            };
            return;
        };
        if !role.types.contains(&t) {
            let allowed: Vec<&str> = role.types.iter().map(|t| t.name()).collect();
            self.diags
                .error(
                    &path.key("type"),
                    Target::Value,
                    "wrong-socket-type",
                    format!(
                        "design `{}` needs socket `{}` to be {}, not {t}",
                        design.name(),
                        role.name,
                        allowed.join(" or ")
                    ),
                )
                .hint(format!("`{}` {}", role.name, role.doc));
        }
    }

    fn check_design_sockets(&mut self, node: &RawNode, design: &DesignSpec, path: &YamlPath) {
        for role in design.sockets().iter().filter(|r| r.required) {
            if node.sockets.iter().any(|s| s.name == role.name) {
                continue;
            }
            let types: Vec<&str> = role.types.iter().map(|t| t.name()).collect();
            self.diags
                .error(
                    path,
                    Target::Value,
                    "missing-socket",
                    format!(
                        "node `{}` runs design `{}`, which needs a socket `{}` ({})",
                        node.name,
                        design.name(),
                        role.name,
                        types.join(" or ")
                    ),
                )
                .hint(format!(
                    "add `{{name: {}, type: {}, ...}}` to its sockets",
                    role.name, types[0]
                ));
        }
    }

    fn bind(&mut self, s: &Scalar, path: &YamlPath) -> Option<Bind> {
        let text = s.text.as_str();
        if text == "true" {
            return Some(Bind::Auto);
        }
        let port = text.strip_prefix("tcp://*:").unwrap_or(text);
        match port.parse::<u16>() {
            Ok(p) if p > 0 => Some(Bind::Port(p)),
            _ => {
                self.diags
                    .error(path, Target::Value, "bad-endpoint", format!("`{text}` is not a bind endpoint"))
                    .hint("write `bind: true` (a port is picked), `bind: 5555` or `bind: tcp://*:5555`");
                None
            }
        }
    }

    fn max_hosts(&mut self, raw: &RawTopology) -> u64 {
        let default = placement::DEFAULT_MAX_HOSTS;
        let Some(s) = raw.placement.as_ref().and_then(|p| p.max_hosts.as_ref()) else {
            return default;
        };
        let path = YamlPath::root().key("placement").key("max_hosts");
        self.whole(s, &path, 1, placement::HARD_MAX_HOSTS).unwrap_or(default)
    }
}

pub(super) fn parse_param(kind: ParamKind, text: &str) -> Result<ParamValue, String> {
    match kind {
        ParamKind::Count => text
            .replace('_', "")
            .parse()
            .map(ParamValue::Count)
            .map_err(|_| "for example `3`".to_owned()),
        ParamKind::Duration => {
            parse_duration(text).map(ParamValue::Duration).map_err(|e| e.hint.unwrap_or(e.message))
        }
        ParamKind::Size => {
            parse_size(text).map(ParamValue::Size).map_err(|e| e.hint.unwrap_or(e.message))
        }
        ParamKind::Number => text
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .map(ParamValue::Number)
            .ok_or_else(|| "for example `0.5`".to_owned()),
        ParamKind::Bool => match text {
            "true" => Ok(ParamValue::Bool(true)),
            "false" => Ok(ParamValue::Bool(false)),
            _ => Err("write `true` or `false`".to_owned()),
        },
        ParamKind::Text => Ok(ParamValue::Text(text.to_owned())),
        ParamKind::OneOf(words) if words.contains(&text) => Ok(ParamValue::Text(text.to_owned())),
        ParamKind::OneOf(words) => Err(format!(
            "write {}",
            words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(" or ")
        )),
    }
}
