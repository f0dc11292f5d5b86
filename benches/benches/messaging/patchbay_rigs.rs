//! patchbay's side of every benchmark: shipped topologies started over real TCP
//! (`deploy.rs`), loaded through the same resolver as `cargo xtask sim`. The PUSH/PULL,
//! REQ/REP and PUB/SUB topologies name `library: zeromq`, so those sockets speak
//! ZMTP, as libzmq does, and so does the QUEUE device's (loaded as `library: zeromq`);
//! the LRU broker's speaks its topology's library's wire.
//!
//! - PUSH/PULL (`topologies/push-pull.yaml`) and REQ/REP (`topologies/req-rep.yaml`)
//!   drive the plan's sockets directly, as the peers' loops drive theirs: a tight send
//!   loop, a receive loop, an echo loop.
//! - The QUEUE device (`topologies/queue.yaml`, one client, one worker) and the LRU
//!   broker (`topologies/lru-broker.yaml`, 16 clients, 1/4/16 workers) run the
//!   topology's own designs (`queue-device`, `lru-broker`, `ready-worker`)
//!   unchanged, trace recording included; the clients are the benchmark's load
//!   generator, and the device's worker is the direct REQ/REP's echo loop, so that
//!   the device's added hop compares like with like.
//! - PUB/SUB fan-out (`topologies/naive-pubsub.yaml`, 1/10/100 subscribers) drives
//!   the plan's PUB and SUBs directly.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use patchbay::net::SocketHandle;
use patchbay::plan::TopologyPlan;
use patchbay::registry::Registry;
use patchbay::socket::{Msg, SocketType};
use patchbay::wire::payload::{Payload, PayloadKind};
use patchbay_benches::{load_topology, load_topology_on_library};
use tokio::sync::Notify;

use crate::deploy::{Deployment, Node, run_designs, socket_of_type};
use crate::rig::{
    Flow, RoundTrip, RoundTripEnds, receive_batches, send_batches, serve_asks, slow_down,
};

pub const PUSH_PULL: &str = "topologies/push-pull.yaml";
pub const REQ_REP: &str = "topologies/req-rep.yaml";
pub const QUEUE: &str = "topologies/queue.yaml";
pub const LRU_BROKER: &str = "topologies/lru-broker.yaml";
pub const PUB_SUB: &str = "topologies/naive-pubsub.yaml";
/// Enough clients to keep 16 workers busy: a REQ has one request out at a time.
pub const LRU_CLIENTS: u32 = 16;
/// How often a publisher repeats a batch's end marker until every subscriber has it:
/// PUB drops at its high-water mark, and the marker may be among the dropped.
const END_MARKER_EVERY: Duration = Duration::from_millis(1);
/// A PUB send never waits (it drops at the high-water mark instead), so a loop of
/// sends on patchbay's single-threaded driver would never let the connection
/// writers on the same thread run, and everything past the HWM would be dropped. A
/// publisher yields this often, as any patchbay application publishing in a tight
/// loop must; the writers then batch about this many messages per system call.
const PUB_YIELD_EVERY: u64 = 64;

fn load(relative: &str, params: &[(&str, &str)]) -> TopologyPlan {
    load_topology(relative, params, &Registry::builtin()).unwrap_or_else(|e| panic!("{e}"))
}

fn only(mut nodes: Vec<Node>) -> Node {
    assert_eq!(nodes.len(), 1, "one replica expected");
    nodes.remove(0)
}

/// PUSH → PULL, messages of `size` bytes.
pub fn push_pull(size: usize) -> Flow {
    let mut deployment = Deployment::new(load(PUSH_PULL, &[]));
    let plan = deployment.plan();
    let push = socket_of_type(plan, "ventilator", SocketType::Push);
    let pull = socket_of_type(plan, "sink", SocketType::Pull);
    let (mut flow, ends) = Flow::new();
    let body = Bytes::from(vec![0xa5; size]);
    let sender = deployment.spawn(&["ventilator"], move |nodes| async move {
        let push = only(nodes).take(&push);
        send_batches(ends.sender, async || {
            slow_down();
            push.send(Msg::new(body.clone())).await.expect("PUSH send");
        })
        .await;
    });
    let (receiver_cmds, done) = (ends.receiver, ends.done);
    let receiver = deployment.spawn(&["sink"], move |nodes| async move {
        let pull = only(nodes).take(&pull);
        receive_batches(receiver_cmds, done, async || {
            pull.recv().await.expect("PULL recv");
        })
        .await;
    });
    flow.join_on_finish(sender.unwrap_or_else(|e| panic!("{e}")));
    flow.join_on_finish(receiver.unwrap_or_else(|e| panic!("{e}")));
    flow
}

/// One REQ round trip of a 64-byte request; the reply's contents are the server's.
async fn req_round_trip(req: &SocketHandle, body: &Bytes) {
    slow_down();
    req.send(Msg::new(body.clone())).await.expect("REQ send");
    req.recv().await.expect("REQ recv");
}

/// The body of a client thread: the plan's REQ serving the bench's asks.
fn req_client(req: String, ends: RoundTripEnds) -> impl FnOnce(Vec<Node>) -> ClientFuture + Send {
    move |nodes| {
        Box::pin(async move {
            let req = only(nodes).take(&req);
            let body = Bytes::from(vec![0x5a; crate::REQUEST_BYTES]);
            serve_asks(ends, async || req_round_trip(&req, &body).await).await;
        })
    }
}

type ClientFuture = std::pin::Pin<Box<dyn Future<Output = ()>>>;

/// REQ → REP echo, the server an echo loop on the plan's REP.
pub fn req_rep() -> RoundTrip {
    let mut deployment = Deployment::new(load(REQ_REP, &[]));
    let rep = socket_of_type(deployment.plan(), "worker", SocketType::Rep);
    let req = socket_of_type(deployment.plan(), "client", SocketType::Req);
    spawn_echo(&mut deployment, rep);
    let (round_trip, ends) = RoundTrip::new();
    let client = deployment.spawn(&["client"], req_client(req, ends));
    drop(client.unwrap_or_else(|e| panic!("{e}")));
    round_trip
}

/// An echo loop on the plan's REP `rep` of the `worker` node, on a thread of its own:
/// the server of the direct REQ/REP and the worker behind the QUEUE device alike.
fn spawn_echo(deployment: &mut Deployment, rep: String) {
    let server = deployment.spawn(&["worker"], move |nodes| async move {
        let rep = only(nodes).take(&rep);
        while let Ok(request) = rep.recv().await {
            if rep.send(request).await.is_err() {
                return;
            }
        }
    });
    // The server thread stays parked on its socket after the benchmark; see main.rs.
    drop(server.unwrap_or_else(|e| panic!("{e}")));
}

/// REQ → QUEUE device → REP, the device running its design. The file names no
/// library (its scenarios model nanomsg's resending REQ); here it runs as `library:
/// zeromq`, so its hop is measured on the same wire as the direct REQ/REP it is
/// compared with, and as libzmq's own device beside it. The worker is the direct
/// REQ/REP's echo loop, as libzmq's and tokio's rigs keep the same echo server in
/// both: the hop is then the device's alone (the `echo-worker` design, with its
/// trace events and payload check, cost about 2,700 more instructions a round trip).
pub fn queue_device() -> RoundTrip {
    let params = [("clients", "1"), ("workers", "1")];
    let plan = load_topology_on_library(QUEUE, "zeromq", &params, &Registry::builtin());
    let mut deployment = Deployment::new(plan.unwrap_or_else(|e| panic!("{e}")));
    let req = socket_of_type(deployment.plan(), "client", SocketType::Req);
    let rep = socket_of_type(deployment.plan(), "worker", SocketType::Rep);
    let device = deployment.spawn(&["device"], run_designs);
    drop(device.unwrap_or_else(|e| panic!("{e}")));
    spawn_echo(&mut deployment, rep);
    let (round_trip, ends) = RoundTrip::new();
    let client = deployment.spawn(&["client"], req_client(req, ends));
    drop(client.unwrap_or_else(|e| panic!("{e}")));
    round_trip
}

/// Clients → LRU broker → `workers` ready-workers; one flow command is that many
/// requests spread over the clients, done when every reply is in.
pub fn lru_broker(workers: u32) -> Flow {
    let (clients, workers) = (LRU_CLIENTS.to_string(), workers.to_string());
    let params = [("clients", clients.as_str()), ("workers", workers.as_str())];
    let mut deployment = Deployment::new(load(LRU_BROKER, &params));
    let req = socket_of_type(deployment.plan(), "client", SocketType::Req);
    let broker = deployment.spawn(&["broker"], run_designs);
    drop(broker.unwrap_or_else(|e| panic!("{e}")));
    let workers = deployment.spawn(&["worker"], run_designs);
    drop(workers.unwrap_or_else(|e| panic!("{e}")));
    let (mut flow, ends) = Flow::new();
    let (commands, done) = (ends.sender, ends.done);
    let clients = deployment.spawn(&["client"], move |nodes| async move {
        let reqs: Vec<SocketHandle> = nodes.into_iter().map(|mut n| n.take(&req)).collect();
        lru_clients(reqs, commands, done).await;
    });
    flow.join_on_finish(clients.unwrap_or_else(|e| panic!("{e}")));
    flow
}

async fn lru_clients(
    reqs: Vec<SocketHandle>,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<u64>,
    done: std::sync::mpsc::Sender<u64>,
) {
    let reqs: Vec<Rc<SocketHandle>> = reqs.into_iter().map(Rc::new).collect();
    let next_id = Rc::new(Cell::new(0u64));
    while let Some(n) = commands.recv().await {
        let tickets = Rc::new(Cell::new(n));
        let mut tasks = Vec::new();
        for req in &reqs {
            let (req, tickets, next_id) =
                (Rc::clone(req), Rc::clone(&tickets), Rc::clone(&next_id));
            tasks.push(tokio::task::spawn_local(async move {
                while tickets.get() > 0 {
                    tickets.set(tickets.get() - 1);
                    let id = next_id.get();
                    next_id.set(id + 1);
                    let request = Payload::new(PayloadKind::Request, id, 0).encode();
                    slow_down();
                    req.send(Msg::new(request)).await.expect("REQ send");
                    req.recv().await.expect("REQ recv");
                }
            }));
        }
        for task in tasks {
            task.await.expect("an LRU client task panicked");
        }
        if done.send(n).is_err() {
            return;
        }
    }
}

/// PUB → `subscribers` SUBs. One flow command of `n` is `n` publications; the
/// receiver counts what all subscribers got (`n × subscribers` unless PUB dropped
/// some at its high-water mark).
pub fn pub_sub(subscribers: u32) -> Flow {
    let count = subscribers.to_string();
    let mut deployment = Deployment::new(load(PUB_SUB, &[("subscribers", count.as_str())]));
    let publisher = socket_of_type(deployment.plan(), "publisher", SocketType::Pub);
    let sub = socket_of_type(deployment.plan(), "subscriber", SocketType::Sub);
    let (mut flow, ends) = Flow::new();
    // The batch the subscribers have all finished, for the publisher to stop
    // repeating that batch's end marker, and the wake-up that says it changed.
    let finished = Arc::new((AtomicU64::new(0), Notify::new()));
    let (sender_cmds, seen) = (ends.sender, Arc::clone(&finished));
    let sender = deployment.spawn(&["publisher"], move |nodes| async move {
        let publisher = only(nodes).take(&publisher);
        publish_batches(publisher, sender_cmds, seen).await;
    });
    let (receiver_cmds, done) = (ends.receiver, ends.done);
    let receiver = deployment.spawn(&["subscriber"], move |nodes| async move {
        let subs: Vec<SocketHandle> = nodes.into_iter().map(|mut n| n.take(&sub)).collect();
        subscribe_batches(subs, receiver_cmds, done, finished).await;
    });
    flow.join_on_finish(sender.unwrap_or_else(|e| panic!("{e}")));
    flow.join_on_finish(receiver.unwrap_or_else(|e| panic!("{e}")));
    flow
}

/// A data message is `[0]` + padding; batch `b`'s end marker is `[1, b as u64 BE]`.
fn end_marker(batch: u64) -> Bytes {
    let mut body = vec![1u8];
    body.extend_from_slice(&batch.to_be_bytes());
    Bytes::from(body)
}

type Finished = Arc<(AtomicU64, Notify)>;

async fn publish_batches(
    publisher: SocketHandle,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<u64>,
    finished: Finished,
) {
    let data = Bytes::from(vec![0u8; crate::REQUEST_BYTES]);
    let (done_batch, done_wake) = &*finished;
    let mut batch = 0;
    while let Some(n) = commands.recv().await {
        batch += 1;
        for i in 1..=n {
            slow_down();
            publisher.send(Msg::new(data.clone())).await.expect("PUB send");
            if i % PUB_YIELD_EVERY == 0 {
                tokio::task::yield_now().await;
            }
        }
        while done_batch.load(Ordering::Acquire) < batch {
            publisher.send(Msg::new(end_marker(batch))).await.expect("PUB send");
            tokio::select! {
                biased;
                () = done_wake.notified() => {}
                () = tokio::time::sleep(END_MARKER_EVERY) => {}
            }
        }
    }
}

async fn subscribe_batches(
    subs: Vec<SocketHandle>,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<u64>,
    done: std::sync::mpsc::Sender<u64>,
    finished: Finished,
) {
    let subs: Vec<Rc<SocketHandle>> = subs.into_iter().map(Rc::new).collect();
    let mut batch = 0;
    while commands.recv().await.is_some() {
        batch += 1;
        let marker = end_marker(batch);
        let mut tasks = Vec::new();
        for sub in &subs {
            let (sub, marker) = (Rc::clone(sub), marker.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let mut got = 0u64;
                loop {
                    let msg = sub.recv().await.expect("SUB recv");
                    match msg.body.first() {
                        Some(0) => got += 1,
                        // An earlier batch's repeated marker is stale; skip it.
                        _ if msg.body == marker => return got,
                        _ => {}
                    }
                }
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("a subscriber task panicked");
        }
        finished.0.store(batch, Ordering::Release);
        finished.1.notify_one();
        if done.send(total).is_err() {
            return;
        }
    }
}
