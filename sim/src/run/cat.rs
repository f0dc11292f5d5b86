//! One of patchbay's sockets alone on real TCP, played as `cat` plays it: the
//! library side of `cargo xtask cat`, patchbay's nanocat (docs/cat.md).
//!
//! The socket is the same sans-IO core and driver a `real` run uses (`make_core`,
//! `net::spawn_socket` over `TokioTcp`), speaking SP or ZMTP as its options say, so
//! poking a running NNG, nanomsg or libzmq program with it exercises exactly the
//! code the simulator tests. What `cat` does with the socket (send a request and print
//! the reply, answer each request, print what arrives...) depends only on the socket
//! type, as nanocat's does; [`CatScript`] holds the timing and the body. Printing is
//! the caller's ([`CatOutput`]); this module decides what to print and when to stop.
//!
//! The clock here is the wall clock: nothing is simulated, as in `run/real.rs`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::net::{DriverEvent, EventSink, SocketHandle, TokioTcp, Transport, spawn_socket};
use crate::socket::{
    DropReason, Msg, PipeId, REQUEST_ID_BIT, SocketBuffers, SocketEvent, SocketOptions, SocketType,
    make_core,
};
use crate::wire::{PAIR_VERSION_HINT, SpProtocol};

/// The socket `cat` opens: its type, options (the library's defaults, with the
/// subscriptions and linger `cat` was given) and where it binds and connects.
#[derive(Clone, Debug)]
pub struct CatSocket {
    /// The socket's type (`--req`, `--pub`, ...).
    pub socket_type: SocketType,
    /// Its options: the library's defaults, `--subscribe` and the linger.
    pub options: SocketOptions,
    /// The addresses it binds (`--bind`).
    pub binds: Vec<SocketAddr>,
    /// The addresses it connects to (`--connect`).
    pub connects: Vec<SocketAddr>,
}

/// What `cat` sends and when, and when it gives up.
#[derive(Clone, Debug, Default)]
pub struct CatScript {
    /// The body sent: a message, a request, a survey, or the reply a REP, RESPONDENT
    /// or ROUTER gives (without one those echo each request back).
    pub body: Option<Bytes>,
    /// Send again every this long (a request or survey: start the next one).
    pub interval: Option<Duration>,
    /// Wait this long before the first send.
    pub delay: Option<Duration>,
    /// Stop after this many messages received (sent, for PUSH and PUB).
    pub count: Option<u64>,
    /// Give up, with [`CatEnd::RecvTimedOut`], when no message arrives for this long
    /// (a SURVEYOR: its survey deadline, after which a survey with no response ends
    /// the same way).
    pub recv_timeout: Option<Duration>,
    /// Give up, with [`CatEnd::SendTimedOut`], when a send cannot leave for this long
    /// (no peer connected, or every peer's queue full). Also the socket's linger.
    pub send_timeout: Option<Duration>,
}

/// How a `cat` ended, when nothing went wrong with the socket itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatEnd {
    /// Everything asked was sent and received (or `--count` was reached).
    Done,
    /// No message arrived within `recv_timeout` (a survey got no response).
    RecvTimedOut,
    /// A send could not leave within `send_timeout`.
    SendTimedOut,
}

/// Where `cat` reports to: the command line prints, tests may collect.
pub trait CatOutput {
    /// The addresses the socket bound, in the order given (port 0 resolved).
    fn bound(&self, addrs: &[SocketAddr]);
    /// A message the socket received, for the application.
    fn message(&self, msg: &Msg) -> io::Result<()>;
    /// Something the user should know that is not a message: a peer that broke the
    /// protocol and was cut off, a message dropped as one the socket cannot use, a
    /// connect or an accept that failed.
    fn note(&self, text: &str);
}

/// A bind the operating system refused, with the address: of several `--bind`s, the
/// error alone ("Address already in use") would not say which. [`cat`] returns it
/// inside an [`io::Error`] of the same kind (`io::Error::get_ref` and `downcast_ref`
/// find it).
#[derive(Debug)]
pub struct BindFailed {
    /// The address that could not be bound.
    pub addr: SocketAddr,
    /// Why.
    pub error: io::Error,
}

impl std::fmt::Display for BindFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot bind tcp://{}: {}", self.addr, self.error)
    }
}

impl std::error::Error for BindFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Real TCP, as [`TokioTcp`], with a refused bind naming its address ([`BindFailed`]).
#[derive(Clone, Copy, Debug)]
struct CatTcp;

impl Transport for CatTcp {
    type Stream = <TokioTcp as Transport>::Stream;
    type Listener = <TokioTcp as Transport>::Listener;
    const PADDING: crate::wire::Padding = TokioTcp::PADDING;
    const REAL_CLOCK: bool = TokioTcp::REAL_CLOCK;

    async fn bind(
        &self,
        addr: SocketAddr,
        buffers: SocketBuffers,
    ) -> io::Result<(Self::Listener, SocketAddr)> {
        TokioTcp
            .bind(addr, buffers)
            .await
            .map_err(|error| io::Error::new(error.kind(), BindFailed { addr, error }))
    }

    async fn accept(&self, listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        TokioTcp.accept(listener).await
    }

    async fn connect(&self, addr: SocketAddr, buffers: SocketBuffers) -> io::Result<Self::Stream> {
        TokioTcp.connect(addr, buffers).await
    }
}

/// Opens the socket on its own single-threaded runtime, plays the script for its
/// type, closes the socket (waiting out its linger) and says how it ended. An error
/// is a failure to start (a bind refused: a [`BindFailed`] inside) or to print.
pub fn cat(socket: &CatSocket, script: &CatScript, out: Rc<dyn CatOutput>) -> io::Result<CatEnd> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let session = Session::open(socket, Rc::clone(&out)).await?;
        out.bound(session.handle.local_addrs());
        let ended = session.play(socket.socket_type, script).await;
        session.handle.close().await;
        ended
    })
}

/// What one play of the script can end in besides going on.
enum Stop {
    End(CatEnd),
    Failed(io::Error),
}

type Step<T = ()> = Result<T, Stop>;

/// The open socket, how many peers it has, and where messages are printed.
struct Session {
    handle: SocketHandle,
    /// Connections that finished their handshake and have not ended.
    connected: watch::Receiver<usize>,
    out: Rc<dyn CatOutput>,
    /// Messages received so far, against `--count`.
    received: Cell<u64>,
    /// Messages of ours dropped unsent because their connection closed first (a
    /// bound socket's pipe goes with its connection): sent again by PAIR, BUS and
    /// DEALER, whose sends are not done until they have left.
    lost: Rc<Cell<u64>>,
    /// A DEALER on SP: the next request id its messages carry.
    raw_request_ids: Option<Cell<u32>>,
}

impl Session {
    async fn open(socket: &CatSocket, out: Rc<dyn CatOutput>) -> io::Result<Session> {
        let (count_tx, connected) = watch::channel(0_usize);
        let noted = Rc::clone(&out);
        let lost = Rc::new(Cell::new(0_u64));
        let lost_in_sink = Rc::clone(&lost);
        // A connect that fails is tried again (the library's reconnect interval) until
        // a peer answers; its first failure is noted, so that a `cat` waiting on a
        // wrong address says which and why, and the retries stay quiet until it has
        // connected (and may be lost again).
        let unreachable: RefCell<BTreeSet<SocketAddr>> = RefCell::default();
        // A listener that cannot accept fails again at each of its pauses: noted once,
        // and again only after a connection has come through since.
        let unaccepting: RefCell<BTreeSet<SocketAddr>> = RefCell::default();
        // Each connected pipe's peer, and whether it has sent a message the socket
        // dropped as malformed (noted once a connection: a peer may send thousands).
        let peers: RefCell<BTreeMap<PipeId, (SocketAddr, bool)>> = RefCell::default();
        let shape = (socket.socket_type, socket.options.clone());
        let sink: EventSink = Rc::new(move |_at, event| match event {
            DriverEvent::Socket(SocketEvent::Dropped {
                reason: DropReason::PipeClosed, ..
            }) => {
                lost_in_sink.set(lost_in_sink.get() + 1);
            }
            DriverEvent::Socket(SocketEvent::Dropped {
                reason: DropReason::Malformed,
                pipe: Some(pipe),
                msg,
            }) => {
                let mut peers = peers.borrow_mut();
                let Some((peer, noted_before)) = peers.get_mut(&pipe) else { return };
                if !std::mem::replace(noted_before, true) {
                    noted.note(&format!(
                        "{peer} sent a message the {} cannot use: {}; dropped, as are any \
                         more from this connection (without a note)",
                        shape.0,
                        malformed(shape.0, &shape.1, &msg)
                    ));
                }
            }
            // Noted when first seen; the retries fall through to the last arm.
            DriverEvent::ConnectFailed { addr, reason, .. }
                if unreachable.borrow_mut().insert(addr) =>
            {
                noted.note(&format!(
                    "cannot connect to tcp://{addr}: {reason}; trying again until it answers"
                ));
            }
            DriverEvent::AcceptFailed { addr, reason, out_of_descriptors }
                if unaccepting.borrow_mut().insert(addr) =>
            {
                let why = if out_of_descriptors {
                    "the process is out of file descriptors (raise `ulimit -n`, or wait for \
                     connections to close); "
                } else {
                    ""
                };
                noted.note(&format!(
                    "cannot accept a connection on tcp://{addr}: {reason}; {why}the \
                     connections made carry on, and new ones wait until it can accept again"
                ));
            }
            DriverEvent::Connected { pipe, peer } => {
                unreachable.borrow_mut().remove(&peer);
                unaccepting.borrow_mut().clear();
                peers.borrow_mut().insert(pipe, (peer, false));
                count_tx.send_modify(|n| *n += 1);
            }
            DriverEvent::Disconnected { pipe, .. } => {
                peers.borrow_mut().remove(&pipe);
                count_tx.send_modify(|n| *n = n.saturating_sub(1));
            }
            DriverEvent::ProtocolError { peer, reason } => {
                let reason = cat_hint(&reason, &shape.1);
                noted.note(&format!("{peer} broke the protocol and was cut off: {reason}"));
            }
            DriverEvent::TaskPanicked { task, message } => {
                noted.note(&format!("internal error in the {task} task: {message}"));
            }
            _ => {}
        });
        let core = make_core(socket.socket_type, &socket.options, first_request_id());
        let binds = socket.binds.clone();
        let connects = socket.connects.clone();
        let handle =
            spawn_socket(CatTcp, core, &socket.options, binds, connects, Instant::now(), sink)
                .await?;
        let raw_dealer = socket.socket_type == SocketType::Dealer && !socket.options.zmtp;
        let raw_request_ids = raw_dealer.then(|| Cell::new(first_request_id()));
        Ok(Session { handle, connected, out, received: Cell::new(0), lost, raw_request_ids })
    }

    async fn play(&self, socket_type: SocketType, script: &CatScript) -> io::Result<CatEnd> {
        use SocketType::*;
        let played = match (socket_type, &script.body) {
            (Push | Pub | XPub, Some(body)) => self.send_only(script, body).await,
            (Req, Some(body)) => self.request(script, body).await,
            (Surveyor, Some(body)) => self.survey(script, body).await,
            (Rep | Respondent | Router, _) => self.reply(script).await,
            (Pair | Bus | Dealer, Some(body)) => self.send_and_receive(script, body).await,
            _ => self.receive_only(script).await,
        };
        match played {
            Ok(()) | Err(Stop::End(CatEnd::Done)) => Ok(CatEnd::Done),
            Err(Stop::End(end)) => Ok(end),
            Err(Stop::Failed(e)) => Err(e),
        }
    }

    /// PUSH, PUB: send once (or `count` times), at each interval if one is given.
    async fn send_only(&self, script: &CatScript, body: &Bytes) -> Step {
        let mut pacer = Pacer::start(script).await;
        let mut sent = 0_u64;
        loop {
            self.send(script, Msg::new(body.clone())).await?;
            sent += 1;
            if script.count.is_some_and(|n| sent >= n) || !pacer.again(script) {
                return Ok(());
            }
            pacer.wait().await;
        }
    }

    /// REQ: send the request, print its reply; again at each interval.
    async fn request(&self, script: &CatScript, body: &Bytes) -> Step {
        let mut pacer = Pacer::start(script).await;
        loop {
            self.send(script, Msg::new(body.clone())).await?;
            let reply = self.recv(script.recv_timeout).await?;
            self.print(script, &reply)?;
            if !pacer.again(script) {
                return Ok(());
            }
            pacer.wait().await;
        }
    }

    /// SURVEYOR: send the survey, print responses until its deadline; again at each
    /// interval. A survey that nobody answered ends as a receive timeout.
    async fn survey(&self, script: &CatScript, body: &Bytes) -> Step {
        let mut pacer = Pacer::start(script).await;
        loop {
            self.send(script, Msg::new(body.clone())).await?;
            let mut answered = false;
            // The core ends the survey at its deadline: a receive is then refused.
            while let Ok(response) = self.handle.recv().await {
                answered = true;
                self.print(script, &response)?;
            }
            if !answered {
                return Err(Stop::End(CatEnd::RecvTimedOut));
            }
            if !pacer.again(script) {
                return Ok(());
            }
            pacer.wait().await;
        }
    }

    /// REP, RESPONDENT, ROUTER: print each request and answer it with the body, or
    /// with the request's own body when there is none.
    async fn reply(&self, script: &CatScript) -> Step {
        loop {
            let request = self.recv(script.recv_timeout).await?;
            let body = script.body.clone().unwrap_or_else(|| request.body.clone());
            // A ROUTER routes by the hop id on the stack; REP and RESPONDENT answer
            // the request they last received whatever the stack says.
            let reply = Msg { header: request.header.clone(), body };
            self.send(script, reply).await?;
            self.print(script, &request)?;
        }
    }

    /// PULL, SUB (and PAIR, BUS, DEALER without a body): print what arrives.
    async fn receive_only(&self, script: &CatScript) -> Step {
        loop {
            let msg = self.recv(script.recv_timeout).await?;
            self.print(script, &msg)?;
        }
    }

    /// PAIR, BUS, DEALER with a body: send it (at each interval) while printing what
    /// arrives. With `--count N` it ends once both are done: N messages received and
    /// its own sends made (N of them at an interval, else the one), so a peer's
    /// message arriving first never ends it before its own has been handed to the
    /// socket, which then flushes it at close (a PAIR whose peer answered at once
    /// used to exit with its own message still unsent), and one of its messages
    /// dropped with a connection that closed before it left is sent again.
    async fn send_and_receive(&self, script: &CatScript, body: &Bytes) -> Step {
        let mut pacer = Pacer::start(script).await;
        self.send(script, self.outgoing(body)).await?;
        let mut sent = 1_u64;
        let sends_wanted = match (script.interval, script.count) {
            (Some(_), Some(n)) => n,
            _ => 1,
        };
        let repeat = script.interval.is_some();
        loop {
            // A message dropped with its connection has not left: it goes again.
            while self.lost.get() > 0 {
                self.lost.set(self.lost.get() - 1);
                self.send(script, self.outgoing(body)).await?;
            }
            let received_all = script.count.is_some_and(|n| self.received.get() >= n);
            if received_all && sent >= sends_wanted {
                return Ok(());
            }
            let wait = script.recv_timeout.map(|t| Instant::now() + t);
            let more_to_send = repeat && (script.count.is_none() || sent < sends_wanted);
            let msg = tokio::select! {
                biased;
                got = self.handle.recv(), if !received_all => got,
                () = pacer.wait(), if more_to_send => {
                    self.send(script, self.outgoing(body)).await?;
                    sent += 1;
                    continue;
                }
                () = crate::net::timer::sleep_until_or_never(wait), if !received_all => {
                    return Err(Stop::End(CatEnd::RecvTimedOut));
                }
            };
            let msg = msg.map_err(|e| refused("receive", e))?;
            self.out.message(&msg).map_err(Stop::Failed)?;
            self.received.set(self.received.get() + 1);
        }
    }

    /// A message of `body` as the application sends it. A DEALER on SP is a raw REQ:
    /// what it sends must carry a request id, as an NNG raw-REQ application's does, or
    /// every REP and ROUTER drops it as malformed; each send takes the next id.
    fn outgoing(&self, body: &Bytes) -> Msg {
        let mut msg = Msg::new(body.clone());
        if let Some(ids) = &self.raw_request_ids {
            msg.header.push(ids.get() | REQUEST_ID_BIT);
            ids.set(ids.get().wrapping_add(1));
        }
        msg
    }

    /// Sends once a peer is connected (queued for a peer that never comes is lost at
    /// close, as in nanocat), within the send timeout.
    async fn send(&self, script: &CatScript, msg: Msg) -> Step {
        let leave = async {
            let mut connected = self.connected.clone();
            // The sender lives as long as the socket's tasks: an error means it closed.
            let _ = connected.wait_for(|n| *n > 0).await;
            self.handle.send(msg).await
        };
        match script.send_timeout {
            None => leave.await,
            Some(t) => crate::net::timer::timeout(t, leave)
                .await
                .map_err(|_| Stop::End(CatEnd::SendTimedOut))?,
        }
        .map_err(|e| refused("send", e))
    }

    async fn recv(&self, timeout: Option<Duration>) -> Step<Msg> {
        let got = match timeout {
            None => self.handle.recv().await,
            Some(t) => crate::net::timer::timeout(t, self.handle.recv())
                .await
                .map_err(|_| Stop::End(CatEnd::RecvTimedOut))?,
        };
        got.map_err(|e| refused("receive", e))
    }

    /// Hands a received message to the output and stops once `count` is reached.
    fn print(&self, script: &CatScript, msg: &Msg) -> Step {
        self.out.message(msg).map_err(Stop::Failed)?;
        let received = self.received.get() + 1;
        self.received.set(received);
        if script.count.is_some_and(|n| received >= n) {
            return Err(Stop::End(CatEnd::Done));
        }
        Ok(())
    }
}

/// What was wrong with a message a socket of type `t` dropped as malformed, as its
/// note says it: on SP, where the message is the payload as it arrived, the reason its
/// receiver's rule gives; otherwise what the type needed and did not find.
fn malformed(t: SocketType, options: &SocketOptions, msg: &Msg) -> String {
    // Its length on the wire: on SP its routing ids are 4 bytes each.
    let ids = if options.zmtp { 0 } else { 4 * msg.header.len() };
    let len = ids + msg.body.len();
    if !options.zmtp
        && msg.header.is_empty()
        && let Err(bad) = SpProtocol::for_socket(t, options).split(msg.body.clone())
    {
        return bad.to_string();
    }
    match t {
        SocketType::Req => format!("a reply of {len} bytes that does not start with a request id"),
        SocketType::Surveyor => {
            format!("a response of {len} bytes that does not start with a survey id")
        }
        SocketType::Rep | SocketType::Dealer | SocketType::Router if options.zmtp => format!(
            "a message of {len} bytes without the envelope a {t} reads (frames up to an \
             empty delimiter)"
        ),
        SocketType::Pub | SocketType::XPub => {
            format!("a message of {len} bytes that is not a subscription")
        }
        _ => format!("a message of {len} bytes"),
    }
}

/// A protocol error's reason with the hint `cat`'s user can act on: a PAIR version
/// mismatch's hint names topology options (`pair_version`), where `cat`'s cure is its
/// `--library` (docs/cat.md: `nng` speaks PAIR v1, `nanomsg` v0).
fn cat_hint(reason: &str, options: &SocketOptions) -> String {
    let Some(mismatch) = reason.strip_suffix(PAIR_VERSION_HINT) else {
        return reason.to_owned();
    };
    let hint = if options.pair_v1 {
        "the peer's PAIR is v0 (nanomsg's, NNG's pair0, pynng's Pair0): talk to it with \
         `--library nanomsg`, whose PAIR is v0"
    } else {
        "the peer's PAIR is v1 (NNG's default, pynng's Pair1): talk to it with `--library \
         nng`, whose PAIR is v1"
    };
    format!("{mismatch}; hint: {hint}")
}

/// A send or receive the core refused: the socket's state forbids it (a bug in how
/// `cat` plays the socket type, reported rather than hidden).
fn refused(what: &str, e: impl std::fmt::Debug) -> Stop {
    Stop::Failed(io::Error::other(format!("the socket refused to {what}: {e:?}")))
}

/// When the next send is due: the delay, then every interval from the first send.
struct Pacer {
    next: Instant,
    interval: Option<Duration>,
}

impl Pacer {
    /// Waits out the delay; the first send is due now.
    async fn start(script: &CatScript) -> Pacer {
        if let Some(delay) = script.delay {
            crate::net::timer::sleep(delay).await;
        }
        Pacer { next: Instant::now(), interval: script.interval }
    }

    /// Whether there is another send: with an interval, always (until `count`);
    /// without one, only while a `count` is still to be reached.
    fn again(&self, script: &CatScript) -> bool {
        self.interval.is_some() || script.count.is_some()
    }

    /// Waits until the next send is due (at once without an interval). Cancel-safe:
    /// the due time moves on only once it has passed.
    async fn wait(&mut self) {
        let Some(interval) = self.interval else { return };
        let due = self.next + interval;
        crate::net::timer::sleep_until(due).await;
        self.next = due;
    }
}

/// Where a REQ's or SURVEYOR's ids start. A standalone socket has no run seed; any
/// start is correct (the high bit is set by the core), and one from the process id
/// and the time keeps two `cat`s started together from reusing each other's ids.
fn first_request_id() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    now ^ std::process::id().rotate_left(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pacer_without_interval_repeats_only_towards_a_count() {
        let once = CatScript::default();
        let counted = CatScript { count: Some(3), ..CatScript::default() };
        let paced = CatScript { interval: Some(Duration::from_secs(1)), ..CatScript::default() };
        let pacer = |s: &CatScript| Pacer { next: Instant::now(), interval: s.interval };
        assert!(!pacer(&once).again(&once));
        assert!(pacer(&counted).again(&counted));
        assert!(pacer(&paced).again(&paced));
    }
}
