//! Bandwidth limits (issue 6): a limited link carries bytes no faster than its limit,
//! in the simulator (simulated time, so the bound is asserted exactly) and through
//! the real network's fault proxy (real time, so only the lower bound pacing
//! guarantees is asserted: slowness elsewhere can only add to it).
//!
//! The workload is the smallest pipeline: a ventilator pushes `TASKS` tasks that
//! each stand for `TASK_BYTES` to a sink, on one connection. Payload sizes are
//! modelled (a task is a 20-byte header declaring its size), and a limit counts what
//! the bytes stand for, so the transfer needs `TASKS × TASK_BYTES / LIMIT` seconds.

use std::time::Duration;

use patchbay::invariant::Verdict;
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario_source;
use patchbay::run::real::RealOptions;
use patchbay::run::{RunReport, run_real_seed, run_seed};
use patchbay::spec::source::SourceFile;
use patchbay::trace::{EventKind, Trace};

use crate::util::root;

const TASKS: u64 = 16;
const TASK_BYTES: u64 = 64 * 1024;
/// 1 MiB/s, as written in the scenarios below.
const LIMIT_BYTES_PER_SEC: u64 = 1 << 20;

/// The pipeline scenario with `extra` (a `network:` or `faults:` block) added, over
/// a topology that speaks SP.
fn scenario(name: &str, extra: &str, invariants: &str) -> ScenarioPlan {
    scenario_over("../sim/tests/data/good/push-pull-sp.yaml", name, extra, invariants)
}

/// [`scenario`] over `topology`.
fn scenario_over(topology: &str, name: &str, extra: &str, invariants: &str) -> ScenarioPlan {
    let text = format!(
        "name: {name}\ntopology: {topology}\nduration: 3s\nliveness: 5s\n\
         workload:\n  ventilator: {{requests: {TASKS}, size: 64KiB}}\n{extra}\
         invariants: [{invariants}]\nexpect: pass\n"
    );
    let path = root().join(format!("scenarios/{name}.yaml"));
    let loaded = load_scenario_source(&SourceFile::new(path, &text), &Registry::builtin());
    loaded.plan.unwrap_or_else(|| panic!("{name} does not resolve: {:?}", loaded.diagnostics))
}

/// A 1 MiB/s limit written on the link, and the same as a fault over the whole run.
fn limited_plans() -> [ScenarioPlan; 2] {
    [
        scenario(
            "bandwidth-link",
            "network:\n  links:\n    - {between: [ventilator, sink], bandwidth: 1MiB/s}\n",
            "no_duplicate_delivery",
        ),
        scenario(
            "bandwidth-fault",
            "faults:\n  - {at: 0s, for: 3s, kind: bandwidth, between: [ventilator, sink], \
             bandwidth: 1MiB/s}\n",
            "faults_fired",
        ),
    ]
}

fn simulate(plan: &ScenarioPlan, seed: u64) -> (RunReport, Trace) {
    let mut report = run_seed(plan, &Registry::builtin(), seed, true);
    assert_eq!(report.error, None, "{} did not run", plan.name);
    for o in &report.invariants {
        assert_eq!(o.verdict, Verdict::Pass, "{}: {}: {:?}", plan.name, o.name, o.violations);
    }
    let trace = report.trace.take().expect("kept");
    (report, trace)
}

/// When the first task was sent, and when each task reached the sink, with the
/// bytes it stands for.
fn first_send_and_deliveries(
    plan: &ScenarioPlan,
    trace: &Trace,
) -> (Duration, Vec<(Duration, u64)>) {
    let group = |name| plan.topology.group_by_name(name).expect("a group").id;
    let (ventilator, sink) = (group("ventilator"), group("sink"));
    let first_send = trace
        .events
        .iter()
        .find(|e| {
            e.node.is_some_and(|n| n.group == ventilator)
                && matches!(e.kind, EventKind::Send { .. })
        })
        .expect("the ventilator sent")
        .at;
    let deliveries = trace
        .events
        .iter()
        .filter(|e| e.node.is_some_and(|n| n.group == sink))
        .filter_map(|e| match &e.kind {
            EventKind::Deliver { msg, .. } => Some((e.at, msg.len)),
            _ => None,
        })
        .collect();
    (first_send, deliveries)
}

/// The least time `bytes` take at the limit.
fn at_limit(bytes: u64) -> Duration {
    Duration::from_nanos(bytes * 1_000_000_000 / LIMIT_BYTES_PER_SEC)
}

#[test]
fn a_bandwidth_limited_link_delivers_no_faster_than_its_limit_in_simulation() {
    for plan in limited_plans() {
        let (_, trace) = simulate(&plan, 1);
        let (first_send, deliveries) = first_send_and_deliveries(&plan, &trace);
        assert_eq!(deliveries.len() as u64, TASKS, "{}: every task arrives", plan.name);
        // Whatever the sink has received by each delivery, the link took at least
        // that many bytes' worth of time since the first one was sent.
        let mut bytes = 0;
        for (at, len) in &deliveries {
            assert_eq!(*len, TASK_BYTES);
            bytes += len;
            let elapsed = at.saturating_sub(first_send);
            assert!(
                elapsed >= at_limit(bytes),
                "{}: {bytes} bytes delivered {elapsed:?} after the first send, faster than 1MiB/s",
                plan.name
            );
        }
        // And no slower than the limit needs (plus latency and a few ticks): the
        // limit paces, it does not stall.
        let last = deliveries.last().expect("delivered").0 - first_send;
        assert!(last < at_limit(TASKS * TASK_BYTES) + Duration::from_millis(50), "{last:?}");
    }
}

/// Regression (issue 12): on ZMTP a modelled task travelled as its real bytes alone,
/// so a `library: zeromq` 64 KiB task crossed a 1 MiB/s link in microseconds. The
/// meter now counts its modelled size on ZMTP too (docs/zmtp.md, "Modelled sizes").
#[test]
fn a_zeromq_link_paces_modelled_sizes_as_an_sp_link_does() {
    let plan = scenario_over(
        "../topologies/push-pull.yaml",
        "bandwidth-zmtp",
        "network:\n  links:\n    - {between: [ventilator, sink], bandwidth: 1MiB/s}\n",
        "no_duplicate_delivery",
    );
    let (_, trace) = simulate(&plan, 1);
    let (first_send, deliveries) = first_send_and_deliveries(&plan, &trace);
    assert_eq!(deliveries.len() as u64, TASKS);
    let last = deliveries.last().expect("delivered").0 - first_send;
    let all = at_limit(TASKS * TASK_BYTES);
    assert!(last >= all && last < all + Duration::from_millis(50), "{last:?}, limit {all:?}");
}

#[test]
fn without_a_limit_the_same_transfer_is_much_faster_in_simulation() {
    let plan = scenario("bandwidth-none", "", "no_duplicate_delivery");
    let (_, trace) = simulate(&plan, 1);
    let (first_send, deliveries) = first_send_and_deliveries(&plan, &trace);
    assert_eq!(deliveries.len() as u64, TASKS);
    let last = deliveries.last().expect("delivered").0 - first_send;
    assert!(last < at_limit(TASKS * TASK_BYTES) / 10, "unlimited took {last:?}");
}

#[test]
fn a_bandwidth_fault_run_twice_on_a_seed_gives_the_same_trace() {
    // A jittered latency on top, so the pacing meets the fault world's random draws.
    let plan = scenario(
        "bandwidth-determinism",
        "network:\n  latency: {uniform: [1ms, 5ms]}\n\
         faults:\n  - {at: 100ms, for: 2s, kind: bandwidth, between: [ventilator, sink], \
         bandwidth: 256KiB/s}\n",
        "faults_fired",
    );
    let (a, _) = simulate(&plan, 7);
    let (b, _) = simulate(&plan, 7);
    assert_eq!((a.trace_hash, a.events, a.sim_ms), (b.trace_hash, b.events, b.sim_ms));
    let (other, _) = simulate(&plan, 8);
    assert_ne!(a.trace_hash, other.trace_hash, "the seed must matter");
}

#[test]
fn the_fault_proxy_paces_a_bandwidth_limited_link_over_real_tcp() {
    let [plan, _] = limited_plans();
    let mut report = run_real_seed(&plan, &Registry::builtin(), 1, RealOptions::default(), true);
    assert_eq!(report.error, None, "{} did not run over real TCP", plan.name);
    let trace = report.trace.take().expect("kept");
    let (first_send, deliveries) = first_send_and_deliveries(&plan, &trace);
    // Every task arrives, once, in the order sent (one PUSH/PULL pipe).
    assert_eq!(deliveries.len() as u64, TASKS, "every task arrives");
    let ids: Vec<_> = trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Deliver { msg, .. } => msg.id,
            _ => None,
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "tasks arrived out of order");
    // The proxy releases the last byte of the k-th task no earlier than k tasks'
    // worth of time after it read the first, which was after the first send: a
    // lower bound a slow machine can only exceed. (Nine tenths of it, for clocks.)
    let last = deliveries.last().expect("delivered").0 - first_send;
    let bound = at_limit(TASKS * TASK_BYTES).mul_f64(0.9);
    assert!(last >= bound, "the proxy delivered 1 MiB in {last:?}, faster than 1MiB/s");
}
