//! PULL: fair-queued receive across pipes; it never sends.
//!
//! A pipe at RCVHWM stops being read (`can_receive` is false), so the pusher's queue
//! fills and its send blocks: nothing is dropped on the way (docs/library-semantics.md,
//! "High-water marks"). NNG's PULL, REP and RESPONDENT do not take turns: each pipe
//! holds one message, and the application gets them in the order the pipes became
//! ready ([`Pipes::ready_first`]).

use std::time::Duration;

use super::pipes::Pipes;
use super::{Msg, PipeId, SendError, SocketCore, SocketOptions, SocketType};

#[derive(Debug)]
/// A PULL core: fair-queues from its pushers.
pub struct Pull {
    pipes: Pipes,
}

impl Pull {
    /// A PULL core with these options.
    pub fn new(options: SocketOptions) -> Pull {
        Pull { pipes: Pipes::ready_first(&options) }
    }
}

impl SocketCore for Pull {
    fn socket_type(&self) -> SocketType {
        SocketType::Pull
    }

    pipes_in_field!(pipes);

    fn send(&mut self, _msg: Msg, _now: Duration) -> Result<(), SendError> {
        Err(SendError::State)
    }

    /// Nothing is ever queued outbound.
    fn poll_transmit(&mut self, _pipe: PipeId, _now: Duration) -> Option<Msg> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::pipes::testing::{ms, msg, opts, up};
    use super::*;

    #[test]
    fn receives_fair_queued_and_cannot_send() {
        let mut pull = Pull::new(opts(10, 10));
        up(&mut pull, &[1, 2]);
        for (pipe, body) in [(1, "a1"), (1, "a2"), (1, "a3"), (2, "b1")] {
            pull.on_message(pipe, msg(&[], body), ms(0));
        }
        let got: Vec<_> = std::iter::from_fn(|| pull.recv(ms(0)).ok()).collect();
        assert_eq!(got, ["a1", "b1", "a2", "a3"].map(|b| msg(&[], b)));
        assert_eq!(pull.send(msg(&[], "x"), ms(0)), Err(SendError::State));
        assert_eq!(pull.poll_transmit(1, ms(0)), None);
    }

    #[test]
    fn stops_reading_a_pipe_at_rcvhwm() {
        let mut pull = Pull::new(opts(10, 1));
        up(&mut pull, &[1, 2]);
        pull.on_message(1, msg(&[], "a"), ms(0));
        assert!(!pull.can_receive(1) && pull.can_receive(2));
        pull.recv(ms(0)).unwrap();
        assert!(pull.can_receive(1));
    }
}
