//! `real`: run scenarios over real TCP on 127.0.0.1 through the fault proxies, print
//! verdicts and whether they match the scenario's `expect`, write the report
//! (`reports/real/<time>.{json,html}` and `latest.*`, or the pair at `--json PATH`).
//!
//! Each run is measured as it finishes; the traces of runs that failed an invariant
//! are kept to be drawn, since running a real seed again need not fail again.
//!
//! A real run is not deterministic and its timing is the machine's, so a verdict
//! that differs from `expect` is reported, not treated as a failure: the command
//! fails only when a run could not run at all (an internal error) or the input is
//! wrong.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use patchbay::invariant::Verdict;
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::report::sweep::{Measurements, real_report};
use patchbay::run::json::expected_text;
use patchbay::run::real::{RealOptions, scaled, skip_reason};
use patchbay::run::{RunError, RunReport, run_many_real};

use crate::args;
use crate::check::usage_error;
use crate::report::Place;
use crate::sim::{Selection, load_all, print_trace, split};

pub fn real(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let command = crate::report::command_line("real", &argv);
    let args = match args::parse(argv, &["seed", "seeds", "jobs", "json", "time-scale"], &["trace"])
    {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    let sel = match Selection::read(&args)? {
        Ok(sel) => sel,
        Err(e) => return usage_error(&e),
    };
    let opts = match time_scale(args.value("time-scale")) {
        Ok(time_scale) => RealOptions { time_scale },
        Err(e) => return usage_error(&e),
    };
    let place = sel.json.as_deref().map_or(Place::Dated(Path::new("reports/real")), Place::At);
    if !crate::report::check_place(&place) {
        return Ok(ExitCode::from(2));
    }
    let registry = Registry::builtin();
    let Some(plans) = load_all(&sel.files, &registry) else { return Ok(ExitCode::from(2)) };
    let (plans, skipped) = split(plans, |p| skip_reason(p, &registry, opts));
    if sel.explicit && !skipped.is_empty() {
        print_skipped(&skipped);
        return usage_error("the scenario(s) above cannot run on the real network");
    }
    // Real runs share the machine's cores; fewer at once keeps their timing closer to
    // what one run alone would see.
    let threads = sel.jobs.map_or(2, |j| j as usize);
    // A real run is not a repeat of a simulated one: one seed per scenario by default.
    let work = sel.work(&plans, |p| p.seeds.iter().copied().take(1).collect());
    println!(
        "running {} real run(s) of {} scenario(s) on 127.0.0.1, {threads} at a time, time scale {}",
        work.len(),
        plans.len(),
        opts.time_scale
    );
    // The plans as run, for measuring and drawing: faults and phases where they were.
    let as_run: Vec<ScenarioPlan> = plans.iter().map(|p| scaled(p, opts.time_scale)).collect();
    let measured = Measurements::default();
    let finished = AtomicUsize::new(0);
    let total = work.len();
    let keep = args.flag("trace");
    let reports = run_many_real(&work, &registry, threads, opts, true, &|r: &mut RunReport| {
        if let (Some(trace), Some(plan)) = (&r.trace, as_run.iter().find(|p| p.file == r.file)) {
            measured.add(plan, trace);
        }
        let failed = r.invariants.iter().any(|o| o.verdict == Verdict::Fail);
        if !keep && !failed {
            r.trace = None;
        }
        let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
        let mark = match (&r.error, r.as_expected) {
            (Some(_), _) => "ERR",
            (None, true) => "ok ",
            (None, false) => "dif",
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "[{n:>4}/{total}] {mark} {} seed {} ({} events, {} ms real)",
            r.scenario, r.seed, r.events, r.sim_ms
        );
    });
    if keep {
        for r in &reports {
            print_trace(r, &plans);
        }
    }
    print_table(&plans, &reports);
    let mut report = real_report(command, &as_run, &registry, &reports, &measured, &skipped);
    // Checked before the runs; if the path was taken since, the summary still prints.
    let saved = crate::report::save(&mut report, place)?;
    print_skipped(&skipped);
    let errors: Vec<&RunReport> = reports.iter().filter(|r| r.error.is_some()).collect();
    for r in &errors {
        println!("ERROR {} seed {}: {}", r.scenario, r.seed, r.error.as_ref().expect("filtered"));
    }
    let internal = errors.iter().any(|r| matches!(r.error, Some(RunError::Internal(_))));
    let differ = reports.iter().filter(|r| r.error.is_none() && !r.as_expected).count();
    println!(
        "{} run(s) as expected, {differ} differ from `expect` (real timing; see above), {} could not run",
        reports.len() - differ - errors.len(),
        errors.len()
    );
    if !saved {
        return Ok(ExitCode::from(2));
    }
    Ok(if internal || !errors.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `--time-scale F`: a positive, finite factor.
fn time_scale(value: Option<&str>) -> Result<f64, String> {
    let Some(v) = value else { return Ok(1.0) };
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("--time-scale takes a positive number such as 0.1, not `{v}`")),
    }
}

fn print_skipped(skipped: &[(String, String)]) {
    if skipped.is_empty() {
        return;
    }
    println!("\nskipped {} scenario(s) on the real network:", skipped.len());
    for (name, why) in skipped {
        println!("  {name}: {why}");
    }
}

fn print_table(plans: &[ScenarioPlan], reports: &[RunReport]) {
    println!("\n{:<28} {:>4}  {:<30} RESULT", "SCENARIO", "RUNS", "EXPECT");
    for p in plans {
        let runs: Vec<&RunReport> = reports.iter().filter(|r| r.file == p.file).collect();
        let errors = runs.iter().filter(|r| r.error.is_some()).count();
        let differ = runs.iter().filter(|r| r.error.is_none() && !r.as_expected).count();
        let result = match (errors, differ) {
            (0, 0) => "as expected".to_owned(),
            (0, d) => format!("differs in {d} of {} run(s)", runs.len()),
            (e, _) => format!("{e} run(s) could not run"),
        };
        println!("{:<28} {:>4}  {:<30} {result}", p.name, runs.len(), expected_text(&p.expect));
        for (i, inv) in p.invariants.iter().enumerate() {
            let mut by: BTreeMap<String, usize> = BTreeMap::new();
            let mut first = None;
            for r in &runs {
                if let Some(o) = r.invariants.get(i) {
                    *by.entry(o.verdict.to_string()).or_default() += 1;
                    if o.verdict != Verdict::Pass && first.is_none() {
                        first = o.violations.first().map(|v| v.text.clone());
                    }
                }
            }
            let counts: Vec<String> = by.iter().map(|(v, n)| format!("{v} ×{n}")).collect();
            let first = first.map(|t| format!("  ({t})")).unwrap_or_default();
            println!("    {:<28} {}{first}", inv.name, counts.join(", "));
        }
    }
}
