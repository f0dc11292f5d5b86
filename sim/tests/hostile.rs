//! Hostile peers over real TCP: raw `std::net` sockets that stop half-way through a
//! handshake or send a length no machine could hold, against a patchbay REP that
//! keeps serving a good peer (docs/limits.md). The same bounds under simulated time
//! are in `sim/src/net/tests_limits.rs`.
//!
//! The bad peers run on plain threads with blocking sockets and a read timeout that
//! only guards against a hang: each waits for patchbay to close its connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use patchbay::net::{DriverEvent, EventSink, SocketHandle, TokioTcp, spawn_socket};
use patchbay::socket::{Msg, Rep, Req, SocketOptions};

use crate::interop::NngPeer;
use crate::util::{EventLog, loopback, run_local};

/// A guard against a hung test, not a wait for anything.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const REQ_HANDSHAKE: [u8; 8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00];

/// The reasons of the protocol errors `log` holds, in order.
fn protocol_errors(log: &EventLog) -> Vec<String> {
    log.find(|event| match event {
        DriverEvent::ProtocolError { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

/// A REP on 127.0.0.1 that answers every request with `echo:` and its body (what
/// `interop/nng_peer.py` checks) until the test ends.
async fn echo_rep(options: SocketOptions, log: &EventLog) -> Rc<SocketHandle> {
    let epoch = tokio::time::Instant::now();
    let core = Box::new(Rep::new(options.clone()));
    let rep = spawn_socket(TokioTcp, core, &options, vec![loopback(0)], vec![], epoch, log.sink())
        .await
        .expect("bind REP");
    let rep = Rc::new(rep);
    let serving = Rc::clone(&rep);
    tokio::task::spawn_local(async move {
        loop {
            let Ok(request) = serving.recv().await else { return };
            let reply = Msg { body: [&b"echo:"[..], &request.body[..]].concat().into(), ..request };
            let _ = serving.send(reply).await;
        }
    });
    rep
}

/// A blocking peer that connects, sends `bytes` and reads until patchbay closes the
/// connection. Returns what it read, or `None` if the connection outlived the guard.
fn bad_peer(addr: SocketAddr, bytes: Vec<u8>) -> std::thread::JoinHandle<Option<Vec<u8>>> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(STEP_TIMEOUT)).expect("read timeout");
        // patchbay may close before every byte is written; that is what is tested.
        let _ = stream.write_all(&bytes);
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => return Some(got),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return None,
                // A reset (our unread bytes) is a close too.
                Err(_) => return Some(got),
            }
        }
    })
}

async fn join(peer: std::thread::JoinHandle<Option<Vec<u8>>>) -> Option<Vec<u8>> {
    tokio::task::spawn_blocking(move || peer.join().expect("bad peer thread")).await.expect("join")
}

/// A REQ that sends `count` requests to `addr` and returns how many were answered.
async fn good_req(addr: SocketAddr, count: usize) -> usize {
    let options = SocketOptions::default();
    let core = Box::new(Req::new(options.clone(), 1));
    let epoch = tokio::time::Instant::now();
    let sink: EventSink = Rc::new(|_, _| {});
    let req = spawn_socket(TokioTcp, core, &options, vec![], vec![addr], epoch, sink)
        .await
        .expect("REQ binds nothing");
    let mut answered = 0;
    for i in 0..count {
        req.send(Msg::new(format!("good {i}"))).await.expect("send");
        let reply = tokio::time::timeout(STEP_TIMEOUT, req.recv()).await;
        if reply.is_ok_and(|r| r.is_ok_and(|m| m.body == format!("echo:good {i}"))) {
            answered += 1;
        }
    }
    req.close().await;
    answered
}

/// Regression (issue 17): peers that sent nothing, or 7 of the 8 handshake bytes,
/// were held for ever on every socket type. Now each is closed at the deadline with
/// a recorded reason, and good REQs, patchbay's and NNG's (pynng), are served by the
/// same REP alongside them. (That the good peer is served while the bad ones are
/// still held is asserted at exact simulated times in `net/tests_limits.rs`.)
#[test]
fn half_handshake_peers_are_closed_at_the_deadline_while_good_reqs_are_served() {
    run_local(async {
        let log = EventLog::default();
        let ivl = Duration::from_millis(300);
        let rep =
            echo_rep(SocketOptions { handshake_ivl: Some(ivl), ..SocketOptions::default() }, &log)
                .await;
        let addr = rep.local_addrs()[0];
        let silent = bad_peer(addr, Vec::new());
        let seven = bad_peer(addr, REQ_HANDSHAKE[..7].to_vec());
        assert_eq!(good_req(addr, 5).await, 5);
        let url = format!("tcp://{addr}");
        let mut nng = NngPeer::start(&["req", "--dial", &url, "--count", "5"]);
        nng.expect("NNG ").await;
        assert_eq!(nng.expect("OK").await, "OK 5");
        nng.finish();
        for (what, peer) in [("silent", silent), ("seven bytes", seven)] {
            let got = join(peer).await;
            let got = got.unwrap_or_else(|| panic!("{what}: still open after {STEP_TIMEOUT:?}"));
            assert_eq!(got, rep_handshake(), "{what}: the REP's handshake, then the close");
        }
        let reason = "handshake not finished within 300ms (handshake_ivl): closed";
        assert_eq!(protocol_errors(&log), vec![reason, reason]);
    });
}

fn rep_handshake() -> [u8; 8] {
    [0x00, 0x53, 0x50, 0x00, 0x00, 0x31, 0x00, 0x00]
}

/// The bytes after a length prefix in the attack tests.
const FOLLOWING_BYTES: usize = 8 << 20;

/// A handshake, a length prefix of `len`, then `FOLLOWING_BYTES` of zeros.
fn prefixed(len: u64) -> Vec<u8> {
    let mut bytes = REQ_HANDSHAKE.to_vec();
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.resize(bytes.len() + FOLLOWING_BYTES, 0);
    bytes
}

/// Regression (issue 17): with the receive limit unlimited (the default), a 2^62
/// length kept the connection open and patchbay buffered whatever followed. Now it is
/// refused from the prefix: the connection closes at once and the socket's buffered
/// bytes never reach one read's worth, while a good REQ is served.
#[test]
fn a_2_62_length_prefix_closes_at_once_with_the_default_limit() {
    run_local(async {
        let log = EventLog::default();
        let rep = echo_rep(SocketOptions::default(), &log).await;
        assert_eq!(SocketOptions::default().rcvmaxsize_bytes, None, "the default is unlimited");
        let addr = rep.local_addrs()[0];
        let got = join(bad_peer(addr, prefixed(1 << 62))).await;
        assert_eq!(got, Some(rep_handshake().to_vec()), "closed before the guard ran out");
        assert_eq!(
            protocol_errors(&log),
            vec![
                "message length 4611686018427387904 exceeds the hard ceiling of 4294967296 \
                 bytes, refused whatever the receive limit"
            ]
        );
        let peak = rep.rx_buffered_bytes_peak();
        eprintln!("2^62 prefix then {FOLLOWING_BYTES} bytes: peak buffered {peak} bytes");
        assert!(peak <= 1 << 20, "buffered {peak} bytes of a refused message");
        assert_eq!(rep.rx_buffered_bytes(), 0);
        assert_eq!(good_req(addr, 3).await, 3);
    });
}

/// A length under the ceiling with an unlimited limit is buffered as it arrives and
/// no faster: memory follows the bytes sent, not the prefix. The counter the attack
/// test relies on does count (the message is never finished, so all of it waits).
#[test]
fn a_large_length_under_the_ceiling_buffers_only_what_arrives() {
    run_local(async {
        let log = EventLog::default();
        let rep = echo_rep(SocketOptions::default(), &log).await;
        let addr = rep.local_addrs()[0];
        let bytes = prefixed(1 << 31);
        let peer = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.write_all(&bytes).expect("write everything");
            stream.shutdown(std::net::Shutdown::Write).expect("half-close");
            let mut rest = Vec::new();
            stream.set_read_timeout(Some(STEP_TIMEOUT)).expect("read timeout");
            stream.read_to_end(&mut rest).map(|_| rest.len()).ok()
        });
        let read_back =
            tokio::task::spawn_blocking(move || peer.join().expect("peer")).await.expect("join");
        assert_eq!(read_back, Some(8), "the REP's handshake, then its close at our EOF");
        let peak = rep.rx_buffered_bytes_peak();
        eprintln!("2^31 prefix then {FOLLOWING_BYTES} bytes: peak buffered {peak} bytes");
        assert_eq!(peak, FOLLOWING_BYTES, "everything after the prefix waited, no more");
        assert_eq!(rep.rx_buffered_bytes(), 0, "given back when the connection ended");
        // The peer closed mid-message: a close, which loses the message, not a
        // protocol fault.
        assert_eq!(protocol_errors(&log), Vec::<String>::new());
        let closes = log.find(|event| match event {
            DriverEvent::Disconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        });
        assert_eq!(
            closes,
            vec![format!(
                "connection closed mid-message: got {FOLLOWING_BYTES} of {} bytes",
                1u64 << 31
            )]
        );
    });
}

const IDLE_PEERS: usize = 2000;

/// Descriptors this process holds, from `/proc/self/fd` (Linux); a figure for the
/// log, not an assertion, since other tests of the binary open descriptors too.
fn descriptors_open() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Regression (issue 17): 2,000 idle peers stayed open after 20 s. Now every one is
/// closed at the deadline with its reason, and a good REQ is served after them.
#[test]
fn two_thousand_idle_peers_are_all_closed_at_the_deadline() {
    run_local(async {
        let log = EventLog::default();
        let ivl = Duration::from_millis(500);
        let rep =
            echo_rep(SocketOptions { handshake_ivl: Some(ivl), ..SocketOptions::default() }, &log)
                .await;
        let addr = rep.local_addrs()[0];
        let before = descriptors_open();
        let peers = std::thread::spawn(move || {
            let streams: Vec<TcpStream> =
                (0..IDLE_PEERS).map(|_| TcpStream::connect(addr).expect("connect")).collect();
            let held = descriptors_open();
            let closed = streams.into_iter().filter(|stream| {
                stream.set_read_timeout(Some(STEP_TIMEOUT)).expect("read timeout");
                let mut rest = Vec::new();
                (&*stream).read_to_end(&mut rest).is_ok()
            });
            (held, closed.count())
        });
        let (held, closed) =
            tokio::task::spawn_blocking(move || peers.join().expect("peers")).await.expect("join");
        let after = descriptors_open();
        eprintln!(
            "{IDLE_PEERS} idle peers: {before} descriptors before, {held} with every peer connected \
             (its own ends included), {after} after the {ivl:?} deadline"
        );
        assert_eq!(closed, IDLE_PEERS, "peers patchbay closed");
        let errors = protocol_errors(&log);
        assert_eq!(errors.len(), IDLE_PEERS);
        assert!(errors.iter().all(|e| e.starts_with("handshake not finished within 500ms")));
        assert_eq!(good_req(addr, 3).await, 3);
    });
}

/// A REQ client whose REP worker is killed at 500 ms and restarts when the safety
/// phase ends: the client's reconnects meanwhile are refused.
const WORKER_KILLED: &str = "
name: worker-killed-connects-refused
topology: ../topologies/req-rep.yaml
duration: 2s
liveness: 2s
seeds: 1
workload:
  client: {requests: 1000000}
faults:
  - {at: 500ms, kind: kill, node: worker.0}
invariants: [faults_fired]
expect: pass
";

/// Regression (issue 17): `run/node.rs` dropped ConnectFailed from the trace. Each
/// refused reconnect to a killed worker is now there, until the worker is back.
#[test]
fn refused_connects_reach_the_trace_of_a_simulated_run() {
    use patchbay::registry::Registry;
    use patchbay::resolve::load_scenario_source;
    use patchbay::spec::source::SourceFile;
    use patchbay::trace::EventKind;

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("root");
    let path = root.join("scenarios/worker-killed-connects-refused.yaml");
    let registry = Registry::builtin();
    let loaded = load_scenario_source(&SourceFile::new(path, WORKER_KILLED), &registry);
    let plan = loaded.plan.unwrap_or_else(|| panic!("resolves: {:?}", loaded.diagnostics));
    let mut report = patchbay::run::run_seed(&plan, &registry, 1, true);
    let trace = report.trace.take().expect("kept");
    let failed: Vec<(Duration, &str, bool)> = trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConnectFailed { reason, out_of_descriptors } => {
                Some((e.at, reason.as_str(), *out_of_descriptors))
            }
            _ => None,
        })
        .collect();
    eprintln!(
        "{} ConnectFailed, first {:?}, last {:?}",
        failed.len(),
        failed.first(),
        failed.last()
    );
    assert!(!failed.is_empty(), "no ConnectFailed in the trace of a run with a kill");
    for (at, reason, out_of_descriptors) in &failed {
        assert!(*at > Duration::from_millis(500) && *at < Duration::from_secs(2), "{at:?}");
        assert!(reason.contains("refused"), "{reason}");
        assert!(!out_of_descriptors, "turmoil never runs out of descriptors");
    }
}
