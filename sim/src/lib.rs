//! patchbay: simulate, check and benchmark ZeroMQ- and nanomsg-style topologies.
//!
//! A topology file says what runs (nodes, their designs, sockets and options); a
//! scenario file says what happens to it (workload, faults) and what must hold
//! (invariants). The modules, in layers from the bottom; a module imports only from
//! layers below its own (`sim/tests/layering.rs` checks every `use` line):
//!
//! 0. [`spec`] (YAML text to raw serde structs, with diagnostics naming file, line and
//!    column; the only module that knows YAML), [`socket`] (sans-IO socket cores:
//!    events in, actions out) and `files`.
//! 1. [`plan`]: the resolved, immutable plan types and their small methods (which
//!    replicas a selector picks, drawing from a distribution, a message id's layout).
//! 2. `wire` (SP framing, the payload header, a ZMTP 3.1 codec) and [`trace`] (the
//!    record of one run, hashed).
//! 3. `net` (a socket core driven over an injected transport) and [`vocab`] (roles
//!    and parameter kinds designs and invariants share).
//! 4. [`design`] (the behaviours a node can run), [`invariant`] (what must hold over
//!    a finished trace, one declaration and checker per file) and `graph` (the plan
//!    as a petgraph graph, for reachability, DOT and SVG).
//! 5. [`registry`]: the designs and invariants a run can name, built-in and the user's.
//! 6. `resolve`: raw structs become a checked plan; every user error surfaces
//!    here, all at once.
//! 7. [`run`]: one seed over turmoil or real TCP, many seeds across cores, verdicts
//!    against the scenario's `expect`.
//! 8. `explore`, `explain`, `fuzz`; 9. `report` (the HTML page and JSON of a
//!    run of the tools); 10. [`cli`] (the command line as a library function, run
//!    with a given registry) and [`testing`] (scenarios and explorations from
//!    `cargo test`, for a user's CI); 11. [`prelude`] (what a design author imports).
//!
//! The public API (ARCHITECTURE.md, "Public API") is what a design author, an
//! invariant author, a user's own command line and a user's `cargo test` need:
//! [`prelude`], [`design`], [`registry`], [`vocab`], [`invariant`], [`trace`],
//! [`plan`], [`socket`], [`run`], [`spec`], [`testing`] and [`cli`], every public item
//! documented (`missing_docs` is on). The modules shown in plain text above are
//! `pub` only for the workspace's own tools (xtask, benches, integration tests) and
//! hidden from the documentation; users reach what they do through [`cli`] and
//! [`testing`].

#![warn(missing_docs)]

pub mod cli;
pub mod design;
#[doc(hidden)]
pub mod explain;
#[doc(hidden)]
pub mod explore;
#[doc(hidden)]
pub mod files;
#[doc(hidden)]
pub mod fuzz;
#[doc(hidden)]
pub mod graph;
pub mod invariant;
#[doc(hidden)]
pub mod net;
pub mod plan;
pub mod prelude;
pub mod registry;
#[doc(hidden)]
pub mod report;
#[doc(hidden)]
pub mod resolve;
pub mod run;
pub mod socket;
pub mod spec;
pub mod testing;
pub mod trace;
pub mod vocab;
#[doc(hidden)]
pub mod wire;
