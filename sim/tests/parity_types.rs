//! Backend parity per socket pair: SURVEYOR→RESPONDENT×2, a BUS mesh of three,
//! PUB→SUB×2 with prefix filters, PUSH→PULL×2 and PAIR↔PAIR, each written once and
//! run over real TCP (tokio on 127.0.0.1) and over the transport the simulator runs
//! (its fault shim over turmoil, `patchbay::run::SimNetwork`), with the same expected
//! outcome asserted both ways.
//!
//! A test is a list of nodes, one socket each, that bind and connect to nodes listed
//! before them. Each node's behaviour returns its own account as text; the accounts
//! are sorted before comparing, because which of two equal peers gets a pipe first
//! is up to the real network. Nodes wait for what they need (connections,
//! subscriptions) by watching their socket's event log, never by sleeping, and close
//! only once every node is done, so a peer going away is never part of the outcome.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use patchbay::net::{DriverEvent, EventSink, SocketHandle, TokioTcp, Transport, spawn_socket};
use patchbay::plan::{GroupId, Replica};
use patchbay::run::SimNetwork;
use patchbay::socket::{
    Bus, DropReason, Msg, Pair, Publisher, Pull, Push, Respondent, SocketCore, SocketEvent,
    SocketOptions, Subscriber, Surveyor,
};
use tokio::sync::Notify;

use crate::util::is_fault;

/// Under turmoil node `i` binds this port plus `i`: a node cannot learn another
/// host's ephemeral port without a side channel.
const SIM_BASE_PORT: u16 = 7000;

/// How long a run over real TCP may take; the slowest waits out a 1 s survey.
const TOKIO_RUN_MAX: Duration = Duration::from_secs(30);

type Account<'a> = Pin<Box<dyn Future<Output = Vec<String>> + 'a>>;

/// One node of a test: its socket, where it connects, and what it does.
struct NodeSpec {
    name: &'static str,
    make_core: fn() -> Box<dyn SocketCore>,
    /// Whether the socket speaks ZMTP (libzmq) rather than SP: only there do
    /// subscriptions travel upstream (on SP a SUB filters locally and sends nothing).
    zmtp: bool,
    /// Whether the socket listens, so that later nodes can connect to it.
    binds: bool,
    /// Indices of earlier nodes this one connects to.
    connects: &'static [usize],
    behave: for<'a> fn(&'a Node) -> Account<'a>,
}

/// A node's event log, with a wake-up for behaviours waiting on it.
#[derive(Clone, Default)]
struct EventLog {
    events: Rc<RefCell<Vec<DriverEvent>>>,
    changed: Rc<Notify>,
}

impl EventLog {
    fn sink(&self) -> EventSink {
        let log = self.clone();
        Rc::new(move |_at: Duration, event: DriverEvent| {
            log.events.borrow_mut().push(event);
            log.changed.notify_waiters();
        })
    }

    fn count(&self, matches: impl Fn(&DriverEvent) -> bool) -> usize {
        self.events.borrow().iter().filter(|event| matches(event)).count()
    }

    /// Waits until at least `n` events match. The wake-up is taken before the check,
    /// so an event logged in between is not missed.
    async fn wait_for(&self, n: usize, matches: impl Fn(&DriverEvent) -> bool) {
        loop {
            let changed = self.changed.notified();
            if self.count(&matches) >= n {
                return;
            }
            changed.await;
        }
    }
}

/// What a behaviour is handed.
struct Node {
    name: &'static str,
    socket: SocketHandle,
    log: EventLog,
}

impl Node {
    async fn connections(&self, n: usize) {
        self.log.wait_for(n, |e| matches!(e, DriverEvent::Connected { .. })).await;
    }

    async fn recv_text(&self) -> String {
        let msg = self.socket.recv().await.expect("recv");
        String::from_utf8(msg.body.to_vec()).expect("text body")
    }

    async fn send_text(&self, text: impl Into<String>) {
        self.socket.send(Msg::new(Bytes::from(text.into()))).await.expect("send");
    }
}

/// Lets every node finish before any closes.
#[derive(Default)]
struct Barrier {
    running: Cell<usize>,
    all_done: Notify,
}

impl Barrier {
    async fn arrive_and_wait(&self) {
        self.running.set(self.running.get() - 1);
        self.all_done.notify_waiters();
        loop {
            let done = self.all_done.notified();
            if self.running.get() == 0 {
                return;
            }
            done.await;
        }
    }
}

/// What one run produced, compared across the backends.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Every node's account, sorted.
    accounts: Vec<Vec<String>>,
    /// Messages that reached a socket from the wire, over all nodes.
    arrived: usize,
    survey_expired: usize,
    /// Drops, failed connects, protocol errors and panics. A clean run has none.
    faults: Vec<DriverEvent>,
}

fn outcome(mut accounts: Vec<Vec<String>>, logs: &[EventLog]) -> Outcome {
    accounts.sort();
    let arrived = |e: &DriverEvent| matches!(e, DriverEvent::Socket(SocketEvent::Arrived { .. }));
    let expired =
        |e: &DriverEvent| matches!(e, DriverEvent::Socket(SocketEvent::SurveyExpired { .. }));
    let faults = logs.iter().flat_map(|log| log.events.borrow().clone()).filter(is_fault);
    Outcome {
        accounts,
        arrived: logs.iter().map(|log| log.count(arrived)).sum(),
        survey_expired: logs.iter().map(|log| log.count(expired)).sum(),
        faults: faults.collect(),
    }
}

/// Starts one node's socket; the node is bound once this returns.
async fn start_node<T: Transport>(
    transport: T,
    spec: &NodeSpec,
    bind: Option<SocketAddr>,
    connects: Vec<SocketAddr>,
    log: EventLog,
) -> Node {
    let options = SocketOptions { zmtp: spec.zmtp, ..SocketOptions::default() };
    let epoch = tokio::time::Instant::now();
    let binds = bind.into_iter().collect();
    let socket =
        spawn_socket(transport, (spec.make_core)(), &options, binds, connects, epoch, log.sink());
    Node { name: spec.name, socket: socket.await.expect("bind"), log }
}

/// Runs the node's behaviour, waits for every other node to finish, then closes.
async fn finish_node(spec: &NodeSpec, node: Node, barrier: Rc<Barrier>) -> Vec<String> {
    let account = (spec.behave)(&node).await;
    barrier.arrive_and_wait().await;
    node.socket.close().await;
    account
}

fn barrier_for(specs: &[NodeSpec]) -> Rc<Barrier> {
    Rc::new(Barrier { running: Cell::new(specs.len()), ..Barrier::default() })
}

/// Nodes start one after another, so each can be told the ports bound before it.
fn run_over_tokio(specs: &'static [NodeSpec]) -> Outcome {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let logs: Vec<EventLog> = specs.iter().map(|_| EventLog::default()).collect();
    let barrier = barrier_for(specs);
    let run = async {
        let mut bound: Vec<Vec<SocketAddr>> = Vec::new();
        let mut tasks = Vec::new();
        for (spec, log) in specs.iter().zip(&logs) {
            let bind = spec.binds.then(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
            let connects = spec.connects.iter().map(|i| bound[*i][0]).collect();
            let node = start_node(TokioTcp, spec, bind, connects, log.clone()).await;
            bound.push(node.socket.local_addrs().to_vec());
            tasks.push(tokio::task::spawn_local(finish_node(spec, node, Rc::clone(&barrier))));
        }
        let mut accounts = Vec::new();
        for task in tasks {
            accounts.push(task.await.expect("node task"));
        }
        accounts
    };
    // A broken core leaves a node waiting for ever; real time needs a bound.
    let bounded = async { tokio::time::timeout(TOKIO_RUN_MAX, run).await };
    let accounts = local.block_on(&runtime, bounded).expect("tokio run finished in time");
    outcome(accounts, &logs)
}

/// One turmoil host per node, registered in node order, so a node binds before the
/// nodes after it first try to connect; node `i` is replica 0 of group `i` to the
/// simulator's shim, which carries every connection.
fn run_over_sim(specs: &'static [NodeSpec]) -> Outcome {
    let mut sim = turmoil::Builder::new()
        .rng_seed(0x5eed)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .simulation_duration(Duration::from_secs(60))
        .tcp_capacity(SimNetwork::TCP_CAPACITY)
        .build();
    let logs: Vec<EventLog> = specs.iter().map(|_| EventLog::default()).collect();
    let barrier = barrier_for(specs);
    let accounts = Rc::new(RefCell::new(vec![Vec::new(); specs.len()]));
    let port = |i: usize| SIM_BASE_PORT + u16::try_from(i).expect("few nodes");
    let replica = |i: usize| Replica { group: GroupId(u32::try_from(i).expect("few")), index: 0 };
    let net = SimNetwork::default();
    for (i, (spec, log)) in specs.iter().zip(&logs).enumerate() {
        let (log, barrier, accounts) = (log.clone(), Rc::clone(&barrier), Rc::clone(&accounts));
        let transport = net.transport(replica(i), sim.lookup(spec.name));
        sim.client(spec.name, async move {
            let bind = spec.binds.then(|| SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port(i)));
            let peer = |j: usize| SocketAddr::new(turmoil::lookup(specs[j].name), port(j));
            let connects = spec.connects.iter().map(|j| peer(*j)).collect();
            let node = start_node(transport, spec, bind, connects, log).await;
            accounts.borrow_mut()[i] = finish_node(spec, node, barrier).await;
            Ok(())
        });
        if spec.binds {
            net.listens_at(SocketAddr::new(sim.lookup(spec.name), port(i)), replica(i));
        }
    }
    sim.run().expect("simulation");
    let accounts = accounts.borrow().clone();
    outcome(accounts, &logs)
}

/// Runs `specs` over both backends and checks both outcomes against `expected`.
/// The simulator goes first: a broken core fails there, bounded in simulated time.
fn check_parity(specs: &'static [NodeSpec], expected: &Outcome) {
    let over_sim = run_over_sim(specs);
    assert_eq!(&over_sim, expected, "over the simulator's shim");
    let over_tokio = run_over_tokio(specs);
    assert_eq!(over_tokio, over_sim, "tokio agrees with the simulator");
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// SURVEYOR → RESPONDENT ×2

fn survey_respond(node: &Node) -> Account<'_> {
    Box::pin(async move {
        node.connections(1).await;
        let survey = node.recv_text().await;
        node.send_text(format!("yes to {survey}")).await;
        vec![format!("answered {survey}")]
    })
}

/// Both answers come before the default 1 s deadline; after it, a receive is a
/// state error (NNG: timed out) and the survey has expired exactly once.
fn survey_ask(node: &Node) -> Account<'_> {
    Box::pin(async move {
        node.connections(2).await;
        node.send_text("lunch?").await;
        let mut answers = vec![node.recv_text().await, node.recv_text().await];
        answers.sort();
        let after = node.socket.recv().await.map(|m| m.body);
        answers.push(format!("then {after:?}"));
        answers
    })
}

static SURVEY: [NodeSpec; 3] = [
    NodeSpec {
        name: "surveyor",
        zmtp: false,
        make_core: || Box::new(Surveyor::new(SocketOptions::default(), 1)),
        binds: true,
        connects: &[],
        behave: survey_ask,
    },
    NodeSpec {
        name: "respondent1",
        zmtp: false,
        make_core: || Box::new(Respondent::new(SocketOptions::default())),
        binds: false,
        connects: &[0],
        behave: survey_respond,
    },
    NodeSpec {
        name: "respondent2",
        zmtp: false,
        make_core: || Box::new(Respondent::new(SocketOptions::default())),
        binds: false,
        connects: &[0],
        behave: survey_respond,
    },
];

#[test]
fn surveyor_and_two_respondents_agree_over_tokio_and_the_simulator() {
    let answered = texts(&["answered lunch?"]);
    let expected = Outcome {
        accounts: vec![
            answered.clone(),
            answered,
            texts(&["yes to lunch?", "yes to lunch?", "then Err(State)"]),
        ],
        arrived: 4,
        survey_expired: 1,
        faults: vec![],
    };
    check_parity(&SURVEY, &expected);
}

// BUS ×3, a full mesh: a binds; b binds and connects to a; c connects to both.

fn bus_peer(node: &Node) -> Account<'_> {
    Box::pin(async move {
        node.connections(2).await;
        node.send_text(format!("from {}", node.name)).await;
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(format!("{} got {}", node.name, node.recv_text().await));
        }
        got.sort();
        got
    })
}

fn new_bus() -> Box<dyn SocketCore> {
    Box::new(Bus::new(SocketOptions::default()))
}

static BUS_MESH: [NodeSpec; 3] = [
    NodeSpec {
        name: "a",
        zmtp: false,
        make_core: new_bus,
        binds: true,
        connects: &[],
        behave: bus_peer,
    },
    NodeSpec {
        name: "b",
        zmtp: false,
        make_core: new_bus,
        binds: true,
        connects: &[0],
        behave: bus_peer,
    },
    NodeSpec {
        name: "c",
        zmtp: false,
        make_core: new_bus,
        binds: false,
        connects: &[0, 1],
        behave: bus_peer,
    },
];

#[test]
fn bus_mesh_of_three_agrees_over_tokio_and_the_simulator() {
    let expected = Outcome {
        accounts: vec![
            texts(&["a got from b", "a got from c"]),
            texts(&["b got from a", "b got from c"]),
            texts(&["c got from a", "c got from b"]),
        ],
        arrived: 6,
        survey_expired: 0,
        faults: vec![],
    };
    check_parity(&BUS_MESH, &expected);
}

// PUB → SUB ×2 on ZMTP (libzmq), one subscribed to "a", one to "b": the publisher
// filters on the subscriptions that travel upstream.

/// Publishes once both subscriptions have arrived, so nothing is published to a
/// subscriber the publisher cannot filter for yet.
fn publish(node: &Node) -> Account<'_> {
    Box::pin(async move {
        let subscribed = |e: &DriverEvent| {
            matches!(
                e,
                DriverEvent::Socket(SocketEvent::Subscription { pipe: Some(_), on: true, .. })
            )
        };
        node.log.wait_for(2, subscribed).await;
        for topic in ["a1", "b1", "c1", "a2", "b2"] {
            node.send_text(topic).await;
        }
        texts(&["published 5"])
    })
}

/// Takes two messages: anything that slipped past the filters would be among them.
fn take_two(node: &Node) -> Account<'_> {
    Box::pin(async move {
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(format!("got {}", node.recv_text().await));
        }
        got
    })
}

/// A libzmq socket's options: subscriptions travel upstream on ZMTP.
fn zmtp() -> SocketOptions {
    SocketOptions { zmtp: true, ..SocketOptions::default() }
}

fn sub_to(prefix: &str) -> Box<dyn SocketCore> {
    let options = SocketOptions {
        subscribe: vec![prefix.as_bytes().to_vec()],
        zmtp: true,
        ..SocketOptions::default()
    };
    Box::new(Subscriber::new_sub(options))
}

static PUB_SUB: [NodeSpec; 3] = [
    NodeSpec {
        name: "publisher",
        zmtp: true,
        make_core: || Box::new(Publisher::new_pub(zmtp())),
        binds: true,
        connects: &[],
        behave: publish,
    },
    NodeSpec {
        name: "sub-a",
        zmtp: true,
        make_core: || sub_to("a"),
        binds: false,
        connects: &[0],
        behave: take_two,
    },
    NodeSpec {
        name: "sub-b",
        zmtp: true,
        make_core: || sub_to("b"),
        binds: false,
        connects: &[0],
        behave: take_two,
    },
];

#[test]
fn pub_to_two_filtering_subs_agrees_over_tokio_and_the_simulator() {
    let expected = Outcome {
        accounts: vec![
            texts(&["got a1", "got a2"]),
            texts(&["got b1", "got b2"]),
            texts(&["published 5"]),
        ],
        arrived: 4,
        survey_expired: 0,
        faults: vec![],
    };
    check_parity(&PUB_SUB, &expected);
}

// PUB → SUB ×2 on SP (NNG, nanomsg): nothing travels upstream, so the publisher sends
// every publication to both and each SUB filters what arrives (docs/library-semantics.md).

/// Publishes five topics once both subscribers are connected: there are no
/// subscriptions to wait for on SP.
fn publish_when_connected(node: &Node) -> Account<'_> {
    Box::pin(async move {
        node.connections(2).await;
        for topic in ["a1", "b1", "c1", "a2", "b2"] {
            node.send_text(topic).await;
        }
        texts(&["published 5"])
    })
}

fn sp_sub_to(prefix: &str) -> Box<dyn SocketCore> {
    let options =
        SocketOptions { subscribe: vec![prefix.as_bytes().to_vec()], ..SocketOptions::default() };
    Box::new(Subscriber::new_sub(options))
}

static SP_PUB_SUB: [NodeSpec; 3] = [
    NodeSpec {
        name: "publisher",
        zmtp: false,
        make_core: || Box::new(Publisher::new_pub(SocketOptions::default())),
        binds: true,
        connects: &[],
        behave: publish_when_connected,
    },
    NodeSpec {
        name: "sub-a",
        zmtp: false,
        make_core: || sp_sub_to("a"),
        binds: false,
        connects: &[0],
        behave: take_two,
    },
    NodeSpec {
        name: "sub-b",
        zmtp: false,
        make_core: || sp_sub_to("b"),
        binds: false,
        connects: &[0],
        behave: take_two,
    },
];

#[test]
fn sp_pub_to_two_subs_filtering_locally_agrees_over_tokio_and_the_simulator() {
    let expected = Outcome {
        accounts: vec![
            texts(&["got a1", "got a2"]),
            texts(&["got b1", "got b2"]),
            texts(&["published 5"]),
        ],
        // All five publications reach both SUBs; each delivers its two matches and
        // drops the other three as unsubscribed, where on ZMTP the publisher never
        // sent them (the ZMTP test above has no drops for the same traffic).
        arrived: 4,
        survey_expired: 0,
        faults: [("sub-a", ["b1", "c1", "b2"]), ("sub-b", ["a1", "c1", "a2"])]
            .into_iter()
            .flat_map(|(_, bodies)| bodies)
            .map(|body| {
                DriverEvent::Socket(SocketEvent::Dropped {
                    pipe: Some(1),
                    reason: DropReason::Unsubscribed,
                    msg: Msg::new(body),
                })
            })
            .collect(),
    };
    check_parity(&SP_PUB_SUB, &expected);
}

// PUSH → PULL ×2, round robin.

fn push_four(node: &Node) -> Account<'_> {
    Box::pin(async move {
        node.connections(2).await;
        for i in 0..4 {
            node.send_text(format!("m{i}")).await;
        }
        texts(&["pushed 4"])
    })
}

fn new_pull() -> Box<dyn SocketCore> {
    Box::new(Pull::new(SocketOptions::default()))
}

static PUSH_PULL: [NodeSpec; 3] = [
    NodeSpec {
        name: "pusher",
        zmtp: false,
        make_core: || Box::new(Push::new(SocketOptions::default())),
        binds: true,
        connects: &[],
        behave: push_four,
    },
    NodeSpec {
        name: "puller1",
        zmtp: false,
        make_core: new_pull,
        binds: false,
        connects: &[0],
        behave: take_two,
    },
    NodeSpec {
        name: "puller2",
        zmtp: false,
        make_core: new_pull,
        binds: false,
        connects: &[0],
        behave: take_two,
    },
];

/// Round robin alternates: one puller gets the even messages, the other the odd.
#[test]
fn push_round_robin_to_two_pulls_agrees_over_tokio_and_the_simulator() {
    let expected = Outcome {
        accounts: vec![
            texts(&["got m0", "got m2"]),
            texts(&["got m1", "got m3"]),
            texts(&["pushed 4"]),
        ],
        arrived: 4,
        survey_expired: 0,
        faults: vec![],
    };
    check_parity(&PUSH_PULL, &expected);
}

// PAIR ↔ PAIR: three pings, three pongs.

const PINGS: usize = 3;

fn pair_serve(node: &Node) -> Account<'_> {
    Box::pin(async move {
        let mut served = Vec::new();
        for _ in 0..PINGS {
            let ping = node.recv_text().await;
            node.send_text(format!("pong to {ping}")).await;
            served.push(format!("served {ping}"));
        }
        served
    })
}

fn pair_ping(node: &Node) -> Account<'_> {
    Box::pin(async move {
        for i in 0..PINGS {
            node.send_text(format!("ping {i}")).await;
        }
        let mut got = Vec::new();
        for _ in 0..PINGS {
            got.push(format!("got {}", node.recv_text().await));
        }
        got
    })
}

fn new_pair() -> Box<dyn SocketCore> {
    Box::new(Pair::new(SocketOptions::default()))
}

static PAIR_PAIR: [NodeSpec; 2] = [
    NodeSpec {
        name: "server",
        zmtp: false,
        make_core: new_pair,
        binds: true,
        connects: &[],
        behave: pair_serve,
    },
    NodeSpec {
        name: "client",
        zmtp: false,
        make_core: new_pair,
        binds: false,
        connects: &[0],
        behave: pair_ping,
    },
];

#[test]
fn pair_to_pair_agrees_over_tokio_and_the_simulator() {
    let expected = Outcome {
        accounts: vec![
            texts(&["got pong to ping 0", "got pong to ping 1", "got pong to ping 2"]),
            texts(&["served ping 0", "served ping 1", "served ping 2"]),
        ],
        arrived: 2 * PINGS,
        survey_expired: 0,
        faults: vec![],
    };
    check_parity(&PAIR_PAIR, &expected);
}

// XPUB → XSUB on ZMTP: the subscription travels upstream as a message that the XPUB's
// application sees (how a FORWARDER passes subscriptions on), and the XPUB then
// filters for that pipe. XSUB itself does not filter, so only the publisher's
// filtering keeps "b1" away.

/// Waits for the subscription message, then publishes three topics.
fn xpublish(node: &Node) -> Account<'_> {
    Box::pin(async move {
        let subscription = node.recv_text().await;
        for topic in ["a1", "b1", "a2"] {
            node.send_text(topic).await;
        }
        vec![format!("subscription {subscription:?}"), "published 3".to_owned()]
    })
}

/// Subscribes to "a" by sending the subscription upstream, then takes two messages.
fn xsubscribe(node: &Node) -> Account<'_> {
    Box::pin(async move {
        node.send_text("\u{1}a").await;
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(format!("got {}", node.recv_text().await));
        }
        got
    })
}

static XPUB_XSUB: [NodeSpec; 2] = [
    NodeSpec {
        name: "xpub",
        zmtp: true,
        make_core: || Box::new(Publisher::new_xpub(zmtp())),
        binds: true,
        connects: &[],
        behave: xpublish,
    },
    NodeSpec {
        name: "xsub",
        zmtp: true,
        make_core: || Box::new(Subscriber::new_xsub(zmtp())),
        binds: false,
        connects: &[0],
        behave: xsubscribe,
    },
];

#[test]
fn xpub_to_xsub_passes_the_subscription_up_and_filters_over_tokio_and_the_simulator() {
    let expected = Outcome {
        // Messages arrive in order a1, b1, a2, so "got a2" second shows b1 was filtered.
        accounts: vec![
            texts(&["got a1", "got a2"]),
            texts(&["subscription \"\\u{1}a\"", "published 3"]),
        ],
        // At the XPUB: the subscription, and its cancel when the XSUB's pipe goes at
        // the end (libzmq's XPUB reports a departed subscriber's prefixes as cancels).
        // At the XSUB: the two matching messages; "b1" was never even queued.
        arrived: 4,
        survey_expired: 0,
        faults: vec![],
    };
    check_parity(&XPUB_XSUB, &expected);
}
