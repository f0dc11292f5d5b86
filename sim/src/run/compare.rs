//! What `cargo xtask compare` measures of a request-reply run, read from its trace:
//! requests served, throughput, latency percentiles and messages per request.
//!
//! Like the invariants, these read the finished trace and nothing else, so a
//! simulated run and a real one are measured the same way (in simulated and in real
//! time respectively).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Backend, RunReport};
use crate::trace::{AppEvent, EventKind, MsgId, Trace};

/// The figures of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Replies accepted (each request counted once).
    pub served: u64,
    /// Requests issued.
    pub issued: u64,
    /// From the first request to the last reply accepted.
    pub span: Duration,
    /// Latencies from `RequestIssued` to `ReplyAccepted`, sorted.
    pub latencies: Vec<Duration>,
    /// Messages every node handed to its sockets (requests, replies, jobs, results,
    /// readies, heartbeats, device copies).
    pub sends: u64,
}

impl Metrics {
    pub fn of(trace: &Trace) -> Metrics {
        let mut issued: BTreeMap<MsgId, Duration> = BTreeMap::new();
        let mut m = Metrics::default();
        let mut first = None;
        let mut last = Duration::ZERO;
        for e in &trace.events {
            match &e.kind {
                EventKind::Send { .. } => m.sends += 1,
                EventKind::App(AppEvent::RequestIssued { id }) => {
                    issued.entry(*id).or_insert(e.at);
                    first.get_or_insert(e.at);
                }
                EventKind::App(AppEvent::ReplyAccepted { id }) => {
                    if let Some(at) = issued.remove(id) {
                        m.latencies.push(e.at.saturating_sub(at));
                        m.served += 1;
                        last = e.at;
                    }
                }
                _ => {}
            }
        }
        m.issued = m.served + issued.len() as u64;
        m.span = last.saturating_sub(first.unwrap_or_default());
        m.latencies.sort();
        m
    }

    /// Adds another run's figures (several seeds of one design).
    pub fn merge(&mut self, other: Metrics) {
        self.served += other.served;
        self.issued += other.issued;
        self.span += other.span;
        self.sends += other.sends;
        self.latencies.extend(other.latencies);
        self.latencies.sort();
    }

    /// Replies per second of the runs' busy spans.
    pub fn throughput(&self) -> f64 {
        if self.span.is_zero() { 0.0 } else { self.served as f64 / self.span.as_secs_f64() }
    }

    /// The latency at quantile `q` (0..=1), nearest rank; `None` with nothing served.
    pub fn latency(&self, q: f64) -> Option<Duration> {
        let n = self.latencies.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        Some(self.latencies[rank - 1])
    }

    /// Network messages per reply accepted; `None` with nothing served.
    pub fn messages_per_request(&self) -> Option<f64> {
        (self.served > 0).then(|| self.sends as f64 / self.served as f64)
    }
}

/// One design's line of the comparison: its runs' figures and verdicts.
#[derive(Clone, Debug)]
pub struct Row {
    pub design: String,
    pub backend: Backend,
    pub runs: usize,
    pub metrics: Metrics,
    /// Each invariant with how many runs gave each verdict.
    pub verdicts: Vec<(String, BTreeMap<String, usize>)>,
    /// Runs that could not run, with why.
    pub errors: Vec<String>,
}

impl Row {
    /// Sums the runs of one design (their traces must have been kept).
    pub fn of(design: &str, backend: Backend, reports: &[RunReport]) -> Row {
        let mut metrics = Metrics::default();
        let mut verdicts: Vec<(String, BTreeMap<String, usize>)> = Vec::new();
        let mut errors = Vec::new();
        for r in reports {
            if let Some(e) = &r.error {
                errors.push(format!("seed {}: {e}", r.seed));
            }
            if let Some(trace) = &r.trace {
                metrics.merge(Metrics::of(trace));
            }
            for o in &r.invariants {
                let at = match verdicts.iter().position(|(n, _)| n == o.name) {
                    Some(i) => i,
                    None => {
                        verdicts.push((o.name.to_owned(), BTreeMap::new()));
                        verdicts.len() - 1
                    }
                };
                *verdicts[at].1.entry(o.verdict.to_string()).or_default() += 1;
            }
        }
        Row { design: design.to_owned(), backend, runs: reports.len(), metrics, verdicts, errors }
    }
}
