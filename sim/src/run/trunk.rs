//! Simulated connections carried over one turmoil stream per pair of hosts.
//!
//! turmoil gives every TCP stream end its own socket entry and a bounded channel, about
//! 1.6 KB an end whether anything is sent or not (docs/turmoil-stream-memory-proposal.md):
//! at a million comet subscribers, more than a third of the run's memory. The shim
//! (`shim.rs`) already keeps everything that makes a connection faithful itself (send
//! windows, release times, holds, resets, crashes), so what it needs of turmoil is a
//! byte pipe with turmoil's latency between two hosts. Here every connection from host
//! A to host B travels on one turmoil stream, A's *trunk* to B, as frames
//! `[conn u64][kind u8][len u32]` + payload, and each connection end is an [`Inbox`] of
//! about a hundred bytes.
//!
//! What a connection sees is what turmoil gave it, frame for segment:
//! - **connect**: the connector's `OPEN` frame crosses the link like turmoil's SYN; a
//!   host with no listener on the port refuses it on arrival, and a listener answers
//!   when its owner accepts, at once and without a frame (turmoil's SYN-ACK is a
//!   channel, not a segment). The one difference: the first connection between two
//!   hosts waits for their trunk's own connect first, one more link latency.
//! - **data, close, reset**: a write is one `DATA` frame (turmoil's one segment), a
//!   close one `FIN` after it, and an end dropped with data unread, or reached by data
//!   after it closed, sends `RST`, as turmoil's streams do. A reset end reads what
//!   arrived before the reset, then fails.
//! - A crashed machine's ends are *zombies*: they stay, take nothing off the link and
//!   say nothing, so their peers see silence until the fault world resets them.
//!
//! Between two hosts every connection shares one ordered stream: with turmoil's fixed
//! latency (every simulated run's) that orders nothing new, but where turmoil draws a
//! latency per message (a hand-built harness's `min_message_latency` below
//! `max_message_latency`) a slow frame holds back the frames of other connections
//! behind it.
//!
//! A trunk end gathers the frames its host sends in one step and hands them to turmoil
//! as one write once the tasks queued before its flusher have run
//! ([`TrunkEnd::gathered`]): they arrive in the step they would have as writes of their
//! own, in the same order, for one segment's cost instead of one each. Under a latency
//! drawn per message they also share one draw.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::sync::OnceCell;
use turmoil::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::faults::ConnId;
use super::shim::Windows;
use super::spares::{self, Spares};
use crate::plan::{GroupId, Replica};

/// The turmoil port each host's trunk listener holds. Connections bind and dial in a
/// port space of their own ([`Net`]), so it collides with nothing a topology binds.
const TRUNK_PORT: u16 = 1;

/// turmoil's per-stream segment credit and listen backlog (`Builder::tcp_capacity`),
/// for trunks: a trunk carries every connection between two hosts, and the shim keeps
/// each connection's own window (`shim.rs`), so a trunk must never push back. Its
/// reader takes every segment off as it arrives. turmoil allocates nothing by this
/// figure.
pub(super) const TRUNK_CAPACITY: usize = 1 << 30;

/// A frame's header: the connection (or, for `OPEN`, the dial), its kind, the
/// payload's length.
const FRAME_HEADER: usize = 13;
/// `OPEN`: port dialled u16, dialler's port u16, its group u32 and index u32.
const OPEN: u8 = 0;
const OPEN_LEN: usize = 12;
/// `DATA`: leaves_at u64 (ns), stands_for u64, then the bytes (`shim.rs`).
const DATA: u8 = 1;
/// What a `DATA` frame carries before its bytes.
pub(super) const DATA_HEADER: usize = FRAME_HEADER + 16;
const FIN: u8 = 2;
const RST: u8 = 3;

/// The ports connecting ends take on a host, turmoil's ephemeral range as the run sets
/// it (`simulated.rs`).
const EPHEMERAL_FIRST: u16 = 1024;

/// One run's simulated connections: the listeners, the trunks between hosts, the
/// connects waiting for an answer. Shared by every transport of the run.
#[derive(Debug, Default)]
pub struct Net {
    /// Listening sockets by host address and port.
    listeners: RefCell<BTreeMap<SocketAddr, Rc<Listening>>>,
    /// Each host's trunk to each other host, made by its first connect there.
    trunks: RefCell<BTreeMap<(IpAddr, IpAddr), Rc<TrunkSlot>>>,
    /// Hosts whose trunk listener is up.
    serving: RefCell<BTreeSet<IpAddr>>,
    /// Connects sent and not yet answered.
    dials: RefCell<BTreeMap<u64, Rc<Dial>>>,
    next_dial: Cell<u64>,
    /// Each host's connecting ports in use.
    ports: RefCell<BTreeMap<IpAddr, Rc<RefCell<Ports>>>>,
    /// Each host's clock, as the shim reads it (`TrunkEnd::clock`).
    clocks: RefCell<BTreeMap<IpAddr, Rc<HostClock>>>,
}

/// A trunk, once its connect has succeeded.
type TrunkSlot = OnceCell<Rc<TrunkEnd>>;

/// One simulated host's clock as the shim reads it: simulated time since the run
/// began, what `turmoil::sim_elapsed` says, for a fraction of its cost (it looks the
/// current host up in turmoil's world, a hashed lookup, on every read; one in three
/// of the shim's writes was that lookup).
///
/// A host's tokio clock is paused and moves only as turmoil steps it, a whole tick
/// at a time, and every host of a run starts at simulated time zero (patchbay never
/// restarts a turmoil host: crashes act per replica in the shim). So simulated time
/// is the host's tokio clock less the instant it read at time zero, the same reading
/// a socket's clock makes (`net::Shared::now`). The first reading learns that instant
/// from turmoil; debug builds check every later one against turmoil's.
#[derive(Debug, Default)]
pub(super) struct HostClock {
    /// The latest reading: the clock has reached at least this, so a chunk due by
    /// then is due without reading the clock again.
    reached: Cell<Duration>,
    /// The host's tokio instant at simulated time zero, once learned.
    epoch: Cell<Option<tokio::time::Instant>>,
}

impl HostClock {
    /// Simulated time since the run began; zero outside a simulated host (a run's
    /// end drops what is left without one).
    pub(super) fn now(&self) -> Duration {
        let now = match self.epoch.get() {
            Some(epoch) => {
                let now = tokio::time::Instant::now().saturating_duration_since(epoch);
                debug_assert_eq!(
                    Some(now),
                    turmoil::sim_elapsed(),
                    "a host's tokio clock left turmoil's step"
                );
                now
            }
            None => {
                let Some(now) = turmoil::sim_elapsed() else { return Duration::ZERO };
                self.epoch.set(tokio::time::Instant::now().checked_sub(now));
                now
            }
        };
        self.reached.set(self.reached.get().max(now));
        now
    }
}

/// The most frame bytes a trunk end gathers before it hands them to turmoil at once,
/// without waiting for its flusher.
const GATHER_MAX: usize = 256 * 1024;

/// One host's end of a trunk.
#[derive(Debug)]
pub(super) struct TrunkEnd {
    write: RefCell<OwnedWriteHalf>,
    /// Frames sent since the last flush, gathered into one turmoil write: the
    /// flusher ([`flush_gathered`]) hands them over later in the same step, once the
    /// tasks running before it have written theirs. Simulated time stands still
    /// within a step and turmoil delivers a write whole, after the link's fixed
    /// latency, so every frame arrives when it would have as a write of its own, in
    /// the same order; what is saved is turmoil's cost per write (a segment, a
    /// delivery task, a read at the other end), most of a busy run's network cost.
    gathered: RefCell<Vec<u8>>,
    /// The flusher, waiting for frames to gather.
    flusher: RefCell<Option<Waker>>,
    /// A flush failed: the trunk is broken (only the run's end breaks one), and every
    /// later send fails as turmoil's write would have.
    broken: Cell<bool>,
    /// This end's host's clock (simulated time since the run began). Shared by the
    /// host's trunk ends; turmoil's hosts keep clocks of their own, so it is never
    /// shared across hosts.
    clock: Rc<HostClock>,
    /// turmoil writes made, for the test of gathering.
    #[cfg(test)]
    writes: Cell<u64>,
    /// The ends on this host of the connections this trunk carries.
    ends: RefCell<BTreeMap<ConnId, Rc<Inbox>>>,
    /// The ports of this end's host, on the dialling side (connecting ends give theirs
    /// back here).
    ports: Option<Rc<RefCell<Ports>>>,
}

/// What has arrived for one connection end, until its stream reads it.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    arrived: RefCell<VecDeque<Arrived>>,
    /// How the incoming stream ends, after what has arrived.
    end: Cell<Ending>,
    /// The peer reset the connection: writes break, also after its close was read.
    reset: Cell<bool>,
    /// A crashed machine's end: it takes nothing off the link and answers nothing.
    zombie: Cell<bool>,
    reader: RefCell<Option<Waker>>,
}

/// One write, as it arrived.
#[derive(Debug)]
pub(super) struct Arrived {
    /// When its last byte left the writer (`shim.rs`).
    pub leaves_at: Duration,
    /// Its bytes plus the virtual padding they carry.
    pub stands_for: u64,
    pub data: Bytes,
}

/// How a connection end's incoming stream ends, once everything before it is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Ending {
    #[default]
    Open,
    /// The peer closed: end of stream.
    Fin,
    /// The peer reset: reads fail and writes break.
    Reset,
}

/// What an end's stream finds next.
#[derive(Debug)]
pub(super) enum Next {
    Data(Arrived),
    Ended(Ending),
    /// Nothing yet; the reader is woken when something comes.
    Empty,
}

impl Inbox {
    /// The next thing to read, in arrival order; data first, then how the stream ended.
    pub(super) fn next(&self, waker: &Waker) -> Next {
        if let Some(arrived) = self.arrived.borrow_mut().pop_front() {
            return Next::Data(arrived);
        }
        match self.end.get() {
            Ending::Open => {
                let mut reader = self.reader.borrow_mut();
                if !reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    *reader = Some(waker.clone());
                }
                // A drained queue keeps no block (a comet router has 100,000 ends): its
                // room goes to the thread's spares.
                spares::keep_queue(&SPARE_ARRIVED, std::mem::take(&mut *self.arrived.borrow_mut()));
                Next::Empty
            }
            ending => Next::Ended(ending),
        }
    }

    /// Whether the peer has reset this end.
    pub(super) fn reset(&self) -> bool {
        self.reset.get()
    }

    fn unread(&self) -> bool {
        !self.arrived.borrow().is_empty()
    }

    fn wake(&self) {
        if let Some(waker) = self.reader.borrow_mut().take() {
            waker.wake();
        }
    }
}

thread_local! {
    /// Arrival queues drained by [`Inbox::next`], with their room, for the next end on
    /// this thread that data reaches (`super::spares`).
    static SPARE_ARRIVED: Spares<VecDeque<Arrived>> = const { RefCell::new(Vec::new()) };
}

/// A connect sent and waiting for its answer.
#[derive(Debug)]
struct Dial {
    /// The dialler's end of the trunk, where its connection's end will live.
    trunk: Rc<TrunkEnd>,
    answer: RefCell<Answer>,
    waker: RefCell<Option<Waker>>,
}

#[derive(Debug)]
enum Answer {
    Waiting,
    Refused,
    Accepted { conn: ConnId, inbox: Rc<Inbox>, windows: Rc<Windows> },
}

/// One end of a connection just made, on its host's end of the trunk.
#[derive(Debug)]
pub(super) struct Joined {
    pub trunk: Rc<TrunkEnd>,
    pub conn: ConnId,
    pub inbox: Rc<Inbox>,
    pub windows: Rc<Windows>,
    /// The peer's address: the listener's for the connector, the connector's for the
    /// acceptor.
    pub peer: SocketAddr,
    /// The connecting end's own port, given back when it closes; 0 on the accepting end.
    pub port: u16,
    /// The connector, on the accepting end.
    pub connector: Replica,
}

/// A connect that arrived at a listener, waiting to be accepted.
#[derive(Debug)]
struct Knock {
    dial: u64,
    from: SocketAddr,
    connector: Replica,
    /// The listener's host's end of the trunk it came on.
    trunk: Rc<TrunkEnd>,
}

#[derive(Debug, Default)]
struct Listening {
    knocks: RefCell<VecDeque<Knock>>,
    acceptor: RefCell<Option<Waker>>,
}

/// A listening socket: connects to its address queue here until accepted.
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    /// Whether `addr`'s port was given out for a bind to port 0.
    ephemeral: bool,
    net: Rc<Net>,
    listening: Rc<Listening>,
}

/// A host's connecting ports in use, given out as turmoil gave its ephemeral ports:
/// the next free one after the last given, wrapping around.
#[derive(Debug)]
pub(super) struct Ports {
    next: u16,
    used: BTreeSet<u16>,
}

impl Default for Ports {
    fn default() -> Ports {
        Ports { next: EPHEMERAL_FIRST, used: BTreeSet::new() }
    }
}

impl Ports {
    fn take(&mut self) -> Option<u16> {
        let span = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if port == u16::MAX { EPHEMERAL_FIRST } else { port + 1 };
            if self.used.insert(port) {
                return Some(port);
            }
        }
        None
    }

    pub(super) fn give_back(&mut self, port: u16) {
        self.used.remove(&port);
    }
}

fn frame(buf: &mut Vec<u8>, id: u64, kind: u8, len: usize) {
    buf.put_u64(id);
    buf.put_u8(kind);
    buf.put_u32(len as u32);
}

impl TrunkEnd {
    fn new(
        write: OwnedWriteHalf,
        ports: Option<Rc<RefCell<Ports>>>,
        clock: Rc<HostClock>,
    ) -> TrunkEnd {
        TrunkEnd {
            clock,
            write: RefCell::new(write),
            gathered: RefCell::default(),
            flusher: RefCell::default(),
            broken: Cell::new(false),
            #[cfg(test)]
            writes: Cell::new(0),
            ends: RefCell::default(),
            ports,
        }
    }

    /// Reads this end's host's clock ([`HostClock::now`]).
    pub(super) fn now(&self) -> Duration {
        self.clock.now()
    }

    /// A time this end's host's clock has reached ([`HostClock::reached`]).
    pub(super) fn clock_reached(&self) -> Duration {
        self.clock.reached.get()
    }

    /// Sends one whole frame, gathered with the others sent in this step
    /// (`gathered`).
    pub(super) fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.gather(|buf| buf.extend_from_slice(frame))
    }

    /// Sends a `DATA` frame for connection `conn` carrying `data`.
    pub(super) fn send_data(
        &self,
        conn: ConnId,
        leaves_at: Duration,
        stands_for: u64,
        data: &[u8],
    ) -> io::Result<()> {
        self.gather(|buf| {
            buf.reserve(DATA_HEADER + data.len());
            frame(buf, conn, DATA, 16 + data.len());
            buf.put_u64(leaves_at.as_nanos() as u64);
            buf.put_u64(stands_for);
            buf.extend_from_slice(data);
        })
    }

    /// Appends a frame with `put` and wakes the flusher for the first of a step's
    /// frames, or flushes at once once `GATHER_MAX` bytes have gathered.
    fn gather(&self, put: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.broken.get() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "Broken pipe"));
        }
        let mut gathered = self.gathered.borrow_mut();
        let first = gathered.is_empty();
        put(&mut gathered);
        let full = gathered.len() >= GATHER_MAX;
        drop(gathered);
        if full {
            return self.flush();
        }
        if first && let Some(flusher) = self.flusher.borrow().as_ref() {
            flusher.wake_by_ref();
        }
        Ok(())
    }

    /// Hands everything gathered to turmoil as one write: turmoil takes a write as
    /// one segment or not at all, and a trunk always has credit (`TRUNK_CAPACITY`).
    fn flush(&self) -> io::Result<()> {
        let mut gathered = self.gathered.borrow_mut();
        if gathered.is_empty() {
            return Ok(());
        }
        #[cfg(test)]
        self.writes.set(self.writes.get() + 1);
        let mut write = self.write.borrow_mut();
        let mut cx = Context::from_waker(Waker::noop());
        let written = match Pin::new(&mut *write).poll_write(&mut cx, &gathered) {
            Poll::Ready(Ok(n)) if n == gathered.len() => Ok(()),
            Poll::Ready(Ok(_)) | Poll::Pending => {
                Err(io::Error::other("a simulated host's trunk refused a write"))
            }
            Poll::Ready(Err(e)) => Err(e),
        };
        gathered.clear();
        if gathered.capacity() > GATHER_MAX {
            *gathered = Vec::new();
        }
        if written.is_err() {
            self.broken.set(true);
        }
        written
    }

    /// Sends a frame with no payload (`FIN`, `RST`), put together on the stack. Closes
    /// and answers ignore its error: a trunk lives as long as the run, so only the
    /// run's end can fail it.
    fn send_bare(&self, conn: ConnId, kind: u8) -> io::Result<()> {
        let mut buf = [0u8; FRAME_HEADER];
        buf[..8].copy_from_slice(&conn.to_be_bytes());
        buf[8] = kind;
        self.send(&buf)
    }

    /// Closes connection `conn`'s end on this host: a `FIN`, or an `RST` when
    /// `reset`, and forgets it. A zombie end stays, silent.
    pub(super) fn close(&self, conn: ConnId, inbox: &Inbox, shut: bool, port: u16) {
        if inbox.zombie.get() {
            // Its port stays taken, as a crashed machine's socket would hold it.
            return;
        }
        if port != 0
            && let Some(ports) = &self.ports
        {
            ports.borrow_mut().give_back(port);
        }
        self.ends.borrow_mut().remove(&conn);
        // Inside a simulation only: a run's end drops what is left without a world.
        if !turmoil::in_simulation() {
            return;
        }
        if inbox.reset() {
            // The peer's end is gone: nothing to tell it.
        } else if inbox.unread() {
            let _ = self.send_bare(conn, RST);
        } else if !shut {
            let _ = self.send_bare(conn, FIN);
        }
    }

    /// Sends the `FIN` of a shutdown.
    pub(super) fn shut(&self, conn: ConnId) -> io::Result<()> {
        self.send_bare(conn, FIN)
    }

    /// A crashed machine's end: kept, silent, never read.
    pub(super) fn bury(&self, inbox: &Inbox) {
        inbox.zombie.set(true);
        inbox.arrived.borrow_mut().clear();
    }

    /// Takes one frame off the front of `buf`, if it holds a whole one, and hands it on:
    /// `Ok(false)` when it holds none, `Err` for a frame this module never writes.
    fn dispatch(
        self: &Rc<Self>,
        net: &Net,
        here: IpAddr,
        there: IpAddr,
        buf: &mut BytesMut,
    ) -> Result<bool, Malformed> {
        if buf.len() < FRAME_HEADER {
            return Ok(false);
        }
        let len = u32::from_be_bytes(buf[9..13].try_into().expect("4 bytes")) as usize;
        if buf.len() < FRAME_HEADER + len {
            return Ok(false);
        }
        let id = u64::from_be_bytes(buf[..8].try_into().expect("8 bytes"));
        let kind = buf[8];
        let mut payload = &buf[FRAME_HEADER..FRAME_HEADER + len];
        match kind {
            OPEN if len == OPEN_LEN => {
                let port = payload.get_u16();
                let from = SocketAddr::new(there, payload.get_u16());
                let group = GroupId(payload.get_u32());
                let connector = Replica { group, index: payload.get_u32() };
                let knock = Knock { dial: id, from, connector, trunk: self.clone() };
                net.knock(SocketAddr::new(here, port), knock);
            }
            DATA if len >= 16 => {
                let leaves_at = Duration::from_nanos(payload.get_u64());
                let stands_for = payload.get_u64();
                let inbox = self.ends.borrow().get(&id).cloned();
                match inbox {
                    Some(inbox) if inbox.zombie.get() => {}
                    Some(inbox) => {
                        // Copied out, so one long-lived message never keeps the
                        // trunk's read buffer alive.
                        let data = Bytes::copy_from_slice(payload);
                        let arrived = Arrived { leaves_at, stands_for, data };
                        let mut queue = inbox.arrived.borrow_mut();
                        if queue.capacity() == 0 {
                            *queue = spares::take(&SPARE_ARRIVED);
                        }
                        queue.push_back(arrived);
                        drop(queue);
                        inbox.wake();
                    }
                    None => {
                        let _ = self.send_bare(id, RST);
                    }
                }
            }
            FIN | RST if len == 0 => {
                let inbox = self.ends.borrow().get(&id).cloned();
                match inbox {
                    Some(inbox) if inbox.zombie.get() => {}
                    Some(inbox) => {
                        if inbox.end.get() == Ending::Open {
                            inbox.end.set(if kind == FIN { Ending::Fin } else { Ending::Reset });
                        }
                        inbox.reset.set(inbox.reset.get() || kind == RST);
                        inbox.wake();
                    }
                    None if kind == FIN => {
                        let _ = self.send_bare(id, RST);
                    }
                    None => {}
                }
            }
            _ => return Err(Malformed),
        }
        buf.advance(FRAME_HEADER + len);
        Ok(true)
    }

    /// The trunk broke (the run is ending): every end on it is reset.
    fn fail(&self) {
        for inbox in self.ends.borrow().values() {
            if inbox.end.get() == Ending::Open {
                inbox.end.set(Ending::Reset);
            }
            inbox.reset.set(true);
            inbox.wake();
        }
    }
}

/// Reads a trunk end's frames as they arrive and hands each to its connection end.
async fn demux(
    mut read: OwnedReadHalf,
    end: Rc<TrunkEnd>,
    net: Rc<Net>,
    here: IpAddr,
    there: IpAddr,
) {
    let mut buf = BytesMut::new();
    loop {
        buf.reserve(16 * 1024);
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return end.fail(),
            Ok(_) => {}
        }
        loop {
            match end.dispatch(&net, here, there, &mut buf) {
                Ok(true) => {}
                Ok(false) => break,
                // Only this module writes to a trunk, so this is its own bug: every
                // connection on the trunk is reset, which the trace shows, rather than
                // a panic that turmoil's runtime would swallow into a hang.
                Err(Malformed) => return end.fail(),
            }
        }
    }
}

/// Flushes what a trunk end gathers (`TrunkEnd::gathered`) each time it is woken:
/// woken by a step's first frame, it runs after the tasks already queued in that
/// step, so their frames go in one write. A failed flush breaks the trunk.
async fn flush_gathered(end: Rc<TrunkEnd>) {
    loop {
        poll_fn(|cx| {
            if !end.gathered.borrow().is_empty() {
                return Poll::Ready(());
            }
            let mut flusher = end.flusher.borrow_mut();
            if !flusher.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *flusher = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        if end.flush().is_err() {
            return end.fail();
        }
    }
}

/// A trunk frame this module never writes.
#[derive(Debug)]
struct Malformed;

/// Accepts the trunks other hosts open to `here`.
async fn serve(listener: turmoil::net::TcpListener, net: Rc<Net>) {
    while let Ok((stream, peer)) = listener.accept().await {
        let local = stream.local_addr().ok();
        let here = local.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        // Without its own address an end keeps a clock of its own, never another
        // host's.
        let clock = local.map_or_else(Rc::default, |a| net.clock_of(a.ip()));
        let (read, write) = stream.into_split();
        let end = Rc::new(TrunkEnd::new(write, None, clock));
        tokio::task::spawn_local(flush_gathered(end.clone()));
        tokio::task::spawn_local(demux(read, end, net.clone(), here, peer.ip()));
    }
}

impl Dial {
    fn wake(&self) {
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// A dial in progress: if it is given up (its connect dropped), its port goes back, and
/// a connection already accepted for it is closed, as turmoil's stream would be.
struct Dialling<'a> {
    net: &'a Net,
    id: u64,
    dial: Rc<Dial>,
    port: u16,
    done: bool,
}

impl Drop for Dialling<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.net.dials.borrow_mut().remove(&self.id);
        let answer = std::mem::replace(&mut *self.dial.answer.borrow_mut(), Answer::Waiting);
        match answer {
            Answer::Accepted { conn, inbox, .. } => {
                self.dial.trunk.close(conn, &inbox, false, self.port)
            }
            _ => {
                if let Some(ports) = &self.dial.trunk.ports {
                    ports.borrow_mut().give_back(self.port);
                }
            }
        }
    }
}

impl Net {
    fn ports_of(&self, host: IpAddr) -> Rc<RefCell<Ports>> {
        self.ports.borrow_mut().entry(host).or_default().clone()
    }

    fn clock_of(&self, host: IpAddr) -> Rc<HostClock> {
        self.clocks.borrow_mut().entry(host).or_default().clone()
    }

    /// Starts host `here`'s trunk listener, once. Must run on that host.
    async fn serve(self: &Rc<Self>, here: IpAddr) -> io::Result<()> {
        if self.serving.borrow().contains(&here) {
            return Ok(());
        }
        let any = match here {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        let listener = turmoil::net::TcpListener::bind(SocketAddr::new(any, TRUNK_PORT)).await?;
        self.serving.borrow_mut().insert(here);
        tokio::task::spawn_local(serve(listener, self.clone()));
        Ok(())
    }

    /// Binds a listener on host `here` (the caller's) at `addr`'s port, or at a free
    /// port for port 0. Returns it with the address it is bound at (`addr`'s address,
    /// as turmoil's listener gave it).
    pub(super) async fn bind(
        self: &Rc<Self>,
        here: IpAddr,
        addr: SocketAddr,
    ) -> io::Result<(Listener, SocketAddr)> {
        self.serve(here).await?;
        let (port, ephemeral) = match addr.port() {
            0 => {
                let port = self.ports_of(here).borrow_mut().take();
                (port.ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))?, true)
            }
            port => (port, false),
        };
        let at = SocketAddr::new(here, port);
        let mut listeners = self.listeners.borrow_mut();
        if listeners.contains_key(&at) {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, addr.to_string()));
        }
        let listening = Rc::<Listening>::default();
        listeners.insert(at, listening.clone());
        let listener = Listener { addr: at, ephemeral, net: self.clone(), listening };
        Ok((listener, SocketAddr::new(addr.ip(), port)))
    }

    /// A connect arrived at `addr`: queued for its listener, or refused.
    fn knock(&self, addr: SocketAddr, knock: Knock) {
        let listening = self.listeners.borrow().get(&addr).cloned();
        match listening {
            Some(listening) => {
                listening.knocks.borrow_mut().push_back(knock);
                if let Some(waker) = listening.acceptor.borrow_mut().take() {
                    waker.wake();
                }
            }
            None => self.refuse(knock.dial),
        }
    }

    fn refuse(&self, dial: u64) {
        if let Some(dial) = self.dials.borrow_mut().remove(&dial) {
            *dial.answer.borrow_mut() = Answer::Refused;
            dial.wake();
        }
    }

    /// Host `here`'s (the caller's) trunk to host `there`, opened by the first connect
    /// that needs it.
    pub(super) async fn trunk(
        self: &Rc<Self>,
        here: IpAddr,
        there: IpAddr,
    ) -> io::Result<Rc<TrunkEnd>> {
        let cell = self.trunks.borrow_mut().entry((here, there)).or_default().clone();
        let end = cell
            .get_or_try_init(|| async {
                let to = SocketAddr::new(there, TRUNK_PORT);
                let stream = turmoil::net::TcpStream::connect(to).await?;
                let (read, write) = stream.into_split();
                let clock = self.clock_of(here);
                let end = Rc::new(TrunkEnd::new(write, Some(self.ports_of(here)), clock));
                tokio::task::spawn_local(flush_gathered(end.clone()));
                tokio::task::spawn_local(demux(read, end.clone(), self.clone(), here, there));
                Ok::<_, io::Error>(end)
            })
            .await?;
        Ok(end.clone())
    }

    /// Opens a connection from replica `me` to `to`, over the caller's host's `trunk`
    /// to `to`'s host.
    pub(super) async fn dial(
        &self,
        trunk: Rc<TrunkEnd>,
        me: Replica,
        to: SocketAddr,
    ) -> io::Result<Joined> {
        let ports = trunk.ports.clone().expect("a dialling host's trunk end has its ports");
        let port = ports.borrow_mut().take();
        let port = port.ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))?;
        let id = self.next_dial.get();
        self.next_dial.set(id + 1);
        let dial = Rc::new(Dial {
            trunk: trunk.clone(),
            answer: RefCell::new(Answer::Waiting),
            waker: RefCell::default(),
        });
        self.dials.borrow_mut().insert(id, dial.clone());
        let mut dialling = Dialling { net: self, id, dial: dial.clone(), port, done: false };
        let mut buf = Vec::with_capacity(FRAME_HEADER + OPEN_LEN);
        frame(&mut buf, id, OPEN, OPEN_LEN);
        buf.put_u16(to.port());
        buf.put_u16(port);
        buf.put_u32(me.group.0);
        buf.put_u32(me.index);
        trunk.send(&buf)?;
        poll_fn(|cx| match *dial.answer.borrow() {
            Answer::Waiting => {
                *dial.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
            _ => Poll::Ready(()),
        })
        .await;
        let answer = std::mem::replace(&mut *dial.answer.borrow_mut(), Answer::Waiting);
        match answer {
            Answer::Accepted { conn, inbox, windows } => {
                dialling.done = true;
                Ok(Joined { trunk, conn, inbox, windows, peer: to, port, connector: me })
            }
            _ => Err(io::Error::new(io::ErrorKind::ConnectionRefused, to.to_string())),
        }
    }
}

impl Listener {
    /// The next connect whose dialler still waits, accepted: `make` names the new
    /// connection and gives its windows, from the connector's replica.
    pub(super) async fn accept(
        &self,
        mut make: impl FnMut(Replica) -> (ConnId, Rc<Windows>),
    ) -> Joined {
        poll_fn(|cx| {
            loop {
                let knock = self.listening.knocks.borrow_mut().pop_front();
                let Some(knock) = knock else {
                    *self.listening.acceptor.borrow_mut() = Some(cx.waker().clone());
                    return Poll::Pending;
                };
                // A dialler that gave up is skipped, as turmoil skips a SYN whose
                // connect was dropped.
                let Some(dial) = self.net.dials.borrow_mut().remove(&knock.dial) else {
                    continue;
                };
                let (conn, windows) = make(knock.connector);
                let (mine, theirs) = (Rc::<Inbox>::default(), Rc::<Inbox>::default());
                knock.trunk.ends.borrow_mut().insert(conn, mine.clone());
                dial.trunk.ends.borrow_mut().insert(conn, theirs.clone());
                *dial.answer.borrow_mut() =
                    Answer::Accepted { conn, inbox: theirs, windows: windows.clone() };
                dial.wake();
                return Poll::Ready(Joined {
                    trunk: knock.trunk,
                    conn,
                    inbox: mine,
                    windows,
                    peer: knock.from,
                    port: 0,
                    connector: knock.connector,
                });
            }
        })
        .await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut listeners = self.net.listeners.borrow_mut();
        if listeners.get(&self.addr).is_some_and(|l| Rc::ptr_eq(l, &self.listening)) {
            listeners.remove(&self.addr);
        }
        drop(listeners);
        if self.ephemeral {
            self.net.ports_of(self.addr.ip()).borrow_mut().give_back(self.addr.port());
        }
        // Connects waiting here are refused, as turmoil drops a closed listener's SYNs.
        for knock in self.listening.knocks.take() {
            self.net.refuse(knock.dial);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::rc::Rc;
    use std::time::{Duration, SystemTime};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::net::Transport;
    use crate::plan::{GroupId, Replica};
    use crate::run::SimNetwork;
    use crate::socket::SocketBuffers;

    const PORT: u16 = 5555;
    const SERVER: Replica = Replica { group: GroupId(0), index: 0 };
    const CLIENT: Replica = Replica { group: GroupId(1), index: 0 };
    const CONNECTIONS: usize = 20;

    fn sim() -> turmoil::Sim<'static> {
        turmoil::Builder::new()
            .rng_seed(7)
            .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .min_message_latency(Duration::from_millis(2))
            .max_message_latency(Duration::from_millis(2))
            .tcp_capacity(super::TRUNK_CAPACITY)
            .simulation_duration(Duration::from_secs(10))
            .build()
    }

    /// The server's and the client's transports on one fault-free network, with the
    /// server's listener known to the fault world, for tests that look inside the
    /// trunk (`Net`) rather than through `SimNetwork`.
    struct TwoHosts {
        net: Rc<super::Net>,
        server: (super::super::shim::ShimTransport, IpAddr),
        client: (super::super::shim::ShimTransport, IpAddr),
    }

    impl TwoHosts {
        fn new(sim: &turmoil::Sim<'static>) -> TwoHosts {
            let (world, net) =
                (super::super::faults::FaultWorld::fault_free(0), Rc::new(super::Net::default()));
            let (server_ip, client_ip) = (sim.lookup("server"), sim.lookup("client"));
            world.state.borrow_mut().listeners.insert(SocketAddr::new(server_ip, PORT), SERVER);
            let transport = |me, host| super::super::shim::ShimTransport {
                me,
                world: world.clone(),
                net: net.clone(),
                host,
            };
            TwoHosts {
                server: (transport(SERVER, server_ip), server_ip),
                client: (transport(CLIENT, client_ip), client_ip),
                net,
            }
        }
    }

    /// What the client saw, for the test to check once the simulation has run.
    #[derive(Debug, Default)]
    struct Seen {
        echoes: Vec<Vec<u8>>,
        /// turmoil's established streams on the client's host, with every connection open.
        turmoil_streams: usize,
        refused: Option<io::ErrorKind>,
        write_after_reset: Option<io::ErrorKind>,
    }

    /// A server that echoes one message on each of its first `CONNECTIONS`
    /// connections, then closes the next one at once.
    fn server(sim: &mut turmoil::Sim<'static>, net: &SimNetwork) {
        let ip = sim.lookup("server");
        net.listens_at(SocketAddr::new(ip, PORT), SERVER);
        let net = net.clone();
        sim.host("server", move || {
            let transport = net.transport(SERVER, ip);
            async move {
                let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
                let (listener, _) = transport.bind(any, SocketBuffers::default()).await?;
                let mut open = Vec::new();
                for _ in 0..CONNECTIONS {
                    let (mut stream, _) = transport.accept(&listener).await?;
                    let mut buf = [0u8; 16];
                    let n = stream.read(&mut buf).await?;
                    stream.write_all(&buf[..n]).await?;
                    open.push(stream);
                }
                let (closed, _) = transport.accept(&listener).await?;
                drop(closed);
                // One more echo on the first connection, which the client sends after
                // writing to the closed one (see the test).
                let mut buf = [0u8; 16];
                let n = open[0].read(&mut buf).await?;
                open[0].write_all(&buf[..n]).await?;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }

    /// Many connections between two hosts travel on one turmoil stream each way, and
    /// each keeps turmoil's behaviour: its own data, a refusal where nothing listens, a
    /// reset for writes to an end that closed.
    #[test]
    fn connections_between_two_hosts_share_one_turmoil_stream_and_keep_tcp_s_answers() {
        let mut sim = sim();
        let net = SimNetwork::default();
        server(&mut sim, &net);
        let seen = Rc::new(RefCell::new(Seen::default()));
        let (client_seen, client_net) = (seen.clone(), net.clone());
        sim.client("client", async move {
            let transport = client_net.transport(CLIENT, turmoil::lookup("client"));
            let server = SocketAddr::new(turmoil::lookup("server"), PORT);
            let mut streams = Vec::new();
            for i in 0..CONNECTIONS {
                let mut stream = transport.connect(server, SocketBuffers::default()).await?;
                stream.write_all(format!("hello {i}").as_bytes()).await?;
                streams.push(stream);
            }
            for stream in &mut streams {
                let mut buf = [0u8; 16];
                let n = stream.read(&mut buf).await?;
                client_seen.borrow_mut().echoes.push(buf[..n].to_vec());
            }
            client_seen.borrow_mut().turmoil_streams = turmoil::established_tcp_stream_count();
            let nobody = SocketAddr::new(turmoil::lookup("server"), PORT + 1);
            client_seen.borrow_mut().refused =
                transport.connect(nobody, SocketBuffers::default()).await.err().map(|e| e.kind());
            // The server closes this one at once: end of stream, then a write reaches
            // the closed end and is answered with a reset. The trunk keeps its frames
            // in order, so once an echo sent after that write is back, the reset,
            // answered before the echo, has arrived too.
            let mut closed = transport.connect(server, SocketBuffers::default()).await?;
            let mut buf = [0u8; 16];
            assert_eq!(closed.read(&mut buf).await?, 0, "end of stream first");
            closed.write_all(b"late").await?;
            streams[0].write_all(b"after").await?;
            let n = streams[0].read(&mut buf).await?;
            assert_eq!(&buf[..n], b"after");
            client_seen.borrow_mut().write_after_reset =
                closed.write_all(b"later").await.err().map(|e| e.kind());
            Ok(())
        });
        sim.run().expect("the simulation runs");
        let seen = seen.borrow();
        let expected: Vec<Vec<u8>> =
            (0..CONNECTIONS).map(|i| format!("hello {i}").into_bytes()).collect();
        assert_eq!(seen.echoes, expected, "each connection carries its own bytes");
        assert_eq!(seen.turmoil_streams, 1, "{CONNECTIONS} connections, one trunk");
        assert_eq!(seen.refused, Some(io::ErrorKind::ConnectionRefused));
        assert_eq!(seen.write_after_reset, Some(io::ErrorKind::BrokenPipe));
    }

    /// Writes made on many connections in one step leave as one turmoil write, and
    /// each connection still gets its own bytes back.
    #[test]
    fn frames_sent_in_one_step_travel_as_one_turmoil_write() {
        let mut sim = sim();
        let TwoHosts { net, server: (server_side, server_ip), client: (client_side, client_ip) } =
            TwoHosts::new(&sim);
        sim.host("server", move || {
            let transport = server_side.clone();
            async move {
                let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
                let (listener, _) = transport.bind(any, SocketBuffers::default()).await?;
                let mut streams = Vec::new();
                for _ in 0..CONNECTIONS {
                    streams.push(transport.accept(&listener).await?.0);
                }
                for stream in &mut streams {
                    let mut buf = [0u8; 16];
                    let n = stream.read(&mut buf).await?;
                    stream.write_all(&buf[..n]).await?;
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let writes = Rc::new(RefCell::new(None));
        let (client_net, client_writes) = (net.clone(), writes.clone());
        sim.client("client", async move {
            let mut streams = Vec::new();
            for _ in 0..CONNECTIONS {
                streams.push(
                    client_side
                        .connect(SocketAddr::new(server_ip, PORT), SocketBuffers::default())
                        .await?,
                );
            }
            let trunk = client_net.trunks.borrow()[&(client_ip, server_ip)].get().cloned();
            let trunk = trunk.expect("the connects opened it");
            let before = trunk.writes.get();
            // No write waits (each connection's window is open), so all are made in
            // this one step.
            for (i, stream) in streams.iter_mut().enumerate() {
                stream.write_all(format!("hello {i}").as_bytes()).await?;
            }
            for (i, stream) in streams.iter_mut().enumerate() {
                let mut buf = [0u8; 16];
                let n = stream.read(&mut buf).await?;
                assert_eq!(&buf[..n], format!("hello {i}").as_bytes());
            }
            *client_writes.borrow_mut() = Some(trunk.writes.get() - before);
            Ok(())
        });
        sim.run().expect("the simulation runs");
        assert_eq!(
            *writes.borrow(),
            Some(1),
            "{CONNECTIONS} writes in one step, one turmoil write"
        );
    }

    /// Writes `chunk` until a write waits, and returns the bytes taken.
    async fn write_until_full(stream: &mut super::super::shim::ShimStream, chunk: &[u8]) -> usize {
        let mut taken = 0;
        loop {
            let polled = std::future::poll_fn(|cx| {
                let stream = std::pin::Pin::new(&mut *stream);
                std::task::Poll::Ready(tokio::io::AsyncWrite::poll_write(stream, cx, chunk))
            });
            match polled.await {
                std::task::Poll::Ready(written) => taken += written.expect("the write goes"),
                std::task::Poll::Pending => return taken,
            }
        }
    }

    /// Toward a reader that stops, a connection holds the writer's kernel send buffer
    /// and the reader's receive buffer, in bytes: Linux's as it tunes them for a
    /// library that leaves them alone, twice what nanomsg (or a `sndbuf`) sets. The write that meets
    /// the limit goes in part, as a kernel's does, and what the reader's application
    /// takes (one 10,000-byte write) is exactly the room the writer gets back.
    #[test]
    fn a_connection_holds_the_two_kernels_buffers_toward_a_reader_that_stops() {
        const CHUNK: usize = 10_000;
        for (buffers, held) in [
            (SocketBuffers::default(), (4 << 20) + (256 << 10)),
            (SocketBuffers::NANOMSG, (256 << 10) + (256 << 10)),
            // Kept to Linux's `wmem_max` then doubled; never below its smallest.
            (SocketBuffers { send: Some(1 << 20), recv: Some(1_000) }, 2 * 212_992 + 2_304),
        ] {
            let mut sim = sim();
            let TwoHosts { server: (server_side, server_ip), client: (client_side, _), .. } =
                TwoHosts::new(&sim);
            let (full, taken) =
                (Rc::new(tokio::sync::Notify::new()), Rc::new(tokio::sync::Notify::new()));
            let (server_full, server_taken) = (full.clone(), taken.clone());
            sim.host("server", move || {
                let (transport, full, taken) =
                    (server_side.clone(), server_full.clone(), server_taken.clone());
                async move {
                    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
                    let (listener, _) = transport.bind(any, buffers).await?;
                    let (mut stream, _) = transport.accept(&listener).await?;
                    full.notified().await;
                    let mut buf = vec![0u8; 64 << 10];
                    assert_eq!(stream.read(&mut buf).await?, CHUNK, "one write at a time");
                    taken.notify_one();
                    std::future::pending::<()>().await;
                    Ok(())
                }
            });
            let seen = Rc::new(RefCell::new(None));
            let client_seen = seen.clone();
            sim.client("client", async move {
                let to = SocketAddr::new(server_ip, PORT);
                let mut stream = client_side.connect(to, buffers).await?;
                let chunk = [7u8; CHUNK];
                let first = write_until_full(&mut stream, &chunk).await;
                full.notify_one();
                taken.notified().await;
                let again = write_until_full(&mut stream, &chunk).await;
                *client_seen.borrow_mut() = Some((first, again));
                Ok(())
            });
            sim.run().expect("the simulation runs");
            assert_eq!(*seen.borrow(), Some((held, CHUNK)), "{buffers:?}");
            assert_ne!(held % CHUNK, 0, "the last write went in part");
        }
    }

    /// A frame no trunk writes (patchbay's own bug, never a peer's: nothing outside the
    /// simulator reaches a trunk) resets every connection on that trunk, which the
    /// trace would show, instead of a panic turmoil's runtime would swallow into a hang.
    #[test]
    fn a_malformed_frame_resets_the_trunk_s_connections() {
        let mut sim = sim();
        let TwoHosts { net, server: (server_side, server_ip), client: (client_side, client_ip) } =
            TwoHosts::new(&sim);
        let (read, done) = (Rc::new(RefCell::new(None)), Rc::new(tokio::sync::Notify::new()));
        let (server_read, server_done) = (read.clone(), done.clone());
        sim.host("server", move || {
            let (transport, read, done) =
                (server_side.clone(), server_read.clone(), server_done.clone());
            async move {
                let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
                let (listener, _) = transport.bind(any, SocketBuffers::default()).await?;
                let (mut stream, _) = transport.accept(&listener).await?;
                let mut buf = [0u8; 16];
                *read.borrow_mut() = Some(stream.read(&mut buf).await.map_err(|e| e.kind()));
                done.notify_one();
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let client_net = net.clone();
        sim.client("client", async move {
            let _stream = client_side
                .connect(SocketAddr::new(server_ip, PORT), SocketBuffers::default())
                .await?;
            let trunk = client_net.trunks.borrow()[&(client_ip, server_ip)].get().cloned();
            let mut garbage = vec![0u8; 8];
            garbage.extend_from_slice(&[9, 0, 0, 0, 0]);
            trunk.expect("the connect opened it").send(&garbage)?;
            done.notified().await;
            Ok(())
        });
        sim.run().expect("the simulation runs");
        assert_eq!(*read.borrow(), Some(Err(io::ErrorKind::ConnectionReset)));
    }

    /// A host's clock as the shim reads it is turmoil's simulated time, from its first
    /// reading (made late, at 3 ms, as a stream's first write may be) to its last.
    #[test]
    fn a_host_clock_reads_what_turmoil_says_the_simulated_time_is() {
        let mut sim = turmoil::Builder::new()
            .tick_duration(Duration::from_millis(1))
            .simulation_duration(Duration::from_secs(1))
            .build();
        let readings = Rc::new(RefCell::new(Vec::new()));
        let seen = readings.clone();
        sim.client("host", async move {
            let clock = super::HostClock::default();
            for pause_ms in [3, 1, 0, 7, 250] {
                crate::net::timer::sleep(Duration::from_millis(pause_ms)).await;
                let turmoil_says = turmoil::sim_elapsed().expect("inside the simulation");
                seen.borrow_mut().push((clock.now(), turmoil_says));
            }
            Ok(())
        });
        sim.run().expect("the simulation runs");
        let readings = readings.borrow();
        let ms = |n| Duration::from_millis(n);
        let expected = [ms(3), ms(4), ms(4), ms(11), ms(261)];
        assert_eq!(readings.iter().map(|(ours, _)| *ours).collect::<Vec<_>>(), expected);
        assert!(readings.iter().all(|(ours, turmoil)| ours == turmoil), "{readings:?}");
    }
}
