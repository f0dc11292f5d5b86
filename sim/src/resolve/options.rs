//! Socket options: the options a file writes, applied over the defaults of the
//! socket's library (`plan/options.rs` holds the effective options and their
//! provenance), with a diagnostic for every option the socket's type or library does
//! not have, every bad value, and every inconsistent pair.

use std::time::Duration;

use crate::plan::options::applies_to;
use crate::plan::{Effective, EffectiveOptions, Library, Source};
use crate::socket::{Linger, SocketType};
use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawOptions;
use crate::spec::scalar::{Scalar, ScalarKind};
use crate::spec::units::{format_duration, parse_duration, parse_size};
use crate::spec::yaml;

use super::network::DEFAULT_TICK;
use super::scalars::{
    TIME_OPTION_MAX, WholeRange, not_a_whole_number, time_option_max_hint, whole_number,
};
use super::tick::next_tick;

/// libzmq's ZMTP heartbeat options, which SP has no counterpart of: on a socket that
/// speaks SP they are refused with a hint. `(name, hint)`.
const HEARTBEATS: [(&str, &str); 3] = [
    (
        "heartbeat_ivl",
        "for application-level heartbeats use the Paranoid Pirate designs (`ppp-broker`, `ppp-worker`) and their `heartbeat_ivl` parameter, or name `library: zeromq` for this socket",
    ),
    (
        "heartbeat_timeout",
        "the Paranoid Pirate designs (`ppp-broker`, `ppp-worker`) expire a silent peer after `liveness` missed beats of their `heartbeat_ivl` parameter, or name `library: zeromq` for this socket",
    ),
    ("heartbeat_ttl", "name `library: zeromq` for this socket to model libzmq's ZMTP heartbeats"),
];

/// What to do instead of `req_resend_tick` where NNG's REQ is not modelled.
const NNG_TICK_HINT: &str = "only NNG (1.7 and later) checks the resend time on a tick; nanomsg's REQ (and an unnamed one) resends once per `req_resend_ivl`, on time; name `library: nng` for this socket to model NNG's tick";

/// What to do instead of `pair_version` where NNG's PAIR is not modelled.
const NNG_PAIR_HINT: &str = "nanomsg's PAIR (and an unnamed one) is always v0 and libzmq's speaks ZMTP; name `library: nng` for this socket to choose between NNG's PAIR v1 and v0";

/// What to do instead of `sub_prefer_new` where NNG's SUB is not modelled.
const NNG_PREFNEW_HINT: &str = "libzmq's and nanomsg's SUB (and an unnamed one) stop reading a full pipe instead of discarding; name `library: nng` for this socket to model NNG's SUB";

/// What the two PAIR versions are.
const PAIR_VERSION_HINT: &str = "1 is NNG's default PAIR (nng_pair1_open), 0 its pair0 (nng_pair0_open), which nanomsg's PAIR speaks";

/// A tick on a REQ whose resends are off would be accepted and do nothing.
const TICK_WITHOUT_RESENDS: &str =
    "`req_resend_tick` does nothing on a REQ that never resends (`req_resend_ivl: off`)";

/// `req_resend_tick`'s value: `off` (NNG 1.6) or a tick longer than zero; an error
/// is its message and hint.
fn parse_tick(text: &str) -> Result<Option<Duration>, (String, String)> {
    if text == "off" {
        return Ok(None);
    }
    match parse_duration(text) {
        Ok(d) if d > TIME_OPTION_MAX => Err((
            format!(
                "`req_resend_tick` is {}, longer than the {} a library's time option holds",
                format_duration(d),
                format_duration(TIME_OPTION_MAX)
            ),
            time_option_max_hint(),
        )),
        Ok(d) if !d.is_zero() => Ok(Some(d)),
        Ok(_) => Err((
            "`req_resend_tick` must be longer than zero".to_owned(),
            "NNG's default is `1s`; write `off` for NNG 1.6's resend once per interval".to_owned(),
        )),
        Err(e) => Err((
            format!("`req_resend_tick`: {}", e.message),
            e.hint.unwrap_or_else(|| "or `off`".to_owned()),
        )),
    }
}

/// `pair_version`'s value: 0 or 1, as YAML integers; an error is its message and hint.
fn parse_pair_version(written: &Scalar) -> Result<u8, (String, String)> {
    if let Some((found, hint)) = not_a_whole_number(written) {
        return Err((
            format!("`pair_version` must be 0 or 1, found {found}"),
            hint.unwrap_or_else(|| PAIR_VERSION_HINT.to_owned()),
        ));
    }
    let text = written.text.as_str();
    match text {
        "0" | "1" => Ok(u8::from(text == "1")),
        _ => Err((
            format!("`pair_version` must be 0 or 1, found `{text}`"),
            PAIR_VERSION_HINT.to_owned(),
        )),
    }
}

/// `sndhwm` and `rcvhwm`: a count of messages that libzmq takes as a C `int`
/// (`ZMQ_SNDHWM`, `ZMQ_RCVHWM`), 0 meaning no limit; NNG's buffers are held to less
/// below (`nng_buffer`), and nanomsg has none.
const HWM: WholeRange = WholeRange {
    min: 0,
    max: i32::MAX as u64,
    below_hint: "a high-water mark cannot be negative: 0 means no limit, as in libzmq",
    above_hint: Some(
        "libzmq takes ZMQ_SNDHWM and ZMQ_RCVHWM as a C int; for no limit write `0`, as in libzmq",
    ),
    example_hint: "for example `1000`; 0 means no limit, as in libzmq",
};

/// The largest buffer NNG's sockets accept, in messages (`push0_set_send_buf_len`
/// and the others `nng_buffer` names).
const NNG_SENDBUF_MAX: u32 = 8192;

/// The largest `rcvmaxsize` a socket's library can be given, in bytes: libzmq's
/// `ZMQ_MAXMSGSIZE` is an `int64_t`, nanomsg's `NN_RCVMAXSIZE` a C `int`, and NNG's
/// `NNG_OPT_RECVMAXSZ` a `size_t` (64 bits where patchbay runs), which holds every
/// size patchbay reads. A socket whose library is not named stands for none of them.
fn rcvmaxsize_max(library: Option<Library>) -> u64 {
    match library {
        Some(Library::ZeroMq) => i64::MAX as u64,
        Some(Library::Nanomsg) => i32::MAX as u64,
        Some(Library::Nng) | None => u64::MAX,
    }
}

/// The longest TTL a PING can carry: 65535 tenths of a second (ZMTP 3.1).
const HEARTBEAT_TTL_MAX: Duration = Duration::from_millis(6_553_500);

impl EffectiveOptions {
    /// Applies the options written at `path` over `self`, reporting every mistake.
    pub(crate) fn apply(
        &mut self,
        raw: &RawOptions,
        socket_type: SocketType,
        path: &YamlPath,
        diags: &mut Diagnostics,
    ) {
        let mut ctx = Apply { socket_type, library: self.library.value, path, diags };
        self.apply_queues(raw, &mut ctx);
        ctx.optional_duration(&raw.req_resend_ivl, "req_resend_ivl", &mut self.req_resend_ivl);
        ctx.duration(&raw.reconnect_ivl, "reconnect_ivl", &mut self.reconnect_ivl);
        ctx.optional_duration(
            &raw.reconnect_ivl_max,
            "reconnect_ivl_max",
            &mut self.reconnect_ivl_max,
        );
        ctx.linger(&raw.linger, &mut self.linger);
        ctx.duration(&raw.survey_deadline, "survey_deadline", &mut self.survey_deadline);
        self.apply_heartbeats(raw, &mut ctx);
        self.apply_handshake_ivl(raw, &mut ctx);
        ctx.size(&raw.rcvmaxsize, &mut self.rcvmaxsize);
        ctx.kernel_buffer(raw.sndbuf.as_ref(), "sndbuf", &mut self.sndbuf);
        ctx.kernel_buffer(raw.rcvbuf.as_ref(), "rcvbuf", &mut self.rcvbuf);
        if let Some(prefixes) = &raw.subscribe
            && ctx.check_applies("subscribe")
        {
            self.subscribe = Effective {
                value: prefixes.iter().cloned().collect(),
                source: ctx.source("subscribe"),
            };
        }
        if let Some(raw) = &raw.router_mandatory
            && ctx.check_applies("router_mandatory")
            && let Some(mandatory) = ctx.flag(raw, "router_mandatory")
        {
            self.router_mandatory =
                Effective { value: mandatory, source: ctx.source("router_mandatory") };
        }
        if let Some(raw) = &raw.immediate
            && ctx.check_applies("immediate")
            && let Some(immediate) = ctx.flag(raw, "immediate")
        {
            self.immediate = Effective { value: immediate, source: ctx.source("immediate") };
        }
        self.apply_libzmq_req(raw, &mut ctx);
        self.apply_nng(raw, &mut ctx);
        self.check_consistency(path, diags);
    }

    /// `sndhwm` and `rcvhwm`, where the library has a queue for them to bound: none on
    /// nanomsg (`nanomsg_buffers`), no receive queue on NNG's PULL, REP, RESPONDENT
    /// and REQ, and at most NNG's largest send buffer where `sndhwm` is one
    /// (`nng_buffers`).
    fn apply_queues(&mut self, raw: &RawOptions, ctx: &mut Apply<'_, '_, '_>) {
        if ctx.library == Some(Library::Nanomsg) {
            ctx.no_nanomsg_queue(raw.sndhwm.as_ref(), "sndhwm");
            ctx.no_nanomsg_queue(raw.rcvhwm.as_ref(), "rcvhwm");
            return;
        }
        if ctx.library == Some(Library::Nng) && ctx.socket_type == SocketType::Router {
            ctx.nng_router_queue_fixed(raw.sndhwm.as_ref());
        } else {
            ctx.count(&raw.sndhwm, "sndhwm", &mut self.sndhwm);
        }
        if self.sp_sends.value {
            ctx.nng_buffer(raw.sndhwm.as_ref(), "sndhwm", "NNG_OPT_SENDBUF", 0, self.sndhwm.value);
        }
        let holds_one = matches!(
            ctx.socket_type,
            SocketType::Pull | SocketType::Rep | SocketType::Respondent | SocketType::Req
        );
        if ctx.library == Some(Library::Nng) && holds_one {
            ctx.no_nng_receive_queue(raw.rcvhwm.as_ref());
        } else {
            ctx.count(&raw.rcvhwm, "rcvhwm", &mut self.rcvhwm);
        }
        let raw_req_or_rep = matches!(ctx.socket_type, SocketType::Router | SocketType::Dealer);
        if ctx.library == Some(Library::Nng) && raw_req_or_rep {
            ctx.nng_buffer(raw.rcvhwm.as_ref(), "rcvhwm", "NNG_OPT_RECVBUF", 0, self.rcvhwm.value);
        }
        if ctx.library == Some(Library::Nng) && ctx.socket_type == SocketType::Bus {
            ctx.nng_buffer(raw.sndhwm.as_ref(), "sndhwm", "NNG_OPT_SENDBUF", 1, self.sndhwm.value);
            ctx.nng_buffer(raw.rcvhwm.as_ref(), "rcvhwm", "NNG_OPT_RECVBUF", 1, self.rcvhwm.value);
        }
        if self.sp_receives.value {
            ctx.nng_buffer(raw.rcvhwm.as_ref(), "rcvhwm", "NNG_OPT_RECVBUF", 0, self.rcvhwm.value);
        }
    }

    /// libzmq's ZMTP heartbeats, on a `library: zeromq` socket only.
    fn apply_heartbeats(&mut self, raw: &RawOptions, ctx: &mut Apply<'_, '_, '_>) {
        let written = [&raw.heartbeat_ivl, &raw.heartbeat_timeout, &raw.heartbeat_ttl];
        let outs = [&mut self.heartbeat_ivl, &mut self.heartbeat_timeout, &mut self.heartbeat_ttl];
        for ((raw, out), (option, hint)) in written.into_iter().zip(outs).zip(HEARTBEATS) {
            if raw.is_none() {
                continue;
            }
            if ctx.library != Some(Library::ZeroMq) {
                ctx.not_zmtp(option, hint);
                continue;
            }
            ctx.optional_duration(raw, option, out);
        }
        if let Some(ttl) = self.heartbeat_ttl.value.filter(|ttl| *ttl > HEARTBEAT_TTL_MAX) {
            let message = format!(
                "`heartbeat_ttl` of {} is longer than a PING can carry",
                format_duration(ttl)
            );
            ctx.bad("heartbeat_ttl", message, Some("at most 6553.5s (65535 tenths)".into()));
        }
    }

    /// libzmq's `ZMQ_HANDSHAKE_IVL`, on a `library: zeromq` socket only: NNG and
    /// nanomsg close an unfinished handshake after a time of their own, which no
    /// option changes (docs/limits.md).
    fn apply_handshake_ivl(&mut self, raw: &RawOptions, ctx: &mut Apply<'_, '_, '_>) {
        if raw.handshake_ivl.is_none() {
            return;
        }
        if ctx.library == Some(Library::ZeroMq) {
            ctx.optional_duration(&raw.handshake_ivl, "handshake_ivl", &mut self.handshake_ivl);
            return;
        }
        let whose = self.library.value.map_or_else(
            || "a socket whose library is not named speaks SP, with NNG's".to_owned(),
            |lib| format!("{} has its own", lib.version()),
        );
        let fixed = format_duration(self.handshake_ivl.value.unwrap_or_default());
        ctx.refuse(
            "handshake_ivl",
            Code::OptionNotInLibrary,
            format!("`handshake_ivl` is libzmq's ZMQ_HANDSHAKE_IVL; {whose} deadline of {fixed}, which no option changes"),
            "name `library: zeromq` for this socket to model libzmq's handshake deadline",
        );
    }

    /// libzmq's `req_relaxed` and `req_correlate`: the first turns strictness off,
    /// the second turns correlation on, which only matters once a REQ can give up on
    /// a request, so it needs the first.
    fn apply_libzmq_req(&mut self, raw: &RawOptions, ctx: &mut Apply<'_, '_, '_>) {
        if let Some(written) = &raw.req_relaxed
            && ctx.check_libzmq_req("req_relaxed")
            && let Some(relaxed) = ctx.flag(written, "req_relaxed")
        {
            self.req_strict = Effective { value: !relaxed, source: ctx.source("req_relaxed") };
        }
        if let Some(written) = &raw.req_correlate
            && ctx.check_libzmq_req("req_correlate")
            && let Some(correlate) = ctx.flag(written, "req_correlate")
        {
            if self.req_strict.value {
                ctx.needs_relaxed();
                return;
            }
            self.req_correlate =
                Effective { value: correlate, source: ctx.source("req_correlate") };
        }
    }

    /// NNG's `req_resend_tick`, `pair_version` and `sub_prefer_new`, on a `library:
    /// nng` socket only.
    fn apply_nng(&mut self, raw: &RawOptions, ctx: &mut Apply<'_, '_, '_>) {
        if let Some(written) = &raw.sub_prefer_new
            && ctx.check_nng("sub_prefer_new", SocketType::Sub, NNG_PREFNEW_HINT)
            && let Some(prefer_new) = ctx.flag(written, "sub_prefer_new")
        {
            self.sub_prefer_new =
                Effective { value: prefer_new, source: ctx.source("sub_prefer_new") };
        }
        let tick = raw.req_resend_tick.as_ref();
        let req = (SocketType::Req, NNG_TICK_HINT);
        let parse = |s: &Scalar| parse_tick(&s.text);
        if let Some(tick) = ctx.nng_option(tick, "req_resend_tick", req, parse) {
            if let Some(d) = tick.value {
                ctx.off_the_millisecond("req_resend_tick", d);
            }
            self.req_resend_tick = tick;
        }
        let version = raw.pair_version.as_ref();
        let pair = (SocketType::Pair, NNG_PAIR_HINT);
        if let Some(version) = ctx.nng_option(version, "pair_version", pair, parse_pair_version) {
            self.pair_version = version;
        }
    }

    fn check_consistency(&self, path: &YamlPath, diags: &mut Diagnostics) {
        if let (None, Some(_), Source::File { .. }) =
            (self.req_resend_ivl.value, self.req_resend_tick.value, &self.req_resend_tick.source)
        {
            diags
                .error(
                    &path.key("req_resend_tick"),
                    Target::Key,
                    Code::BadValue,
                    TICK_WITHOUT_RESENDS.to_owned(),
                )
                .hint("remove it, or give `req_resend_ivl` a duration");
        }
        if let (Some(max), Source::File { .. }) =
            (self.reconnect_ivl_max.value, &self.reconnect_ivl_max.source)
            && max < self.reconnect_ivl.value
        {
            diags
                .error(
                    &path.key("reconnect_ivl_max"),
                    Target::Value,
                    Code::BadValue,
                    format!(
                        "`reconnect_ivl_max` ({}) is below `reconnect_ivl` ({})",
                        format_duration(max),
                        format_duration(self.reconnect_ivl.value)
                    ),
                )
                .hint(
                    "the backoff ceiling must be at least the first interval; use 0 for no backoff",
                );
        }
    }
}

/// The state of one `EffectiveOptions::apply` call.
struct Apply<'p, 'd, 'a> {
    socket_type: SocketType,
    /// The socket's library, which decides whether `router_mandatory` exists.
    library: Option<Library>,
    path: &'p YamlPath,
    diags: &'d mut Diagnostics<'a>,
}

impl Apply<'_, '_, '_> {
    fn source(&self, option: &str) -> Source {
        let src = self.diags.source();
        Source::File {
            file: src.path.clone(),
            location: yaml::locate(src, &self.path.key(option), Target::Value),
        }
    }

    fn check_applies(&mut self, option: &'static str) -> bool {
        if applies_to(option, self.socket_type, self.library) {
            return true;
        }
        if let Some(lib) = self.library
            && applies_to(option, self.socket_type, None)
        {
            let called = lib.type_name(self.socket_type).unwrap_or(self.socket_type.name());
            let hint = match option {
                "immediate" => {
                    "its pipes exist only while connected, so it already sends only to peers that are up; name `library: zeromq` for this socket to model libzmq's option"
                }
                _ => {
                    "it silently drops what it cannot route; name `library: zeromq` for this socket to model libzmq's option"
                }
            };
            self.refuse(
                option,
                Code::OptionNotInLibrary,
                format!(
                    "`{option}` is libzmq's; {} has no such option for its {called}",
                    lib.version()
                ),
                hint,
            );
            return false;
        }
        let owners: Vec<&str> = SocketType::ALL
            .into_iter()
            .filter(|t| applies_to(option, *t, self.library))
            .map(SocketType::name)
            .collect();
        self.refuse(
            option,
            Code::OptionNotApplicable,
            format!("`{option}` does not apply to a {} socket", self.socket_type),
            format!("it applies to {} sockets only", owners.join(", ")),
        );
        false
    }

    /// Whether a libzmq REQ option may be written here: on a REQ of `library: zeromq`
    /// only, as NNG's and nanomsg's REQ always behave as relaxed and correlated.
    fn check_libzmq_req(&mut self, option: &'static str) -> bool {
        if self.socket_type != SocketType::Req {
            let message = format!("`{option}` does not apply to a {} socket", self.socket_type);
            let hint = "it applies to REQ sockets of `library: zeromq` only";
            self.refuse(option, Code::OptionNotApplicable, message, hint);
            return false;
        }
        if self.library == Some(Library::ZeroMq) {
            return true;
        }
        let whose = self.library.map_or("a REQ whose library is not named".to_owned(), |l| {
            format!("{}'s REQ", l.version())
        });
        let message = format!("`{option}` is libzmq's; {whose} has no such option");
        self.refuse(option, Code::OptionNotInLibrary, message, "NNG's and nanomsg's REQ (and an unnamed one) already cancel the outstanding request on a new send and match replies by id; name `library: zeromq` for this socket to model libzmq's option");
        false
    }

    /// Whether an NNG-only option may be written here: on a `socket_type` socket of
    /// `library: nng` only.
    fn check_nng(&mut self, option: &'static str, socket_type: SocketType, hint: &str) -> bool {
        if self.socket_type != socket_type {
            let message = format!("`{option}` does not apply to a {} socket", self.socket_type);
            let hint = format!("it applies to {socket_type} sockets of `library: nng` only");
            self.refuse(option, Code::OptionNotApplicable, message, hint);
            return false;
        }
        if self.library == Some(Library::Nng) {
            return true;
        }
        let whose =
            self.library.map_or(format!("a {socket_type} whose library is not named"), |l| {
                format!("{}'s {socket_type}", l.version())
            });
        let message = format!("`{option}` is NNG's; {whose} has no such option");
        self.refuse(option, Code::OptionNotInLibrary, message, hint);
        false
    }

    /// An NNG-only option written as `raw`, parsed, with its place in the file: `None`
    /// where it is not written, or is refused on this socket's type or library, or
    /// its value is bad (each of those with its diagnostic). `only_on` is the type it
    /// applies to and the hint for another library.
    fn nng_option<T>(
        &mut self,
        raw: Option<&Scalar>,
        option: &'static str,
        only_on: (SocketType, &str),
        parse: impl FnOnce(&Scalar) -> Result<T, (String, String)>,
    ) -> Option<Effective<T>> {
        let raw = raw?;
        if !self.check_nng(option, only_on.0, only_on.1) {
            return None;
        }
        match parse(raw) {
            Ok(value) => Some(Effective { value, source: self.source(option) }),
            Err((message, hint)) => {
                self.bad(option, message, Some(hint));
                None
            }
        }
    }

    /// `req_correlate` without `req_relaxed`: a strict REQ has one request at a time,
    /// so matching ids would change nothing.
    fn needs_relaxed(&mut self) {
        let message =
            "`req_correlate` does nothing on a strict REQ: it has one request at a time".to_owned();
        let d =
            self.diags.error(&self.path.key("req_correlate"), Target::Key, Code::BadValue, message);
        d.hint("add `req_relaxed: true`, as libzmq's ZMQ_REQ_CORRELATE is meant to be used with ZMQ_REQ_RELAXED");
    }

    /// A ZMTP heartbeat option on a socket that speaks SP, which has no heartbeats.
    fn not_zmtp(&mut self, option: &str, hint: &str) {
        let whose =
            self.library.map_or("a socket whose library is not named speaks SP".to_owned(), |l| {
                format!("{} speaks SP", l.version())
            });
        let message =
            format!("`{option}` is libzmq's ZMTP heartbeat; {whose}, which has no PING/PONG");
        self.refuse(option, Code::OptionNotInLibrary, message, hint);
    }

    /// `sndhwm` or `rcvhwm` (`option`, written as `raw`) on a nanomsg socket, which
    /// has no message queue for it to bound: a pipe holds the one message it is
    /// writing and the one the application has not taken
    /// (`EffectiveOptions::nanomsg_buffers`), so a value would change nothing
    /// nanomsg has.
    fn no_nanomsg_queue(&mut self, raw: Option<&Scalar>, option: &'static str) {
        if raw.is_none() {
            return;
        }
        let (what, holds, buf) = match option {
            "sndhwm" => ("send", "the one message it is writing", "NN_SNDBUF"),
            _ => ("receive", "the one message the application has not taken", "NN_RCVBUF"),
        };
        let message = format!(
            "nanomsg's {} has no {what} queue for `{option}` to bound: a pipe holds {holds}",
            self.socket_type
        );
        self.refuse(option, Code::OptionNotInLibrary, message, format!("nanomsg bounds bytes instead, in the kernel's socket buffer ({buf}, 128 KiB): write `{}` for it, or remove `{option}`, or name `library: nng` or `library: zeromq` for a socket with a message queue", if option == "sndhwm" { "sndbuf" } else { "rcvbuf" }));
    }

    /// `rcvhwm` on an NNG PULL, REP or RESPONDENT, which keeps no receive queue: each
    /// pipe holds the one message the application has not taken
    /// (`EffectiveOptions::nng_buffers`).
    fn no_nng_receive_queue(&mut self, raw: Option<&Scalar>) {
        if raw.is_none() {
            return;
        }
        let holds = if self.socket_type == SocketType::Req {
            "it keeps only the reply it waits for, and reads its pipes on"
        } else {
            "a pipe holds the one message the application has not taken"
        };
        let message = format!(
            "NNG's {} has no receive queue for `rcvhwm` to bound: {holds}",
            self.socket_type
        );
        let hint = format!(
            "NNG_OPT_RECVBUF reads back 1 on a {}, but its protocol does not use that queue; remove `rcvhwm`, or name `library: zeromq` for a socket with a receive queue",
            self.socket_type
        );
        self.refuse("rcvhwm", Code::OptionNotInLibrary, message, hint);
    }

    /// NNG's raw REP queues 64 messages per pipe, a size it fixes; its
    /// `NNG_OPT_SENDBUF` sizes a socket queue that hands each message on at once, so
    /// `sndhwm` would bound nothing NNG has.
    fn nng_router_queue_fixed(&mut self, raw: Option<&Scalar>) {
        if raw.is_none() {
            return;
        }
        let message = "NNG's ROUTER (raw REP) queues 64 messages per pipe, a size NNG fixes: `sndhwm` cannot change it".to_owned();
        let hint = "remove `sndhwm`, or name `library: zeromq` for a ROUTER whose high-water mark is yours to set";
        self.refuse("sndhwm", Code::OptionNotInLibrary, message, hint);
    }

    /// An error on `option`'s key: the option itself cannot be written here.
    fn refuse(&mut self, option: &str, code: Code, message: String, hint: impl Into<String>) {
        self.diags.error(&self.path.key(option), Target::Key, code, message).hint(hint);
    }

    /// A true/false option's value: `true` or `false` as YAML reads them (or a
    /// `$param` that held one); anything else is reported.
    fn flag(&mut self, raw: &Scalar, option: &str) -> Option<bool> {
        let found = match (raw.kind, raw.text.as_str()) {
            (ScalarKind::Bool, "true") => return Some(true),
            (ScalarKind::Bool, "false") => return Some(false),
            (ScalarKind::String, text) => format!("the string `{text}`"),
            (_, text) => format!("the number `{text}`"),
        };
        let message = format!("expected `true` or `false`, found {found}");
        let path = self.path.key(option);
        self.diags
            .error(&path, Target::Value, Code::WrongType, message)
            .hint("write `true` or `false` (YAML's `yes` and `on` are strings here)");
        None
    }

    fn bad(&mut self, option: &str, message: String, hint: Option<String>) {
        let d = self.diags.error(&self.path.key(option), Target::Value, Code::BadValue, message);
        if let Some(h) = hint {
            d.hint(h);
        }
    }

    /// An NNG buffer takes `min` to 8192 messages: a BUS's either one 1 or more
    /// (`bus0_sock_set_send_buf_len`, `bus0_sock_set_recv_buf_len`), where patchbay
    /// would read 0 as no limit, and the send buffer of a PUSH, PAIR or DEALER and a
    /// PAIR's receive buffer 0 or more (`push0_set_send_buf_len`,
    /// `pair1_set_recv_buf_len`).
    fn nng_buffer(&mut self, raw: Option<&Scalar>, option: &str, nng: &str, min: u32, value: u32) {
        if raw.is_none() || (min..=NNG_SENDBUF_MAX).contains(&value) {
            return;
        }
        let message = format!(
            "an nng {}'s `{option}` is its {nng}, {min} to {NNG_SENDBUF_MAX} messages; found {value}",
            self.socket_type
        );
        let hint = if min > 0 {
            format!("NNG refuses 0 and anything above {NNG_SENDBUF_MAX}")
        } else {
            format!("NNG refuses anything above {NNG_SENDBUF_MAX}")
        };
        self.bad(option, message, Some(hint));
    }

    fn count(&mut self, raw: &Option<Scalar>, option: &'static str, out: &mut Effective<u32>) {
        let Some(s) = raw else { return };
        if !self.check_applies(option) {
            return;
        }
        let path = self.path.key(option);
        if let Some(n) = whole_number(self.diags, s, &path, HWM) {
            *out = Effective { value: n as u32, source: self.source(option) };
        }
    }

    fn duration(
        &mut self,
        raw: &Option<Scalar>,
        option: &'static str,
        out: &mut Effective<Duration>,
    ) {
        let Some(s) = raw else { return };
        if !self.check_applies(option) {
            return;
        }
        match parse_duration(&s.text) {
            Ok(d) if d.is_zero() => self.bad(
                option,
                format!("`{option}` must be longer than zero"),
                Some("for example `100ms`".into()),
            ),
            Ok(d) if d > TIME_OPTION_MAX => self.too_long(option, d),
            Ok(d) => {
                self.off_the_millisecond(option, d);
                *out = Effective { value: d, source: self.source(option) };
            }
            Err(e) => self.bad(option, format!("`{option}`: {}", e.message), e.hint),
        }
    }

    /// A duration that may be switched off with `off` (or `0` where the library uses 0
    /// for off).
    fn optional_duration(
        &mut self,
        raw: &Option<Scalar>,
        option: &'static str,
        out: &mut Effective<Option<Duration>>,
    ) {
        let Some(s) = raw else { return };
        if !self.check_applies(option) {
            return;
        }
        if s.text == "off" || s.text == "0" {
            *out = Effective { value: None, source: self.source(option) };
            return;
        }
        match parse_duration(&s.text) {
            Ok(d) if d > TIME_OPTION_MAX => self.too_long(option, d),
            Ok(d) => {
                self.off_the_millisecond(option, d);
                *out = Effective { value: Some(d), source: self.source(option) };
            }
            Err(e) => self.bad(
                option,
                format!("`{option}`: {}", e.message),
                e.hint.or_else(|| Some("or `off`".into())),
            ),
        }
    }

    /// A time that is not a whole number of milliseconds (`100us`, `1500us`): the
    /// simulator's timers fire on whole milliseconds, a deadline between two of them
    /// at the later one (measured: `reconnect_ivl: 100us` runs exactly as `1ms` does,
    /// `req_resend_ivl: 1500us` as `2ms`), which is also the finest `network.tick`; and
    /// libzmq, NNG and nanomsg take every time option as a C int of milliseconds, so no
    /// real socket could be given it either. A warning, as for the other times the
    /// simulator moves (`off-tick`); a scenario's coarser tick is checked against the
    /// times at or above it in `ScenarioResolver::warn_options_under_tick`. Zero, where
    /// an option takes it, means off or at once, not a time.
    fn off_the_millisecond(&mut self, option: &str, d: Duration) {
        if d.subsec_nanos().is_multiple_of(1_000_000) {
            return;
        }
        let works_as = next_tick(d, DEFAULT_TICK);
        let (written, works_as) = (format_duration(d), format_duration(works_as));
        let why = if d < DEFAULT_TICK {
            format!("shorter than the simulator's finest tick, {}", format_duration(DEFAULT_TICK))
        } else {
            "not a whole number of milliseconds".to_owned()
        };
        self.diags
            .warning(
                &self.path.key(option),
                Target::Value,
                Code::OffTick,
                format!(
                    "`{option}` of {written} is {why}: the simulator's timers fire on whole milliseconds, so in a simulated run it works as {works_as}"
                ),
            )
            .hint(format!(
                "write `{works_as}`; libzmq, NNG and nanomsg take their times in whole milliseconds, so no real socket can be given {written} either"
            ));
    }

    /// A time option past [`TIME_OPTION_MAX`], which no library takes.
    fn too_long(&mut self, option: &'static str, d: Duration) {
        self.bad(
            option,
            format!(
                "`{option}` is {}, longer than the {} a library's time option holds",
                format_duration(d),
                format_duration(TIME_OPTION_MAX)
            ),
            Some(time_option_max_hint()),
        );
    }

    /// `linger`: libzmq's `ZMQ_LINGER`. NNG 1.11 has no linger (`nng_close` flushes
    /// nothing, and its nanomsg compatibility layer ignores `NN_LINGER`), and
    /// nanomsg ignores `NN_LINGER` since 1.1.0, so on those libraries it is refused.
    fn linger(&mut self, raw: &Option<Scalar>, out: &mut Effective<Linger>) {
        let Some(s) = raw else { return };
        if let Some(lib @ (Library::Nng | Library::Nanomsg)) = self.library {
            let (message, hint) = match lib {
                Library::Nng => (
                    format!("`linger` is libzmq's; {} has no such option", lib.version()),
                    "remove it: NNG has no linger to set (`nng_close` does not wait for queued messages, and its `NN_LINGER` is ignored); name `library: zeromq` for this socket to model libzmq's option",
                ),
                _ => (
                    format!(
                        "`linger` is libzmq's; {} takes `NN_LINGER` but ignores it",
                        lib.version()
                    ),
                    "remove it: nanomsg ignores `NN_LINGER` since 1.1.0 (it reads back 0); name `library: zeromq` for this socket to model libzmq's option",
                ),
            };
            self.refuse("linger", Code::OptionNotInLibrary, message, hint);
            return;
        }
        let value = match s.text.as_str() {
            "forever" | "-1" => Linger::Forever,
            text => match parse_duration(text) {
                Ok(d) if d > TIME_OPTION_MAX => return self.too_long("linger", d),
                Ok(d) => {
                    self.off_the_millisecond("linger", d);
                    Linger::For(d)
                }
                Err(e) => {
                    let hint = e.hint.or_else(|| Some("or `forever`".into()));
                    return self.bad("linger", format!("`linger`: {}", e.message), hint);
                }
            },
        };
        *out = Effective { value, source: self.source("linger") };
    }

    /// `sndbuf` or `rcvbuf` (`option`): the kernel buffer the library sets on each
    /// connection, in bytes, as libzmq's `ZMQ_SNDBUF` and nanomsg's `NN_SNDBUF` do.
    /// NNG has no such option: it leaves the buffers to the system.
    fn kernel_buffer(
        &mut self,
        raw: Option<&Scalar>,
        option: &'static str,
        out: &mut Effective<Option<u32>>,
    ) {
        let Some(raw) = raw else { return };
        if self.library == Some(Library::Nng) {
            let message = format!(
                "`{option}` sets a kernel socket buffer; {} has no such option and leaves them to the system",
                Library::Nng.version()
            );
            self.refuse(option, Code::OptionNotInLibrary, message, "remove it: patchbay gives an nng socket's connections the buffers Linux tunes for it (docs/library-semantics.md, \"Kernel buffers\"); name `library: zeromq` or `library: nanomsg` for a socket that sets them");
            return;
        }
        match parse_size(&raw.text) {
            Ok(Some(bytes)) if (1..=u64::from(u32::MAX)).contains(&bytes) => {
                *out = Effective { value: Some(bytes as u32), source: self.source(option) };
            }
            Ok(Some(0)) => self.bad(
                option,
                format!("`{option}` of zero would leave the connection Linux's smallest buffer"),
                Some(
                    "write a size such as `256KiB`, or remove it for the library's default".into(),
                ),
            ),
            Ok(Some(_)) => self.bad(
                option,
                format!("`{option}` of {} is more than a socket buffer can be", raw.text),
                Some(
                    "at most 4GiB; Linux keeps it to `net.core.wmem_max` or `rmem_max` anyway"
                        .into(),
                ),
            ),
            Ok(None) => self.bad(
                option,
                format!("`{option}` is a size in bytes, not `{}`", raw.text),
                Some(
                    "write a size such as `256KiB`, or remove it for the library's default".into(),
                ),
            ),
            Err(e) => self.bad(option, format!("`{option}`: {}", e.message), e.hint),
        }
    }

    fn size(&mut self, raw: &Option<Scalar>, out: &mut Effective<Option<u64>>) {
        let Some(s) = raw else { return };
        match parse_size(&s.text) {
            Ok(Some(0)) => self.bad(
                "rcvmaxsize",
                "`rcvmaxsize` of zero would reject every message".into(),
                Some("write `unlimited` for no limit".into()),
            ),
            Ok(Some(bytes)) if bytes > rcvmaxsize_max(self.library) => {
                let (option, c_type) = match self.library {
                    Some(Library::Nanomsg) => ("NN_RCVMAXSIZE", "a C int"),
                    _ => ("ZMQ_MAXMSGSIZE", "an int64_t"),
                };
                let lib = self.library.map_or("", Library::version);
                let max = rcvmaxsize_max(self.library);
                self.bad(
                    "rcvmaxsize",
                    format!(
                        "`rcvmaxsize` of {bytes} bytes is more than {lib} can be given: its {option} is {c_type}, at most {max} bytes"
                    ),
                    Some(format!(
                        "write at most `{max}`, or `unlimited` for no limit (the library's -1)"
                    )),
                );
            }
            Ok(v) => *out = Effective { value: v, source: self.source("rcvmaxsize") },
            Err(e) => self.bad("rcvmaxsize", format!("`rcvmaxsize`: {}", e.message), e.hint),
        }
    }
}
