//! [`Transport`] over turmoil's plain simulated TCP, for this module's own unit tests
//! (`tests.rs`, `tests_limits.rs`), which exercise the driver without reaching up
//! into `run/`. Scenario runs and the parity tests use the simulator's fault shim
//! (`run/shim.rs`) instead.
//!
//! Must be used from inside a turmoil host. turmoil's TCP differs from real TCP in
//! ways the driver cannot hide (no retransmission, flow control counted in segments,
//! not bytes): see docs/turmoil.md.

use std::io;
use std::net::SocketAddr;

use turmoil::net::{TcpListener, TcpStream};

use super::transport::Transport;
use crate::socket::SocketBuffers;

/// turmoil's simulated TCP. Stateless: the simulated world is found through
/// turmoil's thread-local current host.
#[derive(Clone, Copy, Debug, Default)]
pub struct TurmoilTcp;

impl Transport for TurmoilTcp {
    type Stream = TcpStream;
    type Listener = TcpListener;

    /// turmoil binds only the unspecified address or loopback, and reports the bound
    /// address as given (`0.0.0.0:port`): peers reach it through the host's own
    /// address (`turmoil::lookup`) and the port returned here.
    ///
    /// turmoil has no kernel buffers: `_buffers` is not modelled here (the simulator's
    /// own transport models them, `run/shim.rs`; this one serves the net module's
    /// unit tests only).
    async fn bind(
        &self,
        addr: SocketAddr,
        _buffers: SocketBuffers,
    ) -> io::Result<(TcpListener, SocketAddr)> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        Ok((listener, bound))
    }

    async fn accept(&self, listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        listener.accept().await
    }

    async fn connect(&self, addr: SocketAddr, _buffers: SocketBuffers) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }
}
