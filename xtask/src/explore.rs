//! `explore`: generated variants of a scenario until one breaks an invariant, shrunk
//! to a minimal scenario file under `reports/explore/` that `cargo xtask sim` replays,
//! with a report beside it (same stem, `.json` and `.html`): the search, then the
//! case read back from disk and run again, drawn. A search that finds nothing writes
//! no report: there is no case to draw, and the terminal says what was searched.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use patchbay::explore::{self, Base, Finding, Options};
use patchbay::registry::Registry;
use patchbay::report::Report;
use patchbay::report::finding::explore_report;
use patchbay::spec::diag::render;

use crate::args;
use crate::check::{absolute_then_enter, usage_error};
use crate::report::Place;

/// Cases tried when `--cases` is not given.
const CASES_DEFAULT: u64 = 256;
/// Generator seed when `--seed` is not given.
const SEED_DEFAULT: u64 = 1;

pub fn explore(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let args = match args::parse(
        argv,
        &["cases", "seed", "jobs", "max-faults", "out"],
        &["faults-only"],
    ) {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    let numbers = ["cases", "seed", "jobs", "max-faults"].map(|n| args.number(n));
    if let Some(Err(e)) = numbers.iter().find(|n| n.is_err()) {
        return usage_error(e);
    }
    let [cases, seed, jobs, max_faults] = numbers.map(|n| n.ok().flatten());
    let files = absolute_then_enter(args.files.clone())?;
    let [file] = files.as_slice() else {
        return usage_error("explore takes exactly one scenario file");
    };
    let out_dir = args.value("out").map_or_else(|| PathBuf::from("reports/explore"), PathBuf::from);
    let opts = Options {
        cases: cases.unwrap_or(CASES_DEFAULT),
        seed: seed.unwrap_or(SEED_DEFAULT),
        jobs: jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |j| j as usize,
        ),
        max_faults: max_faults.map(|m| m as usize),
        faults_only: args.flag("faults-only"),
        out_dir: std::path::absolute(&out_dir)?,
    };
    // The case and its report go under `--out`: refused now, not after the search.
    if !crate::report::check_place(&Place::Dated(&opts.out_dir)) {
        return Ok(ExitCode::from(2));
    }
    let registry = Registry::builtin();
    let base = match Base::load(file, &registry, opts.max_faults, opts.faults_only) {
        Ok(b) => b,
        Err(diags) => {
            eprint!("{}", render(&diags));
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(why) = patchbay::run::runnable(&base.plan, &registry) {
        return usage_error(&format!("{}: {why}", file.display()));
    }
    let command = command_line(file, &opts);
    print_space(&base, &opts);
    let started = Instant::now();
    let outcome = explore::explore(&base, &registry, &opts, &|done, total| {
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        println!("  {done}/{total} cases, none failed ({rate:.1} cases/s)");
    });
    let Some(finding) = &outcome.finding else {
        let secs = outcome.search_wall.as_secs_f64();
        println!(
            "no invariant failed in {} cases ({} not valid scenarios) in {secs:.1} s ({:.1} cases/s on {} threads)",
            outcome.cases_run,
            outcome.invalid,
            outcome.cases_run as f64 / secs.max(1e-3),
            opts.jobs
        );
        if let Some(why) = &outcome.first_invalid {
            println!("  the first case that was not a valid scenario: {why}");
        }
        println!("no report written: nothing failed, so there is no case to draw");
        return Ok(ExitCode::SUCCESS);
    };
    print_finding(finding, &outcome);
    let path = explore::write_finding(&base, finding, &opts, &command)?;
    let shown = path.strip_prefix(crate::root()).unwrap_or(&path).to_path_buf();
    println!("\nwrote the minimal case to {}", shown.display());
    let mut report = explore_report(command, &base, &outcome, finding, &shown, &registry)
        .map_err(|why| anyhow::anyhow!("the written case does not load ({why}): a patchbay bug"))?;
    replayed(&report, finding)?;
    if !crate::report::save(&mut report, Place::At(&shown.with_extension("json")))? {
        return Ok(ExitCode::from(2));
    }
    println!("repro: cargo xtask sim {}", shown.display());
    Ok(ExitCode::from(2))
}

fn command_line(file: &Path, opts: &Options) -> String {
    format!("cargo xtask explore {} --cases {} --seed {}", file.display(), opts.cases, opts.seed)
}

fn print_space(base: &Base, opts: &Options) {
    let s = &base.space;
    let kinds: Vec<&str> = s.kinds.iter().map(|k| k.name()).collect();
    println!(
        "exploring {}: up to {} cases, generator seed {}, {} at a time",
        base.path.display(),
        opts.cases,
        opts.seed,
        opts.jobs
    );
    println!("  faults: 0 to {} of {}", s.max_faults, kinds.join(", "));
    let counts: Vec<String> =
        s.params.iter().chain(&s.workload).map(|k| format!("{} 1..={}", k.name, k.max)).collect();
    if !counts.is_empty() {
        println!("  counts: {}", counts.join(", "));
    }
    println!("  options: {} socket option knobs; duration down to a quarter", s.options.len());
}

fn print_finding(finding: &Finding, outcome: &explore::Outcome) {
    let o = &finding.original_failure;
    let f = &finding.failure;
    println!(
        "\ncase {} failed {} after {:.1} s: {}",
        finding.cases_to_find,
        o.violated.join(", "),
        outcome.search_wall.as_secs_f64(),
        o.first
    );
    println!(
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
    println!("still violates {}: {}", f.violated.join(", "), f.first);
}

/// Checks that the report's run of the written file, loaded as `cargo xtask sim`
/// loads it, failed again, so the printed command is known to reproduce it.
fn replayed(report: &Report, finding: &Finding) -> anyhow::Result<()> {
    let want = finding.failure.violated[0];
    let run = report.runs.first();
    let again = if want == "internal-error" {
        run.is_some_and(|r| r.get("error").is_some())
    } else {
        let verdicts = report.sections.iter().flat_map(|s| &s.verdicts);
        verdicts.filter(|v| v.invariant == want).any(|v| v.fail > 0)
    };
    anyhow::ensure!(again, "the written case did not fail {want} again: a patchbay bug");
    let events = run.and_then(|r| r.get("events")).and_then(|e| e.as_u64()).unwrap_or_default();
    println!("replayed it: {want} fails again ({events} events)");
    Ok(())
}
