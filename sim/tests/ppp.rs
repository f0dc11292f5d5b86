//! The Paranoid Pirate broker: it survives a worker's crash in simulation, and the
//! variant that never expires a silent worker does not.

use patchbay::invariant::Verdict;
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::{load_scenario, load_scenario_source};
use patchbay::run::run_seed;
use patchbay::spec::source::SourceFile;

use crate::util::{registry_with_broken, root};

fn shipped(registry: &Registry) -> ScenarioPlan {
    let loaded = load_scenario(&root().join("scenarios/ppp-worker-crash.yaml"), registry);
    loaded.plan.expect("ppp-worker-crash resolves")
}

#[test]
fn the_ppp_broker_answers_every_client_when_a_worker_crashes_mid_job() {
    let registry = registry_with_broken();
    let plan = shipped(&registry);
    for seed in 1..=3 {
        let report = run_seed(&plan, &registry, seed, false);
        assert_eq!(report.error, None);
        assert!(report.as_expected, "seed {seed}: {:?}", report.invariants);
    }
}

#[test]
fn a_ppp_broker_that_never_expires_workers_loses_the_dead_workers_job() {
    let registry = registry_with_broken();
    // The shipped topology with the broken broker, written beside a copy of the
    // shipped scenario so its relative topology path still resolves.
    let dir = std::env::temp_dir().join(format!("patchbay-ppp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let topology = std::fs::read_to_string(root().join("topologies/ppp-broker.yaml"))
        .expect("shipped topology")
        .replace("design: ppp-broker", "design: immortal-ppp-broker");
    std::fs::write(dir.join("ppp-immortal.topology.yaml"), topology).expect("write");
    let text = std::fs::read_to_string(root().join("scenarios/ppp-worker-crash.yaml"))
        .expect("shipped scenario")
        .replace("../topologies/ppp-broker.yaml", "ppp-immortal.topology.yaml");
    let loaded =
        load_scenario_source(&SourceFile::new(dir.join("ppp-immortal.yaml"), text), &registry);
    std::fs::remove_dir_all(&dir).expect("remove the temporary directory");
    let plan = loaded.plan.expect("the broken variant resolves");
    let report = run_seed(&plan, &registry, 1, false);
    assert_eq!(report.error, None);
    let lost = report.invariants.iter().find(|o| o.name == "no_lost_replies").expect("checked");
    assert_eq!(lost.verdict, Verdict::Fail);
    assert!(lost.violations.iter().all(|v| v.text.contains("never got a reply")));
}
