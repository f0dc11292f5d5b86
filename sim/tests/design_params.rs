//! Paranoid Pirate parameters at their extremes (the hostile-YAML probe): a run with
//! any value `check` accepts ends, with a verdict, and does what the file says. The
//! values `check` refuses are the rules' (`design/catalog.rs`, its unit tests).

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use patchbay::registry::Registry;
use patchbay::run::{RunReport, run_seed};
use patchbay::trace::{AppEvent, EventKind};

use crate::util::scenario;

/// Runs seed 1 of `text` on its own thread and waits for it at most a minute, so a run
/// that never ends fails the test instead of hanging it.
fn run_bounded(name: &'static str, text: String) -> RunReport {
    let (done, report) = mpsc::channel();
    thread::spawn(move || {
        let plan = scenario(name, &text);
        let _ = done.send(run_seed(&plan, &Registry::builtin(), 1, true));
    });
    let report = match report.recv_timeout(Duration::from_secs(60)) {
        Ok(report) => report,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name} did not end within a minute of wall time")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{name} panicked: see above"),
    };
    assert_eq!(report.error, None, "{name} did not run: {}", report.repro());
    report
}

/// ppp-steady, shortened, with the pair's parameters set to `params`.
fn ppp(params: &str) -> String {
    format!(
        "name: ppp-extreme\ntopology: ../topologies/ppp-broker.yaml\nparams: {params}\n\
         duration: 2s\nliveness: 5s\nseeds: 1\n\
         workload:\n  client: {{requests: 5}}\n  worker: {{service_time: 1ms}}\n\
         invariants: [no_lost_replies]\nexpect: pass\n"
    )
}

#[test]
fn a_ppp_liveness_past_a_u32_expires_no_worker_and_every_job_is_answered() {
    // `liveness as u32` made 4294967296 a liveness of 0, so every beat expired every
    // worker; `liveness` intervals of the longest interval a file may give, and a
    // liveness past a `u32`, are a silence no run reaches.
    for params in [
        "{heartbeat_ivl: 1s, liveness: 4294967296}",
        "{heartbeat_ivl: 2147483647ms, liveness: 18446744073709551615}",
    ] {
        let report = run_bounded("ppp-long-liveness", ppp(params));
        assert!(report.as_expected, "{params}: {:?}", report.invariants);
        let trace = report.trace.as_ref().expect("kept");
        let expired = trace.app_events().filter(
            |(_, a)| matches!(a, AppEvent::Note { text } if text.contains("expired the worker")),
        );
        assert_eq!(expired.count(), 0, "{params}");
    }
}

#[test]
fn a_ppp_beat_interval_under_the_tick_beats_once_a_tick_and_the_run_ends() {
    // `next_beat += 1ns` never caught up with the clock: the broker beat without end
    // at one instant.
    let report = run_bounded("ppp-fast-beats", ppp("{heartbeat_ivl: 1ns, liveness: 3}"));
    let trace = report.trace.as_ref().expect("kept");
    // The broker (node 1) queues its beats and the five jobs on its backend.
    let broker_sends = trace
        .iter()
        .filter(|e| e.node.is_some_and(|n| n.group.0 == 1))
        .filter(|e| matches!(e.kind, EventKind::Enqueue { .. }))
        .count();
    // At most a beat a tick (1 ms) to each of the three workers over the 7 s run, and
    // the jobs and their replies; a burst of beats at one instant would be millions.
    assert!(broker_sends <= 3 * 7_000 + 10, "{broker_sends} messages queued by the broker");
}
