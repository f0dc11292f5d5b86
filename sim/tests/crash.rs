//! A crash is silent (issue 11): after a machine crashes nothing it would have sent
//! reaches its peers, not even a close, so a peer that routes by pipe keeps queueing
//! on the dead connection until `tcp_timeout` resets it (or the machine restarts),
//! and what it queued there is lost. Shown for each pattern that routes by pipe
//! (round-robin PUSH, fan-out PUB, request-reply through a DEALER), in the simulator
//! and over real TCP alike.
//!
//! Before the fix, the crashed node's dropped sockets closed their connections
//! through the shim and peers saw "peer closed the connection" about a millisecond
//! after the crash: nothing was queued on the dead pipe, and traffic moved on at once.

use std::collections::BTreeSet;
use std::time::Duration;

use patchbay::plan::{GroupId, Replica, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario_source;
use patchbay::run::real::RealOptions;
use patchbay::run::{run_real_seed, run_seed};
use patchbay::spec::source::SourceFile;
use patchbay::trace::{EventKind, MsgId, SocketIndex, Trace};

use crate::util::root;

/// A pattern that routes by pipe: its topology, the crashed replica's group, the
/// workload that keeps the peer sending, and the time its own run needs.
struct Pattern {
    name: &'static str,
    topology: &'static str,
    params: &'static str,
    /// Socket option overrides, as scenario lines.
    overrides: &'static str,
    workload: &'static str,
    crashed: &'static str,
    /// The group whose socket routes to the crashed replica by pipe.
    peer: &'static str,
}

const ROUND_ROBIN: Pattern = Pattern {
    name: "round-robin",
    topology: "pipeline.yaml",
    params: "{workers: 2}",
    overrides: "",
    workload: "  ventilator: {requests: 400, rate: 50/s}\n  worker: {service_time: 1ms}\n",
    crashed: "worker",
    peer: "ventilator",
};

const FAN_OUT: Pattern = Pattern {
    name: "fan-out",
    topology: "naive-pubsub.yaml",
    params: "{subscribers: 2}",
    overrides: "",
    workload: "  publisher: {publishes: 400, publish_rate: 50/s}\n",
    crashed: "subscriber",
    peer: "publisher",
};

const REQUEST_REPLY: Pattern = Pattern {
    name: "request-reply",
    topology: "queue.yaml",
    params: "{clients: 3, workers: 2}",
    // A request lost on the dead pipe is resent, so the clients keep sending.
    overrides: "overrides:\n  client.req: {req_resend_ivl: 500ms}\n",
    workload: "  client: {requests: 100, rate: 20/s}\n  worker: {service_time: 1ms}\n",
    crashed: "worker",
    peer: "device",
};

/// The pattern's scenario: replica 0 of the crashed group crashes at 2 s and
/// restarts at 6 s; `tcp_timeout` is the peers' patience.
fn scenario(p: &Pattern, tcp_timeout: &str) -> ScenarioPlan {
    let text = format!(
        "name: crash-{name}\ntopology: ../topologies/{topology}\nparams: {params}\n{overrides}\
         duration: 8s\nliveness: 10s\ntcp_timeout: {tcp_timeout}\nworkload:\n{workload}\
         faults:\n  - {{at: 2s, until: 6s, kind: crash, node: {crashed}.0}}\n\
         invariants: [faults_fired]\nexpect: pass\n",
        name = p.name,
        topology = p.topology,
        params = p.params,
        overrides = p.overrides,
        workload = p.workload,
        crashed = p.crashed,
    );
    let path = root().join(format!("scenarios/crash-{}.yaml", p.name));
    let loaded = load_scenario_source(&SourceFile::new(path, text), &Registry::builtin());
    loaded.plan.unwrap_or_else(|| panic!("{} does not resolve: {:?}", p.name, loaded.diagnostics))
}

fn simulated(plan: &ScenarioPlan) -> Trace {
    let report = run_seed(plan, &Registry::builtin(), 1, true);
    assert_eq!(report.error, None, "{} did not run", plan.name);
    report.trace.expect("kept")
}

fn real(plan: &ScenarioPlan) -> Trace {
    let report = run_real_seed(plan, &Registry::builtin(), 1, RealOptions::default(), true);
    assert_eq!(report.error, None, "{} did not run", plan.name);
    report.trace.expect("kept")
}

/// One peer's pipe to the crashed replica.
type PipeKey = (Replica, SocketIndex, u32);

/// What a peer's dead pipe saw after the crash.
#[derive(Debug)]
struct DeadPipe {
    key: PipeKey,
    /// When the peer's connection to the crashed replica went, and why.
    gone_at: Duration,
    reason: String,
    /// Messages the peer queued on it after the crash.
    queued: Vec<MsgId>,
}

/// The crash's begin time, the crashed replica and the peer group.
fn crash(trace: &Trace, plan: &ScenarioPlan, p: &Pattern) -> (Duration, Replica, GroupId) {
    let at = trace
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::FaultBegin { .. }))
        .expect("the crash is in the trace")
        .at;
    let group = |name: &str| plan.topology.group_by_name(name).expect("the group").id;
    (at, Replica { group: group(p.crashed), index: 0 }, group(p.peer))
}

/// Every peer pipe that carried messages to `crashed` before the crash and went
/// after it, with when it went and what was queued on it meanwhile. (A publisher
/// sends one id down every pipe, so the pipe to a live subscriber carried the dead
/// one's ids too; it is told apart by staying up.)
fn dead_pipes(trace: &Trace, crashed: Replica, peer: GroupId, crash_at: Duration) -> Vec<DeadPipe> {
    let delivered_at_crashed: BTreeSet<MsgId> = trace
        .events
        .iter()
        .filter(|e| e.node == Some(crashed) && e.at < crash_at)
        .filter_map(|e| match e.kind {
            EventKind::Deliver { msg, .. } => msg.id,
            _ => None,
        })
        .collect();
    let mut keys = BTreeSet::new();
    let at_peer = |e: &&patchbay::trace::TraceEvent| e.node.is_some_and(|n| n.group == peer);
    for e in trace.events.iter().filter(|e| e.at < crash_at).filter(at_peer) {
        if let (EventKind::Enqueue { pipe, msg, .. }, Some(node), Some(socket)) =
            (&e.kind, e.node, e.socket)
            && msg.id.is_some_and(|id| delivered_at_crashed.contains(&id))
        {
            keys.insert((node, socket, *pipe));
        }
    }
    keys.into_iter()
        .filter_map(|key| {
            let on_pipe = |e: &&patchbay::trace::TraceEvent| {
                e.at > crash_at && e.node == Some(key.0) && e.socket == Some(key.1)
            };
            let (gone_at, reason) =
                trace.events.iter().filter(on_pipe).find_map(|e| match &e.kind {
                    EventKind::Disconnect { pipe, reason } if *pipe == key.2 => {
                        Some((e.at, reason.clone()))
                    }
                    _ => None,
                })?;
            let queued = trace
                .events
                .iter()
                .filter(on_pipe)
                .filter(|e| e.at <= gone_at)
                .filter_map(|e| match e.kind {
                    EventKind::Enqueue { pipe, msg, .. } if pipe == key.2 => msg.id,
                    _ => None,
                })
                .collect();
            Some(DeadPipe { key, gone_at, reason, queued })
        })
        .collect()
}

/// When the crashed replica restarts.
const RESTART: Duration = Duration::from_secs(6);

/// Every message id delivered in the run: at `crashed` while its machine was down,
/// or (`None`) anywhere at any time.
fn delivered(trace: &Trace, crashed: Option<Replica>) -> BTreeSet<MsgId> {
    let crash_at = Duration::from_secs(2);
    trace
        .events
        .iter()
        .filter(|e| crashed.is_none_or(|r| e.node == Some(r) && e.at > crash_at && e.at < RESTART))
        .filter_map(|e| match e.kind {
            EventKind::Deliver { msg, .. } => msg.id,
            _ => None,
        })
        .collect()
}

/// With Linux's 15-minute `tcp_timeout`, the peers' connections to a crashed
/// machine stay open and silent until it restarts (and resets them); everything
/// queued on them meanwhile is lost.
fn queued_on_a_dead_connection_is_lost_until_the_restart(
    p: &Pattern,
    run: fn(&ScenarioPlan) -> Trace,
) {
    let plan = scenario(p, "15m");
    let trace = run(&plan);
    let (crash_at, crashed, peer) = crash(&trace, &plan, p);
    let pipes = dead_pipes(&trace, crashed, peer, crash_at);
    // Each pattern has one peer socket sending to the crashed replica.
    assert_eq!(pipes.len(), 1, "{}: {pipes:?}", p.name);
    let reached_crashed = delivered(&trace, Some(crashed));
    for pipe in &pipes {
        assert!(
            pipe.reason.contains("reset"),
            "{}: {:?} went at {:?} ({}), not at the restart",
            p.name,
            pipe.key,
            pipe.gone_at,
            pipe.reason
        );
        assert!(pipe.gone_at >= Duration::from_secs(6), "{}: {pipe:?}", p.name);
        assert!(!pipe.queued.is_empty(), "{}: nothing queued on {:?}", p.name, pipe.key);
        let reached: Vec<_> =
            pipe.queued.iter().filter(|id| reached_crashed.contains(id)).collect();
        assert!(
            reached.is_empty(),
            "{}: {reached:?} crossed a crashed machine's connection",
            p.name
        );
    }
}

/// With a short `tcp_timeout`, the peer's connection is reset once its data has gone
/// unacknowledged that long: only what it queued before the reset is lost, and what
/// it sends afterwards reaches the live replicas.
fn only_what_was_queued_before_the_reset_is_lost(p: &Pattern, run: fn(&ScenarioPlan) -> Trace) {
    let plan = scenario(p, "1s");
    let trace = run(&plan);
    let (crash_at, crashed, peer) = crash(&trace, &plan, p);
    let pipes = dead_pipes(&trace, crashed, peer, crash_at);
    // Each pattern has one peer socket sending to the crashed replica.
    assert_eq!(pipes.len(), 1, "{}: {pipes:?}", p.name);
    let reached_crashed = delivered(&trace, Some(crashed));
    for pipe in &pipes {
        assert!(pipe.reason.contains("reset"), "{}: {pipe:?}", p.name);
        assert!(pipe.gone_at >= crash_at + Duration::from_secs(1), "{}: {pipe:?}", p.name);
        assert!(pipe.gone_at < Duration::from_secs(6), "{}: {pipe:?}", p.name);
        assert!(!pipe.queued.is_empty(), "{}: nothing queued on {:?}", p.name, pipe.key);
        assert!(pipe.queued.iter().all(|id| !reached_crashed.contains(id)), "{}: {pipe:?}", p.name);
        // After the reset and before the restart, the peer's socket sends only to
        // the live replicas, and every message gets there.
        let (node, socket, _) = pipe.key;
        let after: Vec<MsgId> = trace
            .events
            .iter()
            .filter(|e| e.at > pipe.gone_at && e.at < Duration::from_secs(6))
            .filter(|e| e.node == Some(node) && e.socket == Some(socket))
            .filter_map(|e| match e.kind {
                EventKind::Enqueue { msg, .. } => msg.id,
                _ => None,
            })
            .collect();
        assert!(!after.is_empty(), "{}: nothing sent after the reset", p.name);
        let delivered = delivered(&trace, None);
        let lost: Vec<_> = after.iter().filter(|id| !delivered.contains(id)).collect();
        assert!(lost.is_empty(), "{}: {lost:?} sent after the reset were lost", p.name);
    }
}

#[test]
fn round_robin_to_a_crashed_worker_loses_what_it_queued_until_the_restart() {
    queued_on_a_dead_connection_is_lost_until_the_restart(&ROUND_ROBIN, simulated);
}

#[test]
fn fan_out_to_a_crashed_subscriber_loses_what_it_queued_until_the_restart() {
    queued_on_a_dead_connection_is_lost_until_the_restart(&FAN_OUT, simulated);
}

#[test]
fn request_reply_to_a_crashed_worker_loses_what_it_queued_until_the_restart() {
    queued_on_a_dead_connection_is_lost_until_the_restart(&REQUEST_REPLY, simulated);
}

#[test]
fn round_robin_with_a_short_tcp_timeout_loses_only_what_it_queued_before_the_reset() {
    only_what_was_queued_before_the_reset_is_lost(&ROUND_ROBIN, simulated);
}

#[test]
fn fan_out_with_a_short_tcp_timeout_loses_only_what_it_queued_before_the_reset() {
    only_what_was_queued_before_the_reset_is_lost(&FAN_OUT, simulated);
}

#[test]
fn request_reply_with_a_short_tcp_timeout_loses_only_what_it_queued_before_the_reset() {
    only_what_was_queued_before_the_reset_is_lost(&REQUEST_REPLY, simulated);
}

#[test]
fn over_real_tcp_a_crash_is_silent_for_every_pattern_that_routes_by_pipe() {
    for p in [&ROUND_ROBIN, &FAN_OUT, &REQUEST_REPLY] {
        queued_on_a_dead_connection_is_lost_until_the_restart(p, real);
    }
}

#[test]
fn over_real_tcp_a_short_tcp_timeout_loses_only_what_was_queued_before_the_reset() {
    for p in [&ROUND_ROBIN, &FAN_OUT, &REQUEST_REPLY] {
        only_what_was_queued_before_the_reset_is_lost(p, real);
    }
}

/// A connect to a crashed machine is never answered (its SYN goes unanswered) until
/// the machine is back: a client restarted while the worker's machine is down does
/// not connect until the worker restarts.
#[test]
fn a_connect_to_a_crashed_machine_hangs_while_it_is_down() {
    let text = "name: crash-connect\ntopology: ../topologies/req-rep.yaml\nduration: 6s\n\
                liveness: 5s\nworkload:\n  client: {requests: 5}\n\
                faults:\n  - {at: 1s, until: 5s, kind: crash, node: worker}\n\
                \x20 - {at: 500ms, until: 2s, kind: kill, node: client}\n\
                invariants: [faults_fired]\nexpect: pass\n";
    let path = root().join("scenarios/crash-connect.yaml");
    let loaded =
        load_scenario_source(&SourceFile::new(path, text.to_owned()), &Registry::builtin());
    let plan = loaded.plan.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let trace = simulated(&plan);
    let client =
        Replica { group: plan.topology.group_by_name("client").expect("client").id, index: 0 };
    let connects: Vec<Duration> = trace
        .events
        .iter()
        .filter(|e| e.node == Some(client) && matches!(e.kind, EventKind::Connect { .. }))
        .map(|e| e.at)
        .collect();
    let (down, back) = (Duration::from_secs(1), Duration::from_secs(5));
    assert!(
        connects.iter().all(|t| *t < down || *t >= back),
        "connected to a crashed machine: {connects:?}"
    );
    assert!(connects.iter().any(|t| *t >= back), "never connected after the restart");
}

/// Regression (found by the sound-design sweep of `pubsub-envelopes`): a subscriber
/// that only reads from a publisher whose machine crashed waits on turmoil, which
/// says nothing more; the publisher's restart must still reset it, so it reconnects
/// and gets what the new incarnation publishes.
#[test]
fn a_reader_of_a_crashed_machine_hears_of_its_restart_and_reconnects() {
    let text = "name: crash-reader\ntopology: ../topologies/naive-pubsub.yaml\n\
                params: {subscribers: 1}\nduration: 4s\nliveness: 5s\n\
                workload:\n  publisher: {publishes: 100, publish_rate: 50/s, start_at: 1s}\n\
                faults:\n  - {at: 1500ms, for: 5ms, kind: crash, node: publisher}\n\
                invariants: [subscription_delivery, faults_fired]\nexpect: pass\n";
    let path = root().join("scenarios/crash-reader.yaml");
    let loaded =
        load_scenario_source(&SourceFile::new(path, text.to_owned()), &Registry::builtin());
    let plan = loaded.plan.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let report = run_seed(&plan, &Registry::builtin(), 1, true);
    assert!(report.as_expected, "{:?}", report.invariants);
    let trace = report.trace.expect("kept");
    let sub =
        Replica { group: plan.topology.group_by_name("subscriber").expect("group").id, index: 0 };
    let at_sub = |want: fn(&EventKind) -> bool| -> Vec<Duration> {
        trace.events.iter().filter(|e| e.node == Some(sub) && want(&e.kind)).map(|e| e.at).collect()
    };
    let gone = at_sub(
        |k| matches!(k, EventKind::Disconnect { reason, .. } if reason.contains("rebooted")),
    );
    assert_eq!(gone, [Duration::from_millis(1505)], "the restart's reset");
    let connects = at_sub(|k| matches!(k, EventKind::Connect { .. }));
    assert!(connects.iter().any(|t| *t > gone[0]), "never reconnected: {connects:?}");
}
