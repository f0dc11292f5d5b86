//! `faults_fired`: every scheduled fault took effect on something.
//!
//! This is the "sometimes" property that keeps every other pass honest: a partition
//! between groups that had no connection yet, or a kill of a replica that had already
//! finished, cuts nothing, and the run then proves nothing about faults. Each fault
//! of the scenario must show a `FaultBegin` with `touched > 0` (what it cut or hit as
//! it began) or a `FaultEnd` with `touched > 0` (traffic it held or delayed while it
//! lasted: a partition that began before any connection existed still counts once it
//! holds a connect or a message); one that never began, or only ever touched nothing,
//! is a violation naming its kind and index. Fault
//! events whose index lies beyond the scenario's list (faults the runtime drew itself,
//! as a swarm does) are held to the same rule.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::trace::EventKind;

use super::Invariant;
use super::verdict::{CheckInput, Outcome, Violation, dur};

pub const NAME: &str = "faults_fired";

/// `faults_fired` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "every scheduled fault took effect on something";
    Invariant::new(NAME, summary, check).needs_faults()
}

/// What the trace shows of one fault.
#[derive(Debug, Default)]
struct Fired {
    /// When it first began.
    first_begin: Option<Duration>,
    /// When it first began touching something.
    touched_at: Option<Duration>,
}

pub fn check(input: &CheckInput) -> Outcome {
    let plan = input.plan;
    let mut fired: BTreeMap<u32, Fired> = BTreeMap::new();
    for event in input.trace.iter() {
        let (fault, touched, begins) = match event.kind {
            EventKind::FaultBegin { fault, touched } => (fault, touched, true),
            EventKind::FaultEnd { fault, touched } => (fault, touched, false),
            _ => continue,
        };
        // An end counts only for a fault that began: it says what the fault did while
        // it lasted.
        let entry = if begins {
            let entry = fired.entry(fault).or_default();
            entry.first_begin.get_or_insert(event.at);
            entry
        } else {
            let Some(entry) = fired.get_mut(&fault) else { continue };
            entry
        };
        if touched > 0 {
            entry.touched_at.get_or_insert(event.at);
        }
    }

    let mut violations = Vec::new();
    for (index, fault) in plan.faults.iter().enumerate() {
        let name = input.fault_name(index, fault);
        let seen = u32::try_from(index).ok().and_then(|i| fired.get(&i));
        match seen {
            None => {
                violations.push(Violation::new(fault.at, None, format!("{name} never began")));
            }
            Some(Fired { first_begin: Some(began), touched_at: None }) => {
                violations.push(Violation::new(
                    *began,
                    None,
                    format!("{name} began at {} but touched nothing", dur(*began)),
                ));
            }
            Some(_) => {}
        }
    }
    let scheduled = plan.faults.len();
    let scheduled_u32 = u32::try_from(scheduled).unwrap_or(u32::MAX);
    let extra: Vec<(u32, &Fired)> = fired.range(scheduled_u32..).map(|(i, f)| (*i, f)).collect();
    for (index, f) in &extra {
        if let (Some(began), None) = (f.first_begin, f.touched_at) {
            violations.push(Violation::new(
                began,
                None,
                format!(
                    "{} began at {} but touched nothing",
                    extra_name(input, *index),
                    dur(began)
                ),
            ));
        }
    }

    if let Some(swarm) = &plan.swarm
        && scheduled == 0
        && extra.is_empty()
        && swarm.faults_min > 0
    {
        violations.push(Violation::new(
            input.end(),
            None,
            format!("the swarm draws at least {} faults a run, but none began", swarm.faults_min),
        ));
    }

    if scheduled == 0 && extra.is_empty() && violations.is_empty() {
        // Nothing was scheduled and nothing was drawn: there is no fault to judge, and a
        // pass would claim the faults took effect.
        return Outcome::unknown(NAME, "no faults scheduled");
    }
    let outcome = Outcome::from_violations(NAME, violations);
    let note = match extra.len() {
        0 if scheduled == 0 => "no faults scheduled".to_owned(),
        0 => format!("{scheduled} faults scheduled"),
        n => format!("{scheduled} faults scheduled, {n} more drawn at run time"),
    };
    outcome.with_note(note)
}

/// A fault past the plan's list: the trace names it if it lists it (a run always
/// does; the plan it was checked against may be the scenario's own).
fn extra_name(input: &CheckInput, index: u32) -> String {
    match input.trace.faults.get(index as usize) {
        Some(named) => named.text.clone(),
        None => format!("fault #{index} (not in the scenario's list)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{fault, ms, plan, run, run_event, texts, trace};
    use crate::plan::{FaultKind, ScenarioPlan, SwarmPlan};
    use crate::trace::TraceEvent;

    fn begin(t: u64, fault: u32, touched: u32) -> TraceEvent {
        run_event(ms(t), EventKind::FaultBegin { fault, touched })
    }

    fn end(t: u64, fault: u32) -> TraceEvent {
        run_event(ms(t), EventKind::FaultEnd { fault, touched: 1 })
    }

    fn two_faults() -> ScenarioPlan {
        let mut plan = plan();
        plan.faults = vec![fault(FaultKind::Kill, ms(100)), fault(FaultKind::Partition, ms(200))];
        plan
    }

    fn outcome(events: Vec<TraceEvent>, plan: &ScenarioPlan) -> Outcome {
        run(check, &trace(events, Some(ms(1000)), ms(2000)), plan)
    }

    #[test]
    fn passes_when_every_fault_touched_something() {
        let events = vec![begin(100, 0, 1), begin(200, 1, 0), end(300, 0), begin(400, 1, 3)];
        let outcome = outcome(events, &two_faults());
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(outcome.note.as_deref(), Some("2 faults scheduled"));
    }

    #[test]
    fn a_fault_that_held_traffic_while_it_lasted_fired_though_it_began_on_nothing() {
        let events = vec![begin(100, 0, 1), begin(200, 1, 0), end(300, 1)];
        assert_eq!(outcome(events, &two_faults()).verdict, Verdict::Pass);
        // An end without a begin proves nothing.
        let events = vec![begin(100, 0, 1), end(300, 1)];
        assert_eq!(outcome(events, &two_faults()).verdict, Verdict::Fail);
    }

    #[test]
    fn a_fault_that_touched_nothing_is_a_violation() {
        let outcome = outcome(vec![begin(100, 0, 2), begin(200, 1, 0)], &two_faults());
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "fault #1 (partition client, from 200ms to the end of the safety phase) began at 200ms but touched nothing"
            ]
        );
    }

    #[test]
    fn a_fault_that_never_began_is_a_violation_and_every_one_is_reported() {
        let outcome = outcome(Vec::new(), &two_faults());
        assert_eq!(
            texts(&outcome),
            [
                "fault #0 (kill client, from 100ms to the end of the safety phase) never began",
                "fault #1 (partition client, from 200ms to the end of the safety phase) never began"
            ]
        );
    }

    #[test]
    fn no_faults_scheduled_is_unknown_not_a_pass() {
        let outcome = outcome(Vec::new(), &plan());
        assert_eq!(outcome.verdict, Verdict::Unknown);
        assert_eq!(outcome.note.as_deref(), Some("no faults scheduled"));
    }

    #[test]
    fn faults_drawn_at_run_time_must_touch_something_too() {
        let outcome =
            outcome(vec![begin(100, 0, 1), begin(200, 1, 1), begin(300, 2, 0)], &two_faults());
        assert_eq!(
            texts(&outcome),
            ["fault #2 (not in the scenario's list) began at 300ms but touched nothing"]
        );
    }

    #[test]
    fn a_swarm_that_must_draw_faults_but_showed_none_fails() {
        let mut plan = plan();
        plan.swarm = Some(SwarmPlan {
            kinds: vec![FaultKind::Kill],
            targets: Vec::new(),
            faults_min: 1,
            faults_max: 3,
            duration: None,
            loss: None,
            latency: None,
        });
        assert_eq!(outcome(Vec::new(), &plan).verdict, Verdict::Fail);
        assert_eq!(outcome(vec![begin(100, 0, 1)], &plan).verdict, Verdict::Pass);
    }
}
