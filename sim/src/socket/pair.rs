//! PAIR: one peer, both ways; a send blocks at SNDHWM.
//!
//! A pipe attached while another is in use is never read (`can_receive` is false) nor
//! written. The SP libraries close its connection (NNG's pair0 and pair1 discard
//! every other connection while a peer is connected; nanomsg's exclusive pipe too),
//! so the dialler redials until the peer's pipe has gone and is then taken: an SP
//! PAIR does not take it (`SocketCore::takes`) and the driver closes it. libzmq
//! terminates the pipe but keeps the connection (measured with pyzmq: the second
//! dialler saw no disconnect and, once the first peer had gone, got nothing): a ZMTP
//! PAIR keeps it idle, and once the peer's pipe is detached only a pipe attached
//! later becomes the peer. The resolver's PAIR-peers check rejects topologies that
//! would attach two, so this only matters for a peer redialling before its old pipe
//! is gone.
//!
//! NNG's and nanomsg's PAIR (`sp_send_buffer`) queue on the socket, not on the pipe:
//! the peer's pipe holds one message while connected, and a PAIR with no peer up
//! takes only what its send buffer holds (none by default) before a send blocks
//! (`send_buffer.rs`; NNG's pair0 and pair1, nanomsg's xpair).

use std::time::Duration;

use super::pipes::Pipes;
use super::send_buffer::SendBuffer;
use super::{Msg, PipeId, SendError, SocketCore, SocketEvent, SocketOptions, SocketType};

#[derive(Debug)]
/// A PAIR core: one peer, both ways.
pub struct Pair {
    pipes: Pipes,
    /// The one pipe in use, if any.
    peer: Option<PipeId>,
    /// The socket's own send queue, when it queues as NNG's and nanomsg's do.
    buffer: Option<SendBuffer>,
    /// Whether a pipe attached beside the peer's is refused (SP) or kept idle (ZMTP).
    refuses_others: bool,
}

impl Pair {
    /// A PAIR core with these options.
    pub fn new(options: SocketOptions) -> Pair {
        let refuses_others = !options.zmtp;
        let (pipes, buffer) = SendBuffer::for_options(options);
        Pair { pipes, peer: None, buffer, refuses_others }
    }

    fn is_peer(&self, pipe: PipeId) -> bool {
        self.peer == Some(pipe)
    }
}

impl SocketCore for Pair {
    fn socket_type(&self) -> SocketType {
        SocketType::Pair
    }

    fn pipes(&self) -> &Pipes {
        &self.pipes
    }

    fn pipes_mut(&mut self) -> &mut Pipes {
        &mut self.pipes
    }

    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        if self.peer.is_none() {
            self.peer = Some(pipe);
            self.pipes.attach(pipe);
        }
    }

    fn takes(&self, pipe: PipeId) -> bool {
        self.is_peer(pipe) || !self.refuses_others
    }

    fn set_connected(&mut self, pipe: PipeId, connected: bool, _now: Duration) {
        if !self.is_peer(pipe) {
            return;
        }
        self.pipes.set_connected(pipe, connected);
        if let Some(buffer) = &mut self.buffer {
            buffer.set_connected(&mut self.pipes, pipe, connected);
        }
    }

    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        if self.is_peer(pipe) {
            self.peer = None;
            self.pipes.detach(pipe);
        }
    }

    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.send_or_return(msg, now).map_err(|(error, _)| error)
    }

    fn send_or_return(&mut self, msg: Msg, _now: Duration) -> Result<(), (SendError, Msg)> {
        if let Some(buffer) = &mut self.buffer {
            return buffer.send(&mut self.pipes, msg);
        }
        let pipes = &self.pipes;
        let peer = self.peer.filter(|&p| !pipes.is_immediate() || pipes.is_connected(p));
        let Some(pipe) = peer else { return Err((SendError::WouldBlock, msg)) };
        self.pipes.enqueue(pipe, msg).map_err(|msg| (SendError::WouldBlock, msg))
    }

    fn poll_transmit(&mut self, pipe: PipeId, _now: Duration) -> Option<Msg> {
        match &mut self.buffer {
            Some(buffer) if self.peer == Some(pipe) => buffer.poll_transmit(&mut self.pipes, pipe),
            _ => self.pipes.pop_outbound(pipe),
        }
    }

    fn may_transmit(&self, pipe: PipeId) -> bool {
        match &self.buffer {
            Some(buffer) if self.peer == Some(pipe) => buffer.may_transmit(&self.pipes, pipe),
            _ => self.pipes.has_outbound(pipe),
        }
    }

    fn on_written(&mut self, pipe: PipeId, _now: Duration) {
        match &mut self.buffer {
            Some(buffer) if self.peer == Some(pipe) => buffer.on_written(&mut self.pipes, pipe),
            _ => {}
        }
    }

    fn tracks_writes(&self) -> bool {
        self.buffer.is_some()
    }

    /// A message from an ignored pipe breaks the driver's contract (it was told not
    /// to read); `Pipes` reports it dropped as `PipeClosed`, since it never knew it.
    fn poll_event(&mut self) -> Option<SocketEvent> {
        self.pipes.pop_event()
    }
}

#[cfg(test)]
mod tests {
    use super::super::DropReason;
    use super::super::SocketEvent;
    use super::super::pipes::testing::{
        dropped, events, ms, msg, opts, sp_options, transmit_all, up, written,
    };
    use super::*;

    #[test]
    fn talks_to_its_first_pipe_only_and_ignores_a_second() {
        let mut pair = Pair::new(opts(10, 10));
        up(&mut pair, &[1, 2]);
        pair.send(msg(&[], "out"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut pair, 1), [(vec![], "out".into())]);
        assert_eq!(transmit_all(&mut pair, 2), []);
        assert!(pair.can_receive(1) && !pair.can_receive(2));
        assert!(pair.takes(1) && !pair.takes(2), "an SP PAIR refuses the second");
        pair.on_message(1, msg(&[], "in"), ms(0));
        assert_eq!(pair.recv(ms(0)), Ok(msg(&[], "in")));
        // Once the peer goes, a pipe attached later takes its place; 2 stays ignored.
        pair.detach(1, ms(1));
        assert_eq!(pair.send(msg(&[], "x"), ms(1)), Err(SendError::WouldBlock));
        up(&mut pair, &[3]);
        pair.send(msg(&[], "x"), ms(1)).unwrap();
        assert_eq!(transmit_all(&mut pair, 3), [(vec![], "x".into())]);
        assert!(!pair.can_receive(2));
        assert!(pair.takes(3));
        // libzmq's keeps the second connection, idle.
        let mut zmtp = Pair::new(SocketOptions { zmtp: true, ..opts(10, 10) });
        up(&mut zmtp, &[1, 2]);
        assert!(zmtp.takes(2) && !zmtp.can_receive(2));
    }

    #[test]
    fn blocks_at_sndhwm() {
        let mut pair = Pair::new(opts(1, 10));
        up(&mut pair, &[1]);
        pair.send(msg(&[], "a"), ms(0)).unwrap();
        assert_eq!(pair.send(msg(&[], "b"), ms(0)), Err(SendError::WouldBlock));
        let depths: Vec<_> = events(&mut pair)
            .into_iter()
            .map(|e| match e {
                SocketEvent::Enqueued { depth, .. } => depth,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(depths, [1]);
    }

    fn sp(send_buffer: u32) -> Pair {
        Pair::new(sp_options(send_buffer))
    }

    #[test]
    fn an_sp_pair_takes_nothing_before_its_peer_is_up_unless_buffered() {
        // Unbuffered (NNG's default, and nanomsg's only way): a peer still connecting
        // takes nothing, and a connected one one message at a time.
        let mut pair = sp(0);
        pair.attach(1, ms(0));
        assert_eq!(pair.send(msg(&[], "m"), ms(0)), Err(SendError::WouldBlock));
        pair.set_connected(1, true, ms(1));
        pair.send(msg(&[], "a"), ms(1)).unwrap();
        assert_eq!(pair.send(msg(&[], "b"), ms(1)), Err(SendError::WouldBlock));
        assert_eq!(written(&mut pair, 1), ["a"]);
        pair.send(msg(&[], "b"), ms(2)).unwrap();
        // A send buffer of 2: two wait on the socket, the third blocks; the peer
        // takes them in order once it connects.
        let mut pair = sp(2);
        pair.attach(1, ms(0));
        pair.send(msg(&[], "a"), ms(0)).unwrap();
        pair.send(msg(&[], "b"), ms(0)).unwrap();
        assert_eq!(pair.send(msg(&[], "c"), ms(0)), Err(SendError::WouldBlock));
        assert!(!pair.may_transmit(1), "a pipe still connecting holds nothing");
        pair.set_connected(1, true, ms(1));
        assert!(pair.may_transmit(1));
        assert_eq!(written(&mut pair, 1), ["a", "b"]);
        assert!(!pair.may_transmit(1));
    }

    #[test]
    fn an_sp_pair_loses_its_pipes_message_and_keeps_the_waiting_ones_for_the_next_peer() {
        let mut pair = sp(1);
        up(&mut pair, &[1]);
        pair.send(msg(&[], "a"), ms(0)).unwrap();
        pair.send(msg(&[], "b"), ms(0)).unwrap();
        assert_eq!(pair.send(msg(&[], "c"), ms(0)), Err(SendError::WouldBlock));
        pair.set_connected(1, false, ms(1));
        assert_eq!(dropped(&events(&mut pair), 1, DropReason::PipeClosed), ["a"]);
        pair.detach(1, ms(1));
        up(&mut pair, &[2]);
        assert_eq!(written(&mut pair, 2), ["b"]);
    }
}
