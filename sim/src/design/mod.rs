//! Designs: the behaviours a topology node runs, and the registry that names them.
//!
//! A design declares what the language needs to check a topology that uses it: the
//! sockets it expects (by role name and allowed types), the parameters it takes, the
//! workload fields it reads, and what kind of work it does (so invariants can tell
//! whether they apply). Built-in designs are listed in `catalog.rs`; users add their
//! own with `Registry::register` (`registry.rs`) and name them in YAML like any built-in.

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
mod declaration;
mod echo_worker;
mod forwarder;
mod gif_frontend;
pub mod kit;
mod lazy_pirate_client;
mod lru_broker;
mod pair_step;
mod pipeline_worker;
mod ppp_broker;
mod ppp_worker;
mod publisher;
mod queue_device;
mod ready_worker;
mod respondent;
mod sink;
mod streamer;
mod subscriber;
mod surveyor;
mod sync_publisher;
mod sync_subscriber;
mod ventilator;

// What the trace records of a message: the wire layer reads payloads, designs record
// it for their sends and receives.
pub use crate::wire::payload::msg_info;
pub use ctx::{
    BoxedDesignFuture, Completion, DesignFn, NodeCtx, NodeParts, Reopener, SleepUntil, Socket,
};
pub use declaration::{Design, ParamProblem, ParamScope};
// The vocabulary designs share with invariants lives below both (`vocab.rs`); it is
// re-exported here because every design declaration names it.
pub use crate::vocab::{Param, ParamDefault, ParamKind, Role, SocketRole};

/// Every built-in design, the deliberately broken catalogue included (a topology
/// naming one of those gets a warning, and suggestions never offer them). The
/// registry (`registry.rs`) starts from these. Each waits on time only through its
/// context (the crate's clippy configuration refuses tokio's timers), so each
/// declares `timers_through_ctx`.
pub fn builtin() -> Vec<Design> {
    let all = catalog::builtin().into_iter().chain(broken::designs());
    all.map(Design::timers_through_ctx).collect()
}
