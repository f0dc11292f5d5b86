//! A `restart` fault brings back a node that a `kill` or `crash` took down. One that
//! finds every node it names running does nothing, and a run says so only when its
//! scenario lists `faults_fired` ("began at 2s but touched nothing"); without it the
//! scenario reads as testing a restart it never makes. Refused here, from the
//! timetable alone.
//!
//! The timetable is the run's (`run/phases.rs`): each fault begins at `at` and a kill
//! or crash ends, restarting its nodes, at its `for` or `until` or else at the heal
//! (`duration`); at one instant every beginning comes before every end, and
//! beginnings in file order. So a kill at the restart's own time but written before
//! it, or one that ends at that time, still has the node down. The check only
//! refuses what cannot touch anything: a restart that an earlier restart has already
//! answered is let be, and so is any restart in a scenario whose swarm may kill or
//! crash nodes before it.

use std::time::Duration;

use crate::plan::{FaultKind, FaultPlan, Selector, SwarmPlan};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::units::format_duration;

use super::scenario::ScenarioResolver;

impl ScenarioResolver<'_, '_, '_> {
    /// Refuses each `restart` in `faults` (the file's, in its order, under `path`)
    /// whose nodes no `kill` or `crash` can have down at its time.
    pub(super) fn refuse_idle_restarts(
        &mut self,
        faults: &[FaultPlan],
        swarm: Option<&SwarmPlan>,
        path: &YamlPath,
    ) {
        let downing = |k: &FaultKind| matches!(k, FaultKind::Kill | FaultKind::Crash);
        let Some(duration) = self.duration else { return };
        if swarm.is_some_and(|s| s.kinds.iter().any(downing)) {
            return;
        }
        for (j, restart) in faults.iter().enumerate() {
            if restart.kind != FaultKind::Restart {
                continue;
            }
            let down_then = |(i, k): (usize, &FaultPlan)| {
                let began = k.at < restart.at || (k.at == restart.at && i < j);
                let end = k.ends_at(duration);
                downing(&k.kind) && began && end >= restart.at && overlap(&k.nodes, &restart.nodes)
            };
            if faults.iter().enumerate().any(down_then) {
                continue;
            }
            let names: Vec<String> =
                restart.nodes.iter().map(|s| self.topology.selector_name(s)).collect();
            let at = format_duration(restart.at);
            self.diags
                .error(
                    &path.index(j).key("node"),
                    Target::Value,
                    Code::FaultTouchesNothing,
                    format!(
                        "this `restart` at {at} restarts nothing: no `kill` or `crash` has {} down then",
                        names.join(" or ")
                    ),
                )
                .hint(format!(
                    "a restart brings back a node a kill or crash took down; add one before it, \
                     such as `{{at: {}, kind: kill, node: {}, until: end}}`, or remove the restart",
                    format_duration(restart.at.saturating_sub(Duration::from_secs(1))),
                    names[0]
                ));
        }
    }
}

/// Whether two node lists name a replica in common.
fn overlap(a: &[Selector], b: &[Selector]) -> bool {
    let meet = |x: &Selector, y: &Selector| {
        x.group == y.group && (x.replica.is_none() || y.replica.is_none() || x.replica == y.replica)
    };
    a.iter().any(|x| b.iter().any(|y| meet(x, y)))
}
