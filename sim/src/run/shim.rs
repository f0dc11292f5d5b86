//! The fault shim: a [`Transport`] over turmoil that makes faults faithful.
//!
//! Connections travel over turmoil between the replicas' hosts, many to a turmoil
//! stream (`trunk.rs`). Each write becomes one `DATA` frame carrying `leaves_at` (ns)
//! and `stands_for` beside its bytes. `leaves_at` is when the write's last byte has
//! left the writer: the write's own time, or on a link with a bandwidth limit, later,
//! once the bytes ahead of it and its own have gone at the limit (the fault world keeps
//! each direction's pace). `stands_for` is the write's bytes plus the virtual padding
//! of the modelled messages in it (`meter.rs`, `wire/modelled.rs`: padding never
//! travels here), so a 100 MB job paces a link and fills the connection's window as 100 MB
//! would, with nothing allocated for it. The reading end releases a chunk only when its
//! link delay has passed since (latency, plus retransmission time for drawn losses, in
//! order, as TCP would), when no partition holds traffic from that peer, and when its
//! own replica is not stalled; a connection reset by a fault fails at both ends. Each
//! connection names its two replicas when it is accepted, so faults hit replicas even
//! when many share a simulated host. turmoil applies a plain fixed latency itself (no
//! timer per chunk then); any other latency model, per-link latencies, latency faults
//! and losses are applied here.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::faults::{ConnId, FaultWorld, SYN_TIMEOUT, Status};
use super::meter::Meter;
use super::spares::{self, Spares};
use super::trunk::{self, Inbox, Joined, Net, Next, TrunkEnd};
use crate::net::Transport;
use crate::net::timer::{self, Sleep};
use crate::plan::Replica;
use crate::socket::SocketBuffers;
use crate::wire::Padding;

/// Each simulated listener's backlog: connects that may be on their way to one listener
/// at once, unanswered: Linux's default `somaxconn`. An acceptor drains its backlog
/// every step, so the bound only ever holds back a burst of more connects than this in
/// one tick: they wait their turn at the connecting end (`syn_slot`), where Linux would
/// drop the SYNs over its backlog and the connector send them again a second later
/// (docs/turmoil.md).
///
/// It was 32, under turmoil's default capacity of 64, and so capped a listener at
/// about 30 new connections a millisecond: a comet router with a million users then
/// had half of them still connecting when the run ended, a simulator limit that
/// showed as the router's failure (`sim/tests/comet.rs` has the burst that shows it).
const LISTEN_BACKLOG: usize = 4096;

/// How much one direction of a connection holds that the reading application has not
/// taken, in bytes (what writes stand for, virtual padding included): the writer's
/// kernel send buffer and the reader's receive buffer, as a TCP connection's. A write
/// takes what room is left, in part if it must, as a kernel's does, and waits while
/// there is none; the reading end gives the room back as its application takes each
/// chunk. So a peer that stops reading holds its writer to exactly what the two kernels
/// would have held, whatever the size of the messages (docs/library-semantics.md,
/// "Kernel buffers", has the rows that measure it against the real libraries).
///
/// A socket whose library leaves the sizes to the system gets Linux's, as they stand
/// once a reader stops: the send buffer tuned up to `tcp_wmem`'s ceiling of 4 MiB,
/// and the receive buffer [`SYSTEM_RECV_BUFFER`].
const SYSTEM_SEND_BUFFER: u64 = 4 * 1024 * 1024;
/// The receive buffer a Linux connection stands at when its reader stops: twice
/// `tcp_rmem`'s 128 KiB default, grown while the application still read. Together with
/// [`SYSTEM_SEND_BUFFER`] it is what the libzmq and NNG rows measured held between a
/// writer and a reader that stopped (about 4.5 MB of 100 kB messages).
const SYSTEM_RECV_BUFFER: u64 = 256 * 1024;
/// Linux keeps a size set with `SO_SNDBUF` or `SO_RCVBUF` to `net.core.wmem_max` or
/// `rmem_max` (212,992 bytes as Linux ships), then doubles it for its own bookkeeping,
/// and never goes below its smallest buffer (socket(7)): nanomsg's 128 KiB are 256 KiB
/// of buffer, and a `sndbuf` of 1 MiB is 416 KiB.
const SET_BUFFER_MAX: u64 = 212_992;
/// Linux's smallest send and receive buffers (`SOCK_MIN_SNDBUF`, `SOCK_MIN_RCVBUF` on
/// x86-64).
const SEND_BUFFER_MIN: u64 = 4_608;
const RECV_BUFFER_MIN: u64 = 2_304;

/// The send and receive buffers, in bytes, of a connection end whose library asked for
/// `buffers`.
fn kernel_buffers(buffers: SocketBuffers) -> (u64, u64) {
    let size = |set: Option<u32>, system, min| {
        set.map_or(system, |b| (u64::from(b).min(SET_BUFFER_MAX) * 2).max(min))
    };
    (
        size(buffers.send, SYSTEM_SEND_BUFFER, SEND_BUFFER_MIN),
        size(buffers.recv, SYSTEM_RECV_BUFFER, RECV_BUFFER_MIN),
    )
}

thread_local! {
    /// Receive states given up by streams that read all they had (see [`Received`]),
    /// reset, for the next stream on this thread that takes data off the link
    /// (`super::spares`).
    #[allow(clippy::vec_box)]
    static SPARE_RECEIVED: Spares<Box<Received>> = const { RefCell::new(Vec::new()) };
    /// Chunk queues emptied by [`ShimStream::release`], with their room.
    static SPARE_CHUNKS: Spares<VecDeque<Chunk>> = const { RefCell::new(Vec::new()) };
}

/// Keeps an idle receive state as a spare of this thread's, reset as a new one would
/// be.
fn keep_spare_received(mut received: Box<Received>) {
    debug_assert!(received.idle());
    *received = Received::default();
    spares::keep(&SPARE_RECEIVED, received);
}

fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// The transport one replica is handed.
#[derive(Clone, Debug)]
pub struct ShimTransport {
    /// The replica whose sockets use this transport: faults find it by this.
    pub(super) me: Replica,
    pub(super) world: Rc<FaultWorld>,
    /// The run's connections and listeners.
    pub(super) net: Rc<Net>,
    /// The address of the turmoil host `me` runs on.
    pub(super) host: IpAddr,
}

impl Transport for ShimTransport {
    type Stream = ShimStream;
    type Listener = ShimListener;
    /// Padding is counted (`meter.rs`), never copied: the chunk says what it stands for.
    const PADDING: Padding = Padding::Virtual;

    async fn bind(
        &self,
        addr: SocketAddr,
        buffers: SocketBuffers,
    ) -> io::Result<(ShimListener, SocketAddr)> {
        let (inner, bound) = self.net.bind(self.host, addr).await?;
        Ok((ShimListener { inner, buffers }, bound))
    }

    async fn accept(&self, l: &ShimListener) -> io::Result<(ShimStream, SocketAddr)> {
        self.world.note_activity();
        let joined = l
            .inner
            .accept(|connector| (self.world.new_conn(connector, self.me), Windows::new()))
            .await;
        self.world.note_activity();
        let peer = joined.peer;
        // The trace names the peer of an accepted connection by this address
        // (`State::peer_names`).
        self.world.name_peer(peer, joined.connector);
        let ends = [joined.connector, self.me];
        Ok((ShimStream::new(joined, 1, ends, self.world.clone(), l.buffers), peer))
    }

    async fn connect(&self, addr: SocketAddr, buffers: SocketBuffers) -> io::Result<ShimStream> {
        self.world.note_activity();
        let target = self.world.state.borrow().listeners.get(&addr).copied();
        if let Some(target) = target {
            self.wait_reachable(target).await?;
        }
        let slot = self.syn_slot(addr).await;
        let trunk = self.net.trunk(self.host, addr.ip()).await;
        self.world.note_activity();
        let joined = self.net.dial(trunk?, self.me, addr).await;
        self.world.note_activity();
        let joined = joined?;
        drop(slot);
        let ends = self.world.conn_ends(joined.conn).expect("made by the accept that answered");
        let stream = ShimStream::new(joined, 0, ends, self.world.clone(), buffers);
        // An address no replica was placed at is no replica's to accept at: the
        // connection closes at once and the connect is refused.
        target.ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
        Ok(stream)
    }
}

/// A simulated listening socket, with the kernel buffers its connections take.
#[derive(Debug)]
pub struct ShimListener {
    inner: trunk::Listener,
    buffers: SocketBuffers,
}

impl ShimTransport {
    /// A SYN to a crashed machine, or across a partition, goes unanswered until the
    /// way clears or Linux gives up (`SYN_TIMEOUT`).
    async fn wait_reachable(&self, target: Replica) -> io::Result<()> {
        let started = now();
        loop {
            let blocked = self.world.status(target) == Status::Crashed
                || self.world.held(self.me, target).is_some()
                || self.world.held(target, self.me).is_some();
            if !blocked {
                return Ok(());
            }
            if let Some(fault) =
                self.world.held(self.me, target).or(self.world.held(target, self.me))
            {
                self.world.note_effect(fault);
            }
            if now().saturating_sub(started) >= SYN_TIMEOUT {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connect timed out: no answer to SYN",
                ));
            }
            timer::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Waits for one of `addr`'s SYN slots (see `LISTEN_BACKLOG`). The slots are
    /// a FIFO semaphore: a freed slot wakes exactly the next waiter, so a hundred
    /// thousand queued connects cost nothing while they wait (a retry timer would wake
    /// them all every millisecond).
    async fn syn_slot(&self, addr: SocketAddr) -> SynSlot {
        let slots = {
            let mut st = self.world.state.borrow_mut();
            let max = LISTEN_BACKLOG;
            st.syn_slots.entry(addr).or_insert_with(|| Arc::new(Semaphore::new(max))).clone()
        };
        let permit = slots.acquire_owned().await.expect("the semaphore is never closed");
        SynSlot { _permit: permit }
    }
}

/// A connect's claim on a SYN slot of its target, given back when the connect
/// finishes, fails or is dropped.
#[derive(Debug)]
struct SynSlot {
    _permit: OwnedSemaphorePermit,
}

/// One connection's two windows, shared by its ends: index `i` counts the bytes end
/// `i` may still write, its send buffer and its peer's receive buffer less what it
/// has written and the peer's application has not taken (see
/// [`SYSTEM_SEND_BUFFER`]). Each end adds its buffers as it opens, so the count may
/// be what an end has yet to see added, and goes below zero when a write takes more
/// than the room left (a modelled message's padding counts whole).
#[derive(Debug)]
pub(super) struct Windows {
    room: [Cell<i64>; 2],
    blocked: [RefCell<Option<Waker>>; 2],
}

impl Windows {
    fn new() -> Rc<Windows> {
        Rc::new(Windows { room: Default::default(), blocked: Default::default() })
    }

    /// What end `end` may write now, if anything.
    fn room(&self, end: usize) -> Option<u64> {
        u64::try_from(self.room[end].get()).ok().filter(|&room| room > 0)
    }

    fn take(&self, end: usize, bytes: u64) {
        self.room[end].set(self.room[end].get() - clamp(bytes));
    }

    /// Wakes `waker` when end `end` may write again (the latest waiter only, as
    /// turmoil's credits had it).
    fn wait(&self, end: usize, waker: &Waker) {
        *self.blocked[end].borrow_mut() = Some(waker.clone());
    }

    /// Gives end `end` `bytes` of room, waking its writer if it now has some.
    fn give(&self, end: usize, bytes: u64) {
        self.room[end].set(self.room[end].get() + clamp(bytes));
        if self.room(end).is_some()
            && let Some(waker) = self.blocked[end].borrow_mut().take()
        {
            waker.wake();
        }
    }
}

/// A byte count as window arithmetic takes it: no write stands for 2^63 bytes.
fn clamp(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// A chunk received and waiting for its release time.
#[derive(Debug)]
struct Chunk {
    release_at: Duration,
    data: Bytes,
    /// Its bytes plus the virtual padding they carry: the room it takes in the window.
    stands_for: u64,
}

/// Data on its way to the application: what [`ShimStream::fill`] took off the link,
/// until [`ShimStream::poll_read`] hands over its last byte. Made when bytes come and
/// dropped when all of it has been read, unless it keeps a release timer: the timer's
/// registration stays as it was, and `last_release` matters only while a chunk may
/// still wait for its time (a chunk released without waiting was due, so a later one
/// compared with a forgotten `last_release` instead is due as well).
#[derive(Debug, Default)]
struct Received {
    chunks: VecDeque<Chunk>,
    /// Release time of the last chunk: TCP delivers in order.
    last_release: Duration,
    /// A released chunk the application has not read all of.
    current: Bytes,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Received {
    /// Whether nothing is in flight and nothing needs keeping.
    fn idle(&self) -> bool {
        self.chunks.is_empty() && self.current.is_empty() && self.sleep.is_none()
    }
}

/// One end of a shimmed connection.
#[derive(Debug)]
pub struct ShimStream {
    /// This end's host's end of the trunk the connection travels on.
    trunk: Rc<TrunkEnd>,
    /// What has arrived for this end and is not yet taken.
    inbox: Rc<Inbox>,
    conn: ConnId,
    /// 0 for the connecting end, 1 for the accepting end.
    end: usize,
    me: Replica,
    peer: Replica,
    world: Rc<FaultWorld>,
    /// What has been taken off the link and is not yet read, only while there is
    /// some: most ends of a big run are idle most of the time (a comet router has a
    /// hundred thousand).
    received: Option<Box<Received>>,
    /// The peer closed, and everything before its close has been taken.
    inner_done: bool,
    /// This end shut down its writing (a `FIN` has gone).
    shut: bool,
    /// The connecting end's own port, given back when it closes; 0 on the accepting end.
    port: u16,
    /// The connection's send windows.
    windows: Rc<Windows>,
    /// What this end's writes stand for, for bandwidth limits and the window.
    meter: Meter,
    /// The waker last handed to the fault world for a reset (`watch_silent_peer`):
    /// a task waits on the link a few times per chunk, always with the same waker, and
    /// the fault world needs it once. Only a reset takes it back, and a reset stream
    /// fails before it would wait again.
    watching: Option<Waker>,
}

impl ShimStream {
    fn new(
        joined: Joined,
        end: usize,
        ends: [Replica; 2],
        world: Rc<FaultWorld>,
        buffers: SocketBuffers,
    ) -> Self {
        let (send, recv) = kernel_buffers(buffers);
        joined.windows.give(end, send);
        joined.windows.give(1 - end, recv);
        ShimStream {
            trunk: joined.trunk,
            inbox: joined.inbox,
            conn: joined.conn,
            end,
            me: ends[end],
            peer: ends[1 - end],
            world,
            received: None,
            inner_done: false,
            shut: false,
            port: joined.port,
            windows: joined.windows,
            meter: Meter::default(),
            watching: None,
        }
    }

    /// Whether this end's machine has crashed: then nothing it does reaches the wire,
    /// and the task doing it waits (woken by a later fault, which finds the
    /// connection reset once the machine restarts).
    fn silenced(&self, cx: &mut Context<'_>) -> bool {
        let silent = self.world.silenced(self.conn, self.end);
        if silent {
            self.world.register_wait(cx.waker());
        }
        silent
    }

    /// A stream waiting on the link may never hear from it again (a crashed peer
    /// sends nothing, not even a close, and reads nothing, so no room comes back):
    /// the fault world wakes it when it resets the connection, at `tcp_timeout` or
    /// at the peer's restart.
    fn watch_silent_peer(&mut self, cx: &mut Context<'_>) {
        if self.watching.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return;
        }
        self.world.wait_on_conn(self.conn, self.end, cx.waker());
        self.watching = Some(cx.waker().clone());
    }

    /// A flush or close from a crashed machine's end: pending while it is down, and
    /// once the restart resets the connection, that reset (the dead incarnation's
    /// task learns it and ends, still without a word on the wire). `None` when the
    /// end may speak.
    fn while_silenced(&self, cx: &mut Context<'_>) -> Option<Poll<io::Result<()>>> {
        if !self.silenced(cx) {
            return None;
        }
        Some(match self.broken() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Pending,
        })
    }

    fn broken(&self) -> Option<io::Error> {
        self.world
            .conn_broken(self.conn)
            .map(|why| io::Error::new(io::ErrorKind::ConnectionReset, why))
    }

    /// Takes what has arrived off the link into chunks (the peer's window bounds it).
    fn fill(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while !self.inner_done {
            match self.inbox.next(cx.waker()) {
                Next::Data(arrived) => {
                    let mut received =
                        self.received.take().unwrap_or_else(|| spares::take(&SPARE_RECEIVED));
                    if received.chunks.capacity() == 0 {
                        received.chunks = spares::take(&SPARE_CHUNKS);
                    }
                    let release_at = (arrived.leaves_at + self.world.delay(self.peer, self.me))
                        .max(received.last_release);
                    received.last_release = release_at;
                    received.chunks.push_back(Chunk {
                        release_at,
                        data: arrived.data,
                        stands_for: arrived.stands_for,
                    });
                    self.received = Some(received);
                }
                Next::Ended(trunk::Ending::Reset) => {
                    return Err(io::Error::new(io::ErrorKind::ConnectionReset, "Connection reset"));
                }
                Next::Ended(_) => self.inner_done = true,
                Next::Empty => break,
            }
        }
        Ok(())
    }

    /// Drops the receive state once all of it has been read (see [`Received`]).
    fn forget_if_idle(&mut self) {
        if self.received.as_ref().is_some_and(|received| received.idle()) {
            keep_spare_received(self.received.take().expect("checked"));
        }
    }

    /// Moves the front chunk to `current` if it may be released now.
    fn release(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(received) = self.received.as_deref_mut() else { return Poll::Pending };
        let Some(front) = received.chunks.front() else { return Poll::Pending };
        if let Some(fault) = self.world.held(self.peer, self.me) {
            self.world.note_effect(fault);
            self.world.register_wait(cx.waker());
            return Poll::Pending;
        }
        // A chunk due by a time the host's clock is known to have reached is due now:
        // no need to read the clock (most chunks, which turmoil's own latency has
        // delayed enough).
        if front.release_at > self.trunk.clock_reached() {
            let now = self.trunk.now();
            if front.release_at > now {
                let deadline = tokio::time::Instant::now() + (front.release_at - now);
                let sleep =
                    received.sleep.get_or_insert_with(|| Box::pin(timer::sleep_until(deadline)));
                sleep.as_mut().reset(deadline);
                ready!(sleep.as_mut().poll(cx));
            }
        }
        let chunk = received.chunks.pop_front().expect("front exists");
        if received.chunks.is_empty() {
            // A quiet stream holds no queue (a comet router has 100,000 of them).
            spares::keep_queue(&SPARE_CHUNKS, std::mem::take(&mut received.chunks));
        }
        received.current = chunk.data;
        // The application takes the chunk: its room goes back to the writer.
        self.windows.give(1 - self.end, chunk.stands_for);
        self.world.on_release(self.conn, 1 - self.end, received.current.len() as u64);
        Poll::Ready(())
    }
}

use std::future::Future as _;

impl AsyncRead for ShimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.world.note_activity();
        if let Some(e) = this.broken() {
            return Poll::Ready(Err(e));
        }
        if this.silenced(cx) || this.world.stalled(this.me) {
            this.world.register_wait(cx.waker());
            return Poll::Pending;
        }
        loop {
            if let Some(received) = this.received.as_deref_mut()
                && !received.current.is_empty()
            {
                let current = &mut received.current;
                let n = current.len().min(buf.remaining());
                buf.put_slice(&current.split_to(n));
                if current.is_empty() {
                    // An empty slice still holds the chunk's allocation.
                    *current = Bytes::new();
                    this.forget_if_idle();
                }
                return Poll::Ready(Ok(()));
            }
            this.fill(cx)?;
            if this.release(cx).is_ready() {
                continue;
            }
            if this.inner_done && this.received.as_ref().is_none_or(|r| r.chunks.is_empty()) {
                return Poll::Ready(Ok(()));
            }
            this.watch_silent_peer(cx);
            return Poll::Pending;
        }
    }
}

impl AsyncWrite for ShimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.world.note_activity();
        if let Some(e) = this.broken() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e.to_string())));
        }
        if this.shut || this.inbox.reset() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "Broken pipe")));
        }
        if this.silenced(cx) || this.world.stalled(this.me) {
            this.world.register_wait(cx.waker());
            return Poll::Pending;
        }
        let Some(room) = this.windows.room(this.end) else {
            this.windows.wait(this.end, cx.waker());
            this.watch_silent_peer(cx);
            return Poll::Pending;
        };
        // As much as there is room for, as a kernel's send takes (a modelled message's
        // padding may stand for more: it counts whole, past the room).
        let room = usize::try_from(room).unwrap_or(usize::MAX);
        let len = buf.len().min(room).min(u32::MAX as usize - trunk::DATA_HEADER);
        // Metered and paced on copies, kept only once the write is sent.
        let mut meter = this.meter.clone();
        let stands_for = meter.feed(&buf[..len]);
        let now = this.trunk.now();
        let pace = this.world.pace(this.me, this.peer, now, stands_for);
        this.trunk.send_data(this.conn, pace.leaves_at, stands_for, &buf[..len])?;
        this.windows.take(this.end, stands_for);
        this.meter = meter;
        this.world.commit(pace);
        this.world.on_write(this.conn, this.end, len as u64);
        Poll::Ready(Ok(len))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.world.note_activity();
        if let Some(silent) = this.while_silenced(cx) {
            return silent;
        }
        Poll::Ready(Ok(()))
    }

    /// A crashed machine's close never leaves it: the socket's driver closes its
    /// connections when the crashed incarnation is dropped, and that FIN must not
    /// tell the peers anything.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.world.note_activity();
        if let Some(silent) = this.while_silenced(cx) {
            return silent;
        }
        if this.shut {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "Socket is not connected",
            )));
        }
        this.shut = true;
        Poll::Ready(this.trunk.shut(this.conn))
    }
}

impl Drop for ShimStream {
    fn drop(&mut self) {
        // A close sends a FIN (or, from a crashed machine, nothing): activity.
        self.world.note_activity();
        // A crashed machine does not close its connections: its end stays, silent, so
        // the peer sees silence, not a FIN (nor, once the machine restarts and the
        // connection is reset, a late close from the dead incarnation).
        let silent = self.world.silenced(self.conn, self.end);
        if silent || self.world.status(self.me) == Status::Crashed {
            self.trunk.bury(&self.inbox);
        }
        self.trunk.close(self.conn, &self.inbox, self.shut, self.port);
    }
}
