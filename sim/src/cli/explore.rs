//! `explore`: generated variants of a scenario until one breaks an invariant, shrunk
//! to a minimal scenario file under `reports/explore/` that `TOOL sim` replays, with
//! a report beside it (same stem, `.json` and `.html`): the search, then the case
//! read back from disk and run again, drawn. A search that finds nothing writes no
//! report: there is no case to draw, and the terminal says what was searched.

use std::process::ExitCode;
use std::time::Instant;

use super::Ctx;
use super::args::ExploreArgs;
use super::check::absolute_then_enter;
use super::error::Error;
use super::report::{Place, check_place, save};
use crate::explore::{self, Base, Finding, Options};
use crate::report::finding::explore_report;
use crate::report::merge::ShardNote;
use crate::report::{Kind, Report};
use crate::run::Invocation;
use crate::spec::diag::render;

pub fn explore(ctx: &Ctx, args: ExploreArgs) -> Result<ExitCode, Error> {
    let shard = match args.shard.resolve() {
        Ok(shard) => shard,
        Err(why) => return ctx.usage_error("explore", &why),
    };
    let files = absolute_then_enter(ctx, std::slice::from_ref(&args.scenario))?;
    let file = &files[0];
    let opts = Options {
        cases: args.cases,
        seed: args.seed,
        jobs: args.jobs.map_or_else(super::sim::cores, |j| j as usize),
        max_faults: args.max_faults.map(|m| m as usize),
        faults_only: args.faults_only,
        out_dir: super::check::absolute(&args.out)?,
        shard,
    };
    // The case and its report go under `--out`: refused now, not after the search.
    if !check_place(&Place::Dated(&opts.out_dir)) {
        return Ok(ExitCode::from(2));
    }
    let registry = &ctx.registry;
    let base = match Base::load(file, registry, opts.max_faults, opts.faults_only) {
        Ok(b) => b,
        Err(diags) => {
            err!("{}", render(&diags));
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(why) = crate::run::runnable(&base.plan, registry) {
        return ctx.usage_error("explore", &format!("{}: {why}", file.display()));
    }
    let command = Invocation::new(
        ctx.tool.clone(),
        format!(
            "{} explore {} --cases {} --seed {}",
            ctx.tool,
            file.display(),
            opts.cases,
            opts.seed
        ),
    );
    print_space(&base, &opts);
    let started = Instant::now();
    let outcome = explore::explore(&base, registry, &opts, &|done, total| {
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        outln!("  {done}/{total} cases, none failed ({rate:.1} cases/s)");
    });
    let note = shard.map(|s| ShardNote::new(s, command.line.clone(), opts.cases, Vec::new()));
    let Some(finding) = &outcome.finding else {
        print_nothing_found(&outcome, &opts);
        return match note {
            Some(note) => save_shard_search(ctx, &base, &opts, command, note),
            None => Ok(ExitCode::SUCCESS),
        };
    };
    print_finding(finding, &outcome);
    let path = explore::write_finding(&base, finding, &opts, command.clone()).map_err(|e| {
        Error::msg(format!("writing the case under {}: {e}", opts.out_dir.display()))
    })?;
    let shown = ctx.shown(&path);
    outln!("\nwrote the minimal case to {}", shown.display());
    let mut report =
        explore_report(command, &base, &outcome, finding, &shown, registry).map_err(|why| {
            Error::msg(format!("the written case does not load ({why}): a patchbay bug"))
        })?;
    replayed(&report, finding)?;
    report.shard = note.map(|n| ShardNote { found_case: Some(finding.drawn.case), ..n });
    if !save(&mut report, Place::At(&shown.with_extension("json")))? {
        return Ok(ExitCode::from(2));
    }
    outln!("repro: {} sim {}", ctx.tool, shown.display());
    Ok(ExitCode::from(2))
}

/// A shard that found nothing still writes a report, `<out>/<scenario>-shard-K-of-N.json`,
/// so that `report merge` can tell a shard that searched in vain from one missing.
fn save_shard_search(
    ctx: &Ctx,
    base: &Base,
    opts: &Options,
    command: Invocation,
    note: ShardNote,
) -> Result<ExitCode, Error> {
    let stem = base.path.file_stem().map_or("scenario".into(), |s| s.to_string_lossy());
    let json = opts.out_dir.join(format!("{stem}-shard-{}-of-{}.json", note.index, note.count));
    let title = format!("patchbay explore: {}", base.plan.name);
    let mut report = Report::new(Kind::Explore, title, command.line);
    report.notes.push(format!(
        "Shard {}/{}: no invariant failed in this shard's cases of {}.",
        note.index, note.count, note.total
    ));
    report.shard = Some(note);
    if !save(&mut report, Place::At(&ctx.shown(&json)))? {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_nothing_found(outcome: &explore::Outcome, opts: &Options) {
    let secs = outcome.search_wall.as_secs_f64();
    // A shard runs only its share of the cases the search draws.
    let ran = opts.shard.map_or(outcome.cases_run, |s| s.share_of(outcome.cases_run));
    let whose = opts.shard.map(|s| format!(" (shard {s}'s share of {})", outcome.cases_run));
    outln!(
        "no invariant failed in {ran} cases{} ({} not valid scenarios) in {secs:.1} s ({:.1} cases/s on {} threads)",
        whose.unwrap_or_default(),
        outcome.invalid,
        ran as f64 / secs.max(1e-3),
        opts.jobs
    );
    if let Some(why) = &outcome.first_invalid {
        outln!("  the first case that was not a valid scenario: {why}");
    }
    if opts.shard.is_none() {
        outln!("no report written: nothing failed, so there is no case to draw");
    }
}

fn print_space(base: &Base, opts: &Options) {
    let s = &base.space;
    let kinds: Vec<&str> = s.kinds.iter().map(|k| k.name()).collect();
    outln!(
        "exploring {}: up to {} cases, generator seed {}, {} at a time",
        base.path.display(),
        opts.cases,
        opts.seed,
        opts.jobs
    );
    outln!("  faults: 0 to {} of {}", s.max_faults, kinds.join(", "));
    let counts: Vec<String> =
        s.params.iter().chain(&s.workload).map(|k| format!("{} 1..={}", k.name, k.max)).collect();
    if !counts.is_empty() {
        outln!("  counts: {}", counts.join(", "));
    }
    outln!("  options: {} socket option knobs; duration down to a quarter", s.options.len());
}
fn print_finding(finding: &Finding, outcome: &explore::Outcome) {
    let o = &finding.original_failure;
    let f = &finding.failure;
    outln!(
        "\ncase {} failed {} after {:.1} s: {}",
        finding.cases_to_find,
        o.violated.join(", "),
        outcome.search_wall.as_secs_f64(),
        o.first
    );
    outln!(
        "shrunk in {} steps ({} runs, {:.1} s): {} fault(s) (was {}), {} ms (was {} ms), {} events (was {})",
        finding.shrink_steps,
        finding.shrink_runs,
        outcome.shrink_wall.as_secs_f64(),
        f.faults,
        o.faults,
        finding.shrunk.duration_ms,
        finding.original.duration_ms,
        f.events,
        o.events
    );
    outln!("still violates {}: {}", f.violated.join(", "), f.first);
}

/// Checks that the report's run of the written file, loaded as `TOOL sim`
/// loads it, failed again, so the printed command is known to reproduce it.
fn replayed(report: &Report, finding: &Finding) -> Result<(), Error> {
    let want = finding.failure.violated[0];
    let run = report.runs.first();
    let again = if want == "internal-error" {
        run.is_some_and(|r| r.get("error").is_some())
    } else {
        let verdicts = report.sections.iter().flat_map(|s| &s.verdicts);
        verdicts.filter(|v| v.invariant == want).any(|v| v.fail > 0)
    };
    if !again {
        return Err(Error::msg(format!(
            "the written case did not fail {want} again: a patchbay bug"
        )));
    }
    let events = run.and_then(|r| r.get("events")).and_then(|e| e.as_u64()).unwrap_or_default();
    outln!("replayed it: {want} fails again ({events} events)");
    Ok(())
}
