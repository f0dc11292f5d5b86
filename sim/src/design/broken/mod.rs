//! Deliberately broken designs: the catalogue that proves each checker can fail.
//!
//! Each design here is a built-in one with one real bug class planted in it, so that a
//! run over it must make a named invariant fail (`sim/tests/invariants_fail.rs` runs
//! each beside its correct counterpart in the same topology and seed, and the shipped
//! scenarios under `scenarios/broken/` and `cargo xtask explore` show them failing).
//! They are in [`Registry::builtin`](super::Registry::builtin) so that a scenario file
//! can name them, but marked `broken`: the resolver warns whenever a topology uses
//! one, and "did you mean" never suggests one, so nobody picks one by accident.
//!
//! ```
//! let registry = patchbay::design::Registry::builtin();
//! assert!(registry.get("lossy-echo-worker").is_some_and(|d| d.broken));
//! ```
//!
//! The resend interval lives in the REQ core, not in a design, so its broken
//! counterpart is a wrapped core in the test, not a design here.

mod duplicating_queue_device;
mod forgetful_lru_broker;
mod immortal_ppp_broker;
mod leaky_comet_router;
mod lossy_echo_worker;

use crate::socket::SocketType;

use super::{DesignSpec, Role, SocketRole};

/// Every deliberately broken design, `broken: true`, ready to register.
pub fn designs() -> Vec<DesignSpec> {
    vec![
        DesignSpec {
            name: "lossy-echo-worker",
            summary: "BROKEN: an echo-worker that silently drops every 5th request it receives (no_lost_replies fails).",
            roles: &[Role::Replier],
            sockets: &[SocketRole {
                name: "rep",
                required: true,
                types: &[SocketType::Rep, SocketType::Dealer],
                doc: "where requests arrive",
            }],
            params: &[],
            workload: &["service_time", "size"],
            broken: true,
            run: Some(lossy_echo_worker::run),
        },
        DesignSpec {
            name: "duplicating-queue-device",
            summary: "BROKEN: a QUEUE device that forwards every client request to the backend twice (no_duplicate_delivery fails).",
            roles: &[Role::Device],
            sockets: &[
                SocketRole {
                    name: "frontend",
                    required: true,
                    types: &[SocketType::Router],
                    doc: "faces the clients",
                },
                SocketRole {
                    name: "backend",
                    required: true,
                    types: &[SocketType::Dealer],
                    doc: "faces the workers",
                },
            ],
            params: &[],
            workload: &[],
            broken: true,
            run: Some(duplicating_queue_device::run),
        },
        DesignSpec {
            name: "immortal-ppp-broker",
            summary: "BROKEN: a Paranoid Pirate broker that never expires a silent worker, so a dead worker's job is never requeued (no_lost_replies fails).",
            roles: &[Role::Broker],
            sockets: &[
                SocketRole {
                    name: "frontend",
                    required: true,
                    types: &[SocketType::Router],
                    doc: "faces the clients",
                },
                SocketRole {
                    name: "backend",
                    required: true,
                    types: &[SocketType::Router],
                    doc: "faces the ppp-workers",
                },
            ],
            params: super::catalog::PPP_PARAMS,
            workload: &[],
            broken: true,
            run: Some(immortal_ppp_broker::run),
        },
        DesignSpec {
            name: "forgetful-lru-broker",
            summary: "BROKEN: an LRU broker that never requeues a worker after its result, so jobs starve once each worker has done one (no_lost_replies fails).",
            roles: &[Role::Broker],
            sockets: &[
                SocketRole {
                    name: "frontend",
                    required: true,
                    types: &[SocketType::Router],
                    doc: "faces the clients",
                },
                SocketRole {
                    name: "backend",
                    required: true,
                    types: &[SocketType::Router],
                    doc: "faces the ready-workers",
                },
            ],
            params: &[],
            workload: &[],
            broken: true,
            run: Some(forgetful_lru_broker::run),
        },
        DesignSpec {
            name: "leaky-comet-router",
            summary: "BROKEN: a comet router that keeps a user's connection in its table after the user logs out, so it goes on pushing the user messages (fanout_correct fails).",
            roles: &[Role::Router],
            sockets: &[
                SocketRole {
                    name: "users",
                    required: true,
                    types: &[SocketType::Router],
                    doc: "user connections",
                },
                SocketRole {
                    name: "manager",
                    required: true,
                    types: &[SocketType::Req, SocketType::Dealer],
                    doc: "asks the subscription manager",
                },
            ],
            params: &[],
            workload: &[],
            broken: true,
            run: Some(leaky_comet_router::run),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::Registry;

    #[test]
    fn broken_designs_are_marked_runnable_and_built_in() {
        let builtin = Registry::builtin();
        for spec in designs() {
            assert!(spec.broken, "`{}` must say it is broken", spec.name);
            assert!(spec.run.is_some(), "`{}` must run", spec.name);
            assert!(builtin.get(spec.name).is_some_and(|d| d.broken), "`{}`", spec.name);
        }
    }
}
