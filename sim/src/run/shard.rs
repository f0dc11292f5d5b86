//! One machine's share of a sweep: `--shard K/N` (docs/sharding.md).
//!
//! Shard indices are 0-based, as Kubernetes' `JOB_COMPLETION_INDEX` and a GitHub
//! Actions matrix over `[0, 1, ...]` give them, so an engine's own index is passed
//! through untouched. The split is round-robin over the unsharded work list (item `i`
//! belongs to shard `i mod N`): it depends on nothing but that list, never on threads
//! or the machine, so the N shards run the unsharded set exactly once between them,
//! and each gets a mix of every scenario rather than a slice of one.

use std::fmt;

/// The environment variable Kubernetes sets in each pod of an Indexed Job.
pub const K8S_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// The environment variable any other engine (a GitHub Actions matrix) sets.
pub const INDEX_VAR: &str = "PATCHBAY_SHARD_INDEX";

/// Shard `index` of `count`, 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard's index, from 0.
    pub index: u64,
    /// How many shards the work is split into.
    pub count: u64,
}

impl Shard {
    /// Reads `K/N` with `N >= 1` and `K < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let hint = "takes K/N with 0 <= K < N, e.g. 0/4 (shard indices start at 0, as \
                    Kubernetes' JOB_COMPLETION_INDEX does)";
        let Some((k, n)) = text.split_once('/') else { return Err(hint.to_owned()) };
        let (Ok(index), Ok(count)) = (k.trim().parse::<u64>(), n.trim().parse::<u64>()) else {
            return Err(hint.to_owned());
        };
        Shard::new(index, count).map_err(|why| format!("{why}; {hint}"))
    }

    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("a sweep is split into at least 1 shard".to_owned());
        }
        if index >= count {
            return Err(format!("shard {index} does not exist among {count} (0 to {})", count - 1));
        }
        Ok(Shard { index, count })
    }

    /// The shard of `count` named by the environment: `JOB_COMPLETION_INDEX`
    /// (Kubernetes) or `PATCHBAY_SHARD_INDEX` (anything else). Both set to different
    /// values, neither set, or a value that is not an index of `count` is an error
    /// naming the variable.
    pub fn from_env(count: u64, get: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let read = |var: &str| -> Result<Option<u64>, String> {
            match get(var) {
                None => Ok(None),
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    format!("{var}={v:?} is not a shard index (a whole number from 0)")
                }),
            }
        };
        let (var, index) = match (read(K8S_INDEX_VAR)?, read(INDEX_VAR)?) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!("{K8S_INDEX_VAR}={a} and {INDEX_VAR}={b} disagree"));
            }
            (Some(a), _) => (K8S_INDEX_VAR, a),
            (None, Some(b)) => (INDEX_VAR, b),
            (None, None) => {
                return Err(format!(
                    "--shard-from-env reads {K8S_INDEX_VAR} (Kubernetes Indexed Jobs) or \
                     {INDEX_VAR}, and neither is set"
                ));
            }
        };
        Shard::new(index, count).map_err(|why| {
            format!("{var}={index}: {why}; --shard-from-env {count} takes an index below {count}")
        })
    }

    /// Whether item `i` of the unsharded work list is this shard's.
    pub fn owns(&self, i: u64) -> bool {
        i % self.count == self.index
    }

    /// The unsharded position of this shard's `j`-th item.
    pub fn position(&self, j: u64) -> u64 {
        j * self.count + self.index
    }

    /// How many of `total` items this shard gets.
    pub fn share_of(&self, total: u64) -> u64 {
        total / self.count + u64::from(total % self.count > self.index)
    }

    /// This shard's items of `items`, in order.
    pub fn take<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.owns(*i as u64))
            .map(|(_, t)| t)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_together_take_every_item_once_and_positions_invert_the_split() {
        for count in 1..=5u64 {
            for total in 0..=13u64 {
                let mut seen = vec![0u32; total as usize];
                for index in 0..count {
                    let shard = Shard::new(index, count).expect("a valid shard");
                    let mine = shard.take((0..total).collect());
                    assert_eq!(mine.len() as u64, shard.share_of(total), "{shard} of {total}");
                    for (j, &i) in mine.iter().enumerate() {
                        assert_eq!(shard.position(j as u64), i, "{shard}: item {j}");
                        seen[i as usize] += 1;
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "{count} shards of {total}: {seen:?}");
            }
        }
    }

    #[test]
    fn a_shard_that_does_not_exist_is_refused_with_the_form_expected() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        let err = Shard::parse("3/3").expect_err("index past the count");
        assert!(err.contains("shard 3 does not exist among 3 (0 to 2)"), "{err}");
        assert!(Shard::parse("0/0").expect_err("no shards").contains("at least 1"));
        assert!(Shard::parse("1-3").expect_err("no slash").contains("takes K/N"));
        assert!(Shard::parse("a/3").expect_err("not a number").contains("takes K/N"));
    }

    #[test]
    fn the_index_comes_from_kubernetes_or_patchbays_variable_and_they_must_agree() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(Shard::from_env(4, env(&[(K8S_INDEX_VAR, "3")])), Ok(Shard::new(3, 4).unwrap()));
        assert_eq!(Shard::from_env(4, env(&[(INDEX_VAR, "1")])), Ok(Shard::new(1, 4).unwrap()));
        let both = Shard::from_env(4, env(&[(K8S_INDEX_VAR, "1"), (INDEX_VAR, "2")]));
        assert!(both.expect_err("disagree").contains("disagree"));
        let none = Shard::from_env(4, env(&[])).expect_err("unset");
        assert!(none.contains("neither is set"), "{none}");
        let past = Shard::from_env(4, env(&[(K8S_INDEX_VAR, "4")])).expect_err("past the count");
        assert!(past.contains("JOB_COMPLETION_INDEX=4: shard 4 does not exist among 4"), "{past}");
        let past = Shard::from_env(2, env(&[(INDEX_VAR, "5")])).expect_err("past the count");
        assert!(
            past.starts_with("PATCHBAY_SHARD_INDEX=5: shard 5 does not exist among 2"),
            "{past}"
        );
        let bad = Shard::from_env(4, env(&[(INDEX_VAR, "x")])).expect_err("not a number");
        assert!(bad.contains("PATCHBAY_SHARD_INDEX=\"x\""), "{bad}");
    }
}
