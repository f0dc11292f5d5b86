//! One ZMTP connection (a `library: zeromq` socket): the greeting and READY, then a
//! reader, a writer and a heartbeat task moving frames between the stream and the core.
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

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::{ConnEnd, Counted, Delivered, READ_CHUNK_BYTES_MIN, drop_malformed, read_some};
use super::shared::Shared;
use super::wake::LocalNotify;
use crate::socket::{Msg, PipeId, SocketType};
use crate::wire::zmtp::{
    Decoder, Envelope, Event, Handshake, Limits, Unroutable, Version, encode_ping, encode_pong,
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
    stream.write_all(&shake.greeting()).await.map_err(ConnEnd::Io)?;
    stream.flush().await.map_err(ConnEnd::Io)?;
    let (mut buf, mut out) = (BytesMut::new(), BytesMut::new());
    loop {
        let peer = shake.advance(&mut buf, &mut out).map_err(ConnEnd::Zmtp)?;
        if !out.is_empty() {
            stream.write_all(&out).await.map_err(ConnEnd::Io)?;
            stream.flush().await.map_err(ConnEnd::Io)?;
            out.clear();
        }
        if let Some(peer) = peer {
            return Ok(Shaken { version: peer.version, leftover: buf });
        }
        match read_handshake(stream, &mut buf).await {
            Ok(0) => return Err(shake.finish(&buf).map_or_else(ConnEnd::Zmtp, |()| ConnEnd::Eof)),
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

/// One established connection's state shared by its reader, writer and heartbeat.
struct Link {
    envelope: RefCell<Envelope>,
    /// Commands to send ahead of the next batch (PONG answers, our PINGs).
    control: RefCell<BytesMut>,
    /// Wakes the writer when `control` gains bytes.
    writer_wake: Rc<LocalNotify>,
    /// When anything last arrived from the peer (time since the run's epoch).
    last_heard: Cell<Duration>,
    /// The time-to-live the peer's last PING asked for, if any.
    peer_ttl: Cell<Option<Duration>>,
    /// Wakes the heartbeat task when `peer_ttl` changes.
    heartbeat_wake: LocalNotify,
}

impl Link {
    fn send_control(&self, encode: impl FnOnce(&mut BytesMut)) {
        encode(&mut self.control.borrow_mut());
        self.writer_wake.notify_waiters();
    }

    fn answer_ping(&self, ttl_ds: u16, context: &[u8]) {
        self.send_control(|out| encode_pong(context, out));
        let ttl = (ttl_ds > 0).then(|| Duration::from_millis(100 * u64::from(ttl_ds)));
        if ttl != self.peer_ttl.get() {
            self.peer_ttl.set(ttl);
            self.heartbeat_wake.notify_waiters();
        }
    }
}

/// Runs an established ZMTP connection until it ends.
///
/// This and the reader below are plain functions returning a block that uses their
/// by-value arguments where it captured them: as `async fn`s they would hold each
/// such argument twice, as passed and as moved into the body, for the connection's
/// whole life (`driver::serve_accepted`; issue 16).
#[allow(clippy::manual_async_fn, reason = "an async fn would hold its by-value arguments twice")]
pub(super) fn serve<R, W>(
    shared: &Shared,
    pipe: PipeId,
    reader: &mut R,
    writer: &mut W,
    writer_wake: Rc<LocalNotify>,
    shaken: Shaken,
) -> impl Future<Output = ConnEnd>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    async move {
        let link = Link {
            envelope: RefCell::new(Envelope::new(
                shared.socket_type,
                shaken.version,
                shared.options.req_correlate,
            )),
            control: RefCell::new(BytesMut::new()),
            writer_wake,
            last_heard: Cell::new(shared.now()),
            peer_ttl: Cell::new(None),
            heartbeat_wake: LocalNotify::new(),
        };
        tokio::select! {
            biased;
            end = read_until_closing(shared, pipe, reader, &link, shaken.leftover) => end,
            end = write_loop(shared, pipe, writer, &link) => end,
            end = heartbeat_when_needed(shared, &link) => end,
        }
    }
}

#[allow(clippy::manual_async_fn, reason = "an async fn would hold its by-value arguments twice")]
fn read_until_closing<R: AsyncRead + Unpin>(
    shared: &Shared,
    pipe: PipeId,
    reader: &mut R,
    link: &Link,
    buf: BytesMut,
) -> impl Future<Output = ConnEnd> {
    async move {
        tokio::select! {
            biased;
            () = shared.shutdown() => std::future::pending().await,
            end = read_loop(shared, pipe, reader, link, buf) => end,
        }
    }
}

#[allow(clippy::manual_async_fn, reason = "an async fn would hold its by-value arguments twice")]
fn read_loop<R: AsyncRead + Unpin>(
    shared: &Shared,
    pipe: PipeId,
    reader: &mut R,
    link: &Link,
    mut buf: BytesMut,
) -> impl Future<Output = ConnEnd> {
    async move {
        let mut decoder = Decoder::new(shared.socket_type, limits(shared));
        let mut counted = Counted::new(shared);
        loop {
            let delivered = deliver_buffered(shared, pipe, &mut decoder, &mut buf, link).await;
            counted.set(buf.len() + decoder.buffered_bytes() as usize);
            if let Err(err) = delivered {
                return ConnEnd::Zmtp(err);
            }
            let read = read_some(reader, &mut buf, READ_CHUNK_BYTES_MIN).await;
            counted.set(buf.len() + decoder.buffered_bytes() as usize);
            match read {
                Ok(0) => {
                    return decoder.finish(&buf).map_or_else(ConnEnd::Zmtp, |()| ConnEnd::Eof);
                }
                Ok(_) => link.last_heard.set(shared.now()),
                Err(err) => return ConnEnd::Io(err),
            }
        }
    }
}

/// Hands every whole message in `buf` to the core, waiting for room before each batch.
async fn deliver_buffered(
    shared: &Shared,
    pipe: PipeId,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    link: &Link,
) -> Result<(), crate::wire::zmtp::ZmtpError> {
    loop {
        shared.wait_for_room(pipe).await;
        match deliver_batch(shared, pipe, decoder, buf, link)? {
            Delivered::AllBuffered => return Ok(()),
            Delivered::UntilFull => {}
            Delivered::UntilMalformed(payload) => drop_malformed(shared, pipe, payload),
        }
    }
}

/// Hands the core whole events from `buf` while the pipe has room, in one core call.
/// Subscriptions reach a PUB or XPUB core as the `0x01`/`0x00`+prefix messages it
/// reads; a PING is answered at once.
fn deliver_batch(
    shared: &Shared,
    pipe: PipeId,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    link: &Link,
) -> Result<Delivered, crate::wire::zmtp::ZmtpError> {
    let publishes = matches!(shared.socket_type, SocketType::Pub | SocketType::XPub);
    shared.with_core(|core, now| {
        while core.can_receive(pipe) {
            let Some(event) = decoder.decode(buf)? else { return Ok(Delivered::AllBuffered) };
            let msg = match event {
                Event::Message(mut frames) => {
                    let decoded = link.envelope.borrow_mut().decode_from(&mut frames);
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

/// Writes the link's commands and whatever the core has for `pipe`, batched, until
/// the connection fails or the socket closes with nothing left to send.
async fn write_loop<W: AsyncWrite + Unpin>(
    shared: &Shared,
    pipe: PipeId,
    writer: &mut W,
    link: &Link,
) -> ConnEnd {
    let mut batch = BytesMut::new();
    loop {
        batch.extend_from_slice(&link.control.borrow_mut().split());
        fill_batch(shared, pipe, &mut batch, link);
        if batch.is_empty() {
            if shared.is_shutting_down() {
                return writer.shutdown().await.map_or_else(ConnEnd::Io, |()| ConnEnd::Closed);
            }
            tokio::select! {
                biased;
                () = link.writer_wake.notified() => {}
                () = shared.shutdown() => {}
            }
            continue;
        }
        if let Err(err) = writer.write_all(&batch).await {
            return ConnEnd::Io(err);
        }
        batch.clear();
    }
}

/// Encodes the core's ready messages for `pipe` as frames into `batch`, up to the
/// batch limit. A modelled size's padding is not sent on ZMTP (docs/zmtp.md).
fn fill_batch(shared: &Shared, pipe: PipeId, batch: &mut BytesMut, link: &Link) {
    shared.with_core(|core, now| {
        let mut envelope = link.envelope.borrow_mut();
        while batch.len() < WRITE_BATCH_BYTES_MAX {
            let Some(msg) = core.poll_transmit(pipe, now) else { break };
            envelope.encode(&msg, batch);
        }
    });
}

/// Waits until the connection has heartbeats to keep (ours are configured, or the
/// peer's PING asked for a time-to-live), then keeps them. Most connections never
/// do, so the heartbeat state and its timer are boxed and made only then.
async fn heartbeat_when_needed(shared: &Shared, link: &Link) -> ConnEnd {
    if shared.options.heartbeat_ivl.is_none() {
        while link.peer_ttl.get().is_none() {
            link.heartbeat_wake.notified().await;
        }
    }
    Box::pin(heartbeat_loop(shared, link)).await
}

/// libzmq's heartbeats on one connection; returns only to close it.
async fn heartbeat_loop(shared: &Shared, link: &Link) -> ConnEnd {
    let options = &shared.options;
    let ivl = options.heartbeat_ivl;
    let timeout = options.heartbeat_timeout.or(ivl).unwrap_or_default();
    let ttl_ds = options.heartbeat_ttl.map_or(0, |ttl| (ttl.as_millis() / 100).min(0xffff) as u16);
    let mut next_ping = ivl.map(|ivl| shared.now() + ivl);
    // The PING whose answer is awaited: when it went out, and when waiting ends.
    let mut awaiting: Option<(Duration, Duration)> = None;
    loop {
        let ttl_deadline = link.peer_ttl.get().map(|ttl| link.last_heard.get() + ttl);
        let wake_at =
            [next_ping, awaiting.map(|(_, until)| until), ttl_deadline].into_iter().flatten().min();
        tokio::select! {
            biased;
            () = link.heartbeat_wake.notified() => continue,
            () = sleep_until(shared, wake_at) => {}
        }
        let now = shared.now();
        if let Some((sent, until)) = awaiting {
            // Traffic at the very instant of the PING counts: the peer was alive then,
            // and under a zero-latency simulated link its PONG arrives at that instant.
            if link.last_heard.get() >= sent {
                awaiting = None;
            } else if now >= until {
                return ConnEnd::Heartbeat(format!(
                    "heartbeat timed out: nothing from the peer within {timeout:?} of our PING (heartbeat_timeout)"
                ));
            }
        }
        if let Some(ttl) = link.peer_ttl.get()
            && now >= link.last_heard.get() + ttl
        {
            return ConnEnd::Heartbeat(format!(
                "heartbeat timed out: nothing from the peer within the {ttl:?} TTL of its PING"
            ));
        }
        if let (Some(at), Some(ivl)) = (next_ping, ivl)
            && now >= at
        {
            link.send_control(|out| encode_ping(ttl_ds, b"", out));
            next_ping = Some(now + ivl);
            awaiting = awaiting.or(Some((now, now + timeout)));
        }
    }
}

/// Sleeps until `at` (time since the epoch), or for ever when there is nothing to do.
async fn sleep_until(shared: &Shared, at: Option<Duration>) {
    match at.and_then(|at| shared.epoch().checked_add(at)) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
