//! Effective socket options, each with where its value came from.
//!
//! `check --explain` prints these: a value is the named library's default (which
//! library, release and option name, docs/library-semantics.md), or it was written in
//! the topology, or a scenario overrode it. A socket whose library is not named takes
//! patchbay's per-type defaults: libzmq's where ZeroMQ has the option and the socket
//! type, nanomsg's where only nanomsg does. Applying what a file writes, and refusing
//! with a diagnostic an option the simulator would not act on, is the resolver's
//! (`resolve/options.rs`).

use std::path::PathBuf;
use std::time::Duration;

use crate::socket::{
    HANDSHAKE_IVL_LIBZMQ, HANDSHAKE_IVL_NANOMSG, HANDSHAKE_IVL_NNG, Linger, ReconnectBackoff,
    SocketBuffers, SocketOptions, SocketType,
};
use crate::spec::diag::Location;
use crate::spec::units::{format_duration, format_size};

use super::library::Library;

/// Where an effective option value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The real library's default: library and option name.
    Default(&'static str),
    /// Written in a file (the topology, or a scenario's `overrides`).
    File {
        /// The file.
        file: PathBuf,
        /// Where in it, when known.
        location: Option<Location>,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default(what) => write!(f, "default: {what}"),
            Source::File { file, location: Some(at) } => {
                write!(f, "{}:{}:{}", file.display(), at.line, at.column)
            }
            Source::File { file, location: None } => write!(f, "{}", file.display()),
        }
    }
}

/// A value and its provenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective<T> {
    /// The value in force.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Effective<T> {
    /// A value the defaults gave, `what` naming which default it was.
    pub(crate) fn default(value: T, what: &'static str) -> Effective<T> {
        Effective { value, source: Source::Default(what) }
    }
}

/// Every socket option with its provenance, and the library whose defaults they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveOptions {
    /// The library the socket stands for; `None` when no file named one (then the
    /// per-type defaults apply and no wire check is made).
    pub library: Effective<Option<Library>>,
    /// Send high-water mark, in messages per pipe (0: unlimited).
    pub sndhwm: Effective<u32>,
    /// Receive high-water mark, in messages per pipe (0: unlimited).
    pub rcvhwm: Effective<u32>,
    /// How long a REQ waits for a reply before resending; `None` never resends.
    pub req_resend_ivl: Effective<Option<Duration>>,
    /// Library behaviour, not a written option: whether a REQ resends at once when the
    /// pipe its request went out on is lost (nanomsg, NNG) or waits for ever (libzmq).
    /// NNG's resends only while its resend time is on; with `req_resend_ivl: off` it
    /// fails the receive with `NNG_ECONNRESET` instead ([`Self::nng_req_resets`]).
    pub req_resend_on_pipe_loss: Effective<bool>,
    /// Library behaviour, not a written option: whether a REQ's send waits until a
    /// connected pipe takes the request (NNG) or returns at once (libzmq, nanomsg).
    pub req_send_waits: Effective<bool>,
    /// Library behaviour, not a written option: whether a REQ refuses a second send
    /// before the reply (libzmq's `EFSM`) or cancels the first request (nanomsg, NNG).
    pub req_strict: Effective<bool>,
    /// Whether a REQ matches replies by request id: always in NNG and nanomsg; in
    /// libzmq only with `req_correlate` (`ZMQ_REQ_CORRELATE`).
    pub req_correlate: Effective<bool>,
    /// NNG 1.11's REQ resend tick (`NNG_OPT_REQ_RESENDTICK`); `None` resends once
    /// per interval on time (nanomsg, NNG 1.6 and older).
    pub req_resend_tick: Effective<Option<Duration>>,
    /// A PAIR's SP version: 1 for NNG's default PAIR, 0 for nanomsg's (and NNG's
    /// pair0, and every PAIR whose library is not named).
    pub pair_version: Effective<u8>,
    /// How long after a lost connection the first reconnect is tried.
    pub reconnect_ivl: Effective<Duration>,
    /// The longest reconnect interval backoff reaches; `None`: no backoff.
    pub reconnect_ivl_max: Effective<Option<Duration>>,
    /// How long unsent messages are kept at close.
    pub linger: Effective<Linger>,
    /// How long a SURVEYOR waits for responses.
    pub survey_deadline: Effective<Duration>,
    /// The largest message a socket accepts, in bytes; `None`: any.
    pub rcvmaxsize: Effective<Option<u64>>,
    /// A SUB's subscriptions (topic prefixes).
    pub subscribe: Effective<Vec<String>>,
    /// Library behaviour, not a written option: whether PUB, SUB, XSUB and BUS queue
    /// as NNG's do (a full PUB pipe or SUB queue discards its oldest message; a SUB,
    /// XSUB or BUS never stops reading) or as libzmq's and nanomsg's (a PUB drops the
    /// new message; a SUB or BUS stops reading a full pipe).
    pub nng_queues: Effective<bool>,
    /// An NNG SUB's `NNG_OPT_SUB_PREFNEW`: whether its full queue discards its oldest
    /// message for a new one (the default) or the new one.
    pub sub_prefer_new: Effective<bool>,
    /// Library behaviour, not a written option: whether a PUSH or PAIR queues as NNG's
    /// and nanomsg's do, on the socket (`sndhwm` is then NNG's `NNG_OPT_SENDBUF`, 0
    /// meaning no room; nanomsg's have none) with one message at a time on each
    /// connected pipe, rather than per pipe.
    pub sp_sends: Effective<bool>,
    /// Library behaviour, not a written option: whether a receiver takes its messages
    /// from the pipe that became ready first, each pipe holding one (nanomsg's `nn_fq`
    /// for every receiving type; NNG's PULL, REP and RESPONDENT), rather than each
    /// pipe in turn or, with `nng_queues`, in arrival order from one socket queue.
    pub recv_ready_first: Effective<bool>,
    /// Library behaviour, not a written option: whether a PAIR receives as NNG's does,
    /// its pipe holding the one message the application has not taken and `rcvhwm`
    /// (NNG's `NNG_OPT_RECVBUF`, 0 by default) counting the socket's queue beyond it,
    /// rather than all a pipe may hold.
    pub sp_receives: Effective<bool>,
    /// Whether a ROUTER fails a send to an unknown peer rather than dropping it.
    pub router_mandatory: Effective<bool>,
    /// libzmq's `ZMQ_IMMEDIATE`: whether a PUSH, DEALER, REQ or PAIR sends only on
    /// pipes whose connection is up (`library: zeromq` or not named).
    pub immediate: Effective<bool>,
    /// libzmq's ZMTP heartbeats (`library: zeromq` only): PING interval, how long a
    /// PING may go unanswered (`None`: the interval), and the TTL our PINGs carry.
    pub heartbeat_ivl: Effective<Option<Duration>>,
    /// How long a PING may go unanswered before the connection is closed.
    pub heartbeat_timeout: Effective<Option<Duration>>,
    /// The TTL our PINGs ask the peer to apply.
    pub heartbeat_ttl: Effective<Option<Duration>>,
    /// How long a connection may take over its handshake before it is closed, on
    /// either side; `None`: for ever. Written only on `library: zeromq`
    /// (`ZMQ_HANDSHAKE_IVL`): NNG and nanomsg fix theirs.
    pub handshake_ivl: Effective<Option<Duration>>,
    /// The kernel send buffer the library sets on each TCP connection (`SO_SNDBUF`,
    /// from `ZMQ_SNDBUF` or `NN_SNDBUF`), in bytes; `None` leaves the system's. With
    /// `rcvbuf`, it decides how much a connection holds toward a peer that stops
    /// reading (docs/library-semantics.md, "Kernel buffers").
    pub sndbuf: Effective<Option<u32>>,
    /// The kernel receive buffer, the same way (`SO_RCVBUF`).
    pub rcvbuf: Effective<Option<u32>>,
}

/// Which socket types (of which library) an option means something for; setting it
/// elsewhere is an error.
pub(crate) fn applies_to(option: &str, socket_type: SocketType, library: Option<Library>) -> bool {
    use SocketType::*;
    match option {
        "req_resend_ivl"
        | "req_resend_on_pipe_loss"
        | "req_send_waits"
        | "req_strict"
        | "req_correlate" => socket_type == Req,
        "survey_deadline" => socket_type == Surveyor,
        // NNG's alone: nanomsg has one PAIR (v0) and resends on time.
        "req_resend_tick" => socket_type == Req && library == Some(Library::Nng),
        "pair_version" => socket_type == Pair && library == Some(Library::Nng),
        "subscribe" => matches!(socket_type, Sub | XSub),
        "sub_prefer_new" => socket_type == Sub && library == Some(Library::Nng),
        // libzmq's alone: NNG's and nanomsg's raw REP have no such option.
        "router_mandatory" => {
            socket_type == Router && matches!(library, None | Some(Library::ZeroMq))
        }
        // NNG's and nanomsg's pipes exist only while connected: they have no need of it.
        "immediate" => {
            matches!(socket_type, Push | Dealer | Req | Pair)
                && matches!(library, None | Some(Library::ZeroMq))
        }
        "heartbeat_ivl" | "heartbeat_timeout" | "heartbeat_ttl" => library == Some(Library::ZeroMq),
        _ => true,
    }
}

/// nanomsg-only socket types take nanomsg's defaults when no library is named
/// (docs/library-semantics.md).
fn is_nanomsg_only(socket_type: SocketType) -> bool {
    matches!(socket_type, SocketType::Surveyor | SocketType::Respondent | SocketType::Bus)
}

/// What `--explain` says of a socket whose library no file named.
const LIBRARY_NOT_NAMED: &str = "library not named; libzmq's defaults for ZeroMQ's types, nanomsg's for SURVEYOR, RESPONDENT and BUS (write `library:` to choose)";

impl EffectiveOptions {
    /// The defaults for a socket of `socket_type` whose library no file named.
    pub fn defaults(socket_type: SocketType) -> EffectiveOptions {
        EffectiveOptions::for_library(socket_type, Effective::default(None, LIBRARY_NOT_NAMED))
    }

    /// The defaults for a socket of `socket_type` whose library is `library` (with
    /// where that was decided): the named library's, or the per-type ones.
    pub(crate) fn for_library(
        socket_type: SocketType,
        library: Effective<Option<Library>>,
    ) -> Self {
        let mut out = match library.value {
            None => EffectiveOptions::unnamed(socket_type),
            Some(lib) => EffectiveOptions::of(lib),
        };
        match library.value {
            Some(Library::Nng) => out.nng_buffers(socket_type),
            Some(Library::Nanomsg) => out.nanomsg_buffers(socket_type),
            _ => {}
        }
        out.library = library;
        out
    }

    /// NNG's PUB, SUB, BUS, PUSH and PAIR queue in buffers of their own sizes: a PUB one
    /// per pipe (as patchbay's `sndhwm`), a SUB one per socket (`Pipes::queue_per_socket`),
    /// a BUS 16 per pipe out and 16 per socket in, and a PUSH, a PAIR and a
    /// DEALER (raw REQ) one per socket, modelled as NNG does it
    /// (`SocketOptions::sp_send_buffer`); a ROUTER (raw REP) 64 per pipe out, a size
    /// NNG fixes (`xrep0_pipe_init`); a ROUTER and a DEALER in, a socket queue of
    /// `NNG_OPT_RECVBUF` (1) with one message more held by each pipe while it is
    /// full; a PAIR
    /// receives into a socket queue of `NNG_OPT_RECVBUF` (0 by default) beyond the one
    /// message its pipe holds (`pair1_pipe_recv_cb`). Its PULL, REP
    /// and RESPONDENT keep no receive queue: each pipe holds the one message the
    /// application has not taken (`pull0_recv_cb`, and the "holding pattern" of
    /// `rep0_pipe_recv_cb` and respondent0's), and `rcvhwm` is refused on them.
    fn nng_buffers(&mut self, socket_type: SocketType) {
        match socket_type {
            SocketType::Pub => {
                self.sndhwm = Effective::default(16, "NNG pub0 NNG_OPT_SENDBUF = 16, per pipe");
            }
            SocketType::Push => {
                self.sndhwm = Effective::default(
                    0,
                    "NNG push0 NNG_OPT_SENDBUF = 0: messages wait on the socket, up to this many (0: none); each connected pipe takes one at a time",
                );
                self.sp_sends = Effective::default(true, "NNG push0: queues on the socket");
            }
            SocketType::Router => {
                self.sndhwm = Effective::default(
                    64,
                    "NNG raw rep0 (xrep0): 64 per pipe, fixed; a message for a full pipe is dropped",
                );
                self.rcvhwm = Effective::default(
                    1,
                    "NNG raw rep0 (xrep0) NNG_OPT_RECVBUF = 1: one queue for the socket, in arrival order; while it is full each pipe holds one more and reads no further",
                );
            }
            SocketType::Dealer => {
                self.sndhwm = Effective::default(
                    0,
                    "NNG raw req0 (xreq0) NNG_OPT_SENDBUF = 0: messages wait on the socket, up to this many (0: none); each connected pipe takes one at a time",
                );
                self.sp_sends = Effective::default(true, "NNG xreq0: queues on the socket");
                self.rcvhwm = Effective::default(
                    1,
                    "NNG raw req0 (xreq0) NNG_OPT_RECVBUF = 1: one queue for the socket, in arrival order; while it is full each pipe holds one more and reads no further",
                );
            }
            SocketType::Pair => {
                self.sndhwm = Effective::default(
                    0,
                    "NNG pair NNG_OPT_SENDBUF = 0: messages wait on the socket, up to this many (0: none); the connected peer takes one at a time",
                );
                self.sp_sends = Effective::default(true, "NNG pair0, pair1: queue on the socket");
                self.rcvhwm = Effective::default(
                    0,
                    "NNG pair NNG_OPT_RECVBUF = 0: messages wait on the socket, up to this many, beyond the one its pipe holds",
                );
                self.sp_receives =
                    Effective::default(true, "NNG pair0, pair1: a pipe holds one message");
            }
            SocketType::Sub => {
                self.rcvhwm = Effective::default(
                    128,
                    "NNG sub0 NNG_OPT_RECVBUF = 128: one queue for the socket, in arrival order",
                );
            }
            SocketType::Bus => {
                self.sndhwm = Effective::default(16, "NNG bus0 NNG_OPT_SENDBUF = 16, per pipe");
                self.rcvhwm = Effective::default(
                    16,
                    "NNG bus0 NNG_OPT_RECVBUF = 16: one queue for the socket, in arrival order",
                );
            }
            SocketType::Surveyor => {
                self.rcvhwm = Effective::default(
                    1000,
                    "patchbay: one queue for the socket, in arrival order, as NNG's surveyor0 keeps a survey's responses; NNG keeps 128 and drops the rest, which patchbay does not model (docs/library-semantics.md)",
                );
            }
            SocketType::Req => {
                self.rcvhwm = Effective::default(
                    1000,
                    "NNG req0: no receive queue; it keeps the reply it waits for and drops any other on arrival, so patchbay's bound of 1000 is never reached",
                );
            }
            SocketType::Pull | SocketType::Rep | SocketType::Respondent => {
                let holding = match socket_type {
                    SocketType::Pull => {
                        "NNG pull0: a pipe holds the one message the application has not taken; the socket keeps no queue"
                    }
                    SocketType::Rep => {
                        "NNG rep0: a pipe holds the one request the application has not taken; the socket keeps no queue"
                    }
                    _ => {
                        "NNG respondent0: a pipe holds the one survey the application has not taken; the socket keeps no queue"
                    }
                };
                self.rcvhwm = Effective::default(1, holding);
                self.recv_ready_first = Effective::default(
                    true,
                    "NNG pull0, rep0, respondent0: the pipe ready first (their ready lists), one message a pipe",
                );
            }
            _ => {}
        }
    }

    /// nanomsg keeps no message queues of its own over TCP: a pipe holds the one
    /// message it is writing (`nn_stcp_send`) and the one the application has not
    /// taken (`nn_stcp_recv`), and NN_SNDBUF and NN_RCVBUF size the kernel's socket
    /// buffers in bytes, for which the simulated connection's window stands. So every
    /// nanomsg socket has one message per pipe each way. A PUSH, PAIR or DEALER (XREQ)
    /// takes nothing while no pipe is connected, and blocks: NNG's push0 and pair with a send
    /// buffer of 0, modelled the same way (`SocketOptions::sp_send_buffer`). `sndhwm`
    /// and `rcvhwm` are refused on nanomsg sockets (`resolve/options.rs`).
    fn nanomsg_buffers(&mut self, socket_type: SocketType) {
        self.sndhwm = Effective::default(
            1,
            "nanomsg: a pipe holds the one message it is writing (NN_SNDBUF sizes the kernel's buffer, in bytes)",
        );
        self.rcvhwm = Effective::default(
            1,
            "nanomsg: a pipe holds the one message the application has not taken (NN_RCVBUF sizes the kernel's buffer, in bytes)",
        );
        if matches!(socket_type, SocketType::Push | SocketType::Pair | SocketType::Dealer) {
            self.sndhwm = Effective::default(
                0,
                "nanomsg: no send queue of its own; a connected pipe takes the one message it is writing (NN_SNDBUF sizes the kernel's buffer, in bytes)",
            );
            self.sp_sends = Effective::default(true, "nanomsg: one message per connected pipe");
        }
    }

    /// patchbay's per-type defaults, used when no library is named.
    fn unnamed(socket_type: SocketType) -> EffectiveOptions {
        let mut out = EffectiveOptions::of(Library::ZeroMq);
        out.req_resend_ivl = Effective::default(
            Some(Duration::from_secs(60)),
            "nanomsg NN_REQ_RESEND_IVL = 60s (library not named; libzmq's REQ never resends)",
        );
        out.req_resend_on_pipe_loss = Effective::default(
            true,
            "nanomsg: a request whose pipe is lost goes out again at once (library not named)",
        );
        out.req_send_waits = Effective::default(
            false,
            "nanomsg: a send takes the request at once; it goes out when a pipe comes (library not named)",
        );
        out.req_strict = Effective::default(
            false,
            "nanomsg: a new request cancels the outstanding one (library not named)",
        );
        out.req_correlate = Effective::default(
            true,
            "nanomsg: replies are matched by request id (library not named)",
        );
        out.req_resend_tick = Effective::default(
            None,
            "nanomsg: resends once per interval, on time (library not named)",
        );
        out.pair_version = Effective::default(0, "nanomsg: PAIR v0 (SP 0x10) (library not named)");
        out.handshake_ivl = Effective::default(
            Some(HANDSHAKE_IVL_NNG),
            "NNG's 10s: an unnamed socket speaks SP (nanomsg's deadline is 1s; name `library:` to choose)",
        );
        if is_nanomsg_only(socket_type) {
            let nanomsg = EffectiveOptions::of(Library::Nanomsg);
            out.rcvmaxsize = nanomsg.rcvmaxsize;
            out.survey_deadline = nanomsg.survey_deadline;
        }
        out
    }

    /// One library's defaults (docs/library-semantics.md, "Option defaults").
    fn of(lib: Library) -> EffectiveOptions {
        fn d<T>(value: T, what: &'static str) -> Effective<T> {
            Effective::default(value, what)
        }
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let (req_resend_ivl, reconnect_ivl, reconnect_ivl_max, rcvmaxsize) = match lib {
            Library::ZeroMq => (
                d(None, "libzmq: REQ never resends"),
                d(ms(100), "libzmq ZMQ_RECONNECT_IVL = 100ms"),
                d(None, "libzmq ZMQ_RECONNECT_IVL_MAX = 0 (no backoff)"),
                d(None, "libzmq ZMQ_MAXMSGSIZE = -1 (unlimited)"),
            ),
            Library::Nng => (
                d(
                    Some(secs(60)),
                    "NNG NNG_OPT_REQ_RESENDTIME = 60s (checked on the resend tick, see req_resend_tick)",
                ),
                d(secs(1), "NNG NNG_OPT_RECONNMINT = 1s"),
                d(None, "NNG NNG_OPT_RECONNMAXT = 0 (no backoff)"),
                d(None, "NNG 1.11 NNG_OPT_RECVMAXSZ = 0 (unlimited)"),
            ),
            Library::Nanomsg => (
                d(Some(secs(60)), "nanomsg NN_REQ_RESEND_IVL = 60s"),
                d(ms(100), "nanomsg NN_RECONNECT_IVL = 100ms"),
                d(None, "nanomsg NN_RECONNECT_IVL_MAX = 0 (no backoff)"),
                d(Some(1024 * 1024), "nanomsg NN_RCVMAXSIZE = 1 MiB"),
            ),
        };
        let (hwm, linger, survey_deadline, subscribe) = match lib {
            Library::ZeroMq => (
                "libzmq ZMQ_SNDHWM/ZMQ_RCVHWM = 1000",
                (Linger::Forever, "libzmq ZMQ_LINGER = -1 (forever)"),
                "libzmq has no SURVEYOR",
                "libzmq: a SUB subscribes to nothing",
            ),
            Library::Nng => (
                "libzmq's 1000 per pipe: NNG queues per socket (NNG_OPT_SENDBUF 0, NNG_OPT_RECVBUF 1), which patchbay does not model",
                (
                    Linger::For(Duration::ZERO),
                    "none: NNG 1.11 has no linger (nng_close does not wait for queued messages; what the kernel took goes) and `linger` is refused",
                ),
                "NNG NNG_OPT_SURVEYOR_SURVEYTIME = 1s",
                "NNG: a SUB subscribes to nothing",
            ),
            Library::Nanomsg => (
                "nanomsg: replaced for every socket type by `nanomsg_buffers` (one message per pipe each way)",
                (
                    Linger::For(Duration::ZERO),
                    "none: nanomsg ignores NN_LINGER since 1.1.0 (nn_close does not wait for queued messages; what the kernel took goes) and `linger` is refused",
                ),
                "nanomsg NN_SURVEYOR_DEADLINE = 1s",
                "nanomsg: a SUB subscribes to nothing",
            ),
        };
        let nng_queues = match lib {
            Library::ZeroMq => d(
                false,
                "libzmq: a PUB drops the new message at a full pipe; a SUB stops reading a full pipe",
            ),
            Library::Nng => d(
                true,
                "NNG: a PUB's full pipe discards its oldest message; a SUB, XSUB or BUS never stops reading",
            ),
            Library::Nanomsg => d(
                false,
                "nanomsg: a PUB drops the new message at a full pipe; a SUB or BUS stops reading a full pipe",
            ),
        };
        let (req_resend_on_pipe_loss, req_strict) = match lib {
            Library::ZeroMq => (
                d(
                    false,
                    "libzmq: a request lost with its pipe is never sent again; the REQ waits for ever",
                ),
                d(
                    true,
                    "libzmq: a second send before the reply fails with EFSM (no ZMQ_REQ_RELAXED)",
                ),
            ),
            Library::Nng => (
                d(
                    true,
                    "NNG: a request whose pipe is lost goes out again at once, same id; with resends off (`req_resend_ivl: off`) the receive fails with NNG_ECONNRESET instead",
                ),
                d(false, "NNG: a new request cancels the outstanding one"),
            ),
            Library::Nanomsg => (
                d(true, "nanomsg: a request whose pipe is lost goes out again at once, same id"),
                d(false, "nanomsg: a new request cancels the outstanding one"),
            ),
        };
        let req_send_waits = match lib {
            Library::ZeroMq => d(
                false,
                "libzmq: a send queues the request on the pipe made at connect, peer or not",
            ),
            Library::Nng => {
                d(true, "NNG req0: a send waits until a connected pipe takes the request")
            }
            Library::Nanomsg => {
                d(false, "nanomsg: a send takes the request at once; it goes out when a pipe comes")
            }
        };
        let req_correlate = match lib {
            Library::ZeroMq => {
                d(false, "libzmq ZMQ_REQ_CORRELATE = 0: a reply is taken from the request's pipe")
            }
            Library::Nng => d(true, "NNG: replies are matched by request id"),
            Library::Nanomsg => d(true, "nanomsg: replies are matched by request id"),
        };
        let (req_resend_tick, pair_version) = tick_and_pair_version(lib);
        EffectiveOptions {
            library: d(Some(lib), "set by the caller"),
            req_resend_tick,
            pair_version,
            req_resend_on_pipe_loss,
            req_send_waits,
            req_strict,
            req_correlate,
            sndhwm: d(1000, hwm),
            rcvhwm: d(1000, hwm),
            req_resend_ivl,
            reconnect_ivl,
            reconnect_ivl_max,
            linger: d(linger.0, linger.1),
            survey_deadline: d(secs(1), survey_deadline),
            rcvmaxsize,
            subscribe: d(Vec::new(), subscribe),
            nng_queues,
            sub_prefer_new: d(true, "NNG sub0 NNG_OPT_SUB_PREFNEW = true"),
            sp_sends: d(false, "per-pipe queues of sndhwm, pipes still connecting included"),
            sp_receives: d(false, "per-pipe queues of rcvhwm"),
            recv_ready_first: match lib {
                Library::Nanomsg => {
                    d(true, "nanomsg nn_fq: the pipe ready first, one message a pipe")
                }
                _ => d(false, "each pipe in turn (fair-queued)"),
            },
            router_mandatory: d(false, "libzmq ZMQ_ROUTER_MANDATORY = 0"),
            immediate: d(
                false,
                "libzmq ZMQ_IMMEDIATE = 0 (pipes still connecting take their turn)",
            ),
            heartbeat_ivl: d(None, "libzmq ZMQ_HEARTBEAT_IVL = 0 (off)"),
            heartbeat_timeout: d(None, "libzmq ZMQ_HEARTBEAT_TIMEOUT = 0 (the interval)"),
            heartbeat_ttl: d(None, "libzmq ZMQ_HEARTBEAT_TTL = 0 (none)"),
            handshake_ivl: match lib {
                Library::ZeroMq => d(Some(HANDSHAKE_IVL_LIBZMQ), "libzmq ZMQ_HANDSHAKE_IVL = 30s"),
                Library::Nng => d(
                    Some(HANDSHAKE_IVL_NNG),
                    "NNG: an SP negotiation unfinished after 10s is closed, either side (fixed)",
                ),
                Library::Nanomsg => d(
                    Some(HANDSHAKE_IVL_NANOMSG),
                    "nanomsg: an SP header exchange unfinished after 1s is closed, either side (fixed)",
                ),
            },
            sndbuf: match lib {
                Library::ZeroMq => {
                    d(None, "libzmq ZMQ_SNDBUF = -1: the system's, which Linux tunes")
                }
                Library::Nng => {
                    d(None, "NNG never sets SO_SNDBUF: the system's, which Linux tunes")
                }
                Library::Nanomsg => {
                    d(Some(NANOMSG_BUFFER), "nanomsg NN_SNDBUF = 128KiB, set on every TCP socket")
                }
            },
            rcvbuf: match lib {
                Library::ZeroMq => {
                    d(None, "libzmq ZMQ_RCVBUF = -1: the system's, which Linux tunes")
                }
                Library::Nng => {
                    d(None, "NNG never sets SO_RCVBUF: the system's, which Linux tunes")
                }
                Library::Nanomsg => {
                    d(Some(NANOMSG_BUFFER), "nanomsg NN_RCVBUF = 128KiB, set on every TCP socket")
                }
            },
        }
    }

    /// The plain values the socket cores read.
    pub fn socket_options(&self) -> SocketOptions {
        // A `library: zeromq` socket speaks ZMTP; every other, named or not, SP.
        let zmtp = self.library.value == Some(Library::ZeroMq);
        SocketOptions {
            // NNG's PUSH holds one message per pipe; `sndhwm` is its socket's queue.
            sndhwm_msgs: if self.sp_sends.value { 1 } else { self.sndhwm.value },
            // NNG's PAIR holds one message in its pipe; `rcvhwm` is its socket's queue.
            rcvhwm_msgs: self.rcvhwm.value.saturating_add(u32::from(self.sp_receives.value)),
            req_resend_ivl: self.req_resend_ivl.value,
            req_resend_on_pipe_loss: self.req_resend_on_pipe_loss.value && !self.nng_req_resets(),
            req_reset_on_pipe_loss: self.nng_req_resets(),
            req_send_waits: self.req_send_waits.value,
            req_strict: self.req_strict.value,
            req_correlate: self.req_correlate.value,
            req_resend_tick: self.req_resend_tick.value,
            pair_v1: !zmtp && self.pair_version.value == 1,
            reconnect_ivl: self.reconnect_ivl.value,
            reconnect_ivl_max: self.reconnect_ivl_max.value,
            reconnect_backoff: match self.library.value {
                Some(Library::ZeroMq) => ReconnectBackoff::Libzmq,
                Some(Library::Nng) => ReconnectBackoff::Nng,
                Some(Library::Nanomsg) => ReconnectBackoff::Nanomsg,
                None => ReconnectBackoff::Exact,
            },
            linger: self.linger.value,
            survey_deadline: self.survey_deadline.value,
            heartbeat_ivl: self.heartbeat_ivl.value,
            heartbeat_timeout: self.heartbeat_timeout.value,
            heartbeat_ttl: self.heartbeat_ttl.value,
            zmtp,
            rcvmaxsize_bytes: self.rcvmaxsize.value,
            subscribe: self.subscribe.value.iter().map(|s| s.as_bytes().to_vec()).collect(),
            nng_queues: self.nng_queues.value,
            recv_ready_first: self.recv_ready_first.value,
            send_writes_at_once: self.library.value == Some(Library::Nanomsg),
            rep_recv_cancels: self.library.value == Some(Library::Nanomsg),
            rep_strict: self.library.value == Some(Library::ZeroMq),
            sub_prefer_new: self.sub_prefer_new.value,
            sp_send_buffer: self.sp_sends.value.then_some(self.sndhwm.value),
            router_mandatory: self.router_mandatory.value,
            immediate: self.immediate.value,
            // NNG's and nanomsg's pipe is its connection; a socket whose library is not
            // named keeps a dialling pipe across connections, as its PUSH does.
            sp_pipe_per_connection: matches!(
                self.library.value,
                Some(Library::Nng | Library::Nanomsg)
            ),
            handshake_ivl: self.handshake_ivl.value,
            socket_buffers: SocketBuffers { send: self.sndbuf.value, recv: self.rcvbuf.value },
        }
    }

    /// Whether this is an NNG REQ whose resend time is off, which NNG's
    /// `req0_pipe_close` treats apart: a request lost with its pipe is not sent again
    /// (`if (ctx->retry <= 0)`), and the pending receive, or the next, fails with
    /// `NNG_ECONNRESET` (the conformance row `nng-req-noresend-pipe-loss`). nanomsg's
    /// REQ resends on pipe loss whatever its interval (`nn_req_rm`), and libzmq's
    /// never does.
    pub fn nng_req_resets(&self) -> bool {
        self.library.value == Some(Library::Nng) && self.req_resend_ivl.value.is_none()
    }

    /// The library row, then each option that applies to `socket_type` as `(name,
    /// value, source)`, in a fixed order, for `--explain`.
    pub fn rows(&self, socket_type: SocketType) -> Vec<(&'static str, String, &Source)> {
        let library = match self.library.value {
            Some(lib) => match lib.type_name(socket_type) {
                Some(called) => format!("{} ({}: {called})", lib.version(), lib.name()),
                None => format!("{} ({})", lib.version(), lib.name()),
            },
            None => "not named".to_owned(),
        };
        let mut rows = self.all_rows();
        rows.retain(|(name, _, _)| applies_to(name, socket_type, self.library.value));
        rows.insert(0, ("library", library, &self.library.source));
        if let Some(when_full) = self.when_full(socket_type) {
            // An NNG SUB's choice is its `sub_prefer_new`, default or written.
            let nng_sub = socket_type == SocketType::Sub && self.nng_queues.value;
            let source =
                if nng_sub { &self.sub_prefer_new.source } else { &self.nng_queues.source };
            rows.push(("when_full", when_full.to_owned(), source));
        }
        if let Some(order) = self.receives(socket_type) {
            rows.push(("receives", order.to_owned(), &self.recv_ready_first.source));
        }
        rows
    }

    /// Which pipe's message a socket of `socket_type` hands the application next, for
    /// the types that read from several; `None` for the others (a REQ matches its
    /// reply, a PAIR has one pipe, PUSH and PUB receive nothing of the application's).
    fn receives(&self, socket_type: SocketType) -> Option<&'static str> {
        use SocketType::*;
        if !matches!(
            socket_type,
            Pull | Sub | XSub | Rep | Dealer | Router | Respondent | Surveyor | Bus
        ) {
            return None;
        }
        // What the cores read: `recv_ready_first` in `Pipes::new`, `nng_queues` in
        // the types that keep one queue for the socket.
        Some(if self.recv_ready_first.value {
            "from the pipe ready first"
        } else if self.nng_queues.value {
            "in arrival order, from one queue for the socket"
        } else {
            "each pipe in turn (fair-queued)"
        })
    }

    /// What a PUB's full pipe, a SUB's or XSUB's full queue, or a BUS's either, does
    /// with the next message; `None` for the other types.
    fn when_full(&self, socket_type: SocketType) -> Option<&'static str> {
        use SocketType::*;
        let nng = self.nng_queues.value;
        Some(match socket_type {
            Pub | XPub if nng => "drops the oldest",
            Pub | XPub => "drops the new one",
            Sub if nng && self.sub_prefer_new.value => "reads on, drops the oldest",
            Sub if nng => "reads on, drops the new one",
            XSub if nng => "reads on, drops the new one",
            Sub | XSub => "stops reading the pipe",
            Bus if nng => {
                "a full pipe drops the new copy; a full queue reads on, drops the new one"
            }
            Bus => "a full pipe drops the new copy; a full queue stops reading the pipe",
            _ => return None,
        })
    }

    fn all_rows(&self) -> Vec<(&'static str, String, &Source)> {
        let dur = |d: &Option<Duration>, none: &str| d.map_or(none.to_owned(), format_duration);
        vec![
            ("sndhwm", self.sndhwm.value.to_string(), &self.sndhwm.source),
            ("rcvhwm", self.rcvhwm.value.to_string(), &self.rcvhwm.source),
            (
                "req_resend_ivl",
                dur(&self.req_resend_ivl.value, "never"),
                &self.req_resend_ivl.source,
            ),
            (
                "req_resend_on_pipe_loss",
                if self.nng_req_resets() {
                    "false (resends are off: the receive fails with NNG_ECONNRESET)".to_owned()
                } else {
                    self.req_resend_on_pipe_loss.value.to_string()
                },
                &self.req_resend_on_pipe_loss.source,
            ),
            ("req_send_waits", self.req_send_waits.value.to_string(), &self.req_send_waits.source),
            ("req_strict", self.req_strict.value.to_string(), &self.req_strict.source),
            ("req_correlate", self.req_correlate.value.to_string(), &self.req_correlate.source),
            (
                "req_resend_tick",
                dur(&self.req_resend_tick.value, "off (NNG 1.6: once per interval)"),
                &self.req_resend_tick.source,
            ),
            ("pair_version", self.pair_version.value.to_string(), &self.pair_version.source),
            (
                "reconnect_ivl",
                format_duration(self.reconnect_ivl.value),
                &self.reconnect_ivl.source,
            ),
            (
                "reconnect_ivl_max",
                dur(&self.reconnect_ivl_max.value, "0 (no backoff)"),
                &self.reconnect_ivl_max.source,
            ),
            (
                "linger",
                match self.linger.value {
                    Linger::Forever => "forever".to_owned(),
                    Linger::For(d) => format_duration(d),
                },
                &self.linger.source,
            ),
            (
                "survey_deadline",
                format_duration(self.survey_deadline.value),
                &self.survey_deadline.source,
            ),
            (
                "rcvmaxsize",
                self.rcvmaxsize.value.map_or("unlimited".to_owned(), format_size),
                &self.rcvmaxsize.source,
            ),
            ("subscribe", format!("{:?}", self.subscribe.value), &self.subscribe.source),
            ("sub_prefer_new", self.sub_prefer_new.value.to_string(), &self.sub_prefer_new.source),
            (
                "router_mandatory",
                self.router_mandatory.value.to_string(),
                &self.router_mandatory.source,
            ),
            ("immediate", self.immediate.value.to_string(), &self.immediate.source),
            ("heartbeat_ivl", dur(&self.heartbeat_ivl.value, "off"), &self.heartbeat_ivl.source),
            (
                "heartbeat_timeout",
                dur(&self.heartbeat_timeout.value, "the interval"),
                &self.heartbeat_timeout.source,
            ),
            ("heartbeat_ttl", dur(&self.heartbeat_ttl.value, "none"), &self.heartbeat_ttl.source),
            (
                "handshake_ivl",
                dur(&self.handshake_ivl.value, "for ever"),
                &self.handshake_ivl.source,
            ),
            ("sndbuf", buffer(self.sndbuf.value), &self.sndbuf.source),
            ("rcvbuf", buffer(self.rcvbuf.value), &self.rcvbuf.source),
        ]
    }
}

/// nanomsg's `NN_SNDBUF` and `NN_RCVBUF` default, in bytes.
const NANOMSG_BUFFER: u32 = 128 * 1024;

/// What `--explain` shows of a kernel buffer.
fn buffer(size: Option<u32>) -> String {
    size.map_or("the system's".to_owned(), |bytes| format_size(bytes.into()))
}

/// NNG's resend tick and PAIR version, which the other libraries do not have.
fn tick_and_pair_version(lib: Library) -> (Effective<Option<Duration>>, Effective<u8>) {
    let d = |what| Effective::default(None, what);
    match lib {
        Library::ZeroMq => {
            (d("libzmq: REQ never resends"), Effective::default(0, "libzmq: ZMTP, no SP PAIR"))
        }
        Library::Nng => (
            Effective::default(
                Some(Duration::from_secs(1)),
                "NNG 1.11 NNG_OPT_REQ_RESENDTICK = 1s; since NNG 1.7 every tick after the first resend resends (`off`: NNG 1.6)",
            ),
            Effective::default(1, "NNG: nng_pair_open is PAIR v1 (SP 0x11)"),
        ),
        Library::Nanomsg => (
            d("nanomsg: resends once per NN_REQ_RESEND_IVL, on time"),
            Effective::default(0, "nanomsg: PAIR v0 (SP 0x10), its only PAIR"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(lib: Library) -> EffectiveOptions {
        EffectiveOptions::for_library(SocketType::Req, Effective::default(Some(lib), "test"))
    }

    #[test]
    fn an_unnamed_library_says_default_once() {
        let shown = EffectiveOptions::defaults(SocketType::Req).library.source.to_string();
        assert!(shown.starts_with("default: library not named;"), "{shown}");
    }

    #[test]
    fn only_zeromq_makes_a_req_strict_and_never_resending_on_pipe_loss() {
        let zmq = named(Library::ZeroMq).socket_options();
        assert_eq!(
            (zmq.req_resend_ivl, zmq.req_resend_on_pipe_loss, zmq.req_strict),
            (None, false, true)
        );
        assert!(!zmq.req_correlate, "libzmq's ZMQ_REQ_CORRELATE is off by default");
        for lib in [Library::Nng, Library::Nanomsg] {
            let o = named(lib).socket_options();
            assert!(o.req_resend_on_pipe_loss && !o.req_strict && o.req_correlate, "{lib}");
        }
        let unnamed = EffectiveOptions::defaults(SocketType::Req).socket_options();
        assert!(unnamed.req_resend_on_pipe_loss && !unnamed.req_strict);
    }

    /// NNG's REQ with resends off fails the receive when the request's pipe is lost
    /// (`req0_pipe_close`); nanomsg's resends whatever its interval, libzmq's waits.
    #[test]
    fn only_an_nng_req_without_resends_resets_on_pipe_loss() {
        let off = |lib: Option<Library>| {
            let mut o =
                EffectiveOptions::for_library(SocketType::Req, Effective::default(lib, "test"));
            o.req_resend_ivl = Effective::default(None, "test");
            let so = o.socket_options();
            let row = o
                .rows(SocketType::Req)
                .into_iter()
                .find(|(n, _, _)| *n == "req_resend_on_pipe_loss");
            (so.req_resend_on_pipe_loss, so.req_reset_on_pipe_loss, row.expect("a REQ row").1)
        };
        let (resends, resets, shown) = off(Some(Library::Nng));
        assert!(!resends && resets, "NNG with resends off");
        assert!(shown.contains("NNG_ECONNRESET"), "{shown}");
        assert_eq!(off(Some(Library::Nanomsg)), (true, false, "true".to_owned()));
        assert_eq!(off(Some(Library::ZeroMq)), (false, false, "false".to_owned()));
        assert_eq!(off(None), (true, false, "true".to_owned()));
        // At NNG's default resend time it resends, as before.
        let nng = named(Library::Nng).socket_options();
        assert!(nng.req_resend_on_pipe_loss && !nng.req_reset_on_pipe_loss);
    }

    /// Each library's REP on a receive while a request is unanswered: libzmq's refuses
    /// it, nanomsg's abandons the request at every receive, NNG's (and an unnamed
    /// one) only at one that takes a new request.
    #[test]
    fn a_rep_receiving_before_its_reply_is_each_library_s() {
        let rep = |lib: Option<Library>| {
            let o = EffectiveOptions::for_library(SocketType::Rep, Effective::default(lib, "test"))
                .socket_options();
            (o.rep_strict, o.rep_recv_cancels)
        };
        assert_eq!(rep(Some(Library::ZeroMq)), (true, false));
        assert_eq!(rep(Some(Library::Nanomsg)), (false, true));
        assert_eq!(rep(Some(Library::Nng)), (false, false));
        assert_eq!(rep(None), (false, false));
    }

    #[test]
    fn only_nngs_pub_and_sub_keep_the_newest_with_its_own_buffer_sizes() {
        let of = |t: SocketType, lib: Option<Library>| {
            EffectiveOptions::for_library(t, Effective::default(lib, "test"))
        };
        let when_full = |o: &EffectiveOptions, t: SocketType| {
            let rows = o.rows(t);
            rows.iter().find(|(n, _, _)| *n == "when_full").map(|(_, v, _)| v.clone())
        };
        let (publ, sub) =
            (of(SocketType::Pub, Some(Library::Nng)), of(SocketType::Sub, Some(Library::Nng)));
        assert!(publ.socket_options().nng_queues && sub.socket_options().nng_queues);
        assert_eq!((publ.sndhwm.value, sub.rcvhwm.value), (16, 128));
        assert_eq!(when_full(&publ, SocketType::Pub).as_deref(), Some("drops the oldest"));
        let nng_sub = when_full(&sub, SocketType::Sub);
        assert_eq!(nng_sub.as_deref(), Some("reads on, drops the oldest"));
        let nng_xsub = when_full(&of(SocketType::XSub, Some(Library::Nng)), SocketType::XSub);
        assert_eq!(nng_xsub.as_deref(), Some("reads on, drops the new one"));
        // libzmq's pipes hold 1,000 messages; nanomsg's one each way.
        for (lib, hwm) in [(None, 1000), (Some(Library::ZeroMq), 1000), (Some(Library::Nanomsg), 1)]
        {
            let (publ, sub) = (of(SocketType::Pub, lib), of(SocketType::Sub, lib));
            assert!(!publ.socket_options().nng_queues && !sub.socket_options().nng_queues);
            assert_eq!((publ.sndhwm.value, sub.rcvhwm.value), (hwm, hwm), "{lib:?}");
            let zmq_sub = when_full(&sub, SocketType::Sub);
            assert_eq!(zmq_sub.as_deref(), Some("stops reading the pipe"), "{lib:?}");
        }
        assert_eq!(when_full(&named(Library::Nng), SocketType::Req), None, "a REQ has no such row");
    }

    #[test]
    fn explain_says_which_pipe_a_receiver_reads_next_as_the_core_does() {
        let receives = |t: SocketType, lib: Option<Library>| {
            let o = EffectiveOptions::for_library(t, Effective::default(lib, "test"));
            let rows = o.rows(t);
            let row = rows.iter().find(|(n, _, _)| *n == "receives").map(|(_, v, _)| v.clone());
            (row, o.socket_options().recv_ready_first)
        };
        let (nanomsg, ready_first) = receives(SocketType::Pull, Some(Library::Nanomsg));
        assert!(nanomsg.is_some_and(|r| r.contains("ready first")) && ready_first);
        for lib in [None, Some(Library::ZeroMq)] {
            let (zmq, ready_first) = receives(SocketType::Pull, lib);
            assert!(zmq.is_some_and(|r| r.contains("each pipe in turn")) && !ready_first);
        }
        let (nng_sub, ready_first) = receives(SocketType::Sub, Some(Library::Nng));
        assert!(nng_sub.is_some_and(|r| r.contains("arrival order")) && !ready_first);
        let (nng_pull, ready_first) = receives(SocketType::Pull, Some(Library::Nng));
        assert!(nng_pull.is_some_and(|r| r.contains("ready first")) && ready_first);
        assert_eq!(receives(SocketType::Req, Some(Library::Nanomsg)).0, None, "a REQ matches");
        assert_eq!(receives(SocketType::Push, None).0, None);
    }

    #[test]
    fn the_sp_libraries_push_and_pair_queue_on_the_socket_unbuffered_by_default() {
        let options = |t: SocketType, lib: Option<Library>| {
            EffectiveOptions::for_library(t, Effective::default(lib, "test"))
        };
        for t in [SocketType::Push, SocketType::Pair] {
            for (lib, says) in
                [(Library::Nng, "NNG_OPT_SENDBUF = 0"), (Library::Nanomsg, "no send queue")]
            {
                let sp = options(t, Some(lib));
                assert_eq!(sp.sndhwm.value, 0, "{t} {lib:?}");
                assert!(sp.sndhwm.source.to_string().contains(says), "{}", sp.sndhwm.source);
                let o = sp.socket_options();
                assert_eq!((o.sp_send_buffer, o.sndhwm_msgs), (Some(0), 1), "{t} {lib:?}");
            }
            for lib in [None, Some(Library::ZeroMq)] {
                let o = options(t, lib).socket_options();
                assert_eq!((o.sp_send_buffer, o.sndhwm_msgs), (None, 1000), "{t} {lib:?}");
            }
        }
        let nanomsg_rep = options(SocketType::Rep, Some(Library::Nanomsg)).socket_options();
        assert_eq!((nanomsg_rep.sndhwm_msgs, nanomsg_rep.rcvhwm_msgs), (1, 1), "one each way");
        // NNG's PULL, REP and RESPONDENT keep no receive queue: a pipe holds one message.
        for (t, says) in [
            (SocketType::Pull, "pull0"),
            (SocketType::Rep, "rep0"),
            (SocketType::Respondent, "respondent0"),
        ] {
            let nng = options(t, Some(Library::Nng));
            assert_eq!(nng.socket_options().rcvhwm_msgs, 1, "{t}");
            assert!(nng.rcvhwm.source.to_string().contains(says), "{}", nng.rcvhwm.source);
        }
        // NNG's PAIR: its pipe's one message, then NNG_OPT_RECVBUF (0) on the socket;
        // a written `rcvhwm` is that buffer.
        let nng_pair = options(SocketType::Pair, Some(Library::Nng));
        assert_eq!((nng_pair.rcvhwm.value, nng_pair.socket_options().rcvhwm_msgs), (0, 1));
        let ten = EffectiveOptions { rcvhwm: Effective::default(10, "test"), ..nng_pair };
        assert_eq!(ten.socket_options().rcvhwm_msgs, 11, "the buffer and the pipe's one");
        let zmq_pair = options(SocketType::Pair, Some(Library::ZeroMq)).socket_options();
        assert_eq!(zmq_pair.rcvhwm_msgs, 1000);
        assert_eq!(options(SocketType::Pull, Some(Library::ZeroMq)).rcvhwm.value, 1000);
        assert_eq!(options(SocketType::Req, Some(Library::Nng)).rcvhwm.value, 1000);
        for t in [SocketType::Pull, SocketType::Pub, SocketType::Req, SocketType::Bus] {
            for lib in [Library::Nng, Library::Nanomsg] {
                let o = options(t, Some(lib)).socket_options();
                assert_eq!(o.sp_send_buffer, None, "{t} {lib:?}: only a PUSH, PAIR or DEALER");
            }
        }
        // NNG's raw REQ and nanomsg's XREQ queue on the socket as their PUSH does;
        // libzmq's DEALER per pipe.
        let dealer = |lib| options(SocketType::Dealer, Some(lib)).socket_options().sp_send_buffer;
        assert_eq!((dealer(Library::Nng), dealer(Library::Nanomsg)), (Some(0), Some(0)));
        assert_eq!(dealer(Library::ZeroMq), None);
    }

    #[test]
    fn only_nng_speaks_pair_v1_and_ticks_its_resends() {
        let pair = |lib: Option<Library>| {
            EffectiveOptions::for_library(SocketType::Pair, Effective::default(lib, "test"))
        };
        assert!(pair(Some(Library::Nng)).socket_options().pair_v1);
        for lib in [None, Some(Library::Nanomsg), Some(Library::ZeroMq)] {
            assert!(!pair(lib).socket_options().pair_v1, "{lib:?}");
        }
        let nng = named(Library::Nng);
        assert_eq!(nng.socket_options().req_resend_tick, Some(Duration::from_secs(1)));
        let rows = nng.rows(SocketType::Req);
        let tick = rows.iter().find(|(n, _, _)| *n == "req_resend_tick").expect("an nng row");
        assert!(tick.2.to_string().contains("NNG_OPT_REQ_RESENDTICK = 1s"), "{}", tick.2);
        for other in [named(Library::Nanomsg), EffectiveOptions::defaults(SocketType::Req)] {
            assert_eq!(other.socket_options().req_resend_tick, None);
            assert!(other.rows(SocketType::Req).iter().all(|(n, _, _)| *n != "req_resend_tick"));
        }
    }

    #[test]
    fn explain_shows_the_req_behaviours_with_their_source_on_req_only() {
        let zmq = named(Library::ZeroMq);
        let rows = zmq.rows(SocketType::Req);
        let row = rows.iter().find(|(name, _, _)| *name == "req_resend_on_pipe_loss");
        let (_, value, source) = row.expect("a REQ row");
        assert_eq!(value, "false");
        assert!(source.to_string().contains("libzmq: a request lost with its pipe"), "{source}");
        let dealer = EffectiveOptions::defaults(SocketType::Dealer);
        assert!(dealer.rows(SocketType::Dealer).iter().all(|(n, _, _)| !n.starts_with("req_")));
    }

    #[test]
    fn only_zeromq_speaks_zmtp_with_libzmq_heartbeats_off_and_its_handshake_deadline() {
        let zmq = named(Library::ZeroMq);
        let o = zmq.socket_options();
        assert!(o.zmtp);
        assert_eq!((o.heartbeat_ivl, o.heartbeat_timeout, o.heartbeat_ttl), (None, None, None));
        assert_eq!(o.handshake_ivl, Some(HANDSHAKE_IVL_LIBZMQ));
        let rows = zmq.rows(SocketType::Req);
        let row = rows.iter().find(|(name, _, _)| *name == "heartbeat_ivl").expect("a row");
        assert_eq!(
            (row.1.as_str(), row.2.to_string()),
            ("off", "default: libzmq ZMQ_HEARTBEAT_IVL = 0 (off)".to_owned())
        );
        // Each SP library's own fixed deadline; an unnamed socket takes NNG's.
        for (sp, deadline) in [
            (named(Library::Nng), HANDSHAKE_IVL_NNG),
            (named(Library::Nanomsg), HANDSHAKE_IVL_NANOMSG),
            (EffectiveOptions::defaults(SocketType::Req), HANDSHAKE_IVL_NNG),
        ] {
            let o = sp.socket_options();
            assert!(!o.zmtp, "{:?} speaks SP", sp.library.value);
            assert_eq!(o.handshake_ivl, Some(deadline), "{:?}", sp.library.value);
            let row = sp.rows(SocketType::Req).into_iter().find(|(n, _, _)| *n == "handshake_ivl");
            assert_eq!(row.map(|r| r.1), Some(format_duration(deadline)));
            let rows = sp.rows(SocketType::Req);
            assert!(
                rows.iter().all(|(n, _, _)| !n.starts_with("heartbeat_")),
                "no heartbeat rows on SP"
            );
        }
    }
}
