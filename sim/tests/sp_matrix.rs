//! The SP interop matrix: patchbay's SP sockets (the driver in `net/`) against the
//! real libraries over real TCP: NNG 1.11 (pynng 0.9.0) and nanomsg (Debian's
//! nanocat, nanomsg-utils 1.1.5).
//!
//! Each test is one pair of socket types; its cells put patchbay on either side,
//! binding and connecting, and each asserts the payload bytes that arrived at both
//! ends, in order, that a subscription filters (an unmatched message is published
//! and must never arrive), and that no connection closed or broke the protocol. The
//! NNG side is `tests/interop/sp_matrix_peer.py`; nanocat is run as it ships. Their
//! stdout lines, and the driver's own events, are the only waits, each bounded by a
//! timeout; nothing sleeps. Every child process is killed when its guard drops, on
//! success or failure. The NNG resend tests at the end compare NNG 1.11's per-tick
//! resends (the real library against itself, the oracle) with patchbay's `library:
//! nng` REQ, both ways. docs/library-semantics.md, "Conformance", lists the cells.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use patchbay::net::{DriverEvent, SocketHandle, TokioTcp, spawn_socket};
use patchbay::socket::{DropReason, Msg, SocketEvent, SocketOptions, SocketType, make_core};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

use crate::util::{self, loopback, run_local};

const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/sp_matrix_peer.py");
/// A guard against a hung peer, not a wait for one: each step takes milliseconds.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const COUNT: usize = 4;

/// A running peer (pynng script or nanocat), its stdout read on a helper thread (the
/// test harness, not simulated code) and handed to the async test. Dropping it kills
/// the process.
struct Peer {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: UnboundedReceiver<String>,
}

impl Peer {
    fn start(program: &str, args: &[String]) -> Result<Peer, String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("start {program}: {err}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Peer { what: format!("{program} {}", args.join(" ")), child, stdin, lines })
    }

    /// `sp_matrix_peer.py` with these arguments.
    fn pynng(args: &[&str]) -> Result<Peer, String> {
        let mut all = vec!["-u".to_owned(), PEER_SCRIPT.to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        Peer::start("python3", &all)
    }

    /// The next line, which must start with `prefix`; the rest of it is returned.
    async fn expect(&mut self, prefix: &str) -> Result<String, String> {
        let line = match tokio::time::timeout(STEP_TIMEOUT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => return Err(format!("{} exited early", self.what)),
            Err(_) => return Err(format!("{} silent for {STEP_TIMEOUT:?}", self.what)),
        };
        line.strip_prefix(prefix)
            .map(str::to_owned)
            .ok_or_else(|| format!("{} said {line:?}, wanted {prefix:?}", self.what))
    }

    /// Lets the pynng script close its socket, once the cell has been judged.
    fn stop(&mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "stop");
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_peers() {
    let pynng = Command::new("python3")
        .args(["-c", "import pynng; assert pynng.__version__ == '0.9.0'"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        pynng,
        "the SP interop matrix needs python3 with pynng 0.9.0 (it bundles NNG 1.11): \
         run `python3 -m pip install pynng==0.9.0`; these tests never skip"
    );
    let nanocat =
        Command::new("nanocat").arg("--help").output().is_ok_and(|o| !o.stdout.is_empty());
    assert!(
        nanocat,
        "the SP interop matrix needs nanocat (nanomsg's own tool): \
         run `apt-get install nanomsg-utils`; these tests never skip"
    );
}

/// What the driver reported during a cell: faults, connections, filtered messages.
#[derive(Default)]
struct Seen {
    faults: Vec<String>,
    connected: usize,
    disconnected: Vec<String>,
    unsubscribed: Vec<Bytes>,
}

impl util::Seen for Seen {
    fn record(&mut self, event: DriverEvent) {
        match event {
            DriverEvent::ProtocolError { reason, .. } => self.faults.push(reason),
            DriverEvent::TaskPanicked { message, .. } => self.faults.push(message),
            DriverEvent::Connected { .. } => self.connected += 1,
            DriverEvent::Disconnected { reason, .. } => self.disconnected.push(reason),
            DriverEvent::Socket(SocketEvent::Dropped {
                reason: DropReason::Unsubscribed,
                msg,
                ..
            }) => self.unsubscribed.push(msg.body),
            _ => {}
        }
    }
}

/// The driver's events, collected, with a wake-up for whoever waits on them.
type Watch = util::Watch<Seen>;

/// Waits until `done` holds for what `watch` saw, or fails after the step timeout.
async fn until(watch: &Watch, what: &str, done: impl Fn(&Seen) -> bool) -> Result<(), String> {
    if watch.until(STEP_TIMEOUT, done).await {
        Ok(())
    } else {
        Err(format!("no {what} within {STEP_TIMEOUT:?}"))
    }
}

/// A clean cell: no protocol error, no panic, and no connection that ended.
fn clean(watch: &Watch) -> Result<(), String> {
    let seen = watch.seen.borrow();
    if seen.faults.is_empty() && seen.disconnected.is_empty() {
        Ok(())
    } else {
        Err(format!("faults {:?}, disconnects {:?}", seen.faults, seen.disconnected))
    }
}

/// patchbay's options for an SP socket of `ours`: SUB subscribes to `news`; a
/// SURVEYOR waits long enough for any peer; PAIR speaks v1 when asked.
fn sp_options(ours: SocketType, pair_v1: bool) -> SocketOptions {
    let subscribe = if ours == SocketType::Sub { vec![b"news".to_vec()] } else { Vec::new() };
    SocketOptions { subscribe, survey_deadline: STEP_TIMEOUT, pair_v1, ..SocketOptions::default() }
}

/// A patchbay socket binding (an ephemeral port) or connecting to `port`.
async fn open(
    ours: SocketType,
    options: &SocketOptions,
    connect_to: Option<u16>,
    watch: &Watch,
) -> Result<SocketHandle, String> {
    let core = make_core(ours, options, 1);
    let (binds, connects) = match connect_to {
        Some(port) => (vec![], vec![loopback(port)]),
        None => (vec![loopback(0)], vec![]),
    };
    spawn_socket(TokioTcp, core, options, binds, connects, Instant::now(), watch.sink())
        .await
        .map_err(|err| format!("open {ours}: {err}"))
}

fn url(socket: &SocketHandle) -> String {
    format!("tcp://{}", socket.local_addrs()[0])
}

async fn recv(socket: &SocketHandle) -> Result<Msg, String> {
    match tokio::time::timeout(STEP_TIMEOUT, socket.recv()).await {
        Ok(Ok(msg)) => Ok(msg),
        Ok(Err(err)) => Err(format!("recv: {err:?}")),
        Err(_) => Err(format!("no message within {STEP_TIMEOUT:?}")),
    }
}

async fn send(socket: &SocketHandle, msg: Msg) -> Result<(), String> {
    match tokio::time::timeout(STEP_TIMEOUT, socket.send(msg)).await {
        Ok(result) => result.map_err(|err| format!("send: {err:?}")),
        Err(_) => Err(format!("send blocked for {STEP_TIMEOUT:?}")),
    }
}

fn text(msg: &Msg) -> String {
    String::from_utf8_lossy(&msg.body).into_owned()
}

fn check(what: &str, got: String, want: String) -> Result<(), String> {
    if got == want { Ok(()) } else { Err(format!("{what}: got {got:?}, want {want:?}")) }
}

/// The word patchbay puts in the messages it starts an exchange with.
fn word(ours: SocketType) -> &'static str {
    match ours {
        SocketType::Req => "req",
        SocketType::Surveyor => "survey",
        SocketType::Pair => "pair",
        _ => "bus",
    }
}

/// patchbay's side of a pynng cell, by its socket type. Types that lose what they
/// send before a peer is there (PUB, SURVEYOR, BUS) first wait for the connection.
async fn play(
    ours: SocketType,
    socket: &SocketHandle,
    peer: &mut Peer,
    watch: &Watch,
) -> Result<(), String> {
    use SocketType::*;
    if matches!(ours, Pub | Surveyor | Bus) {
        until(watch, "connection", |s| s.connected > 0).await?;
    }
    match ours {
        Req | Surveyor | Pair | Bus => {
            for i in 0..COUNT {
                let body = format!("{}-{i}", word(ours));
                send(socket, Msg::new(body.clone())).await?;
                check("reply", text(&recv(socket).await?), format!("echo:{body}"))?;
                check("peer got", peer.expect("GOT ").await?, body)?;
            }
        }
        Rep | Respondent => {
            let asked = if ours == Rep { "req" } else { "survey" };
            for i in 0..COUNT {
                let request = recv(socket).await?;
                check("request", text(&request), format!("{asked}-{i}"))?;
                let reply =
                    Msg { header: request.header, body: format!("echo:{asked}-{i}").into() };
                send(socket, reply).await?;
                check("peer got", peer.expect("GOT ").await?, format!("echo:{asked}-{i}"))?;
            }
        }
        Push => {
            for i in 0..COUNT {
                send(socket, Msg::new(format!("msg-{i}"))).await?;
            }
            for i in 0..COUNT {
                check("pulled", peer.expect("GOT ").await?, format!("msg-{i}"))?;
            }
        }
        Pull | Sub => {
            let word = if ours == Pull { "msg" } else { "news" };
            for i in 0..COUNT {
                check("received", text(&recv(socket).await?), format!("{word}-{i}"))?;
            }
            if ours == Sub {
                let filtered = watch.seen.borrow().unsubscribed.clone();
                check("filtered out", format!("{filtered:?}"), "[b\"other\"]".to_owned())?;
            }
        }
        Pub => {
            send(socket, Msg::new(&b"other"[..])).await?;
            for i in 0..COUNT {
                send(socket, Msg::new(format!("news-{i}"))).await?;
            }
            for i in 0..COUNT {
                check("subscriber got", peer.expect("GOT ").await?, format!("news-{i}"))?;
            }
        }
        Dealer | Router | XPub | XSub => unreachable!("not in the SP matrix"),
    }
    Ok(())
}

/// One pynng cell: patchbay's `ours` against pynng's `theirs`, patchbay binding or
/// not.
async fn pynng_cell(
    ours: SocketType,
    theirs: &str,
    pair_v1: bool,
    binds: bool,
) -> Result<(), String> {
    let watch = Watch::default();
    let options = sp_options(ours, pair_v1);
    let count = COUNT.to_string();
    let (socket, mut peer) = if binds {
        let socket = open(ours, &options, None, &watch).await?;
        let mut peer = Peer::pynng(&[theirs, "--connect", &url(&socket), "--count", &count])?;
        peer.expect("READY ").await?;
        (socket, peer)
    } else {
        let mut peer = Peer::pynng(&[theirs, "--bind", "--count", &count])?;
        let port = peer.expect("READY ").await?.parse().map_err(|_| "bad port")?;
        (open(ours, &options, Some(port), &watch).await?, peer)
    };
    play(ours, &socket, &mut peer, &watch).await?;
    peer.expect("OK ").await?;
    let clean = clean(&watch);
    peer.stop();
    socket.close().await;
    clean
}

/// Runs every cell of a pair against pynng (patchbay as either type, binding and
/// connecting) and fails naming every cell that failed.
fn pynng_pair(a: SocketType, b: SocketType, pair_v1: bool) {
    require_peers();
    let name = |t: SocketType| match t {
        SocketType::Pair if pair_v1 => "PAIR1".to_owned(),
        SocketType::Pair => "PAIR0".to_owned(),
        t => t.name().to_owned(),
    };
    let mut cells = vec![(a, b), (b, a)];
    cells.dedup();
    let mut failed = Vec::new();
    for (ours, theirs) in cells {
        for binds in [true, false] {
            let outcome = RefCell::new(Ok(()));
            run_local(async {
                *outcome.borrow_mut() = pynng_cell(ours, &name(theirs), pair_v1, binds).await;
            });
            if let Err(err) = outcome.into_inner() {
                let side = if binds { "binds" } else { "connects" };
                failed.push(format!("patchbay {ours} ({side}) vs pynng {}: {err}", name(theirs)));
            }
        }
    }
    assert!(failed.is_empty(), "failing cells:\n{}", failed.join("\n"));
}

#[test]
fn sp_req_rep_against_pynng() {
    pynng_pair(SocketType::Req, SocketType::Rep, false);
}

#[test]
fn sp_push_pull_against_pynng() {
    pynng_pair(SocketType::Push, SocketType::Pull, false);
}

/// Regression (issue 12): patchbay's SP SUB sent ZeroMQ's `0x01news` upstream and a
/// real NNG publisher closed the connection, so nothing was delivered. The cells
/// check delivery, the filter and that no connection ended.
#[test]
fn sp_pub_sub_against_pynng_delivers_filters_and_keeps_the_connection() {
    pynng_pair(SocketType::Pub, SocketType::Sub, false);
}

#[test]
fn sp_pair_v0_against_pynng_pair0() {
    pynng_pair(SocketType::Pair, SocketType::Pair, false);
}

/// Regression (issue 12): NNG's default PAIR (v1, pynng's Pair1) was refused.
#[test]
fn sp_pair_v1_against_pynng_pair1() {
    pynng_pair(SocketType::Pair, SocketType::Pair, true);
}

#[test]
fn sp_surveyor_respondent_against_pynng() {
    pynng_pair(SocketType::Surveyor, SocketType::Respondent, false);
}

#[test]
fn sp_bus_against_pynng() {
    pynng_pair(SocketType::Bus, SocketType::Bus, false);
}

/// A patchbay PAIR v0 against pynng's Pair1: the connection is refused at the
/// handshake, and the reason names both versions and the cure.
#[test]
fn a_pair_version_mismatch_with_pynng_is_named_with_its_hint() {
    require_peers();
    let outcome = RefCell::new(Err(String::new()));
    run_local(async {
        let watch = Watch::default();
        let run = async {
            let socket =
                open(SocketType::Pair, &sp_options(SocketType::Pair, false), None, &watch).await?;
            let count = COUNT.to_string();
            let mut peer = Peer::pynng(&["PAIR1", "--connect", &url(&socket), "--count", &count])?;
            peer.expect("READY ").await?;
            until(&watch, "protocol error", |s| !s.faults.is_empty()).await?;
            socket.close().await;
            Ok::<_, String>(watch.seen.borrow().faults[0].clone())
        };
        *outcome.borrow_mut() = run.await;
    });
    let reason = outcome.into_inner().expect("the cell ran");
    assert!(
        reason.contains("we are PAIR v0 (SP 0x10), the peer speaks PAIR v1 (SP 0x11)")
            && reason.contains("set `pair_version: 0` on the NNG side"),
        "{reason}"
    );
}

/// A port nothing listens on right now, for nanocat to bind: the listener that found
/// it is closed before nanocat starts (patchbay's connect retries until it is up).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    listener.local_addr().expect("bound").port()
}

/// nanocat's arguments for its side of a cell against patchbay's `ours`: its socket
/// type, and what it sends (every 50 ms where it starts the exchange).
fn nanocat_args(ours: SocketType) -> Vec<&'static str> {
    use SocketType::*;
    match ours {
        Req => vec!["--rep", "-A", "-D", "echo"],
        // nanocat's REQ and SURVEYOR start a new request (survey) every interval and
        // drop replies to the one before, so the interval is a second: patchbay's
        // reply must not go stale on a loaded machine (at 50 ms it did, once in CI).
        Rep => vec!["--req", "-A", "-D", "req", "-i", "1"],
        Push => vec!["--pull", "-A"],
        Pull => vec!["--push", "-D", "msg", "-i", "0.05"],
        Pub => vec!["--sub", "--subscribe", "news", "-A"],
        Sub => vec!["--pub", "-D", "news", "-i", "0.05"],
        Pair => vec!["--pair", "-A", "-D", "pair", "-i", "0.05"],
        Surveyor => vec!["--respondent", "-A", "-D", "echo"],
        Respondent => vec!["--surveyor", "-A", "-D", "survey", "-i", "1"],
        Bus => vec!["--bus", "-A", "-D", "bus", "-i", "0.05"],
        Dealer | Router | XPub | XSub => unreachable!("not in the SP matrix"),
    }
}

fn nanocat(ours: SocketType, endpoint: &[&str]) -> Result<Peer, String> {
    let mut args: Vec<String> = nanocat_args(ours).into_iter().map(str::to_owned).collect();
    args.extend(endpoint.iter().map(|a| (*a).to_owned()));
    Peer::start("nanocat", &args)
}

/// patchbay's side of a nanocat cell. nanocat answers with a fixed DATA (`echo`),
/// repeats what it sends every 50 ms, and prints what it receives (`-A`).
async fn play_nanocat(
    ours: SocketType,
    socket: &SocketHandle,
    peer: &mut Peer,
    watch: &Watch,
) -> Result<(), String> {
    use SocketType::*;
    match ours {
        Req | Surveyor => {
            if ours == Surveyor {
                until(watch, "connection", |s| s.connected > 0).await?;
            }
            for i in 0..COUNT {
                let body = format!("{}-{i}", word(ours));
                send(socket, Msg::new(body.clone())).await?;
                check("reply", text(&recv(socket).await?), "echo".to_owned())?;
                check("nanocat got", peer.expect("").await?, body)?;
            }
        }
        Rep | Respondent => {
            let asked = if ours == Rep { "req" } else { "survey" };
            for _ in 0..COUNT {
                let request = recv(socket).await?;
                check("request", text(&request), asked.to_owned())?;
                let reply = Msg { header: request.header, body: format!("echo:{asked}").into() };
                send(socket, reply).await?;
                check("nanocat got", peer.expect("").await?, format!("echo:{asked}"))?;
            }
        }
        Pull | Sub => {
            let word = if ours == Pull { "msg" } else { "news" };
            for _ in 0..COUNT {
                check("received", text(&recv(socket).await?), word.to_owned())?;
            }
        }
        Push | Pub | Pair | Bus => {
            if matches!(ours, Pair | Bus) {
                check("received", text(&recv(socket).await?), word(ours).to_owned())?;
            } else if ours == Pub {
                until(watch, "connection", |s| s.connected > 0).await?;
                send(socket, Msg::new(&b"other"[..])).await?;
            }
            let word = match ours {
                Push => "msg",
                Pub => "news",
                _ => word(ours),
            };
            for i in 0..COUNT {
                send(socket, Msg::new(format!("{word}-{i}"))).await?;
            }
            for i in 0..COUNT {
                check("nanocat got", peer.expect("").await?, format!("{word}-{i}"))?;
            }
        }
        Dealer | Router | XPub | XSub => unreachable!("not in the SP matrix"),
    }
    Ok(())
}

/// One nanocat cell: patchbay's `ours` against nanomsg's matching type.
async fn nanocat_cell(ours: SocketType, binds: bool) -> Result<(), String> {
    let watch = Watch::default();
    let options = sp_options(ours, false);
    let (socket, mut peer) = if binds {
        let socket = open(ours, &options, None, &watch).await?;
        let peer = nanocat(ours, &["--connect", &url(&socket)])?;
        (socket, peer)
    } else {
        let port = free_port();
        let peer = nanocat(ours, &["--bind", &format!("tcp://127.0.0.1:{port}")])?;
        (open(ours, &options, Some(port), &watch).await?, peer)
    };
    play_nanocat(ours, &socket, &mut peer, &watch).await?;
    let clean = clean(&watch);
    socket.close().await;
    clean
}

/// A patchbay SUB bound, with two nanocat publishers: one of `news`, which must
/// arrive, and one of `other`, which the SUB must drop (it filters; nothing travels
/// upstream on SP).
async fn nanocat_sub_filters() -> Result<(), String> {
    let watch = Watch::default();
    let options = sp_options(SocketType::Sub, false);
    let socket = open(SocketType::Sub, &options, None, &watch).await?;
    let endpoint = url(&socket);
    let _news = nanocat(SocketType::Sub, &["--connect", &endpoint])?;
    let _other = Peer::start(
        "nanocat",
        &["--pub", "-D", "other", "-i", "0.05", "--connect", &endpoint].map(str::to_owned),
    )?;
    for _ in 0..COUNT {
        check("received", text(&recv(&socket).await?), "news".to_owned())?;
    }
    until(&watch, "filtered message", |s| !s.unsubscribed.is_empty()).await?;
    let filtered = watch.seen.borrow().unsubscribed[0].clone();
    check("filtered", format!("{filtered:?}"), "b\"other\"".to_owned())?;
    let clean = clean(&watch);
    socket.close().await;
    clean
}

/// Runs the cells of these socket types against nanocat, patchbay binding and
/// connecting, and fails naming every cell that failed.
fn nanocat_cells(types: &[SocketType]) {
    require_peers();
    let mut failed = Vec::new();
    for ours in types {
        for binds in [true, false] {
            let outcome = RefCell::new(Ok(()));
            run_local(async { *outcome.borrow_mut() = nanocat_cell(*ours, binds).await });
            if let Err(err) = outcome.into_inner() {
                let side = if binds { "binds" } else { "connects" };
                failed.push(format!("patchbay {ours} ({side}) vs nanocat: {err}"));
            }
        }
    }
    assert!(failed.is_empty(), "failing cells:\n{}", failed.join("\n"));
}

#[test]
fn sp_req_rep_against_nanocat() {
    nanocat_cells(&[SocketType::Req, SocketType::Rep]);
}

#[test]
fn sp_push_pull_against_nanocat() {
    nanocat_cells(&[SocketType::Push, SocketType::Pull]);
}

#[test]
fn sp_pub_sub_against_nanocat() {
    nanocat_cells(&[SocketType::Pub, SocketType::Sub]);
    let outcome = RefCell::new(Ok(()));
    run_local(async { *outcome.borrow_mut() = nanocat_sub_filters().await });
    outcome.into_inner().expect("patchbay SUB filters two nanocat publishers");
}

#[test]
fn sp_pair_v0_against_nanocat() {
    nanocat_cells(&[SocketType::Pair]);
}

#[test]
fn sp_surveyor_respondent_against_nanocat() {
    nanocat_cells(&[SocketType::Surveyor, SocketType::Respondent]);
}

#[test]
fn sp_bus_against_nanocat() {
    nanocat_cells(&[SocketType::Bus]);
}

/// NNG's resend time and tick in the resend tests: far enough apart that a loaded
/// machine cannot blur one into the other.
const RESEND_MS: u64 = 600;
const TICK_MS: u64 = 100;
const ARRIVALS: usize = 6;
/// How much earlier than the resend time a resend may seem to arrive: the first
/// arrival is timed when the peer has read it, which lags the send by the set-up of
/// the peer's pipe (measured: up to about 20 ms on an idle machine).
const SLACK_MS: u64 = 100;

/// Milliseconds between consecutive arrivals.
fn gaps(at_ms: &[u64]) -> Vec<u64> {
    at_ms.windows(2).map(|w| w[1] - w[0]).collect()
}

/// NNG 1.11's pattern: the first resend a resend time after the request, then one
/// every tick (a tick is well under half the resend time here).
fn per_tick(gaps: &[u64]) -> bool {
    gaps.first().is_some_and(|g| *g >= RESEND_MS - SLACK_MS)
        && gaps[1..].iter().all(|g| *g < RESEND_MS / 2)
}

/// NNG 1.6's and nanomsg's pattern: one resend per resend time.
fn per_interval(gaps: &[u64]) -> bool {
    gaps.iter().all(|g| *g >= RESEND_MS - SLACK_MS)
}

/// The arrival times `rep-times` reports for `ARRIVALS` copies of one request.
async fn arrival_times(peer: &mut Peer, arrivals: usize) -> Result<Vec<u64>, String> {
    let mut at = Vec::new();
    for _ in 0..arrivals {
        at.push(peer.expect("AT ").await?.parse().map_err(|_| "bad time")?);
    }
    peer.expect("OK ").await?;
    peer.stop();
    Ok(at)
}

/// The oracle: pynng's REQ (resend time, tick) against pynng's silent REP.
async fn oracle_gaps() -> Result<Vec<u64>, String> {
    let mut rep = Peer::pynng(&["rep-times", "--bind", "--count", &ARRIVALS.to_string()])?;
    let port = rep.expect("READY ").await?;
    let url = format!("tcp://127.0.0.1:{port}");
    let (resend, tick) = (RESEND_MS.to_string(), TICK_MS.to_string());
    let _req = Peer::pynng(&[
        "req-ticking",
        "--connect",
        &url,
        "--resend-ms",
        &resend,
        "--tick-ms",
        &tick,
    ])?;
    Ok(gaps(&arrival_times(&mut rep, ARRIVALS).await?))
}

/// patchbay's `library: nng` REQ (with `tick`, or NNG 1.6's none) against pynng's
/// silent REP.
async fn patchbay_req_gaps(tick: Option<Duration>, arrivals: usize) -> Result<Vec<u64>, String> {
    let mut rep = Peer::pynng(&["rep-times", "--bind", "--count", &arrivals.to_string()])?;
    let port = rep.expect("READY ").await?.parse().map_err(|_| "bad port")?;
    let options = SocketOptions {
        req_resend_ivl: Some(Duration::from_millis(RESEND_MS)),
        req_resend_tick: tick,
        ..SocketOptions::default()
    };
    let watch = Watch::default();
    let socket = open(SocketType::Req, &options, Some(port), &watch).await?;
    // The resend timer starts at the send, the arrival times at the first arrival:
    // sending once connected keeps the connection's set-up out of the first gap.
    until(&watch, "connection", |s| s.connected > 0).await?;
    send(&socket, Msg::new(&b"tick"[..])).await?;
    let at = arrival_times(&mut rep, arrivals).await;
    socket.close().await;
    Ok(gaps(&at?))
}

/// patchbay's REP receiving pynng's ticking REQ: the times its copies arrive, then
/// the reply pynng must get.
async fn patchbay_rep_gaps() -> Result<Vec<u64>, String> {
    let watch = Watch::default();
    let socket = open(SocketType::Rep, &SocketOptions::default(), None, &watch).await?;
    let (resend, tick) = (RESEND_MS.to_string(), TICK_MS.to_string());
    let mut req = Peer::pynng(&[
        "req-ticking",
        "--connect",
        &url(&socket),
        "--resend-ms",
        &resend,
        "--tick-ms",
        &tick,
    ])?;
    let mut at = Vec::new();
    let mut last = None;
    let start = Instant::now();
    for _ in 0..ARRIVALS {
        let request = recv(&socket).await?;
        check("request", text(&request), "tick".to_owned())?;
        at.push(start.elapsed().as_millis() as u64);
        last = Some(request);
    }
    let request = last.expect("ARRIVALS > 0");
    send(&socket, Msg { header: request.header, body: "echo:tick".into() }).await?;
    req.expect("READY ").await?;
    check("pynng REQ got", req.expect("GOT ").await?, "echo:tick".to_owned())?;
    req.expect("OK ").await?;
    req.stop();
    socket.close().await;
    Ok(gaps(&at))
}

/// NNG 1.11 resends on every tick after the first resend (issue 12). The oracle
/// (pynng against pynng), patchbay's REQ against pynng's REP, and pynng's REQ against
/// patchbay's REP all show that pattern; with `req_resend_tick: off` patchbay's REQ
/// resends once per interval instead, as NNG 1.6 and nanomsg do.
#[test]
fn nng_resends_on_every_tick_after_the_first_in_the_oracle_and_in_patchbay() {
    require_peers();
    let outcome = RefCell::new(Err(String::new()));
    run_local(async {
        let run = async {
            let tick = Some(Duration::from_millis(TICK_MS));
            Ok::<_, String>([
                oracle_gaps().await?,
                patchbay_req_gaps(tick, ARRIVALS).await?,
                patchbay_rep_gaps().await?,
                patchbay_req_gaps(None, 3).await?,
            ])
        };
        *outcome.borrow_mut() = run.await;
    });
    let [oracle, ours_req, ours_rep, nng_1_6] = outcome.into_inner().expect("every run finished");
    eprintln!(
        "resend gaps (ms): oracle {oracle:?}, patchbay REQ {ours_req:?}, patchbay REP {ours_rep:?}, patchbay REQ tick off {nng_1_6:?}"
    );
    assert!(per_tick(&oracle), "the oracle is not NNG 1.11's pattern: {oracle:?} ms");
    assert!(per_tick(&ours_req), "patchbay's nng REQ: {ours_req:?} ms (oracle {oracle:?})");
    assert!(per_tick(&ours_rep), "pynng REQ at patchbay's REP: {ours_rep:?} ms");
    assert!(per_interval(&nng_1_6), "patchbay's REQ with the tick off: {nng_1_6:?} ms");
    assert!(!per_tick(&nng_1_6) && !per_interval(&oracle), "the two patterns are told apart");
}
