//! How the SP libraries' PUSH, PAIR and DEALER send (NNG's push0, pair0, pair1 and
//! raw req0; nanomsg's xpush, xpair and xreq), where libzmq's queue per pipe.
//!
//! A pipe exists only while its connection is up, and holds one message at a time:
//! the one its transport is writing. What no pipe can take waits on the socket, up to
//! a send buffer (NNG's `NNG_OPT_SENDBUF`, 0 by default; nanomsg has none, so 0), and
//! past that the send blocks. So a PUSH, PAIR or DEALER with no peer connected takes
//! as many messages as its buffer holds (none by default) and then blocks, and a pipe
//! still connecting takes none. A pipe's message is its own until the transport has
//! written all of it (`SocketCore::on_written`, NNG's send completing): only then
//! does the pipe take the oldest waiting message, or, with none waiting, join the
//! back of the list of ready pipes, and a send goes to the pipe ready longest (NNG's
//! push0 `pl` list; nanomsg's `nn_lb`, whose pipe leaves its list while it writes and
//! rejoins at the back). One that connects is ready at once, and one that loses its
//! connection loses the message it held (`PipeClosed`), as NNG frees what a closing
//! pipe held. The conformance row `nng-push-ready-longest` checks the order. The conformance rows `nng-push-hwm`, `nanomsg-push-hwm`,
//! `nng-pair-hwm`, `nanomsg-pair-hwm`, `nng-dealer-hwm` and `nanomsg-dealer-hwm`
//! check this against the real libraries.
//!
//! A message waiting here has no trace event until a pipe takes it (then `Enqueued`),
//! so one still waiting when the socket closes leaves no `Drop` either
//! (docs/library-semantics.md).

use std::collections::{BTreeSet, VecDeque};

use super::pipes::Pipes;
use super::{DropReason, Msg, PipeId, SendError, SocketOptions};

/// The socket's own send queue, for a socket whose options ask for one
/// (`SocketOptions::sp_send_buffer`).
#[derive(Debug)]
pub(super) struct SendBuffer {
    waiting: VecDeque<Msg>,
    capacity: u32,
    /// Connected pipes holding nothing and writing nothing, in the order they became
    /// so; a pipe that is no longer ready is skipped when its turn comes. While a
    /// pipe is ready nothing waits, since it would have taken it.
    ready: VecDeque<PipeId>,
    /// Pipes whose message the transport is writing: each takes nothing more until
    /// its write is done.
    writing: BTreeSet<PipeId>,
}

impl SendBuffer {
    /// The pipes and send buffer a PUSH, PAIR or DEALER with `options` keeps: with
    /// `sp_send_buffer`, pipes of one message each and a buffer of that many;
    /// otherwise per-pipe queues of `sndhwm_msgs` and no buffer.
    pub(super) fn for_options(options: SocketOptions) -> (Pipes, Option<SendBuffer>) {
        match options.sp_send_buffer {
            None => (Pipes::new(&options), None),
            Some(capacity) => {
                let one_per_pipe = SocketOptions { sndhwm_msgs: 1, ..options };
                let buffer = SendBuffer {
                    waiting: VecDeque::new(),
                    capacity,
                    ready: VecDeque::new(),
                    writing: BTreeSet::new(),
                };
                (Pipes::new(&one_per_pipe), Some(buffer))
            }
        }
    }

    /// Sends `msg` on the pipe ready longest if there is one, or keeps it while the
    /// buffer has room; otherwise hands it back.
    pub(super) fn send(&mut self, pipes: &mut Pipes, msg: Msg) -> Result<(), (SendError, Msg)> {
        if let Some(pipe) = self.take_ready(pipes) {
            return pipes.enqueue(pipe, msg).map_err(|msg| (SendError::WouldBlock, msg));
        }
        if self.waiting.len() < self.capacity as usize {
            self.waiting.push_back(msg);
            return Ok(());
        }
        Err((SendError::WouldBlock, msg))
    }

    /// The pipe ready longest, off the list.
    fn take_ready(&mut self, pipes: &Pipes) -> Option<PipeId> {
        while let Some(pipe) = self.ready.pop_front() {
            if self.is_ready(pipes, pipe) {
                return Some(pipe);
            }
        }
        None
    }

    /// Whether `pipe` is connected, holds nothing and writes nothing.
    fn is_ready(&self, pipes: &Pipes, pipe: PipeId) -> bool {
        pipes.is_connected(pipe) && pipes.has_room(pipe) && !self.writing.contains(&pipe)
    }

    /// `pipe` can take a message again: it takes the oldest waiting one, or else joins
    /// the back of the ready list.
    fn pipe_ready(&mut self, pipes: &mut Pipes, pipe: PipeId) {
        if !self.is_ready(pipes, pipe) {
            return;
        }
        match self.waiting.pop_front() {
            Some(msg) => {
                let taken = pipes.enqueue(pipe, msg);
                debug_assert!(taken.is_ok(), "a connected pipe with room takes a message");
            }
            None if !self.ready.contains(&pipe) => self.ready.push_back(pipe),
            None => {}
        }
    }

    /// `pipe`'s connection came up (it is ready at once) or went down (the message it
    /// held is lost with it). `Pipes` has been told already.
    pub(super) fn set_connected(&mut self, pipes: &mut Pipes, pipe: PipeId, connected: bool) {
        if connected {
            self.pipe_ready(pipes, pipe);
            return;
        }
        self.writing.remove(&pipe);
        self.ready.retain(|&p| p != pipe);
        if let Some(msg) = pipes.take_outbound(pipe, |_| true) {
            pipes.drop_msg(Some(pipe), DropReason::PipeClosed, msg);
        }
    }

    /// The message `pipe` holds, handed to the transport: the pipe is writing until
    /// [`SendBuffer::on_written`].
    pub(super) fn poll_transmit(&mut self, pipes: &mut Pipes, pipe: PipeId) -> Option<Msg> {
        let msg = pipes.pop_outbound(pipe)?;
        self.writing.insert(pipe);
        Some(msg)
    }

    /// The transport has written what `pipe` handed it: the pipe is ready again.
    pub(super) fn on_written(&mut self, pipes: &mut Pipes, pipe: PipeId) {
        if self.writing.remove(&pipe) {
            self.pipe_ready(pipes, pipe);
        }
    }

    /// Whether `pipe` may have a message to write: one it holds.
    pub(super) fn may_transmit(&self, pipes: &Pipes, pipe: PipeId) -> bool {
        pipes.has_outbound(pipe)
    }
}
