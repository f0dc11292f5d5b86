//! [`Transport`] over real TCP with `tokio::net`, for runs against real peers.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::transport::Transport;
use crate::socket::SocketBuffers;

/// Real TCP. Stateless: every call goes straight to the operating system.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTcp;

/// Small messages are batched by the driver's writer already; Nagle's algorithm would
/// only add a delay to the last write of each batch, so it is turned off. A failure
/// to turn it off costs latency, not correctness, and is ignored.
fn without_nagle(stream: TcpStream) -> TcpStream {
    let _ = stream.set_nodelay(true);
    stream
}

/// A listener's backlog: what `TcpListener::bind` asks for.
const LISTEN_BACKLOG: u32 = 1024;

/// A socket for `addr`'s family with the kernel buffers a library sets (`SO_SNDBUF`,
/// `SO_RCVBUF`, which Linux doubles for its bookkeeping), before it connects or
/// listens, as nanomsg does; a size not set is left to the system, which tunes it.
fn socket_with(addr: SocketAddr, buffers: SocketBuffers) -> io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(bytes) = buffers.send {
        socket.set_send_buffer_size(bytes)?;
    }
    if let Some(bytes) = buffers.recv {
        socket.set_recv_buffer_size(bytes)?;
    }
    Ok(socket)
}

impl Transport for TokioTcp {
    type Stream = TcpStream;
    type Listener = TcpListener;
    /// Real TCP runs on a runtime whose clock is never paused.
    const REAL_CLOCK: bool = true;

    async fn bind(
        &self,
        addr: SocketAddr,
        buffers: SocketBuffers,
    ) -> io::Result<(TcpListener, SocketAddr)> {
        let socket = socket_with(addr, buffers)?;
        // As `TcpListener::bind` does: a restarted node rebinds its port at once.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(LISTEN_BACKLOG)?;
        let bound = listener.local_addr()?;
        Ok((listener, bound))
    }

    async fn accept(&self, listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        Ok((without_nagle(stream), peer))
    }

    async fn connect(&self, addr: SocketAddr, buffers: SocketBuffers) -> io::Result<TcpStream> {
        socket_with(addr, buffers)?.connect(addr).await.map(without_nagle)
    }
}
