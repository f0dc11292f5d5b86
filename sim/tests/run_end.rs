//! When a run ends, and what is in force when it does (issue 11, points 2 and 3).
//!
//! - Faults may last into the liveness phase when the file says so (`for` or `until`
//!   past `duration`, or `until: end`); before, they were cut at `duration` without
//!   a word.
//! - A run ends only when every incarnation's finite workload has finished (or the
//!   liveness bound has passed): a client killed after finishing and restarted at
//!   the heal runs its workload again to the end. Before, the run latched
//!   "quiesced" at the heal, before the new incarnation cleared its completion, and
//!   ended a second later with the client's request reported lost.

use std::time::Duration;

use patchbay::invariant::Verdict;
use patchbay::plan::{Replica, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::run::run_seed;
use patchbay::trace::{AppEvent, EventKind, Trace};

use crate::util::scenario;

fn replica(plan: &ScenarioPlan, group: &str, index: u32) -> Replica {
    Replica { group: plan.topology.group_by_name(group).expect("the group").id, index }
}

/// The queue topology with worker.0 killed at 2 s by `fault_tail` (`for: ...` or
/// `until: ...`); the clients resend every second, so they finish on the other
/// worker whatever happens to worker.0.
fn killed_worker(fault_tail: &str) -> ScenarioPlan {
    scenario(
        "worker-down-late",
        &format!(
            "name: worker-down-late\ntopology: ../topologies/queue.yaml\n\
             overrides:\n  client.req: {{req_resend_ivl: 1s}}\n\
             duration: 5s\nliveness: 20s\n\
             workload:\n  client: {{requests: 150, rate: 10/s}}\n  worker: {{service_time: 1ms}}\n\
             faults:\n  - {{at: 2s, {fault_tail}, kind: kill, node: worker.0}}\n\
             invariants: [no_lost_replies, faults_fired]\nexpect: pass\n"
        ),
    )
}

fn run(plan: &ScenarioPlan) -> (patchbay::run::RunReport, Trace) {
    let mut report = run_seed(plan, &Registry::builtin(), 1, true);
    assert_eq!(report.error, None, "{} did not run", plan.name);
    let trace = report.trace.take().expect("kept");
    (report, trace)
}

/// When worker.0 connected (each incarnation connects once).
fn worker0_connects(plan: &ScenarioPlan, trace: &Trace) -> Vec<Duration> {
    let w = replica(plan, "worker", 0);
    trace
        .events
        .iter()
        .filter(|e| e.node == Some(w) && matches!(e.kind, EventKind::Connect { .. }))
        .map(|e| e.at)
        .collect()
}

fn fault_end(trace: &Trace) -> Option<Duration> {
    trace.events.iter().find(|e| matches!(e.kind, EventKind::FaultEnd { .. })).map(|e| e.at)
}

#[test]
fn a_fault_whose_until_is_past_duration_lasts_into_the_liveness_phase() {
    let plan = killed_worker("until: 9s");
    let (report, trace) = run(&plan);
    assert!(report.as_expected, "{:?}", report.invariants);
    assert_eq!(fault_end(&trace), Some(Duration::from_secs(9)), "cut at the heal (5 s)");
    let connects = worker0_connects(&plan, &trace);
    assert!(
        connects.iter().all(|t| *t < Duration::from_secs(2) || *t >= Duration::from_secs(9)),
        "worker.0 was back before its fault ended: {connects:?}"
    );
}

#[test]
fn a_fault_for_longer_than_the_run_lasts_to_its_end() {
    for tail in ["for: 1h", "until: end"] {
        let plan = killed_worker(tail);
        let (report, trace) = run(&plan);
        assert!(report.as_expected, "{tail}: {:?}", report.invariants);
        assert_eq!(fault_end(&trace), None, "{tail}: the fault ended");
        let connects = worker0_connects(&plan, &trace);
        assert!(
            connects.iter().all(|t| *t < Duration::from_secs(2)),
            "{tail}: worker.0 came back: {connects:?}"
        );
        // The liveness phase checked the system with the worker still dead: the
        // clients finished on worker.1 and the run ended once they had.
        assert!(trace.quiesced, "{tail}: the clients did not finish");
    }
}

#[test]
fn until_end_is_said_in_the_plan_and_by_explain() {
    let plan = killed_worker("until: end");
    assert_eq!(plan.faults[0].until, Some(Duration::MAX));
    let explained = patchbay::explain::explain_scenario(&plan);
    assert!(explained.contains("kill worker.0, from 2s to the end of the run"), "{explained}");
}

/// Regression (issue 11): `client.0` finishes, is killed at 7 s and restarts at the
/// heal (10 s); its new incarnation runs its 100 requests again, at 20/s, for about
/// five seconds. The run used to end a second after the heal, its in-flight
/// request reported lost on a sound queue device.
#[test]
fn a_client_restarted_at_the_heal_runs_its_workload_to_the_end() {
    let plan = scenario(
        "client-restarted-at-heal",
        "name: client-restarted-at-heal\ntopology: ../topologies/queue.yaml\n\
         overrides:\n  client.req: {req_resend_ivl: 23d}\n\
         duration: 10s\nliveness: 10s\n\
         workload:\n  client: {requests: 100, rate: 20/s}\n\
         \x20 worker: {service_time: {uniform: [10ms, 50ms]}}\n\
         faults:\n  - {at: 7s, kind: kill, node: client.0}\n\
         invariants: [no_lost_replies, faults_fired]\nexpect: pass\n",
    );
    let (report, trace) = run(&plan);
    let lost = report.invariants.iter().find(|o| o.name == "no_lost_replies").expect("checked");
    assert_eq!(lost.verdict, Verdict::Pass, "{lost:?}");
    let client0 = replica(&plan, "client", 0);
    let heal = trace.healed_at.expect("healed");
    let answered_after_heal = trace
        .app_events()
        .filter(|(e, a)| {
            e.node == Some(client0) && e.at >= heal && matches!(a, AppEvent::ReplyAccepted { .. })
        })
        .count();
    assert_eq!(answered_after_heal, 100, "the restarted client.0 ran its workload again");
    assert!(
        trace.quiesced && trace.ended_at > heal + Duration::from_secs(4),
        "{:?}",
        trace.ended_at
    );
}
