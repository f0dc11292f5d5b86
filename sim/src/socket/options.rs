//! Socket options as the cores see them: plain values, already resolved.
//!
//! The defaults here are the real libraries' (docs/library-semantics.md, "Option defaults"):
//! ZeroMQ's where ZeroMQ has the option, nanomsg's where only nanomsg does. The plan
//! in `plan/` records where each effective value came from; the cores only need the
//! value.

use std::time::Duration;

/// How long NNG 1.11 lets a connection sit in its SP handshake before closing it:
/// 10 s, on either side, measured (docs/limits.md). patchbay speaks SP, so this is
/// its default.
pub const HANDSHAKE_IVL_NNG: Duration = Duration::from_secs(10);
/// How long nanomsg 1.1.5 lets a connection sit in its SP header exchange before
/// closing it: 1 s, on either side (its stream header's timer), measured
/// (docs/limits.md).
pub const HANDSHAKE_IVL_NANOMSG: Duration = Duration::from_secs(1);
/// libzmq's `ZMQ_HANDSHAKE_IVL` default, 30 s (docs/limits.md): the deadline a ZMTP
/// handshake would take.
pub const HANDSHAKE_IVL_LIBZMQ: Duration = Duration::from_secs(30);

/// What a socket does with unsent messages when it closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linger {
    /// Wait for ever (libzmq's default, `ZMQ_LINGER = -1`).
    Forever,
    /// Wait at most this long, then discard. What a connection's stream takes at
    /// once is written first, as the libraries' I/O has by the time a close comes, so
    /// `For(0)` is libzmq's `ZMQ_LINGER` 0 and NNG's and nanomsg's close, which have
    /// no linger (`net/conn.rs`, `write_loop`; `net/zmtp.rs`, `Connection::poll`).
    For(Duration),
}

/// The kernel socket buffers a library asks for on every TCP connection it makes
/// (`SO_SNDBUF`, `SO_RCVBUF`), in bytes as handed to `setsockopt`; `None` leaves the
/// operating system's own, which Linux tunes as the connection runs. nanomsg sets both
/// (`NN_SNDBUF`, `NN_RCVBUF`, 128 KiB); libzmq leaves them (`ZMQ_SNDBUF` and
/// `ZMQ_RCVBUF` are -1) and NNG never sets them. How much a connection holds between
/// two applications is these buffers, in bytes, whatever the message count: the
/// simulator models them (`run/shim.rs`), real TCP is handed them
/// (`net/tokio_tcp.rs`), and docs/library-semantics.md has the measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketBuffers {
    /// `SO_SNDBUF` as set, or the system's.
    pub send: Option<u32>,
    /// `SO_RCVBUF` as set, or the system's.
    pub recv: Option<u32>,
}

impl SocketBuffers {
    /// nanomsg's `NN_SNDBUF` and `NN_RCVBUF` default, set on every TCP socket.
    pub const NANOMSG: SocketBuffers =
        SocketBuffers { send: Some(128 * 1024), recv: Some(128 * 1024) };
}

/// Every option a core reads. Fields that a socket type does not use are ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// Outbound queue bound per pipe, in messages (`ZMQ_SNDHWM`, default 1000).
    pub sndhwm_msgs: u32,
    /// Inbound queue bound per pipe, in messages (`ZMQ_RCVHWM`, default 1000).
    pub rcvhwm_msgs: u32,
    /// REQ resend interval (`NN_REQ_RESEND_IVL`, default 60 s); `None` never resends,
    /// as libzmq's REQ.
    pub req_resend_ivl: Option<Duration>,
    /// REQ: whether losing the pipe an outstanding request went out on sends it again
    /// at once to another pipe (nanomsg and NNG, the default). libzmq's REQ never
    /// does: the request is gone and the REQ waits for its reply for ever
    /// (docs/library-semantics.md, "REQ").
    pub req_resend_on_pipe_loss: bool,
    /// REQ: whether losing the pipe an outstanding request went out on abandons the
    /// request and fails the application's pending (or next) receive with
    /// [`RecvError::ConnectionReset`](super::RecvError::ConnectionReset), sending
    /// nothing again: NNG's REQ whose resend time is off (`req0_pipe_close`). Set only
    /// with `req_resend_ivl` `None`; it takes precedence over
    /// `req_resend_on_pipe_loss`.
    pub req_reset_on_pipe_loss: bool,
    /// REQ: whether a send while a request awaits its reply is refused with a state
    /// error (libzmq's strict REQ, `EFSM`) rather than cancelling that request (NNG,
    /// nanomsg, the default).
    pub req_strict: bool,
    /// REQ: whether a reply is matched to the request by its request id (NNG,
    /// nanomsg; libzmq with `ZMQ_REQ_CORRELATE`). Without it, libzmq's REQ takes
    /// whatever reply comes back on the pipe its request went out on (on any pipe
    /// once that one is gone), so after `ZMQ_REQ_RELAXED` lets it give up on a
    /// request, that request's late reply can pass for the new one's.
    pub req_correlate: bool,
    /// REQ: NNG 1.11's resend tick (`NNG_OPT_REQ_RESENDTICK`, default 1 s): the resend
    /// time is checked on a timer of this period, so the first resend comes on the
    /// first tick at or after `req_resend_ivl`, and (since NNG 1.7, which never moves
    /// the deadline forward) every tick after it. `None` resends once per interval,
    /// on time: nanomsg, NNG 1.6 and older, and a REQ whose library is not named
    /// (docs/library-semantics.md, "REQ resend timing").
    pub req_resend_tick: Option<Duration>,
    /// PAIR: whether it speaks PAIR v1 (SP protocol 0x11, a hop count on every
    /// message: NNG's default PAIR) rather than v0 (0x10: nanomsg's, NNG's pair0).
    pub pair_v1: bool,
    /// First reconnect delay (`ZMQ_RECONNECT_IVL`, default 100 ms).
    pub reconnect_ivl: Duration,
    /// Reconnect backoff ceiling (`ZMQ_RECONNECT_IVL_MAX`); `None` (libzmq's 0) means
    /// no backoff: every retry waits `reconnect_ivl`.
    pub reconnect_ivl_max: Option<Duration>,
    /// How the delay before each reconnect is drawn from the two above: each library
    /// has its own rule, two of them random ([`ReconnectBackoff`]).
    pub reconnect_backoff: ReconnectBackoff,
    /// What happens to unsent messages at close (`ZMQ_LINGER`).
    pub linger: Linger,
    /// SURVEYOR deadline (`NN_SURVEYOR_DEADLINE`, default 1 s).
    pub survey_deadline: Duration,
    /// ZMTP heartbeat interval (`ZMQ_HEARTBEAT_IVL`); `None` is off, the default.
    pub heartbeat_ivl: Option<Duration>,
    /// How long without traffic before a heartbeating peer is declared dead
    /// (`ZMQ_HEARTBEAT_TIMEOUT`); `None` means "equal to `heartbeat_ivl`", libzmq's default.
    pub heartbeat_timeout: Option<Duration>,
    /// The time-to-live our PINGs ask the peer to hold us by (`ZMQ_HEARTBEAT_TTL`,
    /// sent in tenths of a second); `None` is libzmq's 0, no time-to-live.
    pub heartbeat_ttl: Option<Duration>,
    /// Whether the driver speaks ZMTP 3.1 (a `library: zeromq` socket) rather than SP
    /// (every other socket, including those whose library is not named).
    pub zmtp: bool,
    /// Largest message accepted from the wire (`ZMQ_MAXMSGSIZE`, default unlimited);
    /// checked against the length header before anything is allocated.
    pub rcvmaxsize_bytes: Option<u64>,
    /// SUB/XSUB prefixes; empty subscribes to nothing, as ZeroMQ's SUB.
    pub subscribe: Vec<Vec<u8>>,
    /// PUB, SUB, XSUB and BUS queue as NNG's do (a `library: nng` socket): a PUB's full
    /// pipe makes room by discarding its oldest message, and a SUB, XSUB or BUS never
    /// stops reading its pipes: at a full queue a SUB discards the oldest message
    /// (`NNG_OPT_SUB_PREFNEW`, on by default), an XSUB and a BUS the new one. Without
    /// it, as in libzmq and nanomsg, a PUB drops the new message and a SUB or BUS stops
    /// reading a full pipe, which pushes back on the sender (docs/library-semantics.md).
    /// A ROUTER with it receives as NNG's raw REP: a socket queue of `rcvhwm_msgs`
    /// (`NNG_OPT_RECVBUF`), and one message more held by each pipe while it is full.
    /// Set for every `library: nng` socket and for no other, so the SP driver also
    /// reads headers as NNG does with it: a message too short for the header its
    /// receiver reads closes the connection (`wire::SpProtocol::for_socket`).
    pub nng_queues: bool,
    /// A receiving socket takes from the pipe that became ready first: a pipe holds
    /// one message, leaves the list when the application takes it, and joins its end
    /// again when its next message is in. nanomsg's `nn_fq` does so for every
    /// receiving type, NNG for its PULL, REP and RESPONDENT. Without it a socket
    /// fair-queues, each pipe in turn (libzmq), or with `nng_queues` takes messages in
    /// arrival order from one queue for the socket.
    pub recv_ready_first: bool,
    /// The connections' writers run between one send and the next, so a message
    /// that fits in the kernel has left its pipe before the next is offered: nanomsg
    /// writes into the kernel on the sending thread, before `nn_send` returns (a
    /// `library: nanomsg` socket). Without it a pipe is freed when its writer next
    /// runs, which is what libzmq's I/O thread and NNG's asynchronous writes do.
    /// `SocketHandle::try_send`, which cannot wait, does not give them the turn.
    pub send_writes_at_once: bool,
    /// A REP's (and a RESPONDENT's) every receive abandons the request it read
    /// before and has not answered, one that finds nothing included: nanomsg's
    /// `nn_rep_recv` and `nn_respondent_recv` drop the one in progress before they
    /// look for the next (a `library: nanomsg` socket; checked for the REP,
    /// `nanomsg-rep-reads-on`). Without it only a receive that takes a new request
    /// does, as NNG's.
    pub rep_recv_cancels: bool,
    /// A REP's receive while a request it read is unanswered fails with a state
    /// error, the request kept: libzmq's REP must reply first (`EFSM`; a `library:
    /// zeromq` REP; checked, `zmq-rep-reads-on`). Without it the receive takes the
    /// next request and abandons the first, as NNG's and nanomsg's.
    pub rep_strict: bool,
    /// PUSH, PAIR and DEALER as the SP libraries' (a `library: nng` or `library:
    /// nanomsg` one): `Some(n)` queues up to `n` messages on the socket (NNG's
    /// `NNG_OPT_SENDBUF`, 0 by default; nanomsg has no such queue, so 0) and gives each
    /// connected pipe one at a time, so one with no peer connected takes `n` messages
    /// and then blocks, and a pipe still connecting takes none. `None`: per-pipe queues of `sndhwm_msgs`, pipes
    /// still connecting included (libzmq's `IMMEDIATE=0`).
    pub sp_send_buffer: Option<u32>,
    /// REQ: a send waits until a connected pipe takes the request (NNG's req0), rather
    /// than returning at once with the request left to wait for a pipe (libzmq,
    /// nanomsg).
    pub req_send_waits: bool,
    /// SUB with `nng_queues`: a full queue discards its oldest message for the new one
    /// (`NNG_OPT_SUB_PREFNEW`, true by default) rather than the new one.
    pub sub_prefer_new: bool,
    /// ROUTER: fail a send to an unknown or full peer instead of dropping it.
    pub router_mandatory: bool,
    /// libzmq's `ZMQ_IMMEDIATE`: a PUSH, DEALER, REQ or PAIR sends only on pipes whose
    /// connection is up, and a pipe whose connection drops loses what was queued on
    /// it, as libzmq's terminated pipe does. Off, a pipe still connecting (or
    /// redialling) takes its turn and keeps its queue.
    pub immediate: bool,
    /// An SP library's pipe exists only while its connection is up (a `library: nng`
    /// or `library: nanomsg` socket): NNG and nanomsg make a pipe for each connection
    /// once it is established and free it, with whatever it held, when it ends. So a
    /// PUB, BUS or SURVEYOR (and an XSUB) sends nothing to a peer it is still dialling
    /// (there is no pipe to take a copy: it goes nowhere, as a PUB's message with no
    /// subscriber, without an event), a REP or RESPONDENT drops a reply whose pipe's
    /// connection went (`PeerGone`), and a pipe whose connection drops loses its
    /// outbound queue (`PipeClosed`) rather than handing it to the next connection
    /// (`Pipes::set_connected`; conformance rows `nng-pub-dials-early` and the like,
    /// sim/tests/conformance_rows_sp_dial.rs). Off, a dialling pipe is attached at
    /// connect time and queues across connections, as libzmq's with `IMMEDIATE=0`;
    /// so does a socket whose library is not named, whose PUSH also queues on pipes
    /// still connecting (no `sp_send_buffer`). PUSH, PAIR and DEALER get the same
    /// from `sp_send_buffer`; a REQ places its request itself (`req.rs`).
    pub sp_pipe_per_connection: bool,
    /// A connection that has not finished its handshake this long after it opened is
    /// closed (default [`HANDSHAKE_IVL_NNG`]), so silent peers cannot hold descriptors.
    /// `None` waits for ever, as libzmq does with `ZMQ_HANDSHAKE_IVL` 0.
    pub handshake_ivl: Option<Duration>,
    /// The kernel buffers the socket's connections ask for ([`SocketBuffers`]).
    pub socket_buffers: SocketBuffers,
}

impl Default for SocketOptions {
    fn default() -> SocketOptions {
        SocketOptions {
            sndhwm_msgs: 1000,
            rcvhwm_msgs: 1000,
            req_resend_ivl: Some(Duration::from_secs(60)),
            req_resend_on_pipe_loss: true,
            req_reset_on_pipe_loss: false,
            req_strict: false,
            req_correlate: true,
            req_resend_tick: None,
            pair_v1: false,
            reconnect_ivl: Duration::from_millis(100),
            reconnect_ivl_max: None,
            reconnect_backoff: ReconnectBackoff::Exact,
            linger: Linger::Forever,
            survey_deadline: Duration::from_secs(1),
            heartbeat_ivl: None,
            heartbeat_timeout: None,
            heartbeat_ttl: None,
            zmtp: false,
            rcvmaxsize_bytes: None,
            subscribe: Vec::new(),
            nng_queues: false,
            recv_ready_first: false,
            send_writes_at_once: false,
            rep_recv_cancels: false,
            rep_strict: false,
            sp_send_buffer: None,
            req_send_waits: false,
            sub_prefer_new: true,
            router_mandatory: false,
            immediate: false,
            sp_pipe_per_connection: false,
            handshake_ivl: Some(HANDSHAKE_IVL_NNG),
            socket_buffers: SocketBuffers::default(),
        }
    }
}

/// How a connecting socket spaces its attempts after a failed or lost connection, by
/// library (docs/library-semantics.md, "Reconnecting"). Every rule starts again from
/// `reconnect_ivl` once a connection gets through its handshake, except nanomsg's.
/// The random ones draw from the socket's own seeded stream, so a seed repeats them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReconnectBackoff {
    /// `reconnect_ivl`, doubling after each failure up to `reconnect_ivl_max` when
    /// that is set; nothing random. A socket whose library is not named.
    #[default]
    Exact,
    /// libzmq 4.3 (`stream_connecter_base_t::get_new_reconnect_ivl`): without a
    /// maximum, `reconnect_ivl` plus a random 0 to `reconnect_ivl` - 1 ms; with one,
    /// `reconnect_ivl` doubling up to the maximum (the first capped too), nothing
    /// random.
    Libzmq,
    /// NNG 1.11 (`dialer_timer_start_locked`): a random 0 to `current` - 1 ms, where
    /// `current` starts at `reconnect_ivl` and doubles up to `reconnect_ivl_max` when
    /// that is set.
    Nng,
    /// nanomsg 1.1 (`nn_backoff_start`): (n - 1) × `reconnect_ivl` for n = 1, 2, 4, …,
    /// so the first retry is at once, capped at `reconnect_ivl_max` (at
    /// `reconnect_ivl` when that is unset); nothing random, and never started again
    /// for the endpoint's life (its TCP connecter never resets it).
    Nanomsg,
}
