//! The one seam between the wiring every backend shares and what a backend does its
//! own way: where a replica's sockets bind and connect, over which [`Transport`],
//! what becomes of their events, what a failure to start tells the run, and where a
//! replica's tasks are spawned.
//!
//! Three platforms implement it: the simulator (`simulated.rs`: turmoil through the
//! fault shim, supervisors spawned on the turmoil host a replica is packed onto), the
//! real network (`real.rs`: tokio TCP on ephemeral ports behind the fault proxies) and
//! the benches (`benches/benches/messaging/deploy.rs`: tokio TCP, no faults, no
//! trace). Everything else a replica needs (its socket cores, its design, its
//! supervisor and the trace) is the same code for all three (`node.rs`, `wiring.rs`).
//! Crashes and other faults reach a supervised replica through the run's fault world
//! (`faults.rs`), which the simulator and the real network share; a platform reports
//! only what is its own: its sockets' events and its failures to start one.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use crate::net::{EventSink, Transport, no_events};
use crate::plan::Replica;
use crate::socket::SocketOptions;
use crate::trace::SocketIndex;

/// A replica's supervisor, waiting to be told the instant its platform counts time
/// from (under turmoil that instant is only known on the host's own runtime).
pub type ReplicaTask = Box<dyn FnOnce(tokio::time::Instant) -> Pin<Box<dyn Future<Output = ()>>>>;

/// How one backend runs replicas. Socket numbers are indices into the group's socket
/// list, as in the plan.
pub trait Platform: 'static {
    /// The network every socket of this platform runs over.
    type Transport: Transport;

    /// The transport `replica`'s sockets are handed.
    fn transport(&self, replica: Replica) -> Self::Transport;

    /// The address socket `socket` of `replica` binds; `None` for a socket that only
    /// connects.
    fn bind_addr(&self, replica: Replica, socket: usize) -> Option<SocketAddr>;

    /// The addresses socket `socket` of `replica` connects to, in dialling order.
    fn connects(&self, replica: Replica, socket: usize) -> Vec<SocketAddr>;

    /// Where the driver events of one socket go. A platform without a trace drops
    /// them, through the sink the driver knows keeps nothing ([`no_events`]).
    fn event_sink(
        &self,
        _replica: Replica,
        _socket: SocketIndex,
        _options: &SocketOptions,
    ) -> EventSink {
        no_events()
    }

    /// Socket `socket` of `replica`'s current incarnation now listens at `addr` (the
    /// real network's proxies dial it there after every restart).
    fn bound(&self, _replica: Replica, _socket: usize, _addr: SocketAddr) {}

    /// A socket failed to start; `what` names it. The replica records a note in the
    /// trace itself; this is what the platform makes of the error (the real network
    /// remembers a descriptor limit, which makes the run one that could not run).
    fn start_failed(&self, _what: &str, _err: &io::Error) {}

    /// Starts a replica's supervisor where this platform runs `replica`: by default
    /// on the current `LocalSet`, its time counted from now.
    fn spawn(&self, _replica: Replica, task: ReplicaTask) {
        tokio::task::spawn_local(task(tokio::time::Instant::now()));
    }
}
