//! What `compare` measures of a request-reply run, read from its trace: requests
//! served, throughput, latency percentiles and messages per request; and how a
//! scenario is put over another design's topology ([`variant`]).
//!
//! Like the invariants, these read the finished trace and nothing else, so a
//! simulated run and a real one are measured the same way (in simulated and in real
//! time respectively).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Backend, RunReport};
use crate::plan::ScenarioPlan;
use crate::registry::Registry;
use crate::resolve::{Loaded, load_scenario_source};
use crate::spec::diag::Code;
use crate::spec::edit::{Tree, parse_tree, retarget};
use crate::spec::{Diagnostics, SourceFile, YamlPath};
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
    /// The request-reply figures of one run's trace.
    pub fn of(trace: &Trace) -> Metrics {
        let mut issued: BTreeMap<MsgId, Duration> = BTreeMap::new();
        let mut m = Metrics::default();
        let mut first = None;
        let mut last = Duration::ZERO;
        for e in trace.iter() {
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
    pub(crate) fn messages_per_request(&self) -> Option<f64> {
        (self.served > 0).then(|| self.sends as f64 / self.served as f64)
    }
}

/// One design's line of the comparison: its runs' figures and verdicts.
#[derive(Clone, Debug)]
pub struct Row {
    /// The side's name.
    pub design: String,
    /// Simulated or real.
    pub backend: Backend,
    /// Runs summed.
    pub runs: usize,
    /// Their request-reply figures, summed.
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

/// The shipped brokers `compare` knows by name, each with the topology that runs it
/// (paths from the project root). Each topology names its groups `client` and
/// `worker` and takes the parameters `clients` and `workers`, so one scenario's
/// workload and faults fit them all.
pub const SHIPPED_BROKERS: &[(&str, &str)] = &[
    ("queue-device", "topologies/queue.yaml"),
    ("rrbroker", "topologies/rrbroker-compare.yaml"),
    ("lru-broker", "topologies/lru-broker.yaml"),
    ("ppp-broker", "topologies/ppp-broker.yaml"),
];

/// Clients and workers every side gets unless a compare file says otherwise: the same
/// values for all keep the workload equal.
pub const CLIENTS: i64 = 4;
/// Workers every side gets unless a compare file says otherwise.
pub const WORKERS: i64 = 3;

/// One side of a comparison: a name and the topology that runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    /// The name the table and the report show.
    pub name: String,
    /// The topology that runs it, put under the scenario in place of its own.
    pub topology: PathBuf,
}

/// The parameters every side gets by default: `{clients: 4, workers: 3}`.
pub fn shared_params() -> Tree {
    Tree::Map(vec![("clients".into(), Tree::Int(CLIENTS)), ("workers".into(), Tree::Int(WORKERS))])
}

/// The scenario `src` resolved with `topology` in place of its own and `params` as
/// its parameters. The swap edits the YAML tree (`spec::edit`), never the text, so
/// any style of the scenario's keys is read alike. Diagnostics of the swapped
/// scenario name its file; their lines are those of the rewritten document.
pub fn variant(
    src: &SourceFile,
    topology: &Path,
    params: &Tree,
    registry: &Registry,
) -> Loaded<ScenarioPlan> {
    let mut diags = Diagnostics::new(src);
    let Some(mut doc) = parse_tree(src, &mut diags) else {
        return Loaded { plan: None, diagnostics: diags.into_vec() };
    };
    let shown = topology.display().to_string();
    if let Err(why) = retarget(&mut doc, &shown, params.clone()) {
        diags
            .error(&YamlPath::root(), crate::spec::Target::Value, Code::CompareNoTopology, why)
            .hint("compare runs a scenario file, which names its topology with `topology: FILE`");
        return Loaded { plan: None, diagnostics: diags.into_vec() };
    }
    let swapped = SourceFile::new(src.path.clone(), doc.to_yaml());
    load_scenario_source(&swapped, registry)
}

/// A compare file's sides and parameters:
///
/// ```yaml
/// designs:
///   - {name: mine, topology: my-broker.yaml}   # relative to this file
///   - {name: lru-broker, topology: ../topologies/lru-broker.yaml}
/// params: {clients: 4, workers: 3}             # optional; these are the defaults
/// ```
///
/// Every problem is a diagnostic with its line and column.
pub fn read_sides(src: &SourceFile) -> Result<(Vec<Side>, Tree), Vec<crate::spec::Diagnostic>> {
    let mut diags = Diagnostics::new(src);
    let Some(doc) = parse_tree(src, &mut diags) else { return Err(diags.into_vec()) };
    let here = src.path.parent().unwrap_or(Path::new(""));
    let mut sides = Vec::new();
    for (key, _) in doc.entries().iter().filter(|(k, _)| k != "designs" && k != "params") {
        diags
            .error(
                &YamlPath::root().key(key),
                crate::spec::Target::Key,
                Code::CompareUnknownKey,
                format!("unknown key `{key}`"),
            )
            .hint(
                "a compare file has `designs` (a list of {name, topology}) and optional `params`",
            );
    }
    let designs = match doc.get("designs") {
        Some(Tree::Seq(items)) if !items.is_empty() => items.as_slice(),
        _ => {
            diags
                .error(
                    &YamlPath::root(),
                    crate::spec::Target::Value,
                    Code::CompareNoDesigns,
                    "expected `designs:`, a list of sides",
                )
                .hint("e.g. `designs: [{name: mine, topology: my-broker.yaml}]`");
            &[]
        }
    };
    for (i, item) in designs.iter().enumerate() {
        let at = YamlPath::root().key("designs").index(i);
        match (item.get("name").and_then(Tree::as_str), item.get("topology").and_then(Tree::as_str))
        {
            (Some(name), Some(topology)) => {
                sides.push(Side { name: name.to_owned(), topology: here.join(topology) })
            }
            _ => {
                diags
                    .error(&at, crate::spec::Target::Value, Code::CompareBadSide, "expected a side with `name` and `topology`")
                    .hint("e.g. `{name: mine, topology: my-broker.yaml}`, the topology relative to this file");
            }
        }
    }
    let params = doc.get("params").cloned().unwrap_or_else(shared_params);
    if diags.has_errors() { Err(diags.into_vec()) } else { Ok((sides, params)) }
}
