//! The driver's bounds against peers and machines, under turmoil where time is exact:
//! the handshake deadline on both sides of a connection, and an accept loop that runs
//! out of descriptors backing off while it keeps serving (docs/limits.md).
//!
//! The same bounds over real TCP, with raw sockets as the bad peers, are in
//! `tests/hostile.rs`.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::tests::{EventLog, LATENCY, PORT, listen_addr, server_addr, sim, start};
use super::transport::Transport;
use super::{DriverEvent, TurmoilTcp, spawn_socket};
use crate::socket::{Msg, Rep, Req, SocketBuffers, SocketOptions};

const HANDSHAKE_IVL: Duration = Duration::from_secs(2);
/// A REQ's SP handshake, 8 bytes; a half-handshake peer sends the first 7.
const REQ_HANDSHAKE: [u8; 8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00];

/// A REP that answers every request with the request, until the simulation ends.
fn echo_server(sim: &mut turmoil::Sim<'static>, options: SocketOptions, log: &EventLog) {
    let log = log.clone();
    sim.host("server", move || {
        let (options, log) = (options.clone(), log.clone());
        async move {
            let core = Box::new(Rep::new(options.clone()));
            let rep = start(core, &options, vec![listen_addr()], vec![], &log).await;
            loop {
                let request = rep.recv().await.expect("request");
                rep.send(request).await.expect("reply");
            }
        }
    });
}

/// Regression (issue 17): a peer that sent 7 of the 8 handshake bytes was held for
/// ever. Now the REP closes it at its deadline, and serves a good REQ meanwhile.
#[test]
fn a_half_handshake_peer_is_closed_at_the_deadline_while_a_good_peer_is_served() {
    let mut sim = sim(64);
    let server_log = EventLog::default();
    let options = SocketOptions { handshake_ivl: Some(HANDSHAKE_IVL), ..SocketOptions::default() };
    echo_server(&mut sim, options, &server_log);
    let held_for = Rc::new(Cell::new(None));
    let held = Rc::clone(&held_for);
    sim.client("bad", async move {
        let mut stream = turmoil::net::TcpStream::connect(server_addr()).await?;
        let opened = Instant::now();
        stream.write_all(&REQ_HANDSHAKE[..7]).await?;
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        held.set(Some((opened.elapsed(), rest.len())));
        Ok(())
    });
    let replied_at = Rc::new(Cell::new(None));
    let replied = Rc::clone(&replied_at);
    sim.client("good", async move {
        crate::net::timer::sleep(HANDSHAKE_IVL / 2).await;
        let options = SocketOptions::default();
        let core = Box::new(Req::new(options.clone(), 7));
        let req = start(core, &options, vec![], vec![server_addr()], &EventLog::default()).await;
        req.send(Msg::new("while a bad peer waits")).await.expect("send");
        req.recv().await.expect("reply");
        replied.set(Some(Instant::now()));
        req.close().await;
        Ok(())
    });
    let started = Instant::now();
    sim.run().expect("simulation");
    let (held_for, sent_back) = held_for.get().expect("the bad peer saw its connection end");
    // The REP's own 8 handshake bytes came first; then the close, at the deadline
    // counted from the accept (when the connect returned, under turmoil), heard one
    // latency later.
    assert_eq!(sent_back, 8);
    assert_eq!(held_for, HANDSHAKE_IVL + LATENCY);
    let errors = server_log.find(|_, event| match event {
        DriverEvent::ProtocolError { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(errors, vec!["handshake not finished within 2s (handshake_ivl): closed"]);
    let replied = replied_at.get().expect("the good REQ was served");
    assert!(replied.duration_since(started) < HANDSHAKE_IVL, "served only after the deadline");
}

/// The deadline holds on the connecting side too: a listener that accepts and says
/// nothing costs a connect one deadline, then the REQ reconnects.
#[test]
fn a_connect_to_a_silent_listener_fails_at_the_deadline_and_retries() {
    const RECONNECT_IVL: Duration = Duration::from_millis(100);
    let mut sim = sim(64);
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(listen_addr()).await?;
        let mut held = Vec::new();
        loop {
            held.push(listener.accept().await?);
        }
    });
    let log = EventLog::default();
    let client_log = log.clone();
    sim.client("client", async move {
        let options = SocketOptions {
            handshake_ivl: Some(HANDSHAKE_IVL),
            reconnect_ivl: RECONNECT_IVL,
            ..SocketOptions::default()
        };
        let core = Box::new(Req::new(options.clone(), 7));
        let req = start(core, &options, vec![], vec![server_addr()], &client_log).await;
        crate::net::timer::sleep((HANDSHAKE_IVL + RECONNECT_IVL) * 3).await;
        drop(req);
        Ok(())
    });
    sim.run().expect("simulation");
    let failures = log.find(|at, event| match event {
        DriverEvent::ConnectFailed { reason, out_of_descriptors, .. } => {
            Some((at, reason.clone(), *out_of_descriptors))
        }
        _ => None,
    });
    let reasons: Vec<(&str, bool)> = failures.iter().map(|(_, r, o)| (r.as_str(), *o)).collect();
    let timed_out = ("handshake not finished within 2s (handshake_ivl): closed", false);
    assert_eq!(reasons, vec![timed_out; 3]);
    // Each attempt: the connect (one latency: turmoil completes it when the SYN
    // arrives, as `failed_connect_gaps` sees for refusals), the deadline, the pause.
    let gaps: Vec<Duration> = failures.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let attempt = LATENCY + HANDSHAKE_IVL + RECONNECT_IVL;
    assert_eq!(gaps, vec![attempt; 2]);
}

/// A transport whose accepts fail with EMFILE while `failures_left` lasts, as a
/// process out of descriptors does: the connection it took is dropped.
#[derive(Clone)]
struct OutOfDescriptors {
    failures_left: Rc<Cell<u32>>,
}

impl Transport for OutOfDescriptors {
    type Stream = turmoil::net::TcpStream;
    type Listener = turmoil::net::TcpListener;

    async fn bind(
        &self,
        addr: SocketAddr,
        buffers: SocketBuffers,
    ) -> io::Result<(Self::Listener, SocketAddr)> {
        TurmoilTcp.bind(addr, buffers).await
    }

    async fn accept(&self, listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        let accepted = TurmoilTcp.accept(listener).await?;
        let left = self.failures_left.get();
        if left == 0 {
            return Ok(accepted);
        }
        self.failures_left.set(left - 1);
        Err(io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error()))
    }

    async fn connect(&self, addr: SocketAddr, buffers: SocketBuffers) -> io::Result<Self::Stream> {
        TurmoilTcp.connect(addr, buffers).await
    }
}

const FAILURES: u32 = 4;
const REQUESTS: usize = 30;
const REQUEST_GAP: Duration = Duration::from_millis(100);

/// A REQ that sends `REQUESTS` requests `REQUEST_GAP` apart from `at`, counting replies.
fn requester(sim: &mut turmoil::Sim<'static>, name: &str, at: Duration, served: Rc<Cell<usize>>) {
    sim.client(name, async move {
        crate::net::timer::sleep(at).await;
        let options = SocketOptions::default();
        let core = Box::new(Req::new(options.clone(), 7));
        let req = start(core, &options, vec![], vec![server_addr()], &EventLog::default()).await;
        for i in 0..REQUESTS {
            req.send(Msg::new(format!("r{i}"))).await.expect("send");
            req.recv().await.expect("reply");
            served.set(served.get() + 1);
            crate::net::timer::sleep(REQUEST_GAP).await;
        }
        req.close().await;
        Ok(())
    });
}

/// Regression (issue 17): accept errors were swallowed. Now each is an event that says
/// the process ran out of descriptors, the loop pauses longer each time, and the
/// connection it already had is served throughout.
#[test]
fn an_accept_loop_out_of_descriptors_backs_off_and_keeps_serving() {
    let mut sim = sim(64);
    let failures_left = Rc::new(Cell::new(0));
    let server_log = EventLog::default();
    let (log, left) = (server_log.clone(), Rc::clone(&failures_left));
    sim.host("server", move || {
        let transport = OutOfDescriptors { failures_left: Rc::clone(&left) };
        let log = log.clone();
        async move {
            let options = SocketOptions::default();
            let core = Box::new(Rep::new(options.clone()));
            let epoch = Instant::now();
            let rep = spawn_socket(
                transport,
                core,
                &options,
                vec![listen_addr()],
                vec![],
                epoch,
                log.sink(),
            )
            .await?;
            loop {
                let request = rep.recv().await.expect("request");
                rep.send(request).await.expect("reply");
            }
        }
    });
    let first_served = Rc::new(Cell::new(0));
    requester(&mut sim, "first", Duration::ZERO, Rc::clone(&first_served));
    // The descriptors run out once the first REQ is connected; a second one comes.
    let late_at = Duration::from_millis(500);
    let left = Rc::clone(&failures_left);
    sim.client("limit", async move {
        crate::net::timer::sleep(late_at - LATENCY * 4).await;
        left.set(FAILURES);
        Ok(())
    });
    let late_served = Rc::new(Cell::new(0));
    requester(&mut sim, "late", late_at, Rc::clone(&late_served));
    sim.run().expect("simulation");
    assert_eq!((first_served.get(), late_served.get()), (REQUESTS, REQUESTS));
    let failed = server_log.find(|at, event| match event {
        DriverEvent::AcceptFailed { addr, out_of_descriptors, .. } => {
            Some((at, addr.port(), *out_of_descriptors))
        }
        _ => None,
    });
    assert_eq!(failed.iter().map(|f| (f.1, f.2)).collect::<Vec<_>>(), vec![(PORT, true); 4]);
    // The pause doubles from reconnect_ivl (100 ms); the late REQ reconnects every
    // 100 ms, so each accept after a pause finds it waiting.
    let gaps: Vec<Duration> = failed.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let pauses = [100, 200, 400].map(Duration::from_millis);
    for (gap, pause) in gaps.iter().zip(pauses) {
        assert!(*gap >= pause && *gap < pause + REQUEST_GAP, "gaps {gaps:?}");
    }
}
