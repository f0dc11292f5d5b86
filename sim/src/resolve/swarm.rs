//! `swarm`: the faults drawn at random for each seed, their kinds, targets, counts,
//! lengths, latencies and loss rates.

use super::dist::Quantity;
use crate::plan::{FaultKind, Selector, SwarmPlan};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::scalar::OneOrMany;

use super::scenario::ScenarioResolver;

/// Most faults one run may draw: a scenario's `swarm: {faults: …}` and `explore
/// --max-faults` both stop here. Simulating them is cheap (1,000 drawn over 1,000
/// replicas, 836 of them placed, ran in 0.5 s), and the bound is not about that:
/// exploration keeps a case's faults as a list that it allocates at its longest up
/// front (a count in the billions asked for 170 GB), and shrinks a finding by
/// dropping its faults one run at a time within `SHRINK_RUNS_MAX` (500) runs. At 100
/// a finding of `broken/no-resend-queue` shrank to 2 faults in 203 runs; at 300 it
/// took 493 runs, and at 1,000 the budget ran out with 7 of 19 faults left. A hundred
/// faults in one run is already a storm; a sweep wanting more variety wants more
/// seeds.
pub const DRAWN_FAULTS_MAX: u64 = 100;

/// What `faults` says when the block leaves it out: one to three per run.
const DRAWN_FAULTS_DEFAULT: (u64, u64) = (1, 3);

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
        if raw.kinds.is_empty() {
            self.diags
                .error(
                    &path.key("kinds"),
                    Target::Value,
                    Code::Empty,
                    "the swarm has no fault kind to draw",
                )
                .hint("list some, e.g. `kinds: [partition, kill]`, or remove the `swarm:` block");
        } else if !kinds.is_empty() && kinds.iter().all(|k| *k == FaultKind::Restart) {
            // `restart` brings back a killed or crashed node; alone it touches nothing,
            // which `faults_fired` reports in every run.
            self.diags
                .error(
                    &path.key("kinds"),
                    Target::Value,
                    Code::BadValue,
                    "a swarm of `restart` faults alone restarts nothing: no node is ever down",
                )
                .hint("add `kill` or `crash`, which restart their node when they end");
        }
        let targets: Vec<Selector> = raw
            .targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.selector(t, &path.key("targets").index(i)))
            .collect();
        let (faults_min, faults_max) = self.swarm_faults(raw.faults.as_ref(), &path.key("faults"));
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

    /// How many faults a run draws, `(min, max)`: a count or a range `[min, max]`,
    /// at most [`DRAWN_FAULTS_MAX`].
    fn swarm_faults(&mut self, raw: Option<&OneOrMany<u64>>, path: &YamlPath) -> (u64, u64) {
        let (min, max, max_at) = match raw {
            None => return DRAWN_FAULTS_DEFAULT,
            Some(OneOrMany::One(n)) => (*n, *n, path.clone()),
            Some(OneOrMany::Many(v)) if v.len() == 2 && v[0] <= v[1] => (v[0], v[1], path.index(1)),
            Some(OneOrMany::Many(v)) if v.len() == 2 => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::BadValue,
                        format!("`faults: [{}, {}]` has its minimum above its maximum", v[0], v[1]),
                    )
                    .hint(format!("write the smaller count first: `faults: [{}, {}]`", v[1], v[0]));
                return DRAWN_FAULTS_DEFAULT;
            }
            Some(OneOrMany::Many(_)) => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::BadValue,
                        "`faults` is a count or a range `[min, max]`",
                    )
                    .hint("for example `faults: [1, 4]`");
                return DRAWN_FAULTS_DEFAULT;
            }
        };
        if max == 0 {
            // Accepted, such a swarm changed nothing: every seed ran fault-free.
            self.diags
                .error(
                    &max_at,
                    Target::Value,
                    Code::OutOfRange,
                    "the swarm draws no fault: `faults` is at most 0",
                )
                .hint("draw at least one, e.g. `faults: [1, 4]`, or remove the `swarm:` block");
            return DRAWN_FAULTS_DEFAULT;
        }
        if max > DRAWN_FAULTS_MAX {
            self.diags
                .error(
                    &max_at,
                    Target::Value,
                    Code::OutOfRange,
                    format!("a run draws at most {DRAWN_FAULTS_MAX} faults, and `faults` asks for {max}"),
                )
                .hint(format!(
                    "give at most {DRAWN_FAULTS_MAX}, e.g. `faults: [1, 4]`; for more variety run more seeds (docs/limits.md)"
                ));
            return DRAWN_FAULTS_DEFAULT;
        }
        (min, max)
    }
}
