//! `explore`: generated variants of a scenario until one breaks an invariant, shrunk
//! to a minimal scenario file under `reports/explore/` that `TOOL sim` replays, with
//! a report beside it (same stem, `.json` and `.html`): the search, then the case
//! read back from disk and run again, drawn. A search that finds nothing writes no
//! report: there is no case to draw, and the terminal says what was searched.

use std::path::{Path, PathBuf};
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
use crate::run::shard::Shard;
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
    // The search as typed, with everything that decides which cases it draws: the
    // report's header, and what tells one search's shard reports from another's.
    let mut line = format!(
        "{} explore {} --cases {} --seed {}",
        ctx.tool,
        file.display(),
        opts.cases,
        opts.seed
    );
    if let Some(max) = opts.max_faults {
        line.push_str(&format!(" --max-faults {max}"));
    }
    if opts.faults_only {
        line.push_str(" --faults-only");
    }
    let command = Invocation::new(ctx.tool.clone(), line);
    let shard_json = shard.map(|s| shard_report_path(&base, &opts, s));
    if let Some(json) = &shard_json {
        if !check_place(&Place::At(json)) {
            return Ok(ExitCode::from(2));
        }
        if let Some(why) = another_search(json, &command.line) {
            errln!("error: {why}");
            return Ok(ExitCode::from(2));
        }
    }
    print_space(&base, &opts);
    let started = Instant::now();
    let outcome = explore::explore(&base, registry, &opts, &|done, total| {
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        outln!("  {done}/{total} cases, none failed ({rate:.1} cases/s)");
    });
    let note = shard.map(|s| ShardNote::new(s, command.line.clone(), opts.cases, Vec::new()));
    let Some(finding) = &outcome.finding else {
        print_nothing_found(&outcome, &opts);
        return match (note, shard_json) {
            (Some(note), Some(json)) => save_shard_search(ctx, &base, &json, command, note),
            _ => Ok(ExitCode::SUCCESS),
        };
    };
    print_finding(finding, &outcome);
    // The case takes a number whose report names are free too (`write_finding`), so
    // a search that ran for an hour does not end in a refusal to save its report.
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

/// Where a shard that finds nothing writes its report: `<out>/<scenario>-shard-K-of-N.json`,
/// a name the same for every run of the shard, so that a merge job can find it.
fn shard_report_path(base: &Base, opts: &Options, shard: Shard) -> PathBuf {
    let stem = base.path.file_stem().map_or("scenario".into(), |s| s.to_string_lossy());
    opts.out_dir.join(format!("{stem}-shard-{}-of-{}.json", shard.index, shard.count))
}

/// Why a shard's report must not replace the one at `json`: it is the report of
/// another search (other `--cases`, another `--seed`; the shard is in the name), which
/// a run of this one would lose, or no explore shard's report at all. The same
/// search's report is replaced: the search is deterministic, so it says the same again.
fn another_search(json: &Path, command: &str) -> Option<String> {
    if std::fs::symlink_metadata(json).is_err() {
        return None;
    }
    let shown = json.display();
    let hint = "move it, or choose another --out";
    let report = match crate::report::read(json) {
        Ok(report) => report,
        Err(e) => return Some(format!("{shown}: {e}; refusing to replace it ({hint})")),
    };
    let Some(note) = report.shard.filter(|_| report.kind == Kind::Explore) else {
        return Some(format!(
            "{shown} is not an explore shard's report; refusing to replace it ({hint})"
        ));
    };
    (note.sweep != command).then(|| {
        format!(
            "{shown} holds shard {}/{} of another search (`{}`); refusing to replace it ({hint})",
            note.index, note.count, note.sweep
        )
    })
}

/// A shard that found nothing still writes a report at `json`
/// ([`shard_report_path`]), so that `report merge` can tell a shard that searched in
/// vain from one missing.
fn save_shard_search(
    ctx: &Ctx,
    base: &Base,
    json: &Path,
    command: Invocation,
    note: ShardNote,
) -> Result<ExitCode, Error> {
    let title = format!("patchbay explore: {}", base.plan.name);
    let mut report = Report::new(Kind::Explore, title, command.line);
    report.notes.push(format!(
        "Shard {}/{}: no invariant failed in this shard's cases of {}.",
        note.index, note.count, note.total
    ));
    report.shard = Some(note);
    if !save(&mut report, Place::At(&ctx.shown(json)))? {
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
        at_a_time(opts)
    );
    if let Some(why) = &outcome.first_invalid {
        outln!("  the first case that was not a valid scenario: {why}");
    }
    if opts.shard.is_none() {
        outln!("no report written: nothing failed, so there is no case to draw");
    }
}

/// Cases run side by side: `--jobs`, but no more than there are cases.
fn at_a_time(opts: &Options) -> usize {
    super::sim::side_by_side(opts.jobs, usize::try_from(opts.cases).unwrap_or(usize::MAX))
}

fn print_space(base: &Base, opts: &Options) {
    let s = &base.space;
    let kinds: Vec<&str> = s.kinds.iter().map(|k| k.name()).collect();
    outln!(
        "exploring {}: up to {} cases, generator seed {}, {} at a time",
        base.path.display(),
        opts.cases,
        opts.seed,
        at_a_time(opts)
    );
    outln!("  faults: 0 to {} of {}", s.max_faults, kinds.join(", "));
    let counts: Vec<String> =
        s.params.iter().chain(&s.workload).map(|k| format!("{} 1..={}", k.name, k.max)).collect();
    if !counts.is_empty() {
        outln!("  counts: {}", counts.join(", "));
    }
    outln!("{}", held_line(s, opts.faults_only));
}

/// What the space does with socket options and the duration: with `--faults-only`
/// both are held as written, and without a liveness phase the duration is too.
fn held_line(s: &explore::Space, faults_only: bool) -> String {
    let ms = s.duration.as_millis();
    if faults_only {
        format!(
            "  held as written (--faults-only): counts, sizes, socket options and the duration ({ms} ms)"
        )
    } else if s.fixed_duration {
        format!(
            "  options: {} socket option knobs; duration held at {ms} ms (no liveness phase)",
            s.options.len()
        )
    } else {
        format!(
            "  options: {} socket option knobs; duration from {ms} ms down to a quarter",
            s.options.len()
        )
    }
}
fn print_finding(finding: &Finding, outcome: &explore::Outcome) {
    let o = &finding.original_failure;
    let f = &finding.failure;
    // The case as the regression file and the testing API name it (`case=` counts
    // from 0), and how many cases the search drew to find it.
    outln!(
        "\n`{}` failed {} after {} case(s) in {:.1} s: {}",
        finding.drawn,
        o.violated.join(", "),
        finding.cases_to_find,
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
