//! The application's end of a driven socket: send, receive, close.
//!
//! A handle lives on the thread (and `LocalSet`) its socket was spawned on. The async
//! calls wait out the core's `WouldBlock` and return every other error at once, as a
//! blocking `zmq_send`/`nng_recvmsg` would. Dropping the handle closes the socket
//! without waiting; `close` also waits for the linger to play out.
//!
//! A waiting call registers for its wake-up only after the failed attempt: the
//! attempt itself wakes application waiters (every core call does, but a writer's
//! taking of queued messages, which wakes them only while a send waits: it cannot
//! have made a receive possible), so registering first would wake the caller at once
//! and spin. Nothing else runs on this thread in between, so no wake-up can be missed.
//!
//! A handle can be made to stand for a fresh socket ([`SocketHandle::replace`]), so a
//! design can close and reopen a socket, as the Lazy Pirate client does, while every
//! `&SocketHandle` it holds stays valid.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::shared::Shared;
use crate::socket::{Msg, RecvError, SendError, SocketCore, SocketType};

pub struct SocketHandle {
    /// The socket this handle stands for; [`SocketHandle::replace`] swaps it.
    shared: RefCell<Rc<Shared>>,
    /// The addresses actually bound, in the order given (port 0 resolved).
    local_addrs: Vec<SocketAddr>,
    /// The last send woke writers that must run before the next send is offered
    /// (`SocketOptions::send_writes_at_once`).
    writers_due: Cell<bool>,
}

impl fmt::Debug for SocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketHandle")
            .field("socket_type", &self.shared().socket_type)
            .field("local_addrs", &self.local_addrs)
            .finish_non_exhaustive()
    }
}

/// Ends a socket as its process ends, whichever socket a handle stood for when this
/// was taken ([`SocketHandle::aborter`]): a reopened socket's old one included, which
/// may still be lingering. Nothing lingers after it: a process that is killed or
/// crashes sends nothing more. Holds no socket alive.
#[derive(Clone, Debug)]
pub struct Aborter(Weak<Shared>);

impl Aborter {
    /// Shuts the socket down with no linger, if it still runs.
    pub fn abort(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.abort();
        }
    }

    /// Whether the socket still runs (its handle, or a lingering task, holds it).
    pub fn runs(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl SocketHandle {
    /// What ends the socket this handle stands for now when its process ends.
    pub fn aborter(&self) -> Aborter {
        Aborter(Rc::downgrade(&self.shared.borrow()))
    }

    pub(super) fn new(shared: Rc<Shared>, local_addrs: Vec<SocketAddr>) -> SocketHandle {
        SocketHandle { shared: RefCell::new(shared), local_addrs, writers_due: Cell::new(false) }
    }

    /// The current socket. A clone, so no borrow is held across an await.
    fn shared(&self) -> Rc<Shared> {
        Rc::clone(&self.shared.borrow())
    }

    pub fn socket_type(&self) -> SocketType {
        self.shared().socket_type
    }

    /// Closes the socket this handle stands for, without waiting for its linger, and
    /// makes the handle stand for `fresh` from now on. Only for sockets that bind
    /// nothing: the handle keeps its bound addresses.
    ///
    /// # Panics
    /// If either socket binds an address (a bug in the caller).
    pub fn replace(&self, fresh: SocketHandle) {
        assert!(
            self.local_addrs.is_empty() && fresh.local_addrs.is_empty(),
            "only a socket that binds nothing can be replaced"
        );
        self.shared.swap(&fresh.shared);
        // `fresh` now holds the old socket: dropping it begins that socket's shutdown.
        drop(fresh);
    }

    /// The bound addresses, one per bind in the order given. Under turmoil the IP is
    /// the unspecified address; peers use the host's address with this port.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Bytes read from the wire and not yet handed to the core, over all connections:
    /// what peers' partial messages cost this socket in memory right now.
    pub fn rx_buffered_bytes(&self) -> usize {
        self.shared().rx_buffered().0
    }

    /// The most [`Self::rx_buffered_bytes`] has been since the socket started.
    pub fn rx_buffered_bytes_peak(&self) -> usize {
        self.shared().rx_buffered().1
    }

    /// Sends `msg`, waiting while the core says `WouldBlock`.
    pub async fn send(&self, msg: Msg) -> Result<(), SendError> {
        self.send_from(msg, None).await
    }

    /// [`Self::send`] whose first attempt is given `now`, the time since the run's
    /// epoch that the caller read in this same poll: a design's `Socket::send` reads
    /// it for its trace event, and reading the clock again would give the same value.
    pub(crate) async fn send_at(&self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.send_from(msg, Some(now)).await
    }

    async fn send_from(&self, mut msg: Msg, mut now: Option<Duration>) -> Result<(), SendError> {
        if self.writers_due.replace(false) {
            // The writers the last send woke run first, as nanomsg's send wrote into
            // the kernel before it returned: a burst finds each pipe free while the
            // kernel has room. Waiting here, not after that send, keeps a send that
            // is dropped unanswered from having sent anything. The caller's clock
            // reading may be a step old once this returns.
            tokio::task::yield_now().await;
            now = None;
        }
        loop {
            // A refused message comes back for the next attempt: PUSH, DEALER, REQ,
            // REP and ROUTER copy nothing for it, other cores copy it once per attempt.
            match self.offer(now.take(), |core, now| core.send_or_return(msg, now)) {
                Ok(()) => {
                    // A borrow, not `shared()`: no reference count on every send.
                    self.writers_due.set(self.shared.borrow().options.send_writes_at_once);
                    return Ok(());
                }
                Err((SendError::WouldBlock, refused)) => {
                    msg = refused;
                    self.shared().app_woken_to_send().await;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// Receives the next message, waiting while the core says `WouldBlock`.
    pub async fn recv(&self) -> Result<Msg, RecvError> {
        // Not `recv_timed` without its time: the message then went through a tuple and
        // two results on its way out, and each copy of it cost more than the receive's
        // own work on a short message.
        loop {
            match self.try_recv() {
                Err(RecvError::WouldBlock) => {}
                received => return received,
            }
            self.shared().app_woken().await;
        }
    }

    /// [`Self::recv`], with the time the core was given for the call that returned
    /// the message when that was a clock reading (`Shared::clock_reading`): in the
    /// poll that returns, it is what reading the clock would give.
    pub(crate) async fn recv_timed(&self) -> Result<(Msg, Option<Duration>), RecvError> {
        loop {
            // The wait is outside the `match`: awaited in its arm, it kept the
            // matched result (a message's room) beside it in every waiting receive.
            match self.try_recv() {
                Err(RecvError::WouldBlock) => {}
                Ok(msg) => return Ok((msg, self.shared().clock_reading())),
                Err(error) => return Err(error),
            }
            self.shared().app_woken().await;
        }
    }

    /// Sends `msg` if the core takes it now.
    ///
    /// # Panics
    /// If a task of this socket panicked earlier (a patchbay bug), with its message.
    pub(crate) fn try_send(&self, msg: Msg) -> Result<(), SendError> {
        self.offer(None, |core, now| core.send(msg, now))
    }

    /// Hands the core a message by `send`, as both sends above do, at `now` if the
    /// caller read the clock in this poll.
    fn offer<T>(
        &self,
        now: Option<Duration>,
        send: impl FnOnce(&mut dyn SocketCore, Duration) -> T,
    ) -> T {
        let shared = self.shared();
        shared.raise_if_panicked();
        let sent = match now {
            Some(now) => shared.with_core_at(now, send),
            None => shared.with_core(send),
        };
        // A send can empty inbound queues too: a REQ's new request drops stale replies.
        shared.room_freed();
        sent
    }

    /// Receives a message if one is ready now.
    ///
    /// # Panics
    /// If a task of this socket panicked earlier (a patchbay bug), with its message.
    pub fn try_recv(&self) -> Result<Msg, RecvError> {
        let shared = self.shared();
        shared.raise_if_panicked();
        let received = shared.with_core(|core, now| core.recv(now));
        if received.is_ok() {
            shared.room_freed();
        }
        received
    }

    /// Closes the socket and waits until every connection has flushed what was queued
    /// for it, or the linger ran out. Pipes without a connection at that moment drop
    /// their queues at once whatever the linger: libzmq with `LINGER -1` would keep
    /// reconnecting and hang `zmq_ctx_term` for a peer that never comes back.
    pub async fn close(self) {
        let shared = self.shared();
        drop(self);
        shared.all_tasks_done().await;
    }
}

impl Drop for SocketHandle {
    fn drop(&mut self) {
        self.shared.borrow().begin_shutdown();
    }
}
