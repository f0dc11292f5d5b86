//! The real backend: scenarios over real TCP on 127.0.0.1 through the fault proxies.
//!
//! Real runs are not deterministic and their timing is the machine's, so these tests
//! assert on what the trace says happened and in which order (faults, connects,
//! deliveries), never on durations.

use patchbay::invariant::Verdict;
use patchbay::plan::{Replica, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::run::real::RealOptions;
use patchbay::run::{Backend, RunReport, run_real_seed};
use patchbay::trace::{EventKind, Trace};

use crate::util::{root, scenario};

fn run_real(plan: &ScenarioPlan) -> (RunReport, Trace) {
    let mut report = run_real_seed(plan, &Registry::builtin(), 1, RealOptions::default(), true);
    assert_eq!(report.error, None, "{} did not run", plan.name);
    assert_eq!(report.backend, Backend::Real);
    let trace = report.trace.take().expect("kept");
    (report, trace)
}

fn assert_all_pass(report: &RunReport) {
    for o in &report.invariants {
        assert_eq!(o.verdict, Verdict::Pass, "{}: {:?}", o.name, o.violations.first());
    }
}

/// Positions in the trace of the first fault's begin and end.
fn fault_window(trace: &Trace) -> (usize, usize) {
    let pos = |begin: bool| {
        trace
            .events
            .iter()
            .position(|e| match e.kind {
                EventKind::FaultBegin { .. } => begin,
                EventKind::FaultEnd { .. } => !begin,
                _ => false,
            })
            .expect("the fault is in the trace")
    };
    (pos(true), pos(false))
}

fn client0(plan: &ScenarioPlan) -> Replica {
    Replica { group: plan.topology.group_by_name("client").expect("a client group").id, index: 0 }
}

#[test]
fn a_real_run_of_a_small_scenario_passes_its_invariants() {
    let plan = scenario(
        "real-small",
        "name: real-small\ntopology: ../topologies/queue.yaml\nduration: 1s\nliveness: 5s\n\
         workload:\n  client: {requests: 10}\n  worker: {service_time: 1ms}\n\
         invariants: [no_lost_replies, no_duplicate_delivery]\nexpect: pass\n",
    );
    let (report, trace) = run_real(&plan);
    assert_all_pass(&report);
    assert!(report.as_expected);
    let replies = trace
        .events
        .iter()
        .filter(|e| {
            matches!(e.kind, EventKind::App(patchbay::trace::AppEvent::ReplyAccepted { .. }))
        })
        .count();
    assert_eq!(replies, 30, "three clients, ten requests each");
}

#[test]
fn the_proxy_holds_traffic_during_a_partition_and_releases_it_after() {
    let plan = scenario(
        "real-partition",
        "name: real-partition\ntopology: ../topologies/queue.yaml\nduration: 1500ms\nliveness: 5s\n\
         workload:\n  client: {requests: 25, rate: 20/s}\n\
         faults:\n  - {at: 300ms, for: 500ms, kind: partition, between: [client.0, device]}\n\
         invariants: [no_lost_replies, faults_fired]\nexpect: pass\n",
    );
    let (report, trace) = run_real(&plan);
    assert_all_pass(&report);
    let (begin, end) = fault_window(&trace);
    let me = client0(&plan);
    let delivered_to_client0 = |range: std::ops::Range<usize>| {
        trace.events[range]
            .iter()
            .filter(|e| e.node == Some(me) && matches!(e.kind, EventKind::Deliver { .. }))
            .count()
    };
    // A REQ has one request out at a time, so at most one reply was already past the
    // proxy when the partition began; nothing else reaches client.0 until it heals.
    assert!(delivered_to_client0(begin..end) <= 1, "traffic crossed the partition");
    assert!(delivered_to_client0(end..trace.events.len()) > 0, "traffic never resumed");
}

#[test]
fn a_killed_broker_resets_its_connections_and_the_clients_reconnect() {
    let plan = scenario(
        "real-kill",
        "name: real-kill\ntopology: ../topologies/queue.yaml\nduration: 1500ms\nliveness: 5s\n\
         workload:\n  client: {requests: 25, rate: 20/s}\n\
         faults:\n  - {at: 300ms, for: 300ms, kind: kill, node: device}\n\
         invariants: [faults_fired]\nexpect: pass\n",
    );
    let (report, trace) = run_real(&plan);
    assert_all_pass(&report);
    let (begin, end) = fault_window(&trace);
    let me = client0(&plan);
    let first = |from: usize, want: fn(&EventKind) -> bool| {
        trace.events[from..]
            .iter()
            .position(|e| e.node == Some(me) && want(&e.kind))
            .map(|i| i + from)
    };
    let dropped = first(begin, |k| matches!(k, EventKind::Disconnect { .. }))
        .expect("client.0 saw its connection to the killed broker go");
    let back = first(end, |k| matches!(k, EventKind::Connect { .. }))
        .expect("client.0 connected again after the restart");
    assert!(dropped < end && end < back);
}

/// The chapter-2 devices beyond QUEUE (FORWARDER: XSUB/XPUB; STREAMER: PULL/PUSH),
/// as shipped, in the simulator and over real TCP: every invariant passes on both
/// backends, and the two agree on how much work went through the device.
#[test]
fn forwarder_and_streamer_devices_pass_alike_in_simulation_and_over_real_tcp() {
    let registry = Registry::builtin();
    for (file, work) in [("streamer", "tasks pulled"), ("forwarder", "publications")] {
        let path = root().join(format!("scenarios/{file}.yaml"));
        let loaded = patchbay::resolve::load_scenario(&path, &registry);
        let plan = loaded.plan.unwrap_or_else(|| panic!("{file}: {:?}", loaded.diagnostics));
        let simulated = patchbay::run::run_seed(&plan, &registry, 1, true);
        let opts = RealOptions { time_scale: 0.2, ..RealOptions::default() };
        let mut real = run_real_seed(&plan, &registry, 1, opts, true);
        assert_eq!(real.error, None, "{file} did not run over real TCP");
        for report in [&simulated, &real] {
            assert_all_pass(report);
        }
        let count = |trace: &Trace| {
            trace
                .app_events()
                .filter(|(_, a)| {
                    matches!(
                        a,
                        patchbay::trace::AppEvent::WorkDone { .. }
                            | patchbay::trace::AppEvent::Published { .. }
                    )
                })
                .count()
        };
        let sim_count = count(simulated.trace.as_ref().expect("kept"));
        let real_count = count(&real.trace.take().expect("kept"));
        assert!(sim_count > 0, "{file}: no {work} in simulation");
        assert_eq!(sim_count, real_count, "{file}: {work} differ between backends");
    }
}

/// A real run too long for the machine is refused with its length scaled once: the
/// runner once asked the already-scaled plan again, and refused a 10 s scenario at
/// `--time-scale 70` as 49,000 s of real time (and `compare --real --time-scale 10`
/// a 50 s one that would have taken 500 s).
#[test]
fn a_real_run_too_long_is_refused_with_its_length_scaled_once() {
    let plan = scenario(
        "too-long",
        "name: too-long\ntopology: ../topologies/pair-relay.yaml\nduration: 5s\nliveness: 5s\n\
         workload:\n  step1: {start_at: 100ms}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n",
    );
    let opts = RealOptions { time_scale: 70.0, ..RealOptions::default() };
    let report = run_real_seed(&plan, &Registry::builtin(), 1, opts, false);
    let error = report.error.expect("700 s of real time is refused").to_string();
    assert!(error.contains("700s"), "{error}");
    assert!(!error.contains("49000s"), "{error}");
}
