//! The crate's scenarios from `cargo test`, through `patchbay::testing`: each ends
//! as its `expect` says over several seeds, and an exploration around the steady one
//! (faults, counts, sizes and options drawn near it) finds nothing the window broker
//! gets wrong. A broken broker fails these tests with the verdict table and a repro.

use std::path::PathBuf;

use patchbay::invariant::Verdict;
use patchbay::run::RunReport;
use patchbay::testing::{Scenario, Step};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    Scenario::load(path).registry(custom_broker::registry())
}

/// The verdict of `invariant` in `run`.
fn verdict(run: &RunReport, invariant: &str) -> Verdict {
    run.invariants.iter().find(|o| o.name == invariant).expect("the scenario names it").verdict
}

#[test]
fn the_window_broker_serves_every_request_over_four_seeds() {
    let sweep = scenario("window-steady.yaml").seeds(1..=4).assert_as_expected();
    assert_eq!(sweep.runs.len(), 4);
    for run in &sweep.runs {
        assert_eq!(verdict(run, "no_lost_replies"), Verdict::Pass, "seed {}", run.seed);
    }
}

#[test]
fn the_shedding_variant_loses_replies_over_four_seeds_as_it_expects() {
    let sweep = scenario("window-shed.yaml").seeds(1..=4).assert_as_expected();
    for run in &sweep.runs {
        assert_eq!(verdict(run, "no_lost_replies"), Verdict::Fail, "seed {}", run.seed);
    }
}

/// Cases drawn around the steady scenario (other client and worker counts, sizes,
/// options, durations and seeds; no faults, since the broker holds a slot for a
/// reply that never comes, as the README says): the window broker keeps every
/// invariant in each. A failing case would be written beside the scenario, with its
/// seed kept in `window-steady.explore-regressions` and replayed first next time.
#[test]
fn an_exploration_around_the_steady_scenario_finds_nothing() {
    let explored =
        scenario("window-steady.yaml").explore().cases(16).max_faults(0).assert_survives();
    assert!(
        matches!(explored.steps[..], [Step::Searched { cases_run: 16, failed: false, .. }]),
        "{:?}",
        explored.steps
    );
    assert!(explored.written.is_none() && !explored.regressions.exists());
}
