//! Benchmarks live in `benches/benches/`; this library holds what they share.
//!
//! The workspace's shipped topologies and scenarios are found relative to this crate,
//! so a benchmark is built from the same files `cargo xtask sim` runs.

use std::path::{Path, PathBuf};

pub mod sched;

use patchbay::plan::{ScenarioPlan, TopologyPlan};
use patchbay::registry::Registry;
use patchbay::resolve::{self, TopologyOverrides};
use patchbay::spec::{Scalar, SourceFile, render};

/// The workspace root (this crate sits one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// Loads a shipped scenario, `relative` to the workspace root.
pub fn load_scenario(relative: &str, registry: &Registry) -> Result<ScenarioPlan, String> {
    let loaded = resolve::load_scenario(&workspace_root().join(relative), registry);
    loaded.plan.ok_or_else(|| render(&loaded.diagnostics))
}

/// Loads a shipped scenario with some of its topology's parameters overridden, as if
/// the file said `params: {name: value, ...}`. A plan is immutable, so the override is
/// made in the text; the in-memory file is placed beside the original (under a name
/// that says what changed) so its relative `topology:` path still resolves.
pub fn load_scenario_with_params(
    relative: &str,
    params: &[(&str, &str)],
    registry: &Registry,
) -> Result<ScenarioPlan, String> {
    let path = workspace_root().join(relative);
    let original = SourceFile::read(&path).map_err(|d| render(&[d]))?;
    if original.text.lines().any(|line| line.starts_with("params:")) {
        return Err(format!("{relative} already sets `params:`; merge the overrides by hand"));
    }
    let text = format!("{}\n{}", original.text.trim_end(), params_line(params));
    resolve_beside(&path, params, text, registry)
}

/// Loads a shipped topology, `relative` to the workspace root, with some of its
/// parameters overridden. A topology's parameters are overridden by a scenario, so
/// this resolves a minimal in-memory scenario that names the topology and sets
/// `params:`, and keeps its topology: every check the resolver makes still applies.
pub fn load_topology(
    relative: &str,
    params: &[(&str, &str)],
    registry: &Registry,
) -> Result<TopologyPlan, String> {
    let path = workspace_root().join(relative);
    if params.is_empty() {
        let loaded = resolve::load_topology(&path, registry);
        return loaded.plan.ok_or_else(|| render(&loaded.diagnostics));
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let text = format!(
        "name: {stem}-bench\ntopology: {}\nduration: 1s\ninvariants: [no_duplicate_delivery]\nexpect: pass\n{}",
        path.display(),
        params_line(params)
    );
    resolve_beside(&path, params, text, registry).map(|plan| plan.topology)
}

/// Loads a shipped topology that names no `library:` as if it said `library: {library}`,
/// with some of its parameters overridden: a benchmark compares like with like (the
/// QUEUE device's hop against a direct REQ/REP on the same wire). The file's own text
/// is resolved, the line put in front of it, under a name that says what changed.
pub fn load_topology_on_library(
    relative: &str,
    library: &str,
    params: &[(&str, &str)],
    registry: &Registry,
) -> Result<TopologyPlan, String> {
    let path = workspace_root().join(relative);
    let original = SourceFile::read(&path).map_err(|d| render(&[d]))?;
    if original.text.lines().any(|line| line.starts_with("library:")) {
        return Err(format!("{relative} already names its library; load it as it is"));
    }
    let text = format!("library: {library}\n{}", original.text);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let src = SourceFile::new(path.with_file_name(format!("{stem}+library={library}.yaml")), text);
    let values: Vec<(String, Scalar)> =
        params.iter().map(|(name, value)| ((*name).to_owned(), Scalar::number(*value))).collect();
    let params = values.iter().map(|(name, v)| (name.clone(), v)).collect();
    let overrides = TopologyOverrides { params, ..TopologyOverrides::default() };
    let loaded = resolve::resolve_topology_source(&src, registry, &overrides);
    loaded.plan.ok_or_else(|| render(&loaded.diagnostics))
}

/// `params: {name: value, ...}` and a newline.
fn params_line(params: &[(&str, &str)]) -> String {
    let list: Vec<String> = params.iter().map(|(name, value)| format!("{name}: {value}")).collect();
    format!("params: {{{}}}\n", list.join(", "))
}

/// Resolves scenario `text` as if it were a file beside `path` named for `params`.
fn resolve_beside(
    path: &Path,
    params: &[(&str, &str)],
    text: String,
    registry: &Registry,
) -> Result<ScenarioPlan, String> {
    let src = SourceFile::new(overridden_path(path, params), text);
    let loaded = resolve::load_scenario_source(&src, registry);
    loaded.plan.ok_or_else(|| render(&loaded.diagnostics))
}

/// `scenarios/x.yaml` with `clients=100` → `scenarios/x+clients=100.yaml`.
fn overridden_path(path: &Path, params: &[(&str, &str)]) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let suffix: String = params.iter().map(|(name, value)| format!("+{name}={value}")).collect();
    path.with_file_name(format!("{stem}{suffix}.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_override_scales_the_topology() {
        let registry = Registry::builtin();
        let plan = load_scenario_with_params(
            "scenarios/queue-partition.yaml",
            &[("clients", "100")],
            &registry,
        )
        .expect("resolves");
        let clients = plan.topology.groups.iter().find(|g| g.name == "client").expect("clients");
        assert_eq!(clients.count, 100);
        assert_eq!(plan.name, "queue-partition");
    }

    #[test]
    fn a_topology_loads_with_and_without_overrides() {
        let registry = Registry::builtin();
        let plain = load_topology("topologies/lru-broker.yaml", &[], &registry).expect("resolves");
        let workers = |plan: &TopologyPlan| plan.group_by_name("worker").expect("workers").count;
        assert_eq!(workers(&plain), 3);
        let scaled = load_topology("topologies/lru-broker.yaml", &[("workers", "16")], &registry)
            .expect("resolves");
        assert_eq!(workers(&scaled), 16);
        let err = load_topology("topologies/lru-broker.yaml", &[("wrokers", "16")], &registry)
            .expect_err("an unknown parameter is an error");
        assert!(err.contains("wrokers"), "{err}");
    }

    #[test]
    fn a_topology_loads_on_another_library_with_overrides() {
        let registry = Registry::builtin();
        let params = [("clients", "1"), ("workers", "1")];
        let plan = load_topology_on_library("topologies/queue.yaml", "zeromq", &params, &registry)
            .expect("resolves");
        let device = plan.group_by_name("device").expect("the device");
        let libraries: Vec<&str> = device
            .sockets
            .iter()
            .map(|s| s.options.library.value.map_or("none", |l| l.name()))
            .collect();
        assert_eq!(libraries, ["zeromq", "zeromq"]);
        assert_eq!(plan.group_by_name("client").expect("clients").count, 1);
        let err = load_topology_on_library("topologies/req-rep.yaml", "nng", &[], &registry)
            .expect_err("req-rep names its library");
        assert!(err.contains("already names its library"), "{err}");
    }
}
