//! Raw scenario → [`ScenarioPlan`]: the resolver's state and the order of its checks.
//!
//! The topology is resolved first (its own diagnostics name its own file); then
//! everything the scenario says is checked against it, every problem reported. The
//! checks themselves live by concern: `timing.rs`, `network.rs`, `dist.rs`,
//! `workload.rs`, `faults.rs`, `swarm.rs`, `invariants.rs`, `expect.rs`, and the
//! numbers and units they all read in `scalars.rs`.

use std::time::Duration;

use crate::plan::{FaultPlan, ScenarioPlan, TopologyPlan};
use crate::registry::Registry;
use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawScenario;

use super::timing::DEFAULT_TCP_TIMEOUT;

/// Resolves one scenario against its resolved topology; each concern of the file is
/// checked by its own file of this module (`timing.rs`, `network.rs`, `faults.rs`...).
pub(super) struct ScenarioResolver<'r, 'd, 'a> {
    pub(super) registry: &'r Registry,
    pub(super) diags: &'d mut Diagnostics<'a>,
    pub(super) topology: &'d TopologyPlan,
    /// `None` when the duration itself was wrong: everything else is still checked,
    /// only the checks against the duration are skipped.
    pub(super) duration: Option<Duration>,
}

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn resolve(mut self, raw: &RawScenario) -> Option<ScenarioPlan> {
        let root = YamlPath::root();
        // `liveness: 0` is allowed: a run with no liveness phase, whose in-flight work
        // invariants report as unknown.
        let liveness = self.liveness(&raw.liveness);
        let tcp_timeout =
            self.opt_duration(&raw.tcp_timeout, &root.key("tcp_timeout"), DEFAULT_TCP_TIMEOUT);
        let seeds = self.seeds(&raw.seeds);
        let network = self.network(raw.network.as_ref());
        let workload = self.workloads(&raw.workload);
        let faults: Vec<FaultPlan> = raw
            .faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| self.fault(f, &root.key("faults").index(i)))
            .collect();
        let swarm = raw.swarm.as_ref().and_then(|s| self.swarm(s));
        if faults.len() == raw.faults.len() {
            self.refuse_idle_restarts(&faults, swarm.as_ref(), &root.key("faults"));
            self.refuse_overlapping_downs(&faults, &root.key("faults"));
        }
        let invariants = self.invariants(raw);
        let (expect, expect_bounds) = self.expect(raw, &invariants);
        self.require_a_check(raw, &expect, &expect_bounds);
        let only_when_named = self.only_when_named(raw);
        self.warn_unreached(&workload);
        self.warn_off_tick(raw, &network, liveness, &faults);
        if self.diags.has_errors() {
            return None;
        }
        let duration = self.duration?;
        Some(ScenarioPlan {
            name: raw.name.clone().unwrap_or_else(|| self.diags.source().stem()),
            file: self.diags.source().path.clone(),
            description: raw.description.clone(),
            topology: self.topology.clone(),
            duration,
            liveness,
            seeds,
            tcp_timeout,
            network,
            workload,
            faults,
            swarm,
            invariants,
            expect,
            expect_bounds,
            only_when_named,
            end_when_idle: true,
        })
    }

    /// `only_when_named`'s reason; an empty one is an error, as a scenario left out
    /// of sweeps must say why.
    fn only_when_named(&mut self, raw: &RawScenario) -> Option<String> {
        let reason = raw.only_when_named.as_ref()?.trim();
        if reason.is_empty() {
            let path = YamlPath::root().key("only_when_named");
            self.diags
                .error(&path, Target::Value, Code::BadValue, "`only_when_named` gives no reason")
                .hint("say why sweeps leave the scenario out, e.g. `only_when_named: 1,000,000 users take minutes and gigabytes`");
            return None;
        }
        Some(reason.to_owned())
    }
}
