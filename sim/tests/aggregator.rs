//! Article 001's multiplexing aggregator on its two shipped scenarios, two seeds each:
//! with the acceptor's wake-up every job finishes; without it (the lost wake-up) the
//! stragglers' connections are never read and no job finishes. Each run must end as
//! its scenario expects, and a fact read from the trace says why.

use std::collections::BTreeSet;
use std::path::PathBuf;

use patchbay::registry::Registry;
use patchbay::resolve::load_scenario;
use patchbay::run::{RunReport, run_seed};
use patchbay::trace::{AppEvent, Trace};

const SEEDS: [u64; 2] = [1, 2];

/// One seed of a shipped scenario, which must have run and ended as it expects.
fn run(scenario: &str, seed: u64) -> (RunReport, Trace) {
    let registry = Registry::builtin();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(scenario);
    let loaded = load_scenario(&path, &registry);
    let plan = loaded.plan.unwrap_or_else(|| panic!("{scenario}: {:?}", loaded.diagnostics));
    let mut report = run_seed(&plan, &registry, seed, true);
    assert!(report.error.is_none(), "{scenario}: {:?}; {}", report.error, report.repro());
    let outcomes: Vec<_> = report.invariants.iter().map(|o| (o.name, o.verdict)).collect();
    assert!(report.as_expected, "{scenario}: {outcomes:?}; {}", report.repro());
    let trace = report.trace.take().expect("asked to keep the trace");
    (report, trace)
}

/// The jobs clients sent chunks for, and the jobs the aggregator finished.
fn jobs(trace: &Trace) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let (mut sent, mut finished) = (BTreeSet::new(), BTreeSet::new());
    for (_, event) in trace.app_events() {
        match event {
            AppEvent::ChunkSent { job, .. } => {
                sent.insert(*job);
            }
            AppEvent::JobFinished { job } => {
                finished.insert(*job);
            }
            _ => {}
        }
    }
    (sent, finished)
}

#[test]
fn with_the_wakeup_every_job_finishes() {
    for seed in SEEDS {
        let (report, trace) = run("aggregator.yaml", seed);
        let (sent, finished) = jobs(&trace);
        assert_eq!(sent, BTreeSet::from([0, 1, 2]), "{}", report.repro());
        assert_eq!(finished, sent, "{}", report.repro());
    }
}

#[test]
fn without_the_wakeup_the_stragglers_are_never_read_and_no_job_finishes() {
    for seed in SEEDS {
        let (report, trace) = run("aggregator-lost-wakeup.yaml", seed);
        let (sent, finished) = jobs(&trace);
        assert_eq!(sent, BTreeSet::from([0, 1, 2]), "{}", report.repro());
        assert!(finished.is_empty(), "{finished:?} finished; {}", report.repro());
        let unwoken = trace.app_events().filter(|(_, e)| {
            matches!(e, AppEvent::Note { text } if text.ends_with("without waking its worker"))
        });
        assert_eq!(unwoken.count(), 3, "one silent hand-over per job; {}", report.repro());
    }
}
