//! PULL: fair-queued receive across pipes; it never sends.
//!
//! A pipe at RCVHWM stops being read (`can_receive` is false), so the pusher's queue
//! fills and its send blocks: nothing is dropped on the way (docs/library-semantics.md,
//! "High-water marks"). NNG's PULL, REP and RESPONDENT do not take turns: each pipe
//! holds one message, and the application gets them in the order the pipes became
//! ready, as nanomsg's receivers of every type do (`SocketOptions::recv_ready_first`,
//! [`Pipes::new`]).

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
        Pull { pipes: Pipes::new(&options) }
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

    /// Pipes 1, 2, 3 (senders a, b, c) each hold one message, which came on 3 first,
    /// then 1, then 2; after each take that pipe's next message arrives, three a pipe.
    fn take_three_rounds(options: SocketOptions) -> Vec<String> {
        let mut pull = Pull::new(options);
        up(&mut pull, &[1, 2, 3]);
        let sender = |pipe: PipeId| ["a", "b", "c"][pipe as usize - 1];
        let mut sent = [0; 3];
        let mut arrive = |pull: &mut Pull, pipe: PipeId| {
            let n = &mut sent[pipe as usize - 1];
            if *n < 3 {
                pull.on_message(pipe, Msg::new(format!("{}{n}", sender(pipe))), ms(0));
                *n += 1;
            }
        };
        for pipe in [3, 1, 2] {
            arrive(&mut pull, pipe);
        }
        let mut got = Vec::new();
        while let Ok(m) = pull.recv(ms(0)) {
            let body = String::from_utf8_lossy(&m.body).into_owned();
            let pipe = (1..=3).find(|p| body.starts_with(sender(*p))).expect("a sender's");
            assert!(pull.can_receive(pipe), "{body} taken, its pipe reads on");
            arrive(&mut pull, pipe);
            got.push(body);
        }
        got
    }

    #[test]
    fn nanomsg_takes_the_pipe_ready_first_and_libzmq_each_in_turn() {
        let nanomsg = SocketOptions { recv_ready_first: true, ..opts(0, 1) };
        assert_eq!(
            take_three_rounds(nanomsg),
            ["c0", "a0", "b0", "c1", "a1", "b1", "c2", "a2", "b2"]
        );
        // Each pipe in turn from the one after the last taken: 3's first, then 1, 2.
        let fair = take_three_rounds(opts(0, 1));
        assert_eq!(fair, ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]);
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
