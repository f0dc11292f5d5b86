//! Faults as people read them: kind, targets, start and end, and whether a swarm drew
//! it, so a trace, its JSON and its page never show a bare `fault #2`.

use crate::plan::{FaultPlan, Selector, TopologyPlan};
use crate::spec::format_duration;

/// One fault of a run, as the trace keeps it beside its events.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedFault {
    /// The fault as planned (drawn ones included).
    pub fault: FaultPlan,
    /// Drawn for this seed by the scenario's `swarm:` block rather than written in it.
    pub drawn: bool,
    /// `fault #2 (kill worker.0, 1200ms to 3s, drawn by the swarm)`.
    pub text: String,
}

impl NamedFault {
    /// Fault `index` of a run over `topology`.
    pub fn new(topology: &TopologyPlan, index: usize, fault: &FaultPlan, drawn: bool) -> Self {
        let by = if drawn { ", drawn by the swarm" } else { "" };
        let text = format!("fault #{index} ({}{by})", fault_text(topology, fault));
        NamedFault { fault: fault.clone(), drawn, text }
    }

    /// Every fault of a run whose first `written` faults the scenario wrote.
    pub fn all(topology: &TopologyPlan, faults: &[FaultPlan], written: usize) -> Vec<Self> {
        faults.iter().enumerate().map(|(i, f)| Self::new(topology, i, f, i >= written)).collect()
    }
}

/// `kill worker.0, 1.2s to 3s`, or `partition between [client] and [broker] (one
/// way), from 1s to the end of the safety phase`.
pub fn fault_text(t: &TopologyPlan, f: &FaultPlan) -> String {
    let when = match f.until {
        // `until: end` (or a `for` past the run): the fault outlasts the safety phase.
        Some(std::time::Duration::MAX) => format!("from {} to the end of the run", to_ms(f.at)),
        Some(end) => format!("{} to {}", to_ms(f.at), to_ms(end)),
        None => format!("from {} to the end of the safety phase", to_ms(f.at)),
    };
    let what = match &f.between {
        Some([a, b]) => format!(
            "between [{}] and [{}]{}",
            selectors(t, a),
            selectors(t, b),
            if f.oneway { " (one way)" } else { "" }
        ),
        None => selectors(t, &f.nodes),
    };
    format!("{} {what}, {when}", f.kind.name())
}

/// A time as people read it: in whole milliseconds, as the JSON's `at_ms` and
/// `until_ms` give it (a swarm draws nanoseconds).
fn to_ms(d: std::time::Duration) -> String {
    format_duration(std::time::Duration::from_millis(d.as_millis() as u64))
}

fn selectors(t: &TopologyPlan, sel: &[Selector]) -> String {
    sel.iter().map(|s| t.selector_name(s)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::testing::{fault, plan};
    use crate::plan::{FaultKind, GroupId};

    #[test]
    fn a_drawn_fault_is_named_with_kind_targets_times_and_origin() {
        let plan = plan();
        let mut kill = fault(FaultKind::Kill, Duration::from_millis(1200));
        kill.nodes = vec![Selector { group: GroupId(0), replica: Some(1) }];
        kill.until = Some(Duration::from_secs(3));
        let mut cut = fault(FaultKind::Partition, Duration::from_secs(1));
        cut.nodes = Vec::new();
        cut.between = Some([
            vec![Selector { group: GroupId(0), replica: Some(0) }],
            vec![Selector { group: GroupId(0), replica: Some(1) }],
        ]);
        let named: Vec<String> =
            NamedFault::all(&plan.topology, &[cut, kill], 1).into_iter().map(|f| f.text).collect();
        assert_eq!(
            named,
            [
                "fault #0 (partition between [client.0] and [client.1], from 1s to the end of the safety phase)",
                "fault #1 (kill client.1, 1200ms to 3s, drawn by the swarm)",
            ]
        );
    }
}
