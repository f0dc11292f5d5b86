//! The fault proxy: how a real run's faults reach real TCP connections.
//!
//! Every link of the topology (a connecting replica's socket and one target replica's
//! bound socket) gets a small TCP forwarder on 127.0.0.1 with its own ephemeral port;
//! the connector dials the proxy and the proxy dials the target's current address
//! (which changes when the target restarts). Each forwarded connection is a
//! connection of the same [`FaultWorld`] the simulator uses, so faults act as they
//! do in simulation:
//!
//! - **latency and loss**: every chunk read is released after the link's delay
//!   (a draw from the latency distribution, plus a retransmission timeout per drawn
//!   loss), in order, as TCP would;
//! - **bandwidth**: on a limited link each chunk read first waits for the bytes
//!   ahead of it and its own to leave at the limit (the fault world keeps each
//!   direction's pace, per pair of replicas, as in the simulator; a modelled
//!   message's padding travels as real bytes here, see `wire/modelled.rs`, so bytes
//!   are counted as they are), and its delay counts from then;
//!   the proxy's buffer fills and pushes back on the writer;
//! - **partition and clog**: the proxy stops forwarding (data waits in the proxy and
//!   in the kernels' buffers) and resumes when the fault heals; a connect across a
//!   partition is accepted by the proxy but not carried on until the way clears
//!   (or the SYN timeout passes), so the SP handshake waits as a SYN would;
//! - **tcp_timeout**: a connection whose data has been held longer is reset at both
//!   ends (the run loop sweeps, as the simulator's does);
//! - **kill**: the supervisor drops the node's sockets and the proxy resets every
//!   connection of the node at the other end; connects to it are refused;
//! - **crash**: the node's sockets are dropped but the proxy keeps the peers'
//!   connections open and silent (a black hole): it reads nothing more from the
//!   node (neither what the dying process still flushes nor its close), holds what
//!   the peers send it until `tcp_timeout` resets them, and leaves connects to it
//!   unanswered until the SYN timeout, until the machine restarts and the peers are
//!   reset;
//! - **stall**: the proxy stops reading from and writing to the node; data it had
//!   already written to its kernel buffer before the stall still leaves (the proxy's
//!   own sockets and its buffer add to what the two ends' kernels hold, so a stalled
//!   node's peers can send more before they wait than over a direct connection, or
//!   in the simulator, which models the two ends' kernels only);
//! - **close**: a node's FIN is forwarded after the data before it, so it too is
//!   delayed by the link's latency (a slow close), and a reset is forwarded as a
//!   reset.
//!
//! Under `--ports as-written` a bound socket's written port gets a proxy too (a
//! "door", [`RealNet::open_door`]) for programs outside the topology. A door's
//! connection runs from [`OUTSIDE`], a far end that is no replica: the target's own
//! faults act on it (a kill resets it, a crash silences it, a stall holds it), and so
//! does every partition or clog that names the target, on either side: the outside
//! stands on the far side of it, so a partition that cuts a node off cuts the
//! programs talking to it from outside too, as a network partition around its
//! machine would. Latency, loss and bandwidth changes between sets of nodes leave a
//! door alone (they describe links between nodes; the network's own latency and
//! bandwidth apply). A door's connection is wire-traced like a link's when its
//! target is (`wiretap.rs`), its far end recorded as no replica.
//!
//! Like the rest of a run, the proxies live on one thread and share state by `Rc`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::faults::{ConnId, FaultWorld, OUTSIDE, SYN_TIMEOUT, Status};
use super::real::REAL_TIME_MAX;
use super::wiretap::{ConnTap, WireTaps};
use super::wiring::Link;
use crate::net::{ACCEPT_PAUSE_MAX, out_of_descriptors};
use crate::plan::{GroupId, Replica, TopologyPlan};
use crate::trace::{EventKind, Recorder, TraceEvent};

/// How much one direction of a connection buffers in the proxy before it stops
/// reading, so a held link pushes back on its writer like a full receive window.
const BUFFER_MAX: usize = 256 * 1024;
/// How often a connect waiting for a partition to heal looks again (faults also wake
/// it; this bounds the wait for the SYN timeout).
const SYN_RETRY: Duration = Duration::from_secs(1);
/// A failed accept (out of descriptors) is retried after this pause, doubling up to
/// the driver's `ACCEPT_PAUSE_MAX` while failures repeat.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// The real network of one run: the fault world and where each bound socket listens.
#[derive(Debug)]
pub(super) struct RealNet {
    world: Rc<FaultWorld>,
    /// The run's time zero for the fault world's pacing, which counts in durations.
    epoch: Instant,
    /// The run's time zero for the trace ([`RealNet::count_from`]): the proxies'
    /// failures are recorded on the clock every other event of the run is. Until the
    /// run starts (its programs ready) it lies ahead, and they are at zero, as the
    /// programs' notes are.
    trace_epoch: Cell<Instant>,
    /// The run's topology, for naming a link in the proxies' failures (a copy: a plan
    /// is a few entries a group, however many replicas it has).
    topology: TopologyPlan,
    /// The address each bound socket of each replica's current incarnation listens at.
    upstream: RefCell<BTreeMap<(Replica, usize), SocketAddr>>,
    /// Where the proxies record their own accept and connect failures, as run-level
    /// events: a descriptor limit met here must not pass unseen.
    recorder: Recorder,
    /// The first descriptor exhaustion met outside a socket driver (a proxy, a bind),
    /// which makes the run's figures the machine's limit: it could not run.
    out_of_descriptors: RefCell<Option<String>>,
    /// Which sockets' traffic the proxies decode into events (`wiretap.rs`); `None`
    /// decodes nothing.
    taps: RefCell<Option<Rc<WireTaps>>>,
}

impl RealNet {
    pub fn new(world: Rc<FaultWorld>, recorder: Recorder, topology: &TopologyPlan) -> Rc<RealNet> {
        Rc::new(RealNet {
            world,
            epoch: Instant::now(),
            trace_epoch: Cell::new(Instant::now() + REAL_TIME_MAX),
            topology: topology.clone(),
            upstream: RefCell::new(BTreeMap::new()),
            recorder,
            out_of_descriptors: RefCell::new(None),
            taps: RefCell::new(None),
        })
    }

    /// Has the proxies decode links as `taps` says, from their next connection on.
    pub fn tap_wires(&self, taps: WireTaps) {
        *self.taps.borrow_mut() = Some(Rc::new(taps));
    }

    /// Sets the time zero of what the proxies record, their failures and the wire
    /// taps' events (see [`WireTaps::count_from`]), to the run's. A new-user audit
    /// found the failures counted from the proxies' start, before the programs were
    /// ready, so `--trace` showed a refused connect at 1.751s before the `1.623s
    /// worker.0 process ready` that came first.
    pub fn count_from(&self, epoch: tokio::time::Instant) {
        self.trace_epoch.set(epoch);
        if let Some(taps) = self.taps.borrow().as_ref() {
            taps.count_from(epoch);
        }
    }

    /// Socket `socket` of `replica` as the trace names it (`client.0.req`); the far
    /// end of a door's connection is a program outside the topology.
    fn socket_name(&self, replica: Replica, socket: usize) -> String {
        if replica == OUTSIDE {
            return "a program outside the topology".to_owned();
        }
        self.topology.socket_name(replica, socket)
    }

    /// The hook for a socket patchbay does not run (an external process's): socket
    /// `socket` of every replica of `group` gets its sends, arrivals, subscriptions
    /// and connections recorded by the proxies on each of its links, from the bytes
    /// (`wiretap.rs`), so the invariants judge it like any other socket. Call it after
    /// [`RealNet::tap_wires`] and before the node's first connection; its socket type
    /// and library (SP or ZMTP) are the plan's.
    pub fn trace_wire(&self, group: GroupId, socket: usize) {
        if let Some(taps) = self.taps.borrow().as_ref() {
            taps.mark_external(group, socket);
        }
    }

    /// Notes an I/O error met outside a socket driver; remembered when it is a
    /// descriptor limit.
    pub(crate) fn io_failed(&self, err: &io::Error, what: &str) {
        if out_of_descriptors(err) {
            self.out_of_descriptors.borrow_mut().get_or_insert_with(|| format!("{what}: {err}"));
        }
    }

    /// The first descriptor exhaustion noted, if any.
    pub fn out_of_descriptors(&self) -> Option<String> {
        self.out_of_descriptors.borrow().clone()
    }

    /// Records a proxy's failure as a run-level event and notes a descriptor limit.
    fn record_failure(&self, err: &io::Error, what: &str, accept: bool) {
        self.io_failed(err, what);
        let (reason, out_of_descriptors) = (format!("{what}: {err}"), out_of_descriptors(err));
        let kind = match accept {
            true => EventKind::AcceptFailed { reason, out_of_descriptors },
            false => EventKind::ConnectFailed { reason, out_of_descriptors },
        };
        let at = Instant::now().saturating_duration_since(self.trace_epoch.get());
        self.recorder.record(TraceEvent { at, node: None, socket: None, kind });
    }

    /// What a bound socket binds: an ephemeral port on the loopback interface.
    pub fn ephemeral() -> SocketAddr {
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0)
    }

    /// A replica's socket is listening at `addr` (after each start or restart).
    pub fn bound(&self, replica: Replica, socket: usize, addr: SocketAddr) {
        self.upstream.borrow_mut().insert((replica, socket), addr);
        self.world.wake_all();
    }

    /// Where a replica's bound socket listens now, if it has bound.
    pub fn bound_at(&self, replica: Replica, socket: usize) -> Option<SocketAddr> {
        self.upstream.borrow().get(&(replica, socket)).copied()
    }

    /// Opens the proxy of one link and returns the address its connector dials.
    pub async fn listen(self: &Rc<Self>, link: Link) -> io::Result<SocketAddr> {
        let listener = TcpListener::bind(Self::ephemeral()).await?;
        let addr = listener.local_addr()?;
        // The connector's trace names its peer by this address: the proxy's target.
        self.world.name_peer(addr, link.to);
        tokio::task::spawn_local(accept_loop(self.clone(), Door::Link(link), listener));
        Ok(addr)
    }

    /// Opens the door of a bound socket (`--ports as-written`): a proxy on `addr`, the
    /// port the topology wrote, for programs outside the topology (`cargo xtask cat`,
    /// a user's client). Its connections reach the replica's current address like a
    /// link's, from [`OUTSIDE`]: the replica's own faults act on them (a kill refuses
    /// and resets them, a crash silences them, a stall holds them), and so does every
    /// partition or clog naming the replica (the module's docs say why). Their far
    /// end is named as no replica (`Connect` with no peer), and they are wire-traced
    /// when the replica's socket is.
    pub async fn open_door(
        self: &Rc<Self>,
        replica: Replica,
        socket: usize,
        addr: SocketAddr,
    ) -> io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let door = Door::Outside { replica, socket };
        tokio::task::spawn_local(accept_loop(self.clone(), door, listener));
        Ok(addr)
    }
}

/// What a proxy listener stands for.
#[derive(Clone, Copy, Debug)]
enum Door {
    /// A link of the topology: patchbay's connecting socket dials it.
    Link(Link),
    /// A bound socket's written port, for programs outside the topology.
    Outside { replica: Replica, socket: usize },
}

impl Door {
    /// The link its connections run as. An outside connection has no replica at its
    /// near end, so it runs from [`OUTSIDE`]: the fault world applies the target's
    /// kills, crashes and stalls, and the partitions and clogs that name the target.
    fn link(self) -> Link {
        match self {
            Door::Link(link) => link,
            Door::Outside { replica, socket } => {
                Link { from: OUTSIDE, from_socket: socket, to: replica, to_socket: socket }
            }
        }
    }
}

/// Accepts the link's connections; on a failure (out of descriptors) it records it,
/// pauses and tries again, while the connections it has carry on as their own tasks.
async fn accept_loop(net: Rc<RealNet>, door: Door, listener: TcpListener) {
    let mut pause = ACCEPT_RETRY;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                pause = ACCEPT_RETRY;
                tokio::task::spawn_local(serve(net.clone(), door, stream));
            }
            Err(err) => {
                net.record_failure(&err, "fault proxy accept", true);
                crate::net::timer::sleep(pause).await;
                pause = pause.saturating_mul(2).min(ACCEPT_PAUSE_MAX);
            }
        }
    }
}

/// Forwards one connection until either end closes it or a fault resets it.
async fn serve(net: Rc<RealNet>, door: Door, mut inbound: TcpStream) {
    let _ = inbound.set_nodelay(true);
    let link = door.link();
    let outside = matches!(door, Door::Outside { .. });
    let Some(mut outbound) = reach(&net, link, outside).await else {
        // Refused (or timed out): the connector sees a reset and retries on its own
        // reconnect schedule.
        reset(inbound);
        return;
    };
    let world = &net.world;
    let conn = world.new_conn(link.from, link.to);
    let ends = [link.from, link.to];
    // Decoding is a bystander: it reads copies and never holds a byte back.
    let taps = net.taps.borrow().as_ref().cloned();
    let tap = RefCell::new(taps.and_then(|taps| taps.open(link)));
    let graceful = {
        let (a_read, a_write) = inbound.split();
        let (b_read, b_write) = outbound.split();
        let both = async {
            tokio::try_join!(
                pump(&net, conn, 0, ends, &tap, a_read, b_write),
                pump(&net, conn, 1, ends, &tap, b_read, a_write),
            )
        };
        tokio::select! {
            biased;
            () = until_broken(world, conn) => false,
            done = both => done.is_ok(),
        }
    };
    world.close_conn(conn);
    if let Some(tap) = tap.borrow_mut().as_mut() {
        tap.closed(if graceful { "closed" } else { "reset" });
    }
    if !graceful {
        reset(inbound);
        reset(outbound);
    }
}

/// Dials the link's target for a new connection, waiting while a partition or a
/// crashed machine leaves a SYN unanswered; `None` when the target refuses (it is
/// killed or not listening) or the SYN timeout passes. An `outside` connection's
/// near end is no replica, so the target's trace does not name it.
async fn reach(net: &RealNet, link: Link, outside: bool) -> Option<TcpStream> {
    let world = &net.world;
    let started = Instant::now();
    loop {
        let status = world.status(link.to);
        if status == Status::Killed {
            return None;
        }
        let held = world.held(link.from, link.to).or(world.held(link.to, link.from));
        if let Some(fault) = held {
            world.note_effect(fault);
        }
        if held.is_none() && status == Status::Running {
            let addr = net.upstream.borrow().get(&(link.to, link.to_socket)).copied()?;
            let stream = match TcpStream::connect(addr).await {
                Ok(stream) => stream,
                Err(err) => {
                    // Which link: a refused connect names the program or node that was
                    // not listening (a restarted program not yet bound, say).
                    let what = format!(
                        "fault proxy connect from {} to {} at {addr}",
                        net.socket_name(link.from, link.from_socket),
                        net.socket_name(link.to, link.to_socket)
                    );
                    net.record_failure(&err, &what, false);
                    return None;
                }
            };
            let _ = stream.set_nodelay(true);
            // The acceptor's trace names its peer by this address: the link's connector.
            if !outside && let Ok(local) = stream.local_addr() {
                world.name_peer(local, link.from);
            }
            return Some(stream);
        }
        if started.elapsed() >= SYN_TIMEOUT {
            return None;
        }
        tokio::select! {
            biased;
            () = changed(world) => {}
            () = crate::net::timer::sleep(SYN_RETRY) => {}
        }
    }
}

/// Carries one direction of a connection, end `end` (0 the connector) to the other,
/// applying the link's faults. `Ok` once a graceful close has been forwarded; an
/// error when either side failed, so the caller resets both. `tap`, when the link is
/// traced, is handed copies of what is read and of what is released.
async fn pump(
    net: &RealNet,
    conn: ConnId,
    end: usize,
    ends: [Replica; 2],
    tap: &RefCell<Option<ConnTap>>,
    mut src: ReadHalf<'_>,
    mut dst: WriteHalf<'_>,
) -> io::Result<()> {
    let world = &net.world;
    let (from, to) = (ends[end], ends[1 - end]);
    let mut queue: VecDeque<(Instant, Bytes)> = VecDeque::new();
    let mut buffered = 0;
    let mut last_release = Instant::now();
    let mut eof = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if eof && queue.is_empty() {
            return dst.shutdown().await;
        }
        let held = world.held(from, to);
        if let Some(fault) = held.filter(|_| !queue.is_empty()) {
            world.note_effect(fault);
        }
        // A crashed machine sends nothing more: what its dying process still writes
        // (a lingering flush, the close when its sockets are dropped) stays unread.
        let silent = world.silenced(conn, end);
        let can_read = !eof && buffered < BUFFER_MAX && !world.stalled(from) && !silent;
        let can_write = !queue.is_empty()
            && held.is_none()
            && world.status(to) == Status::Running
            && !world.stalled(to);
        let release_at = queue.front().map_or_else(Instant::now, |(at, _)| *at);
        tokio::select! {
            biased;
            () = crate::net::timer::sleep_until(release_at), if can_write => {
                // A fault that began while the chunk waited for its time holds it.
                if world.held(from, to).is_some() {
                    continue;
                }
                let (_, data) = queue.pop_front().expect("can_write needs a chunk");
                dst.write_all(&data).await?;
                if let Some(tap) = tap.borrow_mut().as_mut() {
                    tap.released(end, &data);
                }
                buffered -= data.len();
                world.on_release(conn, end, data.len() as u64);
            }
            read = src.read(&mut buf), if can_read => match read {
                // A crashed machine says nothing, not even a close: its peers hear
                // silence until it restarts or their data times out.
                Ok(0) | Err(_) if world.status(from) == Status::Crashed => {
                    std::future::pending::<()>().await;
                }
                Ok(0) => eof = true,
                Ok(n) => {
                    let pace = world.pace(from, to, net.epoch.elapsed(), n as u64);
                    world.commit(pace);
                    let leaves_at = net.epoch + pace.leaves_at;
                    let at = (leaves_at + world.delay(from, to)).max(last_release);
                    last_release = at;
                    queue.push_back((at, Bytes::copy_from_slice(&buf[..n])));
                    buffered += n;
                    world.on_write(conn, end, n as u64);
                    if let Some(tap) = tap.borrow_mut().as_mut() {
                        tap.read(end, &buf[..n]);
                    }
                }
                Err(e) => return Err(e),
            },
            () = changed(world) => {}
        }
    }
}

/// Resolves after the fault world next changes (or anything else wakes the task):
/// callers look again at what they may do.
async fn changed(world: &FaultWorld) {
    let mut registered = false;
    poll_fn(|cx| {
        if registered {
            return Poll::Ready(());
        }
        registered = true;
        world.register_wait(cx.waker());
        Poll::Pending
    })
    .await;
}

/// Resolves once a fault has reset the connection.
async fn until_broken(world: &FaultWorld, conn: ConnId) {
    poll_fn(|cx| {
        if world.conn_broken(conn).is_some() {
            return Poll::Ready(());
        }
        world.register_wait(cx.waker());
        Poll::Pending
    })
    .await;
}

/// Closes a stream with a reset (RST), not a FIN, as a fault or a refusal does.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
