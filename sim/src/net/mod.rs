//! Drives socket cores over a network: one driver, any injected transport.
//!
//! [`spawn_socket`] runs a sans-IO [`crate::socket::SocketCore`] over any
//! [`Transport`], speaking SP over TCP (`crate::wire`), or ZMTP for a `library: zeromq`
//! socket (`zmtp.rs`). [`TokioTcp`] is real TCP; the simulator hands the driver its
//! fault shim over turmoil (`run/shim.rs`), so the node code that is tested under
//! simulation is the code that talks to real NNG and libzmq peers. `turmoil_tcp.rs`,
//! plain turmoil TCP, serves this module's own unit tests only. Reading order:
//! `transport`, `event`, `driver`, `deadline`, `conn`, `zmtp`, `handle`, `shared`, `wake`;
//! `timer` is every timer patchbay arms, which the simulator accounts for.
//!
//! **Architecture Invariant:** only this module (and `run/`) imports tokio or turmoil.

mod conn;
mod deadline;
mod driver;
mod event;
mod handle;
mod shared;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limits;
pub mod timer;
mod tokio_tcp;
mod transport;
#[cfg(test)]
mod turmoil_tcp;
mod wake;
mod zmtp;

pub use driver::{ACCEPT_PAUSE_MAX, out_of_descriptors, spawn_socket, spawn_socket_seeded};
pub use event::{DriverEvent, EventSink, no_events};
pub use handle::{Aborter, SocketHandle};
pub use tokio_tcp::TokioTcp;
pub use transport::Transport;
#[cfg(test)]
use turmoil_tcp::TurmoilTcp;
