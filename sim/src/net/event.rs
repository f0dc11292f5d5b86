//! What a socket driver reports, and where it reports it: the events every task of
//! a socket (`driver.rs`, `conn.rs`, `shared.rs`) emits. They live here, below all
//! three, so that none of them imports another only for this vocabulary.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use crate::socket::{PipeId, SocketEvent};

/// What the driver reports for the trace, besides the core's own events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverEvent {
    /// An event of the socket core, passed through.
    Socket(SocketEvent),
    /// A connection on `pipe` finished its handshake.
    Connected { pipe: PipeId, peer: SocketAddr },
    /// The connection under `pipe` ended. On the connecting side the pipe lives on and
    /// a reconnect follows; on the bound side the pipe is gone.
    Disconnected { pipe: PipeId, reason: String },
    /// A connection attempt to `addr` failed before its handshake completed;
    /// `out_of_descriptors` when the process or the system had no descriptor left
    /// (EMFILE, ENFILE), which is the machine's limit, not the network's doing.
    ConnectFailed { addr: SocketAddr, reason: String, out_of_descriptors: bool },
    /// The listener on `addr` failed to accept; it backs off (`reconnect_ivl`,
    /// doubling up to [`ACCEPT_PAUSE_MAX`](super::ACCEPT_PAUSE_MAX)) while its connections carry on.
    AcceptFailed { addr: SocketAddr, reason: String, out_of_descriptors: bool },
    /// `peer` broke the wire protocol (handshake, length or truncation) and its
    /// connection was closed; the socket keeps serving its other peers.
    ProtocolError { peer: SocketAddr, reason: String },
    /// A driver task panicked: a bug in patchbay. The application's next call on the
    /// handle panics with the same message.
    TaskPanicked { task: &'static str, message: String },
}

/// Receives every event of one socket, stamped with the time since the run's epoch.
pub type EventSink = Rc<dyn Fn(Duration, DriverEvent)>;

thread_local! {
    /// The one sink [`no_events`] hands out on this thread, so the driver can tell it.
    static NO_EVENTS: EventSink = Rc::new(|_, _| {});
}

/// A sink that keeps nothing, for sockets that run without a trace (the benches, a
/// library user's own program). The driver recognises it and then builds no events
/// worth keeping: no summary of each message for the trace, and no clock reading on a
/// core call of a socket type that keeps no timers (`shared.rs`).
pub fn no_events() -> EventSink {
    NO_EVENTS.with(Rc::clone)
}

/// Whether `sink` is the one [`no_events`] returns (any other sink, even one that
/// also drops everything, is treated as keeping what it is given).
pub(super) fn discards(sink: &EventSink) -> bool {
    NO_EVENTS.with(|none| Rc::ptr_eq(none, sink))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_no_events_sink_counts_as_keeping_nothing() {
        assert!(discards(&no_events()));
        let dropping: EventSink = Rc::new(|_, _| {});
        assert!(!discards(&dropping), "a sink of one's own may keep what it is given");
    }
}
