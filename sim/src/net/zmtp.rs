//! One ZMTP connection (a `library: zeromq` socket): the greeting and READY, then a
//! reader, a writer and a heartbeat moving frames between the stream and the core, as
//! one hand-written future ([`Connection`]).
//!
//! The codec is `wire::zmtp`, sans-IO; this file owns the stream. The reader checks
//! every frame's size against the receive limit before storing its body, stops
//! reading while the pipe's inbound queue is full (as the SP reader does), answers
//! PINGs and notes when the peer was last heard. Commands the connection itself
//! sends (PONG, PING) wait in the link's control buffer and go out ahead of the next
//! batch. Heartbeats follow libzmq 4.3.5 (docs/zmtp.md, "Heartbeats"): with
//! `heartbeat_ivl` set a PING goes out every interval, and if nothing at all arrives
//! within `heartbeat_timeout` of a PING the connection is closed; a peer's PING with a
//! time-to-live closes the connection once that long passes without traffic. A
//! connection that keeps no heartbeats holds no heartbeat state.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::timer::Sleep;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::{
    ConnEnd, Delivered, READ_CHUNK_BYTES_MIN, connected, disconnected, drop_malformed,
    padding_slice, poll_read_some,
};
use super::shared::{Shared, linger_timer};
use super::wake::{LocalNotify, Notifier, SoleNotify, Waiter};
use crate::socket::{self, Msg, PipeId, SocketType};
use crate::wire::Padding;
use crate::wire::zmtp::{
    Decoder, Envelope, Event, Handshake, Limits, Unroutable, Version, ZmtpError, encode_ping,
    encode_pong,
};

/// A writer stops filling its batch here and writes (as the SP writer does).
const WRITE_BATCH_BYTES_MAX: usize = 256 * 1024;
/// Bytes read at a time during the handshake; READY's size is checked before its
/// body is stored, so a hostile peer gains nothing by announcing more.
const HANDSHAKE_READ_BYTES: usize = 4096;

/// What the handshake hands the established connection.
pub(super) struct Shaken {
    version: Version,
    /// Bytes the peer sent after its READY, which belong to the first frames.
    leftover: BytesMut,
}

/// The receive limits of this socket: `rcvmaxsize` over a whole message.
fn limits(shared: &Shared) -> Limits {
    Limits { msg_bytes_max: shared.options.rcvmaxsize_bytes, ..Limits::default() }
}

/// Sends our greeting at once, then READY after the peer's greeting, and returns once
/// the peer's READY names a socket type ours may talk to.
pub(super) async fn handshake<S>(shared: &Shared, stream: &mut S) -> Result<Shaken, ConnEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut shake =
        Handshake::new(shared.socket_type, Bytes::new(), limits(shared)).map_err(ConnEnd::Zmtp)?;
    // The greeting goes out of `out` like READY, not of an array held across the write.
    // Once written, `out`'s room is given back, not kept for READY: every connection
    // of a comet run waits in its handshake at once (issue 16).
    let (mut buf, mut out) = (BytesMut::new(), BytesMut::from(&shake.greeting()[..]));
    stream.write_all(&out).await.map_err(ConnEnd::Io)?;
    stream.flush().await.map_err(ConnEnd::Io)?;
    out = BytesMut::new();
    loop {
        // Only the version is kept: the peer's properties need not live across writes.
        let version = shake.advance(&mut buf, &mut out).map_err(ConnEnd::Zmtp)?.map(|p| p.version);
        if !out.is_empty() {
            stream.write_all(&out).await.map_err(ConnEnd::Io)?;
            stream.flush().await.map_err(ConnEnd::Io)?;
            out = BytesMut::new();
        }
        if let Some(version) = version {
            return Ok(Shaken { version, leftover: buf });
        }
        match read_handshake(stream, &mut buf).await {
            // A peer that closes mid-handshake closes, it breaks nothing: libzmq takes a
            // read of 0 as a connection error and dials again, where a protocol error
            // would end its pipe for good (`connect_loop`).
            Ok(0) => {
                let cut_short = |err: ZmtpError| ConnEnd::CutShort(err.to_string());
                return Err(shake.finish(&buf).map_or_else(cut_short, |()| ConnEnd::Eof));
            }
            Ok(_) => {}
            Err(err) => return Err(ConnEnd::Io(err)),
        }
    }
}

/// Reads once into `buf`, with room for [`HANDSHAKE_READ_BYTES`], and returns how
/// many bytes came (0 at the end of the stream).
///
/// While the peer has sent nothing and nothing is buffered, the room is given back
/// until the next poll: at a comet run's start every connection of the router waits
/// in its handshake at once, and a 4 KiB reservation at both ends of each was a third
/// of the run's peak (7.4 KB a subscriber; issue 16). The room offered to each read
/// is what it was when the reservation was kept.
async fn read_handshake<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        buf.reserve(HANDSHAKE_READ_BYTES);
        let polled = pin!(stream.read_buf(&mut *buf)).poll(cx);
        if polled.is_pending() && buf.is_empty() {
            *buf = BytesMut::new();
        }
        polled
    })
    .await
}

/// What the reader, the writer and the heartbeat of one established connection share.
struct Link {
    envelope: Envelope,
    /// Commands to send ahead of the next batch (PONG answers, our PINGs).
    control: BytesMut,
    /// Wakes the writer when `control` gains bytes, and when the core has messages
    /// for the pipe (`Shared::register_writer`).
    writer_wake: Rc<LocalNotify>,
    /// When anything last arrived from the peer (time since the run's epoch).
    last_heard: Duration,
    /// The time-to-live the peer's last PING asked for, if any.
    peer_ttl: Option<Duration>,
    /// Wakes the heartbeat when `peer_ttl` changes.
    heartbeat_wake: SoleNotify,
}

impl Link {
    fn send_control(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        encode(&mut self.control);
        self.writer_wake.notify_waiters();
    }

    fn answer_ping(&mut self, ttl_ds: u16, context: &[u8]) {
        self.send_control(|out| encode_pong(context, out));
        let ttl = (ttl_ds > 0).then(|| Duration::from_millis(100 * u64::from(ttl_ds)));
        if ttl != self.peer_ttl {
            self.peer_ttl = ttl;
            self.heartbeat_wake.notify_waiters();
        }
    }
}

/// An established ZMTP connection, as one hand-written future: what was a `select!`
/// of the socket's linger against a `select!` of a reader, a writer and a heartbeat,
/// each an `async fn` holding its own copies of its arguments and the futures it
/// awaits, is here the state each part lives in. A comet subscriber has two of these,
/// one at each end (issue 16).
///
/// It polls and wakes exactly as those futures did, since the trace of a run depends
/// on the order in which tasks are woken: the same parts in the same order, a coop
/// budget check wherever a `select!` made one, each wait on a notifier made, polled
/// and given up at the same points (a waker slot's reuse decides whom a notifier
/// wakes first), and every part torn down in the order the `select!`s dropped them.
///
/// Reads stop while the pipe's inbound queue is full (backpressure through TCP, as
/// the SP reader does); once the socket closes the reader stops for good and the
/// writer flushes what is queued, then shuts the stream; the socket's linger bounds
/// that flush.
pub(super) struct Connection<'a, S> {
    shared: &'a Shared,
    stream: &'a mut S,
    pipe: PipeId,
    /// Whether the connection has begun (`conn::connected`).
    begun: bool,
    /// Borrowed from the task that made the connection: a copy is 32 bytes of every
    /// connection end (issue 16).
    peer: &'a SocketAddr,
    link: Link,
    reader: Reader,
    writer: Writer,
    heartbeat: Heartbeat,
    linger: Linger,
    /// Whether the reader, writer and heartbeat have been polled: the link reads the
    /// clock then, not when it is made.
    serving: bool,
}

/// The reader: whole messages to the core, then another read.
struct Reader {
    decoder: Decoder,
    /// Bytes read and not yet decoded.
    buf: BytesMut,
    /// This connection's share of the socket's received-but-undelivered bytes
    /// (`Shared::rx_buffered_changed`), kept in step with `buf` and the decoder.
    counted_bytes: usize,
    /// The wait for the socket's shutdown, after which nothing more is read.
    shutdown: Option<Waiter>,
    /// The wait for room in the pipe's inbound queue, while delivering.
    room: Option<Waiter>,
    state: ReadState,
}

enum ReadState {
    /// Handing buffered messages to the core.
    Deliver,
    /// Reading from the stream.
    Read,
    /// The socket is closing: never reads again.
    Stopped,
}

/// The writer: the link's commands and the core's messages, batched.
struct Writer {
    batch: BytesMut,
    state: WriteState,
}

enum WriteState {
    /// About to fill a batch.
    Fill,
    /// About to fill a batch after writing the last one whole: the core is asked only
    /// if it may have more (`Shared::may_transmit`), which spares a core call a batch.
    Wrote,
    /// Nothing to send: waiting for the writer's wake-up or the socket's shutdown.
    Idle { wake: Waiter, shutdown: Option<Waiter> },
    /// Writing `batch`; `written` bytes of it are gone. Its last message's real
    /// `padding` follows it (real TCP only, `wire/modelled.rs`).
    Write { written: usize, padding: u64 },
    /// Writing a modelled message's real padding: `left` zero bytes to go.
    Pad { left: u64 },
    /// The socket closed and everything went: shutting the stream.
    Shut,
}

/// The linger's part: nothing until the socket closes, then its linger.
enum Linger {
    /// Waiting for the socket's shutdown.
    Open(Option<Waiter>),
    /// `Linger::Forever`: never expires.
    Forever,
    Running(Pin<Box<Sleep>>),
    /// A linger of 0 s: expired as the socket closed, not at the timer's next tick.
    Over,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Connection<'a, S> {
    /// The connection on `pipe` to `peer`, once handshaken. It begins at its first
    /// poll, as an `async` block would.
    pub(super) fn new(
        shared: &'a Shared,
        pipe: PipeId,
        stream: &'a mut S,
        peer: &'a SocketAddr,
        shaken: Shaken,
    ) -> Connection<'a, S> {
        let envelope =
            Envelope::new(shared.socket_type, shaken.version, shared.options.req_correlate);
        let link = Link {
            envelope,
            control: BytesMut::new(),
            // Replaced by the pipe's registered wake-up when the connection begins.
            writer_wake: Rc::new(LocalNotify::new()),
            last_heard: Duration::ZERO,
            peer_ttl: None,
            heartbeat_wake: SoleNotify::default(),
        };
        let reader = Reader {
            decoder: decoder(shared),
            buf: shaken.leftover,
            counted_bytes: 0,
            shutdown: None,
            room: None,
            state: ReadState::Deliver,
        };
        Connection {
            shared,
            stream,
            pipe,
            begun: false,
            peer,
            link,
            reader,
            writer: Writer { batch: BytesMut::new(), state: WriteState::Fill },
            heartbeat: Heartbeat::new(),
            linger: Linger::Open(None),
            serving: false,
        }
    }

    /// The linger's part: ready once the socket has closed and its linger run out.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let shared = self.shared;
        if let Linger::Open(wait) = &mut self.linger {
            ready!(shared.shutdown_wake().poll_until(wait, cx, || shared.is_shutting_down()));
            self.linger = match shared.options.linger {
                socket::Linger::Forever => Linger::Forever,
                socket::Linger::For(linger) => {
                    linger_timer(linger).map_or(Linger::Over, Linger::Running)
                }
            };
        }
        match &mut self.linger {
            Linger::Open(_) | Linger::Forever => Poll::Pending,
            Linger::Running(sleep) => sleep.as_mut().poll(cx),
            Linger::Over => Poll::Ready(()),
        }
    }

    /// The reader, writer and heartbeat, in that order, until one ends the connection.
    fn poll_serve(&mut self, cx: &mut Context<'_>) -> Poll<ConnEnd> {
        if !self.serving {
            self.serving = true;
            self.link.last_heard = self.shared.now();
        }
        ready!(select_budget(cx));
        if let Poll::Ready(end) = self.poll_reader(cx) {
            return Poll::Ready(end);
        }
        if let Poll::Ready(end) = self.poll_writer(cx) {
            return Poll::Ready(end);
        }
        let Connection { shared, link, heartbeat, .. } = self;
        heartbeat.poll(shared, link, cx)
    }

    /// Reads until the connection ends; once the socket is closing it stops reading
    /// for good and leaves the end of the connection to the writer's final flush.
    fn poll_reader(&mut self, cx: &mut Context<'_>) -> Poll<ConnEnd> {
        if let ReadState::Stopped = self.reader.state {
            return Poll::Pending;
        }
        ready!(select_budget(cx));
        let shared = self.shared;
        let closing = shared
            .shutdown_wake()
            .poll_until(&mut self.reader.shutdown, cx, || shared.is_shutting_down());
        if closing.is_ready() {
            self.stop_reading();
            return Poll::Pending;
        }
        let end = ready!(self.poll_read_loop(cx));
        self.stop_reading();
        shared.shutdown_wake().cancel_wait(&mut self.reader.shutdown);
        Poll::Ready(end)
    }

    fn poll_read_loop(&mut self, cx: &mut Context<'_>) -> Poll<ConnEnd> {
        let (shared, pipe) = (self.shared, self.pipe);
        loop {
            match self.reader.state {
                ReadState::Deliver => {
                    let delivered = loop {
                        let reader = &mut self.reader;
                        let has_room = || shared.peek_core(|core| core.can_receive(pipe));
                        ready!(shared.room_wake().poll_until(&mut reader.room, cx, has_room));
                        let link = &mut self.link;
                        match deliver_batch(
                            shared,
                            pipe,
                            &mut reader.decoder,
                            &mut reader.buf,
                            link,
                        ) {
                            Ok(Delivered::AllBuffered) => break Ok(()),
                            Ok(Delivered::UntilFull) => {}
                            Ok(Delivered::UntilMalformed(payload)) => {
                                drop_malformed(shared, pipe, payload);
                            }
                            Err(err) => break Err(err),
                        }
                    };
                    self.count_buffered(self.buffered_bytes());
                    if let Err(err) = delivered {
                        return Poll::Ready(ConnEnd::Zmtp(err));
                    }
                    self.reader.state = ReadState::Read;
                }
                ReadState::Read => {
                    let buf = &mut self.reader.buf;
                    let read =
                        ready!(poll_read_some(&mut *self.stream, cx, buf, READ_CHUNK_BYTES_MIN));
                    self.count_buffered(self.buffered_bytes());
                    match read {
                        Ok(0) => {
                            let finished = self.reader.decoder.finish(&self.reader.buf);
                            let cut_short = |err: ZmtpError| ConnEnd::CutShort(err.to_string());
                            return Poll::Ready(finished.map_or_else(cut_short, |()| ConnEnd::Eof));
                        }
                        Ok(_) => self.link.last_heard = shared.now(),
                        Err(err) => return Poll::Ready(ConnEnd::Io(err)),
                    }
                    self.reader.state = ReadState::Deliver;
                }
                ReadState::Stopped => return Poll::Pending,
            }
        }
    }

    /// Writes the link's commands and whatever the core has for the pipe, batched,
    /// until the connection fails or the socket closes with nothing left to send.
    fn poll_writer(&mut self, cx: &mut Context<'_>) -> Poll<ConnEnd> {
        let (shared, pipe) = (self.shared, self.pipe);
        loop {
            let writer = &mut self.writer;
            match &mut writer.state {
                state @ (WriteState::Fill | WriteState::Wrote) => {
                    let ask = matches!(state, WriteState::Fill) || shared.may_transmit(pipe);
                    // Copied, not split off: splitting even an empty buffer shares it,
                    // which costs an allocation every fill.
                    writer.batch.extend_from_slice(&self.link.control);
                    self.link.control.clear();
                    let padding = match ask {
                        true => fill_batch(shared, pipe, &mut writer.batch, &mut self.link),
                        false => 0,
                    };
                    writer.state = if !writer.batch.is_empty() {
                        WriteState::Write { written: 0, padding }
                    } else if shared.is_shutting_down() {
                        WriteState::Shut
                    } else {
                        WriteState::Idle { wake: self.link.writer_wake.waiter(), shutdown: None }
                    };
                }
                WriteState::Idle { wake, shutdown } => {
                    ready!(select_budget(cx));
                    if self.link.writer_wake.poll_waiter(wake, cx).is_ready() {
                        shared.shutdown_wake().cancel_wait(shutdown);
                    } else if shared
                        .shutdown_wake()
                        .poll_until(shutdown, cx, || shared.is_shutting_down())
                        .is_ready()
                    {
                        let WriteState::Idle { wake, .. } =
                            std::mem::replace(&mut writer.state, WriteState::Fill)
                        else {
                            unreachable!("the writer is idle here")
                        };
                        self.link.writer_wake.cancel(wake);
                    } else {
                        return Poll::Pending;
                    }
                    writer.state = WriteState::Fill;
                }
                WriteState::Write { written, padding } => {
                    while *written < writer.batch.len() {
                        let rest = &writer.batch[*written..];
                        match ready!(poll_write_some(&mut *self.stream, cx, rest)) {
                            Ok(n) => *written += n,
                            Err(end) => return Poll::Ready(end),
                        }
                    }
                    writer.batch.clear();
                    writer.state = match *padding {
                        0 => WriteState::Wrote,
                        left => WriteState::Pad { left },
                    };
                }
                WriteState::Pad { left } => {
                    while *left > 0 {
                        let zeros = padding_slice(*left);
                        match ready!(poll_write_some(&mut *self.stream, cx, zeros)) {
                            Ok(n) => *left -= n as u64,
                            Err(end) => return Poll::Ready(end),
                        }
                    }
                    writer.state = WriteState::Wrote;
                }
                WriteState::Shut => {
                    let shut = ready!(Pin::new(&mut *self.stream).poll_shutdown(cx));
                    return Poll::Ready(shut.map_or_else(ConnEnd::Io, |()| ConnEnd::Closed));
                }
            }
        }
    }
}

impl<S> Connection<'_, S> {
    /// Bytes received and not yet handed to the core: the buffer and the decoder's
    /// message in progress.
    fn buffered_bytes(&self) -> usize {
        self.reader.buf.len() + self.reader.decoder.buffered_bytes() as usize
    }

    fn count_buffered(&mut self, bytes: usize) {
        self.shared.rx_buffered_changed(self.reader.counted_bytes, bytes);
        self.reader.counted_bytes = bytes;
    }

    /// Drops the reader's state: its wait for room, its count and its buffers.
    fn stop_reading(&mut self) {
        self.shared.room_wake().cancel_wait(&mut self.reader.room);
        self.reader.state = ReadState::Stopped;
        self.count_buffered(0);
        self.reader.decoder = decoder(self.shared);
        self.reader.buf = BytesMut::new();
    }

    /// Tears the connection's parts down in the order their futures were dropped
    /// when it ended: the reader, the writer, the heartbeat, then the linger.
    fn tear_down(&mut self) {
        self.tear_down_serving();
        if let Linger::Open(wait) = &mut self.linger {
            self.shared.shutdown_wake().cancel_wait(wait);
        }
        self.linger = Linger::Forever;
    }

    /// Tears down the reader (its shutdown wait first, as its `select!` held it
    /// first), the writer and the heartbeat.
    fn tear_down_serving(&mut self) {
        let shared = self.shared;
        shared.shutdown_wake().cancel_wait(&mut self.reader.shutdown);
        if !matches!(self.reader.state, ReadState::Stopped) {
            self.stop_reading();
        }
        if let WriteState::Idle { wake, mut shutdown } =
            std::mem::replace(&mut self.writer.state, WriteState::Fill)
        {
            self.link.writer_wake.cancel(wake);
            shared.shutdown_wake().cancel_wait(&mut shutdown);
        }
        self.heartbeat.tear_down(&self.link);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Connection<'_, S> {
    /// Whether the connection ended for a protocol fault of the peer's.
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        if !this.begun {
            this.begun = true;
            this.link.writer_wake = connected(this.shared, this.pipe, *this.peer);
        }
        ready!(select_budget(cx));
        // The connection is served once more when its linger has run out, so that
        // what its stream takes at once is written before the rest is discarded: by a
        // close, libzmq's I/O thread has written what the application sent (measured
        // with pyzmq at LINGER 0: 50 small messages sent just before `zmq_close` all
        // arrived), as NNG's and nanomsg's I/O has (`conn.rs`, `write_loop`).
        let expired = this.poll_linger(cx).is_ready();
        let end = match this.poll_serve(cx) {
            Poll::Ready(end) => end,
            Poll::Pending if expired => ConnEnd::LingerExpired,
            Poll::Pending => return Poll::Pending,
        };
        this.tear_down();
        disconnected(this.shared, this.pipe, *this.peer, &end);
        Poll::Ready(end.protocol_fault().is_some())
    }
}

impl<S> Drop for Connection<'_, S> {
    /// A connection whose task is dropped before it ends gives back its waits all the
    /// same, in the order its futures were dropped: the linger's, then the rest.
    fn drop(&mut self) {
        if let Linger::Open(wait) = &mut self.linger {
            self.shared.shutdown_wake().cancel_wait(wait);
        }
        self.tear_down_serving();
    }
}

/// What each poll of a `select!` checks first: when the task's coop budget is spent,
/// the task is woken again and nothing is polled (tokio's `poll_budget_available`).
/// Budget left, the common case, is one read of it; spent, taking a unit and giving
/// it back registers the wake-up as tokio's own `select!` does (deferred until the
/// scheduler has polled its driver).
pub(super) fn select_budget(cx: &mut Context<'_>) -> Poll<()> {
    if tokio::task::coop::has_budget_remaining() {
        return Poll::Ready(());
    }
    drop(ready!(tokio::task::coop::poll_proceed(cx)));
    Poll::Ready(())
}

/// Hands the core whole events from `buf` while the pipe has room, in one core call.
/// Subscriptions reach a PUB or XPUB core as the `0x01`/`0x00`+prefix messages it
/// reads; a PING is answered at once.
fn deliver_batch(
    shared: &Shared,
    pipe: PipeId,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    link: &mut Link,
) -> Result<Delivered, ZmtpError> {
    let publishes = matches!(shared.socket_type, SocketType::Pub | SocketType::XPub);
    let one_frame_is_body = link.envelope.one_frame_is_body();
    shared.with_core(|core, now| {
        while core.can_receive(pipe) {
            // Most messages are one short frame: straight to the core, no event.
            if one_frame_is_body && let Some(body) = decoder.decode_short_body(buf)? {
                core.on_message(pipe, Msg::new(body), now);
                continue;
            }
            let Some(event) = decoder.decode(buf)? else { return Ok(Delivered::AllBuffered) };
            let msg = match event {
                Event::Message(mut frames) => {
                    let decoded = link.envelope.decode_from(&mut frames);
                    decoder.recycle(frames);
                    match decoded {
                        Ok(msg) => msg,
                        Err(Unroutable(body)) => return Ok(Delivered::UntilMalformed(body)),
                    }
                }
                Event::Subscribe(prefix) if publishes => subscription(1, &prefix),
                Event::Cancel(prefix) if publishes => subscription(0, &prefix),
                // libzmq ignores subscriptions sent to a socket that does not publish.
                Event::Subscribe(_) | Event::Cancel(_) | Event::Pong { .. } => continue,
                Event::Ping { ttl_ds, context } => {
                    link.answer_ping(ttl_ds, &context);
                    continue;
                }
            };
            core.on_message(pipe, msg, now);
        }
        Ok(Delivered::UntilFull)
    })
}

/// The message a publishing core reads as a subscription change.
fn subscription(first: u8, prefix: &[u8]) -> Msg {
    Msg::new([&[first][..], prefix].concat())
}

/// Writes some of `bytes`, retrying an interrupted write: how many went, or why the
/// connection ends (an error, or a stream that takes nothing).
fn poll_write_some<S: AsyncWrite + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    bytes: &[u8],
) -> Poll<Result<usize, ConnEnd>> {
    loop {
        match ready!(Pin::new(&mut *stream).poll_write(cx, bytes)) {
            Ok(0) => return Poll::Ready(Err(ConnEnd::Io(io::ErrorKind::WriteZero.into()))),
            Ok(n) => return Poll::Ready(Ok(n)),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Poll::Ready(Err(ConnEnd::Io(err))),
        }
    }
}

/// Encodes the core's ready messages for `pipe` as frames into `batch`, up to the
/// batch limit, and returns the real padding to send after it: over real TCP a
/// modelled message's last frame counts its padding, which must follow it on the
/// wire, so such a message ends the batch (docs/zmtp.md, "Modelled sizes"). In the
/// simulator the padding never travels.
fn fill_batch(shared: &Shared, pipe: PipeId, batch: &mut BytesMut, link: &mut Link) -> u64 {
    shared.with_core_transmitting(|core, now| {
        while batch.len() < WRITE_BATCH_BYTES_MAX {
            let Some(msg) = core.poll_transmit(pipe, now) else { break };
            let padding = link.envelope.encode_for(&msg, batch, shared.padding);
            if padding > 0 {
                return padding;
            }
        }
        0
    })
}

/// The reader's decoder: one that drops real padding over real TCP.
fn decoder(shared: &Shared) -> Decoder {
    let decoder = Decoder::new(shared.socket_type, limits(shared));
    match shared.padding {
        Padding::Real => decoder.with_real_padding(),
        Padding::Virtual => decoder,
    }
}

/// The heartbeat's part: nothing until the connection has heartbeats to keep (ours
/// are configured, or the peer's PING asked for a time-to-live), then libzmq's
/// heartbeats. Most connections never keep any, so the heartbeat's state is boxed and
/// made only then.
enum Heartbeat {
    Waiting(Option<Waiter>),
    Keeping(Box<Heartbeats>),
}

/// libzmq's heartbeats on one connection.
struct Heartbeats {
    ivl: Option<Duration>,
    timeout: Duration,
    ttl_ds: u16,
    next_ping: Option<Duration>,
    /// The PING whose answer is awaited: when it went out, and when waiting ends.
    awaiting: Option<(Duration, Duration)>,
    /// The round in progress: a wait for the link's heartbeat wake-up against a sleep
    /// until the next thing due.
    round: Option<Round>,
}

struct Round {
    wake: Waiter,
    /// `None` until first polled; then the sleep, or `None` inside for nothing due.
    sleep: Option<Option<Pin<Box<Sleep>>>>,
    wake_at: Option<Duration>,
}

impl Heartbeat {
    fn new() -> Heartbeat {
        Heartbeat::Waiting(None)
    }

    fn poll(&mut self, shared: &Shared, link: &mut Link, cx: &mut Context<'_>) -> Poll<ConnEnd> {
        if let Heartbeat::Waiting(wait) = self {
            if shared.options.heartbeat_ivl.is_none() {
                let peer_ttl = link.peer_ttl;
                ready!(link.heartbeat_wake.poll_until(wait, cx, || peer_ttl.is_some()));
            }
            *self = Heartbeat::Keeping(Box::new(Heartbeats::new(shared)));
        }
        let Heartbeat::Keeping(heartbeats) = self else { unreachable!("keeping heartbeats") };
        heartbeats.poll(shared, link, cx)
    }

    fn tear_down(&mut self, link: &Link) {
        match self {
            Heartbeat::Waiting(wait) => link.heartbeat_wake.cancel_wait(wait),
            Heartbeat::Keeping(heartbeats) => heartbeats.end_round(link),
        }
    }
}

impl Heartbeats {
    fn new(shared: &Shared) -> Heartbeats {
        let options = &shared.options;
        let ivl = options.heartbeat_ivl;
        let timeout = options.heartbeat_timeout.or(ivl).unwrap_or_default();
        let ttl_ds =
            options.heartbeat_ttl.map_or(0, |ttl| (ttl.as_millis() / 100).min(0xffff) as u16);
        let next_ping = ivl.map(|ivl| shared.now() + ivl);
        Heartbeats { ivl, timeout, ttl_ds, next_ping, awaiting: None, round: None }
    }

    /// Runs rounds until one closes the connection.
    fn poll(&mut self, shared: &Shared, link: &mut Link, cx: &mut Context<'_>) -> Poll<ConnEnd> {
        loop {
            let round = self.round.get_or_insert_with(|| {
                let ttl_deadline = link.peer_ttl.map(|ttl| link.last_heard + ttl);
                let until = self.awaiting.map(|(_, until)| until);
                let wake_at = [self.next_ping, until, ttl_deadline].into_iter().flatten().min();
                Round { wake: link.heartbeat_wake.waiter(), sleep: None, wake_at }
            });
            ready!(select_budget(cx));
            if link.heartbeat_wake.poll_waiter(&mut round.wake, cx).is_ready() {
                self.round = None;
                continue;
            }
            let wake_at = round.wake_at;
            let sleep = round.sleep.get_or_insert_with(|| {
                let at = wake_at.and_then(|at| shared.epoch().checked_add(at));
                at.map(|at| Box::pin(super::timer::sleep_until(at)))
            });
            match sleep {
                Some(sleep) => ready!(sleep.as_mut().poll(cx)),
                None => return Poll::Pending,
            }
            self.end_round(link);
            if let Some(end) = self.on_due(shared, link) {
                return Poll::Ready(end);
            }
        }
    }

    /// Gives up the round in progress.
    fn end_round(&mut self, link: &Link) {
        if let Some(round) = self.round.take() {
            link.heartbeat_wake.cancel(round.wake);
        }
    }

    /// What is due when a round's sleep ends: a close for a missed answer or an
    /// expired time-to-live, or a PING.
    fn on_due(&mut self, shared: &Shared, link: &mut Link) -> Option<ConnEnd> {
        let now = shared.now();
        if let Some((sent, until)) = self.awaiting {
            // Traffic at the very instant of the PING counts: the peer was alive then,
            // and under a zero-latency simulated link its PONG arrives at that instant.
            if link.last_heard >= sent {
                self.awaiting = None;
            } else if now >= until {
                let timeout = self.timeout;
                return Some(ConnEnd::Heartbeat(format!(
                    "heartbeat timed out: nothing from the peer within {timeout:?} of our PING (heartbeat_timeout)"
                )));
            }
        }
        if let Some(ttl) = link.peer_ttl
            && now >= link.last_heard + ttl
        {
            return Some(ConnEnd::Heartbeat(format!(
                "heartbeat timed out: nothing from the peer within the {ttl:?} TTL of its PING"
            )));
        }
        if let (Some(at), Some(ivl)) = (self.next_ping, self.ivl)
            && now >= at
        {
            let ttl_ds = self.ttl_ds;
            link.send_control(|out| encode_ping(ttl_ds, b"", out));
            self.next_ping = Some(now + ivl);
            self.awaiting = self.awaiting.or(Some((now, now + self.timeout)));
        }
        None
    }
}
