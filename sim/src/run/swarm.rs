//! Swarm testing: faults drawn from the seed, so `cargo xtask sim --seeds 1000` on a
//! scenario with a `swarm:` block is a sweep over fault combinations nobody wrote.
//!
//! Each seed draws its own count of faults, their kinds (from the block's list),
//! start times inside the safety phase, lengths, and targets: node faults hit one
//! replica of the listed targets (every group when none are listed); link faults cut
//! between the two ends of one of the topology's connections, so they always touch
//! traffic that exists. The drawn faults are appended to the scenario's own, and the
//! run, its trace and its invariants see them like any written fault.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::plan::{Distribution, FaultKind, FaultPlan, ScenarioPlan, Selector, SwarmPlan};

/// Mixed into the run's seed so the swarm's draws are independent of turmoil's.
const SWARM_SALT: u64 = 0x5a4a_4d00_f417_5eed;

/// The scenario with this seed's drawn faults appended (the same plan when it has no
/// `swarm:` block).
pub(crate) fn with_drawn_faults(plan: &ScenarioPlan, seed: u64) -> Option<ScenarioPlan> {
    let swarm = plan.swarm.as_ref()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SWARM_SALT);
    let count = rng.random_range(swarm.faults_min..=swarm.faults_max.max(swarm.faults_min));
    let mut drawn = plan.clone();
    for _ in 0..count {
        // Two faults on one target at once would leave the second with nothing to do
        // (a killed replica cannot be killed again): redraw a few times, then give up.
        let fresh = (0..8)
            .filter_map(|_| draw(plan, swarm, &mut rng))
            .find(|f| !drawn.faults.iter().any(|g| overlaps(f, g, plan.duration)));
        drawn.faults.extend(fresh);
    }
    Some(drawn)
}

/// Whether two faults hit a common replica or link while both are active.
pub(crate) fn overlaps(a: &FaultPlan, b: &FaultPlan, duration: Duration) -> bool {
    let (a_end, b_end) = (a.until.unwrap_or(duration), b.until.unwrap_or(duration));
    let in_time = a.at <= b_end && b.at <= a_end;
    let sides = |f: &FaultPlan| -> Vec<Selector> {
        let mut all = f.nodes.clone();
        if let Some([x, y]) = &f.between {
            all.extend(x.iter().chain(y));
        }
        all
    };
    let common = sides(a).iter().any(|x| {
        sides(b).iter().any(|y| {
            x.group == y.group
                && (x.replica.is_none() || y.replica.is_none() || x.replica == y.replica)
        })
    });
    in_time && common
}

fn draw(plan: &ScenarioPlan, swarm: &SwarmPlan, rng: &mut ChaCha8Rng) -> Option<FaultPlan> {
    let kind = *swarm.kinds.get(rng.random_range(0..swarm.kinds.len().max(1)))?;
    // Start after the first second (connections are up by then) and in the first four
    // fifths of the safety phase, so every fault also ends inside it and the liveness
    // phase sees the healed system.
    let last = plan.duration.as_nanos() as u64 * 4 / 5;
    let first = 1_000_000_000u64.min(last);
    let at = Duration::from_nanos(rng.random_range(first..=last));
    let default_len =
        Distribution::Uniform { min: 1e9, max: (plan.duration.as_nanos() as f64 / 4.0).max(1e9) };
    let len =
        Duration::from_nanos(swarm.duration.unwrap_or(default_len).sample(rng).max(1e6) as u64);
    let until = Some((at + len).min(plan.duration));
    let mut fault = FaultPlan {
        kind,
        at,
        until,
        nodes: Vec::new(),
        between: None,
        oneway: false,
        latency: None,
        rate: None,
        bandwidth: None,
    };
    if kind.is_node_fault() {
        fault.nodes = vec![replica(plan, swarm, rng)?];
        if kind == FaultKind::Restart {
            fault.until = None;
        }
    } else {
        let c = plan
            .topology
            .connections
            .get(rng.random_range(0..plan.topology.connections.len().max(1)))?;
        let from = plan.topology.group(c.from_group);
        let one = Selector { group: from.id, replica: Some(rng.random_range(0..from.count)) };
        let other = Selector { group: c.to.group, replica: c.to.replica };
        fault.between = Some([vec![one], vec![other]]);
        fault.oneway = kind == FaultKind::Partition && rng.random_bool(0.25);
        match kind {
            FaultKind::Latency => {
                let range = Distribution::Uniform { min: 10e6, max: 500e6 };
                fault.latency =
                    Some(Distribution::Fixed(swarm.latency.unwrap_or(range).sample(rng)));
            }
            FaultKind::Loss => {
                let (lo, hi) = swarm.loss.unwrap_or((0.01, 0.2));
                fault.rate = Some(if hi > lo { rng.random_range(lo..hi) } else { lo });
            }
            FaultKind::Bandwidth => {
                // A power of two from a slow modem's 8 KiB/s to 8 MiB/s, so slow
                // links are drawn as often as fast ones.
                fault.bandwidth = Some((1u64 << rng.random_range(13u32..=23)) as f64);
            }
            _ => {}
        }
    }
    Some(fault)
}

/// One replica of the swarm's targets (every group when it names none).
fn replica(plan: &ScenarioPlan, swarm: &SwarmPlan, rng: &mut ChaCha8Rng) -> Option<Selector> {
    let all: Vec<Selector> =
        plan.topology.groups.iter().map(|g| Selector { group: g.id, replica: None }).collect();
    let targets = if swarm.targets.is_empty() { &all } else { &swarm.targets };
    let target = targets.get(rng.random_range(0..targets.len().max(1)))?;
    let count = plan.topology.group(target.group).count;
    Some(Selector {
        group: target.group,
        replica: Some(target.replica.unwrap_or_else(|| rng.random_range(0..count))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn queue_swarm() -> ScenarioPlan {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/queue-swarm.yaml");
        let loaded = crate::resolve::load_scenario(&path, &Registry::builtin());
        loaded.plan.expect("the shipped swarm scenario resolves")
    }

    #[test]
    fn a_seed_draws_the_same_faults_every_time_and_seeds_differ() {
        let plan = queue_swarm();
        let draw = |seed| with_drawn_faults(&plan, seed).expect("a swarm block").faults;
        assert_eq!(draw(7), draw(7));
        assert!((1..20).any(|s| draw(s) != draw(s + 1)), "every seed drew the same faults");
    }

    #[test]
    fn drawn_faults_stay_in_range_and_never_share_a_target_at_once() {
        let plan = queue_swarm();
        let swarm = plan.swarm.clone().expect("a swarm block");
        for seed in 0..200 {
            let faults = with_drawn_faults(&plan, seed).expect("a swarm block").faults;
            let drawn = &faults[plan.faults.len()..];
            assert!(drawn.len() as u64 <= swarm.faults_max, "seed {seed}: {drawn:?}");
            for (i, f) in drawn.iter().enumerate() {
                assert!(swarm.kinds.contains(&f.kind), "seed {seed}: {f:?}");
                assert!(f.at <= plan.duration && f.until.is_none_or(|u| u <= plan.duration));
                assert_eq!(f.kind.is_node_fault(), f.between.is_none(), "seed {seed}: {f:?}");
                for g in &drawn[..i] {
                    assert!(!overlaps(f, g, plan.duration), "seed {seed}: {f:?} overlaps {g:?}");
                }
            }
        }
    }

    #[test]
    fn a_drawn_bandwidth_fault_carries_a_limit_in_range() {
        let mut plan = queue_swarm();
        plan.swarm.as_mut().expect("a swarm block").kinds = vec![FaultKind::Bandwidth];
        let drawn: Vec<FaultPlan> = (0..50)
            .flat_map(|seed| with_drawn_faults(&plan, seed).expect("drawn").faults)
            .collect();
        assert!(drawn.iter().any(|f| f.kind == FaultKind::Bandwidth), "none drawn");
        for f in drawn.iter().filter(|f| f.kind == FaultKind::Bandwidth) {
            let limit = f.bandwidth.expect("a bandwidth fault has a limit");
            assert!((8192.0..=8.0 * 1024.0 * 1024.0).contains(&limit), "{limit}");
        }
    }

    #[test]
    fn a_scenario_without_a_swarm_block_draws_nothing() {
        let mut plan = queue_swarm();
        plan.swarm = None;
        assert!(with_drawn_faults(&plan, 1).is_none());
    }
}
