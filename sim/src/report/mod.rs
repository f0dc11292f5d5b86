//! Reports: one self-contained HTML page and its JSON twin for every run of the tools.
//!
//! The [`Report`] model holds every figure a page shows (the topology drawing, the
//! verdict table, sequence diagrams of failures, latency, throughput, queue depth and
//! drops), so the page is a pure function of the JSON: `cargo xtask report FILE.json`
//! renders a CI artifact again, byte for byte. `sim`, `explore`, `real` and `compare`
//! all fill the same model; `kind` says which, and `compare` draws its sections (one
//! per design) side by side on shared axes.
//!
//! - `metrics.rs` measures one trace and merges the measurements of many seeds into
//!   bounded figures (an HDR histogram for latency percentiles to 3 significant
//!   digits, a log-bucketed one for its chart, fixed time buckets).
//! - `seqdiag.rs` cuts a window of a failing trace into a message-sequence diagram.
//! - `sweep.rs` builds a `sim` or `real` report from a sweep, drawing each failure
//!   from its kept trace or, in the simulator, by running its seed again.
//! - `compare.rs` builds a `compare` report: one section per design and backend.
//! - `finding.rs` builds an `explore` report: the search, then the shrunk case.
//! - `topology.rs` keeps the topology as data, drawn when the page is rendered.
//! - `html.rs` renders the page, with `chart.rs` and `seqsvg.rs` drawing the SVG.
//! - `merge.rs` merges shards' reports (`--shard K/N`) into the unsharded one.
//! - `files.rs` writes the pair under `reports/`, never over a file someone else made.

mod chart;
pub mod compare;
mod files;
pub mod finding;
pub mod html;
pub mod merge;
pub mod metrics;
pub mod seqdiag;
mod seqsvg;
pub mod sweep;
pub mod table;
pub mod topology;

use serde::{Deserialize, Serialize};

pub use files::{
    ReadError, Written, check_dir, check_page_path, check_pair_path, is_ours, now_utc, read, write,
    write_html, write_pair,
};
pub use metrics::{Accumulator, Metrics};
pub use seqdiag::SeqDiagram;
pub use topology::Topology;

/// The value of every report's `generator` field (and the page's `<meta
/// name="generator">`): how patchbay recognises a file it may replace.
pub const GENERATOR: &str = "patchbay";

/// The JSON layout's version; a reader refuses a layout it does not know.
pub const FORMAT: u32 = 1;

/// Which command made a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Sim,
    Explore,
    Real,
    Compare,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sim => "sim",
            Kind::Explore => "explore",
            Kind::Real => "real",
            Kind::Compare => "compare",
        }
    }
}

/// A whole report: what ran, and one section per scenario (or per design compared).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`GENERATOR`].
    pub generator: String,
    /// Always [`FORMAT`] when written by this version.
    pub format: u32,
    pub kind: Kind,
    pub title: String,
    /// The command line that produced it, as the user would type it again.
    pub command: String,
    /// When it was made (UTC, as text). Data like any other: the page shows it and
    /// never reads a clock itself.
    pub created: String,
    /// Lines for the top of the page: totals, and anything the tool wants said.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Small tables for the top of the page: an exploration's search, the scenarios a
    /// real sweep skipped. Text cells: each tool says what its figures are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    pub sections: Vec<Section>,
    /// One row per run, as `run::json` writes them, for tools reading the JSON. The
    /// page does not draw them one by one; the sections summarise them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<serde_json::Value>,
    /// In a shard's report (`--shard K/N`): which shard it is and what merging the
    /// shards needs (`merge.rs`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<merge::ShardNote>,
    /// Files kept beside the report, linked from the page: a real run's external
    /// programs' output, one file per incarnation and stream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileLink>,
}

/// A file kept beside a report, linked from its page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileLink {
    /// What the link says (the file's name).
    pub label: String,
    /// Where it points, relative to the page: `<report>-files/<name>`, so the page
    /// and its folder can be moved together (and `latest.html` beside them works).
    pub href: String,
}

impl Report {
    /// An empty report of `kind`, to be filled by the tool.
    pub fn new(kind: Kind, title: impl Into<String>, command: impl Into<String>) -> Report {
        Report {
            generator: GENERATOR.to_owned(),
            format: FORMAT,
            kind,
            title: title.into(),
            command: command.into(),
            created: String::new(),
            notes: Vec::new(),
            tables: Vec::new(),
            sections: Vec::new(),
            runs: Vec::new(),
            shard: None,
            files: Vec::new(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report always serialises");
        text.push('\n');
        text
    }

    /// The page, a pure function of the report.
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}

/// A titled table of text, drawn near the top of the page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    /// Each row has one cell per column.
    pub rows: Vec<Vec<String>>,
}

/// One scenario's figures over every seed it ran (for `compare`, one design's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub name: String,
    /// For `compare`: the design this section stands for, the label on shared axes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<String>,
    pub file: String,
    pub topology: String,
    /// What the scenario expects, as `cargo xtask sim` prints it.
    pub expected: String,
    pub seeds: u64,
    /// Seeds that ended as the scenario expects.
    pub as_expected: u64,
    /// Whether the sweep as a whole ended as expected: with `expect: {in: any}` one
    /// seed must show the outcome, which the per-seed count cannot say. Absent in
    /// reports from before `in: any`, which are judged from the counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_as_expected: Option<bool>,
    /// With `expect: {in: any}`, the seeds that show the expected outcome themselves
    /// (counts included); absent for other scenarios and older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_expected: Option<u64>,
    /// Seeds that could not run at all.
    pub errors: u64,
    /// The topology as groups and connects; the page draws it at render time, so no
    /// markup is ever taken from a JSON. Absent (and not drawn) in reports from before
    /// it was kept as data, whose `graph_svg` is ignored.
    #[serde(default)]
    pub graph: Topology,
    pub verdicts: Vec<VerdictRow>,
    /// One diagram per failing invariant: its shortest failing seed, around the
    /// violation.
    pub sequences: Vec<SeqDiagram>,
    pub metrics: Metrics,
    /// For `compare`: the request-reply figures `run::compare` measures, as integers
    /// so the page computes the same rates the terminal prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Requests>,
}

/// A design's requests over its runs (`run::compare::Metrics`, summed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    pub issued: u64,
    /// Replies accepted.
    pub served: u64,
    /// Messages every node handed to its sockets, heartbeats and readies included.
    pub sends: u64,
    /// From each run's first request to its last reply accepted, summed over runs:
    /// throughput is `served` over this.
    pub busy_us: u64,
}

/// One invariant across seeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRow {
    pub invariant: String,
    /// `pass` or `fail`: what the scenario expects of this invariant.
    pub expected: String,
    pub pass: u64,
    pub fail: u64,
    pub unknown: u64,
    /// The first failing seeds (by seed), each with its repro; at most
    /// [`sweep::FAILURES_LISTED`], the rest counted in `more_failures`.
    pub failures: Vec<Failure>,
    pub more_failures: u64,
    /// Why the invariant could not judge, in the first run where it could not (its
    /// note, say `no request was issued: nothing to check`), shown beside the
    /// `unknown` count as a failure's example is beside `fail`. Absent when no run was
    /// unknown, and in reports written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_note: Option<String>,
}

impl VerdictRow {
    /// Whether the seeds gave the verdict the scenario expects of this invariant:
    /// `fail` in every seed, `fail in any seed` in at least one (the others passing),
    /// or `pass` in every seed.
    pub fn as_expected(&self) -> bool {
        match self.expected.as_str() {
            "fail" => self.pass + self.unknown == 0,
            EXPECT_FAIL_IN_ANY => self.fail > 0 && self.unknown == 0,
            _ => self.fail + self.unknown == 0,
        }
    }
}

/// A verdict row's `expected` when the scenario says `in: any`.
pub(crate) const EXPECT_FAIL_IN_ANY: &str = "fail in any seed";

impl Section {
    /// Whether the section ended as its scenario expects: every seed ran, and the
    /// sweep's own judgement (or, for older reports, every seed as expected). A
    /// section without runs (a shard's share of the sweep held none of this scenario,
    /// [`Section::ran_nothing`]) is not judged: nothing in it ended unexpectedly.
    pub fn ended_as_expected(&self) -> bool {
        self.ran_nothing()
            || self.errors == 0 && self.sweep_as_expected.unwrap_or(self.as_expected == self.seeds)
    }

    /// Whether no run of the scenario is in this report: only a shard's report can
    /// have such a section (each of its runs went to another shard), and its table
    /// says so instead of a verdict.
    pub fn ran_nothing(&self) -> bool {
        self.seeds == 0 && self.errors == 0
    }
}

/// One failing seed of one invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub seed: u64,
    pub events: u64,
    /// The first violation's sentence.
    pub first: String,
    /// The invariant's note on this seed, where it wrote one: its counts (how many
    /// tasks were lost with a killed node and how many otherwise, say), which one
    /// example cannot show. Absent in reports written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub repro: String,
}
