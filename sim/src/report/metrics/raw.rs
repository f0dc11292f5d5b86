//! An [`Accumulator`] as data, so shards' measurements merge into the figures one
//! unsharded sweep would have (docs/sharding.md).
//!
//! Finished [`Metrics`](super::Metrics) cannot be merged exactly: percentiles do not add, and time
//! series are folded to a length that depends on what each shard saw. A shard's report
//! therefore also carries its accumulator's state: every count, sum and maximum, the
//! time buckets sparsely (index, value), and the HDR histogram as its recorded
//! buckets (each bucket's highest value with its count; recording that value again
//! lands in the same bucket, so quantiles read back exactly). Merging is then the same
//! [`Accumulator::merge`] a single sweep does, and `finish` the same code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Accumulator, FINE_BUCKETS, Hdr, LATENCY_SIGNIFICANT_DIGITS, Pairing};

/// An accumulator's whole state, in integers. Sparse lists are `(index, value)` of
/// the non-zero entries, by index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawMeasurements {
    /// Width of a fine time bucket, in nanoseconds.
    pub fine_ns: u64,
    pub runs: u64,
    /// Which events were paired (`request`, `task`, `publish`, `message`).
    pub what: Option<String>,
    /// The chart's log buckets.
    pub lat: Vec<(u32, u64)>,
    /// The HDR histogram's recorded buckets: (highest value, count).
    pub lat_hdr: Vec<(u64, u64)>,
    pub lat_count: u64,
    pub lat_sum: u64,
    pub lat_min: u64,
    pub lat_max: u64,
    pub completions: Vec<(u32, u64)>,
    pub receives: Vec<(u32, u64)>,
    pub depth: BTreeMap<String, Vec<(u32, u32)>>,
    /// Per reason: (drops, runs with one).
    pub drops: BTreeMap<String, (u64, u64)>,
}

fn pairing_name(p: Pairing) -> &'static str {
    match p {
        Pairing::Request => "request",
        Pairing::Task => "task",
        Pairing::Publish => "publish",
        Pairing::Message => "message",
    }
}

fn sparse<T: Copy + Default + PartialEq>(dense: &[T]) -> Vec<(u32, T)> {
    let zero = T::default();
    dense.iter().enumerate().filter(|(_, v)| **v != zero).map(|(i, v)| (i as u32, *v)).collect()
}

fn dense<T: Copy + Default>(list: &[(u32, T)], what: &str) -> Result<Vec<T>, String> {
    let mut out = vec![T::default(); FINE_BUCKETS];
    for &(i, v) in list {
        let slot = out.get_mut(i as usize).ok_or_else(|| {
            format!("{what}: time bucket {i} is past the last ({})", FINE_BUCKETS - 1)
        })?;
        *slot = v;
    }
    Ok(out)
}

impl Accumulator {
    /// This accumulator's state as data.
    pub fn to_raw(&self) -> RawMeasurements {
        let lat_hdr = self
            .lat_hdr
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        RawMeasurements {
            fine_ns: self.fine_ns,
            runs: self.runs,
            what: self.what.map(|p| pairing_name(p).to_owned()),
            lat: self.lat.iter().map(|(&b, &n)| (b, n)).collect(),
            lat_hdr,
            lat_count: self.lat_count,
            lat_sum: self.lat_sum,
            lat_min: self.lat_min,
            lat_max: self.lat_max,
            completions: sparse(&self.completions),
            receives: sparse(&self.receives),
            depth: self.depth.iter().map(|(k, line)| (k.clone(), sparse(line))).collect(),
            drops: self.drops.clone(),
        }
    }

    /// The accumulator `raw` describes; an error says what does not fit (an edited
    /// file).
    pub fn from_raw(raw: &RawMeasurements) -> Result<Accumulator, String> {
        if raw.fine_ns == 0 || !raw.fine_ns.is_multiple_of(1_000) {
            return Err(format!("fine_ns {} is not a positive whole microsecond", raw.fine_ns));
        }
        let what = match raw.what.as_deref() {
            None => None,
            Some(name) => Some(
                [Pairing::Request, Pairing::Task, Pairing::Publish, Pairing::Message]
                    .into_iter()
                    .find(|p| pairing_name(*p) == name)
                    .ok_or_else(|| format!("unknown pairing {name:?}"))?,
            ),
        };
        let mut lat_hdr =
            Hdr::new(LATENCY_SIGNIFICANT_DIGITS).expect("3 significant digits is valid");
        for &(value, count) in &raw.lat_hdr {
            lat_hdr.record_n(value, count).map_err(|e| format!("latency {value} µs: {e}"))?;
        }
        let mut depth = BTreeMap::new();
        for (k, line) in &raw.depth {
            depth.insert(k.clone(), dense(line, k)?);
        }
        Ok(Accumulator {
            fine_ns: raw.fine_ns,
            runs: raw.runs,
            what,
            lat: raw.lat.iter().copied().collect(),
            lat_hdr,
            lat_count: raw.lat_count,
            lat_sum: raw.lat_sum,
            lat_min: raw.lat_min,
            lat_max: raw.lat_max,
            completions: dense(&raw.completions, "completions")?,
            receives: dense(&raw.receives, "receives")?,
            depth,
            drops: raw.drops.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Two accumulators with latencies spread over three decades, completions,
    /// depths and drops.
    fn two() -> (Accumulator, Accumulator) {
        let mut a = Accumulator::new(Duration::from_secs(10));
        let mut b = Accumulator::new(Duration::from_secs(10));
        a.what = Some(Pairing::Task);
        for us in 1..=3_000u64 {
            a.add_latency_us(us * 7);
            b.add_latency_us(us * us % 977_777);
        }
        a.runs = 3;
        b.runs = 2;
        a.completions[17] = 5;
        b.completions[3999] = 2;
        b.receives[0] = 9;
        a.depth.insert("broker/front".to_owned(), vec![0; FINE_BUCKETS]);
        a.depth.get_mut("broker/front").expect("inserted")[40] = 12;
        b.drops.insert("hwm".to_owned(), (4, 1));
        (a, b)
    }

    #[test]
    fn shards_merged_from_their_raw_state_give_the_figures_of_one_sweep() {
        let (a, b) = two();
        let (ra, rb) = (a.to_raw(), b.to_raw());
        let mut whole = a;
        whole.merge(b);
        let mut again = Accumulator::from_raw(&ra).expect("a's state reads back");
        again.merge(Accumulator::from_raw(&rb).expect("b's state reads back"));
        let (want, got) = (whole.finish(), again.finish());
        assert_eq!(got, want);
        let p = got.latency.expect("latencies").percentiles;
        assert!(p.p50_us > 0 && p.p999_us > p.p50_us, "non-trivial percentiles: {p:?}");
        assert_eq!(got.runs, 5);
    }

    #[test]
    fn an_edited_raw_state_is_refused_saying_what_does_not_fit() {
        let (a, _) = two();
        let mut raw = a.to_raw();
        raw.completions.push((FINE_BUCKETS as u32, 1));
        let err = Accumulator::from_raw(&raw).expect_err("a bucket past the axis");
        assert!(err.contains("time bucket 4000 is past the last (3999)"), "{err}");
        let mut raw = a.to_raw();
        raw.what = Some("guess".to_owned());
        let err = Accumulator::from_raw(&raw).expect_err("an unknown pairing");
        assert!(err.contains("unknown pairing \"guess\""), "{err}");
        let mut raw = a.to_raw();
        raw.fine_ns = 1_500;
        assert!(Accumulator::from_raw(&raw).is_err(), "a bucket width of 1.5 µs");
    }
}
