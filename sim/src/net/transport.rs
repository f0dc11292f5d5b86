//! The network a socket driver is handed: bind, accept, connect, and nothing else.
//!
//! The node code never names tokio's or turmoil's sockets; it is given a `Transport`
//! (mini-redis style injection), so the same driver runs over real TCP and over the
//! simulator, and a fault shim (held traffic, resets, stalls) can wrap either one by
//! implementing these three calls around an inner transport.
//!
//! Nothing here needs `Send`: every task of a node runs on one thread, in a
//! `LocalSet`, under both backends.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::socket::SocketBuffers;
use crate::wire::Padding;

pub trait Transport: Clone + 'static {
    /// One established byte stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + 'static;
    /// A bound listening socket.
    type Listener: 'static;

    /// How a modelled message's padding crosses this transport (`wire/modelled.rs`):
    /// as real zero bytes, unless the transport accounts for it itself (the
    /// simulator's shim does, so a 100 MB job costs no 100 MB of copying).
    const PADDING: Padding = Padding::Real;

    /// Whether time on this transport is the operating system's monotonic clock, never
    /// a paused or simulated one: the driver then reads `std::time::Instant` directly,
    /// skipping tokio's clock (a thread-local lookup and a lock per reading with the
    /// `test-util` feature turmoil turns on), since it reads the time on every core call.
    const REAL_CLOCK: bool = false;

    /// Binds a listener whose connections take the kernel buffers `buffers`, as a
    /// library that sets them on its listening socket before it listens (Linux hands
    /// them on to every accepted connection). The address returned is the one actually
    /// bound, which differs from `addr` when `addr` asks for port 0.
    fn bind(
        &self,
        addr: SocketAddr,
        buffers: SocketBuffers,
    ) -> impl Future<Output = io::Result<(Self::Listener, SocketAddr)>>;

    /// Waits for the next incoming connection and returns it with the peer's address.
    /// Must be cancel-safe: the driver drops a pending accept when the socket closes.
    fn accept(
        &self,
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>>;

    /// Opens a connection to `addr` with the kernel buffers `buffers`, set before it
    /// connects.
    fn connect(
        &self,
        addr: SocketAddr,
        buffers: SocketBuffers,
    ) -> impl Future<Output = io::Result<Self::Stream>>;
}
