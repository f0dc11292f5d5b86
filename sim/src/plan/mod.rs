//! Plans: the immutable, fully checked form of a topology or scenario.
//!
//! Every later layer (the graph, the simulator, the reports) takes a plan and may
//! assume it is sound. The resolver that builds plans from `spec/`'s raw structs,
//! and reports every problem in user input, is [`crate::resolve`].

pub mod follower_graph;
mod library;
pub mod msg_id;
pub(crate) mod options;
pub(crate) mod placement;
mod scenario;
pub(crate) mod seed;
/// The test scenario and its builders, shared by the unit tests of every layer above.
#[cfg(test)]
pub(crate) mod testing;
mod topology;

pub use library::{Library, Wire};
pub use msg_id::{MsgId, MsgIdLayout, MsgOrigin};
pub use options::{Effective, EffectiveOptions, Source};
pub use placement::{DEFAULT_MAX_HOSTS, MAX_CONNECTIONS_PER_HOST};
pub use scenario::{
    CountRange, DROP_REASONS, Distribution, Expect, ExpectBounds, ExpectIn, FaultKind, FaultPlan,
    InvariantPlan, LinkPlan, NetworkPlan, ScenarioPlan, Selector, SwarmPlan, WorkloadPlan,
    drop_reason_name,
};
pub use topology::{
    Bind, ConnectTarget, Connection, EndpointPart, Group, GroupId, PROCESS_DESIGN, ParamValue,
    Piece, ProcessPlan, Ready, Replica, SocketPlan, Template, TopologyPlan,
};

/// A resolved file of either kind.
#[derive(Clone, Debug)]
pub enum Plan {
    /// A topology file.
    Topology(TopologyPlan),
    /// A scenario file, with its topology inside.
    Scenario(Box<ScenarioPlan>),
}

impl Plan {
    /// The topology, of either kind of file.
    pub fn topology(&self) -> &TopologyPlan {
        match self {
            Plan::Topology(t) => t,
            Plan::Scenario(s) => &s.topology,
        }
    }
}
