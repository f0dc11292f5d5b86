//! PAIR: one peer, both ways; a send blocks at SNDHWM.
//!
//! libzmq refuses a second connection to a PAIR socket. The `SocketCore` trait has no
//! way to refuse an `attach`, so a pipe attached while another is in use is simply
//! never read (`can_receive` is false) nor written, and the driver keeps it idle until
//! it goes; no event is emitted for it. The resolver's PAIR-peers check rejects
//! topologies that would attach two, so this only matters for a peer reconnecting
//! before its old pipe is gone. Once the peer's pipe is detached, the next pipe
//! attached becomes the peer; a pipe ignored earlier stays ignored.

use std::time::Duration;

use super::pipes::Pipes;
use super::{Msg, PipeId, SendError, SocketCore, SocketEvent, SocketOptions, SocketType};

#[derive(Debug)]
/// A PAIR core: one peer, both ways.
pub struct Pair {
    pipes: Pipes,
    /// The one pipe in use, if any.
    peer: Option<PipeId>,
}

impl Pair {
    /// A PAIR core with these options.
    pub fn new(options: SocketOptions) -> Pair {
        Pair { pipes: Pipes::new(&options), peer: None }
    }

    fn is_peer(&self, pipe: PipeId) -> bool {
        self.peer == Some(pipe)
    }
}

impl SocketCore for Pair {
    fn socket_type(&self) -> SocketType {
        SocketType::Pair
    }

    pipes_in_field!(pipes);

    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        if self.peer.is_none() {
            self.peer = Some(pipe);
            self.pipes.attach(pipe);
        }
    }

    fn set_connected(&mut self, pipe: PipeId, connected: bool, _now: Duration) {
        if self.is_peer(pipe) {
            self.pipes.set_connected(pipe, connected);
        }
    }

    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        if self.is_peer(pipe) {
            self.peer = None;
            self.pipes.detach(pipe);
        }
    }

    fn send(&mut self, msg: Msg, _now: Duration) -> Result<(), SendError> {
        let pipe = self.peer.ok_or(SendError::WouldBlock)?;
        self.pipes.enqueue(pipe, msg).map_err(|_| SendError::WouldBlock)
    }

    /// A message from an ignored pipe breaks the driver's contract (it was told not
    /// to read); `Pipes` reports it dropped as `PipeClosed`, since it never knew it.
    fn poll_event(&mut self) -> Option<SocketEvent> {
        self.pipes.pop_event()
    }
}

#[cfg(test)]
mod tests {
    use super::super::SocketEvent;
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::*;

    #[test]
    fn talks_to_its_first_pipe_only_and_ignores_a_second() {
        let mut pair = Pair::new(opts(10, 10));
        up(&mut pair, &[1, 2]);
        pair.send(msg(&[], "out"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut pair, 1), [(vec![], "out".into())]);
        assert_eq!(transmit_all(&mut pair, 2), []);
        assert!(pair.can_receive(1) && !pair.can_receive(2));
        pair.on_message(1, msg(&[], "in"), ms(0));
        assert_eq!(pair.recv(ms(0)), Ok(msg(&[], "in")));
        // Once the peer goes, a pipe attached later takes its place; 2 stays ignored.
        pair.detach(1, ms(1));
        assert_eq!(pair.send(msg(&[], "x"), ms(1)), Err(SendError::WouldBlock));
        up(&mut pair, &[3]);
        pair.send(msg(&[], "x"), ms(1)).unwrap();
        assert_eq!(transmit_all(&mut pair, 3), [(vec![], "x".into())]);
        assert!(!pair.can_receive(2));
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
}
