//! Effective socket options, each with where its value came from.
//!
//! `check --explain` prints these: a value is the real library's default (and which
//! library and option name that is), or it was written in the topology, or a
//! scenario overrode it. Defaults follow messaging-semantics.md: ZeroMQ's where ZeroMQ
//! has the option and the socket type, nanomsg's where only nanomsg does.

use std::path::PathBuf;
use std::time::Duration;

use crate::socket::{Linger, SocketOptions, SocketType};
use crate::spec::diag::{Diagnostics, Location, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawOptions;
use crate::spec::scalar::Scalar;
use crate::spec::units::{format_duration, format_size, parse_duration, parse_size};
use crate::spec::yaml;

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

/// Every socket option with its provenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveOptions {
    pub sndhwm: Effective<u32>,
    pub rcvhwm: Effective<u32>,
    pub req_resend_ivl: Effective<Option<Duration>>,
    pub reconnect_ivl: Effective<Duration>,
    pub reconnect_ivl_max: Effective<Option<Duration>>,
    pub linger: Effective<Linger>,
    pub survey_deadline: Effective<Duration>,
    pub heartbeat_ivl: Effective<Option<Duration>>,
    pub heartbeat_timeout: Effective<Option<Duration>>,
    pub rcvmaxsize: Effective<Option<u64>>,
    pub subscribe: Effective<Vec<String>>,
    pub router_mandatory: Effective<bool>,
}

/// Which socket types an option means something for; setting it elsewhere is an error.
fn applies_to(option: &str, socket_type: SocketType) -> bool {
    use SocketType::*;
    match option {
        "req_resend_ivl" => socket_type == Req,
        "survey_deadline" => socket_type == Surveyor,
        "subscribe" => matches!(socket_type, Sub | XSub),
        "router_mandatory" => socket_type == Router,
        _ => true,
    }
}

/// nanomsg-only socket types take nanomsg's defaults (messaging-semantics.md).
fn is_nanomsg_only(socket_type: SocketType) -> bool {
    matches!(socket_type, SocketType::Surveyor | SocketType::Respondent | SocketType::Bus)
}

impl EffectiveOptions {
    /// The real libraries' defaults for a socket of `socket_type`.
    pub fn defaults(socket_type: SocketType) -> EffectiveOptions {
        let base = SocketOptions::default();
        let rcvmaxsize = if is_nanomsg_only(socket_type) {
            Effective::default(Some(1024 * 1024), "nanomsg NN_RCVMAXSIZE = 1 MiB")
        } else {
            Effective::default(None, "libzmq ZMQ_MAXMSGSIZE = -1 (unlimited)")
        };
        EffectiveOptions {
            sndhwm: Effective::default(base.sndhwm_msgs, "libzmq ZMQ_SNDHWM = 1000"),
            rcvhwm: Effective::default(base.rcvhwm_msgs, "libzmq ZMQ_RCVHWM = 1000"),
            req_resend_ivl: Effective::default(
                base.req_resend_ivl,
                "nanomsg NN_REQ_RESEND_IVL = 60s (libzmq's REQ never resends)",
            ),
            reconnect_ivl: Effective::default(
                base.reconnect_ivl,
                "libzmq ZMQ_RECONNECT_IVL = 100ms",
            ),
            reconnect_ivl_max: Effective::default(
                base.reconnect_ivl_max,
                "libzmq ZMQ_RECONNECT_IVL_MAX = 0 (no backoff)",
            ),
            linger: Effective::default(base.linger, "libzmq ZMQ_LINGER = -1 (forever)"),
            survey_deadline: Effective::default(
                base.survey_deadline,
                "nanomsg NN_SURVEYOR_DEADLINE = 1s",
            ),
            heartbeat_ivl: Effective::default(None, "libzmq ZMQ_HEARTBEAT_IVL = 0 (off)"),
            heartbeat_timeout: Effective::default(
                None,
                "libzmq ZMQ_HEARTBEAT_TIMEOUT = -1 (same as heartbeat_ivl)",
            ),
            rcvmaxsize,
            subscribe: Effective::default(Vec::new(), "libzmq: a SUB subscribes to nothing"),
            router_mandatory: Effective::default(false, "libzmq ZMQ_ROUTER_MANDATORY = 0"),
        }
    }

    /// The plain values the socket cores read.
    pub fn socket_options(&self) -> SocketOptions {
        SocketOptions {
            sndhwm_msgs: self.sndhwm.value,
            rcvhwm_msgs: self.rcvhwm.value,
            req_resend_ivl: self.req_resend_ivl.value,
            reconnect_ivl: self.reconnect_ivl.value,
            reconnect_ivl_max: self.reconnect_ivl_max.value,
            linger: self.linger.value,
            survey_deadline: self.survey_deadline.value,
            heartbeat_ivl: self.heartbeat_ivl.value,
            heartbeat_timeout: self.heartbeat_timeout.value,
            rcvmaxsize_bytes: self.rcvmaxsize.value,
            subscribe: self.subscribe.value.iter().map(|s| s.as_bytes().to_vec()).collect(),
            router_mandatory: self.router_mandatory.value,
            // Not a language option yet: the SP default (NNG's measured deadline).
            ..SocketOptions::default()
        }
    }

    /// Each option that applies to `socket_type` as `(name, value, source)`, in a
    /// fixed order, for `--explain`.
    pub fn rows(&self, socket_type: SocketType) -> Vec<(&'static str, String, &Source)> {
        let mut rows = self.all_rows();
        rows.retain(|(name, _, _)| applies_to(name, socket_type));
        rows
    }

    fn all_rows(&self) -> Vec<(&'static str, String, &Source)> {
        let dur = |d: &Option<Duration>, none: &str| d.map_or(none.to_owned(), format_duration);
        vec![
            ("sndhwm", self.sndhwm.value.to_string(), &self.sndhwm.source),
            ("rcvhwm", self.rcvhwm.value.to_string(), &self.rcvhwm.source),
            ("req_resend_ivl", dur(&self.req_resend_ivl.value, "off"), &self.req_resend_ivl.source),
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
            ("heartbeat_ivl", dur(&self.heartbeat_ivl.value, "off"), &self.heartbeat_ivl.source),
            (
                "heartbeat_timeout",
                dur(&self.heartbeat_timeout.value, "= heartbeat_ivl"),
                &self.heartbeat_timeout.source,
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
        let mut ctx = Apply { socket_type, path, diags };
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
        ctx.optional_duration(&raw.heartbeat_ivl, "heartbeat_ivl", &mut self.heartbeat_ivl);
        ctx.optional_duration(
            &raw.heartbeat_timeout,
            "heartbeat_timeout",
            &mut self.heartbeat_timeout,
        );
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
        self.check_consistency(path, diags);
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
                    "bad-value",
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
        if applies_to(option, self.socket_type) {
            return true;
        }
        let owners: Vec<&str> = SocketType::ALL
            .into_iter()
            .filter(|t| applies_to(option, *t))
            .map(SocketType::name)
            .collect();
        self.diags
            .error(
                &self.path.key(option),
                Target::Key,
                "option-not-applicable",
                format!("`{option}` does not apply to a {} socket", self.socket_type),
            )
            .hint(format!("it applies to {} sockets only", owners.join(", ")));
        false
    }

    fn bad(&mut self, option: &str, message: String, hint: Option<String>) {
        let d = self.diags.error(&self.path.key(option), Target::Value, "bad-value", message);
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
