//! How the SP libraries' PUSH, PAIR and DEALER send (NNG's push0, pair0, pair1 and
//! raw req0; nanomsg's xpush, xpair and xreq), where libzmq's queue per pipe.
//!
//! A pipe exists only while its connection is up, and holds one message at a time:
//! the one its transport is writing. What no pipe can take waits on the socket, up to
//! a send buffer (NNG's `NNG_OPT_SENDBUF`, 0 by default; nanomsg has none, so 0), and
//! past that the send blocks. So a PUSH, PAIR or DEALER with no peer connected takes
//! as many messages as its buffer holds (none by default) and then blocks, and a pipe
//! still connecting takes none. A pipe that has written its message takes the oldest
//! waiting one, one that connects takes one at once, and one that loses its
//! connection loses the message it held (`PipeClosed`), as NNG frees what a closing
//! pipe held. The conformance rows `nng-push-hwm`, `nanomsg-push-hwm`,
//! `nng-pair-hwm`, `nanomsg-pair-hwm`, `nng-dealer-hwm` and `nanomsg-dealer-hwm`
//! check this against the real libraries.
//!
//! A message waiting here has no trace event until a pipe takes it (then `Enqueued`),
//! so one still waiting when the socket closes leaves no `Drop` either
//! (docs/library-semantics.md).

use std::collections::VecDeque;

use super::pipes::Pipes;
use super::{DropReason, Msg, PipeId, SendError, SocketOptions};

/// The socket's own send queue, for a socket whose options ask for one
/// (`SocketOptions::sp_send_buffer`).
#[derive(Debug)]
pub(super) struct SendBuffer {
    waiting: VecDeque<Msg>,
    capacity: u32,
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
                let buffer = SendBuffer { waiting: VecDeque::new(), capacity };
                (Pipes::new(&one_per_pipe), Some(buffer))
            }
        }
    }

    /// Sends `msg` on `ready` (a connected pipe with room) if there is one, or keeps
    /// it while the buffer has room; otherwise hands it back.
    pub(super) fn send(
        &mut self,
        pipes: &mut Pipes,
        ready: Option<PipeId>,
        msg: Msg,
    ) -> Result<(), (SendError, Msg)> {
        // No message waits while a pipe is ready, so the new one goes straight out.
        if let Some(pipe) = ready {
            return pipes.enqueue(pipe, msg).map_err(|msg| (SendError::WouldBlock, msg));
        }
        if self.waiting.len() < self.capacity as usize {
            self.waiting.push_back(msg);
            return Ok(());
        }
        Err((SendError::WouldBlock, msg))
    }

    /// `pipe`, if connected and holding nothing, takes the oldest waiting message.
    pub(super) fn refill(&mut self, pipes: &mut Pipes, pipe: PipeId) {
        if !(pipes.is_connected(pipe) && pipes.has_room(pipe)) {
            return;
        }
        if let Some(msg) = self.waiting.pop_front() {
            let taken = pipes.enqueue(pipe, msg);
            debug_assert!(taken.is_ok(), "a connected pipe with room takes a message");
        }
    }

    /// `pipe`'s connection came up (it takes a waiting message at once) or went down
    /// (the message it held is lost with it). `Pipes` has been told already.
    pub(super) fn set_connected(&mut self, pipes: &mut Pipes, pipe: PipeId, connected: bool) {
        if connected {
            self.refill(pipes, pipe);
        } else if let Some(msg) = pipes.take_outbound(pipe, |_| true) {
            pipes.drop_msg(Some(pipe), DropReason::PipeClosed, msg);
        }
    }

    /// The next message to write on `pipe`: the one it holds, or else the oldest
    /// waiting one, which it takes.
    pub(super) fn poll_transmit(&mut self, pipes: &mut Pipes, pipe: PipeId) -> Option<Msg> {
        let msg = pipes.pop_outbound(pipe).or_else(|| {
            self.refill(pipes, pipe);
            pipes.pop_outbound(pipe)
        })?;
        // Its message handed to the transport, the pipe takes the oldest waiting one
        // at once, as NNG's pipe does when its write completes: nothing waits while a
        // pipe could take it, so a send never finds this pipe empty and overtakes it.
        self.refill(pipes, pipe);
        Some(msg)
    }

    /// Whether `pipe` may have a message to write: its own, or a waiting one it would
    /// take.
    pub(super) fn may_transmit(&self, pipes: &Pipes, pipe: PipeId) -> bool {
        pipes.has_outbound(pipe) || (!self.waiting.is_empty() && pipes.is_connected(pipe))
    }
}
