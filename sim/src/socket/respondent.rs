//! RESPONDENT (nanomsg/NNG): answers a SURVEYOR's surveys, one at a time.
//!
//! It is REP with another protocol id: surveys are fair-queued across pipes; the
//! backtrace (every id up to and including the survey id, the first with the high
//! bit set) is remembered; the answer goes back on the pipe the survey came from,
//! carrying that backtrace; an answer to a pipe that has gone is dropped as
//! `PeerGone`; a send with no survey to answer is a state error; a new receive
//! abandons the survey not yet answered (at nanomsg every receive does, one that
//! finds nothing too, as its REP's: `rep_recv_cancels`; measured through nanomsg
//! 1.1.5's C API, a response after an empty receive failed with EFSM and the
//! surveyor got nothing). NNG's respondent and REP share that
//! behaviour, so the core wraps [`Rep`] rather than repeating it, and any fix to REP's
//! handling of backtraces applies here too.

use std::time::Duration;

use super::{Msg, PipeId, Pipes, RecvError, Rep, SendError, SocketCore, SocketOptions, SocketType};

#[derive(Debug)]
/// A RESPONDENT core: answers each survey back to the surveyor that sent it.
pub struct Respondent {
    rep: Rep,
}

impl Respondent {
    /// A RESPONDENT core with these options.
    pub fn new(options: SocketOptions) -> Respondent {
        Respondent { rep: Rep::new(options) }
    }
}

impl SocketCore for Respondent {
    fn socket_type(&self) -> SocketType {
        SocketType::Respondent
    }

    /// REP's own pipes, so the provided bookkeeping acts on them exactly as it does
    /// for REP; what REP overrides is forwarded below.
    fn pipes(&self) -> &Pipes {
        self.rep.pipes()
    }

    fn pipes_mut(&mut self) -> &mut Pipes {
        self.rep.pipes_mut()
    }

    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.rep.send(msg, now)
    }

    fn recv(&mut self, now: Duration) -> Result<Msg, RecvError> {
        self.rep.recv(now)
    }

    fn on_message(&mut self, pipe: PipeId, msg: Msg, now: Duration) {
        self.rep.on_message(pipe, msg, now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::DropReason;
    use super::super::SocketEvent;
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::*;

    const SID: u32 = 0x8000_0042;

    fn respondent() -> Respondent {
        let mut respondent = Respondent::new(opts(10, 10));
        up(&mut respondent, &[1, 2]);
        respondent
    }

    #[test]
    fn is_a_respondent() {
        assert_eq!(respondent().socket_type(), SocketType::Respondent);
    }

    /// nanomsg's RESPONDENT drops the survey at an empty receive, as its REP does.
    #[test]
    fn at_nanomsg_an_empty_recv_abandons_the_survey() {
        let mut r = Respondent::new(SocketOptions { rep_recv_cancels: true, ..opts(10, 10) });
        up(&mut r, &[1]);
        r.on_message(1, msg(&[SID], "survey"), ms(0));
        assert_eq!(r.recv(ms(0)), Ok(msg(&[SID], "survey")));
        assert_eq!(r.recv(ms(0)), Err(RecvError::WouldBlock));
        assert_eq!(r.send(msg(&[], "answer"), ms(1)), Err(SendError::State));
        assert_eq!(transmit_all(&mut r, 1), []);
    }

    #[test]
    fn keeps_the_backtrace_through_devices_and_restores_it_on_the_answer() {
        let mut r = respondent();
        r.on_message(2, msg(&[4, 8, SID], "survey"), ms(0));
        assert_eq!(r.recv(ms(0)), Ok(msg(&[4, 8, SID], "survey")));
        r.send(msg(&[], "answer"), ms(1)).unwrap();
        assert_eq!(transmit_all(&mut r, 2), [(vec![4, 8, SID], "answer".into())]);
        assert_eq!(transmit_all(&mut r, 1), []);
    }

    #[test]
    fn an_answer_to_a_gone_surveyor_is_dropped_as_peer_gone() {
        let mut r = respondent();
        r.on_message(1, msg(&[SID], "survey"), ms(0));
        r.recv(ms(0)).unwrap();
        r.detach(1, ms(1));
        events(&mut r);
        assert_eq!(r.send(msg(&[], "answer"), ms(2)), Ok(()));
        let want = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::PeerGone,
            msg: msg(&[SID], "answer"),
        };
        assert_eq!(events(&mut r), [want]);
    }

    #[test]
    fn send_needs_a_survey_to_answer() {
        let mut r = respondent();
        assert_eq!(r.send(msg(&[], "answer"), ms(0)), Err(SendError::State));
        r.on_message(1, msg(&[SID], "survey"), ms(0));
        r.recv(ms(0)).unwrap();
        assert_eq!(r.send(msg(&[], "answer"), ms(0)), Ok(()));
        assert_eq!(r.send(msg(&[], "again"), ms(0)), Err(SendError::State));
    }

    #[test]
    fn a_new_recv_abandons_the_unanswered_survey() {
        let mut r = respondent();
        r.on_message(1, msg(&[0x8000_0001], "first"), ms(0));
        r.on_message(2, msg(&[0x8000_0002], "second"), ms(0));
        r.recv(ms(0)).unwrap();
        r.recv(ms(0)).unwrap();
        r.send(msg(&[], "answer"), ms(0)).unwrap();
        assert_eq!(transmit_all(&mut r, 1), []);
        assert_eq!(transmit_all(&mut r, 2), [(vec![0x8000_0002], "answer".into())]);
    }

    #[test]
    fn surveys_are_fair_queued_across_pipes() {
        let mut r = respondent();
        for (pipe, body) in [(1, "a1"), (1, "a2"), (2, "b1")] {
            r.on_message(pipe, msg(&[SID], body), ms(0));
        }
        let got: Vec<_> = std::iter::from_fn(|| r.recv(ms(0)).ok()).map(|m| m.body).collect();
        assert_eq!(got, ["a1", "b1", "a2"]);
    }

    #[test]
    fn an_answer_to_a_full_pipe_is_dropped() {
        let mut r = Respondent::new(opts(1, 10));
        up(&mut r, &[1]);
        for body in ["s1", "s2"] {
            r.on_message(1, msg(&[SID], body), ms(0));
        }
        for body in ["a1", "a2"] {
            r.recv(ms(0)).unwrap();
            r.send(msg(&[], body), ms(0)).unwrap();
        }
        let hwm_drops = events(&mut r)
            .into_iter()
            .filter(|e| matches!(e, SocketEvent::Dropped { reason: DropReason::Hwm, .. }))
            .count();
        assert_eq!(hwm_drops, 1);
        assert_eq!(transmit_all(&mut r, 1), [(vec![SID], "a1".into())]);
    }
}
