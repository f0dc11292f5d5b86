//! A `compare` report: one scenario's workload and faults over several designs, one
//! section per design and backend, which the page also draws side by side.
//!
//! Each section is a sweep's section (verdicts, failures drawn from the kept traces,
//! latency, throughput, depth, drops) plus the request figures `run::compare`
//! measures (served, busy span, messages sent), so the page's side-by-side table
//! shows the same throughput and messages per request as the terminal. Each design
//! is judged by its own results (nothing violated), not by the scenario's `expect`.

use super::metrics::Accumulator;
use super::sweep::{run_rows, section};
use super::{Kind, Report, Requests, Section};
use crate::invariant::Verdict;
use crate::plan::ScenarioPlan;
use crate::registry::Registry;
use crate::run::compare::Row;
use crate::run::{Backend, Invocation, RunReport};

/// One design on one backend, as it ran.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub row: &'a Row,
    /// The plan as run (for the real network, scaled by the time scale).
    pub plan: &'a ScenarioPlan,
    /// The runs, with their traces kept.
    pub reports: &'a [RunReport],
    /// The command that runs this design again. A run's own repro would name the
    /// scenario file, which runs the scenario's own topology, not this design's.
    pub repro: &'a str,
}

/// The comparison of `scenario` over `entries`, in the order given.
pub fn compare_report(
    command: Invocation,
    scenario: &str,
    entries: &[Entry<'_>],
    registry: &Registry,
) -> Report {
    let title = format!("patchbay compare: {scenario}");
    let mut report = Report::new(Kind::Compare, title, command.line.clone());
    let runs: usize = entries.iter().map(|e| e.reports.len()).sum();
    report.notes.push(format!(
        "{scenario} over {} design/backend pair(s), {runs} run(s). Throughput is replies per second of the runs' busy spans (first request to last reply); messages per request counts every message a node sent, heartbeats included, over replies accepted.",
        entries.len()
    ));
    for e in entries {
        let mut measured = Accumulator::for_plan(e.plan);
        for trace in e.reports.iter().filter_map(|r| r.trace.as_ref()) {
            measured.add_trace(trace, e.plan);
        }
        let refs: Vec<&RunReport> = e.reports.iter().collect();
        let mut s = section(e.plan, registry, &refs, measured.finish(), &command.tool);
        s.design = Some(label(e.row));
        let failures = s.verdicts.iter_mut().flat_map(|v| &mut v.failures);
        for repro in
            failures.map(|f| &mut f.repro).chain(s.sequences.iter_mut().map(|d| &mut d.repro))
        {
            *repro = e.repro.to_owned();
        }
        judge_by_own_results(&mut s, e.reports);
        let m = &e.row.metrics;
        s.requests = Some(Requests {
            issued: m.issued,
            served: m.served,
            sends: m.sends,
            busy_us: m.span.as_micros() as u64,
        });
        report.sections.push(s);
        report.runs.extend(run_rows(e.reports, &command.tool).into_iter().map(|mut row| {
            row["design"] = serde_json::Value::from(e.row.design.clone());
            row
        }));
    }
    report
}

/// Judges a design by its own results, not against the scenario's `expect`: the
/// scenario was written for one design (often to show it losing requests), and the
/// question a comparison asks is which designs hold up. A design is as expected when
/// every run ran and no invariant failed or stayed undecided, so the page paints the
/// design that loses nothing green (issue 14: it was painted red for not losing what
/// the scenario expected lost).
fn judge_by_own_results(s: &mut Section, reports: &[RunReport]) {
    let clean = |r: &&RunReport| {
        r.error.is_none() && r.invariants.iter().all(|o| o.verdict == Verdict::Pass)
    };
    s.expected = format!("nothing violated (the scenario itself expects {})", s.expected);
    s.as_expected = reports.iter().filter(clean).count() as u64;
    s.sweep_as_expected = Some(s.as_expected == s.seeds);
    s.shown_expected = None;
    for v in &mut s.verdicts {
        v.expected = "pass".to_owned();
    }
}

/// The name a design goes by on the page: `lru-broker`, or `lru-broker (real)`.
fn label(row: &Row) -> String {
    match row.backend {
        Backend::Sim => row.design.clone(),
        Backend::Real => format!("{} (real)", row.design),
    }
}
