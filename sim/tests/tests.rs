//! patchbay's integration tests: one binary, one module per area (ripgrep's layout).
//!
//! Run them all with `cargo test`; one area with `cargo test --test tests <module>`.

#![allow(
    clippy::disallowed_methods,
    reason = "the harnesses wait on tokio's timers as a user's program would; a test \
              design that does so does not declare `timers_through_ctx`"
)]
#![allow(
    clippy::disallowed_macros,
    reason = "a test's output is its harness's to capture; the line macros are for the commands"
)]

mod aggregator;
mod bandwidth;
mod catalogue;
mod cli;
mod comet;
mod compare;
mod conformance;
mod crash;
mod design_params;
mod designs;
mod determinism;
mod explain_graph;
mod external;
mod heartbeat;
mod hostile;
mod idle_end;
mod interop;
mod invalid_files;
mod invariants_fail;
mod layering;
mod msg_ids;
mod parity;
mod parity_types;
mod pattern_designs;
mod ppp;
mod pub_library;
mod real;
mod report;
mod req_library;
mod run_end;
mod shipped_files;
mod sizes;
mod sp_matrix;
mod testing;
mod tidy;
mod trace;
mod user_design;
mod user_invariant;
mod util;
mod wiretrace;
mod zmtp_envelopes;
mod zmtp_hostile;
mod zmtp_interop;
mod zmtp_matrix;
