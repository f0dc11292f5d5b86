//! A `sim` or `real` report from a sweep: verdicts per invariant, figures, failures
//! drawn.
//!
//! A simulated sweep keeps no traces: each run is measured as it finishes
//! ([`Measurements`]) and its trace let go. Each failing invariant is drawn from the
//! failing seed with the fewest events (then the lowest seed). A sweep that hands its
//! failing runs to [`Measurements::draw_failures`] while their traces are still held
//! has them drawn then, from the compact trace, and keeps only the diagram of the
//! best seed so far; otherwise that seed is run again with its trace kept
//! (simulated runs are deterministic, so it fails the same way). A real run is not,
//! so a real sweep (small) keeps the traces of its failing runs and they are drawn as
//! they were.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::metrics::{Accumulator, Metrics};
use super::{
    EXPECT_FAIL_IN_ANY, Failure, Kind, Report, Section, Table, Topology, VerdictRow, seqdiag,
};
use crate::invariant::{Verdict, Violation};
use crate::plan::{Expect, ExpectIn, ScenarioPlan};
use crate::registry::Registry;
use crate::run::json::to_json;
use crate::run::{Invocation, KeepTrace, RunReport, run_seed, swarm};
use crate::trace::Trace;

/// Failing seeds a verdict row lists with their repro; the rest are counted.
pub const FAILURES_LISTED: usize = 20;

/// Each scenario's measurements, filled from any thread as runs finish.
#[derive(Debug, Default)]
pub struct Measurements {
    by_file: Mutex<BTreeMap<PathBuf, Accumulator>>,
    /// Per scenario file and invariant (its index in the plan), the diagram of the
    /// failing run with the fewest events so far, then the lowest seed: the run a
    /// section draws.
    drawn: Mutex<BTreeMap<(PathBuf, usize), Drawn>>,
}

/// A failure drawn as its run finished, with what ranks it against other seeds.
#[derive(Debug)]
struct Drawn {
    events: usize,
    seed: u64,
    diagram: seqdiag::SeqDiagram,
}

impl Measurements {
    /// Measures one run's trace of `plan` and merges it in.
    pub fn add(&self, plan: &ScenarioPlan, trace: &Trace) {
        let mut one = Accumulator::for_plan(plan);
        one.add_trace(trace, plan);
        let mut all = self.by_file.lock().expect("no panics while held");
        match all.get_mut(&plan.file) {
            Some(acc) => acc.merge(one),
            None => {
                all.insert(plan.file.clone(), one);
            }
        }
    }

    /// Draws each invariant `run` failed from its trace (kept compact), if `run` has
    /// fewer events (then a lower seed) than any failing run of that invariant drawn
    /// so far. Called as each run finishes, while its trace is held anyway, so the
    /// report needs no run again and holds no trace: only one diagram per failing
    /// invariant. A run without a trace is skipped (its section runs it again).
    pub fn draw_failures(&self, plan: &ScenarioPlan, run: &RunReport) {
        let Some(trace) = &run.trace else { return };
        for (i, outcome) in run.invariants.iter().enumerate() {
            let Some(violation) = outcome.violations.first() else { continue };
            if outcome.verdict != Verdict::Fail {
                continue;
            }
            let key = (plan.file.clone(), i);
            let better = |d: &Drawn| (run.events, run.seed) < (d.events, d.seed);
            if !self.drawn.lock().expect("no panics while held").get(&key).is_none_or(better) {
                continue;
            }
            // Cut outside the lock: runs on other threads go on meanwhile.
            let diagram = draw_from(plan, trace, run, outcome.name, violation, run.repro());
            let mut drawn = self.drawn.lock().expect("no panics while held");
            if drawn.get(&key).is_none_or(better) {
                drawn.insert(key, Drawn { events: run.events, seed: run.seed, diagram });
            }
        }
    }

    /// The diagrams [`Measurements::draw_failures`] kept for `plan`, by invariant
    /// index, with the seed each was drawn from.
    fn diagrams_of(&self, plan: &ScenarioPlan) -> BTreeMap<usize, (u64, seqdiag::SeqDiagram)> {
        let mut all = self.drawn.lock().expect("no panics while held");
        let keys: Vec<(PathBuf, usize)> =
            all.keys().filter(|(file, _)| *file == plan.file).cloned().collect();
        keys.into_iter()
            .filter_map(|k| all.remove(&k).map(|d| (k.1, (d.seed, d.diagram))))
            .collect()
    }

    /// `plan`'s measurements so far as data, for a shard's report (see
    /// `report/merge.rs`).
    pub fn raw_of(&self, plan: &ScenarioPlan) -> super::metrics::RawMeasurements {
        let all = self.by_file.lock().expect("no panics while held");
        all.get(&plan.file)
            .map_or_else(|| Accumulator::for_plan(plan).to_raw(), Accumulator::to_raw)
    }

    /// The finished figures of `plan` (empty ones if nothing of it was measured).
    pub(crate) fn metrics_of(&self, plan: &ScenarioPlan) -> Metrics {
        let acc = self.by_file.lock().expect("no panics while held").remove(&plan.file);
        acc.unwrap_or_else(|| Accumulator::for_plan(plan)).finish()
    }
}

/// The whole report of a simulated sweep: one section per scenario, in the order given.
pub fn sim_report(
    command: Invocation,
    plans: &[ScenarioPlan],
    registry: &Registry,
    reports: &[RunReport],
    measured: &Measurements,
) -> Report {
    sweep_report(Kind::Sim, command, plans, registry, reports, measured)
}

/// The whole report of a sweep over the real network. `plans` are the plans as run
/// (scaled by the time scale), so faults and time axes are drawn where they
/// happened; failing runs must carry their traces. `skipped` names the scenarios
/// that were not run, with why.
pub fn real_report(
    command: Invocation,
    plans: &[ScenarioPlan],
    registry: &Registry,
    reports: &[RunReport],
    measured: &Measurements,
    skipped: &[(String, String)],
) -> Report {
    let mut report = sweep_report(Kind::Real, command, plans, registry, reports, measured);
    report.notes.push(
        "Real TCP on 127.0.0.1 in real time: runs are not deterministic, so a verdict that differs from `expect` is a difference, not a failure, and each failure is drawn from the trace of the run that showed it."
            .to_owned(),
    );
    if !skipped.is_empty() {
        report.tables.push(Table {
            title: "Skipped: these scenarios need simulated time".to_owned(),
            columns: vec!["scenario".to_owned(), "reason".to_owned()],
            rows: skipped.iter().map(|(name, why)| vec![name.clone(), why.clone()]).collect(),
        });
    }
    report
}

fn sweep_report(
    kind: Kind,
    command: Invocation,
    plans: &[ScenarioPlan],
    registry: &Registry,
    reports: &[RunReport],
    measured: &Measurements,
) -> Report {
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    let title = match names.len() {
        0..=4 => format!("patchbay {}: {}", kind.name(), names.join(", ")),
        n => format!("patchbay {}: {} and {} more", kind.name(), names[..3].join(", "), n - 3),
    };
    let tool = command.tool.as_str();
    let mut report = Report::new(kind, title, command.line.clone());
    let good = reports.iter().filter(|r| r.as_expected).count();
    report.notes.push(format!(
        "{} run(s) of {} scenario(s); {good} ended as their scenario expects.",
        reports.len(),
        plans.len()
    ));
    for plan in plans {
        let runs: Vec<&RunReport> = reports.iter().filter(|r| r.file == plan.file).collect();
        let metrics = measured.metrics_of(plan);
        let drawn = measured.diagrams_of(plan);
        report.sections.push(section_drawn(plan, registry, &runs, metrics, drawn, tool));
    }
    report.runs = run_rows(reports, tool);
    report
}

/// The JSON rows of `reports`, as `run::json` writes them, with each repro through
/// `tool`.
pub(crate) fn run_rows(reports: &[RunReport], tool: &str) -> Vec<serde_json::Value> {
    let mut rows = match to_json(reports).get_mut("runs").map(std::mem::take) {
        Some(serde_json::Value::Array(rows)) => rows,
        _ => Vec::new(),
    };
    for (row, r) in rows.iter_mut().zip(reports) {
        if let Some(repro) = row.get_mut("repro") {
            *repro = serde_json::Value::from(r.repro_in(tool));
        }
    }
    rows
}

/// One scenario's section from its runs and figures, drawing each failing invariant;
/// repro lines go through `tool`.
pub fn section(
    plan: &ScenarioPlan,
    registry: &Registry,
    runs: &[&RunReport],
    metrics: Metrics,
    tool: &str,
) -> Section {
    section_drawn(plan, registry, runs, metrics, BTreeMap::new(), tool)
}

/// [`section`], taking each failing invariant's diagram from `drawn` (by invariant
/// index, with the seed it was drawn from) when it is of the seed to draw.
fn section_drawn(
    plan: &ScenarioPlan,
    registry: &Registry,
    runs: &[&RunReport],
    metrics: Metrics,
    mut drawn: BTreeMap<usize, (u64, seqdiag::SeqDiagram)>,
    tool: &str,
) -> Section {
    let mut section = verdict_section(plan, runs, tool);
    let mut runs = runs.to_vec();
    runs.sort_by_key(|r| r.seed);
    for i in 0..plan.invariants.len() {
        let shortest = runs
            .iter()
            .filter(|r| r.invariants.get(i).is_some_and(|o| o.verdict == Verdict::Fail))
            .min_by_key(|r| (r.events, r.seed));
        let Some(run) = shortest else { continue };
        let diagram = match drawn.remove(&i) {
            Some((seed, mut diagram)) if seed == run.seed => {
                diagram.repro = run.repro_in(tool);
                Some(diagram)
            }
            _ => draw(plan, registry, run, i, tool),
        };
        section.sequences.extend(diagram);
    }
    section.metrics = metrics;
    section
}

/// One scenario's section with its verdicts counted but no figures and nothing
/// drawn: what the verdict table (`report::table`) needs, cheap enough for a test.
pub(crate) fn verdict_section(plan: &ScenarioPlan, runs: &[&RunReport], tool: &str) -> Section {
    let mut runs = runs.to_vec();
    runs.sort_by_key(|r| r.seed);
    let verdicts: Vec<VerdictRow> =
        (0..plan.invariants.len()).map(|i| verdict_row(plan, &runs, i, tool)).collect();
    Section {
        name: plan.name.clone(),
        design: None,
        file: plan.file.display().to_string(),
        topology: plan.topology.name.clone(),
        expected: plan.expect_text(),
        seeds: runs.len() as u64,
        as_expected: runs.iter().filter(|r| r.as_expected).count() as u64,
        // A shard may hold no run of a scenario: nothing to judge, and no verdict.
        sweep_as_expected: (!runs.is_empty()).then(|| crate::run::sweep_as_expected(plan, &runs)),
        shown_expected: (plan.expect_bounds.seeds == ExpectIn::Any)
            .then(|| runs.iter().filter(|r| r.shows_expected).count() as u64),
        errors: runs.iter().filter(|r| r.error.is_some()).count() as u64,
        graph: Topology::of(&plan.topology),
        verdicts,
        sequences: Vec::new(),
        metrics: Metrics::default(),
        requests: None,
    }
}

fn verdict_row(plan: &ScenarioPlan, runs: &[&RunReport], i: usize, tool: &str) -> VerdictRow {
    let name = plan.invariants[i].name;
    let expected = match &plan.expect {
        Expect::Violated(names) if names.iter().any(|n| n == name) => {
            if plan.expect_bounds.seeds == ExpectIn::Any { EXPECT_FAIL_IN_ANY } else { "fail" }
        }
        _ => "pass",
    };
    let mut row = VerdictRow {
        invariant: name.to_owned(),
        expected: expected.to_owned(),
        pass: 0,
        fail: 0,
        unknown: 0,
        failures: Vec::new(),
        more_failures: 0,
        unknown_note: None,
    };
    for r in runs {
        let Some(o) = r.invariants.get(i) else { continue };
        match o.verdict {
            Verdict::Pass => row.pass += 1,
            Verdict::Unknown => {
                row.unknown += 1;
                if row.unknown_note.is_none() {
                    row.unknown_note = o.note.clone();
                }
            }
            Verdict::Fail => {
                row.fail += 1;
                if row.failures.len() < FAILURES_LISTED {
                    row.failures.push(Failure {
                        seed: r.seed,
                        events: r.events as u64,
                        first: o.violations.first().map(|v| v.text.clone()).unwrap_or_default(),
                        note: o.note.clone(),
                        repro: r.repro_in(tool),
                    });
                } else {
                    row.more_failures += 1;
                }
            }
        }
    }
    row
}

/// Draws invariant `i`'s first violation in `run`: from its trace if it kept one,
/// else by running its seed again in the simulator (its trace kept compact: the
/// diagram streams it). `None` if a run again does not
/// fail (which `--check-determinism` would flag).
fn draw(
    plan: &ScenarioPlan,
    registry: &Registry,
    run: &RunReport,
    i: usize,
    tool: &str,
) -> Option<seqdiag::SeqDiagram> {
    let again;
    let (shown, trace) = match &run.trace {
        Some(trace) => (run, trace),
        None => {
            again = run_seed(plan, registry, run.seed, KeepTrace::Compact);
            (&again, again.trace.as_ref()?)
        }
    };
    let outcome = shown.invariants.get(i)?;
    let violation = outcome.violations.first()?;
    Some(draw_from(plan, trace, run, outcome.name, violation, shown.repro_in(tool)))
}

/// Draws `violation` of `invariant` in `run`'s `trace`.
fn draw_from(
    plan: &ScenarioPlan,
    trace: &Trace,
    run: &RunReport,
    invariant: &str,
    violation: &Violation,
    repro: String,
) -> seqdiag::SeqDiagram {
    // Drawn faults join the plan for that seed; fault labels need them.
    let drawn = swarm::with_drawn_faults(plan, run.seed);
    let seen = drawn.as_ref().unwrap_or(plan);
    seqdiag::build(seen, trace, invariant, violation, run.seed, repro)
}
