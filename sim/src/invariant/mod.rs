//! Invariants: what must hold over a finished trace.
//!
//! Each invariant is declared once, in its own file beside this one: its name, its
//! parameters, a test of whether it can apply to a topology at all (so that
//! `no_lost_replies` on a topology with nobody sending requests is an error, not a
//! vacuous pass) and its checker, together an [`Invariant`]. [`builtin`] lists the
//! built-in ones in the order reports show them; the registry (`registry.rs`) holds
//! them beside users' own, registered through the same `Registry::invariant`.
//! `verdict.rs` holds the types checkers share. Nothing here knows designs: which
//! roles a topology's designs play is asked through [`RoleLookup`].

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

use std::fmt;
use std::sync::Arc;

use crate::plan::TopologyPlan;
use crate::socket::SocketType;
#[cfg(doc)]
use crate::trace::Trace;
use crate::vocab::{Param, ParamDefault, ParamKind, Role, RoleLookup};

pub(crate) use resend_interval::default_tolerance as resend_tolerance;
/// The checkers' test scenario, which other modules' tests build on too.
#[cfg(test)]
pub(crate) use verdict::testing;
pub use verdict::{CheckInput, Outcome, VIOLATIONS_KEPT, Verdict, Violation};

/// A checker: reads a finished trace and its plan, returns every violation it finds.
pub type CheckFn = Arc<dyn Fn(&CheckInput) -> Outcome + Send + Sync>;
/// Whether an invariant can apply to a topology: `Err(reason)` when it cannot.
pub type AppliesFn =
    Arc<dyn Fn(&TopologyPlan, &dyn RoleLookup) -> Result<(), String> + Send + Sync>;

/// Everything the language knows about one invariant, declared once: the resolver
/// checks scenarios against it and the runner calls its checker.
#[derive(Clone)]
pub struct Invariant {
    pub(crate) name: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) params: Vec<Param>,
    pub(crate) applies: AppliesFn,
    pub(crate) check: CheckFn,
    /// Whether the checker reads the trace only through [`Trace::iter`] and friends,
    /// so a run may hand it a compact trace (see [`Invariant::streaming`]).
    pub(crate) streams: bool,
    /// Whether it judges the scenario's faults (see [`Invariant::needs_faults`]).
    pub(crate) needs_faults: bool,
}

impl Invariant {
    /// An invariant called `name` (as scenarios write it), which `summary` finishes the
    /// sentence "`name` checks that …", judged by `check`. It takes no parameters and
    /// applies to every topology until told otherwise.
    pub fn new(
        name: &'static str,
        summary: &'static str,
        check: impl Fn(&CheckInput) -> Outcome + Send + Sync + 'static,
    ) -> Invariant {
        Invariant {
            name,
            summary,
            params: Vec::new(),
            applies: Arc::new(|_, _| Ok(())),
            check: Arc::new(check),
            streams: false,
            needs_faults: false,
        }
    }

    /// Says the checker reads the trace only through [`Trace::iter`], [`Trace::len`]
    /// and [`Trace::last_at`], never `trace.events`, [`Trace::app_events`] or
    /// [`Trace::at_node`]. A run then hands it its trace compact (about 20 bytes an
    /// event); otherwise the run expands the trace for it first (about 80 bytes an
    /// event), which at a million subscribers is gigabytes. Every built-in checker
    /// streams.
    pub fn streaming(mut self) -> Invariant {
        self.streams = true;
        self
    }

    /// Whether the checker reads a compact trace (see [`Invariant::streaming`]).
    pub fn streams(&self) -> bool {
        self.streams
    }

    /// Says it judges the scenario's faults, so it holds nothing in a scenario that
    /// schedules none: naming it there (no `faults:`, no `swarm:`) is an error, never
    /// a vacuous pass, and `explore` leaves it out of a case that drew no fault.
    /// `faults_fired` is one.
    pub fn needs_faults(mut self) -> Invariant {
        self.needs_faults = true;
        self
    }

    /// Whether it judges the scenario's faults (see [`Invariant::needs_faults`]).
    pub fn faults_needed(&self) -> bool {
        self.needs_faults
    }

    /// Adds a parameter scenarios may give it (`invariants: [{name: {param: value}}]`).
    pub fn param(mut self, param: Param) -> Invariant {
        self.params.push(param);
        self
    }

    /// Says when it can apply: `Err(reason)` makes naming it in a scenario over that
    /// topology an error, never a vacuous pass.
    pub fn applies(
        mut self,
        applies: impl Fn(&TopologyPlan, &dyn RoleLookup) -> Result<(), String> + Send + Sync + 'static,
    ) -> Invariant {
        self.applies = Arc::new(applies);
        self
    }

    /// The name scenarios list it by.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One line on what it checks, for `check --list` and reports.
    pub fn summary(&self) -> &'static str {
        self.summary
    }

    /// The parameters a scenario may give it.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Whether it can apply to `topology`, whose designs' roles `roles` knows.
    pub fn applies_to(
        &self,
        topology: &TopologyPlan,
        roles: &dyn RoleLookup,
    ) -> Result<(), String> {
        (self.applies)(topology, roles)
    }

    /// Runs the checker. The invariant's own parameters are the ones `input` should
    /// carry (the runner passes each `InvariantPlan`'s).
    pub fn check(&self, input: &CheckInput) -> Outcome {
        (self.check)(input)
    }
}

impl fmt::Debug for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invariant")
            .field("name", &self.name)
            .field("summary", &self.summary)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Every built-in invariant, in the order reports list them.
pub fn builtin() -> Vec<Invariant> {
    let all = vec![
        no_lost_replies::declare(),
        no_duplicate_delivery::declare(),
        resend_interval::declare(),
        faults_fired::declare(),
        subscription_delivery::declare(),
        hwm_bound::declare(),
        pipeline_conservation::declare(),
        per_pipe_order::declare(),
        fair_queuing::declare(),
        multipart_atomicity::declare(),
        survey_deadline::declare(),
        aggregate_complete::declare(),
        fanout_correct::declare(),
        liveness::declare(),
    ];
    all.into_iter().map(Invariant::streaming).collect()
}

/// Whether any of the topology's designs plays `role`.
fn any_role(topology: &TopologyPlan, roles: &dyn RoleLookup, role: Role) -> bool {
    topology.groups.iter().any(|g| roles.roles(&g.design).contains(&role))
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

/// The time bound `fair_queuing` and `liveness` both take, each with its own default.
const fn bound(default: ParamDefault) -> Param {
    Param {
        name: "bound",
        kind: ParamKind::Duration,
        default,
        doc: "how long a unit of work may take once faults have healed",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::verdict::testing::{ms, plan, trace};
    use super::*;

    /// Answers every design with `roles`, standing in for the registry.
    struct Every(&'static [Role]);

    impl RoleLookup for Every {
        fn roles(&self, _: &str) -> &[Role] {
            self.0
        }
    }

    #[test]
    fn every_builtin_invariant_has_its_own_name_and_its_own_checker() {
        let specs = builtin();
        let names: Vec<&str> = specs.iter().map(|s| s.name()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 14, "fourteen distinct names: {names:?}");
        let (trace, scenario, params) =
            (trace(Vec::new(), Some(ms(1)), ms(2)), plan(), BTreeMap::new());
        let input = CheckInput { trace: &trace, plan: &scenario, params: &params };
        for spec in &specs {
            // Each checker names the outcome after itself: the declaration and the
            // checker it carries belong to the same invariant.
            assert_eq!(spec.check(&input).name, spec.name());
        }
    }

    #[test]
    fn applicability_asks_the_roles_of_the_topologys_designs() {
        let specs = builtin();
        let spec = |name| specs.iter().find(|s| s.name() == name).expect("built in");
        let topology = plan().topology;
        assert_eq!(
            spec("no_lost_replies").applies_to(&topology, &Every(&[Role::Requester])),
            Ok(())
        );
        assert_eq!(
            spec("no_lost_replies").applies_to(&topology, &Every(&[Role::Replier])),
            Err("no node sends requests (no design with the requester role)".to_owned())
        );
        // The test topology has a REQ socket and no SURVEYOR.
        assert_eq!(spec("resend_interval").applies_to(&topology, &Every(&[])), Ok(()));
        assert!(spec("survey_deadline").applies_to(&topology, &Every(&[])).is_err());
    }
}
