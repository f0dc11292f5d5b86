//! Figures measured from traces: latency, throughput, queue depth, drops.
//!
//! A sweep of 1,000 seeds cannot keep 1,000 traces, so each trace is measured as its
//! run finishes ([`Accumulator::add_trace`]) and the measurements are merged. Every
//! merge is a sum or a maximum of integers, so the result does not depend on the
//! order runs finish in, and its size does not grow with the number of seeds:
//! latencies go into an HDR histogram (the `hdrhistogram` crate) kept to
//! [`LATENCY_SIGNIFICANT_DIGITS`] significant digits, so a reported percentile is the
//! nearest-rank value the terminal prints (`run/compare.rs`) within one part in a
//! thousand; the page's bar chart draws a coarser log-bucketed histogram beside it (8
//! buckets per power of two). Time goes into [`FINE_BUCKETS`] buckets over the
//! scenario's horizon, folded to at most [`MAX_POINTS`] when finished.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram as Hdr;
use serde::{Deserialize, Serialize};

use crate::plan::{Replica, ScenarioPlan};

mod raw;
use crate::trace::{AppEvent, EventKind, MsgId, Trace};
pub use raw::RawMeasurements;

/// Time buckets over a scenario's horizon while measuring.
pub const FINE_BUCKETS: usize = 4000;
/// Points a finished time series has at most.
pub const MAX_POINTS: usize = 100;
/// Sub-buckets per power of two in the latency chart's histogram (3 bits).
const SUB_BUCKETS: u64 = 8;
/// Significant decimal digits the latency percentiles keep: a percentile is within
/// 0.1% of the exact nearest-rank value (and exact below 2,048 µs).
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// What one run's latency pairs are: the first kind of start event a trace has
/// decides, so every seed of a scenario measures the same thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pairing {
    /// `RequestIssued` to `ReplyAccepted` of the same id.
    Request,
    /// `TaskIssued` to `WorkDone`.
    Task,
    /// `Published` to every other replica's `Receive` of the message.
    Publish,
    /// A message's first `Send` to every other replica's `Receive` of it.
    Message,
}

impl Pairing {
    fn of(trace: &Trace) -> Pairing {
        let mut found = Pairing::Message;
        for e in trace.iter() {
            let EventKind::App(a) = &e.kind else { continue };
            match a {
                AppEvent::RequestIssued { .. } => return Pairing::Request,
                AppEvent::TaskIssued { .. } => found = Pairing::Task,
                AppEvent::Published { .. } if found == Pairing::Message => {
                    found = Pairing::Publish;
                }
                _ => {}
            }
        }
        found
    }

    fn describe(self) -> &'static str {
        match self {
            Pairing::Request => "request issued → reply accepted",
            Pairing::Task => "task issued → work done",
            Pairing::Publish => "published → received by each subscriber",
            Pairing::Message => "first send → received at another node",
        }
    }
}

/// A log-bucketed histogram of microseconds, for the page's bar chart (the
/// percentiles come from the finer HDR histogram, see [`Percentiles`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub count: u64,
    pub sum_us: u64,
    pub min_us: u64,
    pub max_us: u64,
    /// `(bucket, count)` for every non-empty bucket, by bucket; see [`bucket_low_us`].
    pub buckets: Vec<(u32, u64)>,
}

/// The bucket a value falls in: values below 8 have their own; above, each power of
/// two is split in `SUB_BUCKETS`.
pub fn bucket_of(us: u64) -> u32 {
    if us < SUB_BUCKETS {
        return us as u32;
    }
    let exp = 63 - u64::from(us.leading_zeros());
    let sub = (us >> (exp - 3)) & (SUB_BUCKETS - 1);
    (SUB_BUCKETS + (exp - 3) * SUB_BUCKETS + sub) as u32
}

/// The smallest value in `bucket`.
pub fn bucket_low_us(bucket: u32) -> u64 {
    let b = u64::from(bucket);
    if b < SUB_BUCKETS {
        return b;
    }
    let exp = (b - SUB_BUCKETS) / SUB_BUCKETS + 3;
    let sub = (b - SUB_BUCKETS) % SUB_BUCKETS;
    (SUB_BUCKETS + sub) << (exp - 3)
}

impl Histogram {
    fn add_all(&mut self, samples: &BTreeMap<u32, u64>, count: u64, sum: u64, min: u64, max: u64) {
        if count == 0 {
            return;
        }
        self.min_us = if self.count == 0 { min } else { self.min_us.min(min) };
        self.max_us = self.max_us.max(max);
        self.count += count;
        self.sum_us = self.sum_us.saturating_add(sum);
        let mut merged: BTreeMap<u32, u64> = self.buckets.iter().copied().collect();
        for (&b, &n) in samples {
            *merged.entry(b).or_default() += n;
        }
        self.buckets = merged.into_iter().collect();
    }

    /// The value at quantile `q` (0..=1) as far as these coarse buckets can say: the
    /// top of the bucket holding that rank, never above the largest value seen (off by
    /// up to an eighth; the reported percentiles are finer).
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for &(b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                let top = bucket_low_us(b + 1).saturating_sub(1);
                return top.min(self.max_us).max(self.min_us);
            }
        }
        self.max_us
    }
}

/// Percentiles of a latency histogram, in microseconds: nearest rank (the smallest
/// value with at least `q` of the samples at or below it), as the terminal prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Significant digits the percentiles keep ([`LATENCY_SIGNIFICANT_DIGITS`]); `0`
    /// in reports from before the HDR histogram, whose percentiles were the tops of
    /// the chart's buckets (within an eighth), which the page says.
    #[serde(default)]
    pub significant_digits: u8,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: u64,
}

/// Latency over every seed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// Which events were paired, e.g. "request issued → reply accepted".
    pub what: String,
    pub histogram: Histogram,
    pub percentiles: Percentiles,
}

/// One named line on a time axis. Integers, so the JSON reads back exactly (a
/// float may come back one unit in the last place off, and the page with it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<u64>,
}

/// Lines sharing one time axis: point `i` covers `[i, i+1) × bucket_us`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSeries {
    pub bucket_us: u64,
    pub series: Vec<Series>,
}

/// Drops of one reason over every seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCount {
    pub reason: String,
    pub total: u64,
    /// Runs with at least one drop of this reason.
    pub runs: u64,
}

/// A section's finished figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// Runs measured.
    pub runs: u64,
    /// `None` when no run had anything to pair.
    pub latency: Option<Latency>,
    /// Completions (the latency pairs' ends) and application receives in each time
    /// bucket, summed over runs (the page divides by runs and the bucket's length).
    pub throughput: TimeSeries,
    /// The deepest queue seen per socket (group/socket, over replicas, pipes and
    /// seeds) in each time bucket, from the depths enqueues and deliveries report.
    pub depth: TimeSeries,
    pub drops: Vec<DropCount>,
}

/// Measurements of any number of runs of one scenario, merged as they come.
#[derive(Clone, Debug)]
pub struct Accumulator {
    fine_ns: u64,
    runs: u64,
    what: Option<Pairing>,
    lat: BTreeMap<u32, u64>,
    /// The same samples to [`LATENCY_SIGNIFICANT_DIGITS`], for the percentiles.
    lat_hdr: Hdr<u64>,
    lat_count: u64,
    lat_sum: u64,
    lat_min: u64,
    lat_max: u64,
    completions: Vec<u64>,
    receives: Vec<u64>,
    depth: BTreeMap<String, Vec<u32>>,
    drops: BTreeMap<String, (u64, u64)>,
}

impl Accumulator {
    /// An empty accumulator whose time axis covers `horizon` (longer runs land in the
    /// last bucket).
    pub fn new(horizon: Duration) -> Accumulator {
        // Whole microseconds, so folded buckets are exact in the JSON's `bucket_us`.
        let fine_ns = (horizon.as_nanos() as u64)
            .div_ceil(FINE_BUCKETS as u64)
            .next_multiple_of(1_000)
            .max(1_000);
        Accumulator {
            fine_ns,
            runs: 0,
            what: None,
            lat: BTreeMap::new(),
            lat_hdr: Hdr::new(LATENCY_SIGNIFICANT_DIGITS).expect("3 significant digits is valid"),
            lat_count: 0,
            lat_sum: 0,
            lat_min: u64::MAX,
            lat_max: 0,
            completions: vec![0; FINE_BUCKETS],
            receives: vec![0; FINE_BUCKETS],
            depth: BTreeMap::new(),
            drops: BTreeMap::new(),
        }
    }

    /// An accumulator for a scenario: the horizon is its safety and liveness phases.
    pub fn for_plan(plan: &ScenarioPlan) -> Accumulator {
        Accumulator::new(plan.duration + plan.liveness)
    }

    fn bucket(&self, at: Duration) -> usize {
        ((at.as_nanos() as u64 / self.fine_ns) as usize).min(FINE_BUCKETS - 1)
    }

    /// Measures one run's trace.
    pub fn add_trace(&mut self, trace: &Trace, plan: &ScenarioPlan) {
        self.runs += 1;
        let pairing = Pairing::of(trace);
        if self.what.is_none() {
            self.what = Some(pairing);
        }
        let mut starts: BTreeMap<MsgId, (Duration, Option<Replica>)> = BTreeMap::new();
        let mut drops_here: BTreeMap<String, u64> = BTreeMap::new();
        for e in trace.iter() {
            let b = self.bucket(e.at);
            let mut end = None;
            match &e.kind {
                EventKind::App(a) => match (pairing, a) {
                    (Pairing::Request, AppEvent::RequestIssued { id })
                    | (Pairing::Task, AppEvent::TaskIssued { id })
                    | (Pairing::Publish, AppEvent::Published { id, .. }) => {
                        starts.entry(*id).or_insert((e.at, e.node));
                    }
                    (Pairing::Request, AppEvent::ReplyAccepted { id })
                    | (Pairing::Task, AppEvent::WorkDone { id }) => end = Some(*id),
                    _ => {}
                },
                EventKind::Send { msg } if pairing == Pairing::Message => {
                    if let Some(id) = msg.id {
                        starts.entry(id).or_insert((e.at, e.node));
                    }
                }
                EventKind::Receive { msg } => {
                    self.receives[b] += 1;
                    if matches!(pairing, Pairing::Publish | Pairing::Message) {
                        end = msg.id.filter(|id| starts.get(id).is_some_and(|s| s.1 != e.node));
                    }
                }
                EventKind::Enqueue { depth, .. } | EventKind::Deliver { depth, .. } => {
                    if let (Some(node), Some(socket)) = (e.node, e.socket) {
                        let group = plan.topology.group(node.group);
                        let name = group.sockets.get(usize::from(socket)).map_or("?", |s| &s.name);
                        let key = format!("{}/{name}", group.name);
                        let line = self.depth.entry(key).or_insert_with(|| vec![0; FINE_BUCKETS]);
                        line[b] = line[b].max(*depth);
                    }
                }
                EventKind::Drop { reason, .. } => {
                    *drops_here.entry(format!("{reason:?}")).or_default() += 1;
                }
                _ => {}
            }
            if let Some(started) = end.and_then(|id| starts.get(&id)) {
                self.completions[b] += 1;
                self.add_latency_us(e.at.saturating_sub(started.0).as_micros() as u64);
            }
        }
        for (reason, n) in drops_here {
            let entry = self.drops.entry(reason).or_default();
            entry.0 += n;
            entry.1 += 1;
        }
    }

    /// Records one latency sample.
    fn add_latency_us(&mut self, us: u64) {
        *self.lat.entry(bucket_of(us)).or_default() += 1;
        // The histogram grows to any value a u64 holds; only a resize that cannot be
        // allocated fails, and then the value is counted at the top of the range.
        if self.lat_hdr.record(us).is_err() {
            self.lat_hdr.saturating_record(us);
        }
        self.lat_count += 1;
        self.lat_sum = self.lat_sum.saturating_add(us);
        self.lat_min = self.lat_min.min(us);
        self.lat_max = self.lat_max.max(us);
    }

    /// Adds another accumulator's runs (same scenario, so the same time axis).
    pub fn merge(&mut self, other: Accumulator) {
        debug_assert_eq!(self.fine_ns, other.fine_ns, "merging different time axes");
        self.runs += other.runs;
        self.what = self.what.or(other.what);
        for (b, n) in other.lat {
            *self.lat.entry(b).or_default() += n;
        }
        // A sum of counts, so merging does not depend on the order runs finish in;
        // an auto-resizing histogram takes any other's range.
        self.lat_hdr.add(&other.lat_hdr).expect("auto-resizing histograms always merge");
        self.lat_count += other.lat_count;
        self.lat_sum = self.lat_sum.saturating_add(other.lat_sum);
        self.lat_min = self.lat_min.min(other.lat_min);
        self.lat_max = self.lat_max.max(other.lat_max);
        add_into(&mut self.completions, &other.completions);
        add_into(&mut self.receives, &other.receives);
        for (k, line) in other.depth {
            let mine = self.depth.entry(k).or_insert_with(|| vec![0; FINE_BUCKETS]);
            for (a, b) in mine.iter_mut().zip(line) {
                *a = (*a).max(b);
            }
        }
        for (reason, (total, runs)) in other.drops {
            let entry = self.drops.entry(reason).or_default();
            entry.0 += total;
            entry.1 += runs;
        }
    }

    /// The figures: percentiles, time series folded to at most [`MAX_POINTS`] and cut
    /// after the last bucket anything happened in.
    pub fn finish(self) -> Metrics {
        let latency = self.what.filter(|_| self.lat_count > 0).map(|what| {
            let mut histogram = Histogram::default();
            histogram.add_all(&self.lat, self.lat_count, self.lat_sum, self.lat_min, self.lat_max);
            // The HDR value is the top of its sub-bucket; the exact extremes bound it.
            let at = |q: f64| self.lat_hdr.value_at_quantile(q).clamp(self.lat_min, self.lat_max);
            let percentiles = Percentiles {
                significant_digits: LATENCY_SIGNIFICANT_DIGITS,
                p50_us: at(0.5),
                p90_us: at(0.9),
                p99_us: at(0.99),
                p999_us: at(0.999),
                max_us: histogram.max_us,
                mean_us: histogram.sum_us / histogram.count,
            };
            Latency { what: what.describe().to_owned(), histogram, percentiles }
        });
        let used = [&self.completions, &self.receives]
            .into_iter()
            .filter_map(|v| v.iter().rposition(|&n| n > 0))
            .chain(self.depth.values().filter_map(|v| v.iter().rposition(|&n| n > 0)))
            .max()
            .map_or(1, |last| last + 1);
        let fold = used.div_ceil(MAX_POINTS);
        let bucket_us = self.fine_ns * fold as u64 / 1_000;
        let sums = |counts: &[u64]| -> Vec<u64> {
            counts[..used].chunks(fold).map(|c| c.iter().sum()).collect()
        };
        let throughput = TimeSeries {
            bucket_us,
            series: vec![
                Series { name: "completed".to_owned(), values: sums(&self.completions) },
                Series { name: "received".to_owned(), values: sums(&self.receives) },
            ],
        };
        let depth = TimeSeries {
            bucket_us,
            series: self
                .depth
                .iter()
                .map(|(name, line)| Series {
                    name: name.clone(),
                    values: line[..used]
                        .chunks(fold)
                        .map(|c| u64::from(c.iter().copied().max().unwrap_or(0)))
                        .collect(),
                })
                .collect(),
        };
        let drops = self
            .drops
            .into_iter()
            .map(|(reason, (total, runs))| DropCount { reason, total, runs })
            .collect();
        Metrics { runs: self.runs, latency, throughput, depth, drops }
    }
}

fn add_into(into: &mut [u64], from: &[u64]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The percentiles a report states against the exact nearest-rank values of
    /// samples with known percentiles: they used to be bucket tops (p50 = 147.455 ms
    /// for any median between 131 and 147 ms).
    #[test]
    fn latency_percentiles_are_exact_to_three_significant_digits() {
        let mut acc = Accumulator::new(Duration::from_secs(1));
        acc.what = Some(Pairing::Request);
        // 1..=100_000 µs, each once, recorded in a scrambled order: the nearest-rank
        // p50 is 50_000 µs, p90 90_000, p99 99_000, p99.9 99_900.
        for i in 0..100_000u64 {
            acc.add_latency_us((i * 7_919) % 100_000 + 1);
        }
        let p = acc.finish().latency.expect("samples").percentiles;
        assert_eq!(p.significant_digits, 3);
        for (got, exact) in
            [(p.p50_us, 50_000), (p.p90_us, 90_000), (p.p99_us, 99_000), (p.p999_us, 99_900)]
        {
            // Three significant digits: within a thousandth of the value.
            assert!(got.abs_diff(exact) * 1_000 <= exact, "{got} µs for {exact} µs");
        }
        assert_eq!((p.max_us, p.mean_us), (100_000, 50_000));
    }

    /// Medians of 133 and 174 ms, as two designs in a compare had: the report tells
    /// them apart (both used to read 147.455 ms), and small values are exact.
    #[test]
    fn close_medians_are_reported_apart() {
        let median = |samples: &[u64]| {
            let mut acc = Accumulator::new(Duration::from_secs(1));
            acc.what = Some(Pairing::Request);
            for &us in samples {
                acc.add_latency_us(us);
            }
            acc.finish().latency.expect("samples").percentiles.p50_us
        };
        let a = median(&[120_000, 133_000, 133_000, 150_000, 160_000]);
        let b = median(&[140_000, 174_000, 174_000, 180_000, 190_000]);
        assert!(a.abs_diff(133_000) <= 133, "{a}");
        assert!(b.abs_diff(174_000) <= 174, "{b}");
        assert_eq!(median(&[5, 1_234, 1_234, 2_000]), 1_234);
    }

    /// Merged accumulators give the percentiles of all their samples.
    #[test]
    fn merged_percentiles_are_those_of_all_samples() {
        let mut a = Accumulator::new(Duration::from_secs(1));
        let mut b = Accumulator::new(Duration::from_secs(1));
        a.what = Some(Pairing::Request);
        for us in 1..=1_000u64 {
            a.add_latency_us(us);
            b.add_latency_us(us + 1_000);
        }
        a.merge(b);
        let p = a.finish().latency.expect("samples").percentiles;
        assert_eq!((p.p50_us, p.p99_us), (1_000, 1_980));
    }
}
