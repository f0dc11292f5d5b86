//! Benchmarks live in `benches/benches/`; this library holds what they share.
//!
//! The workspace's shipped topologies and scenarios are found relative to this crate,
//! so a benchmark is built from the same files `cargo xtask sim` runs.

use std::path::{Path, PathBuf};

use patchbay::design::Registry;
use patchbay::plan::{self, ScenarioPlan};
use patchbay::spec::{SourceFile, render};

/// The workspace root (this crate sits one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// Loads a shipped scenario, `relative` to the workspace root.
pub fn load_scenario(relative: &str, registry: &Registry) -> Result<ScenarioPlan, String> {
    let loaded = plan::load_scenario(&workspace_root().join(relative), registry);
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
    let list: Vec<String> = params.iter().map(|(name, value)| format!("{name}: {value}")).collect();
    let text = format!("{}\nparams: {{{}}}\n", original.text.trim_end(), list.join(", "));
    let src = SourceFile::new(overridden_path(&path, params), text);
    let loaded = plan::load_scenario_source(&src, registry);
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
}
