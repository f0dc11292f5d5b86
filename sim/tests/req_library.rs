//! A REQ behaves as its library's does when the server holding its request is killed
//! (docs/library-semantics.md, "REQ"): libzmq's is stuck for ever, the Lazy Pirate
//! client gets out by reopening it, and nanomsg's resends by itself. When a worker
//! stalls instead, nanomsg's REQ has only its timer to resend on. Each test runs one
//! of the shipped `req-rep-server-killed*` or `req-rep-stalled-worker*` scenarios and
//! asserts what its trace shows.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use patchbay::invariant::Verdict;
use patchbay::plan::{GroupId, Replica};
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario;
use patchbay::run::{RunReport, run_seed};
use patchbay::trace::{AppEvent, EventKind, MsgId, Trace, TraceEvent};

fn run(scenario: &str) -> RunReport {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_path_buf();
    let registry = Registry::builtin();
    let loaded = load_scenario(&root.join("scenarios").join(scenario), &registry);
    let plan = loaded.plan.unwrap_or_else(|| panic!("{scenario} resolves"));
    let report = run_seed(&plan, &registry, 1, true);
    assert_eq!(report.error, None, "{scenario}");
    assert!(report.as_expected, "{scenario}: {:?}", report.invariants);
    report
}

fn app(trace: &Trace) -> impl Iterator<Item = (Duration, &AppEvent)> {
    trace.events.iter().filter_map(|e| match &e.kind {
        EventKind::App(a) => Some((e.at, a)),
        _ => None,
    })
}

fn issued(trace: &Trace) -> Vec<MsgId> {
    app(trace)
        .filter_map(|(_, a)| match a {
            AppEvent::RequestIssued { id } => Some(*id),
            _ => None,
        })
        .collect()
}

fn accepted(trace: &Trace) -> BTreeSet<MsgId> {
    app(trace)
        .filter_map(|(_, a)| match a {
            AppEvent::ReplyAccepted { id } => Some(*id),
            _ => None,
        })
        .collect()
}

/// The scenario's 20 requests, in issue order, after asserting that every one of
/// them had its reply accepted.
fn all_answered(trace: &Trace) -> Vec<MsgId> {
    let issued = issued(trace);
    assert_eq!(issued.len(), 20);
    assert_eq!(accepted(trace), issued.iter().copied().collect());
    issued
}

/// When the scenario's one fault (the kill, or the stall) began.
fn fault_at(trace: &Trace) -> Duration {
    let begin = trace.events.iter().find(|e| matches!(e.kind, EventKind::FaultBegin { .. }));
    begin.expect("the fault is in the trace").at
}

/// When message `id` was issued.
fn issued_at(trace: &Trace, id: MsgId) -> Duration {
    let issue = app(trace).find(|(_, a)| **a == AppEvent::RequestIssued { id });
    issue.expect("issued").0
}

/// The workers (group 1) whose sockets took request `id` in (`Receive` events), in
/// order; the client taking the reply, which carries the same id, is left out.
fn workers_reached(trace: &Trace, id: MsgId) -> Vec<Replica> {
    let took =
        |e: &&TraceEvent| matches!(&e.kind, EventKind::Receive { msg } if msg.id == Some(id));
    let nodes = trace.events.iter().filter(took).filter_map(|e| e.node);
    nodes.filter(|r| r.group == GroupId(1)).collect()
}

/// The REQ request ids the requester's socket put on a pipe for message `id`
/// (`Enqueue` events at the node that issued it; the REP's reply carries the id too).
fn enqueued_request_ids(trace: &Trace, id: MsgId) -> Vec<u32> {
    let issuer = trace
        .events
        .iter()
        .find(|e| e.kind == EventKind::App(AppEvent::RequestIssued { id }))
        .and_then(|e| e.node);
    let of = |e: &EventKind| match e {
        EventKind::Enqueue { msg, .. } if msg.id == Some(id) => msg.request_id,
        _ => None,
    };
    trace.events.iter().filter(|e| e.node == issuer).filter_map(|e| of(&e.kind)).collect()
}

/// Every `Resend` as `(at, request id, timer)`.
fn resends(trace: &Trace) -> Vec<(Duration, u32, bool)> {
    let of = |at, e: &EventKind| match e {
        EventKind::Resend { request_id, timer, .. } => Some((at, *request_id, *timer)),
        _ => None,
    };
    trace.events.iter().filter_map(|e| of(e.at, &e.kind)).collect()
}

#[test]
fn libzmq_req_stays_stuck_on_a_request_lost_with_its_killed_server() {
    let report = run("req-rep-server-killed.yaml");
    let trace = report.trace.as_ref().expect("kept");
    let issued = issued(trace);
    let accepted = accepted(trace);
    let stuck: Vec<MsgId> = issued.iter().copied().filter(|id| !accepted.contains(id)).collect();
    // One request is never answered, and it is the last: the client never sends again.
    assert_eq!(stuck.len(), 1, "issued {issued:?}, accepted {accepted:?}");
    assert_eq!(issued.last(), stuck.first());
    assert!(issued.len() < 20, "the client hung, so it never finished its 20 requests");
    // It went out once, before the kill, and nothing sent it again.
    let request_ids = enqueued_request_ids(trace, stuck[0]);
    assert_eq!(request_ids.len(), 1, "{request_ids:?}");
    assert_eq!(resends(trace), []);
    let stuck_at =
        app(trace).find(|(_, a)| **a == AppEvent::RequestIssued { id: stuck[0] }).map(|(at, _)| at);
    assert!(stuck_at.is_some_and(|at| at < fault_at(trace)));
    let lost = report.invariants.iter().find(|o| o.name == "no_lost_replies").expect("checked");
    assert_eq!(lost.verdict, Verdict::Fail);
    assert_eq!(lost.violations.len(), 1);
    assert!(lost.violations[0].text.contains("never got a reply"), "{}", lost.violations[0].text);
}

#[test]
fn the_lazy_pirate_client_reopens_its_req_resends_and_gets_every_reply() {
    let report = run("req-rep-server-killed-lazy-pirate.yaml");
    let trace = report.trace.as_ref().expect("kept");
    let reopened: Vec<Duration> = app(trace)
        .filter(
            |(_, a)| matches!(a, AppEvent::Note { text } if text.contains("reopened socket `req`")),
        )
        .map(|(at, _)| at)
        .collect();
    assert_eq!(reopened.len(), 1, "one timeout, one reopen: {reopened:?}");
    let reopen_at = reopened[0];
    // The guide's 2,500 ms after the request lost with the kill went out.
    assert!(reopen_at > fault_at(trace) + Duration::from_millis(1_500), "{reopen_at:?}");
    all_answered(trace);
    assert!(app(trace).all(|(_, a)| !matches!(a, AppEvent::RequestAbandoned { .. })));
    // The request in hand at the reopen was sent twice, by the design, on two
    // sockets (two request ids), and its reply was accepted after the reopen.
    let retried = *app(trace)
        .filter_map(|(at, a)| match a {
            AppEvent::RequestIssued { id } if at < reopen_at => Some(id),
            _ => None,
        })
        .last()
        .expect("a request before the reopen");
    // The design's note names it as reports do, `client.0#N` (it read 268435456).
    let said = "lazy pirate: no reply to client.0#";
    let notes: Vec<&String> = app(trace)
        .filter_map(|(_, a)| match a {
            AppEvent::Note { text } if text.starts_with("lazy pirate: no reply") => Some(text),
            _ => None,
        })
        .collect();
    assert!(notes.len() == 1 && notes[0].starts_with(said), "{notes:?}");
    let request_ids = enqueued_request_ids(trace, retried);
    assert_eq!(request_ids.len(), 2, "{request_ids:?}");
    assert_ne!(request_ids[0], request_ids[1]);
    let replied_at = app(trace).find(|(_, a)| **a == AppEvent::ReplyAccepted { id: retried });
    assert!(replied_at.is_some_and(|(at, _)| at > reopen_at));
    // The REQ socket itself never resent anything: the cure is the client's.
    assert_eq!(resends(trace), []);
}

#[test]
fn nanomsg_req_resends_at_once_when_its_server_connection_is_reset() {
    let report = run("req-rep-server-killed-nanomsg.yaml");
    let trace = report.trace.as_ref().expect("kept");
    let issued = all_answered(trace);
    let resent = resends(trace);
    assert_eq!(resent.len(), 1, "{resent:?}");
    let (at, request_id, timer) = resent[0];
    // Caused by the pipe loss (not the 60 s timer), as the kill reset the connection.
    assert!(!timer);
    assert!(at >= fault_at(trace) && at < fault_at(trace) + Duration::from_millis(100), "{at:?}");
    // The same request id as the request that was in flight when the server died.
    let in_flight =
        issued.iter().copied().find(|id| enqueued_request_ids(trace, *id).contains(&request_id));
    assert!(in_flight.is_some(), "request id {request_id:#010x} was never sent");
}

/// nanomsg's REQ at its 60 s resend interval: a worker that stalls keeps its
/// connection, so there is no pipe loss to resend on, and the request it holds waits
/// for a timer that fires after the run; the client, in lockstep, never sends again,
/// though the other worker is idle.
#[test]
fn nanomsg_req_waits_on_a_stalled_worker_for_its_resend_interval() {
    let report = run("req-rep-stalled-worker-nanomsg.yaml");
    let trace = report.trace.as_ref().expect("kept");
    let (issued, accepted) = (issued(trace), accepted(trace));
    let stuck: Vec<MsgId> = issued.iter().copied().filter(|id| !accepted.contains(id)).collect();
    assert_eq!(stuck.len(), 1, "issued {issued:?}, accepted {accepted:?}");
    assert_eq!(issued.last(), stuck.first(), "the client never sends again");
    assert!(issued_at(trace, stuck[0]) > fault_at(trace));
    // It reached no worker: the stalled one does not read, and nothing resent it.
    assert_eq!(workers_reached(trace, stuck[0]), []);
    assert_eq!(resends(trace), []);
}

/// The same with a 1 s resend interval: each request after the stall but the first
/// goes first to the stalled worker, the pipe idle longest (the other one has just
/// answered), and a second later, by the timer, to the other worker, which answers it. nanomsg's REQ
/// deals a resend as a first send (the conformance row `nanomsg-req-resend-rotates`).
#[test]
fn nanomsg_req_resends_what_a_stalled_worker_holds_to_the_other_worker() {
    let report = run("req-rep-stalled-worker-resend.yaml");
    let trace = report.trace.as_ref().expect("kept");
    let issued = all_answered(trace);
    let worker = |index| Replica { group: GroupId(1), index };
    let stall = fault_at(trace);
    let (before, after): (Vec<MsgId>, Vec<MsgId>) =
        issued.iter().partition(|id| issued_at(trace, **id) < stall);
    let first: Vec<_> = before.iter().map(|id| workers_reached(trace, *id)).collect();
    for w in [worker(0), worker(1)] {
        assert!(first.contains(&vec![w]), "both workers served before the stall: {first:?}");
    }
    assert!(!after.is_empty());
    for id in &after {
        assert_eq!(workers_reached(trace, *id), [worker(1)], "{id:?}");
    }
    // The first of them found worker.1 idle longest (worker.0 had taken the last
    // request before the stall) and went straight there; every later one went to
    // worker.0 first, and the timer resent it a second after it was sent.
    let resent = resends(trace);
    assert_eq!(resent.len(), after.len() - 1, "{resent:?}");
    assert_eq!(workers_reached(trace, before[before.len() - 1]), [worker(0)]);
    for (id, (at, request_id, timer)) in after[1..].iter().zip(&resent) {
        assert!(timer);
        assert_eq!(enqueued_request_ids(trace, *id), [*request_id]);
        assert_eq!(*at - issued_at(trace, *id), Duration::from_secs(1), "{id:?}");
    }
}

/// `req_relaxed` and `req_correlate` on a libzmq REQ reach the core's options, and
/// `--explain`'s rows say the file set them.
#[test]
fn libzmq_req_relaxed_and_correlate_are_taken_with_their_place_in_the_file() {
    let dir = std::env::temp_dir().join(format!("patchbay-req-relaxed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let file = dir.join("relaxed.yaml");
    let text = "name: relaxed\nlibrary: zeromq\nnodes:\n  - name: client\n    design: client\n    \
                sockets:\n      - name: req\n        type: REQ\n        connect: worker.rep\n        \
                options: {req_relaxed: true, req_correlate: true}\n  - name: worker\n    \
                design: echo-worker\n    sockets:\n      - {name: rep, type: REP, bind: 5555}\n";
    std::fs::write(&file, text).expect("write");
    let loaded = patchbay::resolve::load_topology(&file, &Registry::builtin());
    std::fs::remove_dir_all(&dir).expect("remove the temporary directory");
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let plan = loaded.plan.expect("resolves");
    let req = &plan.groups[0].sockets[0];
    let options = req.options.socket_options();
    assert_eq!((options.req_strict, options.req_correlate), (false, true));
    let rows = req.options.rows(req.socket_type);
    let source = |name: &str| {
        let row = rows.iter().find(|(n, _, _)| *n == name).expect("a row");
        (row.1.clone(), row.2.to_string())
    };
    assert_eq!(source("req_strict").0, "false");
    assert!(source("req_strict").1.ends_with("relaxed.yaml:10:32"), "{:?}", source("req_strict"));
    assert!(
        source("req_correlate").1.ends_with("relaxed.yaml:10:53"),
        "{:?}",
        source("req_correlate")
    );
}

/// Receives of message `id` by the worker's application, with their times.
fn worker_receives(trace: &Trace, id: MsgId) -> Vec<Duration> {
    let worker = Replica { group: GroupId(1), index: 0 };
    let receives = trace.events.iter().filter(|e| {
        e.node == Some(worker) && matches!(e.kind, EventKind::Receive { msg } if msg.id == Some(id))
    });
    receives.map(|e| e.at).collect()
}

/// The guide's Lazy Pirate (`ZMQ_LINGER` 0) whose server is down as it starts: its
/// first request waits in the REQ's pipe, goes with the REQ it closes at the timeout,
/// and only the resend reaches the worker once it is back: worked once.
#[test]
fn the_guides_lazy_pirate_drops_the_request_it_gives_up_on() {
    let report = run("lazy-pirate-server-down.yaml");
    let trace = report.trace.as_ref().expect("kept");
    let first = issued(trace)[0];
    let received = worker_receives(trace, first);
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0] > Duration::from_millis(5_500), "after the worker is back");
    assert_eq!(issued(trace).len(), 5);
    assert_eq!(accepted(trace), issued(trace).into_iter().collect());
}

/// The same client at libzmq's default linger (for ever): the REQ closed at the
/// timeout goes on reconnecting with the abandoned request, which reaches the worker
/// beside its resend once the worker is back, and is worked twice. libzmq does this
/// (a pyzmq REQ closed with a request queued for a port nobody listened on delivered
/// it to the REP that bound the port later; at LINGER 0 it did not); patchbay's
/// closed socket gave up its connect loop at the close until 2026-12-05.
#[test]
fn a_lazy_pirate_without_linger_0_has_its_abandoned_request_worked_twice() {
    let report = run("lazy-pirate-lingering.yaml");
    let trace = report.trace.as_ref().expect("kept");
    let first = issued(trace)[0];
    let received = worker_receives(trace, first);
    assert_eq!(received.len(), 2, "the abandoned request and its resend: {received:?}");
    assert!(received.iter().all(|at| *at > Duration::from_millis(5_500)), "{received:?}");
    let dup = report.invariants.iter().find(|o| o.name == "no_duplicate_delivery").expect("run");
    assert_eq!(dup.verdict, Verdict::Fail);
    assert!(dup.violations[0].text.starts_with("message client.0#0 delivered twice"), "{dup:?}");
}

/// A killed process lingers over nothing: the client (at libzmq's default linger)
/// queues its first request while the worker is down and is killed for good before
/// the worker is back; the request must never reach the worker, as a dead process
/// sends nothing (and its request is no lost reply: `no_lost_replies` passes). Its
/// sockets are ended without their linger when it dies; closed, they would have gone
/// on reconnecting with the request.
#[test]
fn a_killed_process_sends_nothing_it_had_queued_whatever_its_linger() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_path_buf();
    let text = "name: killed-with-a-queued-request\n\
        topology: ../topologies/lazy-pirate-lingering.yaml\nduration: 10s\nliveness: 5s\n\
        workload: {client: {requests: 5, start_at: 2s}, worker: {service_time: 10ms}}\n\
        faults:\n  - {at: 1500ms, for: 4s, kind: kill, node: worker.0}\n  \
        - {at: 3s, kind: kill, node: client.0, until: end}\n\
        invariants: [no_lost_replies]\nexpect: pass\n";
    let path = root.join("scenarios/killed-with-a-queued-request.yaml");
    let plan = patchbay::testing::Scenario::from_text(path, text).plan().expect("it resolves");
    let report = run_seed(&plan, &Registry::builtin(), 1, true);
    assert!(report.as_expected, "{:?}", report.invariants);
    let trace = report.trace.as_ref().expect("kept");
    let first = issued(trace)[0];
    assert!(issued_at(trace, first) < Duration::from_secs(3), "queued before the kill");
    assert_eq!(worker_receives(trace, first), [], "delivered by a dead process");
}
