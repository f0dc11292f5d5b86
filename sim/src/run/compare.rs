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
use crate::spec::suggest::closest;
use crate::spec::{Diagnostics, SourceFile, Target, YamlPath, locate};
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
            .error(&YamlPath::root(), Target::Value, Code::CompareNoTopology, why)
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
/// Every problem is a diagnostic with its line and column: an unknown key at either
/// level, a side without its name or topology, an empty or repeated name (the table
/// and the report tell sides apart by name alone), a topology that cannot be read
/// (named here, relative to this file, rather than at the scenario's `topology:` line
/// it is swapped into later).
pub fn read_sides(src: &SourceFile) -> Result<(Vec<Side>, Tree), Vec<crate::spec::Diagnostic>> {
    let mut diags = Diagnostics::new(src);
    let Some(doc) = parse_tree(src, &mut diags) else { return Err(diags.into_vec()) };
    let here = src.path.parent().unwrap_or(Path::new(""));
    for (key, _) in doc.entries().iter().filter(|(k, _)| !FILE_KEYS.contains(&k.as_str())) {
        diags
            .error(
                &YamlPath::root().key(key),
                Target::Key,
                Code::CompareUnknownKey,
                format!("unknown key `{key}`"),
            )
            .hint(match closest(key, FILE_KEYS) {
                Some(known) => format!("did you mean `{known}`?"),
                None => "a compare file has `designs` (a list of {name, topology}) and optional \
                         `params`"
                    .to_owned(),
            });
    }
    let designs = match doc.get("designs") {
        Some(Tree::Seq(items)) if !items.is_empty() => items.as_slice(),
        _ => {
            diags
                .error(
                    &YamlPath::root(),
                    Target::Value,
                    Code::CompareNoDesigns,
                    "expected `designs:`, a list of sides",
                )
                .hint("e.g. `designs: [{name: mine, topology: my-broker.yaml}]`");
            &[]
        }
    };
    let mut names = Vec::new();
    let sides: Vec<Side> = designs
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_side(&mut diags, i, item, here, &mut names))
        .collect();
    let params = doc.get("params").cloned().unwrap_or_else(shared_params);
    if !matches!(params, Tree::Map(_)) {
        diags
            .error(
                &YamlPath::root().key("params"),
                Target::Value,
                Code::InvalidValue,
                "`params` is a mapping of the topologies' parameters",
            )
            .hint("e.g. `params: {clients: 4, workers: 3}`");
    }
    if diags.has_errors() { Err(diags.into_vec()) } else { Ok((sides, params)) }
}

/// The keys of a compare file.
const FILE_KEYS: &[&str] = &["designs", "params"];

/// The keys of one side. `params` is not among them: every side runs with the file's
/// one `params`, so that each design serves the same clients with the same workers
/// and the rows compare like with like. A side's own `params` was once accepted and
/// never applied; it is refused with a hint saying where parameters go.
const SIDE_KEYS: &[&str] = &["name", "topology"];

/// Side `i` of a compare file, or `None` after recording what is wrong with it.
/// `names` holds the names of the sides before it, with their indices: its own may
/// not repeat one, and is added.
fn read_side(
    diags: &mut Diagnostics<'_>,
    i: usize,
    item: &Tree,
    here: &Path,
    names: &mut Vec<(usize, String)>,
) -> Option<Side> {
    let at = YamlPath::root().key("designs").index(i);
    let Tree::Map(entries) = item else {
        bad_side(diags, &at);
        return None;
    };
    let mut sound = true;
    for (key, _) in entries.iter().filter(|(k, _)| !SIDE_KEYS.contains(&k.as_str())) {
        sound = false;
        let hint = if key == "params" {
            "every side runs with the same parameters, so that each design serves the same \
             clients with the same workers: give them once, at the top level of this file \
             (`params: {clients: 4, workers: 3}`), and every side's topology must declare them"
                .to_owned()
        } else {
            match closest(key, SIDE_KEYS) {
                Some(known) => format!("did you mean `{known}`?"),
                None => "a side has `name` and `topology`, nothing else".to_owned(),
            }
        };
        diags
            .error(
                &at.key(key),
                Target::Key,
                Code::CompareUnknownKey,
                format!("unknown key `{key}` in a side"),
            )
            .hint(hint);
    }
    let (Some(name), Some(topology)) =
        (item.get("name").and_then(Tree::as_str), item.get("topology").and_then(Tree::as_str))
    else {
        bad_side(diags, &at);
        return None;
    };
    let name = name.trim();
    if name.is_empty() {
        diags
            .error(&at.key("name"), Target::Value, Code::CompareBadSide, "a side's `name` is empty")
            .hint("name it as the table and the report should show it, e.g. `name: mine`");
        sound = false;
    } else if let Some((first, _)) = names.iter().find(|(_, n)| n == name) {
        let first_at = YamlPath::root().key("designs").index(*first).key("name");
        let line = locate(diags.source(), &first_at, Target::Value)
            .map_or_else(String::new, |l| format!(" (line {})", l.line));
        diags
            .error(
                &at.key("name"),
                Target::Value,
                Code::CompareBadSide,
                format!("the name `{name}` already names an earlier side{line}"),
            )
            .hint("give each side its own name: the table and the report tell sides apart by it");
        sound = false;
    } else {
        names.push((i, name.to_owned()));
    }
    let path = here.join(topology);
    if let Err(e) = std::fs::metadata(&path) {
        let folder = if here.as_os_str().is_empty() { Path::new(".") } else { here };
        diags
            .error(
                &at.key("topology"),
                Target::Value,
                Code::MissingFile,
                format!("the topology file `{}` cannot be read: {e}", path.display()),
            )
            .hint(format!("the path is relative to this compare file, in `{}`", folder.display()));
        sound = false;
    }
    sound.then(|| Side { name: name.to_owned(), topology: path })
}

/// Records that side `at` is not a mapping with a `name` and a `topology`.
fn bad_side(diags: &mut Diagnostics<'_>, at: &YamlPath) {
    diags
        .error(
            at,
            Target::Value,
            Code::CompareBadSide,
            "expected a side with `name` and `topology`",
        )
        .hint("e.g. `{name: mine, topology: my-broker.yaml}`, the topology relative to this file");
}
