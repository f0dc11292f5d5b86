//! Seed 004's comet router over the simulator: a small comet (200 users logging in
//! and out) passes `fanout_correct`, and the same topology and seed with the broken
//! `leaky-comet-router`, which keeps pushing messages to users who logged out,
//! fails it.
//!
//! The scenario names the shipped `topologies/comet.yaml` (resolved as if the
//! scenario sat in `scenarios/`, read from memory); the leaky run swaps the router's
//! design in the resolved plan, so both runs share everything else.

use std::path::PathBuf;

use patchbay::design::broken;
use patchbay::invariant::{Outcome, Verdict};
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario_source;
use patchbay::run::{RunReport, run_seed};
use patchbay::spec::source::SourceFile;
use patchbay::trace::{AppEvent, EventKind};

const SEED: u64 = 1;

/// 200 users with short sessions, so that many log out during the 6 s safety phase,
/// and a send rate high enough that their followers' messages keep coming.
const SMALL_COMET: &str = r#"
name: comet-small
topology: ../topologies/comet.yaml
params: {users: 200}
duration: 6s
liveness: 2s
seeds: 1
workload:
  user:
    publish_rate: 1/s
    session: {exponential: 2s}
    offline: {exponential: 2s}
    online_fraction: 0.7
invariants: [fanout_correct, hwm_bound]
expect: pass
"#;

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    for spec in broken::designs() {
        registry.register(spec);
    }
    registry
}

fn small_comet(registry: &Registry) -> ScenarioPlan {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/comet-small.yaml");
    let loaded = load_scenario_source(&SourceFile::new(path, SMALL_COMET.to_owned()), registry);
    let diags: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    loaded.plan.unwrap_or_else(|| panic!("the small comet does not resolve:\n{}", diags.join("\n")))
}

/// Runs [`SEED`], keeping the trace.
fn run(plan: &ScenarioPlan, registry: &Registry) -> RunReport {
    let report = run_seed(plan, registry, SEED, true);
    assert_eq!(report.error, None, "{} did not run: {}", plan.name, report.repro());
    report
}

fn fanout(report: &RunReport) -> &Outcome {
    let found = report.invariants.iter().find(|o| o.name == "fanout_correct");
    found.unwrap_or_else(|| panic!("fanout_correct was not checked: {:?}", report.invariants))
}

/// How many logouts the router recorded.
fn logouts(report: &RunReport) -> usize {
    let trace = report.trace.as_ref().expect("kept");
    let logout = |k: &EventKind| matches!(k, EventKind::App(AppEvent::CometLogout { .. }));
    trace.events.iter().filter(|e| logout(&e.kind)).count()
}

#[test]
fn a_small_comet_with_logins_and_logouts_delivers_to_exactly_the_logged_in_followers() {
    let registry = registry();
    let report = run(&small_comet(&registry), &registry);
    let outcome = fanout(&report);
    assert_eq!(outcome.verdict, Verdict::Pass, "{}: {outcome:?}", report.repro());
    assert!(report.as_expected, "{}: {:?}", report.repro(), report.invariants);
    // Not vacuous: users logged out, and the router skipped followers for it.
    assert!(logouts(&report) > 50, "only {} logouts", logouts(&report));
    let note = outcome.note.as_deref().unwrap_or_default();
    assert!(!note.contains(" 0 skipped as logged out"), "{note}");
}

#[test]
fn the_leaky_router_that_keeps_logged_out_users_fails_fanout_correct() {
    let registry = registry();
    let mut plan = small_comet(&registry);
    let router = plan.topology.groups.iter_mut().find(|g| g.name == "router").expect("router");
    router.design = "leaky-comet-router".into();
    let report = run(&plan, &registry);
    let outcome = fanout(&report);
    assert_eq!(outcome.verdict, Verdict::Fail, "{}: {outcome:?}", report.repro());
    assert!(!outcome.violations.is_empty());
    let logged_out = "which was logged out when it was routed";
    assert!(
        outcome.violations.iter().all(|v| v.text.contains(logged_out)),
        "every violation is a delivery after logout: {:#?}",
        &outcome.violations[..outcome.violations.len().min(5)]
    );
}
