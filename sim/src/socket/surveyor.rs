//! SURVEYOR with nanomsg/NNG semantics: a send starts a survey that goes to every
//! peer, and responses to it are collected until the survey's deadline.
//!
//! A survey id works like REQ's request id (docs/sp-wire.md):
//! high bit set, counting up from a seeded first id, carried as the header. Each
//! attached pipe gets its own copy; a full pipe drops its copy with `Dropped{Hwm}`, so
//! the surveyor never blocks (`SocketType::hwm_policy`). The deadline is
//! `survey_deadline` after the send (`NN_SURVEYOR_DEADLINE`, 1 s by default).
//!
//! Drop reasons, chosen so a trace tells the two ways a response can miss:
//! `Expired` for a response to the current survey after its deadline (and for
//! responses still unread at the deadline, which NNG flushes when the survey times
//! out); `LateReply` for a response to any other survey, as REQ reports a reply to a
//! request it has given up on. A survey abandoned by a new one before its deadline is
//! reported `Cancelled` with its id, as REQ reports an abandoned request.
//!
//! NNG's (`nng_queues`) keeps the responses in one queue for the socket, in arrival
//! order, as surveyor0 does; libzmq has no SURVEYOR, and nanomsg's takes the pipe
//! ready first (`recv_ready_first`).
//!
//! NNG's `nng_recvmsg` on a surveyor whose survey has timed out (or that never sent
//! one) fails with `NNG_ETIMEDOUT` (`NNG_ESTATE` before any survey); nanomsg's
//! `nn_recv` fails with `ETIMEDOUT` at the deadline and `EFSM` after it and before
//! any survey (`nanomsg-survey-deadline`). All of them map to [`RecvError::State`]
//! here, since the contract has no timeout error: either way the application must
//! start a new survey to receive again.

use std::time::Duration;

use super::pipes::Pipes;
use super::{
    DropReason, Msg, PipeId, REQUEST_ID_BIT, RecvError, SendError, SocketCore, SocketEvent,
    SocketOptions, SocketType,
};

/// The survey the responses are collected for.
#[derive(Clone, Copy, Debug)]
struct Survey {
    /// The survey id, high bit set.
    id: u32,
    deadline: Duration,
    /// Set once the deadline has been handled, so `SurveyExpired` is reported once
    /// and the driver's timer is not asked for the same instant again.
    expired: bool,
}

#[derive(Debug)]
/// A SURVEYOR core: one survey at a time, responses until its deadline.
pub struct Surveyor {
    pipes: Pipes,
    survey_deadline: Duration,
    /// The id the next survey gets.
    next_survey_id: u32,
    /// `None` until the application sends its first survey.
    survey: Option<Survey>,
}

/// Survey ids keep the high bit set and count up through the other 31 bits.
fn as_survey_id(counter: u32) -> u32 {
    counter | REQUEST_ID_BIT
}

impl Surveyor {
    /// `first_survey_id` comes from the run's seeded random source, as NNG starts at a
    /// random id; its high bit is set here whatever it was.
    pub fn new(options: SocketOptions, first_survey_id: u32) -> Surveyor {
        let mut pipes = Pipes::new(&options);
        pipes.pipe_per_connection(&options);
        if options.nng_queues && !options.zmtp {
            // NNG's surveyor0 collects a survey's responses in one queue, in arrival
            // order (`nng-survey-arrival-order`), and reads on while it is full.
            pipes.queue_per_socket();
        }
        Surveyor {
            pipes,
            survey_deadline: options.survey_deadline,
            next_survey_id: as_survey_id(first_survey_id),
            survey: None,
        }
    }

    fn take_survey_id(&mut self) -> u32 {
        let id = self.next_survey_id;
        self.next_survey_id = as_survey_id(id.wrapping_add(1));
        id
    }

    /// The current survey while it still collects responses.
    fn open_survey(&self) -> Option<Survey> {
        self.survey.filter(|s| !s.expired)
    }

    /// Ends the current survey if its deadline has come: responses not yet read are
    /// dropped as `Expired`, then `SurveyExpired` is reported.
    fn expire_if_due(&mut self, now: Duration) {
        let Some(survey) = self.open_survey().filter(|s| now >= s.deadline) else { return };
        self.drain_unread(DropReason::Expired);
        self.survey = Some(Survey { expired: true, ..survey });
        self.pipes.push_event(SocketEvent::SurveyExpired { survey_id: survey.id });
    }

    /// Drops every response waiting for the application.
    fn drain_unread(&mut self, reason: DropReason) {
        while let Some((pipe, response)) = self.pipes.pop_inbound() {
            self.pipes.drop_msg(Some(pipe), reason, response);
        }
    }

    /// Abandons the current survey for a new one: its unread responses are now late.
    fn abandon(&mut self) {
        self.drain_unread(DropReason::LateReply);
        if let Some(open) = self.open_survey() {
            self.pipes.push_event(SocketEvent::Cancelled { request_id: open.id });
        }
    }

    /// A response to the open survey is queued without its id; any other is dropped.
    fn accept_response(&mut self, pipe: PipeId, mut response: Msg) {
        let id = response.header[0];
        let reason = match self.survey {
            Some(s) if s.id == id && !s.expired => {
                super::rep::spill_header(&mut response, 1);
                response.header.clear();
                return self.pipes.push_inbound(pipe, response);
            }
            Some(s) if s.id == id => DropReason::Expired,
            _ => DropReason::LateReply,
        };
        self.pipes.drop_msg(Some(pipe), reason, response);
    }
}

impl SocketCore for Surveyor {
    fn socket_type(&self) -> SocketType {
        SocketType::Surveyor
    }

    pipes_in_field!(pipes);

    /// Starts a new survey, abandoning the current one. The application's header is
    /// replaced by the survey id. Copies of an older survey still queued on a pipe are
    /// left to go out, as NNG leaves them in its per-pipe send queues; answers to them
    /// are dropped as late. With no pipe at all the survey still runs, and expires
    /// with nothing collected. An SP library's survey goes only to respondents whose
    /// connection is up (`Pipes::pipe_per_connection`): one still being dialled never
    /// sees it (conformance rows `nng-surveyor-dials-early`,
    /// `nanomsg-surveyor-dials-early`).
    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.expire_if_due(now);
        self.abandon();
        let id = self.take_survey_id();
        let survey = Msg { header: vec![id], body: msg.body };
        self.survey = Some(Survey { id, deadline: now + self.survey_deadline, expired: false });
        self.pipes.copy_to_attached(&survey);
        Ok(())
    }

    fn recv(&mut self, now: Duration) -> Result<Msg, RecvError> {
        self.expire_if_due(now);
        self.open_survey().ok_or(RecvError::State)?;
        self.pipes.pop_inbound().map(|(_, msg)| msg).ok_or(RecvError::WouldBlock)
    }

    /// A response must start with a survey id; a hop id in front (or nothing) means
    /// it is malformed, as for REQ's replies.
    fn on_message(&mut self, pipe: PipeId, msg: Msg, now: Duration) {
        self.expire_if_due(now);
        if !self.pipes.can_receive(pipe) {
            // Gone or full: the pipes report it.
            return self.pipes.push_inbound(pipe, msg);
        }
        match msg.header.first() {
            Some(id) if id & REQUEST_ID_BIT != 0 => self.accept_response(pipe, msg),
            _ => self.pipes.drop_msg(Some(pipe), DropReason::Malformed, msg),
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.open_survey().map(|s| s.deadline)
    }

    fn on_timeout(&mut self, now: Duration) {
        self.expire_if_due(now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::*;

    const DEADLINE_MS: u64 = 1_000;
    const FIRST: u32 = 0x8000_0007;

    fn surveyor(pipes: &[PipeId]) -> Surveyor {
        let options = SocketOptions { survey_deadline: ms(DEADLINE_MS), ..opts(10, 10) };
        let mut surveyor = Surveyor::new(options, 7);
        up(&mut surveyor, pipes);
        surveyor
    }

    fn drops(events: &[SocketEvent]) -> Vec<(DropReason, String)> {
        events
            .iter()
            .filter_map(|e| match e {
                SocketEvent::Dropped { reason, msg, .. } => {
                    Some((*reason, String::from_utf8_lossy(&msg.body).into_owned()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_survey_goes_to_every_pipe_with_consecutive_ids() {
        let mut s = surveyor(&[1, 2, 3]);
        s.send(msg(&[99], "q1"), ms(0)).unwrap();
        s.send(msg(&[], "q2"), ms(5)).unwrap();
        for pipe in [1, 2, 3] {
            let want = [(vec![FIRST], "q1".into()), (vec![FIRST + 1], "q2".into())];
            assert_eq!(transmit_all(&mut s, pipe), want);
        }
        let mut wrap = Surveyor::new(SocketOptions::default(), u32::MAX);
        assert_eq!(wrap.take_survey_id(), 0xFFFF_FFFF);
        assert_eq!(wrap.take_survey_id(), 0x8000_0000);
    }

    #[test]
    fn recv_before_any_survey_is_a_state_error() {
        let mut s = surveyor(&[1]);
        assert_eq!(s.recv(ms(0)), Err(RecvError::State));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn responses_before_the_deadline_are_delivered_without_their_id() {
        let mut s = surveyor(&[1, 2]);
        s.send(msg(&[], "q"), ms(100)).unwrap();
        assert_eq!(s.recv(ms(100)), Err(RecvError::WouldBlock));
        s.on_message(2, msg(&[FIRST], "from 2"), ms(150));
        s.on_message(1, msg(&[FIRST], "from 1"), ms(100 + DEADLINE_MS - 1));
        assert_eq!(s.recv(ms(100 + DEADLINE_MS - 1)), Ok(msg(&[], "from 1")));
        assert_eq!(s.recv(ms(100 + DEADLINE_MS - 1)), Ok(msg(&[], "from 2")));
        assert_eq!(s.recv(ms(100 + DEADLINE_MS - 1)), Err(RecvError::WouldBlock));
        assert_eq!(drops(&events(&mut s)), []);
    }

    #[test]
    fn the_deadline_expires_the_survey_exactly_once_and_later_responses_are_dropped() {
        let mut s = surveyor(&[1]);
        s.send(msg(&[], "q"), ms(100)).unwrap();
        let deadline = ms(100 + DEADLINE_MS);
        assert_eq!(s.poll_timeout(), Some(deadline));
        events(&mut s);
        s.on_timeout(deadline - ms(1));
        assert_eq!(events(&mut s), []);
        s.on_timeout(deadline);
        assert_eq!(events(&mut s), [SocketEvent::SurveyExpired { survey_id: FIRST }]);
        assert_eq!(s.poll_timeout(), None);
        s.on_timeout(deadline + ms(1));
        assert_eq!(events(&mut s), []);
        s.on_message(1, msg(&[FIRST], "too late"), deadline + ms(1));
        assert_eq!(drops(&events(&mut s)), [(DropReason::Expired, "too late".into())]);
        assert_eq!(s.recv(deadline + ms(1)), Err(RecvError::State));
    }

    #[test]
    fn responses_unread_at_the_deadline_expire_with_the_survey() {
        let mut s = surveyor(&[1]);
        s.send(msg(&[], "q"), ms(0)).unwrap();
        s.on_message(1, msg(&[FIRST], "unread"), ms(10));
        events(&mut s);
        // No timer has fired yet, but a receive at the deadline sees it has passed.
        assert_eq!(s.recv(ms(DEADLINE_MS)), Err(RecvError::State));
        let got = events(&mut s);
        assert_eq!(drops(&got), [(DropReason::Expired, "unread".into())]);
        assert_eq!(got.last(), Some(&SocketEvent::SurveyExpired { survey_id: FIRST }));
    }

    #[test]
    fn a_new_survey_abandons_the_old_and_its_responses_are_dropped() {
        let mut s = surveyor(&[1, 2]);
        s.send(msg(&[], "old"), ms(0)).unwrap();
        s.on_message(1, msg(&[FIRST], "unread old"), ms(10));
        events(&mut s);
        s.send(msg(&[], "new"), ms(20)).unwrap();
        let got = events(&mut s);
        assert_eq!(drops(&got), [(DropReason::LateReply, "unread old".into())]);
        assert!(got.contains(&SocketEvent::Cancelled { request_id: FIRST }));
        assert_eq!(s.poll_timeout(), Some(ms(20 + DEADLINE_MS)));
        s.on_message(2, msg(&[FIRST], "late old"), ms(30));
        s.on_message(2, msg(&[FIRST + 1], "fresh"), ms(31));
        assert_eq!(drops(&events(&mut s)), [(DropReason::LateReply, "late old".into())]);
        assert_eq!(s.recv(ms(32)), Ok(msg(&[], "fresh")));
    }

    #[test]
    fn an_expired_survey_is_not_cancelled_again_by_the_next() {
        let mut s = surveyor(&[1]);
        s.send(msg(&[], "q1"), ms(0)).unwrap();
        s.on_timeout(ms(DEADLINE_MS));
        events(&mut s);
        s.send(msg(&[], "q2"), ms(2 * DEADLINE_MS)).unwrap();
        let got = events(&mut s);
        assert!(got.iter().all(|e| !matches!(e, SocketEvent::Cancelled { .. })), "{got:?}");
        assert_eq!(s.recv(ms(2 * DEADLINE_MS)), Err(RecvError::WouldBlock));
    }

    #[test]
    fn a_full_pipe_drops_its_copy_and_the_send_never_blocks() {
        let options = SocketOptions { survey_deadline: ms(DEADLINE_MS), ..opts(1, 10) };
        let mut s = Surveyor::new(options, 7);
        up(&mut s, &[1, 2]);
        s.send(msg(&[], "q1"), ms(0)).unwrap();
        transmit_all(&mut s, 2);
        events(&mut s);
        assert_eq!(s.send(msg(&[], "q2"), ms(1)), Ok(()));
        let got = events(&mut s);
        let hwm = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::Hwm,
            msg: msg(&[FIRST + 1], "q2"),
        };
        assert!(got.contains(&hwm), "{got:?}");
        assert_eq!(transmit_all(&mut s, 2), [(vec![FIRST + 1], "q2".into())]);
    }

    #[test]
    fn without_pipes_the_survey_runs_and_expires_empty() {
        let mut s = surveyor(&[]);
        assert_eq!(s.send(msg(&[], "q"), ms(0)), Ok(()));
        assert_eq!(s.recv(ms(1)), Err(RecvError::WouldBlock));
        s.on_timeout(ms(DEADLINE_MS));
        assert_eq!(events(&mut s), [SocketEvent::SurveyExpired { survey_id: FIRST }]);
    }

    #[test]
    fn malformed_responses_are_dropped() {
        let mut s = surveyor(&[1]);
        s.send(msg(&[], "q"), ms(0)).unwrap();
        events(&mut s);
        s.on_message(1, msg(&[], "no id"), ms(1));
        s.on_message(1, msg(&[3, FIRST], "hop first"), ms(1));
        let want =
            [(DropReason::Malformed, "no id".into()), (DropReason::Malformed, "hop first".into())];
        assert_eq!(drops(&events(&mut s)), want);
    }

    /// NNG's and nanomsg's SURVEYOR has no pipe to a respondent it is still dialling:
    /// a survey started before the connection is up never reaches it (conformance
    /// rows `nng-surveyor-dials-early`, `nanomsg-surveyor-dials-early`).
    #[test]
    fn an_sp_survey_reaches_only_respondents_whose_connection_is_up() {
        use super::super::pipes::testing::per_connection;
        let options = SocketOptions { survey_deadline: ms(DEADLINE_MS), ..per_connection(10, 10) };
        let mut surveyor = Surveyor::new(options, 7);
        surveyor.attach(1, ms(0));
        surveyor.send(msg(&[], "survey-1"), ms(0)).unwrap();
        surveyor.set_connected(1, true, ms(300));
        assert_eq!(transmit_all(&mut surveyor, 1), []);
        surveyor.send(msg(&[], "survey-2"), ms(400)).unwrap();
        let sent = transmit_all(&mut surveyor, 1);
        assert_eq!(sent.iter().map(|(_, b)| b.as_str()).collect::<Vec<_>>(), ["survey-2"]);
    }
}
