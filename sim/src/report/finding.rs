//! An `explore` report: how the search went, then the shrunk case as a one-seed
//! sweep (its topology, verdicts, the sequence diagram of its violation, figures).
//!
//! The shrunk case is read back from the file exploration wrote and run again with
//! its trace kept: a simulated run is deterministic, so the page draws exactly what
//! `cargo xtask sim` on that file shows.

use std::path::Path;

use super::metrics::Accumulator;
use super::sweep::{run_rows, section};
use super::{Kind, Report, Table};
use crate::explore::{Base, Case, Failure, Finding, Outcome};
use crate::registry::Registry;
use crate::run::{Invocation, run_seed};

/// The report of `finding`, whose minimal case was written to `case`. Errs with the
/// resolver's first message if the written case does not load (a patchbay bug).
pub fn explore_report(
    command: Invocation,
    base: &Base,
    outcome: &Outcome,
    finding: &Finding,
    case: &Path,
    registry: &Registry,
) -> Result<Report, String> {
    let loaded = crate::resolve::load_scenario(case, registry);
    let Some(plan) = loaded.plan else {
        let first = loaded.diagnostics.iter().find(|d| d.is_error());
        return Err(first.map_or_else(|| "does not resolve".to_owned(), |d| d.message.clone()));
    };
    let seed = plan.seeds.first().copied().unwrap_or_default();
    let run = run_seed(&plan, registry, seed, true);
    let mut measured = Accumulator::for_plan(&plan);
    if let Some(trace) = &run.trace {
        measured.add_trace(trace, &plan);
    }
    let title = format!("patchbay explore: {} violates {}", base.plan.name, violated(finding));
    let mut report = Report::new(Kind::Explore, title, command.line.clone());
    report.notes.push(format!(
        "Exploring {}, case `{}` failed, found after {} case(s); shrunk, it still violates {}: {}",
        base.path.display(),
        finding.drawn,
        finding.cases_to_find,
        violated(finding),
        finding.failure.first
    ));
    report.notes.push(format!(
        "The minimal case is {}; `{} sim` on it replays the violation. Below, that case as run again.",
        case.display(),
        command.tool
    ));
    report.tables.push(search_table(outcome, finding));
    report.tables.push(case_table(finding));
    report.sections.push(section(&plan, registry, &[&run], measured.finish(), &command.tool));
    report.runs = run_rows(std::slice::from_ref(&run), &command.tool);
    Ok(report)
}

fn violated(finding: &Finding) -> String {
    finding.failure.violated.join(", ")
}

fn search_table(outcome: &Outcome, finding: &Finding) -> Table {
    let row = |what: &str, value: String| vec![what.to_owned(), value];
    Table {
        title: "Search".to_owned(),
        columns: vec!["".to_owned(), "".to_owned()],
        rows: vec![
            row("cases run", outcome.cases_run.to_string()),
            row("cases to find the failure", finding.cases_to_find.to_string()),
            row("the failing case, as a regression file keeps it", finding.drawn.to_string()),
            row("cases that were not valid scenarios", outcome.invalid.to_string()),
            row("search wall time", format!("{} ms", outcome.search_wall.as_millis())),
            row("shrink steps kept", finding.shrink_steps.to_string()),
            row("shrink runs", finding.shrink_runs.to_string()),
            row("shrink wall time", format!("{} ms", outcome.shrink_wall.as_millis())),
        ],
    }
}

fn case_table(finding: &Finding) -> Table {
    let sizes = |case: &Case, failure: &Failure| {
        [
            failure.faults.to_string(),
            format!("{} ms", case.duration_ms),
            failure.events.to_string(),
            case.seed.to_string(),
            failure.violated.join(", "),
        ]
    };
    let original = sizes(&finding.original, &finding.original_failure);
    let shrunk = sizes(&finding.shrunk, &finding.failure);
    let names = ["faults", "safety phase", "events", "seed", "violated"];
    Table {
        title: "Original and shrunk case".to_owned(),
        columns: ["", "original", "shrunk"].map(str::to_owned).to_vec(),
        rows: (0..names.len())
            .map(|i| vec![names[i].to_owned(), original[i].clone(), shrunk[i].clone()])
            .collect(),
    }
}
