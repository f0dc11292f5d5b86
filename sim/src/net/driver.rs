//! The socket driver: binds, connects, accepts and times one socket core over any
//! [`Transport`], as a handful of tasks on the current `LocalSet`.
//!
//! One task per connect target keeps that target's pipe alive and reconnects with
//! libzmq's backoff; one task per listener accepts; one task per accepted connection
//! serves it (`conn.rs`); one task sleeps until the core's next deadline, spawned the
//! first time the core wants one (a DEALER or ROUTER never does). The
//! application talks to the core through the [`SocketHandle`] this returns. Time is
//! `tokio::time::Instant::now() - epoch`, which under turmoil is simulated time.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;

use super::conn::{ConnEnd, Framing, open, run_established};
use super::deadline::within_deadline;
use super::event::{DriverEvent, EventSink};
use super::handle::SocketHandle;
use super::shared::Shared;
use super::transport::Transport;
use crate::socket::{PipeId, ReconnectBackoff, SocketCore, SocketOptions};

/// The longest an accept loop pauses after repeated failures: long enough not to spin
/// on a descriptor limit, short enough to take new peers soon after one frees.
pub const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// Whether an I/O error means the process (EMFILE) or the system (ENFILE) ran out of
/// file descriptors.
pub fn out_of_descriptors(err: &io::Error) -> bool {
    use rustix::io::Errno;
    let errno = err.raw_os_error();
    errno.is_some() && [Errno::MFILE, Errno::NFILE].iter().any(|e| Some(e.raw_os_error()) == errno)
}

/// An I/O error as a trace reason. An operating system's error names itself
/// ("Connection refused (os error 111)"); turmoil's carry only an address, so
/// their kind leads.
fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(_) => err.to_string(),
        None => format!("{}: {err}", err.kind()),
    }
}

/// Starts a socket: binds every address in `binds` (failing as a whole if one bind
/// fails), attaches one pipe per address in `connects` at once so that messages can
/// queue before any connection exists, and spawns the socket's tasks on the current
/// `LocalSet`. Must be called from inside a `LocalSet` (every turmoil host is one).
/// `options` is copied, or shared when given as an `Rc`: sockets made from one
/// declaration (a group's replicas) may share one copy. Its random reconnect delays
/// (`ReconnectBackoff`) draw from a stream seeded with 0; [`spawn_socket_seeded`]
/// gives each socket its own.
pub async fn spawn_socket<T: Transport>(
    transport: T,
    core: Box<dyn SocketCore>,
    options: impl Into<Rc<SocketOptions>>,
    binds: Vec<SocketAddr>,
    connects: Vec<SocketAddr>,
    epoch: Instant,
    events: EventSink,
) -> io::Result<SocketHandle> {
    spawn_socket_seeded(transport, core, options, binds, connects, epoch, events, 0).await
}

/// [`spawn_socket`], with the seed of the socket's random reconnect delays: libzmq's
/// jitter and NNG's back-off are random, and sockets of one run must not all draw the
/// same (every backend seeds each from the run's seed).
#[allow(clippy::too_many_arguments, reason = "spawn_socket's, and the seed")]
pub async fn spawn_socket_seeded<T: Transport>(
    transport: T,
    core: Box<dyn SocketCore>,
    options: impl Into<Rc<SocketOptions>>,
    binds: Vec<SocketAddr>,
    connects: Vec<SocketAddr>,
    epoch: Instant,
    events: EventSink,
    reconnect_seed: u64,
) -> io::Result<SocketHandle> {
    let options = options.into();
    let mut listeners = Vec::with_capacity(binds.len());
    for addr in binds {
        listeners.push(transport.bind(addr, options.socket_buffers).await?);
    }
    let shared =
        Shared::new(core, options, T::PADDING, epoch, T::REAL_CLOCK, events, reconnect_seed);
    let local_addrs = listeners.iter().map(|(_, addr)| *addr).collect();
    for (listener, addr) in listeners {
        let accepting = accept_loop(Rc::clone(&shared), transport.clone(), listener, addr);
        shared.spawn("accept", accepting);
    }
    for addr in connects {
        let pipe = shared.new_pipe();
        shared.with_core(|core, now| core.attach(pipe, now));
        shared.spawn("connect", connect_loop(Rc::clone(&shared), transport.clone(), addr, pipe));
    }
    shared.allow_timer();
    Ok(SocketHandle::new(shared, local_addrs))
}

/// Options given by reference are copied into a socket of their own.
impl From<&SocketOptions> for Rc<SocketOptions> {
    fn from(options: &SocketOptions) -> Rc<SocketOptions> {
        Rc::new(options.clone())
    }
}

/// Reconnect delays as the socket's library computes them ([`ReconnectBackoff`]):
/// from `reconnect_ivl`, growing after each failure up to `reconnect_ivl_max` when
/// that is set, and, but for nanomsg's, back to the start after a connection that got
/// through its handshake. libzmq's and NNG's draw from `draw` (the socket's seeded
/// stream), in whole milliseconds as theirs do.
///
/// Only the step is kept; the interval and its maximum are read from the socket's
/// options at each step, not copied into every connection's task (32 bytes of each
/// connecting end; issue 16).
#[derive(Debug)]
pub(super) struct Backoff {
    /// How many delays have been taken since the start (saturating): the rules'
    /// doublings count from it.
    steps: u32,
}

impl Backoff {
    pub(super) fn new() -> Backoff {
        Backoff { steps: 0 }
    }

    /// A TCP connection was made. libzmq starts again from `reconnect_ivl` as soon as
    /// one is lost, handshake or not: its session makes a new connecter for it, and
    /// only a connect that fails outright keeps one connecter doubling (the row
    /// `zmq-reconnect-delays`, with a maximum, 200 ms every time).
    pub(super) fn connected(&mut self, options: &SocketOptions) {
        if options.reconnect_backoff == ReconnectBackoff::Libzmq {
            self.steps = 0;
        }
    }

    /// A connection got through its handshake: NNG's `nni_dialer_add_pipe` (and
    /// libzmq, above) start again from `reconnect_ivl`; nanomsg's TCP connecter never
    /// resets its back-off.
    pub(super) fn reset(&mut self, options: &SocketOptions) {
        if options.reconnect_backoff != ReconnectBackoff::Nanomsg {
            self.steps = 0;
        }
    }

    pub(super) fn next_delay(
        &mut self,
        options: &SocketOptions,
        draw: impl FnOnce() -> u64,
    ) -> Duration {
        let (ivl, max) = (options.reconnect_ivl, options.reconnect_ivl_max);
        // `ivl` doubled `n` times, at most `cap` (and never past it by overflow).
        let doubled = |n: u32, cap: Duration| {
            let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
            ivl.saturating_mul(factor).min(cap)
        };
        let step = self.steps;
        self.steps = self.steps.saturating_add(1);
        match (options.reconnect_backoff, max) {
            (ReconnectBackoff::Exact, None) => ivl,
            (ReconnectBackoff::Exact, Some(max)) => doubled(step, max.max(ivl)),
            // libzmq: with a maximum, the first delay is `ivl` capped at it too.
            (ReconnectBackoff::Libzmq, Some(max)) => doubled(step, max),
            (ReconnectBackoff::Libzmq, None) => ivl + random_millis(ivl, draw),
            (ReconnectBackoff::Nng, max) => {
                // `d_currtime` starts at `ivl` and, with a maximum, doubles up to it.
                let current = match max {
                    Some(max) if step > 0 => doubled(step, max),
                    _ => ivl,
                };
                random_millis(current, draw)
            }
            (ReconnectBackoff::Nanomsg, max) => {
                // (n - 1) × ivl for n = 1, 2, 4, …, capped; n stops doubling once
                // capped, which `steps` saturating past the cap stands for.
                let cap = max.unwrap_or(ivl);
                let n = 1u32.checked_shl(step.min(31)).unwrap_or(u32::MAX);
                ivl.saturating_mul(n - 1).min(cap)
            }
        }
    }
}

/// A random whole number of milliseconds from 0 to `bound` - 1 ms, as libzmq's
/// `generate_random () % ivl` and NNG's `nni_random () % back_off` draw (zero for a
/// bound under a millisecond).
fn random_millis(bound: Duration, draw: impl FnOnce() -> u64) -> Duration {
    let millis = bound.as_millis() as u64;
    if millis == 0 { Duration::ZERO } else { Duration::from_millis(draw() % millis) }
}

/// Keeps `pipe` connected to `addr` until the socket closes, then detaches it.
/// (A function returning a block, so its arguments are held once; see
/// [`serve_accepted`].)
#[allow(clippy::manual_async_fn, reason = "an async fn would hold its by-value arguments twice")]
fn connect_loop<T: Transport>(
    shared: Rc<Shared>,
    transport: T,
    addr: SocketAddr,
    pipe: PipeId,
) -> impl std::future::Future<Output = ()> {
    async move {
        let mut backoff = Backoff::new();
        // Once the socket closes, the loop goes on only while this pipe holds
        // messages and its linger lasts: the linger's wait, made once (so it counts
        // from the close, not from each attempt) and boxed only then, as every
        // connect loop of a comet run holds this state for its whole life.
        let mut lingering = None;
        loop {
            if shared.is_shutting_down() && shared.nothing_to_linger_for(pipe) {
                break;
            }
            let mut attempt = tokio::select! {
                biased;
                () = stopped(&shared, pipe, &mut lingering) => break,
                attempt = transport.connect(addr, shared.options.socket_buffers) => attempt,
            };
            match &mut attempt {
                Ok(stream) => {
                    backoff.connected(&shared.options);
                    let dialled = serve_connected(&shared, pipe, stream, &addr).await;
                    if dialled.shaken {
                        backoff.reset(&shared.options);
                    }
                    // libzmq's session terminates on a protocol error (a message over
                    // `ZMQ_MAXMSGSIZE`, a broken frame or greeting) where it reconnects
                    // on a lost connection or a timeout (`engine_error`): its pipe is
                    // gone, with what was queued on it, and it never dials this
                    // address again. NNG and nanomsg dial again.
                    if dialled.protocol_fault && shared.options.zmtp {
                        break;
                    }
                }
                Err(err) => shared.emit(DriverEvent::ConnectFailed {
                    addr,
                    reason: describe(err),
                    out_of_descriptors: out_of_descriptors(err),
                }),
            }
            // The connection is closed before the pause, as it was when served by value.
            drop(attempt);
            let delay = backoff.next_delay(&shared.options, || shared.reconnect_draw());
            tokio::select! {
                biased;
                () = stopped(&shared, pipe, &mut lingering) => break,
                () = super::timer::sleep(delay) => {}
            }
        }
        shared.with_core(|core, now| core.detach(pipe, now));
    }
}

/// Resolves when a connect loop for `pipe` is to stop: once the socket closes, at
/// once if `pipe` holds nothing to send (or its process ended), else when its linger
/// runs out (`Shared::linger_on`), which `lingering` keeps from one call to the next.
async fn stopped<'a>(
    shared: &'a Shared,
    pipe: PipeId,
    lingering: &mut Option<Pin<Box<dyn Future<Output = ()> + 'a>>>,
) {
    if lingering.is_none() {
        shared.shutdown().await;
        if shared.nothing_to_linger_for(pipe) {
            return;
        }
        *lingering = Some(Box::pin(shared.linger_on()));
    }
    if let Some(linger) = lingering {
        linger.as_mut().await;
    }
}

/// How a dialled connection went ([`serve_connected`]).
struct Dialled {
    /// Its handshake succeeded, which starts the reconnect back-off again.
    shaken: bool,
    /// It ended for a protocol fault of the peer's, in the handshake or after.
    protocol_fault: bool,
}

/// Handshakes a fresh outgoing connection and runs it on the existing `pipe`.
/// `addr` is borrowed: the connection keeps its own copy, and one is enough.
async fn serve_connected<S>(
    shared: &Rc<Shared>,
    pipe: PipeId,
    stream: &mut S,
    addr: &SocketAddr,
) -> Dialled
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // The handshake's result is taken apart before the connection runs: matched
    // around the `.await`, it stayed in the future beside the connection.
    let framing = match shake(shared, Some(pipe), stream).await {
        None => return Dialled { shaken: false, protocol_fault: false },
        Some(Ok(framing)) => framing,
        Some(Err(end)) => {
            let protocol_fault = end.protocol_fault();
            if let Some(reason) = protocol_fault.clone() {
                shared.emit(DriverEvent::ProtocolError { peer: *addr, reason });
            } else {
                let out_of_descriptors =
                    matches!(&end, ConnEnd::Io(err) if out_of_descriptors(err));
                let reason = end.to_string();
                shared.emit(DriverEvent::ConnectFailed { addr: *addr, reason, out_of_descriptors });
            }
            return Dialled { shaken: false, protocol_fault: protocol_fault.is_some() };
        }
    };
    let protocol_fault = run_established(shared, pipe, stream, addr, framing).await;
    Dialled { shaken: true, protocol_fault }
}

/// The handshake of a fresh connection under the socket's deadline; `None` when the
/// socket closes first. The one place a connection's handshake runs, on both sides,
/// so the deadline covers every connection of every socket type.
fn shake<'a, S>(
    shared: &'a Shared,
    dialling: Option<PipeId>,
    stream: &'a mut S,
) -> impl std::future::Future<Output = Option<Result<Framing, ConnEnd>>> + 'a
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    within_deadline(shared, dialling, open(shared, stream))
}

/// Accepts connections on one listener until the socket closes, each served by its
/// own task on its own pipe.
async fn accept_loop<T: Transport>(
    shared: Rc<Shared>,
    transport: T,
    listener: T::Listener,
    addr: SocketAddr,
) {
    let first_pause = shared.options.reconnect_ivl.min(ACCEPT_PAUSE_MAX);
    let mut pause = first_pause;
    loop {
        let accepted = tokio::select! {
            biased;
            () = shared.shutdown() => return,
            accepted = transport.accept(&listener) => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                pause = first_pause;
                shared.spawn("connection", serve_accepted(Rc::clone(&shared), stream, peer));
            }
            Err(err) => {
                let out_of_descriptors = out_of_descriptors(&err);
                let reason = describe(&err);
                shared.emit(DriverEvent::AcceptFailed { addr, reason, out_of_descriptors });
                // Accept errors such as running out of file descriptors repeat at
                // once; pausing keeps the loop from spinning while the connections
                // already accepted, each its own task, carry on.
                tokio::select! {
                    biased;
                    () = shared.shutdown() => return,
                    () = super::timer::sleep(pause) => {}
                }
                pause = pause.saturating_mul(2).min(ACCEPT_PAUSE_MAX);
            }
        }
    }
}

/// Handshakes an incoming connection, then gives it a fresh pipe for its lifetime.
///
/// A plain function returning a block that uses `stream` where it was captured: an
/// `async fn` keeps a by-value argument twice, as passed and as moved into its body,
/// and a simulated stream is 432 bytes of every accepted connection's task (issue
/// 16). The stream is closed before the task ends, as an argument would have been.
#[allow(clippy::manual_async_fn, reason = "an async fn would hold its by-value arguments twice")]
fn serve_accepted<S>(
    shared: Rc<Shared>,
    mut stream: S,
    peer: SocketAddr,
) -> impl std::future::Future<Output = ()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    async move {
        let served = serve_accepted_on(&shared, &mut stream, &peer).await;
        drop(stream);
        if let Some(pipe) = served {
            shared.with_core(|core, now| core.detach(pipe, now));
        }
    }
}

/// [`serve_accepted`] up to the stream's close: the pipe it ran on, to detach once the
/// stream is closed, or `None` when the handshake failed or the socket closed first.
async fn serve_accepted_on<S>(
    shared: &Rc<Shared>,
    stream: &mut S,
    peer: &SocketAddr,
) -> Option<PipeId>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let framing = match shake(shared, None, stream).await? {
        Ok(framing) => framing,
        Err(end) => {
            let reason = match end {
                ConnEnd::HandshakeTimeout(timed_out) => timed_out.to_string(),
                other => {
                    other.protocol_fault().unwrap_or_else(|| format!("handshake failed: {other}"))
                }
            };
            shared.emit(DriverEvent::ProtocolError { peer: *peer, reason });
            return None;
        }
    };
    let pipe = shared.new_pipe();
    shared.with_core(|core, now| core.attach(pipe, now));
    if !shared.peek_core(|core| core.takes(pipe)) {
        // Refused (a PAIR with its peer): closed once handshaken, as every library
        // does, so the dialler reconnects until the socket takes it.
        shared.emit(DriverEvent::Connected { pipe, peer: *peer });
        let reason = format!("refused: the {} already has its peer", shared.socket_type);
        shared.emit(DriverEvent::Disconnected { pipe, reason });
        return Some(pipe);
    }
    run_established(shared, pipe, stream, peer, framing).await;
    Some(pipe)
}

/// Sleeps until the core's next deadline and fires it if it is still due; re-arms
/// whenever a core call moves the deadline earlier. A deadline moved later or taken
/// away is found when the task wakes at the old one with nothing due
/// (`Shared::armed_deadline`); the run's timer account has the core's own deadline
/// all along (`Shared::watch_deadline`), so a stale wake-up never keeps a run from
/// ending early.
pub(super) async fn timer_loop(shared: Rc<Shared>) {
    loop {
        let deadline = shared.peek_core(|core| core.poll_timeout());
        shared.arm_timer(deadline);
        let wake_at = deadline.and_then(|at| shared.epoch().checked_add(at));
        tokio::select! {
            biased;
            () = shared.shutdown() => return,
            () = shared.timer_changed() => continue,
            () = super::timer::sleep_until_or_never_unwatched(wake_at) => {}
        }
        let due = shared.peek_core(|core| core.poll_timeout());
        let now = shared.now();
        if due.is_some_and(|due| due <= now) {
            shared.with_core_at(now, |core, now| core.on_timeout(now));
            check_deadline_moved(&shared, now);
        }
    }
}

/// A core that still wants a timeout at or before `now` right after handling it
/// would spin this task forever without letting time pass: a broken invariant.
fn check_deadline_moved(shared: &Shared, now: Duration) {
    let next = shared.peek_core(|core| core.poll_timeout());
    if let Some(next) = next.filter(|next| *next <= now) {
        panic!(
            "{} core wants a timeout at {next:?} right after on_timeout at {now:?}",
            shared.socket_type
        );
    }
}
