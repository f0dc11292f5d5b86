//! The handshake deadline: every connection, on every socket type, must finish its
//! handshake within the socket's `handshake_ivl` or be closed.
//!
//! Without it a peer that connects and sends nothing, or 7 of SP's 8 handshake bytes,
//! holds a descriptor and a task for ever; a thousand of them lock every new peer out
//! under the common limit of 1,024 descriptors (issue 17). The real libraries bound the
//! wait: NNG 1.11 closes an unfinished SP negotiation after 10 s (measured), libzmq's
//! `ZMQ_HANDSHAKE_IVL` defaults to 30 s (docs/limits.md).
//!
//! The deadline wraps any handshake future, so the ZMTP greeting (`wire/zmtp.rs`) runs
//! under the same rule by handing its own handshake to [`within_deadline`].

use std::fmt;
use std::future::Future;
use std::time::Duration;

/// A handshake that did not finish in time; the connection is closed for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HandshakeTimedOut {
    pub ivl: Duration,
}

impl fmt::Display for HandshakeTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handshake not finished within {:?} (handshake_ivl): closed", self.ivl)
    }
}

/// Runs the handshake that `handshake` makes and gives up on it `ivl` after the
/// first poll; the caller closes the connection (by dropping it) and records why.
/// Time is tokio's, so under turmoil the deadline falls at an exact simulated instant.
///
/// The handshake is made at the first poll, from a closure holding only its
/// arguments: a handshake future handed in by value would be held twice, as passed
/// and inside the timeout, by every connection in its handshake (a comet run's
/// connections all shake hands at once at its start; issue 16).
#[allow(clippy::manual_async_fn, reason = "an async fn would hold its by-value arguments twice")]
pub(super) fn within_deadline<T, E, F>(
    ivl: Duration,
    handshake: impl FnOnce() -> F,
) -> impl Future<Output = Result<T, E>>
where
    F: Future<Output = Result<T, E>>,
    E: From<HandshakeTimedOut>,
{
    async move {
        match super::timer::timeout(ivl, handshake()).await {
            Ok(shaken) => shaken,
            Err(_) => Err(E::from(HandshakeTimedOut { ivl })),
        }
    }
}
