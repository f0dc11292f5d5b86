//! One SP connection: the handshake, then a reader and a writer moving messages
//! between the stream and the core until either side ends it. A `library: zeromq`
//! socket's connections speak ZMTP instead (`zmtp.rs`); [`open`] picks the wire.
//!
//! The reader stops reading while its pipe's inbound queue is full, so a slow
//! application pushes back on the sender through TCP as in libzmq and NNG. The writer
//! batches every message the core has ready into one write, because a system call per
//! small message is what makes NNG slow (docs/peers.md); an SP PUSH, PAIR or DEALER
//! has one at a time, since its pipe takes the next only once the last is written
//! (`SocketCore::on_written`), as NNG's and nanomsg's do. Nothing a peer
//! sends can make this code panic: every fault ends this one connection with a reason.
//! A modelled message's padding (`wire/modelled.rs`) is written as zeros after it
//! when the transport carries it as bytes, and dropped by the decoder as it arrives;
//! the message is handed to the core once its padding is in, whole.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker, ready};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::deadline::HandshakeTimedOut;
use super::event::DriverEvent;
use super::shared::Shared;
use super::wake::LocalNotify;
use super::zmtp;
use crate::socket::{DropReason, Msg, PipeId, SocketEvent};
use crate::wire::zmtp::ZmtpError;
use crate::wire::{self, Decoder, HANDSHAKE_LEN, Padding, SpProtocol, WireError};

/// Smallest read into a connection's own buffer while data is flowing: enough for
/// many small messages per system call.
pub(super) const READ_CHUNK_BYTES_MIN: usize = 64 * 1024;
/// What a quiet connection reads into: stack scratch for the length of one poll, so a
/// connection waiting for its peer holds no read buffer (see [`read_some`]).
const READ_SCRATCH_BYTES: usize = 16 * 1024;
/// Largest read reservation, so a peer's length header alone never makes us allocate
/// much more than it has actually sent. A connection therefore buffers at most the
/// message in progress (bounded by the receive limit and `wire::LEN_MAX_HARD`) plus
/// this one read (docs/limits.md).
pub(super) const READ_CHUNK_BYTES_MAX: usize = 1024 * 1024;
/// A writer stops filling its batch here and writes, so one busy pipe neither holds
/// unbounded memory nor keeps the other tasks waiting for long.
const WRITE_BATCH_BYTES_MAX: usize = 256 * 1024;

/// Why a connection ended.
#[derive(Debug)]
pub(super) enum ConnEnd {
    /// The peer closed its side cleanly.
    Eof,
    /// The peer closed its side in the middle of a message, which is lost: what a
    /// sender's close without linger does to the message it was writing. A close,
    /// not a protocol fault (the libraries just close the pipe), so no
    /// `ProtocolError` is recorded; the reason says how much of it came.
    CutShort(String),
    Io(io::Error),
    /// The peer broke the wire protocol; the connection is closed for it.
    Wire(WireError),
    /// The peer broke ZMTP; the connection is closed for it.
    Zmtp(ZmtpError),
    /// A ZMTP heartbeat went unanswered (or the peer's TTL ran out): the reason.
    Heartbeat(String),
    /// The socket closed and everything queued for this peer was written.
    Closed,
    /// The socket closed and its linger ran out before the queue drained.
    LingerExpired,
    /// The peer did not finish its handshake by the socket's deadline.
    HandshakeTimeout(HandshakeTimedOut),
}

impl From<HandshakeTimedOut> for ConnEnd {
    fn from(timed_out: HandshakeTimedOut) -> ConnEnd {
        ConnEnd::HandshakeTimeout(timed_out)
    }
}

impl fmt::Display for ConnEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnEnd::Eof => f.write_str("peer closed the connection"),
            ConnEnd::CutShort(reason) => f.write_str(reason),
            ConnEnd::Io(err) => write!(f, "i/o error: {err}"),
            ConnEnd::Wire(err) => write!(f, "protocol error: {err}"),
            ConnEnd::Zmtp(err) => write!(f, "protocol error: {err}"),
            ConnEnd::Heartbeat(reason) => f.write_str(reason),
            ConnEnd::Closed => f.write_str("socket closed"),
            ConnEnd::LingerExpired => f.write_str("socket closed: linger expired"),
            ConnEnd::HandshakeTimeout(timed_out) => timed_out.fmt(f),
        }
    }
}

impl ConnEnd {
    /// What the peer did wrong, when the connection ended for breaking its protocol.
    pub(super) fn protocol_fault(&self) -> Option<String> {
        match self {
            ConnEnd::Wire(err) => Some(err.to_string()),
            ConnEnd::Zmtp(err) => Some(err.to_string()),
            _ => None,
        }
    }
}

/// The wire a handshaken connection speaks from here on.
pub(super) enum Framing {
    Sp,
    Zmtp(zmtp::Shaken),
}

/// The handshake of the socket's wire: ZMTP for a `library: zeromq` socket, SP for
/// every other.
pub(super) async fn open<S>(shared: &Shared, stream: &mut S) -> Result<Framing, ConnEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if shared.options.zmtp {
        zmtp::handshake(shared, stream).await.map(Framing::Zmtp)
    } else {
        handshake(sp_protocol(shared), stream).await.map(|_| Framing::Sp)
    }
}

/// The SP protocol the socket speaks: its type, for a PAIR its version, and its
/// library's reading of headers.
fn sp_protocol(shared: &Shared) -> SpProtocol {
    SpProtocol::for_socket(shared.socket_type, &shared.options)
}

/// Sends our handshake, reads the peer's and checks it against our protocol.
/// Both sides send first, so neither waits on the other.
pub(super) async fn handshake<S>(protocol: SpProtocol, stream: &mut S) -> Result<u16, ConnEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(&protocol.handshake()).await.map_err(ConnEnd::Io)?;
    stream.flush().await.map_err(ConnEnd::Io)?;
    let mut peer = [0u8; HANDSHAKE_LEN];
    let mut got = 0;
    while got < HANDSHAKE_LEN {
        match stream.read(&mut peer[got..]).await {
            Ok(0) => {
                let truncated =
                    WireError::Truncated { needed: HANDSHAKE_LEN as u64, got: got as u64 };
                return Err(ConnEnd::Wire(truncated));
            }
            Ok(n) => got += n,
            Err(err) => return Err(ConnEnd::Io(err)),
        }
    }
    protocol.check_handshake(&peer).map_err(ConnEnd::Wire)
}

/// Runs an established, handshaken connection on `pipe` until it ends, bracketing it
/// with the core's `set_connected` and the trace's `Connected`/`Disconnected`
/// ([`connected`], [`disconnected`]).
///
/// A ZMTP connection is one hand-written future held in place (`zmtp::Connection`),
/// brackets included, so nothing else is held for its life: a comet subscriber has
/// two (issue 16). An SP connection's `select!` is boxed, so that its size does not
/// size every ZMTP connection's task as well. It resolves to whether the connection
/// ended for a protocol fault of the peer's.
pub(super) fn run_established<'a, S>(
    shared: &'a Shared,
    pipe: PipeId,
    stream: &'a mut S,
    peer: &'a SocketAddr,
    framing: Framing,
) -> Established<'a, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match framing {
        Framing::Sp => Established::Sp(Box::pin(async move {
            let wake = connected(shared, pipe, *peer);
            let end = serve_sp(shared, pipe, stream, wake).await;
            disconnected(shared, pipe, *peer, &end);
            end.protocol_fault().is_some()
        })),
        Framing::Zmtp(shaken) => {
            Established::Zmtp(zmtp::Connection::new(shared, pipe, stream, peer, shaken))
        }
    }
}

/// An established connection's future, by wire (see [`run_established`]).
#[allow(
    clippy::large_enum_variant,
    reason = "the ZMTP connection is held in place on purpose: boxing it would add an allocation, not save memory"
)]
pub(super) enum Established<'a, S> {
    Sp(Pin<Box<dyn Future<Output = bool> + 'a>>),
    Zmtp(zmtp::Connection<'a, S>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Established<'_, S> {
    /// Whether the connection ended for a protocol fault of the peer's.
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        match self.get_mut() {
            Established::Sp(serving) => serving.as_mut().poll(cx),
            Established::Zmtp(connection) => Pin::new(connection).poll(cx),
        }
    }
}

/// What every established connection does first: registers its pipe's writer
/// wake-up, records `Connected` and tells the core.
pub(super) fn connected(shared: &Shared, pipe: PipeId, peer: SocketAddr) -> Rc<LocalNotify> {
    let wake = shared.register_writer(pipe);
    shared.emit(DriverEvent::Connected { pipe, peer });
    shared.with_core(|core, now| core.set_connected(pipe, true, now));
    wake
}

/// What every established connection does last, once `end` ended it.
pub(super) fn disconnected(shared: &Shared, pipe: PipeId, peer: SocketAddr, end: &ConnEnd) {
    shared.unregister_writer(pipe);
    if let Some(reason) = end.protocol_fault() {
        shared.emit(DriverEvent::ProtocolError { peer, reason });
    }
    shared.emit(DriverEvent::Disconnected { pipe, reason: end.to_string() });
    shared.with_core(|core, now| core.set_connected(pipe, false, now));
}

/// An established SP connection: its reader and its writer, which, once the socket
/// closes, ends the connection when its queue is written or its linger runs out
/// ([`write_loop`]).
async fn serve_sp<S>(
    shared: &Shared,
    pipe: PipeId,
    stream: &mut S,
    wake: Rc<LocalNotify>,
) -> ConnEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let stream = RefCell::new(stream);
    let (mut reader, mut writer) = (Half(&stream), Half(&stream));
    let reading = pin!(read_until_closing(shared, pipe, &mut reader));
    tokio::select! {
        biased;
        end = OwnWake::new(reading) => end,
        end = write_loop(shared, pipe, &mut writer, &wake) => end,
    }
}

/// A future polled only when a wake-up it asked for has come (and at its first poll),
/// not at every wake-up of the task it shares: a connection's reader is not polled
/// again, to find nothing, each time its writer is woken to send. A future that
/// returns `Pending` has handed its waker to whatever it waits for, so a poll skipped
/// here is one that could not have made progress.
struct OwnWake<'a, F> {
    inner: Pin<&'a mut F>,
    wake: Arc<BranchWake>,
    /// `wake` as a waker, made once.
    waker: Waker,
    polled: bool,
}

/// What the waker [`OwnWake`] hands its future does: note that the future was woken,
/// and wake the task that polls it.
#[derive(Default)]
struct BranchWake {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for BranchWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Relaxed);
        if let Some(task) =
            self.task.lock().expect("never poisoned: nothing panics holding it").as_ref()
        {
            task.wake_by_ref();
        }
    }
}

impl<'a, F: Future> OwnWake<'a, F> {
    fn new(inner: Pin<&'a mut F>) -> Self {
        let wake = Arc::new(BranchWake::default());
        let waker = Waker::from(wake.clone());
        OwnWake { inner, wake, waker, polled: false }
    }
}

impl<F: Future> Future for OwnWake<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        {
            let mut task =
                this.wake.task.lock().expect("never poisoned: nothing panics holding it");
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if this.polled && !this.wake.woken.swap(false, Ordering::Relaxed) {
            return Poll::Pending;
        }
        this.polled = true;
        this.inner.as_mut().poll(&mut Context::from_waker(&this.waker))
    }
}

/// Reads until the connection ends; once the socket is closing it stops reading and
/// leaves the end of the connection to the writer's final flush.
async fn read_until_closing<R: AsyncRead + Unpin>(
    shared: &Shared,
    pipe: PipeId,
    reader: &mut R,
) -> ConnEnd {
    tokio::select! {
        biased;
        () = shared.shutdown() => std::future::pending().await,
        end = read_loop(shared, pipe, reader) => end,
    }
}

async fn read_loop<R: AsyncRead + Unpin>(shared: &Shared, pipe: PipeId, reader: &mut R) -> ConnEnd {
    let mut decoder = Decoder::new(shared.options.rcvmaxsize_bytes).with_padding(shared.padding);
    let protocol = sp_protocol(shared);
    let mut buf = BytesMut::new();
    let mut counted = Counted::new(shared);
    loop {
        let delivered = deliver_buffered(shared, pipe, protocol, &mut decoder, &mut buf).await;
        counted.set(buf.len());
        if let Err(err) = delivered {
            return ConnEnd::Wire(err);
        }
        let wanted = decoder.bytes_wanted(&buf);
        let read =
            read_some(reader, &mut buf, wanted.clamp(READ_CHUNK_BYTES_MIN, READ_CHUNK_BYTES_MAX));
        let read = read.await;
        counted.set(buf.len());
        match read {
            Ok(0) => {
                let cut_short = |err: WireError| ConnEnd::CutShort(err.to_string());
                return decoder.finish(&buf).map_or_else(cut_short, |()| ConnEnd::Eof);
            }
            Ok(_) => {}
            Err(err) => return ConnEnd::Io(err),
        }
    }
}

/// Reads once from `reader` into `buf` and returns how many bytes came (0 at the end
/// of the stream).
///
/// A connection with data flowing reads straight into `buf` with room for `reserve`
/// bytes, so big reads keep their batching (real TCP throughput). A connection with
/// nothing buffered gives its buffer back while it waits for its peer, and reads what
/// arrives into stack scratch, keeping only those bytes: a comet router's 100,000
/// quiet connections held a 64 KiB reservation each, both ends (issue 16). A read
/// that fills the scratch means the peer sends fast: room for a big read is reserved
/// for the next. The bound of docs/limits.md holds either way: one read of at most
/// `reserve` (or the scratch) beyond the message in progress.
pub(super) async fn read_some<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    reserve: usize,
) -> io::Result<usize> {
    std::future::poll_fn(|cx| poll_read_some(&mut *reader, cx, buf, reserve)).await
}

pub(super) fn poll_read_some<R: AsyncRead + Unpin>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
    reserve: usize,
) -> Poll<io::Result<usize>> {
    if !buf.is_empty() || buf.capacity() >= READ_SCRATCH_BYTES {
        buf.reserve(reserve);
        let polled = {
            let mut read = pin!(reader.read_buf(&mut *buf));
            read.as_mut().poll(cx)
        };
        if polled.is_pending() && buf.is_empty() {
            *buf = BytesMut::new();
        }
        return polled;
    }
    *buf = BytesMut::new();
    let mut scratch = [MaybeUninit::<u8>::uninit(); READ_SCRATCH_BYTES];
    let mut got = ReadBuf::uninit(&mut scratch);
    ready!(Pin::new(reader).poll_read(cx, &mut got))?;
    let got = got.filled();
    if got.len() == READ_SCRATCH_BYTES {
        buf.reserve(got.len() + reserve);
    }
    buf.extend_from_slice(got);
    Poll::Ready(Ok(got.len()))
}

/// One half of a connection's stream: its reader and writer run in one task and are
/// never polled at once, so each poll borrows the stream for its length, instead of
/// `tokio::io::split`'s shared allocation and lock per connection end.
pub(super) struct Half<'a, S>(pub(super) &'a RefCell<S>);

impl<S: AsyncRead + Unpin> AsyncRead for Half<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Half<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.borrow().is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_shutdown(cx)
    }
}

/// This connection's share of the socket's received-but-undelivered bytes, kept in
/// step with its read buffer and given back however the reader ends (a `select!`
/// may drop it mid-read).
pub(super) struct Counted<'a> {
    shared: &'a Shared,
    bytes: usize,
}

impl<'a> Counted<'a> {
    pub(super) fn new(shared: &'a Shared) -> Counted<'a> {
        Counted { shared, bytes: 0 }
    }

    pub(super) fn set(&mut self, bytes: usize) {
        self.shared.rx_buffered_changed(self.bytes, bytes);
        self.bytes = bytes;
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Hands every whole message in `buf` to the core, waiting for room in the pipe's
/// inbound queue before each one: while it is full nothing more is read.
async fn deliver_buffered(
    shared: &Shared,
    pipe: PipeId,
    protocol: SpProtocol,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Result<(), WireError> {
    loop {
        shared.wait_for_room(pipe).await;
        match deliver_batch(shared, pipe, protocol, decoder, buf)? {
            Delivered::AllBuffered => return Ok(()),
            Delivered::UntilFull => {}
            Delivered::UntilMalformed(payload) => drop_malformed(shared, pipe, payload),
        }
    }
}

/// Where [`deliver_batch`] stopped.
pub(super) enum Delivered {
    /// No whole message is left in the buffer.
    AllBuffered,
    /// The pipe's inbound queue is full.
    UntilFull,
    /// This message's header does not fit the protocol and its library drops it; the
    /// ones before it went in.
    UntilMalformed(Bytes),
}

/// Hands the core whole messages from `buf` while the pipe has room, all in one core
/// call: one borrow, one clock reading and one round of wake-ups for a read's worth
/// of messages, instead of one per message. The core's events come out in the same
/// order as message by message, and under turmoil with the same time stamps, since
/// simulated time stands still while a task runs. A message whose header does not
/// fit ends the batch: dropped (the caller records it), or, where the socket's library
/// does so (NNG, docs/sp-wire.md), the connection closes for it.
fn deliver_batch(
    shared: &Shared,
    pipe: PipeId,
    protocol: SpProtocol,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Result<Delivered, WireError> {
    shared.with_core(|core, now| {
        while core.can_receive(pipe) {
            let Some(payload) = decoder.decode(buf)? else { return Ok(Delivered::AllBuffered) };
            match protocol.split(payload) {
                Ok(msg) => core.on_message(pipe, msg, now),
                Err(malformed) => match protocol.closes_connection(&malformed) {
                    Some(err) => return Err(err),
                    None => return Ok(Delivered::UntilMalformed(malformed.payload)),
                },
            }
        }
        Ok(Delivered::UntilFull)
    })
}

/// A message whose header does not fit the protocol, where the library drops it, is
/// dropped and recorded, and the connection carries on: only that message is bad. It
/// is reported after the core's events for the messages before it, as they were
/// settled first.
pub(super) fn drop_malformed(shared: &Shared, pipe: PipeId, payload: Bytes) {
    let msg = Msg::new(payload);
    let dropped = SocketEvent::Dropped { pipe: Some(pipe), reason: DropReason::Malformed, msg };
    shared.emit(DriverEvent::Socket(dropped));
}

/// Writes whatever the core has for `pipe`, batched, until the connection fails or
/// the socket closes with nothing left to send, or with its linger run out.
///
/// A write is always tried before the linger is looked at, so a closing socket's
/// connection first writes what the stream takes at once (the kernel's buffers, or
/// the shim's model of them) and only then waits, at most its linger, for the rest.
/// That is what `linger: 0s` is, and an NNG or nanomsg socket's close, which neither
/// library makes linger (docs/library-semantics.md): their I/O writes a message to
/// the kernel as soon as a pipe takes it, so when the application closes, what the
/// kernel took goes and the rest is lost, the message cut mid-write included.
async fn write_loop<W: AsyncWrite + Unpin>(
    shared: &Shared,
    pipe: PipeId,
    writer: &mut W,
    wake: &LocalNotify,
) -> ConnEnd {
    let mut batch = BytesMut::new();
    // One wait for the socket's close for the connection's life rather than one per
    // idle spell, each registered and cancelled again. Once it is over the socket is
    // closing for good, so the loop returns at its next idle spell and never polls
    // it again.
    let mut closing = pin!(shared.shutdown());
    // The same for the linger, which starts to run when a write first waits after the
    // socket closed; never under `Linger::Forever`.
    let mut linger = pin!(shared.linger_expired());
    // Whether the last batch was written whole: then the core is asked for more only
    // if it may have some (`Shared::may_transmit`), which spares a core call per batch.
    let mut wrote = false;
    loop {
        let padding = if wrote && !shared.may_transmit(pipe) {
            0
        } else {
            fill_batch(shared, pipe, &mut batch)
        };
        wrote = false;
        if batch.is_empty() {
            if shared.is_shutting_down() {
                return writer.shutdown().await.map_or_else(ConnEnd::Io, |()| ConnEnd::Closed);
            }
            tokio::select! {
                biased;
                () = wake.notified() => {}
                () = &mut closing => {}
            }
            continue;
        }
        let written = tokio::select! {
            biased;
            written = write_batch(writer, &batch, padding) => written,
            () = &mut linger => return ConnEnd::LingerExpired,
        };
        if let Err(err) = written {
            return ConnEnd::Io(err);
        }
        batch.clear();
        shared.written(pipe);
        wrote = true;
    }
}

/// Zero bytes that real padding is written from, so it is never allocated.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The next slice of zeros to write of a modelled message's real padding, `left`
/// bytes of which are still to go (`wire/modelled.rs`): SP's writer and ZMTP's alike.
pub(super) fn padding_slice(left: u64) -> &'static [u8] {
    &ZEROS[..left.min(ZEROS.len() as u64) as usize]
}

/// Writes a batch and then the real padding of its last message, if it models one.
async fn write_batch<W: AsyncWrite + Unpin>(
    writer: &mut W,
    batch: &[u8],
    padding: u64,
) -> io::Result<()> {
    writer.write_all(batch).await?;
    write_padding(writer, padding).await
}

/// Sends a modelled message's real padding, slice by slice.
async fn write_padding<W: AsyncWrite + Unpin>(writer: &mut W, mut left: u64) -> io::Result<()> {
    while left > 0 {
        let zeros = padding_slice(left);
        writer.write_all(zeros).await?;
        left -= zeros.len() as u64;
    }
    Ok(())
}

/// Encodes the core's ready messages for `pipe` into `batch`, up to the batch limit,
/// and returns the real padding to send after it: a message whose padding travels
/// as bytes ends the batch, since its padding must follow it on the wire. Where the
/// transport accounts for padding itself, nothing is sent for it.
fn fill_batch(shared: &Shared, pipe: PipeId, batch: &mut BytesMut) -> u64 {
    let protocol = sp_protocol(shared);
    shared.with_core_transmitting(|core, now| {
        while batch.len() < WRITE_BATCH_BYTES_MAX {
            let Some(msg) = core.poll_transmit(pipe, now) else { break };
            let padding = wire::encode(protocol.outgoing_header(&msg.header), &msg.body, batch);
            if padding > 0 && shared.padding == Padding::Real {
                return padding;
            }
        }
        0
    })
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A peer whose reads follow a script: some bytes, or `None` for "nothing yet".
    struct Script(VecDeque<Option<Vec<u8>>>);

    impl AsyncRead for Script {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match self.0.pop_front() {
                None | Some(None) => Poll::Pending,
                Some(Some(mut bytes)) => {
                    let n = bytes.len().min(buf.remaining());
                    buf.put_slice(&bytes[..n]);
                    if n < bytes.len() {
                        self.0.push_front(Some(bytes.split_off(n)));
                    }
                    Poll::Ready(Ok(()))
                }
            }
        }
    }

    fn read(script: &mut Script, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        poll_read_some(script, &mut cx, buf, READ_CHUNK_BYTES_MIN)
    }

    /// A future that counts its polls and keeps the waker of the last one.
    struct Counting<'a> {
        polls: &'a std::cell::Cell<u32>,
        waker: &'a RefCell<Option<std::task::Waker>>,
    }

    impl Future for Counting<'_> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.set(self.polls.get() + 1);
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn a_future_under_own_wake_is_polled_again_only_once_its_own_waker_fires() {
        let (polls, waker) = (std::cell::Cell::new(0), RefCell::new(None));
        let mut counting = pin!(Counting { polls: &polls, waker: &waker });
        let mut own = OwnWake::new(counting.as_mut());
        let task_woken = Arc::new(super::BranchWake::default());
        let task_waker = std::task::Waker::from(task_woken.clone());
        let mut cx = Context::from_waker(&task_waker);
        assert!(Pin::new(&mut own).poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 1, "the first poll reaches the future");
        // The task is polled again for another reason (its writer's wake-up).
        assert!(Pin::new(&mut own).poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 1, "a wake-up not its own does not poll it");
        waker.borrow().as_ref().expect("registered").wake_by_ref();
        assert!(task_woken.woken.load(Ordering::Relaxed), "its wake-up wakes the task");
        assert!(Pin::new(&mut own).poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 2, "its own wake-up polls it");
    }

    #[test]
    fn a_connection_with_nothing_buffered_gives_its_read_buffer_back_while_it_waits() {
        let mut script = Script(VecDeque::from([None]));
        let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES_MIN);
        assert!(read(&mut script, &mut buf).is_pending());
        assert_eq!(buf.capacity(), 0, "a quiet connection holds no read buffer");
    }

    #[test]
    fn a_partial_message_keeps_its_buffer_while_the_rest_is_awaited() {
        let mut script = Script(VecDeque::from([None]));
        let mut buf = BytesMut::from(&b"half a message"[..]);
        assert!(read(&mut script, &mut buf).is_pending());
        assert_eq!(&buf[..], b"half a message");
    }

    #[test]
    fn a_small_read_on_a_quiet_connection_keeps_only_its_bytes() {
        let mut script = Script(VecDeque::from([Some(vec![7; 100])]));
        let mut buf = BytesMut::new();
        assert!(matches!(read(&mut script, &mut buf), Poll::Ready(Ok(100))));
        assert_eq!(&buf[..], &[7; 100][..]);
        assert!(buf.capacity() < READ_SCRATCH_BYTES, "kept {} bytes of room", buf.capacity());
    }

    #[test]
    fn a_read_that_fills_the_scratch_reads_straight_into_a_big_buffer_next() {
        let sent = READ_SCRATCH_BYTES + 4000;
        let mut script = Script(VecDeque::from([Some(vec![1; sent])]));
        let mut buf = BytesMut::new();
        let first = read(&mut script, &mut buf);
        assert!(matches!(first, Poll::Ready(Ok(n)) if n == READ_SCRATCH_BYTES));
        assert!(buf.capacity() >= READ_SCRATCH_BYTES + READ_CHUNK_BYTES_MIN);
        assert!(matches!(read(&mut script, &mut buf), Poll::Ready(Ok(4000))));
        assert_eq!(buf.len(), sent, "the rest came in one read");
    }
}
