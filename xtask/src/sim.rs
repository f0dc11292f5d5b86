//! `sim`: run scenarios over the simulator, print verdicts, write the report.
//!
//! Every sweep writes `reports/sim/<time>.json` and `.html` and refreshes
//! `latest.json` and `latest.html` beside them (see `patchbay::report`); `--json
//! PATH` writes the pair at PATH instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use patchbay::invariant::Verdict;
use patchbay::plan::ExpectIn;
use patchbay::plan::{self, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::report::sweep::{Measurements, sim_report};
use patchbay::resolve;
use patchbay::run::json::expected_text;
use patchbay::run::{Job, RunReport, run_many, run_many_with, sweep_as_expected};
use patchbay::spec::diag::render;

use crate::args;
use crate::check::{absolute, absolute_then_enter, files_or_shipped, usage_error};
use crate::progress::Progress;
use crate::report::Place;

pub fn sim(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let command = crate::report::command_line("sim", &argv);
    let args = match args::parse(
        argv,
        &["seed", "seeds", "jobs", "json"],
        &["check-determinism", "trace"],
    ) {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    let sel = match Selection::read(&args)? {
        Ok(sel) => sel,
        Err(e) => return usage_error(&e),
    };
    let place = sel.json.as_deref().map_or(Place::Dated(Path::new("reports/sim")), Place::At);
    if !crate::report::check_place(&place) {
        return Ok(ExitCode::from(2));
    }
    let registry = Registry::builtin();
    let Some(plans) = load_all(&sel.files, &registry) else { return Ok(ExitCode::from(2)) };
    let (plans, skipped) =
        split(plans, |p| patchbay::run::runnable(p, &registry).err().map(|e| e.to_string()));
    if sel.explicit && !skipped.is_empty() {
        return usage_error("the scenario(s) above cannot run in the simulator yet");
    }
    let threads = sel.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let work = sel.work(&plans, |p| p.seeds.clone());
    let determinism = args.flag("check-determinism");
    println!(
        "running {} simulation(s) of {} scenario(s), {threads} at a time",
        work.len(),
        plans.len()
    );
    let measured = Measurements::default();
    let reports = run_with_progress(&work, &registry, threads, args.flag("trace"), &measured);
    if args.flag("trace") {
        for r in &reports {
            print_trace(r, &plans);
        }
    }
    let mismatches =
        if determinism { check_determinism(&work, &registry, threads, &reports) } else { 0 };
    let unexpected_sweeps = print_table(&plans, &reports);
    let unexpected = print_failures(&plans, &reports) + unexpected_sweeps;
    if !write_report(command, &plans, &registry, &reports, &measured, sel.json.as_deref())? {
        return Ok(ExitCode::from(2));
    }
    if determinism {
        println!("determinism: {} seed(s) run twice, {mismatches} mismatch(es)", work.len());
    }
    if !skipped.is_empty() {
        println!(
            "\nskipped {} shipped scenario(s) the simulator cannot run yet (they pass `cargo xtask check`):",
            skipped.len()
        );
        for (name, why) in &skipped {
            println!("  {name}: {why}");
        }
    }
    let ok = unexpected == 0 && mismatches == 0;
    println!(
        "{}",
        if ok {
            "every scenario ended as expected"
        } else {
            "some runs did NOT end as expected (repro commands above)"
        }
    );
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// What `sim` and `real` read alike from their arguments: which seeds, how many runs
/// at once, where the report goes, and which scenario files (every shipped scenario
/// when none is named).
pub(crate) struct Selection {
    seed: Option<u64>,
    seeds: Option<u64>,
    pub jobs: Option<u64>,
    pub json: Option<PathBuf>,
    /// Whether the user named the files (then a scenario that cannot run is an error).
    pub explicit: bool,
    pub files: Vec<PathBuf>,
}

impl Selection {
    /// Reads the selection and enters the workspace root; the inner `Err` is a usage
    /// error to print.
    pub(crate) fn read(args: &args::Args) -> anyhow::Result<Result<Selection, String>> {
        let (seed, seeds, jobs) =
            match (args.number("seed"), args.number("seeds"), args.number("jobs")) {
                (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Ok(Err(e)),
            };
        let json = args.value("json").map(|p| absolute(Path::new(p))).transpose()?;
        let files = absolute_then_enter(args.files.clone())?;
        let explicit = !files.is_empty();
        let files = files_or_shipped(files)?
            .into_iter()
            .filter(|f| explicit || f.starts_with("scenarios"))
            .collect();
        Ok(Ok(Selection { seed, seeds, jobs, json, explicit, files }))
    }

    /// One job per plan and seed: `--seed N`, else seeds `1..=K` for `--seeds K`, else
    /// the seeds `default` gives for the plan.
    pub(crate) fn work<'a>(
        &self,
        plans: &'a [ScenarioPlan],
        default: impl Fn(&ScenarioPlan) -> Vec<u64>,
    ) -> Vec<Job<'a>> {
        plans
            .iter()
            .flat_map(|p| {
                let list: Vec<u64> = match (self.seed, self.seeds) {
                    (Some(s), _) => vec![s],
                    (None, Some(k)) => (1..=k).collect(),
                    (None, None) => default(p),
                };
                list.into_iter().map(move |s| Job { plan: p, seed: s })
            })
            .collect()
    }
}

/// Splits off the plans `skip` gives a reason for; they are listed with it, never
/// silently dropped.
pub(crate) fn split(
    plans: Vec<ScenarioPlan>,
    skip: impl Fn(&ScenarioPlan) -> Option<String>,
) -> (Vec<ScenarioPlan>, Vec<(String, String)>) {
    let mut runnable = Vec::new();
    let mut skipped = Vec::new();
    for p in plans {
        match skip(&p) {
            None => runnable.push(p),
            Some(why) => skipped.push((p.name.clone(), why)),
        }
    }
    (runnable, skipped)
}

pub(crate) fn load_all(files: &[PathBuf], registry: &Registry) -> Option<Vec<ScenarioPlan>> {
    let mut plans = Vec::new();
    let mut bad = false;
    let mut broken = 0;
    for f in files {
        let mut loaded = resolve::load_scenario(f, registry);
        // Running the deliberately broken catalogue is the point of `scenarios/broken/`:
        // its designs' warnings are for `check`, and a line below says they ran.
        if f.parent().is_some_and(|d| d.ends_with("broken")) {
            let before = loaded.diagnostics.len();
            loaded.diagnostics.retain(|d| d.code != "broken-design");
            broken += usize::from(loaded.diagnostics.len() < before);
        }
        if !loaded.diagnostics.is_empty() {
            eprint!("{}", render(&loaded.diagnostics));
        }
        match loaded.plan {
            Some(p) => plans.push(p),
            None => bad = true,
        }
    }
    if bad {
        eprintln!("fix the errors above, or check a file alone with `cargo xtask check FILE`");
        return None;
    }
    if broken > 0 {
        println!(
            "{broken} scenario(s) run deliberately broken designs (scenarios/broken/), to show their bugs caught"
        );
    }
    Some(plans)
}

/// Runs every job with progress (see `progress.rs`), measuring each trace for the
/// report as its run finishes and letting it go unless `--trace` wants it printed.
fn run_with_progress(
    work: &[Job<'_>],
    registry: &Registry,
    threads: usize,
    keep_traces: bool,
    measured: &Measurements,
) -> Vec<RunReport> {
    let progress = Progress::new(work.len());
    let reports = run_many_with(work, registry, threads, true, &|r: &mut RunReport| {
        if let (Some(trace), Some(job)) = (&r.trace, work.iter().find(|j| j.plan.file == r.file)) {
            measured.add(job.plan, trace);
        }
        if !keep_traces {
            r.trace = None;
        }
        let mark = if r.as_expected { "ok " } else { "BAD" };
        let what = format!(
            "{mark} {} seed {} ({} events, {} ms simulated, {} ms wall)",
            r.scenario, r.seed, r.events, r.sim_ms, r.wall_ms
        );
        progress.tick(&what, !r.as_expected);
    });
    progress.finish();
    reports
}

/// Builds the report (drawing each failing invariant's shortest seed again) and
/// writes it: at `json` and beside it if given, else a new pair under `reports/sim/`.
/// False when a user's file was in the way.
fn write_report(
    command: String,
    plans: &[ScenarioPlan],
    registry: &Registry,
    reports: &[RunReport],
    measured: &Measurements,
    json: Option<&Path>,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut report = sim_report(command, plans, registry, reports, measured);
    let drawn: usize = report.sections.iter().map(|s| s.sequences.len()).sum();
    let place = json.map_or(Place::Dated(Path::new("reports/sim")), Place::At);
    let saved = crate::report::save(&mut report, place)?;
    println!("report built in {} ms ({drawn} failure(s) drawn)", started.elapsed().as_millis());
    Ok(saved)
}

fn check_determinism(
    work: &[Job<'_>],
    registry: &Registry,
    threads: usize,
    first: &[RunReport],
) -> usize {
    println!("determinism: running every seed again");
    let second = run_many(work, registry, threads, false, &|_| {});
    let mut mismatches = 0;
    for (a, b) in first.iter().zip(&second) {
        if a.trace_hash != b.trace_hash || a.events != b.events {
            mismatches += 1;
            println!(
                "NONDETERMINISTIC {} seed {}: trace {:016x} then {:016x}\n  repro: {} --check-determinism",
                a.scenario,
                a.seed,
                a.trace_hash,
                b.trace_hash,
                a.repro()
            );
        }
    }
    mismatches
}

/// Prints the verdict table; returns how many scenarios did not end as expected.
fn print_table(plans: &[ScenarioPlan], reports: &[RunReport]) -> usize {
    println!("\n{:<26} {:>5}  {:<30} RESULT", "SCENARIO", "SEEDS", "EXPECT");
    let mut unexpected = 0;
    for p in plans {
        let runs: Vec<&RunReport> = reports.iter().filter(|r| r.file == p.file).collect();
        let good = runs.iter().filter(|r| r.as_expected).count();
        let shown = runs.iter().filter(|r| r.shows_expected).count();
        let result = if sweep_as_expected(p, &runs) {
            match p.expect_bounds.seeds {
                ExpectIn::Every => "as expected".to_owned(),
                ExpectIn::Any => format!("as expected (shown in {shown} of {} seeds)", runs.len()),
            }
        } else if good < runs.len() {
            format!("UNEXPECTED in {} of {} seeds", runs.len() - good, runs.len())
        } else {
            format!("UNEXPECTED: shown in none of {} seeds", runs.len())
        };
        unexpected += usize::from(!sweep_as_expected(p, &runs));
        println!("{:<26} {:>5}  {:<30} {result}", p.name, runs.len(), p.expect_text());
        let errors = runs.iter().filter(|r| r.error.is_some()).count();
        if errors > 0 {
            println!("    {errors} run(s) could not run");
        }
        for (i, inv) in p.invariants.iter().enumerate() {
            let mut by: BTreeMap<String, usize> = BTreeMap::new();
            for r in &runs {
                if let Some(o) = r.invariants.get(i) {
                    *by.entry(o.verdict.to_string()).or_default() += 1;
                }
            }
            let counts: Vec<String> = by.iter().map(|(v, n)| format!("{v} ×{n}")).collect();
            println!("    {:<28} {}", inv.name, counts.join(", "));
            // A failure the scenario expects is still news to a reader: what it was,
            // and how to see it again.
            let failed = runs.iter().find_map(|r| {
                let o = r.invariants.get(i).filter(|o| o.verdict == Verdict::Fail)?;
                Some((r, o.violations.first()?))
            });
            if let Some((r, v)) = failed {
                println!("        e.g. {}\n        repro: {}", v.text, r.repro());
            }
        }
    }
    unexpected
}

/// Prints each run that did not end as expected, with what went wrong and its repro.
fn print_failures(plans: &[ScenarioPlan], reports: &[RunReport]) -> usize {
    let bad: Vec<&RunReport> = reports.iter().filter(|r| !r.as_expected).collect();
    if !bad.is_empty() {
        println!();
    }
    for r in &bad {
        println!(
            "SEED={} {} did not end as expected ({})",
            r.seed,
            r.scenario,
            plans
                .iter()
                .find(|p| p.file == r.file)
                .map_or(expected_text(&r.expected), |p| p.expect_text())
        );
        if let Some(p) = plans.iter().find(|p| p.file == r.file) {
            print_counts(p, r);
        }
        if let Some(e) = &r.error {
            println!("  {e}");
        }
        for o in &r.invariants {
            if o.verdict == Verdict::Pass {
                continue;
            }
            let first = o.violations.first().map(|v| format!(": {}", v.text)).unwrap_or_default();
            let note = o.note.as_ref().map(|n| format!(" [{n}]")).unwrap_or_default();
            println!(
                "  {} {} ({} violation(s)){first}{note}",
                o.name,
                o.verdict,
                o.violations.len()
            );
        }
        println!("  repro: {}", r.repro());
    }
    bad.len()
}

/// Prints the counts a scenario's `expect` bounds, as this run had them.
fn print_counts(p: &ScenarioPlan, r: &RunReport) {
    for (name, range) in &p.expect_bounds.violations {
        let n = r.invariants.iter().find(|o| o.name == name).map_or(0, |o| o.violations.len());
        println!("  {name}: {n} violation(s), expected {range}");
    }
    for (reason, range) in &p.expect_bounds.drops {
        let n = r.drops.get(reason).copied().unwrap_or(0);
        println!("  drops {}: {n}, expected {range}", plan::drop_reason_name(*reason));
    }
}

/// Prints a run's trace, one event a line, with replica names.
pub(crate) fn print_trace(r: &RunReport, plans: &[ScenarioPlan]) {
    let Some(trace) = &r.trace else { return };
    let Some(plan) = plans.iter().find(|p| p.file == r.file) else { return };
    println!(
        "\ntrace of {} seed {} ({} events, hash {:016x})",
        r.scenario,
        r.seed,
        trace.events.len(),
        r.trace_hash
    );
    for e in &trace.events {
        let node = e.node.map_or("-".to_owned(), |n| plan.topology.replica_name(n));
        let socket = e.socket.map_or(String::new(), |s| {
            e.node.map_or(String::new(), |n| {
                format!(".{}", plan.topology.group(n.group).sockets[usize::from(s)].name)
            })
        });
        let what = patchbay::report::seqdiag::event_text(plan, trace, &e.kind);
        println!("{:>12.3?} {node}{socket} {what}", e.at);
    }
}
