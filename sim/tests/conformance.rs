//! The conformance suite (issue 12, item 5): each row of the behaviour table in
//! docs/library-semantics.md run three ways, and the observable outcomes compared.
//!
//! 1. **The oracle**: the real library against itself (`conformance_peer.py oracle
//!    ROW`: libzmq 4.3.5 through pyzmq 26.2.0, NNG 1.11 through pynng 0.9.0, nanomsg
//!    1.1.5 through its C API and ctypes), which prints the outcome in words.
//! 2. **patchbay against the real library** over real TCP: patchbay's socket (the
//!    driver in `net/`, with the library's options) against `conformance_peer.py peer
//!    ROW`, which plays the other side.
//! 3. **patchbay against patchbay in the simulator**: the same patchbay side, over
//!    the simulator's own transport (`SimNetwork`, turmoil), against patchbay sockets
//!    that play the Python peer's part line for line.
//!
//! The patchbay side of a row is written once (`ours_*`) against a [`Counterpart`]:
//! the Python process's stdout and stdin, or a simulated host's channel. Each row
//! asserts the oracle shows the library's documented behaviour, then that both
//! patchbay ways give the same outcome text, and that stated timings (a resend, a
//! heartbeat's close, a survey's deadline) fall within a row's tolerance. A row's
//! outcome names what a user sees (which messages arrive, whether a send blocks or is
//! refused, whether a connection closes), never a count the machine's buffers decide.
//! The only waits are lines and driver events, each bounded; the few observation
//! windows (nothing may arrive in it) are the experiment. One row compares less than
//! the whole text (`nng-pub-hwm`: whether NNG's stopped SUB still has the first
//! message varies from run to run; that it has the last does not). The NNG
//! resend-tick row is
//! `sp_matrix::nng_resends_on_every_tick_after_the_first_in_the_oracle_and_in_patchbay`.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use patchbay::net::{DriverEvent, SocketHandle, TokioTcp, Transport, spawn_socket};
use patchbay::plan::{GroupId, Replica};
use patchbay::run::SimNetwork;
use patchbay::socket::{
    DropReason, Msg, REQUEST_ID_BIT, RecvError, SendError, SocketBuffers, SocketEvent,
    SocketOptions, SocketType, make_core,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::{Instant, timeout};

use crate::util::{self, run_local};

const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/conformance_peer.py");
/// A guard against a hung peer, not a wait for one.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an oracle may run: its longest wait (a silent peer's 20 s, a receive's
/// 30 s) with room to spare.
const ORACLE_LIMIT: Duration = Duration::from_secs(120);
/// The window in which something must not happen (a resend, a reply), as the peer's.
const WINDOW: Duration = Duration::from_millis(1000);
/// How long a send may take before it counts as blocked.
const BLOCKED_AFTER: Duration = Duration::from_millis(200);
const HWM: u32 = 10;
/// libzmq's low-water mark for a pipe of `HWM` messages: see `LWM` in the peer script.
const LWM: u32 = HWM.div_ceil(2);
const PUB_SENT: usize = 500;
const PUB_BYTES: usize = 100_000;
const SURVEY: Duration = Duration::from_millis(300);
const LATE: Duration = Duration::from_millis(600);
const HB_IVL: Duration = Duration::from_millis(100);
const HB_TIMEOUT: Duration = Duration::from_millis(300);
/// A heartbeat closes the connection between the timeout and one interval after it,
/// plus this much for a loaded machine (the oracle measured 348 to 405 ms for 300 ms).
const HB_SLACK: Duration = Duration::from_millis(300);
const RECV_MAX: u64 = 100;
/// The `zmq-handshake-ivl` row's `ZMQ_HANDSHAKE_IVL`, as the peer script's.
const HANDSHAKE_IVL: Duration = Duration::from_millis(500);
/// How long a silent peer waits to be closed, as the peer script's: past NNG's 10 s.
const SILENT_PEER_WAIT: Duration = Duration::from_secs(20);
/// The simulated hosts: the counterpart ("server") and patchbay's side ("client").
const SERVER: Replica = Replica { group: GroupId(0), index: 0 };
const CLIENT: Replica = Replica { group: GroupId(1), index: 0 };
/// Where a simulated counterpart binds, and where patchbay's side binds in the
/// simulator (turmoil has no ephemeral port another host could learn).
const SIM_SERVER_PORT: u16 = 5555;
/// A second port of the simulated counterpart, for a row with two sockets bound.
const SIM_SERVER_PORT_2: u16 = 5557;
/// A third, for a row with three.
const SIM_SERVER_PORT_3: u16 = 5558;
const SIM_CLIENT_PORT: u16 = 5556;

// ------------------------------------------------------------------ the two worlds

/// The other side of a row: a `conformance_peer.py` process, or a simulated host.
struct Counterpart {
    what: String,
    lines: UnboundedReceiver<String>,
    /// Sends a line to the counterpart (its stdin, or the simulated host's channel).
    tell: Box<dyn FnMut(&str)>,
    /// The process's arguments until [`Counterpart::connect_to`] starts it, for rows
    /// in which patchbay binds.
    deferred: Option<Vec<String>>,
    child: Option<Child>,
}

impl Counterpart {
    /// `conformance_peer.py peer ROW EXTRA...`, started now.
    fn process(row: &str, extra: &[&str]) -> Result<Counterpart, String> {
        let mut cp = Counterpart::deferred(row, extra);
        cp.start(&[])?;
        Ok(cp)
    }

    /// The same, started when patchbay has bound ([`Counterpart::connect_to`]).
    fn deferred(row: &str, extra: &[&str]) -> Counterpart {
        let mut args = vec!["-u".to_owned(), PEER_SCRIPT.to_owned(), "peer".into(), row.into()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let (_, lines) = unbounded_channel();
        Counterpart {
            what: format!("peer {row}"),
            lines,
            tell: Box::new(|_| {}),
            deferred: Some(args),
            child: None,
        }
    }

    fn start(&mut self, more: &[String]) -> Result<(), String> {
        let mut args = self.deferred.take().ok_or("the peer was started already")?;
        args.extend(more.iter().cloned());
        let mut child = Command::new("python3")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("start python3: {err}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdin: ChildStdin = child.stdin.take().expect("piped stdin");
        let (tx, lines) = unbounded_channel();
        // The test harness's reader thread, not simulated code.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.lines = lines;
        self.tell = Box::new(move |line| {
            let _ = writeln!(stdin, "{line}");
        });
        self.child = Some(child);
        Ok(())
    }

    /// A simulated counterpart: lines from and to a host of the same simulation.
    fn sim(row: &str, lines: UnboundedReceiver<String>, to: UnboundedSender<String>) -> Self {
        Counterpart {
            what: format!("simulated {row}"),
            lines,
            tell: Box::new(move |line| {
                let _ = to.send(line.to_owned());
            }),
            deferred: None,
            child: None,
        }
    }

    /// Tells the counterpart where patchbay listens (starting a deferred process).
    fn connect_to(&mut self, addr: SocketAddr) -> Result<(), String> {
        if self.deferred.is_some() {
            let url = format!("tcp://{addr}");
            return self.start(&[
                "--connect".into(),
                url,
                "--port".into(),
                addr.port().to_string(),
            ]);
        }
        (self.tell)(&format!("CONNECT {addr}"));
        Ok(())
    }

    /// The next line, which must start with `prefix`; the rest of it is returned.
    async fn expect(&mut self, prefix: &str) -> Result<String, String> {
        let line = match timeout(STEP_TIMEOUT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => return Err(format!("{} exited early", self.what)),
            Err(_) => return Err(format!("{} silent for {STEP_TIMEOUT:?}", self.what)),
        };
        line.strip_prefix(prefix)
            .map(str::to_owned)
            .ok_or_else(|| format!("{} said {line:?}, wanted {prefix:?}", self.what))
    }

    fn say(&mut self, line: &str) {
        (self.tell)(line);
    }
}

impl Drop for Counterpart {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where patchbay's side runs: real TCP on loopback, or the simulator's client host.
#[derive(Clone, Copy)]
struct Env {
    /// Where the counterpart listens.
    peer_ip: IpAddr,
    /// Where patchbay's side binds, and the address it tells the counterpart.
    bind_at: SocketAddr,
    advertise_ip: IpAddr,
}

impl Env {
    fn real() -> Env {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Env { peer_ip: lo, bind_at: SocketAddr::new(lo, 0), advertise_ip: lo }
    }

    fn peer(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.peer_ip, port)
    }

    /// The address to tell the counterpart for a socket bound at `self.bind_at`.
    fn advertised(&self, socket: &SocketHandle) -> SocketAddr {
        SocketAddr::new(self.advertise_ip, socket.local_addrs()[0].port())
    }
}

/// What a socket's driver reported: connections, closes and their reasons, drops.
type Watch = util::Watch<Seen>;

#[derive(Default)]
struct Seen {
    connected: usize,
    closed: Vec<String>,
    dropped: Vec<DropReason>,
    /// Why connections were refused or closed before they were up (a handshake).
    refused: Vec<String>,
    /// When the last close was seen.
    closed_at: Option<Instant>,
}

impl util::Seen for Seen {
    fn record(&mut self, event: DriverEvent) {
        match event {
            DriverEvent::Connected { .. } => self.connected += 1,
            DriverEvent::Disconnected { reason, .. } => {
                self.closed.push(reason);
                self.closed_at = Some(Instant::now());
            }
            DriverEvent::Socket(SocketEvent::Dropped { reason, .. }) => self.dropped.push(reason),
            DriverEvent::ProtocolError { reason, .. } => self.refused.push(reason),
            _ => {}
        }
    }
}

/// Opens a patchbay socket over `transport`, binding or connecting.
async fn open<T: Transport>(
    transport: T,
    kind: SocketType,
    options: &SocketOptions,
    binds: Vec<SocketAddr>,
    connects: Vec<SocketAddr>,
    watch: &Watch,
) -> Result<SocketHandle, String> {
    let core = make_core(kind, options, 1);
    spawn_socket(transport, core, options, binds, connects, Instant::now(), watch.sink())
        .await
        .map_err(|err| format!("open {kind}: {err}"))
}

/// patchbay's socket of `kind` bound at the row's address (`open`), with the
/// counterpart told where to connect (`Counterpart::connect_to`).
async fn open_bound<T: Transport>(
    transport: T,
    kind: SocketType,
    options: &SocketOptions,
    env: &Env,
    cp: &mut Counterpart,
    watch: &Watch,
) -> Result<SocketHandle, String> {
    let socket = open(transport, kind, options, vec![env.bind_at], vec![], watch).await?;
    cp.connect_to(env.advertised(&socket))?;
    Ok(socket)
}

/// libzmq 4.3.5's options (docs/library-semantics.md, "Option defaults"): ZMTP, a
/// REQ that never resends and refuses a second send, a REP that refuses a receive
/// before its reply.
fn zeromq() -> SocketOptions {
    SocketOptions {
        zmtp: true,
        req_resend_ivl: None,
        req_resend_on_pipe_loss: false,
        req_strict: true,
        req_correlate: false,
        rep_strict: true,
        handshake_ivl: Some(patchbay::socket::HANDSHAKE_IVL_LIBZMQ),
        ..SocketOptions::default()
    }
}

/// NNG 1.11's: SP, a REQ that resends on pipe loss and on its 1 s tick, PUB and SUB
/// that keep the newest, a PUSH that queues on the socket (unbuffered, NNG's default).
/// Reconnects every 100 ms, as the peer's pynng sockets are told to.
fn nng() -> SocketOptions {
    SocketOptions {
        req_resend_tick: Some(Duration::from_secs(1)),
        pair_v1: true,
        nng_queues: true,
        sp_send_buffer: Some(0),
        req_send_waits: true,
        reconnect_ivl: Duration::from_millis(100),
        ..SocketOptions::default()
    }
}

/// The options `library: nng` gives a socket of type `kind` at its defaults, from the
/// resolver itself (`data/good/nng-defaults.yaml`), reconnecting every 100 ms as
/// `nng()`.
fn nng_options(kind: SocketType) -> SocketOptions {
    SocketOptions { reconnect_ivl: nng().reconnect_ivl, ..resolved("nng-defaults.yaml", kind) }
}

/// The same for `library: nanomsg` (`data/good/nanomsg-defaults.yaml`).
fn nanomsg_options(kind: SocketType) -> SocketOptions {
    resolved("nanomsg-defaults.yaml", kind)
}

/// The options of the first socket of type `kind` in the test topology `file`
/// (sim/tests/data/good), as the resolver gives them.
fn resolved(file: &str, kind: SocketType) -> SocketOptions {
    let path = util::root().join("sim/tests/data/good").join(file);
    let loaded = patchbay::resolve::load_topology(&path, &patchbay::registry::Registry::builtin());
    let plan = loaded.plan.unwrap_or_else(|| panic!("{file} resolves"));
    let socket = plan.groups.iter().flat_map(|g| &g.sockets).find(|s| s.socket_type == kind);
    socket.unwrap_or_else(|| panic!("{file} has no {kind} socket")).options.socket_options()
}

/// nanomsg 1.1.5's, as `library: nanomsg` resolves: SP, a REQ that resends on pipe
/// loss and once per interval, PUB and SUB as libzmq's, one message per pipe each way,
/// a PUSH and PAIR with no send queue, and NN_SNDBUF and NN_RCVBUF of 128 KiB set on
/// every connection. Reconnects every 100 ms, nanomsg's default.
fn nanomsg() -> SocketOptions {
    SocketOptions {
        sndhwm_msgs: 1,
        rcvhwm_msgs: 1,
        sp_send_buffer: Some(0),
        socket_buffers: SocketBuffers::NANOMSG,
        handshake_ivl: Some(patchbay::socket::HANDSHAKE_IVL_NANOMSG),
        ..SocketOptions::default()
    }
}

fn body(msg: &Msg) -> String {
    String::from_utf8_lossy(&msg.body).into_owned()
}

async fn recv_within(socket: &SocketHandle, within: Duration) -> Option<Result<Msg, RecvError>> {
    timeout(within, socket.recv()).await.ok()
}

/// Everything that arrives within `within` of each message before it.
async fn drain(socket: &SocketHandle, within: Duration) -> Vec<Msg> {
    let mut got = Vec::new();
    while let Some(Ok(msg)) = recv_within(socket, within).await {
        got.push(msg);
    }
    got
}

/// A port nothing listens on, for a PUSH that connects before its PULL exists.
fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    probe.local_addr().expect("bound").port()
}

// ------------------------------------------------------------------ the oracle

/// The oracle's outcome lines (`OUTCOME`) and its timings (`TIME name value`).
struct Oracle {
    outcomes: Vec<String>,
    times: Vec<(String, u64)>,
}

fn oracle(row: &str) -> Oracle {
    let mut child = Command::new("python3")
        .args(["-u", PEER_SCRIPT, "oracle", row])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run python3");
    // Read on a thread while the wait is bounded: an oracle that never ends (a
    // library hanging in its own teardown) is killed and fails its row.
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let status = util::wait_bounded(&mut child, ORACLE_LIMIT, &format!("oracle {row}"));
    let status = status.unwrap_or_else(|err| panic!("{err}"));
    let text = reader.join().expect("the oracle's reader");
    assert!(status.success(), "oracle {row} failed: {text}");
    let outcomes = text.lines().filter_map(|l| l.strip_prefix("OUTCOME ")).map(str::to_owned);
    let times = text.lines().filter_map(|l| l.strip_prefix("TIME ")).filter_map(|l| {
        let (name, value) = l.split_once(' ')?;
        Some((name.to_owned(), value.parse().ok()?))
    });
    Oracle { outcomes: outcomes.collect(), times: times.collect() }
}

/// The oracle of `row`, which must show `want` and nothing else; `what` says what a
/// different outcome would mean ("the oracle is not NNG's SUB").
fn oracle_shows(row: &str, want: &str, what: &str) -> Oracle {
    let oracle = oracle(row);
    assert_eq!(oracle.outcomes, [want], "{what}");
    oracle
}

impl Oracle {
    fn time(&self, name: &str) -> u64 {
        let found = self.times.iter().find(|(n, _)| n == name);
        found.unwrap_or_else(|| panic!("the oracle timed no {name}: {:?}", self.times)).1
    }
}

fn require_peers() {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import ctypes, zmq, pynng; ctypes.CDLL('libnanomsg.so.5'); \
             assert zmq.pyzmq_version() == '26.2.0' and pynng.__version__ == '0.9.0'",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the conformance suite needs python3 with pyzmq 26.2.0 and pynng 0.9.0, and \
         nanomsg's library (Debian's libnanomsg5): run `cargo xtask test`, which installs \
         them, or `python3 -m pip install pyzmq==26.2.0 pynng==0.9.0` and `apt-get install \
         nanomsg-utils`; it never skips"
    );
}

// ------------------------------------------------------------------ running a row

/// What patchbay's side saw: the outcome in the oracle's words, and its timings.
#[derive(Clone, Debug, Default)]
struct Outcome {
    text: String,
    times: Vec<(String, u64)>,
}

impl Outcome {
    fn new(text: String) -> Outcome {
        Outcome { text, times: Vec::new() }
    }

    fn timed(mut self, name: &str, ms: u64) -> Outcome {
        self.times.push((name.to_owned(), ms));
        self
    }

    fn time(&self, name: &str) -> u64 {
        let found = self.times.iter().find(|(n, _)| n == name);
        found.unwrap_or_else(|| panic!("no {name} timed: {:?}", self.times)).1
    }
}

/// Runs patchbay's side against the real library over real TCP.
fn against_real<F, Fut>(cp: impl FnOnce() -> Result<Counterpart, String>, ours: F) -> Outcome
where
    F: FnOnce(TokioTcp, Env, Counterpart) -> Fut,
    Fut: std::future::Future<Output = Result<Outcome, String>>,
{
    let outcome = RefCell::new(Err("did not run".to_owned()));
    run_local(async {
        let result = match cp() {
            Ok(cp) => ours(TokioTcp, Env::real(), cp).await,
            Err(err) => Err(err),
        };
        *outcome.borrow_mut() = result;
    });
    outcome.into_inner().unwrap_or_else(|err| panic!("patchbay against the real library: {err}"))
}

type PeerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>>>>;
type SimPeer = Box<dyn FnOnce(patchbay::run::ShimTransport, SimLink) -> PeerFuture>;

/// A simulated counterpart's end of the line channel.
struct SimLink {
    rx: UnboundedReceiver<String>,
    tx: UnboundedSender<String>,
}

impl SimLink {
    fn say(&self, line: impl Into<String>) {
        let _ = self.tx.send(line.into());
    }

    async fn expect(&mut self, prefix: &str) -> Result<String, String> {
        let line = self.rx.recv().await.ok_or("patchbay's side went away")?;
        line.strip_prefix(prefix)
            .map(str::to_owned)
            .ok_or_else(|| format!("simulated peer got {line:?}, wanted {prefix:?}"))
    }
}

/// Runs patchbay's side against patchbay's counterpart `peer` in the simulator.
fn in_sim<F, Fut>(row: &str, peer: SimPeer, ours: F) -> Outcome
where
    F: FnOnce(patchbay::run::ShimTransport, Env, Counterpart) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<Outcome, String>> + 'static,
{
    let mut sim = turmoil::Builder::new()
        .rng_seed(0x5eed)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(2))
        .simulation_duration(Duration::from_secs(120))
        .tcp_capacity(SimNetwork::TCP_CAPACITY)
        .build();
    let net = SimNetwork::default();
    let (to_peer, peer_rx) = unbounded_channel();
    let (to_ours, ours_rx) = unbounded_channel();
    let peer_parts = Rc::new(RefCell::new(Some((peer, SimLink { rx: peer_rx, tx: to_ours }))));
    let server_net = net.clone();
    let server_ip = sim.lookup("server");
    sim.host("server", move || {
        let parts = peer_parts.borrow_mut().take();
        let transport = server_net.transport(SERVER, server_ip);
        async move {
            let (peer, link) = parts.expect("the counterpart runs once");
            peer(transport, link).await.map_err(|err| err.into())
        }
    });
    net.listens_at(SocketAddr::new(server_ip, SIM_SERVER_PORT), SERVER);
    net.listens_at(SocketAddr::new(server_ip, SIM_SERVER_PORT_2), SERVER);
    net.listens_at(SocketAddr::new(server_ip, SIM_SERVER_PORT_3), SERVER);
    let outcome = Rc::new(RefCell::new(Err("did not finish".to_owned())));
    let (result, row_name) = (Rc::clone(&outcome), row.to_owned());
    let client_net = net.clone();
    sim.client("client", async move {
        let client_ip = turmoil::lookup("client");
        client_net.listens_at(SocketAddr::new(client_ip, SIM_CLIENT_PORT), CLIENT);
        let env = Env {
            peer_ip: server_ip,
            bind_at: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), SIM_CLIENT_PORT),
            advertise_ip: client_ip,
        };
        let cp = Counterpart::sim(&row_name, ours_rx, to_peer);
        *result.borrow_mut() = ours(client_net.transport(CLIENT, client_ip), env, cp).await;
        Ok(())
    });
    sim.run().unwrap_or_else(|err| panic!("simulation of {row}: {err}"));
    let got = outcome.borrow().clone();
    got.unwrap_or_else(|err| panic!("patchbay against patchbay in the simulator: {err}"))
}

/// The three outcomes must agree; prints them for the conformance table.
fn agree(row: &str, oracle: &str, real: &Outcome, sim: &Outcome) {
    eprintln!(
        "{row}\n  oracle:    {oracle}\n  vs real:   {} {:?}\n  simulated: {} {:?}",
        real.text, real.times, sim.text, sim.times
    );
    assert_eq!(
        real.text, oracle,
        "{row}: patchbay against the real library differs from the oracle"
    );
    assert_eq!(sim.text, oracle, "{row}: patchbay in the simulator differs from the oracle");
}

/// The outcome text the peer script builds for the REQ rows (`req_outcome`).
fn req_outcome(
    rep1: &str,
    reconnected: bool,
    rep2: &str,
    req_got: &[String],
    second: Option<&str>,
) -> String {
    let mut parts = vec![
        format!("REP1 got {rep1}"),
        if reconnected { "REQ reconnected" } else { "REQ did not reconnect" }.to_owned(),
        format!("REP2 got {rep2}"),
        format!(
            "REQ got {}",
            if req_got.is_empty() { "nothing".into() } else { req_got.join(",") }
        ),
    ];
    if let Some(second) = second {
        parts.push(format!("second send {second}"));
    }
    parts.join("; ")
}

fn said_true(word: &str) -> bool {
    word == "True" || word == "true"
}

// The rows, one experiment each, in their own file (a child module sees the harness).
#[path = "conformance_rows.rs"]
mod rows;
#[path = "conformance_rows_reconnect.rs"]
mod rows_reconnect;
#[path = "conformance_rows_req.rs"]
mod rows_req;
#[path = "conformance_rows_sp_dial.rs"]
mod rows_sp_dial;
