//! Backend parity: one request-reply exchange, written once against `Transport`, run
//! over real TCP (tokio on 127.0.0.1, what `cargo xtask real` runs) and over the
//! transport `cargo xtask sim` runs (the simulator's fault shim over turmoil's TCP,
//! `patchbay::run::SimNetwork`), with the same assertions both ways and the two
//! outcomes compared for equality.
//!
//! The exchange is 100 REQ→REP round trips and a DEALER→ROUTER exchange in which the
//! DEALER carries its own request ids, as NNG's raw REQ does. Same code, same
//! results: that is what lets a simulated run stand for a real one.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use patchbay::net::{DriverEvent, EventSink, SocketHandle, TokioTcp, Transport, spawn_socket};
use patchbay::plan::{GroupId, Replica};
use patchbay::run::SimNetwork;
use patchbay::socket::{Dealer, Msg, REQUEST_ID_BIT, Rep, Req, Router, SocketEvent, SocketOptions};

use crate::util::is_fault;

const ROUND_TRIPS: usize = 100;
const DEALER_MSGS: u32 = 3;
/// Ports the servers bind under turmoil, where a client cannot learn an ephemeral
/// port from another host without a side channel.
const SIM_REP_PORT: u16 = 5555;
const SIM_ROUTER_PORT: u16 = 5556;
/// The two simulated replicas, as the shim names them to each other.
const SERVER: Replica = Replica { group: GroupId(0), index: 0 };
const CLIENT: Replica = Replica { group: GroupId(1), index: 0 };

/// Every driver event of one side, in order, with its time. Only the turmoil runs
/// compare times: real time differs from run to run by nature.
#[derive(Clone, Default)]
struct EventLog(Rc<RefCell<Vec<(Duration, DriverEvent)>>>);

impl EventLog {
    fn sink(&self) -> EventSink {
        let log = Rc::clone(&self.0);
        Rc::new(move |at: Duration, event: DriverEvent| log.borrow_mut().push((at, event)))
    }

    fn events(&self) -> Vec<DriverEvent> {
        self.0.borrow().iter().map(|(_, event)| event.clone()).collect()
    }

    fn count(&self, matches: impl Fn(&DriverEvent) -> bool) -> usize {
        self.events().iter().filter(|event| matches(event)).count()
    }
}

/// What one run produced, compared across the backends.
#[derive(Debug, PartialEq)]
struct Outcome {
    rep_replies: Vec<Bytes>,
    dealer_replies: Vec<Msg>,
    client_connected: usize,
    server_connected: usize,
    client_arrived: usize,
    server_arrived: usize,
    /// Faults of any kind on either side: protocol errors, failed connects, drops,
    /// panics. A clean exchange has none.
    faults: Vec<DriverEvent>,
}

struct Servers {
    rep: SocketHandle,
    router: SocketHandle,
}

async fn start_servers<T: Transport>(
    transport: T,
    rep_at: SocketAddr,
    router_at: SocketAddr,
    log: &EventLog,
) -> Servers {
    let options = SocketOptions::default();
    let epoch = tokio::time::Instant::now();
    let rep = Box::new(Rep::new(options.clone()));
    let rep =
        spawn_socket(transport.clone(), rep, &options, vec![rep_at], vec![], epoch, log.sink());
    let router = Box::new(Router::new(options.clone()));
    let router =
        spawn_socket(transport, router, &options, vec![router_at], vec![], epoch, log.sink());
    Servers { rep: rep.await.expect("bind REP"), router: router.await.expect("bind ROUTER") }
}

/// Echoes every request and acknowledges every DEALER message, then closes both.
async fn serve(servers: Servers) {
    let rep = async {
        for _ in 0..ROUND_TRIPS {
            let request = servers.rep.recv().await.expect("REP recv");
            let reply = [&b"echo:"[..], &request.body[..]].concat();
            servers.rep.send(Msg::new(reply)).await.expect("REP send");
        }
    };
    let router = async {
        for _ in 0..DEALER_MSGS {
            let msg = servers.router.recv().await.expect("ROUTER recv");
            assert_eq!(msg.header.len(), 2, "ROUTER sees [hop id, request id]: {msg:?}");
            let body = [&b"ack:"[..], &msg.body[..]].concat();
            servers
                .router
                .send(Msg { header: msg.header, body: body.into() })
                .await
                .expect("ROUTER send");
        }
    };
    tokio::join!(rep, router);
    servers.rep.close().await;
    servers.router.close().await;
}

async fn run_client<T: Transport>(
    transport: T,
    rep_addr: SocketAddr,
    router_addr: SocketAddr,
    log: &EventLog,
) -> (Vec<Bytes>, Vec<Msg>) {
    let options = SocketOptions::default();
    let epoch = tokio::time::Instant::now();
    let req = Box::new(Req::new(options.clone(), 1));
    let req =
        spawn_socket(transport.clone(), req, &options, vec![], vec![rep_addr], epoch, log.sink());
    let req = req.await.expect("REQ has nothing to bind");
    let mut rep_replies = Vec::new();
    for i in 0..ROUND_TRIPS {
        req.send(Msg::new(format!("ping {i}"))).await.expect("REQ send");
        let reply = req.recv().await.expect("REQ recv");
        assert!(reply.header.is_empty(), "REQ strips the request id: {reply:?}");
        rep_replies.push(reply.body);
    }
    req.close().await;

    let dealer = Box::new(Dealer::new(options.clone()));
    let dealer =
        spawn_socket(transport, dealer, &options, vec![], vec![router_addr], epoch, log.sink());
    let dealer = dealer.await.expect("DEALER has nothing to bind");
    for i in 1..=DEALER_MSGS {
        let msg = Msg { header: vec![REQUEST_ID_BIT | i], body: Bytes::from(format!("job {i}")) };
        dealer.send(msg).await.expect("DEALER send");
    }
    let mut dealer_replies = Vec::new();
    for _ in 0..DEALER_MSGS {
        dealer_replies.push(dealer.recv().await.expect("DEALER recv"));
    }
    dealer.close().await;
    (rep_replies, dealer_replies)
}

fn outcome(replies: (Vec<Bytes>, Vec<Msg>), client: &EventLog, server: &EventLog) -> Outcome {
    let connected = |event: &DriverEvent| matches!(event, DriverEvent::Connected { .. });
    let arrived =
        |event: &DriverEvent| matches!(event, DriverEvent::Socket(SocketEvent::Arrived { .. }));
    let mut faults = client.events();
    faults.extend(server.events());
    faults.retain(is_fault);
    Outcome {
        rep_replies: replies.0,
        dealer_replies: replies.1,
        client_connected: client.count(connected),
        server_connected: server.count(connected),
        client_arrived: client.count(arrived),
        server_arrived: server.count(arrived),
        faults,
    }
}

/// The assertions both backends must pass.
fn check(outcome: &Outcome) {
    assert_eq!(outcome.faults, vec![], "a clean exchange has no faults");
    let expected: Vec<Bytes> =
        (0..ROUND_TRIPS).map(|i| Bytes::from(format!("echo:ping {i}"))).collect();
    assert_eq!(outcome.rep_replies, expected);
    let expected: Vec<Msg> = (1..=DEALER_MSGS)
        .map(|i| Msg {
            header: vec![REQUEST_ID_BIT | i],
            body: Bytes::from(format!("ack:job {i}")),
        })
        .collect();
    assert_eq!(outcome.dealer_replies, expected, "DEALER gets the request id back as its header");
    assert_eq!((outcome.client_connected, outcome.server_connected), (2, 2));
    let messages = ROUND_TRIPS + DEALER_MSGS as usize;
    assert_eq!((outcome.client_arrived, outcome.server_arrived), (messages, messages));
}

fn run_over_tokio() -> Outcome {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let (client, server) = (EventLog::default(), EventLog::default());
    let replies = local.block_on(&runtime, async {
        let any_port = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let servers = start_servers(TokioTcp, any_port, any_port, &server).await;
        let rep_addr = servers.rep.local_addrs()[0];
        let router_addr = servers.router.local_addrs()[0];
        let serving = tokio::task::spawn_local(serve(servers));
        let replies = run_client(TokioTcp, rep_addr, router_addr, &client).await;
        serving.await.expect("server task");
        replies
    });
    outcome(replies, &client, &server)
}

/// Over the simulator's own transport: the fault shim, with no fault, over turmoil.
/// Returns the outcome and both timed traces, client's first.
fn run_over_sim() -> (Outcome, Vec<(Duration, DriverEvent)>) {
    let mut sim = turmoil::Builder::new()
        .rng_seed(0x5eed)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .simulation_duration(Duration::from_secs(60))
        .tcp_capacity(SimNetwork::TCP_CAPACITY)
        .build();
    let (client, server) = (EventLog::default(), EventLog::default());
    let net = SimNetwork::default();
    let (server_log, server_net) = (server.clone(), net.clone());
    let server_ip = sim.lookup("server");
    sim.host("server", move || {
        let (log, transport) = (server_log.clone(), server_net.transport(SERVER, server_ip));
        async move {
            let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            let rep_at = SocketAddr::new(any, SIM_REP_PORT);
            let router_at = SocketAddr::new(any, SIM_ROUTER_PORT);
            serve(start_servers(transport, rep_at, router_at, &log).await).await;
            Ok(())
        }
    });
    let (rep_addr, router_addr) =
        (SocketAddr::new(server_ip, SIM_REP_PORT), SocketAddr::new(server_ip, SIM_ROUTER_PORT));
    net.listens_at(rep_addr, SERVER);
    net.listens_at(router_addr, SERVER);
    let replies = Rc::new(RefCell::new(None));
    let (client_log, client_replies) = (client.clone(), Rc::clone(&replies));
    sim.client("client", async move {
        let got = run_client(
            net.transport(CLIENT, turmoil::lookup("client")),
            rep_addr,
            router_addr,
            &client_log,
        )
        .await;
        *client_replies.borrow_mut() = Some(got);
        Ok(())
    });
    sim.run().expect("simulation");
    let replies = replies.borrow_mut().take().expect("client finished");
    let mut trace = client.0.borrow().clone();
    trace.extend(server.0.borrow().iter().cloned());
    (outcome(replies, &client, &server), trace)
}

#[test]
fn req_rep_and_dealer_router_agree_over_tokio_and_the_simulator() {
    let over_tokio = run_over_tokio();
    check(&over_tokio);
    let (over_sim, _) = run_over_sim();
    check(&over_sim);
    assert_eq!(over_tokio, over_sim);
}

/// The same seed gives the same trace, to the microsecond: nothing in the driver
/// reads the wall clock, draws OS randomness or iterates in an unstable order.
#[test]
fn simulated_runs_repeat_exactly() {
    let (_, first) = run_over_sim();
    let (_, second) = run_over_sim();
    assert!(first.len() > 200, "a trace worth comparing: {} events", first.len());
    assert_eq!(first, second);
}

/// The simulated side of these tests runs over the simulator's fault shim, not over
/// plain turmoil TCP: a connect to a port a turmoil listener holds, but that no
/// replica was registered at (`SimNetwork::listens_at`), is refused by the shim,
/// where turmoil alone would have accepted it.
#[test]
fn the_simulated_side_runs_over_the_fault_shim() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(0x5eed)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .simulation_duration(Duration::from_secs(60))
        .tcp_capacity(SimNetwork::TCP_CAPACITY)
        .build();
    let net = SimNetwork::default();
    let server_net = net.clone();
    let server_ip = sim.lookup("server");
    sim.host("server", move || {
        let transport = server_net.transport(SERVER, server_ip);
        async move {
            let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            let (rep_at, router_at) =
                (SocketAddr::new(any, SIM_REP_PORT), SocketAddr::new(any, SIM_ROUTER_PORT));
            let _servers = start_servers(transport, rep_at, router_at, &EventLog::default()).await;
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let failures = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&failures);
    sim.client("client", async move {
        let failed = Rc::new(tokio::sync::Notify::new());
        let (signal, seen) = (Rc::clone(&failed), Rc::clone(&seen));
        let sink: EventSink = Rc::new(move |_: Duration, event: DriverEvent| {
            if let DriverEvent::ConnectFailed { reason, .. } = event {
                seen.borrow_mut().push(reason);
                signal.notify_one();
            }
        });
        let rep = SocketAddr::new(turmoil::lookup("server"), SIM_REP_PORT);
        let options = SocketOptions::default();
        let req = Box::new(Req::new(options.clone(), 1));
        let epoch = tokio::time::Instant::now();
        let transport = net.transport(CLIENT, turmoil::lookup("client"));
        let _req = spawn_socket(transport, req, &options, vec![], vec![rep], epoch, sink).await?;
        failed.notified().await;
        Ok(())
    });
    sim.run().expect("the client sees its connect fail");
    let failures = failures.borrow();
    assert!(!failures.is_empty());
    assert!(failures[0].contains("refused"), "the shim refuses it: {:?}", failures[0]);
}
