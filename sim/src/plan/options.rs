//! Effective socket options, each with where its value came from.
//!
//! `check --explain` prints these: a value is the named library's default (which
//! library, release and option name, docs/library-semantics.md), or it was written in
//! the topology, or a scenario overrode it. A socket whose library is not named takes
//! patchbay's per-type defaults: libzmq's where ZeroMQ has the option and the socket
//! type, nanomsg's where only nanomsg does. An option the simulator would not act on
//! is refused here with a diagnostic, never accepted and ignored.

use std::path::PathBuf;
use std::time::Duration;

use crate::socket::{HANDSHAKE_IVL_LIBZMQ, Linger, SocketOptions, SocketType};
use crate::spec::diag::{Code, Diagnostics, Location, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawOptions;
use crate::spec::scalar::Scalar;
use crate::spec::units::{format_duration, format_size, parse_duration, parse_size};
use crate::spec::yaml;

use super::library::Library;

/// Where an effective option value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The real library's default: library and option name.
    Default(&'static str),
    /// Written in a file (the topology, or a scenario's `overrides`).
    File { file: PathBuf, location: Option<Location> },
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
    pub value: T,
    pub source: Source,
}

impl<T> Effective<T> {
    fn default(value: T, what: &'static str) -> Effective<T> {
        Effective { value, source: Source::Default(what) }
    }
}

/// Every socket option with its provenance, and the library whose defaults they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveOptions {
    /// The library the socket stands for; `None` when no file named one (then the
    /// per-type defaults apply and no wire check is made).
    pub library: Effective<Option<Library>>,
    pub sndhwm: Effective<u32>,
    pub rcvhwm: Effective<u32>,
    pub req_resend_ivl: Effective<Option<Duration>>,
    /// Library behaviour, not a written option: whether a REQ resends at once when the
    /// pipe its request went out on is lost (nanomsg, NNG) or waits for ever (libzmq).
    pub req_resend_on_pipe_loss: Effective<bool>,
    /// Library behaviour, not a written option: whether a REQ refuses a second send
    /// before the reply (libzmq's `EFSM`) or cancels the first request (nanomsg, NNG).
    pub req_strict: Effective<bool>,
    /// Whether a REQ matches replies by request id: always in NNG and nanomsg; in
    /// libzmq only with `req_correlate` (`ZMQ_REQ_CORRELATE`).
    pub req_correlate: Effective<bool>,
    pub reconnect_ivl: Effective<Duration>,
    pub reconnect_ivl_max: Effective<Option<Duration>>,
    pub linger: Effective<Linger>,
    pub survey_deadline: Effective<Duration>,
    pub rcvmaxsize: Effective<Option<u64>>,
    pub subscribe: Effective<Vec<String>>,
    pub router_mandatory: Effective<bool>,
    /// libzmq's ZMTP heartbeats (`library: zeromq` only): PING interval, how long a
    /// PING may go unanswered (`None`: the interval), and the TTL our PINGs carry.
    pub heartbeat_ivl: Effective<Option<Duration>>,
    pub heartbeat_timeout: Effective<Option<Duration>>,
    pub heartbeat_ttl: Effective<Option<Duration>>,
}

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

/// The longest TTL a PING can carry: 65535 tenths of a second (ZMTP 3.1).
const HEARTBEAT_TTL_MAX: Duration = Duration::from_millis(6_553_500);

/// Which socket types (of which library) an option means something for; setting it
/// elsewhere is an error.
fn applies_to(option: &str, socket_type: SocketType, library: Option<Library>) -> bool {
    use SocketType::*;
    match option {
        "req_resend_ivl" | "req_resend_on_pipe_loss" | "req_strict" | "req_correlate" => {
            socket_type == Req
        }
        "survey_deadline" => socket_type == Surveyor,
        "subscribe" => matches!(socket_type, Sub | XSub),
        // libzmq's alone: NNG's and nanomsg's raw REP have no such option.
        "router_mandatory" => {
            socket_type == Router && matches!(library, None | Some(Library::ZeroMq))
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
const LIBRARY_NOT_NAMED: &str = "default: library not named; libzmq's defaults for ZeroMQ's types, nanomsg's for SURVEYOR, RESPONDENT and BUS (write `library:` to choose)";

impl EffectiveOptions {
    /// The defaults for a socket of `socket_type` whose library no file named.
    pub fn defaults(socket_type: SocketType) -> EffectiveOptions {
        EffectiveOptions::for_library(socket_type, Effective::default(None, LIBRARY_NOT_NAMED))
    }

    /// The defaults for a socket of `socket_type` whose library is `library` (with
    /// where that was decided): the named library's, or the per-type ones.
    pub fn for_library(socket_type: SocketType, library: Effective<Option<Library>>) -> Self {
        let mut out = match library.value {
            None => EffectiveOptions::unnamed(socket_type),
            Some(lib) => EffectiveOptions::of(lib),
        };
        out.library = library;
        out
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
        out.req_strict = Effective::default(
            false,
            "nanomsg: a new request cancels the outstanding one (library not named)",
        );
        out.req_correlate = Effective::default(
            true,
            "nanomsg: replies are matched by request id (library not named)",
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
                    "NNG NNG_OPT_REQ_RESENDTIME = 60s (NNG checks it on a 1s tick; patchbay resends on time)",
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
                "libzmq ZMQ_LINGER = -1 (forever)",
                "libzmq has no SURVEYOR",
                "libzmq: a SUB subscribes to nothing",
            ),
            Library::Nng => (
                "libzmq's 1000 per pipe: NNG queues per socket (NNG_OPT_SENDBUF 0, NNG_OPT_RECVBUF 1), which patchbay does not model",
                "libzmq's forever: NNG's linger is not modelled",
                "NNG NNG_OPT_SURVEYOR_SURVEYTIME = 1s",
                "NNG: a SUB subscribes to nothing",
            ),
            Library::Nanomsg => (
                "libzmq's 1000 per pipe: nanomsg bounds bytes (NN_SNDBUF/NN_RCVBUF 128 KiB), which patchbay does not model",
                "libzmq's forever: nanomsg's linger is not modelled",
                "nanomsg NN_SURVEYOR_DEADLINE = 1s",
                "nanomsg: a SUB subscribes to nothing",
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
                d(true, "NNG: a request whose pipe is lost goes out again at once, same id"),
                d(false, "NNG: a new request cancels the outstanding one"),
            ),
            Library::Nanomsg => (
                d(true, "nanomsg: a request whose pipe is lost goes out again at once, same id"),
                d(false, "nanomsg: a new request cancels the outstanding one"),
            ),
        };
        let req_correlate = match lib {
            Library::ZeroMq => {
                d(false, "libzmq ZMQ_REQ_CORRELATE = 0: a reply is taken from the request's pipe")
            }
            Library::Nng => d(true, "NNG: replies are matched by request id"),
            Library::Nanomsg => d(true, "nanomsg: replies are matched by request id"),
        };
        EffectiveOptions {
            library: d(Some(lib), "set by the caller"),
            req_resend_on_pipe_loss,
            req_strict,
            req_correlate,
            sndhwm: d(1000, hwm),
            rcvhwm: d(1000, hwm),
            req_resend_ivl,
            reconnect_ivl,
            reconnect_ivl_max,
            linger: d(Linger::Forever, linger),
            survey_deadline: d(secs(1), survey_deadline),
            rcvmaxsize,
            subscribe: d(Vec::new(), subscribe),
            router_mandatory: d(false, "libzmq ZMQ_ROUTER_MANDATORY = 0"),
            heartbeat_ivl: d(None, "libzmq ZMQ_HEARTBEAT_IVL = 0 (off)"),
            heartbeat_timeout: d(None, "libzmq ZMQ_HEARTBEAT_TIMEOUT = 0 (the interval)"),
            heartbeat_ttl: d(None, "libzmq ZMQ_HEARTBEAT_TTL = 0 (none)"),
        }
    }

    /// The plain values the socket cores read.
    pub fn socket_options(&self) -> SocketOptions {
        // A `library: zeromq` socket speaks ZMTP; every other, named or not, SP.
        let zmtp = self.library.value == Some(Library::ZeroMq);
        SocketOptions {
            sndhwm_msgs: self.sndhwm.value,
            rcvhwm_msgs: self.rcvhwm.value,
            req_resend_ivl: self.req_resend_ivl.value,
            req_resend_on_pipe_loss: self.req_resend_on_pipe_loss.value,
            req_strict: self.req_strict.value,
            req_correlate: self.req_correlate.value,
            reconnect_ivl: self.reconnect_ivl.value,
            reconnect_ivl_max: self.reconnect_ivl_max.value,
            linger: self.linger.value,
            survey_deadline: self.survey_deadline.value,
            heartbeat_ivl: self.heartbeat_ivl.value,
            heartbeat_timeout: self.heartbeat_timeout.value,
            heartbeat_ttl: self.heartbeat_ttl.value,
            zmtp,
            rcvmaxsize_bytes: self.rcvmaxsize.value,
            subscribe: self.subscribe.value.iter().map(|s| s.as_bytes().to_vec()).collect(),
            router_mandatory: self.router_mandatory.value,
            // Not a language option yet: libzmq's ZMQ_HANDSHAKE_IVL on ZMTP, else the
            // SP default (NNG's measured deadline).
            handshake_ivl: if zmtp {
                HANDSHAKE_IVL_LIBZMQ
            } else {
                SocketOptions::default().handshake_ivl
            },
        }
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
        rows
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
                self.req_resend_on_pipe_loss.value.to_string(),
                &self.req_resend_on_pipe_loss.source,
            ),
            ("req_strict", self.req_strict.value.to_string(), &self.req_strict.source),
            ("req_correlate", self.req_correlate.value.to_string(), &self.req_correlate.source),
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
            (
                "router_mandatory",
                self.router_mandatory.value.to_string(),
                &self.router_mandatory.source,
            ),
            ("heartbeat_ivl", dur(&self.heartbeat_ivl.value, "off"), &self.heartbeat_ivl.source),
            (
                "heartbeat_timeout",
                dur(&self.heartbeat_timeout.value, "the interval"),
                &self.heartbeat_timeout.source,
            ),
            ("heartbeat_ttl", dur(&self.heartbeat_ttl.value, "none"), &self.heartbeat_ttl.source),
        ]
    }

    /// Applies the options written at `path` over `self`, reporting every mistake.
    pub fn apply(
        &mut self,
        raw: &RawOptions,
        socket_type: SocketType,
        path: &YamlPath,
        diags: &mut Diagnostics,
    ) {
        let mut ctx = Apply { socket_type, library: self.library.value, path, diags };
        ctx.count(&raw.sndhwm, "sndhwm", &mut self.sndhwm);
        ctx.count(&raw.rcvhwm, "rcvhwm", &mut self.rcvhwm);
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
        ctx.size(&raw.rcvmaxsize, &mut self.rcvmaxsize);
        if let Some(prefixes) = &raw.subscribe
            && ctx.check_applies("subscribe")
        {
            self.subscribe = Effective {
                value: prefixes.iter().cloned().collect(),
                source: ctx.source("subscribe"),
            };
        }
        if let Some(mandatory) = raw.router_mandatory
            && ctx.check_applies("router_mandatory")
        {
            self.router_mandatory =
                Effective { value: mandatory, source: ctx.source("router_mandatory") };
        }
        self.apply_libzmq_req(raw, &mut ctx);
        self.check_consistency(path, diags);
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

    /// libzmq's `req_relaxed` and `req_correlate`: the first turns strictness off,
    /// the second turns correlation on, which only matters once a REQ can give up on
    /// a request, so it needs the first.
    fn apply_libzmq_req(&mut self, raw: &RawOptions, ctx: &mut Apply<'_, '_, '_>) {
        if let Some(relaxed) = raw.req_relaxed
            && ctx.check_libzmq_req("req_relaxed")
        {
            self.req_strict = Effective { value: !relaxed, source: ctx.source("req_relaxed") };
        }
        if let Some(correlate) = raw.req_correlate
            && ctx.check_libzmq_req("req_correlate")
        {
            if self.req_strict.value {
                ctx.needs_relaxed();
                return;
            }
            self.req_correlate =
                Effective { value: correlate, source: ctx.source("req_correlate") };
        }
    }

    fn check_consistency(&self, path: &YamlPath, diags: &mut Diagnostics) {
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
            self.diags
                .error(
                    &self.path.key(option),
                    Target::Key,
                    Code::OptionNotInLibrary,
                    format!("`{option}` is libzmq's; {} has no such option for its {called}", lib.version()),
                )
                .hint("it silently drops what it cannot route; name `library: zeromq` for this socket to model libzmq's option");
            return false;
        }
        let owners: Vec<&str> = SocketType::ALL
            .into_iter()
            .filter(|t| applies_to(option, *t, self.library))
            .map(SocketType::name)
            .collect();
        self.diags
            .error(
                &self.path.key(option),
                Target::Key,
                Code::OptionNotApplicable,
                format!("`{option}` does not apply to a {} socket", self.socket_type),
            )
            .hint(format!("it applies to {} sockets only", owners.join(", ")));
        false
    }

    /// Whether a libzmq REQ option may be written here: on a REQ of `library: zeromq`
    /// only, as NNG's and nanomsg's REQ always behave as relaxed and correlated.
    fn check_libzmq_req(&mut self, option: &'static str) -> bool {
        if self.socket_type != SocketType::Req {
            let message = format!("`{option}` does not apply to a {} socket", self.socket_type);
            let d = self.diags.error(
                &self.path.key(option),
                Target::Key,
                Code::OptionNotApplicable,
                message,
            );
            d.hint("it applies to REQ sockets of `library: zeromq` only");
            return false;
        }
        if self.library == Some(Library::ZeroMq) {
            return true;
        }
        let whose = self.library.map_or("a REQ whose library is not named".to_owned(), |l| {
            format!("{}'s REQ", l.version())
        });
        let message = format!("`{option}` is libzmq's; {whose} has no such option");
        let d = self.diags.error(
            &self.path.key(option),
            Target::Key,
            Code::OptionNotInLibrary,
            message,
        );
        d.hint("NNG's and nanomsg's REQ (and an unnamed one) already cancel the outstanding request on a new send and match replies by id; name `library: zeromq` for this socket to model libzmq's option");
        false
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
        self.diags
            .error(
                &self.path.key(option),
                Target::Key,
                Code::OptionNotInLibrary,
                format!("`{option}` is libzmq's ZMTP heartbeat; {whose}, which has no PING/PONG"),
            )
            .hint(hint);
    }

    fn bad(&mut self, option: &str, message: String, hint: Option<String>) {
        let d = self.diags.error(&self.path.key(option), Target::Value, Code::BadValue, message);
        if let Some(h) = hint {
            d.hint(h);
        }
    }

    fn count(&mut self, raw: &Option<Scalar>, option: &'static str, out: &mut Effective<u32>) {
        let Some(s) = raw else { return };
        if !self.check_applies(option) {
            return;
        }
        match s.text.parse::<u32>() {
            Ok(n) => *out = Effective { value: n, source: self.source(option) },
            Err(_) => self.bad(
                option,
                format!("`{option}` must be a whole number of messages, found `{}`", s.text),
                Some("for example `1000`; 0 means no limit, as in libzmq".into()),
            ),
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
            Ok(d) => *out = Effective { value: d, source: self.source(option) },
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
            Ok(d) => *out = Effective { value: Some(d), source: self.source(option) },
            Err(e) => self.bad(
                option,
                format!("`{option}`: {}", e.message),
                e.hint.or_else(|| Some("or `off`".into())),
            ),
        }
    }

    fn linger(&mut self, raw: &Option<Scalar>, out: &mut Effective<Linger>) {
        let Some(s) = raw else { return };
        let value = match s.text.as_str() {
            "forever" | "-1" => Linger::Forever,
            text => match parse_duration(text) {
                Ok(d) => Linger::For(d),
                Err(e) => {
                    let hint = e.hint.or_else(|| Some("or `forever`".into()));
                    return self.bad("linger", format!("`linger`: {}", e.message), hint);
                }
            },
        };
        *out = Effective { value, source: self.source("linger") };
    }

    fn size(&mut self, raw: &Option<Scalar>, out: &mut Effective<Option<u64>>) {
        let Some(s) = raw else { return };
        match parse_size(&s.text) {
            Ok(Some(0)) => self.bad(
                "rcvmaxsize",
                "`rcvmaxsize` of zero would reject every message".into(),
                Some("write `unlimited` for no limit".into()),
            ),
            Ok(v) => *out = Effective { value: v, source: self.source("rcvmaxsize") },
            Err(e) => self.bad("rcvmaxsize", format!("`rcvmaxsize`: {}", e.message), e.hint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(lib: Library) -> EffectiveOptions {
        EffectiveOptions::for_library(SocketType::Req, Effective::default(Some(lib), "test"))
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
        assert_eq!(o.handshake_ivl, HANDSHAKE_IVL_LIBZMQ);
        let rows = zmq.rows(SocketType::Req);
        let row = rows.iter().find(|(name, _, _)| *name == "heartbeat_ivl").expect("a row");
        assert_eq!(
            (row.1.as_str(), row.2.to_string()),
            ("off", "default: libzmq ZMQ_HEARTBEAT_IVL = 0 (off)".to_owned())
        );
        for sp in [
            named(Library::Nng),
            named(Library::Nanomsg),
            EffectiveOptions::defaults(SocketType::Req),
        ] {
            let o = sp.socket_options();
            assert!(!o.zmtp, "{:?} speaks SP", sp.library.value);
            assert_eq!(o.handshake_ivl, SocketOptions::default().handshake_ivl);
            let rows = sp.rows(SocketType::Req);
            assert!(
                rows.iter().all(|(n, _, _)| !n.starts_with("heartbeat_")),
                "no heartbeat rows on SP"
            );
        }
    }
}
