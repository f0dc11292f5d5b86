//! Designs: the behaviours a topology node runs, and the registry that names them.
//!
//! A design declares what the language needs to check a topology that uses it: the
//! sockets it expects (by role name and allowed types), the parameters it takes, the
//! workload fields it reads, and what kind of work it does (so invariants can tell
//! whether they apply). Built-in designs are listed in `catalog.rs`; users add their
//! own with [`Registry::register`] and name them in YAML like any built-in.

mod aggregator;
mod aggregator_client;
pub mod broken;
mod bus_node;
mod catalog;
mod client;
mod comet_manager;
mod comet_router;
mod comet_user;
pub mod ctx;
mod echo_worker;
pub mod follower_graph;
mod forwarder;
mod gif_frontend;
pub mod kit;
mod lazy_pirate_client;
mod lru_broker;
mod pair_step;
pub mod payload;
mod pipeline_worker;
mod ppp_broker;
mod ppp_worker;
mod publisher;
mod queue_device;
mod ready_worker;
mod respondent;
mod sink;
mod spec;
mod streamer;
mod subscriber;
mod surveyor;
mod sync_publisher;
mod sync_subscriber;
mod ventilator;

use std::collections::BTreeMap;

use crate::socket::SocketType;

pub use ctx::{BoxedDesignFuture, Completion, DesignFn, NodeCtx, Reopener, Socket, msg_info};
pub use spec::DesignSpec;

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
    Bool,
    Text,
    /// One of a fixed set of words (`allowed`, `violation`); anything else is an error.
    OneOf(&'static [&'static str]),
}

impl ParamKind {
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
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// The value used when the topology gives none; `None` makes the parameter required.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// One socket a design expects its node to declare.
#[derive(Clone, Debug)]
pub struct SocketRole {
    pub name: &'static str,
    /// Whether a node of this design must declare the socket.
    pub required: bool,
    pub types: &'static [SocketType],
    pub doc: &'static str,
}

/// The designs a run can name, built-in and user-registered, by name.
#[derive(Clone, Debug)]
pub struct Registry {
    designs: BTreeMap<&'static str, DesignSpec>,
}

impl Registry {
    /// Every built-in design, the deliberately broken catalogue included (a topology
    /// naming one of those gets a warning, and suggestions never offer them).
    pub fn builtin() -> Registry {
        let mut registry = Registry { designs: BTreeMap::new() };
        for spec in catalog::builtin().into_iter().chain(broken::designs()) {
            registry.register(spec);
        }
        registry
    }

    /// Adds a design; a later registration under the same name replaces the earlier.
    /// A topology then names it in `design:` like any built-in.
    ///
    /// ```
    /// use patchbay::prelude::*;
    ///
    /// let mut registry = Registry::builtin();
    /// assert!(registry.get("quiet-sink").is_none());
    /// registry.register(
    ///     DesignSpec::new("quiet-sink")
    ///         .summary("Pulls and drops everything.")
    ///         .role(Role::Consumer)
    ///         .socket("pull", &[SocketType::Pull], "where messages arrive")
    ///         .run(|ctx| async move { while ctx.socket("pull").recv().await.is_ok() {} }),
    /// );
    /// let spec = registry.get("quiet-sink").expect("registered");
    /// assert_eq!(spec.sockets()[0].name, "pull");
    /// assert!(spec.is_runnable() && !spec.is_broken());
    /// ```
    pub fn register(&mut self, spec: DesignSpec) {
        self.designs.insert(spec.name(), spec);
    }

    pub fn get(&self, name: &str) -> Option<&DesignSpec> {
        self.designs.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.designs.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &DesignSpec> {
        self.designs.values()
    }
}
