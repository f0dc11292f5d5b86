//! The vocabulary designs and invariants share: what a design does (its [`Role`]s),
//! the parameters either may take ([`Param`], its [`ParamKind`] and
//! [`ParamDefault`]), the sockets a design expects ([`SocketRole`]), and how an
//! invariant asks which roles a topology's designs play ([`RoleLookup`]).
//!
//! It sits below both `design/` and `invariant/`, so that each can speak of roles and
//! parameters without importing the other; the registry above them implements
//! [`RoleLookup`] from the designs it holds.

use crate::socket::SocketType;

/// What invariants may ask of the designs a topology names, without knowing them:
/// the roles a design of that name plays (none for a name nobody registered).
pub trait RoleLookup {
    /// The roles of the design registered as `design`.
    fn roles(&self, design: &str) -> &[Role];
}

/// What a design does, as far as invariants care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Sends requests and expects one reply each (`no_lost_replies` applies).
    Requester,
    /// Answers requests.
    Replier,
    /// Sits between requesters and repliers.
    Broker,
    /// Publishes on PUB/XPUB.
    Publisher,
    /// Subscribes on SUB/XSUB.
    Subscriber,
    /// Pushes tasks into a pipeline.
    Producer,
    /// Pulls tasks from a pipeline and may push results on.
    Processor,
    /// Collects a pipeline's results.
    Consumer,
    /// Asks a survey.
    Surveyor,
    /// Answers surveys.
    Respondent,
    /// A peer on a bus.
    Peer,
    /// Forwards traffic without owning it (QUEUE, FORWARDER, STREAMER).
    Device,
    /// Routes messages to dynamic sets of receivers (the comet router).
    Router,
}

/// The kind of value a design parameter holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A whole number.
    Count,
    /// A duration such as `250ms`.
    Duration,
    /// A byte size such as `64KiB`.
    Size,
    /// A number, possibly fractional.
    Number,
    /// `true` or `false`.
    Bool,
    /// Any string.
    Text,
    /// One of a fixed set of words (`allowed`, `violation`); anything else is an error.
    OneOf(&'static [&'static str]),
}

impl ParamKind {
    /// What a value of this kind looks like, for hints.
    pub fn describe(self) -> &'static str {
        match self {
            ParamKind::Count => "a whole number",
            ParamKind::Duration => "a duration such as `250ms`",
            ParamKind::Size => "a size such as `64KiB`",
            ParamKind::Number => "a number",
            ParamKind::Bool => "`true` or `false`",
            ParamKind::Text => "a string",
            ParamKind::OneOf(_) => "one of the words the hint lists",
        }
    }
}

/// One parameter a design or an invariant takes.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name: under a node's `params:`, or in an invariant's entry
    /// (`- fair_queuing: {bound: 2s}`).
    pub name: &'static str,
    /// What its value must be.
    pub kind: ParamKind,
    /// What it is when the file gives none: required, a value, or worked out by the
    /// design or checker.
    pub default: ParamDefault,
    /// One line on what it does, for `check --list` and hints.
    pub doc: &'static str,
}

/// What a parameter is when the topology or scenario gives none. `check` holds every
/// file to it, so a design or checker never meets a required parameter missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamDefault {
    /// The file must give it: leaving it out is an error (`missing-param`).
    Required,
    /// This value, written as a file writes it (`250ms`, `3`, `allowed`): checked
    /// against the parameter's kind and used as if the file had given it, so the
    /// design or checker always finds the parameter set.
    Value(&'static str),
    /// The file may leave it out, and the design or checker then works the value out
    /// itself, from the scenario (`resend_interval`'s `tolerance` is one simulator
    /// tick): the parameter is absent and the code reading it must say what to use.
    /// The text says what that is, for `check --list`: `one simulator tick`.
    Computed(&'static str),
}

impl ParamDefault {
    /// How `check --list` shows it: `required`, `default 1s` (`default ""` for the
    /// empty text), or `default: one simulator tick`.
    pub fn describe(self) -> String {
        match self {
            ParamDefault::Required => "required".to_owned(),
            ParamDefault::Value("") => "default \"\"".to_owned(),
            ParamDefault::Value(text) => format!("default {text}"),
            ParamDefault::Computed(how) => format!("default: {how}"),
        }
    }
}

/// One socket a design expects its node to declare.
#[derive(Clone, Debug)]
pub struct SocketRole {
    /// The socket's name in the topology.
    pub name: &'static str,
    /// Whether a node of this design must declare the socket.
    pub required: bool,
    /// The socket types the design can work with.
    pub types: &'static [SocketType],
    /// One line on what the socket is for.
    pub doc: &'static str,
}
