//! Per-pipe queues shared by every socket core: one bounded outbound queue (SNDHWM) and
//! one bounded inbound queue (RCVHWM) per connected peer, round-robin choice of the
//! pipe a message goes out on, fair-queued receive across pipes, and the pipe
//! lifecycle (attached, connected, detached).
//!
//! A core owns one [`Pipes`] and layers its protocol on top: DEALER uses it almost
//! as is, ROUTER and REP add routing by header, REQ adds its request state machine.
//! `Pipes` also holds the socket's event queue, so the queue depths in
//! `Enqueued`/`Arrived` events and the `PipeClosed` drops are reported in one place.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::ops::Bound;

use super::by_pipe::ByPipe;
use super::deal::Deal;
use super::{DropReason, EventDetail, EventMsg, Msg, MsgInfo, PipeId, SocketEvent, SocketOptions};

/// One peer's queues.
#[derive(Debug, Default)]
struct Pipe {
    /// False once the driver detached the pipe. A detached pipe lingers only until the
    /// application has read what arrived on it: libzmq's reader drains a terminated
    /// pipe up to its delimiter and NNG keeps messages in the socket's receive queue,
    /// so a message that arrived before the peer left is still delivered.
    attached: bool,
    /// Whether a transport is up under the pipe. Messages queue either way.
    connected: bool,
    /// libzmq only (`Pipes::acks`): messages the connection's writer has taken since
    /// the socket last heard of it, and messages the application has read since the
    /// connection's reader last heard of it. Each still counts against its high-water
    /// mark; see [`Acks`].
    unacked_out: u32,
    unacked_in: u32,
    /// Both queues, made when the first message queues and given back when both are
    /// empty again. A comet subscriber's DEALER has one pipe that is empty nearly all
    /// the time, and a BTreeMap leaf keeps room for 11 entries: inline queues made
    /// each entry 72 B and the one-pipe map 848 B per subscriber (issue 16).
    queues: Option<Box<Queues>>,
}

/// One pipe's outbound (SNDHWM) and inbound (RCVHWM) queues.
#[derive(Debug, Default)]
struct Queues {
    outbound: VecDeque<Msg>,
    inbound: VecDeque<Msg>,
}

impl Pipe {
    fn outbound_len(&self) -> usize {
        self.queues.as_ref().map_or(0, |q| q.outbound.len())
    }

    /// What counts against SNDHWM: the queue, and on libzmq what the writer took
    /// that the socket has not yet been told of.
    fn outbound_held(&self) -> usize {
        self.outbound_len() + self.unacked_out as usize
    }

    /// Whether a message may be queued here: attached, below `sndhwm_msgs` and, if
    /// `connected_only`, with its transport up.
    fn can_take(&self, sndhwm_msgs: u32, connected_only: bool) -> bool {
        self.attached
            && below_hwm(self.outbound_held(), sndhwm_msgs)
            && (!connected_only || self.connected)
    }

    fn inbound_len(&self) -> usize {
        self.queues.as_ref().map_or(0, |q| q.inbound.len())
    }

    /// What counts against RCVHWM: the queue, and on libzmq what the application read
    /// that the connection's reader has not yet been told of.
    fn inbound_held(&self) -> usize {
        self.inbound_len() + self.unacked_in as usize
    }

    fn queues_mut(&mut self) -> &mut Queues {
        self.queues.get_or_insert_with(spare_queues)
    }

    /// Gives back the box once both queues are empty (to this thread's spares), and
    /// otherwise the room of an emptied queue that grew large.
    fn release_if_empty(&mut self) {
        let Some(q) = self.queues.as_mut() else { return };
        if q.outbound.is_empty() && q.inbound.is_empty() {
            keep_spare_queues(self.queues.take());
            return;
        }
        // The other queue still holds messages, so the box stays for now: an emptied
        // queue keeps a spare's room while it does (a busy pipe's next message then
        // finds it), but no more.
        if q.outbound.capacity() > SPARE_QUEUE_ROOM_MAX {
            release_if_empty(&mut q.outbound);
        }
        if q.inbound.capacity() > SPARE_QUEUE_ROOM_MAX {
            release_if_empty(&mut q.inbound);
        }
    }
}

/// How many emptied [`Queues`] a thread keeps for the next pipe that needs one.
const SPARE_QUEUES_MAX: usize = 256;
/// The most room a spare queue keeps: a box whose queue once held more is freed.
const SPARE_QUEUE_ROOM_MAX: usize = 16;

thread_local! {
    /// Emptied pipe queues, kept with their room for the next message on this thread.
    /// A pipe gives its queues back whenever both empty, which on a busy pipe is after
    /// nearly every message: without these, each message cost a box and a queue
    /// allocated and freed on each side. A quiet pipe still holds nothing, and a
    /// thread at most [`SPARE_QUEUES_MAX`] small boxes. Boxes, not queues: a pipe
    /// holds its queues boxed, and the spare hands the box itself back.
    #[allow(clippy::vec_box)]
    static SPARE_QUEUES: RefCell<Vec<Box<Queues>>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// An emptied event queue, kept with its room for the next core call on this
    /// thread: every core call that reports anything fills a socket's event queue and
    /// the driver empties it at once, so a queue per call was allocated and freed.
    static SPARE_EVENTS: RefCell<VecDeque<SocketEvent>> = const { RefCell::new(VecDeque::new()) };
}

/// An empty event queue: this thread's spare, with its room, if it has one.
fn spare_events() -> VecDeque<SocketEvent> {
    SPARE_EVENTS.try_with(|spare| std::mem::take(&mut *spare.borrow_mut())).unwrap_or_default()
}

/// Keeps an emptied event queue's room as this thread's spare, unless the spare has
/// room already or this one grew large.
fn keep_spare_events(events: VecDeque<SocketEvent>) {
    debug_assert!(events.is_empty());
    if events.capacity() > SPARE_QUEUE_ROOM_MAX {
        return;
    }
    let _ = SPARE_EVENTS.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.capacity() == 0 {
            *spare = events;
        }
    });
}

/// Empty queues: a spare of this thread's if there is one.
fn spare_queues() -> Box<Queues> {
    let spare = SPARE_QUEUES.try_with(|spares| spares.borrow_mut().pop()).ok().flatten();
    spare.unwrap_or_default()
}

/// Keeps emptied queues as a spare of this thread's, or frees them when there are
/// enough spares or they kept much room.
fn keep_spare_queues(queues: Option<Box<Queues>>) {
    let Some(queues) = queues else { return };
    debug_assert!(queues.outbound.is_empty() && queues.inbound.is_empty());
    let small = queues.outbound.capacity().max(queues.inbound.capacity()) <= SPARE_QUEUE_ROOM_MAX;
    if small {
        // During the thread's teardown the spares may be gone already: then it is freed.
        let _ = SPARE_QUEUES.try_with(|spares| {
            let mut spares = spares.borrow_mut();
            if spares.len() < SPARE_QUEUES_MAX {
                spares.push(queues);
            }
        });
    }
}

/// libzmq's pipe tells its writer how many messages its reader has taken only every
/// low-water mark's worth of reads (`pipe_t::read` sends `activate_write` when the
/// count of messages read is a multiple of the LWM, (HWM + 1) / 2 of the reading side's
/// HWM), and the writer counts a pipe full when messages written less the last count
/// it heard of reach its HWM (`pipe_t::check_hwm`). So up to LWM - 1 messages already
/// taken off a pipe still hold their place in it. Two pipes per connection: the socket
/// writes and the connection's writer (libzmq's session) reads at SNDHWM, whose LWM
/// is SNDHWM's; the session writes and the application reads at RCVHWM, whose LWM is
/// RCVHWM's. A count heard of is taken at once: libzmq's arrives as a command the
/// socket processes at its next call, which is where the simulator's core runs anyway.
/// A high-water mark of 0 (no limit) has an LWM of 0, and libzmq sends no count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Acks {
    /// The LWM of reads by the connection's writer (from SNDHWM).
    out_lwm: u32,
    /// The LWM of reads by the application (from RCVHWM).
    in_lwm: u32,
}

impl Acks {
    /// libzmq's LWM for a pipe whose reading side has high-water mark `hwm`
    /// (`pipe_t::compute_lwm`).
    fn lwm(hwm: u32) -> u32 {
        hwm.div_ceil(2)
    }

    /// One more message read where the LWM is `lwm`: the reads not yet told of, after it.
    fn read_one(unacked: u32, lwm: u32) -> u32 {
        if lwm == 0 {
            return 0;
        }
        let read = unacked + 1;
        if read >= lwm { 0 } else { read }
    }
}

/// The pipes of one socket and the socket's pending trace events.
#[derive(Debug)]
pub struct Pipes {
    sndhwm_msgs: u32,
    rcvhwm_msgs: u32,
    /// libzmq's batched read counts (`library: zeromq`), where both LWMs are 0 for the
    /// SP libraries, whose queues count each message out as it is taken.
    acks: Acks,
    /// By id, in id order; a socket's only pipe inline (`ByPipe`).
    pipes: ByPipe<Pipe>,
    /// Which pipe a dealing socket (PUSH, DEALER, REQ) sends to next, in its
    /// library's order (`deal.rs`); `Deal::Off` for the others.
    deal: Deal,
    /// The pipe the application last received from; fair queueing resumes after it.
    recv_cursor: Option<PipeId>,
    /// Pipes with something in their inbound queue, so a receive finds the next one
    /// in O(log n) rather than scanning every pipe (a comet router has 100,000).
    with_input: BTreeSet<PipeId>,
    events: VecDeque<SocketEvent>,
    /// libzmq's `ZMQ_IMMEDIATE`: only pipes whose connection is up are sent to, and a
    /// pipe whose connection drops loses its outbound queue (`PipeClosed`).
    immediate: bool,
    /// An SP library's pipe is its connection (`SocketOptions::sp_pipe_per_connection`,
    /// set by the cores that fan out or reply: [`Pipes::pipe_per_connection`]): copies
    /// go only to pipes whose connection is up ([`Pipes::copy_to_attached`],
    /// [`Pipes::takes_copies`]), and a pipe whose connection drops loses its outbound
    /// queue (`PipeClosed`), as `immediate` does for libzmq.
    per_connection: bool,
    /// Whether anyone keeps this socket's events (a trace), and with how much of their
    /// messages. An untraced socket (`EventDetail::None`) keeps no events and copies
    /// no message for one: it only notes, in `woken`, the pipes whose writer has work
    /// (what `Enqueued` and `Resent` tell a driver). That spares a reference count and
    /// an event's trip through the queue on every message.
    detail: EventDetail,
    /// Untraced only: pipes given a message to write since the driver last looked,
    /// oldest first, a pipe not repeated back to back. Keeps its room.
    woken: Vec<PipeId>,
    /// A receive queue for the whole socket, as NNG keeps one (`Pipes::queue_per_socket`,
    /// `Pipes::queue_per_socket_and_one_per_pipe`). Boxed: most sockets have none, and
    /// a million comet users' sockets would each carry an empty queue.
    arrivals: Option<Box<Arrivals>>,
}

/// The pipe of each message received and not yet taken, in arrival order: the
/// application takes them in that order instead of pipe by pipe.
#[derive(Debug, Default)]
struct Arrivals {
    order: VecDeque<PipeId>,
    /// `Some(n)`: the socket's queue holds `n` messages, and each pipe one more
    /// while it is full, which stops that pipe's reading (NNG's raw REP, `n` its
    /// `NNG_OPT_RECVBUF`; its PULL, REP and RESPONDENT, `n` 0: a pipe holds one, and
    /// the application takes from the pipe that became ready first). `None`: RCVHWM
    /// bounds every pipe's messages together, and no pipe is ever left unread: a
    /// message that finds the queue full is dropped or evicts the oldest (NNG's SUB,
    /// XSUB and BUS).
    socket_queue: Option<u32>,
}

impl Arrivals {
    /// Each pipe holds one message, and they are taken in the order the pipes became
    /// ready: a socket queue of none.
    fn ready_first() -> Box<Arrivals> {
        Arrivals::one_per_pipe_beyond(0)
    }

    /// A socket queue of `socket_queue` messages, each pipe holding one more while it
    /// is full.
    fn one_per_pipe_beyond(socket_queue: u32) -> Box<Arrivals> {
        Box::new(Arrivals { socket_queue: Some(socket_queue), ..Arrivals::default() })
    }

    /// Whether a message from `pipe` may join, at RCVHWM `rcvhwm_msgs`.
    fn has_room_for(&self, pipe: PipeId, rcvhwm_msgs: u32) -> bool {
        match self.socket_queue {
            // Messages past the socket's queue each wait in their own pipe.
            Some(n) => !self.order.iter().skip(n as usize).any(|p| *p == pipe),
            None => below_hwm(self.order.len(), rcvhwm_msgs),
        }
    }
}

/// What an event about `msg` carries of it at `detail`. Untraced, nothing is kept,
/// so nothing is worked out.
fn event_msg(detail: EventDetail, msg: &Msg) -> EventMsg {
    match detail {
        EventDetail::Whole => EventMsg::Whole(msg.clone()),
        EventDetail::Info(info) => EventMsg::Info(info(msg)),
        EventDetail::None => EventMsg::Info(MsgInfo { id: None, request_id: None, len: 0 }),
    }
}

/// Whether a queue holding `len` messages may take one more. A high-water mark of 0
/// means "no limit", as `ZMQ_SNDHWM = 0` does in libzmq.
fn below_hwm(len: usize, hwm_msgs: u32) -> bool {
    hwm_msgs == 0 || len < hwm_msgs as usize
}

/// Gives back an emptied queue's allocation. Most of a comet router's 100,000 pipes
/// and their 100,000 peers' sockets are quiet, and a queue that once held a message
/// would keep room for four for the rest of the run (issue 16).
fn release_if_empty<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

/// A queue depth for an event. Depths are bounded by a `u32` HWM unless the HWM is 0
/// (unlimited), where saturating is the honest answer.
fn depth_of(queue: &VecDeque<Msg>) -> u32 {
    u32::try_from(queue.len()).unwrap_or(u32::MAX)
}

impl Pipes {
    /// Empty queues, bounded by the high-water marks in `options`. With
    /// `recv_ready_first` (nanomsg's receivers; NNG's PULL, REP and RESPONDENT: pull0's
    /// `pl` list, rep0's and respondent0's `recvpipes`) each pipe holds one message and
    /// they are taken in the order the pipes became ready.
    pub fn new(options: &SocketOptions) -> Pipes {
        let acks = match options.zmtp {
            true => Acks {
                out_lwm: Acks::lwm(options.sndhwm_msgs),
                in_lwm: Acks::lwm(options.rcvhwm_msgs),
            },
            false => Acks::default(),
        };
        Pipes {
            sndhwm_msgs: options.sndhwm_msgs,
            rcvhwm_msgs: options.rcvhwm_msgs,
            acks,
            pipes: ByPipe::default(),
            deal: Deal::Off,
            recv_cursor: None,
            immediate: options.immediate,
            per_connection: false,
            with_input: BTreeSet::new(),
            events: VecDeque::new(),
            detail: EventDetail::Whole,
            woken: Vec::new(),
            arrivals: options.recv_ready_first.then(Arrivals::ready_first),
        }
    }

    /// Makes a pipe exist only while its connection is up, as NNG's and nanomsg's do,
    /// when `options` ask for it (`SocketOptions::sp_pipe_per_connection`, never on
    /// ZMTP). For the cores whose sends this is all they change: PUB, XSUB, BUS,
    /// SURVEYOR, REP and RESPONDENT. PUSH, PAIR and DEALER have their send buffer
    /// (`send_buffer.rs`), and REQ places its request itself.
    pub(crate) fn pipe_per_connection(&mut self, options: &SocketOptions) {
        self.per_connection = options.sp_pipe_per_connection && !options.zmtp;
    }

    /// Whether a message fanned out now (a PUB's, a BUS's, a survey) has a pipe
    /// `pipe` to go on: with [`Pipes::pipe_per_connection`] only while its connection
    /// is up; otherwise while it is attached, connected or not (`IMMEDIATE=0`).
    pub(crate) fn takes_copies(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.attached && (p.connected || !self.per_connection))
    }

    /// Receives into one queue for the whole socket, as NNG's SUB, XSUB and BUS do
    /// (their `NNG_OPT_RECVBUF`): RCVHWM bounds the messages of every pipe together,
    /// they are taken in the order they arrived, not fair-queued by pipe, and every
    /// attached pipe is read whatever the queue holds (`can_receive`): at a full queue
    /// `push_inbound` refuses the new message and `push_inbound_evicting` discards
    /// the oldest.
    pub fn queue_per_socket(&mut self) {
        self.arrivals = Some(Box::default());
    }

    /// Receives as NNG's raw REP (xrep0) does: into one queue for the socket of
    /// `socket_queue` messages (its `NNG_OPT_RECVBUF`; 0 is a queue of none), in
    /// arrival order, and while that is full each pipe holds one more message and
    /// reads no further. With 0 it is NNG's PULL, REP and RESPONDENT: each pipe holds
    /// one message, and the application takes them in the order the pipes became
    /// ready (their `pl` and `recvpipes` lists), not in turn.
    pub fn queue_per_socket_and_one_per_pipe(&mut self, socket_queue: u32) {
        self.arrivals = Some(Arrivals::one_per_pipe_beyond(socket_queue));
    }

    /// NNG's raw REP and raw REQ (`nng_queues` on SP) receive into the socket's queue of
    /// `NNG_OPT_RECVBUF` (RCVHWM), in arrival order, each pipe holding one message
    /// more while it is full (`xrep0_pipe_recv_cb`, `xreq0_recv_cb`).
    pub(crate) fn receive_as_nng_raw(&mut self, options: &SocketOptions) {
        if options.nng_queues && !options.zmtp {
            self.queue_per_socket_and_one_per_pipe(options.rcvhwm_msgs);
        }
    }

    /// Whether a message from `pipe` may join its inbound queue (the socket's, or the
    /// pipe's own) under RCVHWM.
    fn inbound_below_hwm(&self, id: PipeId, pipe: &Pipe) -> bool {
        match self.arrivals.as_deref() {
            Some(arrivals) => arrivals.has_room_for(id, self.rcvhwm_msgs),
            None => below_hwm(pipe.inbound_held(), self.rcvhwm_msgs),
        }
    }

    /// Whether anyone keeps this socket's events, and with how much of their
    /// messages: each whole (the default), what the trace records of each, or no
    /// events at all, only the pipes to wake (see `detail`).
    pub fn set_detail(&mut self, detail: EventDetail) {
        self.detail = detail;
        // Events from before (a core's construction) become what the new detail keeps.
        for event in std::mem::take(&mut self.events) {
            self.push_event(event);
        }
    }

    /// Untraced: the pipes whose writers have work since the last call, oldest first.
    pub fn drain_woken(&mut self) -> std::vec::Drain<'_, PipeId> {
        self.woken.drain(..)
    }

    /// What an event about `msg` carries of it.
    pub(crate) fn event_msg(&self, msg: &Msg) -> EventMsg {
        event_msg(self.detail, msg)
    }

    /// A new pipe, not yet connected, that can queue outbound messages at once
    /// (ZeroMQ's `IMMEDIATE=0`). Pipe ids are never reused, so a second attach of the
    /// same id is a driver bug.
    pub fn attach(&mut self, pipe: PipeId) {
        let fresh = Pipe { attached: true, ..Pipe::default() };
        let previous = self.pipes.insert(pipe, fresh);
        assert!(previous.is_none(), "pipe {pipe} attached twice");
        // With `immediate`, libzmq makes the pipe only once the connection is up.
        if !(self.immediate && matches!(self.deal, Deal::Lb(_))) {
            self.deal.join(pipe);
        }
    }

    /// Makes this a dealing socket's pipes, sending in `deal`'s order; before any
    /// pipe is attached.
    pub(crate) fn deal_in(&mut self, deal: Deal) {
        debug_assert!(self.pipes.iter().next().is_none(), "chosen before any pipe joins");
        self.deal = deal;
    }

    /// Marks the transport under `pipe` up or down; the queues survive either way.
    /// Unknown or detached pipes are ignored: a connection may report its end after
    /// the driver already detached the pipe.
    /// With `immediate` (or an SP pipe per connection, `Pipes::pipe_per_connection`),
    /// a pipe whose connection drops loses what was queued on it, as
    /// libzmq terminates the pipe of a connection that drops (`PipeClosed`).
    pub fn set_connected(&mut self, pipe: PipeId, connected: bool) {
        let Some(p) = self.pipes.get_mut(&pipe).filter(|p| p.attached) else { return };
        let was = std::mem::replace(&mut p.connected, connected);
        match &self.deal {
            // libzmq with `immediate` makes a pipe when a connection comes up and
            // terminates it when the connection drops.
            Deal::Lb(_) if self.immediate && connected && !was => self.deal.join(pipe),
            Deal::Lb(_) if self.immediate && !connected && was => self.deal.leave(pipe),
            // An SP pipe is the connection: one that comes up again is a new pipe.
            Deal::ReadyList(_) if connected && !was => self.deal.rejoin(pipe),
            _ => {}
        }
        if connected || !(self.immediate || self.per_connection) {
            return;
        }
        // libzmq terminates the pipe, and an SP library frees the connection's; the
        // next connection's is new, its counts at 0.
        (p.unacked_out, p.unacked_in) = (0, 0);
        let lost = p.queues.as_mut().map(|q| std::mem::take(&mut q.outbound));
        p.release_if_empty();
        for msg in lost.into_iter().flatten() {
            self.drop_msg(Some(pipe), DropReason::PipeClosed, msg);
        }
    }

    /// Whether pipes still connecting may be sent to: not with `immediate`.
    pub(crate) fn is_immediate(&self) -> bool {
        self.immediate
    }

    /// Destroys `pipe`. Every message still waiting to go out on it is dropped with a
    /// `PipeClosed` event; what already arrived stays readable (see `Pipe::attached`).
    pub fn detach(&mut self, pipe: PipeId) {
        let Some(p) = self.pipes.get_mut(&pipe).filter(|p| p.attached) else { return };
        p.attached = false;
        p.connected = false;
        let orphans = p.queues.as_mut().map(|q| std::mem::take(&mut q.outbound));
        p.release_if_empty();
        if p.inbound_len() == 0 {
            self.pipes.remove(&pipe);
        }
        self.deal.leave(pipe);
        for msg in orphans.into_iter().flatten() {
            self.drop_msg(Some(pipe), DropReason::PipeClosed, msg);
        }
    }

    pub(crate) fn is_attached(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.attached)
    }

    pub(crate) fn is_connected(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.connected)
    }

    /// Whether [`Pipes::pop_outbound`] would give a message for `pipe`.
    pub(crate) fn has_outbound(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.connected && p.outbound_len() > 0)
    }

    /// Whether `pipe` holds messages to send, connected or not: what a closing socket
    /// with a linger keeps connecting for.
    pub(crate) fn holds_outbound(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.outbound_len() > 0)
    }

    /// Whether `pipe` is attached and its outbound queue is below SNDHWM.
    pub(crate) fn has_room(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.can_take(self.sndhwm_msgs, false))
    }

    /// Whether the driver should read `pipe`: it is attached and its inbound queue is
    /// below RCVHWM, or the socket's queue never stops a pipe (`queue_per_socket`).
    pub fn can_receive(&self, pipe: PipeId) -> bool {
        let reads_on = self.arrivals.as_deref().is_some_and(|a| a.socket_queue.is_none());
        if reads_on { self.is_attached(pipe) } else { self.has_inbound_room(pipe) }
    }

    /// Whether `pipe` is attached and a message from it would find room in its
    /// inbound queue (the socket's, or the pipe's own).
    pub(crate) fn has_inbound_room(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.attached && self.inbound_below_hwm(pipe, p))
    }

    /// The pipe a dealing socket sends to next, in its library's order (`deal.rs`),
    /// among the pipes with room and, on an SP socket asked for `connected_only` (or
    /// with `immediate`), a transport up. Choosing moves the turn on.
    ///
    /// libzmq's `lb_t` knows no `connected_only`: with `immediate` only pipes whose
    /// connection is up are in it, and without, every pipe takes its turn, one still
    /// connecting too.
    pub(crate) fn next_sendable(&mut self, connected_only: bool) -> Option<PipeId> {
        let lb = matches!(self.deal, Deal::Lb(_));
        let connected_only = (connected_only || self.immediate) && !lb;
        let Pipes { pipes, deal, sndhwm_msgs, .. } = self;
        deal.next(|id| pipes.get(&id).is_some_and(|p| p.can_take(*sndhwm_msgs, connected_only)))
    }

    /// Whether [`Pipes::next_sendable`] would find a pipe, without moving the turn.
    pub(crate) fn any_sendable(&self, connected_only: bool) -> bool {
        let connected_only = connected_only || self.immediate;
        self.pipes.iter().any(|(id, _)| self.sendable(*id, connected_only))
    }

    /// Whether `pipe` has room and, if `connected_only`, a transport up.
    fn sendable(&self, pipe: PipeId, connected_only: bool) -> bool {
        self.pipes.get(&pipe).is_some_and(|p| p.can_take(self.sndhwm_msgs, connected_only))
    }

    /// Queues `msg` on `pipe` and reports it `Enqueued` with the new depth. Gives the
    /// message back if the pipe is unknown or at SNDHWM, so the caller applies its
    /// socket type's HWM policy.
    pub fn enqueue(&mut self, pipe: PipeId, msg: Msg) -> Result<(), Msg> {
        if matches!(self.detail, EventDetail::None) {
            // No event to build and drop again: only the writer to wake.
            self.push_outbound(pipe, msg)?;
            self.note_woken(pipe);
            return Ok(());
        }
        let event_msg = self.event_msg(&msg);
        let depth = self.push_outbound(pipe, msg)?;
        self.push_event(SocketEvent::Enqueued { pipe, depth, msg: event_msg });
        Ok(())
    }

    /// Queues `msg` on `pipe` without an event (the caller reports it its own way, as
    /// REQ's `Resent`) and returns the new depth.
    pub(crate) fn push_outbound(&mut self, pipe: PipeId, msg: Msg) -> Result<u32, Msg> {
        // One lookup: a ROUTER with 100,000 pipes pays for each on every send.
        let sndhwm_msgs = self.sndhwm_msgs;
        let room = |p: &&mut Pipe| p.can_take(sndhwm_msgs, false);
        let Some(p) = self.pipes.get_mut(&pipe).filter(room) else { return Err(msg) };
        let queue = &mut p.queues_mut().outbound;
        queue.push_back(msg);
        Ok(depth_of(queue))
    }

    /// The next message to write on `pipe`. Nothing comes out of a pipe whose
    /// transport is down: the message would be lost instead of waiting.
    pub(crate) fn pop_outbound(&mut self, pipe: PipeId) -> Option<Msg> {
        let p = self.pipes.get_mut(&pipe).filter(|p| p.connected)?;
        let msg = p.queues.as_mut()?.outbound.pop_front()?;
        p.unacked_out = Acks::read_one(p.unacked_out, self.acks.out_lwm);
        p.release_if_empty();
        // libzmq's `lb_t` takes a full pipe back when the count of reads reaches it
        // (`activated`), not at every read.
        if p.unacked_out == 0 {
            self.deal.has_room_again(pipe);
        }
        Some(msg)
    }

    /// Takes back the first queued outbound message on `pipe` that `matches`, if any.
    pub(crate) fn take_outbound(
        &mut self,
        pipe: PipeId,
        matches: impl Fn(&Msg) -> bool,
    ) -> Option<Msg> {
        let p = self.pipes.get_mut(&pipe)?;
        let queue = &mut p.queues.as_mut()?.outbound;
        let at = queue.iter().position(matches)?;
        let msg = queue.remove(at);
        p.release_if_empty();
        self.deal.has_room_again(pipe);
        msg
    }

    /// Queues a message that arrived on `pipe` for the application and reports it
    /// `Arrived` with the new depth. The driver stops reading a pipe at RCVHWM, so a
    /// message for a full or unknown pipe means it broke that rule; it is dropped and
    /// reported rather than breaking the bound.
    pub(crate) fn push_inbound(&mut self, pipe: PipeId, msg: Msg) {
        // One lookup: this runs for every message read.
        let (rcvhwm_msgs, detail) = (self.rcvhwm_msgs, self.detail);
        let socket_room = self.arrivals.as_deref().map(|a| a.has_room_for(pipe, rcvhwm_msgs));
        let refused = match self.pipes.get_mut(&pipe).filter(|p| p.attached) {
            None => Some(DropReason::PipeClosed),
            Some(p) if !socket_room.unwrap_or_else(|| below_hwm(p.inbound_held(), rcvhwm_msgs)) => {
                Some(DropReason::Hwm)
            }
            Some(p) => {
                let traced = !matches!(detail, EventDetail::None);
                let event_msg = traced.then(|| event_msg(detail, &msg));
                let queue = &mut p.queues_mut().inbound;
                queue.push_back(msg);
                // The depth reported is the pipe's share, with a queue for the socket
                // too: what came on this pipe and waits.
                let depth = depth_of(queue);
                if let Some(arrivals) = self.arrivals.as_deref_mut() {
                    arrivals.order.push_back(pipe);
                }
                // A pipe is in `with_input` exactly while its inbound queue is not empty.
                if depth == 1 {
                    self.with_input.insert(pipe);
                }
                // Untraced, `Arrived` would be dropped unseen: it is not even made.
                if let Some(msg) = event_msg {
                    self.push_event(SocketEvent::Arrived { pipe, depth, msg });
                }
                return;
            }
        };
        if let Some(reason) = refused {
            self.drop_msg(Some(pipe), reason, msg);
        }
    }

    /// Queues a message that arrived on `pipe` as [`Pipes::push_inbound`] does, but
    /// a full queue first discards its oldest message (`Dropped { reason: Hwm }`), as
    /// NNG's SUB does with `NNG_OPT_SUB_PREFNEW`. For a socket whose driver reads a
    /// pipe whatever its queue holds.
    pub(crate) fn push_inbound_evicting(&mut self, pipe: PipeId, msg: Msg) {
        if self.arrivals.is_some() {
            // The socket's queue: its oldest message goes, whichever pipe it came on.
            let full = self.is_attached(pipe) && !self.has_inbound_room(pipe);
            if full && let Some((from, old)) = self.pop_inbound() {
                self.drop_msg(Some(from), DropReason::Hwm, old);
            }
            return self.push_inbound(pipe, msg);
        }
        let rcvhwm_msgs = self.rcvhwm_msgs;
        let evicted = match self.pipes.get_mut(&pipe).filter(|p| p.attached) {
            Some(p) if !below_hwm(p.inbound_held(), rcvhwm_msgs) => {
                // Full, so not empty: the pipe stays in `with_input` with the new one.
                p.queues.as_mut().and_then(|q| q.inbound.pop_front())
            }
            _ => None,
        };
        if let Some(old) = evicted {
            self.drop_msg(Some(pipe), DropReason::Hwm, old);
        }
        self.push_inbound(pipe, msg);
    }

    /// Queues `msg` on `pipe` as [`Pipes::enqueue_or_drop`] does, but a full queue
    /// first discards its oldest message (`Dropped { reason: Hwm }`): NNG's PUB.
    pub(crate) fn enqueue_evicting(&mut self, pipe: PipeId, msg: Msg) {
        let sndhwm_msgs = self.sndhwm_msgs;
        let full = |p: &&mut Pipe| p.attached && !below_hwm(p.outbound_held(), sndhwm_msgs);
        let evicted = self.pipes.get_mut(&pipe).filter(full);
        if let Some(old) = evicted.and_then(|p| p.queues.as_mut()?.outbound.pop_front()) {
            self.drop_msg(Some(pipe), DropReason::Hwm, old);
        }
        self.enqueue_or_drop(pipe, msg);
    }

    /// Fair queueing: the next message from the first pipe after the last one read
    /// from (wrapping) that has input, so every sender gets its turn.
    /// With a queue for the whole socket, the oldest message of all instead.
    pub(crate) fn pop_inbound(&mut self) -> Option<(PipeId, Msg)> {
        let chosen = if let Some(arrivals) = self.arrivals.as_deref_mut() {
            let oldest = arrivals.order.pop_front()?;
            release_if_empty(&mut arrivals.order);
            oldest
        } else if self.with_input.len() == 1 {
            // The only pipe with input is next whatever the cursor (one pipe's socket).
            self.with_input.first().copied()?
        } else {
            let after = self.recv_cursor.map_or(Bound::Unbounded, Bound::Excluded);
            self.with_input
                .range((after, Bound::Unbounded))
                .next()
                .or_else(|| self.with_input.iter().next())
                .copied()?
        };
        self.recv_cursor = Some(chosen);
        let pipe = self.pipes.get_mut(&chosen).expect("pipes with input are in the map");
        let queues = pipe.queues.as_mut().expect("chosen for its input");
        let msg = queues.inbound.pop_front().expect("chosen for its input");
        pipe.unacked_in = Acks::read_one(pipe.unacked_in, self.acks.in_lwm);
        pipe.release_if_empty();
        if pipe.inbound_len() == 0 {
            self.with_input.remove(&chosen);
            if !pipe.attached {
                self.pipes.remove(&chosen);
            }
        }
        Some((chosen, msg))
    }

    /// Queues `msg` on `pipe`, or reports it dropped as `Hwm` when the pipe is full:
    /// the HWM policy of the socket types that never block ([`super::HwmPolicy::Drop`]).
    pub(crate) fn enqueue_or_drop(&mut self, pipe: PipeId, msg: Msg) {
        if let Err(msg) = self.enqueue(pipe, msg) {
            self.drop_msg(Some(pipe), DropReason::Hwm, msg);
        }
    }

    /// Queues a copy of `msg` on every attached pipe, connected or not (`IMMEDIATE=0`);
    /// a full pipe drops its copy as `Hwm`. BUS and SURVEYOR send this way, and SUB
    /// its subscriptions. With [`Pipes::pipe_per_connection`] only pipes whose
    /// connection is up take a copy: the SP libraries have no pipe for a peer still
    /// being dialled, so its copy goes nowhere, without an event, as a PUB's message
    /// that no subscriber is there to take.
    pub(crate) fn copy_to_attached(&mut self, msg: &Msg) {
        for pipe in self.attached_ids() {
            if self.takes_copies(pipe) {
                self.enqueue_or_drop(pipe, msg.clone());
            }
        }
    }

    /// The attached pipes in id order, leaving out detached ones kept for their
    /// unread input.
    pub(crate) fn attached_ids(&self) -> Vec<PipeId> {
        self.pipes.iter().filter(|(_, p)| p.attached).map(|(id, _)| *id).collect()
    }

    pub(crate) fn drop_msg(&mut self, pipe: Option<PipeId>, reason: DropReason, msg: Msg) {
        self.push_event(SocketEvent::Dropped { pipe, reason, msg });
    }

    pub(crate) fn push_event(&mut self, event: SocketEvent) {
        if !matches!(self.detail, EventDetail::None) {
            if self.events.capacity() == 0 {
                self.events = spare_events();
            }
            return self.events.push_back(event);
        }
        if let SocketEvent::Enqueued { pipe, .. } | SocketEvent::Resent { pipe, .. } = event {
            self.note_woken(pipe);
        }
    }

    /// Untraced: `pipe`'s writer has work (what `Enqueued` and `Resent` say).
    fn note_woken(&mut self, pipe: PipeId) {
        if self.woken.last() != Some(&pipe) {
            self.woken.push(pipe);
        }
    }

    /// The next pending event; the queue's room goes to this thread's spare once it
    /// is empty, which is after every core call, since the driver drains it then.
    pub(crate) fn pop_event(&mut self) -> Option<SocketEvent> {
        let event = self.events.pop_front();
        if self.events.is_empty() && self.events.capacity() > 0 {
            keep_spare_events(std::mem::take(&mut self.events));
        }
        event
    }
}

/// Helpers shared by the socket cores' unit tests and the property test.
#[cfg(test)]
pub(super) mod testing {
    use std::time::Duration;

    use super::super::{DropReason, Msg, PipeId, SocketCore, SocketEvent, SocketOptions};

    pub fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    pub fn opts(sndhwm_msgs: u32, rcvhwm_msgs: u32) -> SocketOptions {
        SocketOptions { sndhwm_msgs, rcvhwm_msgs, ..SocketOptions::default() }
    }

    pub fn msg(header: &[u32], body: &'static str) -> Msg {
        Msg { header: header.to_vec(), body: body.into() }
    }

    pub fn events(core: &mut dyn SocketCore) -> Vec<SocketEvent> {
        std::iter::from_fn(|| core.poll_event()).collect()
    }

    /// Attaches the pipes and brings their transports up, as a driver does when
    /// every peer is reachable.
    pub fn up(core: &mut dyn SocketCore, pipes: &[PipeId]) {
        for pipe in pipes {
            core.attach(*pipe, Duration::ZERO);
            core.set_connected(*pipe, true, Duration::ZERO);
        }
    }

    /// The bodies of the messages `events` report dropped on `pipe` for `reason`.
    pub fn dropped(events: &[SocketEvent], pipe: PipeId, reason: DropReason) -> Vec<String> {
        let bodies = events.iter().filter_map(|e| match e {
            SocketEvent::Dropped { pipe: Some(p), reason: r, msg }
                if *p == pipe && *r == reason =>
            {
                Some(String::from_utf8_lossy(&msg.body).into_owned())
            }
            _ => None,
        });
        bodies.collect()
    }

    /// Owned strings, to compare with what the helpers above return.
    pub fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    /// Options for a PUSH or PAIR that queues as the SP libraries' do, with a send
    /// buffer of `send_buffer` messages.
    pub fn sp_options(send_buffer: u32) -> SocketOptions {
        SocketOptions { sp_send_buffer: Some(send_buffer), ..opts(1000, 10) }
    }

    /// Options for a socket of an SP library whose pipe is its connection
    /// (`SocketOptions::sp_pipe_per_connection`: `library: nng` or `nanomsg`).
    pub fn per_connection(sndhwm_msgs: u32, rcvhwm_msgs: u32) -> SocketOptions {
        SocketOptions { sp_pipe_per_connection: true, ..opts(sndhwm_msgs, rcvhwm_msgs) }
    }

    /// The bodies of everything `pipe` would write now.
    pub fn written(core: &mut dyn SocketCore, pipe: PipeId) -> Vec<String> {
        transmit_all(core, pipe).into_iter().map(|(_, body)| body).collect()
    }

    /// Everything `pipe` would write now, as `(header, body)` pairs.
    /// Each message is written at once (`SocketCore::on_written`), so a pipe of the
    /// SP libraries' PUSH, PAIR or DEALER takes the next waiting one as it goes.
    pub fn transmit_all(core: &mut dyn SocketCore, pipe: PipeId) -> Vec<(Vec<u32>, String)> {
        std::iter::from_fn(|| {
            let msg = core.poll_transmit(pipe, Duration::ZERO)?;
            core.on_written(pipe, Duration::ZERO);
            Some(msg)
        })
        .map(|m| (m.header, String::from_utf8_lossy(&m.body).into_owned()))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{msg, opts};
    use super::*;

    fn pipes_with(sndhwm: u32, rcvhwm: u32, ids: &[PipeId]) -> Pipes {
        dealing(Pipes::new(&opts(sndhwm, rcvhwm)), Deal::Off, ids)
    }

    /// `pipes` dealing in `deal`'s order, with `ids` attached and connected.
    fn dealing(mut pipes: Pipes, deal: Deal, ids: &[PipeId]) -> Pipes {
        pipes.deal_in(deal);
        for id in ids {
            pipes.attach(*id);
            pipes.set_connected(*id, true);
        }
        pipes
    }

    fn bodies(pipes: &mut Pipes) -> Vec<(PipeId, String)> {
        std::iter::from_fn(|| pipes.pop_inbound())
            .map(|(p, m)| (p, String::from_utf8_lossy(&m.body).into_owned()))
            .collect()
    }

    /// libzmq's `lb_t` through `Pipes`: each pipe in turn, a full one swapped out of
    /// the turn, and a drained one back in it, first of what is left.
    #[test]
    fn libzmq_deals_in_turn_and_takes_a_drained_pipe_back() {
        let mut pipes = dealing(Pipes::new(&opts(1, 10)), Deal::libzmq(), &[3, 5, 9]);
        assert_eq!(pipes.next_sendable(false), Some(3));
        pipes.enqueue(3, msg(&[], "a")).unwrap();
        assert_eq!(pipes.next_sendable(false), Some(5));
        pipes.enqueue(5, msg(&[], "b")).unwrap();
        pipes.pop_outbound(3).unwrap();
        // 9 is next, then the turn wraps to 3, which has room again; 5 is full.
        assert_eq!(pipes.next_sendable(false), Some(9));
        pipes.enqueue(9, msg(&[], "c")).unwrap();
        assert_eq!(pipes.next_sendable(false), Some(3));
        pipes.enqueue(3, msg(&[], "d")).unwrap();
        assert_eq!(pipes.next_sendable(false), None);
        pipes.pop_outbound(5).unwrap();
        assert_eq!(pipes.next_sendable(false), Some(5), "the drained pipe is back");
    }

    /// How many more messages `pipe` takes now, up to `most`, each body `more`.
    fn takes(pipes: &mut Pipes, pipe: PipeId, most: usize) -> usize {
        (0..most).take_while(|_| pipes.enqueue(pipe, msg(&[], "more")).is_ok()).count()
    }

    /// libzmq's pipe hears of reads every LWM ((10 + 1) / 2 = 5 at an HWM of 10), so
    /// messages taken off it hold their place until the count reaches the LWM; the SP
    /// libraries' queues free a place at every read.
    #[test]
    fn libzmq_frees_a_pipe_s_places_a_low_water_mark_at_a_time() {
        let zmq = SocketOptions { zmtp: true, ..opts(10, 10) };
        let mut pipes = dealing(Pipes::new(&zmq), Deal::Off, &[1]);
        assert_eq!(takes(&mut pipes, 1, 20), 10);
        (0..4).for_each(|_| drop(pipes.pop_outbound(1).unwrap()));
        assert_eq!(takes(&mut pipes, 1, 20), 0, "4 read, none heard of yet");
        pipes.pop_outbound(1).unwrap();
        assert_eq!(takes(&mut pipes, 1, 20), 5, "the fifth read is heard of: 5 places");
        // Reads are counted across an empty queue too: 3 of them hold 3 places.
        (0..10).for_each(|_| drop(pipes.pop_outbound(1).unwrap()));
        assert_eq!(pipes.pop_outbound(1), None);
        assert_eq!(takes(&mut pipes, 1, 20), 10, "10 reads, two counts heard of");
        (0..3).for_each(|_| drop(pipes.pop_outbound(1).unwrap()));
        assert_eq!(takes(&mut pipes, 1, 20), 0);

        // Inbound, the application's reads free the connection's places the same way.
        (0..10).for_each(|_| pipes.push_inbound(1, msg(&[], "in")));
        assert!(!pipes.has_inbound_room(1));
        (0..4).for_each(|_| drop(pipes.pop_inbound().unwrap()));
        assert!(!pipes.has_inbound_room(1), "4 read, none heard of yet");
        pipes.pop_inbound().unwrap();
        assert!(pipes.has_inbound_room(1));

        let sp = opts(10, 10);
        let mut pipes = dealing(Pipes::new(&sp), Deal::Off, &[1]);
        assert_eq!(takes(&mut pipes, 1, 20), 10);
        (0..4).for_each(|_| drop(pipes.pop_outbound(1).unwrap()));
        assert_eq!(takes(&mut pipes, 1, 20), 4, "an SP queue frees each place as it is read");
        // No limit, no count: libzmq's HWM of 0.
        let unlimited = SocketOptions { zmtp: true, ..opts(0, 0) };
        let mut pipes = dealing(Pipes::new(&unlimited), Deal::Off, &[1]);
        assert_eq!(takes(&mut pipes, 1, 3000), 3000);
    }

    /// With `immediate`, libzmq terminates a pipe whose connection drops, and the next
    /// connection's pipe starts its counts afresh.
    #[test]
    fn libzmq_with_immediate_counts_reads_afresh_on_a_new_connection() {
        let zmq = SocketOptions { zmtp: true, immediate: true, ..opts(10, 10) };
        let mut pipes = dealing(Pipes::new(&zmq), Deal::Off, &[1]);
        assert_eq!(takes(&mut pipes, 1, 4), 4);
        (0..4).for_each(|_| drop(pipes.pop_outbound(1).unwrap()));
        assert_eq!(takes(&mut pipes, 1, 20), 6, "4 read, none heard of yet");
        pipes.set_connected(1, false);
        pipes.set_connected(1, true);
        assert_eq!(takes(&mut pipes, 1, 20), 10, "a new pipe: all 10 places");
    }

    /// libzmq's `lb_t` takes a pipe swapped out as full back when the count of reads
    /// reaches the pipe (`activated`), not at every read.
    #[test]
    fn libzmq_deals_to_a_full_pipe_again_once_its_reads_are_heard_of() {
        let zmq = SocketOptions { zmtp: true, ..opts(2, 10) };
        let mut pipes = dealing(Pipes::new(&zmq), Deal::libzmq(), &[1, 2]);
        for pipe in [1, 2, 1, 2] {
            assert_eq!(pipes.next_sendable(false), Some(pipe));
            pipes.enqueue(pipe, msg(&[], "m")).unwrap();
        }
        assert_eq!(pipes.next_sendable(false), None, "both at SNDHWM 2");
        // An HWM of 2 has an LWM of 1: each read is heard of at once.
        pipes.pop_outbound(2).unwrap();
        assert_eq!(pipes.next_sendable(false), Some(2));

        let zmq = SocketOptions { zmtp: true, ..opts(4, 10) };
        let mut pipes = dealing(Pipes::new(&zmq), Deal::libzmq(), &[1]);
        assert_eq!(takes(&mut pipes, 1, 9), 4);
        assert_eq!(pipes.next_sendable(false), None, "swapped out as full");
        pipes.pop_outbound(1).unwrap();
        assert_eq!(pipes.next_sendable(false), None, "one read of an LWM of 2: not yet");
        pipes.pop_outbound(1).unwrap();
        assert_eq!(pipes.next_sendable(false), Some(1), "the second read is heard of");
    }

    /// With `immediate`, libzmq's pipe exists while its connection is up: a pipe
    /// still connecting gets no turn, one that comes up joins, one that drops leaves.
    #[test]
    fn libzmq_with_immediate_deals_only_to_pipes_whose_connection_is_up() {
        let options = SocketOptions { immediate: true, ..opts(10, 10) };
        let mut pipes = dealing(Pipes::new(&options), Deal::libzmq(), &[1]);
        pipes.attach(2);
        assert_eq!(pipes.next_sendable(false), Some(1));
        assert_eq!(pipes.next_sendable(false), Some(1));
        pipes.set_connected(2, true);
        assert_eq!([pipes.next_sendable(false), pipes.next_sendable(false)], [Some(1), Some(2)]);
        pipes.set_connected(2, false);
        assert_eq!([pipes.next_sendable(false), pipes.next_sendable(false)], [Some(1), Some(1)]);
    }

    /// The SP ready list: a choice may ask for a connected pipe; a pipe taken goes to
    /// the back, and so does one whose connection comes up again.
    #[test]
    fn an_sp_choice_may_skip_pipes_still_connecting_and_a_reconnected_pipe_goes_last() {
        let mut pipes = dealing(Pipes::new(&opts(10, 10)), Deal::ready_list(), &[1]);
        pipes.attach(2);
        assert_eq!(pipes.next_sendable(true), Some(1));
        assert_eq!(pipes.next_sendable(true), Some(1));
        assert_eq!(pipes.next_sendable(false), Some(2));
        pipes.set_connected(2, true);
        pipes.set_connected(1, false);
        pipes.set_connected(1, true);
        assert_eq!([pipes.next_sendable(true), pipes.next_sendable(true)], [Some(2), Some(1)]);
    }

    #[test]
    fn receive_is_fair_queued_across_pipes() {
        let mut pipes = pipes_with(10, 10, &[1, 2, 3]);
        for (pipe, body) in [(1, "a1"), (1, "a2"), (1, "a3"), (2, "b1"), (3, "c1"), (3, "c2")] {
            pipes.push_inbound(pipe, msg(&[], body));
        }
        let order: Vec<_> = bodies(&mut pipes).into_iter().map(|(_, b)| b).collect();
        assert_eq!(order, ["a1", "b1", "c1", "a2", "c2", "a3"]);
    }

    #[test]
    fn detach_drops_outbound_as_pipe_closed_but_keeps_what_arrived() {
        let mut pipes = pipes_with(10, 10, &[1, 2]);
        pipes.enqueue(1, msg(&[], "out1")).unwrap();
        pipes.enqueue(1, msg(&[], "out2")).unwrap();
        pipes.push_inbound(1, msg(&[], "in"));
        std::iter::from_fn(|| pipes.pop_event()).for_each(drop);
        pipes.detach(1);
        let dropped: Vec<_> = std::iter::from_fn(|| pipes.pop_event()).collect();
        assert_eq!(
            dropped,
            ["out1", "out2"].map(|b| SocketEvent::Dropped {
                pipe: Some(1),
                reason: DropReason::PipeClosed,
                msg: msg(&[], b),
            })
        );
        assert!(!pipes.is_attached(1) && !pipes.has_room(1) && !pipes.can_receive(1));
        assert_eq!(bodies(&mut pipes), [(1, "in".to_string())]);
        // Drained, the pipe is gone for good: a late message from it is reported.
        pipes.push_inbound(1, msg(&[], "late"));
        assert!(matches!(
            pipes.pop_event(),
            Some(SocketEvent::Dropped { reason: DropReason::PipeClosed, .. })
        ));
        assert_eq!(pipes.pop_inbound(), None);
    }

    #[test]
    fn queues_stop_at_their_high_water_marks() {
        let mut pipes = pipes_with(2, 2, &[1]);
        assert!(pipes.enqueue(1, msg(&[], "a")).is_ok());
        assert!(pipes.enqueue(1, msg(&[], "b")).is_ok());
        assert_eq!(pipes.enqueue(1, msg(&[], "c")), Err(msg(&[], "c")));
        pipes.push_inbound(1, msg(&[], "x"));
        assert!(pipes.can_receive(1));
        pipes.push_inbound(1, msg(&[], "y"));
        assert!(!pipes.can_receive(1));
        pipes.push_inbound(1, msg(&[], "z"));
        let events: Vec<_> = std::iter::from_fn(|| pipes.pop_event()).collect();
        let depths: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                SocketEvent::Enqueued { depth, .. } | SocketEvent::Arrived { depth, .. } => {
                    Some(*depth)
                }
                _ => None,
            })
            .collect();
        assert_eq!(depths, [1, 2, 1, 2]);
        assert!(matches!(
            events.last(),
            Some(SocketEvent::Dropped { reason: DropReason::Hwm, .. })
        ));
    }

    /// BUS, SURVEYOR and SUB once kept their own set of attached pipes because a
    /// detached pipe lingers here while it has unread input; `copy_to_attached`
    /// must skip such a pipe as those sets did.
    #[test]
    fn copies_skip_a_detached_pipe_with_unread_input_and_drop_on_a_full_one() {
        let mut pipes = pipes_with(1, 10, &[1, 2, 3]);
        pipes.push_inbound(2, msg(&[], "unread"));
        pipes.detach(2);
        pipes.enqueue(3, msg(&[], "fills 3")).unwrap();
        std::iter::from_fn(|| pipes.pop_event()).for_each(drop);
        assert_eq!(pipes.attached_ids(), [1, 3]);
        pipes.copy_to_attached(&msg(&[], "copy"));
        let events: Vec<_> = std::iter::from_fn(|| pipes.pop_event()).collect();
        assert_eq!(
            events,
            [
                SocketEvent::Enqueued { pipe: 1, depth: 1, msg: EventMsg::Whole(msg(&[], "copy")) },
                SocketEvent::Dropped {
                    pipe: Some(3),
                    reason: DropReason::Hwm,
                    msg: msg(&[], "copy")
                },
            ]
        );
        assert_eq!(bodies(&mut pipes), [(2, "unread".to_string())]);
    }

    #[test]
    fn an_untraced_socket_keeps_no_events_only_the_pipes_to_wake() {
        let mut pipes = pipes_with(3, 10, &[1, 2]);
        pipes.set_detail(EventDetail::None);
        for (pipe, body) in [(1, "a"), (1, "b"), (2, "c"), (1, "d")] {
            pipes.enqueue(pipe, msg(&[], body)).unwrap();
        }
        assert_eq!(pipes.enqueue(1, msg(&[], "full")), Err(msg(&[], "full")));
        pipes.push_inbound(1, msg(&[], "in"));
        pipes.push_inbound(9, msg(&[], "unknown pipe"));
        assert_eq!(pipes.pop_event(), None);
        assert_eq!(pipes.drain_woken().collect::<Vec<_>>(), [1, 2, 1]);
        assert_eq!(pipes.drain_woken().count(), 0);
        assert_eq!(bodies(&mut pipes), [(1, "in".to_string())]);
        assert_eq!(pipes.pop_outbound(1), Some(msg(&[], "a")));
    }

    /// A traced socket's events carry what the owner's function says of each message,
    /// worked out from the message as it was queued; a drop hands the message itself.
    #[test]
    fn a_socket_traced_for_info_carries_what_its_function_says_of_each_message() {
        fn info(msg: &Msg) -> MsgInfo {
            MsgInfo { id: None, request_id: msg.request_id(), len: msg.body.len() as u64 }
        }
        let mut pipes = pipes_with(1, 10, &[1]);
        pipes.set_detail(EventDetail::Info(info));
        pipes.enqueue(1, msg(&[0x8000_0007], "out")).unwrap();
        pipes.push_inbound(1, msg(&[], "in, longer"));
        pipes.copy_to_attached(&msg(&[], "over the HWM"));
        let events: Vec<_> = std::iter::from_fn(|| pipes.pop_event()).collect();
        let out = MsgInfo { id: None, request_id: Some(0x8000_0007), len: 3 };
        let arrived = MsgInfo { id: None, request_id: None, len: 10 };
        assert_eq!(
            events,
            [
                SocketEvent::Enqueued { pipe: 1, depth: 1, msg: EventMsg::Info(out) },
                SocketEvent::Arrived { pipe: 1, depth: 1, msg: EventMsg::Info(arrived) },
                SocketEvent::Dropped {
                    pipe: Some(1),
                    reason: DropReason::Hwm,
                    msg: msg(&[], "over the HWM")
                },
            ]
        );
    }

    #[test]
    fn zero_hwm_means_no_limit() {
        let mut pipes = pipes_with(0, 0, &[1]);
        for _ in 0..5000 {
            pipes.enqueue(1, msg(&[], "m")).unwrap();
        }
        assert!(pipes.has_room(1) && pipes.can_receive(1));
    }

    #[test]
    fn nothing_is_written_while_the_transport_is_down() {
        let mut pipes = pipes_with(10, 10, &[1]);
        pipes.enqueue(1, msg(&[], "a")).unwrap();
        pipes.set_connected(1, false);
        assert_eq!(pipes.pop_outbound(1), None);
        pipes.set_connected(1, true);
        assert_eq!(pipes.pop_outbound(1), Some(msg(&[], "a")));
    }

    /// An SP library's pipe is its connection: copies go only to pipes whose
    /// connection is up, and a pipe whose connection drops loses what it held, so the
    /// next connection starts empty. libzmq (ZMTP), asked the same, keeps both.
    #[test]
    fn an_sp_pipe_per_connection_takes_copies_only_while_up_and_loses_its_queue_with_it() {
        let mut pipes = Pipes::new(&testing::per_connection(10, 10));
        pipes.pipe_per_connection(&testing::per_connection(10, 10));
        for id in [1, 2] {
            pipes.attach(id);
        }
        pipes.set_connected(1, true);
        pipes.copy_to_attached(&msg(&[], "a"));
        assert_eq!((pipes.takes_copies(1), pipes.takes_copies(2)), (true, false));
        assert!(!pipes.holds_outbound(2), "no pipe yet for a peer being dialled");
        pipes.set_connected(1, false);
        let lost: Vec<_> = std::iter::from_fn(|| pipes.pop_event()).collect();
        assert_eq!(
            lost,
            [
                SocketEvent::Enqueued { pipe: 1, depth: 1, msg: EventMsg::Whole(msg(&[], "a")) },
                SocketEvent::Dropped {
                    pipe: Some(1),
                    reason: DropReason::PipeClosed,
                    msg: msg(&[], "a")
                },
            ]
        );
        pipes.set_connected(1, true);
        assert_eq!(pipes.pop_outbound(1), None, "the new connection starts empty");

        let zmtp = SocketOptions { zmtp: true, ..testing::per_connection(10, 10) };
        let mut pipes = Pipes::new(&zmtp);
        pipes.pipe_per_connection(&zmtp);
        pipes.attach(1);
        pipes.copy_to_attached(&msg(&[], "queued"));
        pipes.set_connected(1, true);
        pipes.set_connected(1, false);
        pipes.set_connected(1, true);
        assert_eq!(pipes.pop_outbound(1).map(|m| m.body), Some("queued".into()));
    }
}
