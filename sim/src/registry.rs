//! The registry: the designs and the invariants a run can name, built-in and
//! user-registered, by name.
//!
//! It sits above `design/` and `invariant/`, which do not know each other: the
//! resolver asks it which design a node runs, which invariant a scenario names and
//! (through [`RoleLookup`]) which roles a topology's designs play; the runner asks it
//! for each invariant's checker. Users add their own with [`Registry::register`] and
//! [`Registry::invariant`], the same paths the built-ins take.

use std::collections::BTreeMap;

use crate::design::{self, Design};
use crate::invariant::{self, CheckInput, Invariant, Outcome, VIOLATIONS_KEPT};
use crate::plan::InvariantPlan;
use crate::vocab::{Role, RoleLookup};

/// The designs and invariants a run can name.
#[derive(Clone, Debug)]
pub struct Registry {
    designs: BTreeMap<&'static str, Design>,
    /// In registration order, which is the order reports list them.
    invariants: Vec<Invariant>,
    /// Whether anything was registered after the built-ins (see
    /// [`Registry::is_builtin`]).
    extended: bool,
}

impl Registry {
    /// Every built-in design and invariant.
    pub fn builtin() -> Registry {
        let mut registry =
            Registry { designs: BTreeMap::new(), invariants: Vec::new(), extended: false };
        for spec in design::builtin() {
            registry.register(spec);
        }
        for spec in invariant::builtin() {
            registry.invariant(spec);
        }
        registry.extended = false;
        registry
    }

    /// Whether it holds the built-in designs and invariants alone: nothing was
    /// registered since [`Registry::builtin`] (not even a built-in again). A file that
    /// resolves against it resolves against a fresh `Registry::builtin()` too, so a
    /// repro line need not name the registry.
    pub fn is_builtin(&self) -> bool {
        !self.extended
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
    ///     Design::new("quiet-sink")
    ///         .summary("Pulls and drops everything.")
    ///         .role(Role::Consumer)
    ///         .socket("pull", &[SocketType::Pull], "where messages arrive")
    ///         .run(|ctx| async move { while ctx.socket("pull").recv().await.is_ok() {} }),
    /// );
    /// let spec = registry.get("quiet-sink").expect("registered");
    /// assert_eq!(spec.sockets()[0].name, "pull");
    /// assert!(spec.is_runnable() && !spec.is_broken());
    /// ```
    pub fn register(&mut self, spec: Design) {
        self.designs.insert(spec.name(), spec);
        self.extended = true;
    }

    /// Adds an invariant scenarios can name; a later registration under the same
    /// name replaces the earlier in its place.
    pub fn invariant(&mut self, spec: Invariant) -> &mut Registry {
        self.extended = true;
        match self.invariants.iter_mut().find(|s| s.name() == spec.name()) {
            Some(slot) => *slot = spec,
            None => self.invariants.push(spec),
        }
        self
    }

    /// The design registered as `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Design> {
        self.designs.get(name)
    }

    /// Every design's name, in name order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.designs.keys().copied()
    }

    /// Every design, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Design> {
        self.designs.values()
    }

    /// The invariant called `name`, if registered.
    pub fn find_invariant(&self, name: &str) -> Option<&Invariant> {
        self.invariants.iter().find(|s| s.name() == name)
    }

    /// Every registered invariant, in the order reports list them.
    pub fn invariants(&self) -> impl Iterator<Item = &Invariant> {
        self.invariants.iter()
    }

    /// Checks one invariant of a scenario over a finished trace. The invariant's own
    /// parameters (`plan.params`) are the ones used, whatever `input.params` holds, so
    /// a caller can build one `CheckInput` per run and pass it for every invariant. A
    /// name this registry does not hold (a plan resolved against another registry)
    /// comes back `Unknown`: a missing checker must never read as a pass. The outcome
    /// keeps the first [`VIOLATIONS_KEPT`] violations and counts the rest.
    pub fn check(&self, plan: &InvariantPlan, input: &CheckInput) -> Outcome {
        let input = CheckInput { params: &plan.params, ..*input };
        let outcome = match self.find_invariant(plan.name) {
            // A checker that reads `trace.events` gets them; the runner expands the
            // trace once beforehand when it can (`run/mod.rs`), so this copy is rare.
            Some(spec) if input.trace.is_compact() && !spec.streams() => {
                spec.check(&CheckInput { trace: &input.trace.expanded(), ..input })
            }
            Some(spec) => spec.check(&input),
            None => Outcome::unknown(plan.name, "no invariant of this name is registered"),
        };
        outcome.keep_first(VIOLATIONS_KEPT)
    }
}

impl RoleLookup for Registry {
    fn roles(&self, design: &str) -> &[Role] {
        self.get(design).map_or(&[], |d| d.roles())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::invariant::testing::{ms, plan, trace};
    use crate::invariant::{Verdict, Violation};

    #[test]
    fn a_registered_invariant_is_resolved_checked_and_listed_after_the_builtins() {
        let mut registry = Registry::builtin();
        let builtin: Vec<&str> = registry.invariants().map(|s| s.name()).collect();
        registry.invariant(Invariant::new("always_fails", "nothing passes", |_| {
            Outcome::from_violations("always_fails", vec![Violation::new(ms(1), None, "no")])
        }));
        let names: Vec<&str> = registry.invariants().map(|s| s.name()).collect();
        assert_eq!(names[..builtin.len()], builtin[..]);
        assert_eq!(names.last(), Some(&"always_fails"));
        let (trace, scenario, params) = (trace(Vec::new(), None, ms(2)), plan(), BTreeMap::new());
        let input = CheckInput { trace: &trace, plan: &scenario, params: &params };
        let plan = InvariantPlan { name: "always_fails", params: BTreeMap::new() };
        assert_eq!(registry.check(&plan, &input).verdict, Verdict::Fail);
    }

    /// What a run keeps of a checker's answer is bounded: every checker goes through
    /// `check`, which keeps the first violations and the exact count.
    #[test]
    fn a_check_keeps_the_first_violations_and_counts_them_all() {
        let mut registry = Registry::builtin();
        registry.invariant(Invariant::new("fails_often", "fails 5,000 times", |_| {
            let each = (0..5_000u64).map(|t| Violation::new(ms(t), None, format!("at {t}")));
            Outcome::from_violations("fails_often", each.collect())
        }));
        let (trace, scenario, params) = (trace(Vec::new(), None, ms(2)), plan(), BTreeMap::new());
        let input = CheckInput { trace: &trace, plan: &scenario, params: &params };
        let plan = InvariantPlan { name: "fails_often", params: BTreeMap::new() };
        let outcome = registry.check(&plan, &input);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.violation_count(), 5_000);
        assert_eq!(outcome.violations.len(), VIOLATIONS_KEPT);
        assert_eq!(outcome.violations[0].text, "at 0");
    }

    /// A checker that reads `trace.events` never sees a compact trace's empty list:
    /// one not declared streaming is handed an expanded copy.
    #[test]
    fn a_checker_not_declared_streaming_is_handed_the_events_of_a_compact_trace() {
        let mut registry = Registry::builtin();
        let counts = |input: &CheckInput| {
            let text = format!(
                "{} events, compact {}",
                input.trace.events.len(),
                input.trace.is_compact()
            );
            Outcome::from_violations("counts", vec![Violation::new(ms(1), None, text)])
        };
        registry.invariant(Invariant::new("counts", "counts events", counts));
        let healed = crate::trace::TraceEvent {
            at: ms(1),
            node: None,
            socket: None,
            kind: crate::trace::EventKind::Healed,
        };
        let mut compact = crate::trace::CompactEvents::default();
        (0..3).for_each(|_| compact.push(&healed));
        let trace = crate::trace::Trace::from_compact(compact);
        let (scenario, params) = (plan(), BTreeMap::new());
        let input = CheckInput { trace: &trace, plan: &scenario, params: &params };
        let plan = InvariantPlan { name: "counts", params: BTreeMap::new() };
        let outcome = registry.check(&plan, &input);
        assert_eq!(outcome.violations[0].text, "3 events, compact false");
    }

    #[test]
    fn an_unregistered_invariant_is_unknown_never_a_pass() {
        let registry = Registry::builtin();
        let (trace, scenario, params) = (trace(Vec::new(), None, ms(2)), plan(), BTreeMap::new());
        let input = CheckInput { trace: &trace, plan: &scenario, params: &params };
        let plan = InvariantPlan { name: "nobody_registered_me", params: BTreeMap::new() };
        let outcome = registry.check(&plan, &input);
        assert_eq!(outcome.verdict, Verdict::Unknown);
        assert_eq!(outcome.note.as_deref(), Some("no invariant of this name is registered"));
    }

    #[test]
    fn registering_a_name_again_replaces_it_in_place() {
        let mut registry = Registry::builtin();
        let before: Vec<&str> = registry.invariants().map(|s| s.name()).collect();
        registry.invariant(Invariant::new("hwm_bound", "replaced", |_| {
            Outcome::unknown("hwm_bound", "replaced")
        }));
        let after: Vec<&str> = registry.invariants().map(|s| s.name()).collect();
        assert_eq!(before, after);
        assert_eq!(registry.find_invariant("hwm_bound").map(|s| s.summary()), Some("replaced"));
    }
}
