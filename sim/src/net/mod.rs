//! Drives socket cores over a network: one driver, two backends.
//!
//! [`spawn_socket`] runs a sans-IO [`crate::socket::SocketCore`] over any
//! [`Transport`], speaking SP over TCP (`crate::wire`). [`TurmoilTcp`] is the
//! simulated network and [`TokioTcp`] real TCP, so the node code that is tested under
//! simulation is the code that talks to real NNG peers. Reading order: `transport`,
//! `driver`, `conn`, `handle`, `shared`, `wake`.
//!
//! **Architecture Invariant:** only this module (and `run/`) imports tokio or turmoil.

mod conn;
mod driver;
mod handle;
mod shared;
#[cfg(test)]
mod tests;
mod tokio_tcp;
mod transport;
mod turmoil_tcp;
mod wake;

pub use driver::{DriverEvent, spawn_socket};
pub use handle::SocketHandle;
pub use shared::EventSink;
pub use tokio_tcp::TokioTcp;
pub use transport::Transport;
pub use turmoil_tcp::TurmoilTcp;
