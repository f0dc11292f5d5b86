//! libzmq's ZMTP heartbeats in the simulator: the shipped pair
//! `pipeline-worker-crash-heartbeat.yaml` and its twin `pipeline-worker-crash.yaml`.
//!
//! A worker's machine crashes silently at 1 s. With `heartbeat_ivl: 100ms` and
//! `heartbeat_timeout: 300ms` on the ventilator's PUSH, its connection to the dead
//! worker is closed for the unanswered PING, naming the reason, within the interval
//! plus the timeout; without heartbeats nothing closes it before the run ends (TCP
//! alone would hold it for `tcp_timeout`, 15 minutes).

use std::time::Duration;

use patchbay::plan::{GroupId, Replica};
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario;
use patchbay::run::run_seed;
use patchbay::trace::{EventKind, Trace, TraceEvent};

use crate::util::root;

const CRASH_AT: Duration = Duration::from_secs(1);

fn trace_of(scenario: &str) -> Trace {
    let path = root().join("scenarios").join(scenario);
    let loaded = load_scenario(&path, &Registry::builtin());
    let plan = loaded.plan.unwrap_or_else(|| panic!("{scenario}: {:?}", loaded.diagnostics));
    let report = run_seed(&plan, &Registry::builtin(), 1, true);
    assert_eq!(report.error, None, "{scenario} did not run");
    report.trace.expect("kept")
}

/// The crashed worker: `worker.1` (the ventilator is group 0, the workers group 1).
const CRASHED: Replica = Replica { group: GroupId(1), index: 1 };

/// When and why the ventilator's connection from the crashed worker closed, if it did.
fn dead_connection_closes(trace: &Trace) -> Vec<(Duration, String)> {
    let at_ventilator = |e: &&TraceEvent| e.node.is_some_and(|n| n.group == GroupId(0));
    let dead = trace
        .events
        .iter()
        .filter(at_ventilator)
        .find_map(|e| match e.kind {
            EventKind::Connect { pipe, peer: Some(peer) } if peer == CRASHED => {
                Some((e.socket, pipe))
            }
            _ => None,
        })
        .expect("the worker connected before it crashed");
    trace
        .events
        .iter()
        .filter(at_ventilator)
        .filter_map(|e| match &e.kind {
            EventKind::Disconnect { pipe, reason } if (e.socket, *pipe) == dead => {
                Some((e.at, reason.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_heartbeat_closes_the_connection_to_a_silently_crashed_worker() {
    let closes = dead_connection_closes(&trace_of("pipeline-worker-crash-heartbeat.yaml"));
    let [(at, reason)] = &closes[..] else { panic!("closed once, got {closes:?}") };
    assert!(reason.contains("heartbeat timed out"), "closed for {reason:?}");
    assert!(reason.contains("heartbeat_timeout"), "the reason names the option: {reason:?}");
    // The first PING after the crash goes out within one interval; 300 ms later it
    // has gone unanswered.
    let latest = CRASH_AT + Duration::from_millis(100 + 300);
    assert!(*at > CRASH_AT && *at <= latest, "closed at {at:?}, expected by {latest:?}");
}

#[test]
fn without_heartbeats_the_connection_to_a_silently_crashed_worker_stays_open() {
    let trace = trace_of("pipeline-worker-crash.yaml");
    let early: Vec<_> = dead_connection_closes(&trace)
        .into_iter()
        .filter(|(at, _)| *at < trace.healed_at.expect("the run heals"))
        .collect();
    assert_eq!(early, vec![], "nothing closes the dead connection during the safety phase");
}
