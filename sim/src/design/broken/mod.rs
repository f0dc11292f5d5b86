//! Deliberately broken designs: the catalogue that proves each checker can fail.
//!
//! Each design here is a built-in one with one real bug class planted in it, so that a
//! run over it must make a named invariant fail (`sim/tests/invariants_fail.rs` runs
//! each beside its correct counterpart in the same topology and seed, and the shipped
//! scenarios under `scenarios/broken/` and `cargo xtask explore` show them failing).
//! They are among the built-in designs ([`builtin`](super::builtin)) so that a scenario file
//! can name them, but marked `broken`: the resolver warns whenever a topology uses
//! one, and "did you mean" never suggests one, so nobody picks one by accident.
//!
//! ```
//! let registry = patchbay::registry::Registry::builtin();
//! assert!(registry.get("lossy-echo-worker").is_some_and(|d| d.is_broken()));
//! ```
//!
//! The resend interval lives in the REQ core, not in a design, so its broken
//! counterpart is a wrapped core in the test, not a design here.

mod duplicating_queue_device;
mod forgetful_lru_broker;
mod immortal_ppp_broker;
mod leaky_comet_router;
mod lossy_echo_worker;

use super::{BoxedDesignFuture, Design, NodeCtx};

/// Every deliberately broken design, `broken: true`, ready to register.
pub fn designs() -> Vec<Design> {
    vec![
        twin(
            "echo-worker",
            "lossy-echo-worker",
            "BROKEN: an echo-worker that silently drops every 5th request it receives (no_lost_replies fails).",
            lossy_echo_worker::run,
        ),
        twin(
            "queue-device",
            "duplicating-queue-device",
            "BROKEN: a QUEUE device that forwards every client request to the backend twice (no_duplicate_delivery fails).",
            duplicating_queue_device::run,
        ),
        twin(
            "ppp-broker",
            "immortal-ppp-broker",
            "BROKEN: a Paranoid Pirate broker that never expires a silent worker, so a dead worker's job is never requeued (no_lost_replies fails).",
            immortal_ppp_broker::run,
        ),
        twin(
            "lru-broker",
            "forgetful-lru-broker",
            "BROKEN: an LRU broker that never requeues a worker after its result, so jobs starve once each worker has done one (no_lost_replies fails).",
            forgetful_lru_broker::run,
        ),
        twin(
            "comet-router",
            "leaky-comet-router",
            "BROKEN: a comet router that keeps a user's connection in its table after the user logs out, so it goes on pushing the user messages (fanout_correct fails).",
            leaky_comet_router::run,
        ),
    ]
}

/// The broken twin of the sound design `of`: the same roles, sockets, parameters and
/// workload (so a topology can swap one for the other by name alone), with its own
/// name, summary and behaviour.
fn twin(
    of: &str,
    name: &'static str,
    summary: &'static str,
    run: fn(NodeCtx) -> BoxedDesignFuture,
) -> Design {
    let sound = super::catalog::builtin()
        .into_iter()
        .find(|d| d.name() == of)
        .unwrap_or_else(|| panic!("`{name}` is the broken twin of `{of}`, which must be built in"));
    sound.renamed(name, summary).broken().run(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_designs_are_marked_runnable_and_built_in() {
        let builtin = crate::design::builtin();
        for spec in designs() {
            let name = spec.name();
            assert!(spec.is_broken(), "`{name}` must say it is broken");
            assert!(spec.is_runnable(), "`{name}` must run");
            assert!(builtin.iter().any(|d| d.name() == name && d.is_broken()), "`{name}`");
        }
    }

    /// A twin is declared from its sound design (`renamed`), so a topology can swap
    /// one for the other by name alone: each has a sound design declaring the same
    /// roles, sockets, parameters and workload fields.
    #[test]
    fn each_broken_design_declares_what_a_sound_built_in_one_does() {
        let builtin = crate::design::builtin();
        let declaration = |d: &Design| {
            let sockets = format!("{:?}", d.sockets());
            let params = format!("{:?}", d.params());
            (d.roles().to_vec(), sockets, params, d.workload_fields().to_vec())
        };
        for spec in designs() {
            let sound: Vec<&str> = builtin
                .iter()
                .filter(|d| !d.is_broken() && declaration(d) == declaration(&spec))
                .map(|d| d.name())
                .collect();
            assert!(!sound.is_empty(), "`{}` declares what no sound design does", spec.name());
        }
    }
}
