//! PUSH: round-robin out over the pipes with room; nothing comes back.
//!
//! A PUSH blocks at the high-water mark: when no attached pipe has room the send fails
//! with `WouldBlock` and nothing is lost (docs/library-semantics.md: PUSH with SNDHWM 10
//! and no peer took 10 messages, then EAGAIN). Pipes still connecting take messages
//! too (`IMMEDIATE=0`), but a pipe whose transport is up is chosen first, so a peer
//! that is not there yet does not hold work while another could take it.

use std::time::Duration;

use super::pipes::Pipes;
use super::{DropReason, Msg, PipeId, RecvError, SendError, SocketCore, SocketOptions, SocketType};

#[derive(Debug)]
/// A PUSH core: round-robins to its pullers.
pub struct Push {
    pipes: Pipes,
}

impl Push {
    /// A PUSH core with these options.
    pub fn new(options: SocketOptions) -> Push {
        Push { pipes: Pipes::new(&options) }
    }
}

impl SocketCore for Push {
    fn socket_type(&self) -> SocketType {
        SocketType::Push
    }

    pipes_in_field!(pipes);

    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.send_or_return(msg, now).map_err(|(error, _)| error)
    }

    fn send_or_return(&mut self, msg: Msg, _now: Duration) -> Result<(), (SendError, Msg)> {
        let pipe = self.pipes.next_sendable(true).or_else(|| self.pipes.next_sendable(false));
        let Some(pipe) = pipe else { return Err((SendError::WouldBlock, msg)) };
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
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
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

    #[test]
    fn sends_round_robin_and_prefers_connected_pipes() {
        let mut push = Push::new(opts(10, 10));
        up(&mut push, &[1, 2, 3]);
        push.attach(4, ms(0));
        for _ in 0..4 {
            push.send(msg(&[], "m"), ms(0)).unwrap();
        }
        assert_eq!(enqueued_pipes(&mut push), [1, 2, 3, 1]);
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

    #[test]
    fn cannot_receive() {
        let mut push = Push::new(opts(10, 10));
        assert_eq!(push.recv(ms(0)), Err(RecvError::State));
    }
}
