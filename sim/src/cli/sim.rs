//! `sim`: run scenarios over the simulator, print verdicts, write the report.
//!
//! Every sweep writes `reports/sim/<time>.json` and `.html` and refreshes
//! `latest.json` and `latest.html` beside them (see `crate::report`); `--json PATH`
//! writes the pair at PATH instead. The verdict table is printed from that report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::Ctx;
use super::args::{SimArgs, SweepArgs};
use super::check::{absolute, absolute_then_enter, files_or_shipped};
use super::error::Error;
use super::progress::Progress;
use super::report::{Place, check_place, save};
use crate::invariant::{Outcome, Verdict};
use crate::plan::{self, ScenarioPlan};
use crate::report::merge::{ShardNote, seed_ranges, swept_args};
use crate::report::sweep::{Measurements, sim_report};
use crate::resolve;
use crate::run::json::expected_text;
use crate::run::{Job, KeepTrace, RunReport, run_many, run_many_with};
use crate::spec::diag::render;

pub fn sim(ctx: &Ctx, args: SimArgs) -> Result<ExitCode, Error> {
    let command = ctx.command_line("sim");
    let sel = match Selection::read(ctx, "sim", &args.sweep)? {
        Ok(sel) => sel,
        Err(why) => return ctx.usage_error("sim", &why),
    };
    if let Some(why) = sel.named_twice() {
        return ctx.usage_error("sim", &why);
    }
    let place = sel.json.as_deref().map_or(Place::Dated(Path::new("reports/sim")), Place::At);
    if !check_place(&place) {
        return Ok(ExitCode::from(2));
    }
    let registry = &ctx.registry;
    let Some(mut plans) = load_all(ctx, &sel.files) else { return Ok(ExitCode::from(2)) };
    for p in &mut plans {
        p.end_when_idle = !args.no_idle_end;
    }
    // A run that cannot fit in the memory free is refused before it starts, where it
    // would have been killed part way (`run/memory.rs`).
    let free = crate::run::memory::available_bytes();
    let (plans, skipped) = split(plans, |p| {
        let fits = |free| crate::run::memory::does_not_fit(p.topology.replica_count(), free);
        crate::run::runnable(p, registry)
            .err()
            .map(|e| e.to_string())
            .or_else(|| free.and_then(fits))
    });
    if sel.explicit && !skipped.is_empty() {
        // Each named scenario the simulator cannot run, with its reason and, for an
        // outside program, the command that runs it.
        let why: Vec<String> = skipped.iter().map(|(name, why)| format!("{name}: {why}")).collect();
        return ctx.usage_error("sim", &why.join("\n"));
    }
    let (plans, left_out) = split(plans, |p| left_out(ctx, &sel, p));
    let shard = match args.shard.resolve() {
        Ok(shard) => shard,
        Err(why) => return ctx.usage_error("sim", &why),
    };
    let threads = sel.jobs.unwrap_or_else(cores);
    let work = sel.work(&plans, |p| p.seeds.clone());
    let total = work.len() as u64;
    // The whole sweep's seeds, for the merge to check each shard's share against.
    let seeds: Vec<Vec<[u64; 2]>> = match shard {
        Some(_) => plans
            .iter()
            .map(|p| seed_ranges(work.iter().filter(|j| std::ptr::eq(j.plan, p)).map(|j| j.seed)))
            .collect(),
        None => Vec::new(),
    };
    let work = match shard {
        Some(s) => s.take(work),
        None => work,
    };
    if let Some(why) = trace_refused(ctx, "sim", args.sweep.trace, &work) {
        return ctx.usage_error("sim", &why);
    }
    if let Some(s) = shard {
        outln!("shard {s}: {} of the sweep's {total} run(s)", work.len());
    }
    print_broken(ctx, &plans);
    outln!(
        "running {} simulation(s) of {} scenario(s), {} at a time",
        work.len(),
        plans.len(),
        side_by_side(threads, work.len())
    );
    let measured = Measurements::default();
    let trace = args.sweep.trace;
    let reports = run_with_progress(&work, ctx, threads, trace, &measured);
    if trace {
        for r in &reports {
            print_trace(r, &plans);
        }
    }
    let determinism = args.check_determinism;
    let mismatches = if determinism { check_determinism(ctx, &work, threads, &reports) } else { 0 };
    let started = Instant::now();
    let note = shard.map(|s| {
        let sweep = ctx.command_line_with("sim", &swept_args(&ctx.rest)).line;
        let measurements = plans.iter().map(|p| measured.raw_of(p)).collect();
        ShardNote { seeds, ..ShardNote::new(s, sweep, total, measurements) }
    });
    let mut report = sim_report(command, &plans, registry, &reports, &measured);
    if let Some(n) = &note {
        report.notes.push(format!(
            "Shard {}/{} of a sweep of {total} runs: `{} report merge OUT.json SHARD.json...` \
             combines the shards' reports.",
            n.index, n.count, ctx.tool
        ));
    }
    report.shard = note;
    let drawn: usize = report.sections.iter().map(|s| s.sequences.len()).sum();
    let unexpected = super::table::print_sim(&report) + print_failures(ctx, &plans, &reports);
    if !save(&mut report, place)? {
        return Ok(ExitCode::from(2));
    }
    outln!("report built in {} ms ({drawn} failure(s) drawn)", started.elapsed().as_millis());
    if determinism {
        outln!("determinism: {} seed(s) run twice, {mismatches} mismatch(es)", work.len());
    }
    print_skipped(ctx, &skipped);
    print_left_out(&left_out);
    let ok = unexpected == 0 && mismatches == 0;
    outln!(
        "{}",
        if work.is_empty() && shard.is_some() {
            // More shards than runs, as a CI matrix of fixed size may have: nothing ran.
            "no runs in this shard: the sweep's runs all went to other shards"
        } else {
            last_line(ok)
        }
    );
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The line a sweep's output ends with (`report merge` ends the same way): whether
/// every scenario ended as expected.
pub(crate) fn last_line(ok: bool) -> &'static str {
    if ok {
        "every scenario ended as expected"
    } else {
        "some runs did NOT end as expected (repro commands above)"
    }
}

/// The machine's cores: simulations at a time unless `--jobs` says otherwise.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many of `runs` go side by side given `threads` at a time: no more than there
/// are runs, and at least one (as `run_jobs` starts them).
pub(crate) fn side_by_side(threads: usize, runs: usize) -> usize {
    threads.min(runs).max(1)
}

fn print_skipped(ctx: &Ctx, skipped: &[(String, String)]) {
    if skipped.is_empty() {
        return;
    }
    outln!(
        "\nskipped {} shipped scenario(s) the simulator cannot run (they pass `{} check`); each says why:",
        skipped.len(),
        ctx.tool
    );
    for (name, why) in skipped {
        outln!("  {name}: {why}");
    }
}

/// Why a sweep of every shipped scenario leaves `plan` out (`only_when_named`), with
/// the command that runs it; `None` when it runs, as it does whenever it is named.
pub(crate) fn left_out(ctx: &Ctx, sel: &Selection, plan: &ScenarioPlan) -> Option<String> {
    let why = plan.only_when_named.as_ref().filter(|_| !sel.explicit)?;
    Some(format!("{why}; run it with `{} sim {}`", ctx.tool, plan.file.display()))
}

fn print_left_out(left_out: &[(String, String)]) {
    if left_out.is_empty() {
        return;
    }
    outln!(
        "
left out {} scenario(s) that run only when named:",
        left_out.len()
    );
    for (name, why) in left_out {
        outln!("  {name}: {why}");
    }
}

/// What `sim` and `real` read alike from their arguments: which seeds, how many runs
/// at once, where the report goes, and which scenario files (every shipped scenario
/// when none is named).
#[derive(Debug)]
pub(crate) struct Selection {
    seed: Option<u64>,
    seeds: Option<u64>,
    pub jobs: Option<usize>,
    pub json: Option<PathBuf>,
    /// Whether the user named the files (then a scenario that cannot run is an error).
    pub explicit: bool,
    pub files: Vec<PathBuf>,
}

impl Selection {
    /// Reads the selection of subcommand `sub` and enters the project root. The inner
    /// error is a usage error: no file named, and none shipped to take.
    pub(crate) fn read(
        ctx: &Ctx,
        sub: &str,
        args: &SweepArgs,
    ) -> Result<Result<Selection, String>, Error> {
        let json = args.json.as_deref().map(absolute).transpose()?;
        let files = absolute_then_enter(ctx, &args.files)?;
        let explicit = !files.is_empty();
        let files = match files_or_shipped(ctx, sub, files)? {
            Ok(files) => files,
            Err(why) => return Ok(Err(why)),
        };
        let files = files.into_iter().filter(|f| explicit || f.starts_with("scenarios")).collect();
        let jobs = args.jobs.map(|j| j as usize);
        Ok(Ok(Selection { seed: args.seed, seeds: args.seeds, jobs, json, explicit, files }))
    }

    /// Why the files cannot be swept as named: one file named twice (also under two
    /// spellings, `a.yaml` and `x/../a.yaml`), whose runs would each count twice in its
    /// section, as sections and runs are matched by file. `graph` refuses two files of
    /// one stem alike.
    pub(crate) fn named_twice(&self) -> Option<String> {
        let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
        for file in &self.files {
            // A file that cannot be read is reported, with its reason, as it is loaded.
            let Ok(real) = file.canonicalize() else { continue };
            if let Some((_, first)) = seen.iter().find(|(r, _)| *r == real) {
                let how = if *first == file {
                    format!("{} is named twice", file.display())
                } else {
                    format!("{} and {} are the same file", first.display(), file.display())
                };
                return Some(format!(
                    "{how}: each scenario runs once per seed in a sweep; name it once"
                ));
            }
            seen.push((real, file));
        }
        None
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

/// Why `--trace` cannot be given for `work`: it prints every event of one run, and
/// a sweep's traces (thousands of runs, each thousands of lines) would bury
/// everything else. The hint is the command for the first run alone.
pub(crate) fn trace_refused(ctx: &Ctx, sub: &str, trace: bool, work: &[Job<'_>]) -> Option<String> {
    let first = work.first().filter(|_| trace && work.len() > 1)?;
    let scenarios = work.iter().map(|j| &j.plan.file).collect::<std::collections::BTreeSet<_>>();
    let file = first.plan.file.display().to_string();
    let one = [file, "--seed".into(), first.seed.to_string(), "--trace".into()];
    Some(format!(
        "--trace prints every event of one run, and this selection is {} runs ({} scenario(s)); \
         hint: pick one run, e.g. `{}`",
        work.len(),
        scenarios.len(),
        ctx.command_line_with(sub, &one).line
    ))
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

/// Whether `plan` runs a design marked `broken` in the registry.
pub(crate) fn runs_broken_design(ctx: &Ctx, plan: &ScenarioPlan) -> bool {
    let designs = plan.topology.groups.iter().map(|g| g.design.as_str());
    designs.filter_map(|d| ctx.registry.get(d)).any(|spec| spec.is_broken())
}

/// Loads every scenario, printing diagnostics; `None` when any does not resolve.
pub(crate) fn load_all(ctx: &Ctx, files: &[PathBuf]) -> Option<Vec<ScenarioPlan>> {
    let mut plans = Vec::new();
    let mut bad = false;
    for f in files {
        let mut loaded = resolve::load_scenario(f, &ctx.registry);
        // Running a deliberately broken design is the point of such a scenario: the
        // warning is for `check`, and `print_broken` says they ran. Known by the
        // design's `broken` flag, wherever the file is.
        if loaded.plan.as_ref().is_some_and(|p| runs_broken_design(ctx, p)) {
            loaded.diagnostics.retain(|d| d.code != "broken-design");
        }
        if !loaded.diagnostics.is_empty() {
            err!("{}", render(&loaded.diagnostics));
        }
        if loaded.diagnostics.iter().any(|d| d.code == "not-a-scenario") {
            let naming = scenarios_naming(ctx, f);
            if !naming.is_empty() {
                let shown: Vec<String> =
                    naming.iter().map(|s| ctx.shown(s).display().to_string()).collect();
                let file = f.canonicalize().unwrap_or_else(|_| f.clone());
                errln!("scenarios that run {}: {}", ctx.shown(&file).display(), shown.join(", "));
            }
        }
        match loaded.plan {
            Some(p) => plans.push(p),
            None => bad = true,
        }
    }
    if bad {
        errln!("fix the errors above, or check a file alone with `{} check FILE`", ctx.tool);
        return None;
    }
    Some(plans)
}

/// Says how many of `plans` run a deliberately broken design on purpose; printed
/// once the sweep is sure to run, never above a refusal.
pub(crate) fn print_broken(ctx: &Ctx, plans: &[ScenarioPlan]) {
    let broken = plans.iter().filter(|p| runs_broken_design(ctx, p)).count();
    if broken > 0 {
        outln!(
            "{broken} scenario(s) run deliberately broken designs (marked `broken`), to show their bugs caught"
        );
    }
}

/// The shipped scenarios whose topology is the file `topology`, in the shipped order:
/// what to run instead when a topology was named where a scenario belongs. Each is
/// resolved as `sim` would; one that does not resolve names nothing.
fn scenarios_naming(ctx: &Ctx, topology: &Path) -> Vec<PathBuf> {
    let Ok(wanted) = topology.canonicalize() else { return Vec::new() };
    let names_it = |scenario: &Path| {
        let plan = resolve::load_scenario(scenario, &ctx.registry).plan;
        plan.is_some_and(|p| p.topology.file.canonicalize().is_ok_and(|f| f == wanted))
    };
    let shipped = crate::files::shipped_files(&ctx.root).unwrap_or_default();
    shipped
        .into_iter()
        .filter(|s| s.starts_with(ctx.root.join("scenarios")) && names_it(s))
        .collect()
}

/// Runs every job with progress (see `progress.rs`), measuring each trace for the
/// report and drawing its failures as its run finishes, and letting it go unless
/// `--trace` wants it printed.
fn run_with_progress(
    work: &[Job<'_>],
    ctx: &Ctx,
    threads: usize,
    keep_traces: bool,
    measured: &Measurements,
) -> Vec<RunReport> {
    let progress = Progress::new(work.len());
    // Kept compact: measured here, then let go unless `--trace` prints it.
    let keep = KeepTrace::Compact;
    let reports = run_many_with(work, &ctx.registry, threads, keep, &|r: &mut RunReport| {
        if let (Some(trace), Some(job)) = (&r.trace, work.iter().find(|j| j.plan.file == r.file)) {
            measured.add(job.plan, trace);
            // Drawn now, from the trace in hand: the report runs nothing again.
            measured.draw_failures(job.plan, r);
        }
        if !keep_traces {
            r.trace = None;
        }
        let mark = if r.as_expected { "ok " } else { "BAD" };
        let memory = r.memory.map(|m| format!(", {}", m.text())).unwrap_or_default();
        let idle = r.idle_from_ms.map(|t| format!(", idle from {t} ms")).unwrap_or_default();
        let what = format!(
            "{mark} {} seed {} ({} events, {} ms simulated{idle}, {} ms wall{memory})",
            r.scenario, r.seed, r.events, r.sim_ms, r.wall_ms
        );
        progress.tick(&what, !r.as_expected);
    });
    progress.finish();
    reports
}

fn check_determinism(ctx: &Ctx, work: &[Job<'_>], threads: usize, first: &[RunReport]) -> usize {
    outln!("determinism: running every seed again");
    let second = run_many(work, &ctx.registry, threads, false, &|_| {});
    let mut mismatches = 0;
    for (a, b) in first.iter().zip(&second) {
        if a.trace_hash != b.trace_hash || a.events != b.events {
            mismatches += 1;
            outln!(
                "NONDETERMINISTIC {} seed {}: trace {:016x} then {:016x}\n  repro: {} --check-determinism",
                a.scenario,
                a.seed,
                a.trace_hash,
                b.trace_hash,
                a.repro_in(&ctx.tool)
            );
        }
    }
    mismatches
}

/// Prints each run that did not end as expected, with what went wrong and its repro.
fn print_failures(ctx: &Ctx, plans: &[ScenarioPlan], reports: &[RunReport]) -> usize {
    let bad: Vec<&RunReport> = reports.iter().filter(|r| !r.as_expected).collect();
    if !bad.is_empty() {
        outln!();
    }
    for r in &bad {
        let plan = plans.iter().find(|p| p.file == r.file);
        let expect = plan.map_or(expected_text(&r.expected), |p| p.expect_text());
        outln!("SEED={} {} did not end as expected ({expect})", r.seed, r.scenario);
        if let Some(p) = plan {
            print_counts(p, r);
        }
        if let Some(e) = &r.error {
            outln!("  {e}");
        }
        for o in r.invariants.iter().filter(|o| o.verdict != Verdict::Pass) {
            let first = o.violations.first().map(|v| format!(": {}", v.text)).unwrap_or_default();
            let note = o.note.as_ref().map(|n| format!(" [{n}]")).unwrap_or_default();
            outln!(
                "  {} {} ({} violation(s)){first}{note}",
                o.name,
                o.verdict,
                o.violation_count()
            );
        }
        outln!("  repro: {}", r.repro_in(&ctx.tool));
    }
    bad.len()
}

/// Prints the counts a scenario's `expect` bounds, as this run had them.
fn print_counts(p: &ScenarioPlan, r: &RunReport) {
    for (name, range) in &p.expect_bounds.violations {
        let n = r.invariants.iter().find(|o| o.name == name).map_or(0, Outcome::violation_count);
        outln!("  {name}: {n} violation(s), expected {range}");
    }
    for (reason, range) in &p.expect_bounds.drops {
        let n = r.drops.get(reason).copied().unwrap_or(0);
        outln!("  drops {}: {n}, expected {range}", plan::drop_reason_name(*reason));
    }
}

/// Prints a run's trace, one event a line, with replica names.
pub(crate) fn print_trace(r: &RunReport, plans: &[ScenarioPlan]) {
    let Some(trace) = &r.trace else { return };
    let Some(plan) = plans.iter().find(|p| p.file == r.file) else { return };
    outln!(
        "\ntrace of {} seed {} ({} events, hash {:016x})",
        r.scenario,
        r.seed,
        trace.len(),
        r.trace_hash
    );
    for e in trace.iter() {
        let who = match (e.node, e.socket) {
            (Some(n), Some(s)) => plan.topology.socket_name(n, usize::from(s)),
            (Some(n), None) => plan.topology.replica_name(n),
            (None, _) => "-".to_owned(),
        };
        let what = crate::report::seqdiag::event_text(plan, trace, &e.kind);
        outln!("{:>12.3?} {who} {what}", e.at);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::registry::Registry;

    /// A sweep of every shipped scenario leaves out `comet-1m` (too large for CI),
    /// listing it with its reason and the command that runs it; named, it runs.
    #[test]
    fn the_million_user_comet_runs_only_when_named() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let file = root.join("scenarios/comet-1m.yaml");
        let registry = Registry::builtin();
        let loaded = resolve::load_scenario(&file, &registry);
        let plan = loaded.plan.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
        assert_eq!(plan.topology.groups.iter().map(|g| u64::from(g.count)).sum::<u64>(), 1_000_002);
        let ctx = Ctx { registry, tool: "my-tool".into(), root, rest: Vec::new() };
        let sel = |explicit| Selection {
            seed: None,
            seeds: None,
            jobs: None,
            json: None,
            explicit,
            files: vec![file.clone()],
        };
        let why = left_out(&ctx, &sel(false), &plan).expect("left out of a whole sweep");
        assert!(why.starts_with("1,000,000 subscribers"), "{why}");
        assert!(why.ends_with(&format!("run it with `my-tool sim {}`", file.display())), "{why}");
        assert_eq!(left_out(&ctx, &sel(true), &plan), None, "named, it runs");
        let mut every_sweep = plan;
        every_sweep.only_when_named = None;
        assert_eq!(left_out(&ctx, &sel(false), &every_sweep), None);
    }
}
