//! A node's downs and restarts, checked from the timetable alone.
//!
//! A `restart` fault brings back a node that a `kill` or `crash` took down. One that
//! finds every node it names running does nothing, and a run says so only when its
//! scenario lists `faults_fired` ("began at 2s but touched nothing"); without it the
//! scenario reads as testing a restart it never makes. Refused here.
//!
//! A `kill` or `crash` of a replica that an earlier one still holds down is refused
//! too: it finds the replica down and does nothing, and the earlier fault's end
//! restarts the replica under it, so neither fault's window is what the run does
//! (`run/faults.rs` leaves a replica's state as it is when a fault finds it there).
//! The swarm and `explore` never draw such a pair (`run/swarm.rs`, `overlaps`).
//!
//! The timetable is the run's (`run/phases.rs`): each fault begins at `at` and a kill
//! or crash ends, restarting its nodes, at its `for` or `until` or else at the heal
//! (`duration`); at one instant every beginning comes before every end, and
//! beginnings in file order. So a kill at the restart's own time but written before
//! it, or one that ends at that time, still has the node down. The checks only
//! refuse what cannot do what it says: a restart that an earlier restart has already
//! answered is let be, and so is any restart in a scenario whose swarm may kill or
//! crash nodes before it, and a kill after a restart of its node.

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
        let Some(duration) = self.duration else { return };
        if swarm.is_some_and(|s| s.kinds.iter().any(|k| downing(*k))) {
            return;
        }
        for (j, restart) in faults.iter().enumerate() {
            if restart.kind != FaultKind::Restart {
                continue;
            }
            let down_then = |(i, k): (usize, &FaultPlan)| {
                let began = k.at < restart.at || (k.at == restart.at && i < j);
                let end = k.ends_at(duration);
                downing(k.kind) && began && end >= restart.at && overlap(&k.nodes, &restart.nodes)
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

    /// Refuses each `kill` or `crash` in `faults` whose window an earlier one on a
    /// common replica breaks into: by still holding the replica down when it begins,
    /// or, when a `restart` brought the replica back between them, by ending (and so
    /// restarting the replica) while this one holds it down.
    pub(super) fn refuse_overlapping_downs(&mut self, faults: &[FaultPlan], path: &YamlPath) {
        let Some(duration) = self.duration else { return };
        for (j, later) in faults.iter().enumerate() {
            if !downing(later.kind) {
                continue;
            }
            let clash = faults.iter().enumerate().find_map(|(i, earlier)| {
                let began = earlier.at < later.at || (earlier.at == later.at && i < j);
                let end = earlier.ends_at(duration);
                if !downing(earlier.kind) || !began || end < later.at {
                    return None;
                }
                let replica = common(&earlier.nodes, &later.nodes)?;
                let restarted = faults.iter().any(|r| {
                    r.kind == FaultKind::Restart
                        && (earlier.at..=later.at).contains(&r.at)
                        && overlap(&r.nodes, &[replica])
                });
                let cuts_in = !restarted || end < later.ends_at(duration);
                cuts_in.then_some((i, earlier, replica, restarted))
            });
            let Some((i, earlier, replica, restarted)) = clash else { continue };
            let name = self.topology.selector_name(&replica);
            let end = earlier.ends_at(duration);
            let until = match earlier.until {
                Some(Duration::MAX) => "the run's end".to_string(),
                None => "the heal".to_string(),
                Some(_) => format_duration(end),
            };
            let line = self
                .diags
                .locate(&path.index(i), Target::Value)
                .map_or_else(|| format!("`faults[{i}]`"), |l| format!("line {}", l.line));
            let (kind, at) = (later.kind.name(), format_duration(later.at));
            let (message, hint) = if restarted {
                (
                    format!(
                        "the `{}` at {} ({line}) ends at {until} and restarts {name} while this \
                         `{kind}` at {at} holds it down",
                        earlier.kind.name(),
                        format_duration(earlier.at),
                    ),
                    format!("end the fault at {line} before {at}, when this one begins"),
                )
            } else {
                (
                    format!(
                        "this `{kind}` at {at} finds {name} already down: the `{}` at {} \
                         ({line}) holds it down until {until}, and whichever of the two ends \
                         first restarts it",
                        earlier.kind.name(),
                        format_duration(earlier.at),
                    ),
                    format!(
                        "{}remove it and give the fault at {line} the window you want {name} down for",
                        if end < duration {
                            format!("begin this one after {until}, or ")
                        } else {
                            String::new()
                        }
                    ),
                )
            };
            self.diags
                .error(&path.index(j).key("node"), Target::Value, Code::FaultsOverlap, message)
                .hint(hint);
        }
    }
}

/// Whether a fault takes its nodes down.
fn downing(kind: FaultKind) -> bool {
    matches!(kind, FaultKind::Kill | FaultKind::Crash)
}

/// Whether two node lists name a replica in common.
fn overlap(a: &[Selector], b: &[Selector]) -> bool {
    common(a, b).is_some()
}

/// The first replica, or whole group, that two node lists both name: the narrower of
/// the two selectors that meet.
fn common(a: &[Selector], b: &[Selector]) -> Option<Selector> {
    a.iter().flat_map(|x| b.iter().map(move |y| (x, y))).find_map(|(x, y)| {
        let meet = x.group == y.group
            && (x.replica.is_none() || y.replica.is_none() || x.replica == y.replica);
        meet.then(|| Selector { group: x.group, replica: x.replica.or(y.replica) })
    })
}
