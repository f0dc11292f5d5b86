//! Workloads: per node, the fields its design reads, and a warning for nodes no
//! workload can reach.
//!
//! Which fields make sense depends on the group's design, so each misplaced field is
//! reported with the fields that design reads.

use std::collections::BTreeMap;

use super::dist::Quantity;
use crate::plan::WorkloadPlan;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawWorkload;
use crate::spec::suggest::did_you_mean;

use super::scenario::ScenarioResolver;

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
        WorkloadPlan {
            requests: w.requests.as_ref().and_then(|s| self.count_of(s, &path.key("requests"))),
            rate: w.rate.as_ref().and_then(|s| self.rate_of(s, &path.key("rate"))),
            start_at: dur(self, &w.start_at, "start_at"),
            size: w.size.as_ref().and_then(|d| self.dist(d, Quantity::Size, &path.key("size"))),
            service_time: dur(self, &w.service_time, "service_time"),
            publish_rate: w
                .publish_rate
                .as_ref()
                .and_then(|s| self.rate_of(s, &path.key("publish_rate"))),
            publishes: w.publishes.as_ref().and_then(|s| self.count_of(s, &path.key("publishes"))),
            join_at: dur(self, &w.join_at, "join_at"),
            leave_at: dur(self, &w.leave_at, "leave_at"),
            session: dur(self, &w.session, "session"),
            offline: dur(self, &w.offline, "offline"),
            online_fraction: w
                .online_fraction
                .map(|p| self.probability(p, &path.key("online_fraction"))),
            jobs: w.jobs.as_ref().and_then(|s| self.count_of(s, &path.key("jobs"))),
            chunks: w.chunks.as_ref().and_then(|s| self.count_of(s, &path.key("chunks"))),
        }
    }

    /// A group that no workload-bearing group can reach through the topology graph
    /// never does anything: worth a warning, not an error.
    pub(super) fn warn_unreached(
        &mut self,
        workload: &BTreeMap<crate::plan::GroupId, WorkloadPlan>,
    ) {
        if workload.is_empty() {
            self.diags
                .warning(
                    &YamlPath::root(),
                    Target::Value,
                    Code::NoWorkload,
                    "the scenario gives no node a workload, so nothing will happen",
                )
                .hint("add `workload: {client: {requests: 10}}`");
            return;
        }
        let graph = crate::graph::TopologyGraph::new(self.topology);
        let reached = graph.reachable_from(workload.keys().copied());
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
}
