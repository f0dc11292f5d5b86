//! The fault shim: a [`Transport`] around turmoil's TCP that makes faults faithful.
//!
//! Each write becomes one chunk `[len u32][leaves_at u64 ns][stands_for u64]` + bytes
//! on the turmoil stream (turmoil delivers a write as one segment, so a chunk is never
//! split by a full window). `leaves_at` is when the chunk's last byte has left the
//! writer: the write's own time, or on a link with a bandwidth limit, later, once the
//! bytes ahead of it and its own have gone at the limit (the fault world keeps each
//! direction's pace). `stands_for` is the chunk's bytes plus the virtual padding of the
//! modelled messages in it (`meter.rs`, `wire/modelled.rs`: padding never travels
//! here), so a 100 MB job paces a link and fills the reader's buffer as 100 MB would,
//! with nothing allocated for it. The reading end releases a chunk only when its
//! link delay has passed since (latency, plus retransmission time for drawn losses,
//! in order, as TCP would), when no partition holds traffic from that peer, and when
//! its own replica is not stalled; a connection reset by a fault fails at both ends. A 24-byte preamble on
//! each new connection tells the acceptor which replica connected, so faults hit
//! replicas even when many share a simulated host. turmoil applies a plain fixed
//! latency itself (no timer per chunk then); any other latency model, per-link
//! latencies, latency faults and losses are applied here.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::faults::{ConnId, FaultWorld, SYN_TIMEOUT, Status};
use super::meter::Meter;
use crate::net::Transport;
use crate::net::timer::{self, Sleep};
use crate::plan::Replica;
use crate::wire::Padding;

const PREAMBLE_MAGIC: &[u8; 4] = b"PBSH";
const PREAMBLE_LEN: usize = 24;
const CHUNK_HEADER_LEN: usize = 20;
/// How much a reader buffers from turmoil before it stops pulling, so that a held or
/// stalled reader pushes back on its writer like a full receive window. Chunks count
/// what they stand for, virtual padding included.
const READ_BUFFER_MAX: u64 = 256 * 1024;
/// Each simulated listener's backlog: connects that may be on their way to one listener
/// at once, unanswered. It is turmoil's `tcp_capacity` (`simulated.rs`), which panics
/// the run when more SYNs than that queue at one listener, and Linux's default
/// `somaxconn`. An acceptor drains its backlog every step, so the bound only ever holds
/// back a burst of more connects than this in one tick: they wait their turn at the
/// connecting end (`syn_slot`), where Linux would drop the SYNs over its backlog and
/// the connector send them again a second later (docs/turmoil.md).
///
/// It was 32, under turmoil's default capacity of 64, and so capped a listener at
/// about 30 new connections a millisecond: a comet router with a million users then
/// had half of them still connecting when the run ended, a simulator limit that
/// showed as the router's failure (`sim/tests/comet.rs` has the burst that shows it).
pub(super) const LISTEN_BACKLOG: usize = 4096;

/// Segments one direction of a connection may have written that the reading end has
/// not yet taken off turmoil: turmoil's own per-stream credit at its default capacity,
/// kept by the shim (`Windows`) since `tcp_capacity` now sizes the listen backlog
/// alone. It is the window a stalled or slow reader pushes back with, on top of the
/// reader's `READ_BUFFER_MAX`: a write is one segment (a chunk), however large.
const WINDOW_SEGMENTS: u32 = 64;

/// The largest write buffer a thread keeps between writes (`ShimStream::poll_write`):
/// a larger one, for a rare large message, is freed after its write.
const WRITE_SCRATCH_MAX: usize = 64 * 1024;

thread_local! {
    static WRITE_SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
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
}

impl Transport for ShimTransport {
    type Stream = ShimStream;
    type Listener = turmoil::net::TcpListener;
    /// Padding is counted (`meter.rs`), never copied: the chunk says what it stands for.
    const PADDING: Padding = Padding::Virtual;

    async fn bind(&self, addr: SocketAddr) -> io::Result<(Self::Listener, SocketAddr)> {
        let listener = turmoil::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((listener, local))
    }

    async fn accept(&self, l: &Self::Listener) -> io::Result<(ShimStream, SocketAddr)> {
        // The preamble is read by the stream itself on first use, so one slow or
        // silent connector never holds up the accepts behind it (a comet router takes
        // a hundred thousand connections).
        self.world.note_activity();
        let (inner, peer_addr) = l.accept().await?;
        self.world.note_activity();
        Ok((ShimStream::accepted(inner, self.me, self.world.clone()), peer_addr))
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<ShimStream> {
        self.world.note_activity();
        let target = self.world.state.borrow().listeners.get(&addr).copied();
        if let Some(target) = target {
            self.wait_reachable(target).await?;
        }
        let slot = self.syn_slot(addr).await;
        let connected = turmoil::net::TcpStream::connect(addr).await;
        self.world.note_activity();
        let mut inner = connected?;
        drop(slot);
        // The acceptor's trace names its peer by this address (`State::peer_names`).
        if let Ok(local) = inner.local_addr() {
            self.world.name_peer(local, self.me);
        }
        let target = target.ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
        let conn = self.world.new_conn(self.me, target);
        let windows = Windows::new();
        self.world.state.borrow_mut().windows.insert(conn, windows.clone());
        let mut preamble = BytesMut::with_capacity(PREAMBLE_LEN);
        preamble.put_slice(PREAMBLE_MAGIC);
        preamble.put_u64(conn);
        preamble.put_u32(self.me.group.0);
        preamble.put_u32(self.me.index);
        preamble.put_u32(0);
        inner.write_all(&preamble).await?;
        // The preamble is a segment like any other: the acceptor gives it back.
        windows.take(0);
        let mut stream = ShimStream::new(inner, conn, 0, [self.me, target], self.world.clone());
        stream.windows = Some(windows);
        Ok(stream)
    }
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

/// One connection's two send windows (`WINDOW_SEGMENTS`), shared by its ends: index
/// `i` counts what end `i` may still write. A write takes a credit once turmoil has
/// it, and the other end gives it back when its shim takes the segment off turmoil,
/// waking a writer that found none, as turmoil's own credits did.
#[derive(Debug)]
pub(super) struct Windows {
    credits: [Cell<u32>; 2],
    blocked: [RefCell<Option<Waker>>; 2],
}

impl Windows {
    fn new() -> Rc<Windows> {
        Rc::new(Windows {
            credits: [Cell::new(WINDOW_SEGMENTS), Cell::new(WINDOW_SEGMENTS)],
            blocked: Default::default(),
        })
    }

    fn open(&self, end: usize) -> bool {
        self.credits[end].get() > 0
    }

    fn take(&self, end: usize) {
        self.credits[end].set(self.credits[end].get() - 1);
    }

    /// Wakes `waker` when end `end` may write again (the latest waiter only, as
    /// turmoil's credits had it).
    fn wait(&self, end: usize, waker: &Waker) {
        *self.blocked[end].borrow_mut() = Some(waker.clone());
    }

    fn give_back(&self, end: usize) {
        self.credits[end].set(self.credits[end].get() + 1);
        if let Some(waker) = self.blocked[end].borrow_mut().take() {
            waker.wake();
        }
    }
}

/// A chunk received and waiting for its release time.
#[derive(Debug)]
struct Chunk {
    release_at: Duration,
    data: Bytes,
    /// Its bytes plus the virtual padding they carry, for the read buffer's bound.
    stands_for: u64,
}

/// Data on its way to the application: what [`ShimStream::fill`] took from turmoil,
/// until [`ShimStream::poll_read`] hands over its last byte. Made when bytes come and
/// dropped when all of it has been read, unless it keeps a release timer: the timer's
/// registration stays as it was, and `last_release` matters only while a chunk may
/// still wait for its time (a chunk released without waiting was due, so a later one
/// compared with a forgotten `last_release` instead is due as well).
#[derive(Debug, Default)]
struct Received {
    /// Raw bytes from turmoil not yet parsed into chunks.
    raw: BytesMut,
    chunks: VecDeque<Chunk>,
    /// What the buffered chunks stand for, virtual padding included.
    buffered: u64,
    /// Release time of the last chunk: TCP delivers in order.
    last_release: Duration,
    /// A released chunk the application has not read all of.
    current: Bytes,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Received {
    /// Whether nothing is in flight and nothing needs keeping.
    fn idle(&self) -> bool {
        self.raw.is_empty()
            && self.chunks.is_empty()
            && self.current.is_empty()
            && self.sleep.is_none()
    }
}

/// The accepting end's preamble while it comes in.
#[derive(Debug)]
struct Preamble {
    bytes: [u8; PREAMBLE_LEN],
    /// How many of `bytes` have been read.
    have: usize,
}

/// One end of a shimmed connection.
#[derive(Debug)]
pub struct ShimStream {
    inner: Option<turmoil::net::TcpStream>,
    conn: ConnId,
    /// 0 for the connecting end, 1 for the accepting end.
    end: usize,
    me: Replica,
    peer: Replica,
    world: Rc<FaultWorld>,
    /// What has come from turmoil and is not yet read, only while there is some:
    /// most ends of a big run are idle most of the time (a comet router has a
    /// hundred thousand), and this is 128 of their bytes.
    received: Option<Box<Received>>,
    inner_done: bool,
    /// On the accepting end, the preamble bytes read so far, until it names the
    /// connection and its connector; `None` once known. Boxed, as it is needed only
    /// for a moment.
    preamble: Option<Box<Preamble>>,
    /// The connection's send windows; on the accepting end, known with the preamble.
    windows: Option<Rc<Windows>>,
    /// What this end's writes stand for, for bandwidth limits and the reader's buffer.
    meter: Meter,
    /// The waker last handed to the fault world for a reset (`watch_silent_peer`):
    /// a task waits on turmoil a few times per chunk, always with the same waker, and
    /// the fault world needs it once. Only a reset takes it back, and a reset stream
    /// fails before it would wait again.
    watching: Option<Waker>,
}

impl ShimStream {
    /// The accepting end, before its preamble has been read.
    fn accepted(inner: turmoil::net::TcpStream, me: Replica, world: Rc<FaultWorld>) -> Self {
        let mut stream = ShimStream::new(inner, 0, 1, [me, me], world);
        stream.preamble = Some(Box::new(Preamble { bytes: [0; PREAMBLE_LEN], have: 0 }));
        stream
    }

    /// Reads the connector's preamble, exactly its bytes and no more, then learns the
    /// connection and the peer from it. Every read and write waits for this first.
    fn poll_preamble(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(preamble) = self.preamble.as_mut() else { return Poll::Ready(Ok(())) };
        while preamble.have < PREAMBLE_LEN {
            let mut rb = ReadBuf::new(&mut preamble.bytes[preamble.have..]);
            let inner = self.inner.as_mut().expect("present until drop");
            ready!(Pin::new(inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            preamble.have += rb.filled().len();
        }
        let got = &preamble.bytes;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a patchbay shim preamble");
        if &got[..4] != PREAMBLE_MAGIC {
            return Poll::Ready(Err(bad()));
        }
        let conn = u64::from_be_bytes(got[4..12].try_into().expect("8 bytes"));
        let ends = self.world.accept_conn(conn).ok_or_else(bad)?;
        let windows = self.world.state.borrow_mut().windows.remove(&conn).ok_or_else(bad)?;
        // The preamble came in one segment, taken off turmoil by the read above.
        windows.give_back(0);
        (self.conn, self.peer, self.preamble, self.windows) = (conn, ends[0], None, Some(windows));
        Poll::Ready(Ok(()))
    }
    fn new(
        inner: turmoil::net::TcpStream,
        conn: ConnId,
        end: usize,
        ends: [Replica; 2],
        world: Rc<FaultWorld>,
    ) -> Self {
        ShimStream {
            inner: Some(inner),
            conn,
            end,
            me: ends[end],
            peer: ends[1 - end],
            world,
            received: None,
            inner_done: false,
            preamble: None,
            windows: None,
            meter: Meter::default(),
            watching: None,
        }
    }

    fn windows(&self) -> &Windows {
        self.windows
            .as_deref()
            .expect("known once the preamble is, which every read and write waits for")
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

    /// A stream waiting on turmoil may never hear from it again (a crashed peer
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

    /// Pulls what turmoil has into `raw` and parses whole chunks.
    fn fill(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        // Left uninitialised: zeroing 16 KiB on every poll showed up in profiles, and
        // `ReadBuf` hands back only the bytes turmoil wrote.
        let mut tmp = [MaybeUninit::<u8>::uninit(); 16 * 1024];
        while !self.inner_done && self.buffered() < READ_BUFFER_MAX {
            let inner = self.inner.as_mut().expect("present until drop");
            let mut rb = ReadBuf::uninit(&mut tmp);
            match Pin::new(inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => self.inner_done = true,
                Poll::Ready(Ok(())) => {
                    let mut received = self.received.take().unwrap_or_default();
                    self.take_in(&mut received, rb.filled());
                    self.received = Some(received);
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// What the chunks held stand for (`Received::buffered`).
    fn buffered(&self) -> u64 {
        self.received.as_ref().map_or(0, |received| received.buffered)
    }

    /// Queues the whole chunks of `got`, one read from turmoil, after what `received`
    /// holds already; a cut tail waits in `received.raw`.
    fn take_in(&mut self, received: &mut Received, got: &[u8]) {
        if received.raw.is_empty() {
            // The usual case, whole chunks and nothing left from before: each is
            // copied once into a buffer of its own size, and only a cut tail waits.
            let used = self.parse_from(received, got);
            if used < got.len() {
                received.raw.put_slice(&got[used..]);
            }
        } else {
            received.raw.put_slice(got);
            let raw = std::mem::take(&mut received.raw);
            let used = self.parse_from(received, &raw);
            received.raw = raw;
            received.raw.advance(used);
            if received.raw.is_empty() {
                // A quiet stream keeps no buffer.
                received.raw = BytesMut::new();
            }
        }
    }

    /// Drops the receive state once all of it has been read (see [`Received`]).
    fn forget_if_idle(&mut self) {
        if self.received.as_ref().is_some_and(|received| received.idle()) {
            self.received = None;
        }
    }

    /// Queues the whole chunks at the start of `raw`; returns how many bytes they took.
    /// Each chunk's bytes are copied into a `Bytes` of their own: split off a shared
    /// buffer instead, the first split allocated a shared header on top of the
    /// buffer, and one long-lived chunk kept the whole buffer alive.
    fn parse_from(&mut self, received: &mut Received, raw: &[u8]) -> usize {
        let mut used = 0;
        while raw.len() - used >= CHUNK_HEADER_LEN {
            let header = &raw[used..used + CHUNK_HEADER_LEN];
            let len = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
            if raw.len() - used < CHUNK_HEADER_LEN + len {
                break;
            }
            let leaves_at = Duration::from_nanos(u64::from_be_bytes(
                header[4..12].try_into().expect("8 bytes"),
            ));
            let stands_for = u64::from_be_bytes(header[12..20].try_into().expect("8 bytes"));
            let start = used + CHUNK_HEADER_LEN;
            let data = Bytes::copy_from_slice(&raw[start..start + len]);
            used = start + len;
            let release_at =
                (leaves_at + self.world.delay(self.peer, self.me)).max(received.last_release);
            received.last_release = release_at;
            received.buffered += stands_for;
            received.chunks.push_back(Chunk { release_at, data, stands_for });
            // A chunk is one segment, all of it read in this `fill`: turmoil gave its
            // credit back at the first read, with nothing else woken in between.
            self.windows().give_back(1 - self.end);
        }
        used
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
        let now = now();
        if front.release_at > now {
            let deadline = tokio::time::Instant::now() + (front.release_at - now);
            let sleep =
                received.sleep.get_or_insert_with(|| Box::pin(timer::sleep_until(deadline)));
            sleep.as_mut().reset(deadline);
            ready!(sleep.as_mut().poll(cx));
        }
        let chunk = received.chunks.pop_front().expect("front exists");
        if received.chunks.is_empty() {
            // A quiet stream holds no queue (a comet router has 100,000 of them).
            received.chunks = VecDeque::new();
        }
        received.buffered -= chunk.stands_for;
        received.current = chunk.data;
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
        ready!(this.poll_preamble(cx))?;
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
        ready!(this.poll_preamble(cx))?;
        if let Some(e) = this.broken() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e.to_string())));
        }
        if this.silenced(cx) || this.world.stalled(this.me) {
            this.world.register_wait(cx.waker());
            return Poll::Pending;
        }
        if !this.windows().open(this.end) {
            this.windows().wait(this.end, cx.waker());
            this.watch_silent_peer(cx);
            return Poll::Pending;
        }
        let len = buf.len().min(u32::MAX as usize);
        // turmoil copies what it is given, so the chunk is put together in a buffer
        // the thread keeps for its writes, not in an allocation of its own each time.
        let mut chunk = WRITE_SCRATCH.take();
        chunk.clear();
        chunk.reserve(CHUNK_HEADER_LEN + len);
        chunk.put_u32(len as u32);
        // Metered and paced on copies, kept only once turmoil takes the write.
        let mut meter = this.meter.clone();
        let stands_for = meter.feed(&buf[..len]);
        let pace = this.world.pace(this.me, this.peer, now(), stands_for);
        chunk.put_u64(pace.leaves_at.as_nanos() as u64);
        chunk.put_u64(stands_for);
        chunk.put_slice(&buf[..len]);
        let inner = this.inner.as_mut().expect("present until drop");
        // turmoil takes a write whole or not at all (one segment per write).
        let written = Pin::new(inner).poll_write(cx, &chunk);
        if chunk.capacity() <= WRITE_SCRATCH_MAX {
            WRITE_SCRATCH.set(chunk);
        }
        if written.is_pending() {
            this.watch_silent_peer(cx);
        }
        ready!(written)?;
        this.windows().take(this.end);
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
        let inner = this.inner.as_mut().expect("present until drop");
        Pin::new(inner).poll_flush(cx)
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
        let inner = this.inner.as_mut().expect("present until drop");
        Pin::new(inner).poll_shutdown(cx)
    }
}

impl Drop for ShimStream {
    fn drop(&mut self) {
        // A close sends a FIN (or, from a crashed machine, nothing): activity.
        self.world.note_activity();
        // A crashed machine does not close its connections: park the stream so the
        // peer sees silence, not a FIN (nor, once the machine restarts and the
        // connection is reset, a late close from the dead incarnation).
        let silent = self.world.silenced(self.conn, self.end);
        if (silent || self.world.status(self.me) == Status::Crashed)
            && let Some(inner) = self.inner.take()
        {
            self.world.state.borrow_mut().zombies.push((self.me, inner));
        }
    }
}
