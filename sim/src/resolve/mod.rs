//! The resolver: raw structs from `spec/` become immutable, fully checked plans.
//!
//! This is the one place where user input is validated, and the only module that knows
//! the design registry, the invariant catalogue and the topology graph together. Entry
//! points load a file from disk, resolve it, and return the plan together with every
//! diagnostic (warnings come back even when the plan is good).

// The topology: nodes and their counts (`topology.rs`), designs and parameters,
// sockets, then connects, binds and peers.
mod connect;
mod design;
mod options;
mod placement;
mod process;
mod sockets;
mod topology;
// The scenario: the resolver's state (`scenario.rs`) and one file per concern.
mod dist;
mod expect;
mod faults;
mod invariants;
mod network;
mod overrides;
mod restarts;
mod scalars;
mod scenario;
mod swarm;
mod tick;
mod timing;
mod workload;

use std::path::{Component, Path, PathBuf};

use crate::plan::{Plan, ScenarioPlan, TopologyPlan};
use crate::registry::Registry;
use crate::spec::diag::{Code, Diagnostic, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::{FileKind, RawScenario, RawTopology};
use crate::spec::source::SourceFile;
use crate::spec::yaml;

pub use network::DEFAULT_TICK;
pub use swarm::DRAWN_FAULTS_MAX;
pub(crate) use tick::next_tick;
pub use timing::{DEFAULT_LIVENESS, DEFAULT_SEEDS, DEFAULT_TCP_TIMEOUT, SEEDS_MAX};
pub use topology::TopologyOverrides;

use overrides::{apply_option_overrides, check_param_overrides};
use scenario::ScenarioResolver;

use topology::TopologyResolver;

/// The outcome of loading one file: a plan when there were no errors, and every
/// diagnostic (errors and warnings, from the file and any file it names).
#[derive(Debug)]
pub struct Loaded<T> {
    pub plan: Option<T>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Loaded<T> {
    fn failed(diagnostics: Vec<Diagnostic>) -> Loaded<T> {
        Loaded { plan: None, diagnostics }
    }
}

/// Loads a topology or a scenario, telling which from its top-level keys.
pub fn load(path: &Path, registry: &Registry) -> Loaded<Plan> {
    let src = match SourceFile::read(path) {
        Ok(src) => src,
        Err(d) => return Loaded::failed(vec![d]),
    };
    match FileKind::sniff(&src.text, path) {
        FileKind::Scenario => {
            let l = load_scenario_source(&src, registry);
            Loaded { plan: l.plan.map(|p| Plan::Scenario(Box::new(p))), diagnostics: l.diagnostics }
        }
        FileKind::Topology => {
            let l = resolve_topology_source(&src, registry, &TopologyOverrides::default());
            Loaded { plan: l.plan.map(Plan::Topology), diagnostics: l.diagnostics }
        }
    }
}

pub fn load_topology(path: &Path, registry: &Registry) -> Loaded<TopologyPlan> {
    match SourceFile::read(path) {
        Ok(src) => resolve_topology_source(&src, registry, &TopologyOverrides::default()),
        Err(d) => Loaded::failed(vec![d]),
    }
}

pub fn load_scenario(path: &Path, registry: &Registry) -> Loaded<ScenarioPlan> {
    match SourceFile::read(path) {
        Ok(src) => load_scenario_source(&src, registry),
        Err(d) => Loaded::failed(vec![d]),
    }
}

/// Resolves a topology held in memory.
pub fn resolve_topology_source(
    src: &SourceFile,
    registry: &Registry,
    overrides: &TopologyOverrides,
) -> Loaded<TopologyPlan> {
    let mut diags = Diagnostics::new(src);
    let plan = yaml::load::<RawTopology>(src, &mut diags)
        .and_then(|raw| TopologyResolver::new(registry, &mut diags).resolve(&raw, overrides));
    Loaded { plan, diagnostics: in_file_order(diags.into_vec()) }
}

/// Resolves a scenario held in memory; its topology is read from disk relative to it.
pub fn load_scenario_source(src: &SourceFile, registry: &Registry) -> Loaded<ScenarioPlan> {
    let mut diags = Diagnostics::new(src);
    if FileKind::is_plainly_topology(&src.text) {
        // Parsed as a scenario it would be a list of unknown fields and a missing
        // `topology`; what the user needs to hear is that it is the other kind of file.
        let name = src.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into());
        diags
            .error(
                &YamlPath::root().key("nodes"),
                Target::Key,
                Code::NotAScenario,
                "this file is a topology, not a scenario: it has `nodes:` where a scenario \
                 names its `topology:`",
            )
            .hint(format!(
                "a scenario runs a topology: write one with `topology: ../topologies/{name}` \
                 (relative to the scenario) and a `workload:`; `check` checks a topology alone"
            ));
        return Loaded::failed(diags.into_vec());
    }
    let Some(raw) = yaml::load::<RawScenario>(src, &mut diags) else {
        return Loaded::failed(diags.into_vec());
    };
    let topo_path = normalize(&src.path.parent().unwrap_or(Path::new(".")).join(&raw.topology));
    let topo_src = match SourceFile::read(&topo_path) {
        Ok(s) => s,
        // A file that is there but unfit (not UTF-8, a pipe, too large) is reported in its
        // own words, at its own position; only one that cannot be opened is "missing".
        Err(d) if d.code != Code::Io => {
            let mut all = diags.into_vec();
            all.push(d);
            return Loaded::failed(all);
        }
        Err(d) => {
            let reason = d.message.rsplit_once(": ").map_or("", |(_, why)| why);
            diags
                .error(
                    &YamlPath::root().key("topology"),
                    Target::Value,
                    Code::MissingFile,
                    format!("the topology file `{}` cannot be read: {reason}", topo_path.display()),
                )
                .hint("the path is relative to this scenario file, e.g. `../topologies/lru-broker.yaml`");
            return Loaded::failed(diags.into_vec());
        }
    };
    let overrides = TopologyOverrides {
        params: raw.params.iter().map(|(k, v)| (k.clone(), v)).collect(),
        scenario: Some(src),
    };
    let topo = resolve_topology_source(&topo_src, registry, &overrides);
    let mut all = topo.diagnostics;
    let plan = topo.plan.and_then(|mut topology| {
        check_param_overrides(&raw, &topology, &mut diags);
        apply_option_overrides(&raw, &mut topology, &mut diags);
        let duration = ScenarioResolver::duration_required(&raw, &mut diags);
        ScenarioResolver { registry, diags: &mut diags, topology: &topology, duration }
            .resolve(&raw)
    });
    if plan.is_none() && all.iter().all(|d| !d.is_error()) && !diags.has_errors() {
        // The topology failed without saying why in its own file: cannot happen, but
        // never return a silent failure.
        diags.error(
            &YamlPath::root().key("topology"),
            Target::Value,
            Code::Internal,
            "the topology did not resolve",
        );
    }
    all.extend(in_file_order(diags.into_vec()));
    Loaded { plan, diagnostics: all }
}

/// Diagnostics of one file sorted by position (loader and resolver find them in
/// different passes); those without a position keep their order, last.
fn in_file_order(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| d.location.map_or((usize::MAX, usize::MAX), |l| (l.line, l.column)));
    diags
}

/// `scenarios/../topologies/x.yaml` → `topologies/x.yaml`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() && !out.ends_with("..") => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
