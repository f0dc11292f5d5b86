//! The ZMTP interop matrix: patchbay's `library: zeromq` sockets (the driver in
//! `net/`, speaking ZMTP) against a real libzmq 4.3 (pyzmq 26.2.0) over real TCP.
//!
//! One test per valid pair; each runs four cells: patchbay as either type, binding
//! and connecting. Every cell checks the messages, their order, that multipart
//! messages arrive whole (every message is two frames), and where there are
//! subscriptions that they filter (an unmatched message is published and must never
//! arrive). A test names every cell that failed. The libzmq side is
//! `tests/interop/zmq_matrix_peer.py`; its stdout lines are the only waits, each
//! bounded by a timeout, and nothing sleeps.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use patchbay::net::{DriverEvent, EventSink, SocketHandle, TokioTcp, spawn_socket};
use patchbay::socket::{
    Msg, Publisher, REQUEST_ID_BIT, SocketCore, SocketOptions, SocketType, Subscriber, multipart,
};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::util::{self, loopback, run_local};

const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/zmq_matrix_peer.py");
/// A guard against a hung peer, not a wait for one: each step takes milliseconds.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a publisher waits for its subscriber's next line before publishing
/// another round (a PUB cannot see when a subscription has arrived).
const ROUND_POLL: Duration = Duration::from_millis(20);
const COUNT: usize = 5;

/// A running `zmq_matrix_peer.py`, its stdout read on a helper thread (the test
/// harness, not simulated code) and handed to the async test.
pub(crate) struct ZmqPeer {
    child: Child,
    stdin: ChildStdin,
    lines: UnboundedReceiver<String>,
}

impl ZmqPeer {
    fn start(theirs: SocketType, connect: Option<String>) -> Result<ZmqPeer, String> {
        let count = COUNT.to_string();
        ZmqPeer::spawn(PEER_SCRIPT, &[theirs.name(), "--count", &count], connect)
    }

    /// Runs `script` with `args`, binding (`connect` is `None`) or connecting.
    pub(crate) fn spawn(
        script: &str,
        args: &[&str],
        connect: Option<String>,
    ) -> Result<ZmqPeer, String> {
        let mut cmd = Command::new("python3");
        cmd.arg("-u").arg(script).args(args);
        match connect {
            Some(url) => cmd.args(["--connect", &url]),
            None => cmd.arg("--bind"),
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("start python3: {err}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let (tx, lines) = unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(ZmqPeer { child, stdin, lines })
    }

    /// The next line, which must start with `prefix`; the rest of it is returned.
    pub(crate) async fn expect(&mut self, prefix: &str) -> Result<String, String> {
        let line = self.next_line(STEP_TIMEOUT).await?.ok_or("pyzmq peer silent")?;
        line.strip_prefix(prefix)
            .map(str::to_owned)
            .ok_or_else(|| format!("pyzmq peer said {line:?}, wanted {prefix:?}"))
    }

    /// The next line within `wait`, `None` if none came that soon.
    async fn next_line(&mut self, wait: Duration) -> Result<Option<String>, String> {
        match tokio::time::timeout(wait, self.lines.recv()).await {
            Ok(Some(line)) => Ok(Some(line)),
            Ok(None) => Err("pyzmq peer exited early".to_owned()),
            Err(_) => Ok(None),
        }
    }

    pub(crate) fn finish(mut self) -> Result<(), String> {
        let status = util::wait_bounded(&mut self.child, STEP_TIMEOUT, "the pyzmq peer")?;
        if status.success() { Ok(()) } else { Err(format!("pyzmq peer exited with {status}")) }
    }
}

impl Drop for ZmqPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn require_pyzmq() {
    let found = Command::new("python3")
        .args(["-c", "import zmq; assert zmq.pyzmq_version() == '26.2.0'"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "the ZMTP interop matrix needs python3 with pyzmq 26.2.0 (it bundles libzmq 4.3): \
         run `python3 -m pip install pyzmq==26.2.0`; these tests never skip"
    );
}

/// A `library: zeromq` socket's options: ZMTP on the wire.
fn zmtp_options(ours: SocketType) -> SocketOptions {
    let subscribe = if ours == SocketType::Sub { vec![b"news".to_vec()] } else { Vec::new() };
    SocketOptions { zmtp: true, subscribe, req_resend_ivl: None, ..SocketOptions::default() }
}

fn core_for(ours: SocketType, options: SocketOptions) -> Box<dyn SocketCore> {
    use SocketType::*;
    match ours {
        Req => Box::new(patchbay::socket::Req::new(options, 1)),
        Rep => Box::new(patchbay::socket::Rep::new(options)),
        Dealer => Box::new(patchbay::socket::Dealer::new(options)),
        Router => Box::new(patchbay::socket::Router::new(options)),
        Pub => Box::new(Publisher::new_pub(options)),
        XPub => Box::new(Publisher::new_xpub(options)),
        Sub => Box::new(Subscriber::new_sub(options)),
        XSub => Box::new(Subscriber::new_xsub(options)),
        Push => Box::new(patchbay::socket::Push::new(options)),
        Pull => Box::new(patchbay::socket::Pull::new(options)),
        Pair => Box::new(patchbay::socket::Pair::new(options)),
        Surveyor | Respondent | Bus => unreachable!("not a ZeroMQ type"),
    }
}

/// Driver events that mean the wire or the driver broke.
#[derive(Clone, Default)]
pub(crate) struct Faults(Rc<RefCell<Vec<String>>>);

impl Faults {
    /// An error naming every fault seen, if any.
    pub(crate) fn check(&self) -> Result<(), String> {
        let faults = self.0.borrow().clone();
        if faults.is_empty() { Ok(()) } else { Err(format!("driver faults: {faults:?}")) }
    }

    pub(crate) fn sink(&self) -> EventSink {
        let log = Rc::clone(&self.0);
        Rc::new(move |_at: Duration, event: DriverEvent| {
            if let DriverEvent::ProtocolError { reason, .. } = &event {
                log.borrow_mut().push(reason.clone());
            }
            if let DriverEvent::TaskPanicked { message, .. } = &event {
                log.borrow_mut().push(message.clone());
            }
        })
    }
}

fn frames(parts: &[&str]) -> Bytes {
    let frames: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect();
    multipart::encode(&frames)
}

/// A message's frames joined by `|`, as the Python peer prints them.
fn joined(body: &Bytes) -> String {
    let parts: Vec<String> =
        multipart::decode(body).iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    parts.join("|")
}

fn check(what: &str, got: String, want: String) -> Result<(), String> {
    if got == want { Ok(()) } else { Err(format!("{what}: got {got:?}, want {want:?}")) }
}

pub(crate) async fn recv(socket: &SocketHandle) -> Result<Msg, String> {
    match tokio::time::timeout(STEP_TIMEOUT, socket.recv()).await {
        Ok(Ok(msg)) => Ok(msg),
        Ok(Err(err)) => Err(format!("recv: {err:?}")),
        Err(_) => Err(format!("no message within {STEP_TIMEOUT:?}")),
    }
}

pub(crate) async fn send(socket: &SocketHandle, msg: Msg) -> Result<(), String> {
    match tokio::time::timeout(STEP_TIMEOUT, socket.send(msg)).await {
        Ok(result) => result.map_err(|err| format!("send: {err:?}")),
        Err(_) => Err(format!("send blocked for {STEP_TIMEOUT:?}")),
    }
}

/// One cell: patchbay's `ours` against pyzmq's `theirs`, patchbay binding or not.
async fn cell(ours: SocketType, theirs: SocketType, patchbay_binds: bool) -> Result<(), String> {
    let faults = Faults::default();
    let options = zmtp_options(ours);
    let core = core_for(ours, options.clone());
    let epoch = tokio::time::Instant::now();
    let (socket, mut peer) = if patchbay_binds {
        let socket =
            spawn_socket(TokioTcp, core, &options, vec![loopback(0)], vec![], epoch, faults.sink())
                .await
                .map_err(|err| format!("bind: {err}"))?;
        let url = format!("tcp://{}", socket.local_addrs()[0]);
        let mut peer = ZmqPeer::start(theirs, Some(url))?;
        peer.expect("READY ").await?;
        (socket, peer)
    } else {
        let mut peer = ZmqPeer::start(theirs, None)?;
        let port: u16 = peer.expect("READY ").await?.parse().map_err(|_| "bad port")?;
        let socket = spawn_socket(
            TokioTcp,
            core,
            &options,
            vec![],
            vec![loopback(port)],
            epoch,
            faults.sink(),
        )
        .await
        .map_err(|err| format!("connect: {err}"))?;
        (socket, peer)
    };
    play(ours, &socket, &mut peer).await?;
    // A publishing pyzmq peer publishes until told to stop; the others ignore it.
    let _ = writeln!(peer.stdin, "stop");
    peer.expect("OK ").await?;
    socket.close().await;
    peer.finish()?;
    faults.check()
}

/// patchbay's side of a cell, by its socket type.
async fn play(ours: SocketType, socket: &SocketHandle, peer: &mut ZmqPeer) -> Result<(), String> {
    use SocketType::*;
    match ours {
        Req | Dealer | Pair => request(ours, socket, peer).await,
        Rep | Router => serve(socket, peer).await,
        Push => {
            for i in 0..COUNT {
                send(socket, Msg::new(frames(&[&format!("msg-{i}"), "part2"]))).await?;
            }
            for i in 0..COUNT {
                check("pulled", peer.expect("GOT ").await?, format!("msg-{i}|part2"))?;
            }
            Ok(())
        }
        Pull | Sub | XSub => receive(ours, socket, peer).await,
        Pub => publish_rounds(socket, peer).await,
        XPub => {
            let subscription = recv(socket).await?;
            check("subscription", hex(&subscription.body), "016e657773".to_owned())?;
            send(socket, Msg::new(frames(&["other", "unmatched"]))).await?;
            for i in 0..COUNT {
                send(socket, Msg::new(frames(&["news", &i.to_string()]))).await?;
            }
            for i in 0..COUNT {
                check("subscriber got", peer.expect("GOT ").await?, format!("news|{i}"))?;
            }
            Ok(())
        }
        Surveyor | Respondent | Bus => unreachable!("not a ZeroMQ type"),
    }
}

/// REQ, DEALER (with a request id, which goes out as the delimiter) and PAIR send
/// requests and check each echo.
async fn request(
    ours: SocketType,
    socket: &SocketHandle,
    peer: &mut ZmqPeer,
) -> Result<(), String> {
    for i in 0..COUNT {
        let body = frames(&[&format!("req-{i}"), "part2"]);
        let header = if ours == SocketType::Dealer { vec![REQUEST_ID_BIT | 1] } else { vec![] };
        send(socket, Msg { header, body }).await?;
        let reply = recv(socket).await?;
        check("reply", joined(&reply.body), format!("echo:req-{i}|part2"))?;
        check("peer got", peer.expect("GOT ").await?, format!("req-{i}|part2"))?;
    }
    Ok(())
}

/// REP and ROUTER answer each request behind the header it came with.
async fn serve(socket: &SocketHandle, peer: &mut ZmqPeer) -> Result<(), String> {
    for i in 0..COUNT {
        let request = recv(socket).await?;
        check("request", joined(&request.body), format!("req-{i}|part2"))?;
        let body = frames(&[&format!("echo:req-{i}"), "part2"]);
        send(socket, Msg { header: request.header, body }).await?;
        check("peer got", peer.expect("GOT ").await?, format!("echo:req-{i}|part2"))?;
    }
    Ok(())
}

/// PULL gets `msg-i` in order; SUB and XSUB get `news|i`, never the unmatched message.
async fn receive(
    ours: SocketType,
    socket: &SocketHandle,
    peer: &mut ZmqPeer,
) -> Result<(), String> {
    if ours == SocketType::XSub {
        send(socket, Msg::new(&b"\x01news"[..])).await?;
        check("pyzmq XPUB's subscription", peer.expect("SUB ").await?, "016e657773".to_owned())?;
    }
    let mut first = None;
    for i in 0..COUNT {
        let got = joined(&recv(socket).await?.body);
        let want = match ours {
            SocketType::Pull => format!("msg-{i}|part2"),
            // pyzmq's PUB publishes rounds until told to stop; the first round seen
            // depends on when the subscription landed, the rest follow in order.
            SocketType::Sub => {
                let k = *first.get_or_insert_with(|| round_of(&got));
                format!("news|{}", k + i)
            }
            _ => format!("news|{i}"),
        };
        check("received", got, want)?;
    }
    Ok(())
}

/// The round number in `news|k`, or a value no round has when the message is not one.
fn round_of(got: &str) -> usize {
    got.strip_prefix("news|").and_then(|k| k.parse().ok()).unwrap_or(usize::MAX / 2)
}

/// patchbay's PUB publishes rounds until pyzmq's SUB has reported `COUNT` matched
/// messages in order; it never reports the unmatched ones, which the PUB filters.
async fn publish_rounds(socket: &SocketHandle, peer: &mut ZmqPeer) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let mut k = 0;
    while seen.len() < COUNT {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("pyzmq SUB got only {seen:?}"));
        }
        send(socket, Msg::new(frames(&["other", "unmatched"]))).await?;
        send(socket, Msg::new(frames(&["news", &k.to_string()]))).await?;
        k += 1;
        while seen.len() < COUNT {
            let Some(line) = peer.next_line(ROUND_POLL).await? else { break };
            seen.push(line.strip_prefix("GOT ").ok_or(format!("pyzmq said {line:?}"))?.to_owned());
        }
    }
    let first = round_of(&seen[0]);
    for (i, got) in seen.into_iter().take(COUNT).enumerate() {
        check("subscriber got", got, format!("news|{}", first + i))?;
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the four cells of a pair (each type on patchbay's side, binding and
/// connecting) and fails naming every cell that failed.
fn pair(a: SocketType, b: SocketType) {
    require_pyzmq();
    let mut cells = vec![(a, b), (b, a)];
    cells.dedup();
    let mut failed = Vec::new();
    for (ours, theirs) in cells {
        for binds in [true, false] {
            let outcome = std::cell::RefCell::new(Ok(()));
            run_local(async { *outcome.borrow_mut() = cell(ours, theirs, binds).await });
            if let Err(err) = outcome.into_inner() {
                let side = if binds { "binds" } else { "connects" };
                failed.push(format!("patchbay {ours} ({side}) vs pyzmq {theirs}: {err}"));
            }
        }
    }
    assert!(failed.is_empty(), "failing cells:\n{}", failed.join("\n"));
}

#[test]
fn zmtp_req_rep_against_pyzmq() {
    pair(SocketType::Req, SocketType::Rep);
}

#[test]
fn zmtp_req_router_against_pyzmq() {
    pair(SocketType::Req, SocketType::Router);
}

#[test]
fn zmtp_dealer_rep_against_pyzmq() {
    pair(SocketType::Dealer, SocketType::Rep);
}

#[test]
fn zmtp_dealer_router_against_pyzmq() {
    pair(SocketType::Dealer, SocketType::Router);
}

#[test]
fn zmtp_pub_sub_against_pyzmq() {
    pair(SocketType::Pub, SocketType::Sub);
}

#[test]
fn zmtp_xpub_xsub_against_pyzmq() {
    pair(SocketType::XPub, SocketType::XSub);
}

#[test]
fn zmtp_push_pull_against_pyzmq() {
    pair(SocketType::Push, SocketType::Pull);
}

#[test]
fn zmtp_pair_against_pyzmq() {
    pair(SocketType::Pair, SocketType::Pair);
}
