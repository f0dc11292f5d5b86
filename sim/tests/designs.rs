//! The spine's built-in designs over real TCP on 127.0.0.1: clients, a device or a
//! broker, and workers, wired by hand with the tokio backend, run until every client
//! has finished, and judged from the recorded trace alone.
//!
//! Wiring is by hand (no topology file) so that these tests exercise the designs and
//! the driver, not the resolver or the runtime.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use patchbay::design::{Completion, NodeCtx, NodeParts, Role};
use patchbay::net::{DriverEvent, EventSink, SocketHandle, TokioTcp, spawn_socket};
use patchbay::plan::{Distribution, GroupId, Replica, WorkloadPlan};
use patchbay::registry::Registry;
use patchbay::socket::{Dealer, Rep, Req, Router, SocketCore, SocketOptions};
use patchbay::trace::{AppEvent, EventKind, MsgId, Recorder, TraceEvent};
use tokio::task::JoinHandle;

/// A safety net, not a wait: a healthy run over loopback takes milliseconds.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Group ids, as a resolved topology would number them.
const CLIENTS: GroupId = GroupId(0);
const MIDDLE: GroupId = GroupId(1);
const WORKERS: GroupId = GroupId(2);

/// Clients, a device or broker, and workers on one thread, each design a local task.
struct Harness {
    registry: Registry,
    recorder: Recorder,
    completion: Completion,
    epoch: tokio::time::Instant,
    /// The requesters' tasks, which end when their workload is done.
    requesters: Vec<JoinHandle<()>>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            registry: Registry::builtin(),
            recorder: Recorder::default(),
            completion: Completion::default(),
            epoch: tokio::time::Instant::now(),
            requesters: Vec::new(),
        }
    }

    /// A socket bound to an ephemeral loopback port.
    async fn bound(&self, core: Box<dyn SocketCore>) -> SocketHandle {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        self.spawn(core, vec![any_port], vec![]).await
    }

    /// A socket connected to `to`; messages queue on its pipe until the link is up.
    async fn connected(&self, core: Box<dyn SocketCore>, to: SocketAddr) -> SocketHandle {
        self.spawn(core, vec![], vec![to]).await
    }

    async fn spawn(
        &self,
        core: Box<dyn SocketCore>,
        binds: Vec<SocketAddr>,
        connects: Vec<SocketAddr>,
    ) -> SocketHandle {
        // Driver events (connects, drops) are not what these tests judge.
        let events: EventSink = Rc::new(|_: Duration, _: DriverEvent| {});
        spawn_socket(TokioTcp, core, &options(), binds, connects, self.epoch, events)
            .await
            .expect("loopback bind")
    }

    /// Starts `design` as `replica` with the given sockets, in the order given.
    fn start(
        &mut self,
        design: &str,
        replica: Replica,
        workload: WorkloadPlan,
        sockets: Vec<(&str, SocketHandle)>,
    ) {
        let spec = self.registry.get(design).expect("built-in design");
        let run = spec.behaviour().expect("design runs");
        let sockets = (0..)
            .zip(sockets)
            .map(|(index, (name, handle))| (name.to_string(), (index, handle)))
            .collect();
        let name = format!("{}.{}", design, replica.index);
        let seed = u64::from(replica.group.0) << 32 | u64::from(replica.index);
        let ctx = NodeCtx::new(NodeParts {
            replica,
            name,
            incarnation: 0,
            params: BTreeMap::new(),
            workload: workload.into(),
            sockets,
            seed,
            recorder: self.recorder.clone(),
            epoch: self.epoch,
            completion: self.completion.clone(),
        });
        let task = tokio::task::spawn_local(run.call(ctx));
        if spec.has_role(Role::Requester) {
            self.requesters.push(task);
        }
    }

    /// Waits for every requester to finish (failing after [`TIMEOUT`]) and returns
    /// the trace. Workers and brokers run for ever; the `LocalSet` drops them.
    async fn finish(self) -> Vec<TraceEvent> {
        let expected = self.requesters.len() as u64;
        let all_done = async {
            for task in self.requesters {
                task.await.expect("requester task panicked");
            }
        };
        tokio::time::timeout(TIMEOUT, all_done).await.expect("requesters finished in time");
        assert_eq!(self.completion.count(), expected, "every requester said it finished");
        self.recorder.take()
    }
}

fn options() -> SocketOptions {
    SocketOptions::default()
}

fn replica(group: GroupId, index: u32) -> Replica {
    Replica { group, index }
}

/// Runs `body` on a current-thread runtime inside a `LocalSet`, as the runtime does.
fn run_local<F: Future<Output = Vec<TraceEvent>>>(body: F) -> Vec<TraceEvent> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    tokio::task::LocalSet::new().block_on(&runtime, body)
}

fn requests(n: u64) -> WorkloadPlan {
    WorkloadPlan { requests: Some(n), ..WorkloadPlan::default() }
}

/// A millisecond of work per job keeps one worker from finishing everything before
/// the other has connected.
fn one_ms_of_work() -> WorkloadPlan {
    WorkloadPlan { service_time: Some(Distribution::Fixed(1e6)), ..WorkloadPlan::default() }
}

fn app_events(trace: &[TraceEvent]) -> impl Iterator<Item = (&TraceEvent, &AppEvent)> {
    trace.iter().filter_map(|e| match &e.kind {
        EventKind::App(app) => Some((e, app)),
        _ => None,
    })
}

/// Asserts that `issued` requests went out and each was accepted exactly once, with
/// no reply accepted for a request never issued and no design noting anything odd.
fn assert_each_request_answered_once(trace: &[TraceEvent], issued: usize) {
    let mut replies: BTreeMap<MsgId, (u32, u32)> = BTreeMap::new();
    for (_, app) in app_events(trace) {
        match app {
            AppEvent::RequestIssued { id } => replies.entry(*id).or_default().0 += 1,
            AppEvent::ReplyAccepted { id } => replies.entry(*id).or_default().1 += 1,
            AppEvent::Note { text } => panic!("unexpected note: {text}"),
            _ => {}
        }
    }
    assert_eq!(replies.len(), issued, "distinct requests issued");
    for (id, counts) in &replies {
        assert_eq!(*counts, (1, 1), "request {id}: (issued, accepted)");
    }
}

fn work_done_by(trace: &[TraceEvent], worker: Replica) -> usize {
    app_events(trace)
        .filter(|(e, app)| e.node == Some(worker) && matches!(app, AppEvent::WorkDone { .. }))
        .count()
}

/// Two clients (one REQ, one DEALER) through a QUEUE device to two REP echo-workers.
async fn queue_device_run() -> Vec<TraceEvent> {
    let mut harness = Harness::new();
    let frontend = harness.bound(Box::new(Router::new(options()))).await;
    let backend = harness.bound(Box::new(Dealer::new(options()))).await;
    let (clients_at, workers_at) = (frontend.local_addrs()[0], backend.local_addrs()[0]);
    let sockets = vec![("frontend", frontend), ("backend", backend)];
    harness.start("queue-device", replica(MIDDLE, 0), WorkloadPlan::default(), sockets);
    for index in 0..2 {
        let rep = harness.connected(Box::new(Rep::new(options())), workers_at).await;
        harness.start("echo-worker", replica(WORKERS, index), one_ms_of_work(), vec![("rep", rep)]);
    }
    let req: Box<dyn SocketCore> = Box::new(Req::new(options(), 1));
    let dealer: Box<dyn SocketCore> = Box::new(Dealer::new(options()));
    for (index, core) in (0..).zip([req, dealer]) {
        let socket = harness.connected(core, clients_at).await;
        harness.start("client", replica(CLIENTS, index), requests(20), vec![("req", socket)]);
    }
    harness.finish().await
}

#[test]
fn queue_device_answers_every_request_once_and_uses_both_workers() {
    let trace = run_local(queue_device_run());
    assert_each_request_answered_once(&trace, 2 * 20);
    for index in 0..2 {
        assert!(work_done_by(&trace, replica(WORKERS, index)) > 0, "echo-worker {index} idle");
    }
}

/// Three REQ clients through article 000's broker to two ready-workers.
async fn lru_broker_run() -> Vec<TraceEvent> {
    let mut harness = Harness::new();
    let frontend = harness.bound(Box::new(Router::new(options()))).await;
    let backend = harness.bound(Box::new(Router::new(options()))).await;
    let (clients_at, workers_at) = (frontend.local_addrs()[0], backend.local_addrs()[0]);
    let sockets = vec![("frontend", frontend), ("backend", backend)];
    harness.start("lru-broker", replica(MIDDLE, 0), WorkloadPlan::default(), sockets);
    for index in 0..2 {
        let req = harness.connected(Box::new(Req::new(options(), 100 + index)), workers_at).await;
        harness.start(
            "ready-worker",
            replica(WORKERS, index),
            one_ms_of_work(),
            vec![("req", req)],
        );
    }
    for index in 0..3 {
        let req = harness.connected(Box::new(Req::new(options(), 200 + index)), clients_at).await;
        harness.start("client", replica(CLIENTS, index), requests(10), vec![("req", req)]);
    }
    harness.finish().await
}

#[test]
fn lru_broker_answers_every_request_once_and_uses_both_workers() {
    let trace = run_local(lru_broker_run());
    assert_each_request_answered_once(&trace, 3 * 10);
    for index in 0..2 {
        assert!(work_done_by(&trace, replica(WORKERS, index)) > 0, "ready-worker {index} idle");
    }
}
