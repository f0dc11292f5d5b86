//! [`Transport`] over real TCP with `tokio::net`, for runs against real peers.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

use super::transport::Transport;

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

impl Transport for TokioTcp {
    type Stream = TcpStream;
    type Listener = TcpListener;
    /// Real TCP runs on a runtime whose clock is never paused.
    const REAL_CLOCK: bool = true;

    async fn bind(&self, addr: SocketAddr) -> io::Result<(TcpListener, SocketAddr)> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        Ok((listener, bound))
    }

    async fn accept(&self, listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        Ok((without_nagle(stream), peer))
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await.map(without_nagle)
    }
}
