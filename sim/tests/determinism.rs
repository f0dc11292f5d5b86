//! The determinism meta-test: a seed is a complete description of a run.
//!
//! Every shipped scenario the simulator can run is run on three seeds, twice each,
//! and the two runs of a seed must agree on the trace hash, the number of events and
//! the simulated end time; a second test shows that different seeds give different
//! traces, so that the agreement is not that of a constant hash. The scenarios in
//! [`MUST_RUN`] (the spine's) must be runnable; any other shipped scenario is checked
//! as soon as its designs can run, so the set grows as designs land without edits
//! here, and none of the spine's can drop out silently.

use std::path::{Path, PathBuf};

use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario;
use patchbay::run::{Job, RunReport, run_many, run_seed, runnable as can_run};

/// Seeds every runnable scenario is run on.
const SEEDS: [u64; 3] = [1, 2, 3];

/// Scenarios larger than this many replicas (the comet router's thousands of users)
/// are left to `cargo xtask sim --check-determinism`, which runs them in a release
/// build; a debug build of this test would take many minutes on them. The comet
/// tests (`tests/comet.rs`) cover the same designs at 200 users.
const MAX_REPLICAS: u64 = 1_000;

/// The simulation spine's shipped scenarios, by file name: these must always run.
const MUST_RUN: [&str; 7] = [
    "lru-idle-resend-23d.yaml",
    "lru-idle-resend.yaml",
    "lru-steady.yaml",
    "lru-worker-crash.yaml",
    "queue-partition-long.yaml",
    "queue-partition.yaml",
    "rrbroker-steady.yaml",
];

/// Simulations run side by side: each is single-threaded and deterministic on its
/// own thread, and the test machine has two cores.
const THREADS: usize = 2;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Every shipped scenario, by file name, in name order, resolved against the
/// built-in designs. A scenario that does not resolve fails the test here.
fn shipped(registry: &Registry) -> Vec<(String, ScenarioPlan)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let paths: Vec<PathBuf> = patchbay::files::shipped_files(&root)
        .expect("the shipped folders are readable")
        .into_iter()
        .filter(|path| path.starts_with(root.join("scenarios")))
        .collect();
    assert!(!paths.is_empty(), "no scenarios found in {}", scenarios_dir().display());
    paths
        .into_iter()
        .map(|path| {
            let loaded = load_scenario(&path, registry);
            let Some(plan) = loaded.plan else {
                let diags: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
                panic!("{} does not resolve:\n{}", path.display(), diags.join("\n"));
            };
            let name = path.file_name().expect("a file").to_string_lossy().into_owned();
            (name, plan)
        })
        .collect()
}

/// The shipped scenarios the simulator can run, after checking that every one in
/// [`MUST_RUN`] is among them.
fn runnable(registry: &Registry) -> Vec<(String, ScenarioPlan)> {
    let all = shipped(registry);
    for name in MUST_RUN {
        let Some((_, plan)) = all.iter().find(|(n, _)| n == name) else {
            panic!("{name} must be shipped");
        };
        if let Err(why) = can_run(plan, registry) {
            panic!("{name} must run in the simulator: {why}");
        }
    }
    all.into_iter()
        .filter(|(_, plan)| can_run(plan, registry).is_ok())
        .filter(|(_, plan)| plan.topology.replica_count() <= MAX_REPLICAS)
        .collect()
}

/// One line per run, for a failure message.
fn describe(report: &RunReport) -> String {
    format!(
        "hash {:#018x}, {} events, ended at {} ms, error {:?} ({})",
        report.trace_hash,
        report.events,
        report.sim_ms,
        report.error,
        report.repro()
    )
}

#[test]
fn every_runnable_shipped_scenario_repeats_its_trace_exactly() {
    let registry = Registry::builtin();
    let plans = runnable(&registry);
    assert!(plans.len() >= 7, "expected the seven spine scenarios to run, got {}", plans.len());
    let mut jobs = Vec::new();
    for (_, plan) in &plans {
        for seed in SEEDS {
            // Twice in a row, so the two runs of a seed may land on different threads.
            jobs.push(Job { plan, seed });
            jobs.push(Job { plan, seed });
        }
    }
    let reports = run_many(&jobs, &registry, THREADS, false, &|_| {});
    for pair in reports.chunks(2) {
        let (first, second) = (&pair[0], &pair[1]);
        assert_eq!(first.error, None, "{}: {}", first.scenario, describe(first));
        assert!(first.events > 0, "{}: an empty trace proves nothing", describe(first));
        let same = (first.trace_hash, first.events, first.sim_ms)
            == (second.trace_hash, second.events, second.sim_ms);
        assert!(
            same,
            "{} seed {} is not deterministic:\n  first:  {}\n  second: {}",
            first.scenario,
            first.seed,
            describe(first),
            describe(second)
        );
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let registry = Registry::builtin();
    let path = scenarios_dir().join("lru-steady.yaml");
    let plan = load_scenario(&path, &registry).plan.expect("lru-steady resolves");
    let hashes: Vec<(u64, u64)> = SEEDS
        .iter()
        .map(|&seed| {
            let report = run_seed(&plan, &registry, seed, false);
            assert_eq!(report.error, None, "{}", describe(&report));
            (seed, report.trace_hash)
        })
        .collect();
    for (i, (seed_a, hash_a)) in hashes.iter().enumerate() {
        for (seed_b, hash_b) in &hashes[i + 1..] {
            assert_ne!(hash_a, hash_b, "lru-steady seeds {seed_a} and {seed_b} hash alike");
        }
    }
}
