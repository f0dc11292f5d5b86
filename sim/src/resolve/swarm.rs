//! `swarm`: the faults drawn at random for each seed, their kinds, targets, counts,
//! lengths, latencies and loss rates.

use super::dist::Quantity;
use crate::plan::{FaultKind, Selector, SwarmPlan};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::scalar::OneOrMany;

use super::scenario::ScenarioResolver;

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn swarm(&mut self, raw: &crate::spec::raw::RawSwarm) -> Option<SwarmPlan> {
        let path = YamlPath::root().key("swarm");
        let mut kinds = Vec::new();
        for (i, k) in raw.kinds.iter().enumerate() {
            match FaultKind::from_name(k) {
                Some(kind) => kinds.push(kind),
                None => self.unknown_fault_kind(k, &path.key("kinds").index(i)),
            }
        }
        let targets: Vec<Selector> = raw
            .targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.selector(t, &path.key("targets").index(i)))
            .collect();
        let (faults_min, faults_max) = match &raw.faults {
            None => (1, 3),
            Some(OneOrMany::One(n)) => (*n, *n),
            Some(OneOrMany::Many(v)) if v.len() == 2 && v[0] <= v[1] => (v[0], v[1]),
            Some(OneOrMany::Many(_)) => {
                self.diags
                    .error(
                        &path.key("faults"),
                        Target::Value,
                        Code::BadValue,
                        "`faults` is a count or a range `[min, max]`",
                    )
                    .hint("for example `faults: [1, 4]`");
                (1, 3)
            }
        };
        let duration = raw
            .duration
            .as_ref()
            .and_then(|d| self.dist(d, Quantity::Duration, &path.key("duration")));
        let latency = raw
            .latency
            .as_ref()
            .and_then(|d| self.dist(d, Quantity::Duration, &path.key("latency")));
        let loss = match raw.loss.as_deref() {
            None => None,
            Some([a, b]) if (0.0..=1.0).contains(a) && (0.0..=1.0).contains(b) && a <= b => {
                Some((*a, *b))
            }
            Some(_) => {
                self.diags
                    .error(
                        &path.key("loss"),
                        Target::Value,
                        Code::BadValue,
                        "`loss` is a range of probabilities `[min, max]`",
                    )
                    .hint("for example `loss: [0.01, 0.2]`");
                None
            }
        };
        Some(SwarmPlan { kinds, targets, faults_min, faults_max, duration, loss, latency })
    }
}
