//! The handshake deadline: every connection, on every socket type, must finish its
//! handshake within the socket's `handshake_ivl` or be closed.
//!
//! Without it a peer that connects and sends nothing, or 7 of SP's 8 handshake bytes,
//! holds a descriptor and a task for ever; a thousand of them lock every new peer out
//! under the common limit of 1,024 descriptors (issue 17). The real libraries bound the
//! wait: NNG 1.11 closes an unfinished SP negotiation after 10 s (measured), libzmq's
//! `ZMQ_HANDSHAKE_IVL` defaults to 30 s (docs/limits.md).
//!
//! The deadline wraps any handshake future, so the ZMTP greeting (`net/zmtp.rs`) runs
//! under the same rule as SP's (see [`within_deadline`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::shared::Shared;
use super::timer::Timeout;
use super::wake::{Notifier, Waiter};
use crate::socket::PipeId;

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

pin_project_lite::pin_project! {
    /// A connection's handshake under the socket's deadline, given up when the socket
    /// closes first (unless it is the connection of a pipe that still holds messages
    /// to send while the socket lingers, `Shared::linger_on`): ready with `None`
    /// then, with the handshake's result otherwise, or
    /// with [`HandshakeTimedOut`] once `handshake_ivl` has passed since it was made.
    /// Time is tokio's, so under turmoil the deadline falls at an exact simulated
    /// instant.
    ///
    /// What a biased `select!` of the socket's shutdown against an `async` timeout of
    /// the handshake did, poll for poll: the task's budget checked first, then the
    /// shutdown, then the handshake; when the task is dropped, the shutdown's wait
    /// given up before the handshake is dropped. (When the handshake finishes, the
    /// `async` block dropped its timer before the `select!` gave up the wait; the two
    /// touch different state, so the order there is free.) Written by hand because
    /// every connection of a comet run shakes hands at once at its start, and the
    /// `select!`, the shutdown's future and the `async` block each kept their own
    /// copies of the socket, the stream and the interval: 136 bytes of each end's
    /// task at the run's peak (issue 16).
    ///
    /// `dialling` is the pipe a connect loop dials for, whose handshake may go on past
    /// the close; `shutdown` the wait for the socket's shutdown (see
    /// `Notifier::poll_until`); `handshake` the handshake and its deadline, until
    /// either ends.
    #[must_use = "a future does nothing unless polled"]
    pub(super) struct Handshaking<'a, F: Future> {
        shared: &'a Shared,
        dialling: Option<PipeId>,
        shutdown: Option<Waiter>,
        #[pin]
        handshake: Option<Timeout<F>>,
    }

    impl<F: Future> PinnedDrop for Handshaking<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.shared.shutdown_wake().cancel_wait(this.shutdown);
        }
    }
}

/// Runs `handshake` for at most the socket's `handshake_ivl` from now, unless the
/// socket closes first (and `dialling`, the pipe of a connect loop, has nothing left
/// to send); the caller closes the connection (by dropping it) and records why. Made
/// in the poll that first polls it, as the `async` block it replaces made its timer
/// at its first poll.
pub(super) fn within_deadline<T, E, F>(
    shared: &Shared,
    dialling: Option<PipeId>,
    handshake: F,
) -> Handshaking<'_, F>
where
    F: Future<Output = Result<T, E>>,
    E: From<HandshakeTimedOut>,
{
    // No deadline (libzmq's `ZMQ_HANDSHAKE_IVL` 0) is one past the end of time.
    let ivl = shared.options.handshake_ivl.unwrap_or(Duration::MAX);
    let handshake = Some(super::timer::timeout(ivl, handshake));
    Handshaking { shared, dialling, shutdown: None, handshake }
}

impl<T, E, F> Future for Handshaking<'_, F>
where
    F: Future<Output = Result<T, E>>,
    E: From<HandshakeTimedOut>,
{
    type Output = Option<Result<T, E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        ready!(super::zmtp::select_budget(cx));
        let mut this = self.project();
        let shared = *this.shared;
        let closing =
            shared.shutdown_wake().poll_until(this.shutdown, cx, || shared.is_shutting_down());
        let lingering = this.dialling.is_some_and(|pipe| !shared.nothing_to_linger_for(pipe));
        let shaken = if closing.is_ready() && !lingering {
            None
        } else {
            let Some(handshake) = this.handshake.as_mut().as_pin_mut() else {
                unreachable!("a finished handshake is not polled again")
            };
            let shaken = ready!(handshake.poll(cx));
            shared.shutdown_wake().cancel_wait(this.shutdown);
            let ivl = shared.options.handshake_ivl.unwrap_or(Duration::MAX);
            Some(shaken.unwrap_or_else(|_| Err(E::from(HandshakeTimedOut { ivl }))))
        };
        this.handshake.set(None);
        Poll::Ready(shaken)
    }
}
