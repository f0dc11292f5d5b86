//! PUSH: round-robin out over the pipes with room; nothing comes back.
//!
//! A PUSH blocks at the high-water mark: when no attached pipe has room the send fails
//! with `WouldBlock` and nothing is lost (docs/library-semantics.md: PUSH with SNDHWM 10
//! and no peer took 10 messages, then EAGAIN). Pipes still connecting take their turn
//! like the others (`IMMEDIATE=0`, libzmq's `lb_t`): a PUSH connected to a worker that
//! is not up, or is reconnecting after a crash, queues every other message there
//! while a live worker could take it (the conformance row `zmq-push-connecting`).
//!
//! NNG's and nanomsg's PUSH (`sp_send_buffer`) queue on the socket instead, one message
//! per connected pipe, and hand a message to the pipe that has been ready longest
//! (`send_buffer.rs`).

use std::time::Duration;

use super::deal::Deal;
use super::pipes::Pipes;
use super::send_buffer::SendBuffer;
use super::{DropReason, Msg, PipeId, RecvError, SendError, SocketCore, SocketOptions, SocketType};

#[derive(Debug)]
/// A PUSH core: round-robins to its pullers.
pub struct Push {
    pipes: Pipes,
    /// The socket's own send queue, when it queues as NNG's and nanomsg's do.
    buffer: Option<SendBuffer>,
}

impl Push {
    /// A PUSH core with these options. With `sp_send_buffer` each pipe holds one
    /// message, whatever `sndhwm_msgs` says.
    pub fn new(options: SocketOptions) -> Push {
        let (mut pipes, buffer) = SendBuffer::for_options(options);
        if buffer.is_none() {
            pipes.deal_in(Deal::libzmq());
        }
        Push { pipes, buffer }
    }
}

impl SocketCore for Push {
    fn socket_type(&self) -> SocketType {
        SocketType::Push
    }

    buffered_pipes_in_fields!(pipes, buffer);

    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.send_or_return(msg, now).map_err(|(error, _)| error)
    }

    fn send_or_return(&mut self, msg: Msg, _now: Duration) -> Result<(), (SendError, Msg)> {
        if let Some(buffer) = &mut self.buffer {
            return buffer.send(&mut self.pipes, msg);
        }
        let Some(pipe) = self.pipes.next_sendable(false) else {
            return Err((SendError::WouldBlock, msg));
        };
        self.pipes.enqueue(pipe, msg).map_err(|msg| (SendError::WouldBlock, msg))
    }

    fn recv(&mut self, _now: Duration) -> Result<Msg, RecvError> {
        Err(RecvError::State)
    }

    /// A PULL never sends, so anything arriving is a peer breaking the protocol.
    fn on_message(&mut self, pipe: PipeId, msg: Msg, _now: Duration) {
        self.pipes.drop_msg(Some(pipe), DropReason::Malformed, msg);
    }

    fn can_receive(&self, pipe: PipeId) -> bool {
        self.pipes.is_attached(pipe)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SocketEvent;
    use super::super::pipes::testing::{
        dropped, events, ms, msg, opts, sp_options, transmit_all, up, written,
    };
    use super::*;

    fn enqueued_pipes(core: &mut Push) -> Vec<PipeId> {
        events(core)
            .into_iter()
            .filter_map(|e| match e {
                SocketEvent::Enqueued { pipe, .. } => Some(pipe),
                _ => None,
            })
            .collect()
    }

    /// libzmq's `lb_t` takes every attached pipe in turn, one still connecting too.
    #[test]
    fn sends_round_robin_over_every_attached_pipe_connected_or_not() {
        let mut push = Push::new(opts(10, 10));
        up(&mut push, &[1, 2, 3]);
        push.attach(4, ms(0));
        for _ in 0..5 {
            push.send(msg(&[], "m"), ms(0)).unwrap();
        }
        assert_eq!(enqueued_pipes(&mut push), [1, 2, 3, 4, 1]);
    }

    /// libzmq's `ZMQ_IMMEDIATE`: no message for a pipe whose connection is not up,
    /// and a pipe whose connection drops loses what was queued on it.
    #[test]
    fn with_immediate_sends_only_on_connected_pipes_and_a_drop_loses_the_queue() {
        let mut push = Push::new(SocketOptions { immediate: true, ..opts(10, 10) });
        push.attach(1, ms(0));
        assert_eq!(push.send(msg(&[], "none up"), ms(0)), Err(SendError::WouldBlock));
        up(&mut push, &[2]);
        for body in ["a", "b"] {
            push.send(msg(&[], body), ms(1)).unwrap();
        }
        assert_eq!(enqueued_pipes(&mut push), [2, 2]);
        push.set_connected(2, false, ms(2));
        assert_eq!(dropped(&events(&mut push), 2, DropReason::PipeClosed), ["a", "b"]);
        push.set_connected(2, true, ms(3));
        assert_eq!(written(&mut push, 2), Vec::<String>::new());
    }

    #[test]
    fn blocks_at_sndhwm_and_drops_nothing() {
        let mut push = Push::new(opts(2, 10));
        assert_eq!(push.send(msg(&[], "m"), ms(0)), Err(SendError::WouldBlock));
        push.attach(1, ms(0)); // still connecting: it queues anyway
        push.send(msg(&[], "a"), ms(0)).unwrap();
        push.send(msg(&[], "b"), ms(0)).unwrap();
        assert_eq!(push.send(msg(&[], "c"), ms(0)), Err(SendError::WouldBlock));
        assert!(events(&mut push).iter().all(|e| !matches!(e, SocketEvent::Dropped { .. })));
        push.set_connected(1, true, ms(1));
        assert_eq!(transmit_all(&mut push, 1), [(vec![], "a".into()), (vec![], "b".into())]);
        assert_eq!(push.send(msg(&[], "c"), ms(1)), Ok(()));
    }

    /// The very message comes back, not a copy: its header is still in the `Vec` it
    /// was sent in (a copy's would be in a new allocation).
    #[test]
    fn a_refused_send_hands_the_message_itself_back() {
        let mut push = Push::new(opts(1, 10));
        let alone = msg(&[7], "no pipe");
        let header_at = alone.header.as_ptr();
        let (_, back) = push.send_or_return(alone, ms(0)).unwrap_err();
        assert_eq!((back.header.as_ptr(), &back), (header_at, &msg(&[7], "no pipe")));
        up(&mut push, &[1]);
        assert_eq!(push.send_or_return(msg(&[], "a"), ms(0)), Ok(()));
        let full = msg(&[8], "full");
        let header_at = full.header.as_ptr();
        let (error, back) = push.send_or_return(full, ms(0)).unwrap_err();
        assert_eq!((error, back.header.as_ptr()), (SendError::WouldBlock, header_at));
        assert_eq!(back, msg(&[8], "full"));
        assert_eq!(transmit_all(&mut push, 1), [(vec![], "a".into())]);
    }

    fn nng(send_buffer: u32) -> Push {
        Push::new(sp_options(send_buffer))
    }

    #[test]
    fn nngs_push_queues_on_the_socket_and_never_on_a_pipe_still_connecting() {
        // Unbuffered (NNG's default), with no pipe up: nothing is taken.
        let mut push = nng(0);
        push.attach(1, ms(0));
        assert_eq!(push.send(msg(&[], "m"), ms(0)), Err(SendError::WouldBlock));
        // A send buffer of 2: two wait on the socket, the third blocks.
        let mut push = nng(2);
        push.attach(1, ms(0));
        push.send(msg(&[], "a"), ms(0)).unwrap();
        push.send(msg(&[], "b"), ms(0)).unwrap();
        assert_eq!(push.send(msg(&[], "c"), ms(0)), Err(SendError::WouldBlock));
        assert!(events(&mut push).is_empty(), "nothing was queued on the connecting pipe");
        // The pipe connects and takes the oldest at once; writing it lets it take the next.
        push.set_connected(1, true, ms(1));
        assert_eq!(enqueued_pipes(&mut push), [1]);
        assert!(push.may_transmit(1));
        assert_eq!(written(&mut push, 1), ["a", "b"]);
        assert!(!push.may_transmit(1));
    }

    /// Found by the HWM property once it drew SP send buffers: a pipe that had just
    /// written its message stood empty while one waited on the socket, and the next
    /// send went straight onto it, ahead of the waiting one.
    #[test]
    fn a_message_sent_after_a_write_goes_out_behind_the_one_waiting_on_the_socket() {
        let mut push = nng(1);
        up(&mut push, &[1]);
        push.send(msg(&[], "first"), ms(0)).unwrap();
        push.send(msg(&[], "waits"), ms(0)).unwrap();
        let first = push.poll_transmit(1, ms(1)).expect("the pipe's message");
        assert_eq!(first.body, "first");
        // Its write not done, the pipe takes nothing: the buffer is full, so the send
        // blocks, as NNG's does until the pipe's send completes.
        assert_eq!(push.send(msg(&[], "third"), ms(2)), Err(SendError::WouldBlock));
        push.on_written(1, ms(3));
        push.send(msg(&[], "third"), ms(4)).unwrap();
        assert_eq!(written(&mut push, 1), ["waits", "third"]);
    }

    /// NNG's push0 hands a message to the pipe on its ready list longest (`pl`): a pipe
    /// joins the back when its write completes. Pipes 1, 2, 3 each take a message;
    /// their writes complete 3 first, then 2, then 1; the next three sends go to 3, 2,
    /// 1, where round-robin would have gone on from 3 to 1, 2, 3.
    #[test]
    fn nngs_push_sends_to_the_pipe_ready_longest() {
        let mut push = nng(0);
        up(&mut push, &[1, 2, 3]);
        for body in ["a", "b", "c"] {
            push.send(msg(&[], body), ms(0)).unwrap();
        }
        assert_eq!(enqueued_pipes(&mut push), [1, 2, 3], "ready in the order they connected");
        for pipe in [1, 2, 3] {
            assert!(push.poll_transmit(pipe, ms(1)).is_some());
        }
        // Every pipe is writing: an unbuffered send blocks.
        assert_eq!(push.send(msg(&[], "x"), ms(1)), Err(SendError::WouldBlock));
        for pipe in [3, 2, 1] {
            push.on_written(pipe, ms(2));
        }
        for body in ["x1", "x2", "x3"] {
            push.send(msg(&[], body), ms(3)).unwrap();
        }
        assert_eq!(enqueued_pipes(&mut push), [3, 2, 1]);
        // libzmq's PUSH round-robins whatever the writes do.
        let mut zmq = Push::new(opts(1, 10));
        up(&mut zmq, &[1, 2, 3]);
        for body in ["a", "b", "c", "x1"] {
            zmq.send(msg(&[], body), ms(0)).unwrap();
            for pipe in [3, 2, 1] {
                transmit_all(&mut zmq, pipe);
            }
        }
        assert_eq!(enqueued_pipes(&mut zmq), [1, 2, 3, 1]);
    }

    /// A pipe that disconnects while writing is not ready when it is back: it is ready
    /// as a new connection, at the back of the list.
    #[test]
    fn a_pipe_that_reconnects_joins_the_back_of_the_ready_list() {
        let mut push = nng(0);
        up(&mut push, &[1, 2]);
        push.send(msg(&[], "a"), ms(0)).unwrap();
        assert!(push.poll_transmit(1, ms(1)).is_some());
        push.set_connected(1, false, ms(2));
        push.on_written(1, ms(2)); // a late completion changes nothing
        push.set_connected(1, true, ms(3));
        for body in ["b", "c"] {
            push.send(msg(&[], body), ms(4)).unwrap();
        }
        assert_eq!(enqueued_pipes(&mut push), [1, 2, 1]);
    }

    #[test]
    fn nngs_push_gives_each_connected_pipe_one_message_and_loses_it_with_the_pipe() {
        let mut push = nng(1);
        up(&mut push, &[1, 2]);
        for body in ["a", "b", "c"] {
            push.send(msg(&[], body), ms(0)).unwrap();
        }
        assert_eq!(push.send(msg(&[], "d"), ms(0)), Err(SendError::WouldBlock));
        assert_eq!(enqueued_pipes(&mut push), [1, 2], "one each; `c` waits on the socket");
        push.set_connected(2, false, ms(1));
        assert_eq!(dropped(&events(&mut push), 2, DropReason::PipeClosed), ["b"]);
        assert_eq!(written(&mut push, 1), ["a", "c"]);
        // A libzmq PUSH would have kept `b` on the pipe for its reconnection.
        let mut zmq = Push::new(opts(1, 10));
        up(&mut zmq, &[1]);
        zmq.send(msg(&[], "b"), ms(0)).unwrap();
        zmq.set_connected(1, false, ms(1));
        zmq.set_connected(1, true, ms(2));
        assert_eq!(written(&mut zmq, 1), ["b"]);
    }

    #[test]
    fn cannot_receive() {
        let mut push = Push::new(opts(10, 10));
        assert_eq!(push.recv(ms(0)), Err(RecvError::State));
    }
}
