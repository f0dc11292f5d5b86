//! DEALER (NNG's raw REQ, ZeroMQ's XREQ): round-robin out, fair-queued in, headers
//! untouched both ways.
//!
//! A DEALER blocks at the high-water mark: when no attached pipe has room the send
//! fails with `WouldBlock` and nothing is dropped (docs/library-semantics.md, "High-water
//! marks"). Pipes still connecting take messages too (`IMMEDIATE=0`), so a message may
//! wait on a pipe whose peer is not up yet while another pipe is idle: libzmq does
//! the same.
//!
//! NNG's raw REQ (`sp_send_buffer`) queues on the socket instead, as its PUSH does:
//! xreq0 takes messages from the socket's send queue (`NNG_OPT_SENDBUF`, 0 by
//! default), one for each connected pipe ready for one (`send_buffer.rs`), so with no
//! peer up its first send blocks (the conformance row `nng-dealer-hwm`). It receives
//! in arrival order, into the socket's queue (`NNG_OPT_RECVBUF`, 1 by default), as
//! its raw REP does (`nng-dealer-arrival-order`).

use std::time::Duration;

use super::deal::Deal;
use super::pipes::Pipes;
use super::send_buffer::SendBuffer;
use super::{Msg, SendError, SocketCore, SocketOptions, SocketType};

#[derive(Debug)]
/// A DEALER core: round-robins sends, fair-queues receives, no envelope.
pub struct Dealer {
    pipes: Pipes,
    /// The socket's own send queue, when it queues as NNG's raw REQ does.
    buffer: Option<SendBuffer>,
}

impl Dealer {
    /// A DEALER core with these options. With `sp_send_buffer` each pipe holds one
    /// message, whatever `sndhwm_msgs` says.
    pub fn new(options: SocketOptions) -> Dealer {
        let (mut pipes, buffer) = SendBuffer::for_options(options.clone());
        if buffer.is_none() {
            pipes.deal_in(Deal::libzmq());
        }
        // NNG's raw REQ receives as its raw REP does (`nng-dealer-arrival-order`).
        pipes.receive_as_nng_raw(&options);
        Dealer { pipes, buffer }
    }
}

impl SocketCore for Dealer {
    fn socket_type(&self) -> SocketType {
        SocketType::Dealer
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
}

#[cfg(test)]
mod tests {
    use super::super::DropReason;
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::super::{PipeId, RecvError, SocketEvent};
    use super::*;

    fn enqueued_pipes(events: &[SocketEvent]) -> Vec<PipeId> {
        events
            .iter()
            .filter_map(|e| match e {
                SocketEvent::Enqueued { pipe, .. } => Some(*pipe),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sends_round_robin_across_three_pipes() {
        let mut dealer = Dealer::new(opts(10, 10));
        up(&mut dealer, &[1, 2, 3]);
        for body in ["m0", "m1", "m2", "m3", "m4"] {
            dealer.send(msg(&[], body), ms(0)).unwrap();
        }
        assert_eq!(enqueued_pipes(&events(&mut dealer)), [1, 2, 3, 1, 2]);
        assert_eq!(transmit_all(&mut dealer, 1), [(vec![], "m0".into()), (vec![], "m3".into())]);
        assert_eq!(transmit_all(&mut dealer, 3), [(vec![], "m2".into())]);
    }

    #[test]
    fn blocks_when_every_pipe_is_at_sndhwm_and_drops_nothing() {
        let mut dealer = Dealer::new(opts(2, 10));
        up(&mut dealer, &[1, 2, 3]);
        for _ in 0..6 {
            dealer.send(msg(&[], "m"), ms(0)).unwrap();
        }
        assert_eq!(dealer.send(msg(&[], "m"), ms(0)), Err(SendError::WouldBlock));
        let events = events(&mut dealer);
        assert!(events.iter().all(|e| !matches!(e, SocketEvent::Dropped { .. })));
        let max_depth = events
            .iter()
            .map(|e| match e {
                SocketEvent::Enqueued { depth, .. } => *depth,
                _ => 0,
            })
            .max();
        assert_eq!(max_depth, Some(2));
        // Room on pipe 2 only: the next send must go there.
        dealer.poll_transmit(2, ms(1)).unwrap();
        dealer.send(msg(&[], "n"), ms(1)).unwrap();
        assert_eq!(enqueued_pipes(&dealer.poll_event().into_iter().collect::<Vec<_>>()), [2]);
    }

    #[test]
    fn without_pipes_a_send_blocks() {
        let mut dealer = Dealer::new(opts(10, 10));
        assert_eq!(dealer.send(msg(&[], "m"), ms(0)), Err(SendError::WouldBlock));
    }

    #[test]
    fn queues_on_a_pipe_still_connecting_and_writes_once_it_is_up() {
        let mut dealer = Dealer::new(opts(10, 10));
        dealer.attach(1, ms(0));
        dealer.send(msg(&[], "early"), ms(0)).unwrap();
        assert_eq!(dealer.poll_transmit(1, ms(0)), None);
        dealer.set_connected(1, true, ms(5));
        assert_eq!(transmit_all(&mut dealer, 1), [(vec![], "early".into())]);
    }

    #[test]
    fn headers_pass_through_both_ways() {
        let mut dealer = Dealer::new(opts(10, 10));
        up(&mut dealer, &[1]);
        dealer.send(msg(&[7, 0x8000_0001], "req"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut dealer, 1), [(vec![7, 0x8000_0001], "req".into())]);
        dealer.on_message(1, msg(&[7, 0x8000_0001], "rep"), ms(1));
        assert_eq!(dealer.recv(ms(1)), Ok(msg(&[7, 0x8000_0001], "rep")));
        assert_eq!(dealer.recv(ms(1)), Err(RecvError::WouldBlock));
    }

    #[test]
    fn receives_fair_queued_across_pipes() {
        let mut dealer = Dealer::new(opts(10, 10));
        up(&mut dealer, &[1, 2]);
        for (pipe, body) in [(1, "a1"), (1, "a2"), (1, "a3"), (2, "b1"), (2, "b2")] {
            dealer.on_message(pipe, msg(&[], body), ms(0));
        }
        let got: Vec<_> = std::iter::from_fn(|| dealer.recv(ms(0)).ok()).collect();
        let want = ["a1", "b1", "a2", "b2", "a3"].map(|b| msg(&[], b));
        assert_eq!(got, want);
    }

    #[test]
    fn stops_reading_a_pipe_at_rcvhwm() {
        let mut dealer = Dealer::new(opts(10, 2));
        up(&mut dealer, &[1, 2]);
        dealer.on_message(1, msg(&[], "a"), ms(0));
        dealer.on_message(1, msg(&[], "b"), ms(0));
        assert!(!dealer.can_receive(1));
        assert!(dealer.can_receive(2));
        dealer.recv(ms(0)).unwrap();
        assert!(dealer.can_receive(1));
    }

    #[test]
    fn detach_reports_every_queued_message_as_pipe_closed() {
        let mut dealer = Dealer::new(opts(10, 10));
        dealer.attach(1, ms(0));
        dealer.send(msg(&[], "a"), ms(0)).unwrap();
        dealer.send(msg(&[], "b"), ms(0)).unwrap();
        events(&mut dealer);
        dealer.detach(1, ms(1));
        let reasons: Vec<_> = events(&mut dealer)
            .into_iter()
            .map(|e| match e {
                SocketEvent::Dropped { pipe: Some(1), reason, msg } => (reason, msg.body),
                other => panic!("unexpected event {other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [(DropReason::PipeClosed, "a".into()), (DropReason::PipeClosed, "b".into())]
        );
        assert_eq!(dealer.send(msg(&[], "c"), ms(1)), Err(SendError::WouldBlock));
    }
}
