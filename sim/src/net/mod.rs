//! Drives socket cores over a network: one driver, two backends.
//!
//! [`spawn_socket`] runs a sans-IO [`crate::socket::SocketCore`] over any
//! [`Transport`], speaking SP over TCP (`crate::wire`), or ZMTP for a `library: zeromq`
//! socket (`zmtp.rs`). [`TurmoilTcp`] is the
//! simulated network and [`TokioTcp`] real TCP, so the node code that is tested under
//! simulation is the code that talks to real NNG peers. Reading order: `transport`,
//! `driver`, `deadline`, `conn`, `zmtp`, `handle`, `shared`, `wake`.
//!
//! **Architecture Invariant:** only this module (and `run/`) imports tokio or turmoil.

mod conn;
mod deadline;
mod driver;
mod handle;
mod shared;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limits;
mod tokio_tcp;
mod transport;
mod turmoil_tcp;
mod wake;
mod zmtp;

pub use driver::{ACCEPT_PAUSE_MAX, DriverEvent, out_of_descriptors, spawn_socket};
pub use handle::SocketHandle;
pub use shared::EventSink;
pub use tokio_tcp::TokioTcp;
pub use transport::Transport;
pub use turmoil_tcp::TurmoilTcp;
