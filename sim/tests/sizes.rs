//! Message sizes are real (issue 11, point 5): a job that models 10-100 MB has a
//! length prefix of that size, so a receive limit refuses it from the prefix, as
//! nanomsg, NNG and libzmq do, and drops the connection. Article 000's author met
//! exactly this with nanomsg's default 1 MiB `NN_RCVMAXSIZE` and raised it; the
//! shipped gif-service pair shows both sides, in the simulator and over real TCP
//! (where the padding really travels: kept to a few jobs of a few MB).

use patchbay::invariant::Verdict;
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::{load_scenario, load_scenario_source};
use patchbay::run::real::RealOptions;
use patchbay::run::{RunReport, run_real_seed, run_seed};
use patchbay::spec::source::SourceFile;
use patchbay::trace::{AppEvent, EventKind, Trace};

use crate::util::root;

const TOO_LARGE: &str = "message too large";

fn shipped(name: &str) -> ScenarioPlan {
    let loaded =
        load_scenario(&root().join(format!("scenarios/{name}.yaml")), &Registry::builtin());
    loaded.plan.unwrap_or_else(|| panic!("{name} does not resolve: {:?}", loaded.diagnostics))
}

fn simulate(plan: &ScenarioPlan) -> (RunReport, Trace) {
    let mut report = run_seed(plan, &Registry::builtin(), 1, true);
    assert_eq!(report.error, None, "{} did not run", plan.name);
    let trace = report.trace.take().expect("kept");
    (report, trace)
}

fn verdict(report: &RunReport, name: &str) -> Verdict {
    report.invariants.iter().find(|o| o.name == name).expect("checked").verdict
}

/// Connections dropped because a message was over the receive limit.
fn dropped_too_large(trace: &Trace) -> usize {
    trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Disconnect { reason, .. } if reason.contains(TOO_LARGE)))
        .count()
}

fn replies(trace: &Trace) -> usize {
    trace.app_events().filter(|(_, a)| matches!(a, AppEvent::ReplyAccepted { .. })).count()
}

#[test]
fn gif_service_with_nanomsgs_default_rcvmaxsize_loses_its_large_jobs_in_simulation() {
    let (report, trace) = simulate(&shipped("gif-service-default-limit"));
    assert!(report.as_expected, "{:?}", report.invariants);
    assert_eq!(verdict(&report, "no_lost_replies"), Verdict::Fail);
    assert_eq!(replies(&trace), 0, "a job got past a 1 MiB limit");
    assert!(dropped_too_large(&trace) > 0, "no connection was dropped as {TOO_LARGE:?}");
}

#[test]
fn gif_service_with_the_authors_raised_rcvmaxsize_passes_in_simulation() {
    let (report, trace) = simulate(&shipped("gif-service"));
    assert!(report.as_expected, "{:?}", report.invariants);
    assert_eq!(verdict(&report, "no_lost_replies"), Verdict::Pass);
    assert_eq!(replies(&trace), 10, "two front ends, five jobs each");
    assert_eq!(dropped_too_large(&trace), 0);
}

/// The gif service over real TCP with two jobs of 3 MB, under `rcvmaxsize`.
fn real_gif_run(rcvmaxsize: &str) -> (RunReport, Trace) {
    let name = format!("real-gif-{rcvmaxsize}");
    let text = format!(
        "name: {name}\ntopology: ../topologies/gif-service-default-limit.yaml\n\
         params: {{frontends: 1, workers: 1}}\n\
         overrides:\n  broker.frontend: {{rcvmaxsize: {rcvmaxsize}}}\n\
         \x20 broker.backend: {{rcvmaxsize: {rcvmaxsize}}}\n\
         \x20 worker.req: {{rcvmaxsize: {rcvmaxsize}}}\n\
         duration: 1s\nliveness: 3s\n\
         workload:\n  frontend: {{requests: 2, size: 3MB}}\n  worker: {{service_time: 10ms}}\n\
         invariants: [no_lost_replies]\nexpect: pass\n"
    );
    let path = root().join(format!("scenarios/{name}.yaml"));
    let loaded = load_scenario_source(&SourceFile::new(path, &text), &Registry::builtin());
    let plan = loaded.plan.unwrap_or_else(|| panic!("{name}: {:?}", loaded.diagnostics));
    let mut report = run_real_seed(&plan, &Registry::builtin(), 1, RealOptions::default(), true);
    assert_eq!(report.error, None, "{name} did not run over real TCP");
    let trace = report.trace.take().expect("kept");
    (report, trace)
}

#[test]
fn gif_jobs_over_real_tcp_are_dropped_by_a_1mib_limit_and_pass_a_raised_one() {
    let (limited, trace) = real_gif_run("1MiB");
    assert_eq!(verdict(&limited, "no_lost_replies"), Verdict::Fail);
    assert_eq!(replies(&trace), 0, "a 3 MB job got past a 1 MiB limit");
    assert!(dropped_too_large(&trace) > 0, "no connection was dropped as {TOO_LARGE:?}");

    let (raised, trace) = real_gif_run("unlimited");
    assert_eq!(verdict(&raised, "no_lost_replies"), Verdict::Pass);
    assert_eq!(replies(&trace), 2);
    assert_eq!(dropped_too_large(&trace), 0);
}
