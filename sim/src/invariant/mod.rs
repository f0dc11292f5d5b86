//! Invariants: what must hold over a finished trace.
//!
//! This file is the catalogue the language checks scenarios against: each invariant's
//! name, its parameters, and a test of whether it can apply to a topology at all (so
//! that `no_lost_replies` on a topology with nobody sending requests is an error, not
//! a vacuous pass). Each invariant's checker is its own file beside this one, and
//! [`check`] dispatches to it by name; `verdict.rs` holds the types they share.

mod aggregate_complete;
mod fair_queuing;
mod fanout_correct;
mod faults_fired;
mod hwm_bound;
mod liveness;
mod multipart_atomicity;
mod no_duplicate_delivery;
mod no_lost_replies;
mod per_pipe_order;
mod pipeline_conservation;
mod resend_interval;
mod subscription_delivery;
mod survey_deadline;
mod verdict;

use crate::design::{ParamKind, ParamSpec, Registry, Role};
use crate::plan::{InvariantPlan, TopologyPlan};
use crate::socket::SocketType;

/// The checkers' test scenario, which other modules' tests build on too.
#[cfg(test)]
pub(crate) use verdict::testing;
pub use verdict::{CheckInput, Outcome, Verdict, Violation};

/// Checks one invariant of a scenario over a finished trace. The invariant's own
/// parameters (`plan.params`) are the ones used, whatever `input.params` holds, so a
/// caller can build one `CheckInput` per run and pass it for every invariant.
/// Invariants of the catalogue without a checker yet come back `Unknown`: a missing
/// checker must never read as a pass.
pub fn check(plan: &InvariantPlan, input: &CheckInput) -> Outcome {
    let input = CheckInput { params: &plan.params, ..*input };
    let checker: fn(&CheckInput) -> Outcome = match plan.name {
        no_lost_replies::NAME => no_lost_replies::check,
        no_duplicate_delivery::NAME => no_duplicate_delivery::check,
        resend_interval::NAME => resend_interval::check,
        faults_fired::NAME => faults_fired::check,
        hwm_bound::NAME => hwm_bound::check,
        per_pipe_order::NAME => per_pipe_order::check,
        multipart_atomicity::NAME => multipart_atomicity::check,
        pipeline_conservation::NAME => pipeline_conservation::check,
        survey_deadline::NAME => survey_deadline::check,
        subscription_delivery::NAME => subscription_delivery::check,
        liveness::NAME => liveness::check,
        fair_queuing::NAME => fair_queuing::check,
        fanout_correct::NAME => fanout_correct::check,
        aggregate_complete::NAME => aggregate_complete::check,
        _ => return Outcome::unknown(plan.name, "checker not implemented yet"),
    };
    checker(&input)
}

/// What the language knows about one invariant.
#[derive(Clone, Debug)]
pub struct InvariantSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamSpec],
    /// `Err(reason)` when the invariant cannot apply to the topology.
    pub applies: fn(&TopologyPlan, &Registry) -> Result<(), String>,
}

fn any_role(topology: &TopologyPlan, registry: &Registry, role: Role) -> bool {
    topology.groups.iter().any(|g| registry.get(&g.design).is_some_and(|d| d.has_role(role)))
}

fn any_socket(topology: &TopologyPlan, types: &[SocketType]) -> bool {
    topology.groups.iter().any(|g| g.has_socket_type(types))
}

fn any_design(topology: &TopologyPlan, names: &[&str]) -> bool {
    topology.groups.iter().any(|g| names.contains(&g.design.as_str()))
}

fn requires(ok: bool, reason: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(reason.to_owned()) }
}

const TOLERANCE: ParamSpec = ParamSpec {
    name: "tolerance",
    kind: ParamKind::Duration,
    default: None,
    doc: "slack allowed beyond the interval (default: one simulator tick)",
};

const SLOW_JOINERS: ParamSpec = ParamSpec {
    name: "slow_joiners",
    kind: ParamKind::OneOf(&["allowed", "violation"]),
    default: Some("allowed"),
    doc: "whether messages lost before a subscription took effect (the slow joiner: published after the subscriber started or connected) are `allowed`, counted and reported (the default: the ZeroMQ guide calls them expected), or each seed's count is a `violation`",
};

const BOUND: ParamSpec = ParamSpec {
    name: "bound",
    kind: ParamKind::Duration,
    default: None,
    doc: "how long a unit of work may take once faults have healed",
};

/// Every invariant patchbay knows, in the order reports list them.
pub fn catalog() -> &'static [InvariantSpec] {
    &CATALOG
}

pub fn spec(name: &str) -> Option<&'static InvariantSpec> {
    CATALOG.iter().find(|s| s.name == name)
}

static CATALOG: [InvariantSpec; 14] = [
    InvariantSpec {
        name: "no_lost_replies",
        summary: "every request gets exactly one reply by the end of the liveness phase",
        params: &[],
        applies: |t, r| {
            requires(
                any_role(t, r, Role::Requester),
                "no node sends requests (no design with the requester role)",
            )
        },
    },
    InvariantSpec {
        name: "no_duplicate_delivery",
        summary: "no message id is delivered to the application twice at one node",
        params: &[],
        applies: |_, _| Ok(()),
    },
    InvariantSpec {
        name: "resend_interval",
        summary: "a REQ resends no earlier than its interval, no later than the interval plus the tolerance, and only while it has no reply",
        params: &[TOLERANCE],
        applies: |t, _| requires(any_socket(t, &[SocketType::Req]), "no node has a REQ socket"),
    },
    InvariantSpec {
        name: "faults_fired",
        summary: "every scheduled fault took effect on something",
        params: &[],
        applies: |_, _| Ok(()),
    },
    InvariantSpec {
        name: "subscription_delivery",
        summary: "every message published while a subscriber's matching subscription was in effect reaches it exactly once",
        params: &[SLOW_JOINERS],
        applies: |t, _| {
            requires(
                any_socket(t, &[SocketType::Sub, SocketType::XSub]),
                "no node has a SUB or XSUB socket",
            )
        },
    },
    InvariantSpec {
        name: "hwm_bound",
        summary: "no pipe holds more than its high-water mark, and only socket types that drop ever drop",
        params: &[],
        applies: |_, _| Ok(()),
    },
    InvariantSpec {
        name: "pipeline_conservation",
        summary: "every task pushed is pulled exactly once, except tasks lost with a killed node, which are counted",
        params: &[],
        applies: |t, _| requires(any_socket(t, &[SocketType::Push]), "no node has a PUSH socket"),
    },
    InvariantSpec {
        name: "per_pipe_order",
        summary: "messages on one pipe arrive in the order they were sent",
        params: &[],
        applies: |_, _| Ok(()),
    },
    InvariantSpec {
        name: "fair_queuing",
        summary: "no ready peer waits more than the bound while others are served",
        params: &[BOUND],
        applies: |_, _| Ok(()),
    },
    InvariantSpec {
        name: "multipart_atomicity",
        summary: "a multipart message arrives whole or not at all",
        params: &[],
        applies: |_, _| Ok(()),
    },
    InvariantSpec {
        name: "survey_deadline",
        summary: "no response is delivered after the survey's deadline, and every live respondent's timely response is",
        params: &[],
        applies: |t, _| {
            requires(any_socket(t, &[SocketType::Surveyor]), "no node has a SURVEYOR socket")
        },
    },
    InvariantSpec {
        name: "aggregate_complete",
        summary: "every byte each client sent for a job is in the job's aggregate once, in per-connection order, and the job finishes",
        params: &[],
        applies: |t, _| {
            requires(any_design(t, &["aggregator"]), "no node runs the `aggregator` design")
        },
    },
    InvariantSpec {
        name: "fanout_correct",
        summary: "each message reaches exactly the followers of its sender who were logged in when the router routed it",
        params: &[],
        applies: |t, r| {
            requires(
                any_role(t, r, Role::Router),
                "no node routes to dynamic receivers (no design with the router role, such as `comet-router`)",
            )
        },
    },
    InvariantSpec {
        name: "liveness",
        summary: "after faults heal, every declared unit of work finishes within the bound",
        params: &[BOUND],
        applies: |_, _| Ok(()),
    },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::verdict::testing::{ms, plan, trace};
    use super::*;

    #[test]
    fn every_catalogued_invariant_dispatches_and_a_missing_checker_is_never_a_pass() {
        let implemented = [
            no_lost_replies::NAME,
            no_duplicate_delivery::NAME,
            resend_interval::NAME,
            faults_fired::NAME,
            hwm_bound::NAME,
            per_pipe_order::NAME,
            multipart_atomicity::NAME,
            pipeline_conservation::NAME,
            survey_deadline::NAME,
            subscription_delivery::NAME,
            liveness::NAME,
            fair_queuing::NAME,
            fanout_correct::NAME,
            aggregate_complete::NAME,
        ];
        for name in implemented {
            assert!(spec(name).is_some(), "`{name}` is not in the catalogue");
        }
        let (trace, scenario, params) =
            (trace(Vec::new(), Some(ms(1)), ms(2)), plan(), BTreeMap::new());
        let input = CheckInput { trace: &trace, plan: &scenario, params: &params };
        for spec in catalog() {
            let outcome =
                check(&InvariantPlan { name: spec.name, params: BTreeMap::new() }, &input);
            assert_eq!(outcome.name, spec.name);
            if implemented.contains(&spec.name) {
                assert_ne!(outcome.note.as_deref(), Some("checker not implemented yet"));
            } else {
                assert_eq!(outcome.verdict, Verdict::Unknown, "{}", spec.name);
                assert_eq!(outcome.note.as_deref(), Some("checker not implemented yet"));
            }
        }
    }
}
