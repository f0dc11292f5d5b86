//! A case as a scenario file: the user's scenario, edited.
//!
//! Everything a case does not vary stays as the user wrote it (invariants, network,
//! other workload fields, the faults the file already had). The case's counts,
//! workload sizes, options, duration and seed are written over it, the `swarm:` block
//! is removed (the case's faults replace its draws), `expect` becomes `pass` (the
//! claim exploration tries to refute), and the case's fault genes are resolved against
//! the topology as sized by the case and appended to `faults`. The text this produces
//! is exactly what `cargo xtask explore` writes to disk, so running the file with
//! `cargo xtask sim` reproduces the case: same plan, same seed, same trace.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::plan::{FaultKind, FaultPlan, ScenarioPlan, Selector};
use crate::registry::Registry;
use crate::spec::edit::Tree;

use super::space::{Case, FaultGene, Space};

/// The smallest range of a drawn `latency` fault, and its width.
const LATENCY_MIN_MS: u64 = 10;
const LATENCY_SPAN_MS: u64 = 490;
/// The smallest drawn `loss` rate, and the width of the range.
const LOSS_MIN: f64 = 0.01;
const LOSS_SPAN: f64 = 0.29;
/// The smallest drawn `bandwidth` limit in KiB/s, and the width of the range.
const BANDWIDTH_MIN_KIB: u64 = 8;
const BANDWIDTH_SPAN_KIB: u64 = 8184;

/// The scenario `doc` with the case's counts, sizes, options, duration and seed, and
/// its topology path rewritten to be relative to `dir` (where the file will live).
/// Faults come later, once the case's counts are known: see [`with_faults`].
pub(crate) fn without_drawn_faults(
    doc: &Tree,
    space: &Space,
    case: &Case,
    name: &str,
    topology: &Path,
    dir: &Path,
) -> Tree {
    let mut out = doc.clone();
    out.set("name", Tree::Str(name.to_owned()));
    out.set("topology", Tree::Str(relative(dir, topology).to_string_lossy().into_owned()));
    for (knob, value) in space.params.iter().zip(&case.params) {
        if let Some(params) = out.entry("params") {
            params.set(&knob.name, Tree::Int(*value as i64));
        }
    }
    for (knob, value) in space.workload.iter().zip(&case.workload) {
        let Some((group, field)) = knob.name.split_once('.') else { continue };
        if let Some(fields) = out.entry("workload").and_then(|w| w.entry(group)) {
            fields.set(field, Tree::Int(*value as i64));
        }
    }
    for (knob, choice) in space.options.iter().zip(&case.options) {
        let Some(value) = choice.and_then(|c| knob.choices.get(c)) else { continue };
        if let Some(socket) = out.entry("overrides").and_then(|o| o.entry(&knob.socket)) {
            socket.set(knob.option, value.clone());
        }
    }
    if out.get("params").is_some_and(|p| p.entries().is_empty()) {
        out.remove("params");
    }
    out.set("duration", Tree::Str(format!("{}ms", case.duration_ms)));
    out.set("seeds", Tree::Seq(vec![Tree::Int(case.seed as i64)]));
    out.remove("swarm");
    out.set("expect", Tree::Str("pass".to_owned()));
    out
}

/// `doc` (from [`without_drawn_faults`], resolved as `plan`) with the case's faults
/// appended to those it already has.
pub(crate) fn with_faults(
    doc: &Tree,
    space: &Space,
    case: &Case,
    plan: &ScenarioPlan,
    registry: &Registry,
) -> Tree {
    let mut out = doc.clone();
    let mut faults = match out.get("faults") {
        Some(Tree::Seq(items)) => items.clone(),
        _ => Vec::new(),
    };
    let mut placed: Vec<FaultPlan> = plan.faults.clone();
    for gene in &case.faults {
        let Some(fault) = resolve(gene, space, case, plan) else { continue };
        // Two faults on one target at once leave the second nothing to do (a killed
        // replica cannot be killed again), which `faults_fired` would rightly report:
        // such a gene is skipped, as the swarm skips such draws.
        if placed.iter().any(|g| crate::run::swarm::overlaps(&fault, g, plan.duration)) {
            continue;
        }
        faults.push(render(&fault, plan));
        placed.push(fault);
    }
    if faults.is_empty() {
        out.remove("faults");
    } else {
        out.set("faults", Tree::Seq(faults));
    }
    without_idle_fault_checks(out, registry)
}

/// `doc` without the invariants that judge faults (`faults_fired`, and any a user
/// declared with [`Invariant::needs_faults`]) when it schedules no fault: a case
/// whose genes drew none (or a scenario whose faults all come from `swarm:`, before
/// they are drawn) leaves them nothing to hold, and a file naming one without a
/// fault is refused, as it would pass whatever the run did.
///
/// [`Invariant::needs_faults`]: crate::invariant::Invariant::needs_faults
pub(crate) fn without_idle_fault_checks(mut doc: Tree, registry: &Registry) -> Tree {
    let scheduled = matches!(doc.get("faults"), Some(Tree::Seq(faults)) if !faults.is_empty());
    if !scheduled && let Some(Tree::Seq(invariants)) = doc.entry("invariants") {
        invariants.retain(|item| {
            // An invariant is listed by its name, or as a map from its name to its
            // parameters.
            let name = item.as_str().or_else(|| match item.entries() {
                [(name, _)] => Some(name.as_str()),
                _ => None,
            });
            !name
                .and_then(|name| registry.find_invariant(name))
                .is_some_and(|invariant| invariant.faults_needed())
        });
    }
    doc
}

/// The fault a gene stands for in this case, or `None` when the topology has nothing
/// for it to hit.
fn resolve(gene: &FaultGene, space: &Space, case: &Case, plan: &ScenarioPlan) -> Option<FaultPlan> {
    let kind = *space.kinds.get(gene.kind)?;
    let duration_ms = case.duration_ms;
    // As the swarm does: faults start once connections are up (after the first second,
    // or the first fifth of a shorter run).
    let first_ms = 1000.min(duration_ms / 5);
    let at_ms = first_ms + (duration_ms - first_ms) * u64::from(gene.at) / 1000;
    let len_ms = (duration_ms * u64::from(gene.len) / 1000).max(1);
    let until_ms = (at_ms + len_ms).min(duration_ms);
    let mut fault = FaultPlan {
        kind,
        at: Duration::from_millis(at_ms),
        until: Some(Duration::from_millis(until_ms)),
        nodes: Vec::new(),
        between: None,
        oneway: false,
        latency: None,
        rate: None,
        bandwidth: None,
    };
    let target = gene.target as usize;
    if kind.is_node_fault() {
        let groups: Vec<Selector> = match &plan.swarm {
            Some(s) if !s.targets.is_empty() => s.targets.clone(),
            _ => plan
                .topology
                .groups
                .iter()
                .map(|g| Selector { group: g.id, replica: None })
                .collect(),
        };
        let chosen = groups.get(target % groups.len().max(1))?;
        let count = plan.topology.group(chosen.group).count.max(1) as usize;
        let replica = chosen.replica.unwrap_or(((target / groups.len()) % count) as u32);
        fault.nodes = vec![Selector { group: chosen.group, replica: Some(replica) }];
    } else {
        let connections = &plan.topology.connections;
        let c = connections.get(target % connections.len().max(1))?;
        let from = plan.topology.group(c.from_group);
        let replica = ((target / connections.len()) % from.count.max(1) as usize) as u32;
        let one = Selector { group: from.id, replica: Some(replica) };
        let other = Selector { group: c.to.group, replica: c.to.replica };
        fault.between = Some([vec![one], vec![other]]);
        fault.oneway = gene.oneway && matches!(kind, FaultKind::Partition | FaultKind::Clog);
        let amount = u64::from(gene.amount);
        match kind {
            FaultKind::Latency => {
                let ms = LATENCY_MIN_MS + LATENCY_SPAN_MS * amount / 1000;
                fault.latency = Some(crate::plan::Distribution::Fixed(ms as f64 * 1e6));
            }
            FaultKind::Loss => {
                let rate = LOSS_MIN + LOSS_SPAN * amount as f64 / 1000.0;
                fault.rate = Some((rate * 1000.0).round() / 1000.0);
            }
            FaultKind::Bandwidth => {
                let kib = BANDWIDTH_MIN_KIB + BANDWIDTH_SPAN_KIB * amount / 1000;
                fault.bandwidth = Some((kib * 1024) as f64);
            }
            _ => {}
        }
    }
    Some(fault)
}

/// A fault as the scenario language writes it.
fn render(fault: &FaultPlan, plan: &ScenarioPlan) -> Tree {
    let name = |s: &Selector| plan.topology.selector_name(s);
    let ms = |d: Duration| Tree::Str(format!("{}ms", d.as_millis()));
    let mut out = Tree::map();
    out.set("at", ms(fault.at));
    if let Some(until) = fault.until {
        out.set("for", ms(until.saturating_sub(fault.at)));
    }
    out.set("kind", Tree::Str(fault.kind.name().to_owned()));
    if let Some(node) = fault.nodes.first() {
        out.set("node", Tree::Str(name(node)));
    }
    if let Some([a, b]) = &fault.between {
        let side = |s: &[Selector]| s.first().map(name).unwrap_or_default();
        out.set("between", Tree::Seq(vec![Tree::Str(side(a)), Tree::Str(side(b))]));
    }
    if fault.oneway {
        out.set("oneway", Tree::Bool(true));
    }
    if let Some(crate::plan::Distribution::Fixed(ns)) = fault.latency {
        out.set("latency", Tree::Str(format!("{}ms", (ns / 1e6).round() as u64)));
    }
    if let Some(rate) = fault.rate {
        out.set("rate", Tree::Float(rate));
    }
    if let Some(bandwidth) = fault.bandwidth {
        out.set("bandwidth", Tree::Str(crate::spec::units::format_bandwidth(bandwidth)));
    }
    out
}

/// `to` as a path relative to the folder `from` (both absolute or both relative to
/// the same place), so a written case names its topology the way a user would.
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        let rel = relative(Path::new("/w/reports/explore"), Path::new("/w/topologies/q.yaml"));
        assert_eq!(rel, PathBuf::from("../../topologies/q.yaml"));
        let same = relative(Path::new("/w/scenarios"), Path::new("/w/scenarios/t.yaml"));
        assert_eq!(same, PathBuf::from("t.yaml"));
    }

    fn invariants_of(text: &str) -> Vec<String> {
        let src = crate::spec::source::SourceFile::new("case.yaml", text);
        let mut diags = crate::spec::diag::Diagnostics::new(&src);
        let doc = crate::spec::edit::parse_tree(&src, &mut diags).expect("valid YAML");
        match without_idle_fault_checks(doc, &Registry::builtin()).get("invariants") {
            Some(Tree::Seq(items)) => {
                items.iter().filter_map(|i| i.as_str()).map(str::to_owned).collect()
            }
            other => panic!("no invariants: {other:?}"),
        }
    }

    #[test]
    fn a_case_without_a_fault_leaves_faults_fired_out_and_one_with_a_fault_keeps_it() {
        let without = "invariants: [no_lost_replies, faults_fired]\n";
        assert_eq!(invariants_of(without), ["no_lost_replies"]);
        let with = "faults:\n  - {at: 1s, kind: kill, node: worker}\ninvariants: [no_lost_replies, faults_fired]\n";
        assert_eq!(invariants_of(with), ["no_lost_replies", "faults_fired"]);
    }
}
