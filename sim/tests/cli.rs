//! The command line as a library (issue 14): what a user's own tool prints names
//! that tool, not `cargo xtask`.

use patchbay::registry::Registry;
use patchbay::report::sweep::{Measurements, sim_report};
use patchbay::resolve::load_scenario;
use patchbay::run::{Invocation, Job, run_many_with};

use crate::util::root;

#[test]
fn repro_lines_in_a_report_name_the_tool_the_user_runs() {
    // Issue 14: repro lines always said `cargo xtask sim …`, wrong for a user's tool
    // and written into their reports.
    let registry = Registry::builtin();
    let plan = load_scenario(&root().join("scenarios/lru-worker-crash.yaml"), &registry)
        .plan
        .expect("shipped scenario");
    let measured = Measurements::default();
    let reports = run_many_with(&[Job { plan: &plan, seed: 1 }], &registry, 1, true, &|r| {
        if let Some(trace) = &r.trace {
            measured.add(&plan, trace);
        }
    });
    let command = Invocation::new("my-tool", "my-tool sim scenarios/lru-worker-crash.yaml");
    let report = sim_report(command, std::slice::from_ref(&plan), &registry, &reports, &measured);
    assert_eq!(report.command, "my-tool sim scenarios/lru-worker-crash.yaml");
    let section = &report.sections[0];
    let lost = section.verdicts.iter().find(|v| v.invariant == "no_lost_replies").expect("row");
    let repro = &lost.failures.first().expect("the worker's job is lost").repro;
    assert!(repro.starts_with("my-tool sim ") && repro.ends_with(" --seed 1"), "{repro}");
    assert!(section.sequences[0].repro.starts_with("my-tool sim "), "the drawing's repro too");
    assert_eq!(reports[0].repro(), reports[0].repro_in("cargo xtask"), "the default stays");
}
