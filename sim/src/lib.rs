//! patchbay: simulate, check and benchmark ZeroMQ- and nanomsg-style topologies.
//!
//! A topology file says what runs (nodes, their designs, sockets and options); a
//! scenario file says what happens to it (workload, faults) and what must hold
//! (invariants). The modules, in reading order:
//!
//! - [`spec`]: YAML text to raw serde structs, with diagnostics that name file, line
//!   and column. The only module that knows YAML.
//! - [`design`]: the registry of behaviours a node can run, built-in and user-written.
//! - [`plan`]: the resolver. Raw structs become an immutable, fully checked plan;
//!   every user error surfaces here, all at once.
//! - [`graph`]: the plan as a petgraph graph, for reachability checks, DOT and SVG.
//! - [`invariant`]: what must hold over a finished trace; the catalogue and checkers.
//! - [`socket`]: sans-IO socket cores (REQ, REP, DEALER, ROUTER, …): events in,
//!   actions out, no I/O.
//! - [`wire`]: SP over TCP framing, byte-compatible with nanomsg and NNG, and a ZMTP
//!   3.1 codec checked against libzmq.
//! - [`net`]: the driver that runs a socket core over an injected transport, with
//!   turmoil and tokio backends.
//! - [`trace`]: the record of one run: every socket event and fault, hashed.
//! - [`run`]: one seed over turmoil (faults through a shim around every stream),
//!   many seeds across cores, verdicts against the scenario's `expect`.
//! - [`report`]: the HTML page and JSON of a run of the tools: figures measured from
//!   traces, failures drawn as sequence diagrams, the topology drawn.
//! - [`explain`], [`files`]: what the command line prints and reads.
//! - [`testing`]: scenarios and explorations from `cargo test`, for a user's CI.
//! - [`fuzz`]: the decoders and the YAML front end under generated and mutated
//!   inputs, for `cargo xtask fuzz` and a slice in CI.

pub mod design;
pub mod explain;
pub mod explore;
pub mod files;
pub mod fuzz;
pub mod graph;
pub mod invariant;
pub mod net;
pub mod plan;
pub mod report;
pub mod run;
pub mod socket;
pub mod spec;
pub mod testing;
pub mod trace;
pub mod wire;
