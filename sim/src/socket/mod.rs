//! Sans-IO socket cores: the semantics of each socket type as a state machine.
//!
//! A core takes events in (a pipe attached, a message arrived, the application sent,
//! a timer fired) and hands actions out (a message to write on a pipe, a message for
//! the application, the next deadline, events for the trace). It never touches a
//! network, a clock or a runtime: the driver in `net/` owns those, so the same core
//! runs over turmoil, over tokio, and under unit tests that step it by hand.
//!
//! Time is a [`Duration`] since the start of the run, handed in by the driver.
//!
//! The message model is SP's (nanomsg/NNG): a message is a body plus a stack of
//! 32-bit routing ids (the "backtrace"). A ZeroMQ ROUTER's identity frame is modelled
//! as the hop id it pushes onto that stack, which is exactly what NNG's raw REP does.

/// Writes [`SocketCore::pipes`] and [`SocketCore::pipes_mut`] for a core that keeps
/// its [`Pipes`] in the named field: the same two accessors in every core otherwise.
/// It writes [`SocketCore::may_transmit`] too, answered from the pipes, which is
/// exact only for a core whose `poll_transmit` hands out nothing but its pipes'
/// outbound queues (the provided one, REQ's, PULL's that never queues): a core that
/// makes messages up in `poll_transmit` does not use this macro.
/// Defined before the `mod` lines below, since a `macro_rules!` is visible only to
/// the code that follows it.
macro_rules! pipes_in_field {
    ($field:ident) => {
        fn pipes(&self) -> &$crate::socket::Pipes {
            &self.$field
        }

        fn pipes_mut(&mut self) -> &mut $crate::socket::Pipes {
            &mut self.$field
        }

        fn may_transmit(&self, pipe: $crate::socket::PipeId) -> bool {
            self.$field.has_outbound(pipe)
        }
    };
}

/// [`pipes_in_field!`] for a core whose sends may queue on the socket, as the SP
/// libraries' PUSH and DEALER do (`send_buffer.rs`): the accessors, and a
/// connection's coming and going, a transmit and [`SocketCore::may_transmit`], each
/// through the send buffer in the second field when the socket keeps one.
macro_rules! buffered_pipes_in_fields {
    ($pipes:ident, $buffer:ident) => {
        fn pipes(&self) -> &$crate::socket::Pipes {
            &self.$pipes
        }

        fn pipes_mut(&mut self) -> &mut $crate::socket::Pipes {
            &mut self.$pipes
        }

        fn set_connected(
            &mut self,
            pipe: $crate::socket::PipeId,
            connected: bool,
            _now: std::time::Duration,
        ) {
            self.$pipes.set_connected(pipe, connected);
            if let Some(buffer) = &mut self.$buffer {
                buffer.set_connected(&mut self.$pipes, pipe, connected);
            }
        }

        fn poll_transmit(
            &mut self,
            pipe: $crate::socket::PipeId,
            _now: std::time::Duration,
        ) -> Option<$crate::socket::Msg> {
            match &mut self.$buffer {
                Some(buffer) => buffer.poll_transmit(&mut self.$pipes, pipe),
                None => self.$pipes.pop_outbound(pipe),
            }
        }

        fn may_transmit(&self, pipe: $crate::socket::PipeId) -> bool {
            match &self.$buffer {
                Some(buffer) => buffer.may_transmit(&self.$pipes, pipe),
                None => self.$pipes.has_outbound(pipe),
            }
        }

        fn on_written(&mut self, pipe: $crate::socket::PipeId, _now: std::time::Duration) {
            if let Some(buffer) = &mut self.$buffer {
                buffer.on_written(&mut self.$pipes, pipe);
            }
        }

        fn tracks_writes(&self) -> bool {
            self.$buffer.is_some()
        }
    };
}

mod bus;
mod by_pipe;
mod deal;
mod dealer;
pub mod multipart;
mod options;
mod pair;
mod pipes;
#[cfg(test)]
mod props;
mod publish;
mod pull;
mod push;
mod rep;
mod req;
mod resend_tick;
mod respondent;
mod router;
mod send_buffer;
mod subscribe;
mod subscriptions;
mod surveyor;
#[cfg(test)]
mod tests;

use std::time::Duration;

use bytes::Bytes;

pub use bus::Bus;
pub(crate) use by_pipe::ByPipe;
pub use dealer::Dealer;
pub use options::{
    HANDSHAKE_IVL_LIBZMQ, HANDSHAKE_IVL_NANOMSG, HANDSHAKE_IVL_NNG, Linger, ReconnectBackoff,
    SocketBuffers, SocketOptions,
};
pub use pair::Pair;
pub use pipes::Pipes;
pub use publish::Publisher;
pub use pull::Pull;
pub use push::Push;
pub use rep::Rep;
pub use req::Req;
pub use respondent::Respondent;
pub use router::Router;
pub use subscribe::Subscriber;
pub use surveyor::Surveyor;

/// Identifies one pipe (one connected peer) of one socket. Assigned by the driver,
/// unique within the socket, never reused during a run.
pub type PipeId = u32;

/// The high bit marks a request id (REQ, SURVEYOR) on the backtrace stack; ids with
/// the high bit clear are hop ids pushed by ROUTER-like sockets and devices.
pub const REQUEST_ID_BIT: u32 = 0x8000_0000;

/// The socket types patchbay models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SocketType {
    /// Request: one request out, then its reply.
    Req,
    /// Reply: one request in, then its reply.
    Rep,
    /// REQ's asynchronous form: no lockstep, no envelope of its own.
    Dealer,
    /// REP's asynchronous form: routes by the hop id it pushed.
    Router,
    /// Publish: to every subscriber whose subscription matches.
    Pub,
    /// Subscribe: receives what matches its subscriptions.
    Sub,
    /// A PUB that also hands its subscribers' subscriptions to the application.
    XPub,
    /// A SUB whose subscriptions are messages the application sends.
    XSub,
    /// Pipeline upstream: round-robins to pullers.
    Push,
    /// Pipeline downstream: fair-queues from pushers.
    Pull,
    /// One peer, both ways.
    Pair,
    /// Asks every respondent, collects answers until a deadline.
    Surveyor,
    /// Answers a surveyor's survey.
    Respondent,
    /// Every peer's messages to every other peer (nanomsg, NNG).
    Bus,
}

impl SocketType {
    /// Whether a core of this type reads the time its calls are given: REQ (resend
    /// interval), SURVEYOR (survey deadline) and RESPONDENT (which hands it to the REP
    /// inside it). Every other core only stamps its events with it, so an untraced
    /// driver need not read the clock for it (`net/shared.rs`); `socket::props`
    /// checks that their behaviour does not depend on it.
    pub fn keeps_timers(self) -> bool {
        matches!(self, SocketType::Req | SocketType::Surveyor | SocketType::Respondent)
    }

    /// Every type, in the order tables list them.
    pub const ALL: [SocketType; 14] = [
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::XPub,
        SocketType::XSub,
        SocketType::Push,
        SocketType::Pull,
        SocketType::Pair,
        SocketType::Surveyor,
        SocketType::Respondent,
        SocketType::Bus,
    ];

    /// The name as written in topology files (upper case, as in the libraries' docs).
    pub fn name(self) -> &'static str {
        match self {
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Push => "PUSH",
            SocketType::Pull => "PULL",
            SocketType::Pair => "PAIR",
            SocketType::Surveyor => "SURVEYOR",
            SocketType::Respondent => "RESPONDENT",
            SocketType::Bus => "BUS",
        }
    }

    /// The type a file's name stands for (any case), if any.
    pub fn from_name(name: &str) -> Option<SocketType> {
        SocketType::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// Whether `self` may be connected to `peer`: the table in
    /// docs/sp-wire.md and docs/library-semantics.md (ZeroMQ pairs plus nanomsg's
    /// SURVEYOR–RESPONDENT and BUS–BUS). Symmetric.
    pub fn pairs_with(self, peer: SocketType) -> bool {
        use SocketType::*;
        let pub_like = |t| matches!(t, Pub | XPub);
        let sub_like = |t| matches!(t, Sub | XSub);
        let ok = |a: SocketType, b: SocketType| match (a, b) {
            (x, y) if pub_like(x) && sub_like(y) => true,
            (Req, Rep) | (Req, Router) => true,
            (Dealer, Rep) | (Dealer, Router) | (Dealer, Dealer) => true,
            (Router, Router) => true,
            (Push, Pull) => true,
            (Pair, Pair) => true,
            (Surveyor, Respondent) => true,
            (Bus, Bus) => true,
            _ => false,
        };
        ok(self, peer) || ok(peer, self)
    }

    /// The socket types `self` may pair with, for hints in diagnostics.
    pub fn valid_peers(self) -> Vec<SocketType> {
        SocketType::ALL.into_iter().filter(|p| self.pairs_with(*p)).collect()
    }

    /// What the socket does when a pipe is at its send high-water mark.
    pub fn hwm_policy(self) -> HwmPolicy {
        use SocketType::*;
        match self {
            Pub | XPub | Router | Surveyor | Bus | Rep | Respondent => HwmPolicy::Drop,
            Req | Dealer | Push | Pair | Sub | XSub | Pull => HwmPolicy::Block,
        }
    }
}

impl std::fmt::Display for SocketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Builds the sans-IO core for a socket type: the one place a [`SocketType`] becomes
/// its core, used by the run, the benches and the property tests alike.
/// `first_request_id` is where REQ's and SURVEYOR's ids start (the run draws it from
/// its seeded random source); the other types ignore it.
pub fn make_core(
    t: SocketType,
    options: &SocketOptions,
    first_request_id: u32,
) -> Box<dyn SocketCore> {
    let o = options.clone();
    match t {
        SocketType::Req => Box::new(Req::new(o, first_request_id)),
        SocketType::Rep => Box::new(Rep::new(o)),
        SocketType::Dealer => Box::new(Dealer::new(o)),
        SocketType::Router => Box::new(Router::new(o)),
        SocketType::Surveyor => Box::new(Surveyor::new(o, first_request_id)),
        SocketType::Respondent => Box::new(Respondent::new(o)),
        SocketType::Bus => Box::new(Bus::new(o)),
        SocketType::Pub => Box::new(Publisher::new_pub(o)),
        SocketType::XPub => Box::new(Publisher::new_xpub(o)),
        SocketType::Sub => Box::new(Subscriber::new_sub(o)),
        SocketType::XSub => Box::new(Subscriber::new_xsub(o)),
        SocketType::Push => Box::new(Push::new(o)),
        SocketType::Pull => Box::new(Pull::new(o)),
        SocketType::Pair => Box::new(Pair::new(o)),
    }
}

/// What a full pipe does to a new message (docs/library-semantics.md, "Behaviour per socket type").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwmPolicy {
    /// The send fails with [`SendError::WouldBlock`]; the application waits.
    Block,
    /// The message is discarded and a [`SocketEvent::Dropped`] records why.
    Drop,
}

/// One message: the SP backtrace stack plus an opaque body.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Msg {
    /// Routing ids, outermost first: hop ids pushed by ROUTERs and devices, ending
    /// with the request id (high bit set) where the protocol has one.
    pub header: Vec<u32>,
    /// The body: a patchbay payload (`wire::payload`) or a peer's bytes.
    pub body: Bytes,
}

impl Msg {
    /// A message with this body and an empty stack.
    pub fn new(body: impl Into<Bytes>) -> Msg {
        Msg { header: Vec::new(), body: body.into() }
    }

    /// The request id on the stack (the first id with the high bit set), if any.
    pub fn request_id(&self) -> Option<u32> {
        self.header.iter().copied().find(|id| id & REQUEST_ID_BIT != 0)
    }
}

/// What is known of a message at an event: what a trace records of it (the
/// function that works it out, `wire::payload::msg_info`, reads the payload, which
/// the wire layer defines).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgInfo {
    /// The id the designs carry in the payload (a `plan::MsgId`); `None` for a
    /// message without one (a routing envelope alone, a peer's bytes that are not a
    /// patchbay payload).
    pub id: Option<u64>,
    /// The REQ request id on the message's stack, if any.
    pub request_id: Option<u32>,
    /// Modelled size in bytes (large payloads are modelled, not allocated).
    pub len: u64,
}

/// The message an `Enqueued`, `Arrived` or `Resent` event is about, as much of it as
/// the socket's owner keeps ([`EventDetail`]). The message itself goes on a queue,
/// so an event holding it whole holds a copy: a header allocation and a body
/// reference per event, 2.7% of a simulated run's instructions, where the trace
/// keeps only the [`MsgInfo`], worked out from the message as it was queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventMsg {
    /// A copy of the message, for owners that compare messages (the cores' tests).
    Whole(Msg),
    /// What the trace records of it.
    Info(MsgInfo),
}

impl EventMsg {
    /// The message itself.
    ///
    /// # Panics
    /// If the event holds only what the trace records of it: the socket's owner asked
    /// for [`EventDetail::Info`], as the net driver does for a traced socket.
    pub fn whole(&self) -> &Msg {
        match self {
            EventMsg::Whole(msg) => msg,
            EventMsg::Info(info) => panic!("the event keeps only what the trace keeps: {info:?}"),
        }
    }
}

/// How much of its messages a core's events carry ([`Pipes::set_detail`]).
#[derive(Clone, Copy, Debug)]
pub enum EventDetail {
    /// No events are kept: only the pipes whose writers have work (an untraced socket).
    None,
    /// Events, each with what the trace records of its message, as this function
    /// works it out (a traced socket; the function reads payloads, which a layer
    /// above this one defines).
    Info(fn(&Msg) -> MsgInfo),
    /// Events, each with a copy of its message (a core driven directly, as in tests).
    Whole,
}

/// Why an application-level send did not take the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Every eligible pipe is at its high-water mark (or there is none): try later.
    WouldBlock,
    /// The socket's state forbids a send now (REP without a request to answer).
    State,
    /// ROUTER with `router_mandatory`: no pipe has the identity the message names.
    HostUnreachable,
}

/// Why an application-level receive returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing to receive yet.
    WouldBlock,
    /// The socket's state forbids a receive now (REQ before it has sent).
    State,
    /// The request awaiting its reply was lost with the pipe it went out on, and the
    /// socket does not send it again: NNG's REQ with resends off
    /// (`NNG_OPT_REQ_RESENDTIME` 0 or -1, `req_resend_ivl: off`) fails the pending
    /// receive, or the next, with `NNG_ECONNRESET`. The socket takes a new request.
    ConnectionReset,
}

/// Why a core discarded a message. Each drop is reported, never silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The pipe was at its high-water mark and the socket type drops.
    Hwm,
    /// A ROUTER was asked to route to an identity it does not know.
    UnknownPeer,
    /// The pipe went away with the message still queued on it.
    PipeClosed,
    /// A reply arrived for a request that is no longer outstanding.
    LateReply,
    /// A REP was asked to reply to a requester whose pipe has gone.
    PeerGone,
    /// A message arrived that the protocol cannot use (a REP request without a
    /// request id, a REQ reply with a malformed stack).
    Malformed,
    /// A SUB/XSUB received a message that no subscription of its matches (the
    /// publisher filters too, but an NNG publisher sends everything).
    Unsubscribed,
    /// A SURVEYOR received a response after its survey's deadline.
    Expired,
}

/// What a core reports for the trace. The driver stamps time, node and message id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketEvent {
    /// The application's message was queued on `pipe`; `depth` counts the pipe's
    /// outbound queue after the message went in.
    Enqueued {
        /// The pipe.
        pipe: PipeId,
        /// Messages on its outbound queue after the push.
        depth: u32,
        /// The message.
        msg: EventMsg,
    },
    /// A message arrived from `pipe` and was queued for the application; `depth`
    /// counts the pipe's inbound queue after it went in.
    Arrived {
        /// The pipe.
        pipe: PipeId,
        /// Messages on its inbound queue after the push.
        depth: u32,
        /// The message.
        msg: EventMsg,
    },
    /// A message was discarded.
    Dropped {
        /// The pipe it was on or came from, if any.
        pipe: Option<PipeId>,
        /// Why.
        reason: DropReason,
        /// The message.
        msg: Msg,
    },
    /// A REQ sent its outstanding request again (same id) on `pipe`; `timer` is true
    /// when the resend interval caused it, false when a lost or new pipe did.
    Resent {
        /// The pipe it went out on.
        pipe: PipeId,
        /// The request's id.
        request_id: u32,
        /// Whether the resend interval caused it.
        timer: bool,
        /// The request.
        msg: EventMsg,
    },
    /// A REQ abandoned its outstanding request: the application sent a new one, or
    /// (NNG with resends off) the pipe it went out on was lost
    /// ([`RecvError::ConnectionReset`]).
    Cancelled {
        /// The abandoned request's id.
        request_id: u32,
    },
    /// A subscription took effect (`on`) or was cancelled: at a SUB/XSUB for its own
    /// filter (`pipe: None`), at a PUB/XPUB for what a peer asked on `pipe`.
    Subscription {
        /// The peer's pipe at a publisher; `None` at the subscriber.
        pipe: Option<PipeId>,
        /// The topic prefix.
        prefix: Bytes,
        /// Subscribing (`true`) or cancelling.
        on: bool,
    },
    /// A SURVEYOR's survey reached its deadline; later responses are dropped.
    SurveyExpired {
        /// The survey's id.
        survey_id: u32,
    },
}

/// The contract between every socket core and the driver.
///
/// Pipe lifecycle: `attach` when the pipe comes into existence (on the connecting
/// side that is at connect time, before any transport is up, so messages can queue:
/// ZeroMQ's `IMMEDIATE=0`), `set_connected` as the transport under it comes and
/// goes, `detach` when it is gone for good (the bound side's pipe dies with its
/// connection). The driver calls `poll_transmit` only for connected pipes,
/// `on_written` once the transport has written what it took (for a core that
/// `tracks_writes`) and `on_message` only while `can_receive` says the pipe has room.
///
/// Every core keeps its queues in one [`Pipes`], so the provided methods do the
/// common bookkeeping by forwarding to it; a core overrides only the steps its
/// protocol changes (REQ moves its request when a pipe goes, ROUTER pushes the hop
/// id on arrival...). A core implements `socket_type`, the two accessors and `send`.
pub trait SocketCore {
    /// The type this core implements.
    fn socket_type(&self) -> SocketType;

    /// The core's per-pipe queues and pending events, for the provided methods.
    fn pipes(&self) -> &Pipes;
    /// The core's queues, to change.
    fn pipes_mut(&mut self) -> &mut Pipes;

    /// A pipe came into existence (see the lifecycle above).
    fn attach(&mut self, pipe: PipeId, _now: Duration) {
        self.pipes_mut().attach(pipe);
    }
    /// Whether the core takes `pipe`, just attached: a core that refuses it (a PAIR
    /// that has its peer) says `false`, and the driver closes its connection, as
    /// every library does; the dialler then reconnects.
    fn takes(&self, _pipe: PipeId) -> bool {
        true
    }
    /// The transport under `pipe` came up (`connected`) or went down.
    fn set_connected(&mut self, pipe: PipeId, connected: bool, _now: Duration) {
        self.pipes_mut().set_connected(pipe, connected);
    }
    /// `pipe` is gone for good; what was queued on it is dropped or moved.
    fn detach(&mut self, pipe: PipeId, _now: Duration) {
        self.pipes_mut().detach(pipe);
    }

    /// The application sends a message.
    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError>;
    /// [`SocketCore::send`] that hands a refused message back, so a caller that will
    /// try again (a blocking send) keeps no copy of its own. The default keeps one;
    /// a core whose refusal leaves the message untouched overrides it to save the
    /// copy on every send.
    fn send_or_return(&mut self, msg: Msg, now: Duration) -> Result<(), (SendError, Msg)> {
        let copy = msg.clone();
        self.send(msg, now).map_err(|error| (error, copy))
    }
    /// The application takes the next message, fair-queued across pipes.
    fn recv(&mut self, _now: Duration) -> Result<Msg, RecvError> {
        self.pipes_mut().pop_inbound().map(|(_, msg)| msg).ok_or(RecvError::WouldBlock)
    }

    /// A whole message arrived from the wire on `pipe`.
    fn on_message(&mut self, pipe: PipeId, msg: Msg, _now: Duration) {
        self.pipes_mut().push_inbound(pipe, msg);
    }
    /// Whether `pipe`'s inbound queue is below the receive high-water mark. While it
    /// is not, the driver stops reading that connection (backpressure).
    fn can_receive(&self, pipe: PipeId) -> bool {
        self.pipes().can_receive(pipe)
    }
    /// The next message to write on `pipe`, if any.
    fn poll_transmit(&mut self, pipe: PipeId, _now: Duration) -> Option<Msg> {
        self.pipes_mut().pop_outbound(pipe)
    }
    /// Whether [`SocketCore::poll_transmit`] may have a message for `pipe` now. A
    /// connection's writer that has just written asks this before asking for more, so
    /// a pipe it has emptied costs no core call. `true` is always safe (the writer then
    /// asks, as it would have): a `false` must mean `poll_transmit` would give `None`.
    fn may_transmit(&self, _pipe: PipeId) -> bool {
        true
    }
    /// The transport has written everything `pipe` handed it. Only a core that says it
    /// [`tracks_writes`](SocketCore::tracks_writes) is told: the SP libraries' PUSH,
    /// PAIR and DEALER, whose pipe takes no other message until its write is done
    /// (`send_buffer.rs`).
    fn on_written(&mut self, _pipe: PipeId, _now: Duration) {}
    /// Whether the driver must call [`SocketCore::on_written`] after each write.
    fn tracks_writes(&self) -> bool {
        false
    }

    /// The earliest instant at which `on_timeout` must be called, if any. Most socket
    /// types keep no timers; REQ (resend) and SURVEYOR (deadline) override these.
    fn poll_timeout(&self) -> Option<Duration> {
        None
    }
    /// The instant `poll_timeout` named has come.
    fn on_timeout(&mut self, _now: Duration) {}

    /// The next event for the trace, oldest first.
    fn poll_event(&mut self) -> Option<SocketEvent> {
        self.pipes_mut().pop_event()
    }
}
