//! The vocabulary designs and invariants share: what a design does (its [`Role`]s),
//! the kinds of parameter either may take ([`ParamKind`], [`Param`]), the sockets
//! a design expects ([`SocketRole`]), and how an invariant asks which roles a
//! topology's designs play ([`RoleLookup`]).
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

/// One parameter a design takes.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name in the topology's `params:`.
    pub name: &'static str,
    /// What its value must be.
    pub kind: ParamKind,
    /// The value used when the topology gives none; `None` makes the parameter required.
    pub default: Option<&'static str>,
    /// One line on what it does, for `check --list` and hints.
    pub doc: &'static str,
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
