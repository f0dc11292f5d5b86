//! Workloads: per node, the fields its design reads, and a warning for nodes no
//! workload can reach.
//!
//! Which fields make sense depends on the group's design, so each misplaced field is
//! reported with the fields that design reads.

use std::collections::BTreeMap;
use std::time::Duration;

use super::dist::Quantity;
use crate::plan::{Distribution, WorkloadPlan};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawWorkload;
use crate::spec::suggest::did_you_mean;
use crate::spec::units::format_duration;

use super::scenario::ScenarioResolver;

/// A moment of a workload that must fall in the safety phase.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// `start_at`: when the workload starts.
    Start,
    /// `join_at`: when a subscriber subscribes.
    Join,
    /// `leave_at`: when a subscriber unsubscribes and stops receiving.
    Leave,
}

impl Moment {
    fn key(self) -> &'static str {
        match self {
            Moment::Start => "start_at",
            Moment::Join => "join_at",
            Moment::Leave => "leave_at",
        }
    }
}

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn workloads(
        &mut self,
        raw: &BTreeMap<String, RawWorkload>,
    ) -> BTreeMap<crate::plan::GroupId, WorkloadPlan> {
        let mut out = BTreeMap::new();
        for (name, w) in raw {
            let path = YamlPath::root().key("workload").key(name.as_str());
            let Some(group) = self.topology.group_by_name(name) else {
                let d = self.diags.error(
                    &path,
                    Target::Key,
                    Code::UnknownNode,
                    format!("workload for `{name}`, which is not a node of the topology"),
                );
                if let Some(s) =
                    did_you_mean(name, self.topology.groups.iter().map(|g| g.name.as_str()))
                {
                    d.hint(format!("did you mean `{s}`?"));
                }
                continue;
            };
            let id = group.id;
            // An external program takes no workload: every field is refused.
            let design = match group.process {
                Some(_) => Some((crate::plan::PROCESS_DESIGN, &[][..])),
                None => self.registry.get(&group.design).map(|d| (d.name(), d.workload_fields())),
            };
            let plan = self.workload(w, design, &path);
            out.insert(id, plan);
        }
        out
    }

    pub(super) fn workload(
        &mut self,
        w: &RawWorkload,
        design: Option<(&'static str, &[&'static str])>,
        path: &YamlPath,
    ) -> WorkloadPlan {
        let set = [
            ("requests", w.requests.is_some()),
            ("rate", w.rate.is_some()),
            ("start_at", w.start_at.is_some()),
            ("size", w.size.is_some()),
            ("service_time", w.service_time.is_some()),
            ("publish_rate", w.publish_rate.is_some()),
            ("publishes", w.publishes.is_some()),
            ("join_at", w.join_at.is_some()),
            ("leave_at", w.leave_at.is_some()),
            ("session", w.session.is_some()),
            ("offline", w.offline.is_some()),
            ("online_fraction", w.online_fraction.is_some()),
            ("jobs", w.jobs.is_some()),
            ("chunks", w.chunks.is_some()),
        ];
        if let Some((name, reads)) = design {
            for (field, is_set) in set {
                if is_set && !reads.contains(&field) {
                    let d = self.diags.error(
                        &path.key(field),
                        Target::Key,
                        Code::FieldNotApplicable,
                        format!("design `{name}` does not read `{field}`"),
                    );
                    if reads.is_empty() {
                        d.hint(format!("`{name}` takes no workload: it only reacts to traffic"));
                    } else {
                        d.hint(format!("`{name}` reads: {}", reads.join(", ")));
                    }
                }
            }
        }
        let dur = |this: &mut Self, d: &Option<crate::spec::raw::RawDist>, key: &str| {
            d.as_ref().and_then(|d| this.dist(d, Quantity::Duration, &path.key(key)))
        };
        let start_at = dur(self, &w.start_at, "start_at");
        let join_at = dur(self, &w.join_at, "join_at");
        let leave_at = dur(self, &w.leave_at, "leave_at");
        for (field, at) in
            [(Moment::Start, &start_at), (Moment::Join, &join_at), (Moment::Leave, &leave_at)]
        {
            if let Some(at) = at {
                self.check_in_safety_phase(at, field, &path.key(field.key()));
            }
        }
        if let (Some(join), Some(leave)) = (&join_at, &leave_at) {
            self.check_leaves_after_joining(join, leave, &path.key(Moment::Leave.key()));
        }
        WorkloadPlan {
            requests: w.requests.as_ref().and_then(|s| self.count_of(s, &path.key("requests"))),
            rate: w.rate.as_ref().and_then(|s| self.rate_of(s, &path.key("rate"))),
            start_at,
            size: w.size.as_ref().and_then(|d| self.dist(d, Quantity::Size, &path.key("size"))),
            service_time: dur(self, &w.service_time, "service_time"),
            publish_rate: w
                .publish_rate
                .as_ref()
                .and_then(|s| self.rate_of(s, &path.key("publish_rate"))),
            publishes: w.publishes.as_ref().and_then(|s| self.count_of(s, &path.key("publishes"))),
            join_at,
            leave_at,
            session: dur(self, &w.session, "session"),
            offline: dur(self, &w.offline, "offline"),
            online_fraction: w
                .online_fraction
                .map(|p| self.probability(p, &path.key("online_fraction"))),
            jobs: w.jobs.as_ref().and_then(|s| self.count_of(s, &path.key("jobs"))),
            chunks: w.chunks.as_ref().and_then(|s| self.count_of(s, &path.key("chunks"))),
        }
    }

    /// A subscriber that leaves no later than it joins, whatever each replica draws,
    /// subscribes and at once cancels: it receives nothing, which no scenario means.
    /// Only what a fixed time or a `uniform` range's bounds prove is refused; a replica
    /// whose draws cross otherwise leaves as it joins.
    fn check_leaves_after_joining(
        &mut self,
        join: &Distribution,
        leave: &Distribution,
        path: &YamlPath,
    ) {
        let earliest_join = match *join {
            Distribution::Fixed(ns) => ns,
            Distribution::Uniform { min, .. } => min,
            _ => return,
        };
        let latest_leave = match *leave {
            Distribution::Fixed(ns) => ns,
            // `max` is a bound no draw reaches.
            Distribution::Uniform { max, .. } => max,
            _ => return,
        };
        if latest_leave > earliest_join {
            return;
        }
        let at = |ns: f64| format_duration(Duration::from_nanos(ns as u64));
        self.diags
            .error(
                path,
                Target::Value,
                Code::OutOfRange,
                format!(
                    "the subscriber leaves by {}, not after it joins at {}: it would cancel its subscription as it made it and receive nothing",
                    at(latest_leave),
                    at(earliest_join)
                ),
            )
            .hint("give `leave_at` a time after `join_at`, or leave `leave_at` out to stay subscribed to the end");
    }

    /// A workload starts in the safety phase, before `duration`, as a fault does
    /// (`fault-out-of-range`): one that every replica starts at or after it never
    /// meets the faults the scenario is about, and past the liveness bound does
    /// nothing at all. A subscriber's `join_at` and `leave_at` are held to the same:
    /// a join at or after `duration` misses every fault too, and a leave there comes
    /// only in the liveness phase, which ends once the finite workloads are done,
    /// if not sooner at its bound, so it may never come. Only a time no replica can
    /// draw earlier is refused: a fixed one, or a `uniform` one's minimum; the others
    /// can draw any time from zero.
    fn check_in_safety_phase(&mut self, at: &Distribution, moment: Moment, path: &YamlPath) {
        let Some(duration) = self.duration else { return };
        let earliest = match *at {
            Distribution::Fixed(ns) => ns,
            Distribution::Uniform { min, .. } => min,
            _ => return,
        };
        if earliest < duration.as_nanos() as f64 {
            return;
        }
        let what = match (moment, at) {
            (Moment::Start, Distribution::Fixed(_)) => "the workload starts at",
            (Moment::Start, _) => "every replica's workload starts at or after",
            (Moment::Join, Distribution::Fixed(_)) => "the subscriber joins at",
            (Moment::Join, _) => "every replica joins at or after",
            (Moment::Leave, Distribution::Fixed(_)) => "the subscriber leaves at",
            (Moment::Leave, _) => "every replica leaves at or after",
        };
        let hint = match moment {
            Moment::Start => {
                "a workload starts in the safety phase, between 0 and `duration`, as faults do; the liveness phase after it only lets work under way finish (a start past its bound does nothing at all)"
            }
            Moment::Join => {
                "a subscriber joins in the safety phase, between 0 and `duration`, as a workload starts; the liveness phase after it only lets work under way finish (a join past its bound does nothing at all)"
            }
            Moment::Leave => {
                "a subscriber leaves in the safety phase, between 0 and `duration`; to stay subscribed to the end, leave `leave_at` out (after `duration` the leave would come in the liveness phase, which ends once the work is done, if at all)"
            }
        };
        let earliest = Duration::from_nanos(earliest as u64);
        self.diags
            .error(
                path,
                Target::Value,
                Code::OutOfRange,
                format!(
                    "{what} {}, not before the end of the scenario's {} `duration`",
                    format_duration(earliest),
                    format_duration(duration)
                ),
            )
            .hint(hint);
    }

    /// A group that nothing acting on its own can reach through the topology graph
    /// never does anything: worth a warning, not an error. What acts on its own is a
    /// group given a workload, or an outside program (`process:`), which does its own
    /// work under `real` and takes no workload.
    pub(super) fn warn_unreached(
        &mut self,
        workload: &BTreeMap<crate::plan::GroupId, WorkloadPlan>,
    ) {
        let programs = self.topology.groups.iter().filter(|g| g.process.is_some());
        let actors: Vec<crate::plan::GroupId> =
            workload.keys().copied().chain(programs.map(|g| g.id)).collect();
        if actors.is_empty() {
            let starter = self.first_starter().map(|(n, f, v)| (n.to_owned(), f, v));
            let d = self.diags.warning(
                &YamlPath::root(),
                Target::Value,
                Code::NoWorkload,
                "the scenario gives no node a workload, so nothing will happen",
            );
            match starter {
                Some((node, field, value)) => {
                    d.hint(format!("add `workload: {{{node}: {{{field}: {value}}}}}`"))
                }
                None => d.hint(
                    "no node here runs a design that starts work from a workload \
                     (`requests`, `publishes`, `chunks`, `publish_rate`): give one such a \
                     design, as `client`",
                ),
            };
            return;
        }
        let graph = crate::graph::TopologyGraph::new(self.topology);
        let reached = graph.reachable_from(actors);
        for group in &self.topology.groups {
            if !reached.contains(&group.id) {
                self.diags
                    .warning(
                        &YamlPath::root().key("workload"),
                        Target::Key,
                        Code::UnreachedNode,
                        format!("no workload can reach node `{}`", group.name),
                    )
                    .hint("connect it to a node with a workload, or remove it");
            }
        }
    }

    /// The first node, in the topology's order, whose design starts work from a
    /// workload field, with the field and a value to give it: what the `no-workload`
    /// hint suggests, so that following it is never an error.
    fn first_starter(&self) -> Option<(&str, &'static str, &'static str)> {
        self.topology.groups.iter().filter(|g| g.process.is_none()).find_map(|g| {
            let reads = self.registry.get(&g.design)?.workload_fields();
            let (field, value) = STARTERS.iter().find(|(f, _)| reads.contains(f))?;
            Some((g.name.as_str(), *field, *value))
        })
    }
}

/// Workload fields that start a design's work, with a value for a hint, in the
/// order a hint prefers them.
const STARTERS: [(&str, &str); 4] =
    [("requests", "10"), ("publishes", "10"), ("chunks", "10"), ("publish_rate", "1/s")];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::registry::Registry;
    use crate::resolve::load_scenario_source;
    use crate::spec::SourceFile;

    /// The codes a scenario on the test data's queue topology gets, with `workload`
    /// and `expect` as given.
    fn codes(workload: &str, invariants: &str, expect: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good");
        let text = format!(
            "name: t\ntopology: queue.yaml\nduration: 2s\nworkload:\n  client: {workload}\n\
             {invariants}expect: {expect}\n"
        );
        let loaded =
            load_scenario_source(&SourceFile::new(dir.join("t.yaml"), text), &Registry::builtin());
        loaded.diagnostics.iter().map(|d| d.code.to_string()).collect()
    }

    const CHECKED: &str = "invariants: [no_lost_replies]\n";

    /// The warnings and errors a scenario with no workload gets over `topology`, each
    /// as its code and hint; the files are written to a folder of their own.
    fn without_workload(name: &str, topology: &str) -> Vec<(String, Option<String>)> {
        let dir = std::env::temp_dir().join(format!("patchbay-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        std::fs::write(dir.join("t.topology.yaml"), topology).expect("written");
        let text = "name: t\ntopology: t.topology.yaml\nduration: 2s\n\
                    invariants: [no_duplicate_delivery]\nexpect: pass\n";
        let loaded =
            load_scenario_source(&SourceFile::new(dir.join("t.yaml"), text), &Registry::builtin());
        let _ = std::fs::remove_dir_all(&dir);
        loaded.diagnostics.iter().map(|d| (d.code.to_string(), d.hint.clone())).collect()
    }

    /// An outside program does its own work and takes no workload: a scenario whose
    /// program drives the patchbay nodes is not told that nothing will happen.
    #[test]
    fn an_outside_program_acts_on_its_own_so_no_workload_is_not_warned() {
        let topology = "name: t\nnodes:\n\
            - name: prog\n  process:\n    command: [sh, -c, 'exec sleep 60']\n  \
              sockets: [{name: req, type: REQ, bind: true}]\n\
            - {name: worker, design: echo-worker, sockets: [{name: rep, type: REP, connect: prog.req}]}\n";
        assert_eq!(without_workload("program-acts", topology), []);
    }

    /// The hint names a node of this topology whose design reads the field it shows,
    /// so that following it is never an error: here neither the first node (which
    /// only answers) nor a node called `client`.
    #[test]
    fn the_no_workload_hint_names_a_node_that_takes_the_workload_it_shows() {
        let topology = "name: t\nnodes:\n\
            - {name: answerer, design: echo-worker, sockets: [{name: rep, type: REP, bind: true}]}\n\
            - {name: asker, design: client, sockets: [{name: req, type: REQ, connect: answerer.rep}]}\n";
        let hint = "add `workload: {asker: {requests: 10}}`".to_owned();
        assert_eq!(
            without_workload("hint-asker", topology),
            [("no-workload".to_owned(), Some(hint))]
        );
        let only_answers = "name: t\nnodes:\n\
            - {name: a, design: echo-worker, sockets: [{name: rep, type: REP, bind: true}]}\n\
            - {name: b, design: queue-device, sockets: [{name: frontend, type: ROUTER, bind: true}, {name: backend, type: DEALER, connect: a.rep}]}\n";
        let found = without_workload("hint-none", only_answers);
        let [(code, Some(hint))] = found.as_slice() else { panic!("{found:?}") };
        assert_eq!(code, "no-workload");
        assert!(hint.starts_with("no node here runs a design that starts work"), "{hint}");
    }

    #[test]
    fn a_workload_starts_before_the_end_of_the_safety_phase() {
        assert_eq!(codes("{requests: 3, start_at: 1999ms}", CHECKED, "pass"), Vec::<String>::new());
        assert_eq!(codes("{requests: 3, start_at: 2s}", CHECKED, "pass"), ["out-of-range"]);
        // Some replicas of a distribution may start in time: only one that none can is refused.
        let some = "{requests: 3, start_at: {uniform: [1s, 3s]}}";
        assert_eq!(codes(some, CHECKED, "pass"), Vec::<String>::new());
        let none = "{requests: 3, start_at: {uniform: [2s, 3s]}}";
        assert_eq!(codes(none, CHECKED, "pass"), ["out-of-range"]);
        let exponential = "{requests: 3, start_at: {exponential: 5s}}";
        assert_eq!(codes(exponential, CHECKED, "pass"), Vec::<String>::new());
    }

    #[test]
    fn a_subscriber_joins_and_leaves_before_the_end_of_the_safety_phase() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good");
        let codes = |subscriber: &str| -> Vec<String> {
            let text = format!(
                "name: t\ntopology: pubsub.yaml\nduration: 2s\nworkload:\n  \
                 publisher: {{publishes: 10}}\n  subscriber: {subscriber}\n\
                 invariants: [subscription_delivery]\nexpect: pass\n"
            );
            let loaded = load_scenario_source(
                &SourceFile::new(dir.join("t.yaml"), text),
                &Registry::builtin(),
            );
            loaded.diagnostics.iter().map(|d| d.code.to_string()).collect()
        };
        let none = Vec::<String>::new();
        assert_eq!(codes("{join_at: 1998ms, leave_at: 1999ms}"), none);
        // Leaving no later than joining receives nothing.
        assert_eq!(codes("{join_at: 1999ms, leave_at: 1999ms}"), ["out-of-range"]);
        assert_eq!(codes("{join_at: 1s, leave_at: 500ms}"), ["out-of-range"]);
        assert_eq!(
            codes("{join_at: {uniform: [1s, 1500ms]}, leave_at: {uniform: [0s, 1s]}}"),
            ["out-of-range"]
        );
        // Ranges that overlap may draw a leave after the join.
        assert_eq!(
            codes("{join_at: {uniform: [1s, 1500ms]}, leave_at: {uniform: [0s, 1001ms]}}"),
            none
        );
        assert_eq!(codes("{join_at: 2s}"), ["out-of-range"]);
        assert_eq!(codes("{leave_at: 2s}"), ["out-of-range"]);
        assert_eq!(codes("{join_at: 3s, leave_at: 4s}"), ["out-of-range", "out-of-range"]);
        // As for `start_at`, only a time no replica can draw earlier is refused.
        assert_eq!(codes("{join_at: {uniform: [1s, 3s]}, leave_at: {uniform: [1s, 3s]}}"), none);
        assert_eq!(codes("{leave_at: {uniform: [2s, 3s]}}"), ["out-of-range"]);
        assert_eq!(codes("{leave_at: {exponential: 5s}}"), none);
    }

    #[test]
    fn a_scenario_that_expects_to_pass_checks_something() {
        let work = "{requests: 3}";
        assert_eq!(codes(work, "invariants: []\n", "pass"), ["empty"]);
        assert_eq!(codes(work, "", "pass"), ["missing-field"]);
        // A drop count is something to check.
        assert_eq!(codes(work, "", "{drops: {hwm: 0}}"), Vec::<String>::new());
        assert_eq!(codes(work, CHECKED, "pass"), Vec::<String>::new());
    }
}
