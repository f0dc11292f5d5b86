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

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Ctx;
use super::args::{RealArgs, RealPorts};
use super::error::Error;
use super::report::{Place, check_place, save_json};
use super::sim::{Selection, load_all, print_trace, split, trace_refused};
use crate::invariant::Verdict;
use crate::plan::ScenarioPlan;
use crate::report::sweep::{Measurements, real_report};
use crate::report::{FileLink, Report};
use crate::run::real::{Ports, RealOptions, scaled, skip_reason};
use crate::run::{Job, RunError, RunReport, run_many_real};

/// Real runs share the machine's cores; fewer at once keeps their timing closer to
/// what one run alone would see.
const JOBS_DEFAULT: usize = 2;

pub fn real(ctx: &Ctx, args: RealArgs) -> Result<ExitCode, Error> {
    let command = ctx.command_line("real");
    let sel = match Selection::read(ctx, "real", &args.sweep)? {
        Ok(sel) => sel,
        Err(why) => return ctx.usage_error("real", &why),
    };
    if let Some(why) = sel.named_twice() {
        return ctx.usage_error("real", &why);
    }
    let ports = match args.ports {
        RealPorts::Ephemeral => Ports::Ephemeral,
        RealPorts::AsWritten => Ports::AsWritten,
    };
    let opts = RealOptions { time_scale: args.time_scale, ports, print_endpoints: true };
    let place = sel.json.as_deref().map_or(Place::Dated(Path::new("reports/real")), Place::At);
    if !check_place(&place) {
        return Ok(ExitCode::from(2));
    }
    let Some(plans) = load_all(ctx, &sel.files) else { return Ok(ExitCode::from(2)) };
    stop_programs_on_ctrl_c();
    let (plans, skipped) = split(plans, |p| skip_reason(p, &ctx.registry, opts));
    if sel.explicit && !skipped.is_empty() {
        print_skipped(&skipped);
        return ctx.usage_error("real", "the scenario(s) above cannot run on the real network");
    }
    // Runs side by side would each want the written ports: one at a time.
    let threads = match ports {
        Ports::AsWritten if sel.jobs.is_some_and(|j| j > 1) => {
            return ctx.usage_error("real", "`--ports as-written` runs one at a time: drop --jobs");
        }
        Ports::AsWritten => 1,
        Ports::Ephemeral => sel.jobs.unwrap_or(JOBS_DEFAULT),
    };
    // A real run is not a repeat of a simulated one: one seed per scenario by default.
    let work = sel.work(&plans, |p| p.seeds.iter().copied().take(1).collect());
    if let Some(why) = trace_refused(ctx, "real", args.sweep.trace, &work) {
        return ctx.usage_error("real", &why);
    }
    outln!(
        "running {} real run(s) of {} scenario(s) on 127.0.0.1, {threads} at a time, time scale {}",
        work.len(),
        plans.len(),
        opts.time_scale
    );
    // The plans as run, for measuring and drawing: faults and phases where they were.
    let as_run: Vec<ScenarioPlan> = plans.iter().map(|p| scaled(p, opts.time_scale)).collect();
    let measured = Measurements::default();
    let keep = args.sweep.trace;
    let reports = run_all(ctx, &work, &as_run, threads, opts, keep, &measured);
    if keep {
        for r in &reports {
            print_trace(r, &plans);
        }
    }
    let mut report = real_report(command, &as_run, &ctx.registry, &reports, &measured, &skipped);
    super::table::print_real(&report);
    // Checked before the runs; if the path was taken since, the summary still prints.
    let saved = save_json(&mut report, place)?;
    let mut kept = Vec::new();
    if let Some(json) = &saved {
        (report.files, kept) = keep_program_output(json, &reports);
        link_program_output(&report, json, &place);
    }
    let saved = saved.is_some();
    print_skipped(&skipped);
    let errors: Vec<&RunReport> = reports.iter().filter(|r| r.error.is_some()).collect();
    for r in &errors {
        let error = error_text(r.error.as_ref().expect("filtered"), &kept);
        outln!("ERROR {} seed {}: {error}", r.scenario, r.seed);
    }
    let differ = reports.iter().filter(|r| r.error.is_none() && !r.as_expected).count();
    outln!(
        "{} run(s) as expected, {differ} differ from `expect` (real timing; see above), {} could not run",
        reports.len() - differ - errors.len(),
        errors.len()
    );
    if !saved {
        return Ok(ExitCode::from(2));
    }
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Runs the real jobs, printing a line as each finishes and measuring its trace.
fn run_all(
    ctx: &Ctx,
    work: &[Job<'_>],
    as_run: &[ScenarioPlan],
    threads: usize,
    opts: RealOptions,
    keep: bool,
    measured: &Measurements,
) -> Vec<RunReport> {
    let finished = AtomicUsize::new(0);
    let total = work.len();
    run_many_real(work, &ctx.registry, threads, opts, true, &|r: &mut RunReport| {
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
    })
}

fn print_skipped(skipped: &[(String, String)]) {
    if skipped.is_empty() {
        return;
    }
    outln!("\nskipped {} scenario(s) on the real network:", skipped.len());
    for (name, why) in skipped {
        outln!("  {name}: {why}");
    }
}

/// Moves every external program's output files beside the report, into
/// `<report>-files/<scenario>-seed<N>/` (runs of several scenarios may have nodes of
/// one name), says where they are, and returns a link to each, relative to the page,
/// and each file's old and new path.
fn keep_program_output(json: &Path, reports: &[RunReport]) -> (Vec<FileLink>, Vec<Moved>) {
    let mut moved = Vec::new();
    if reports.iter().all(|r| r.process_output.is_empty()) {
        return (Vec::new(), moved);
    }
    let folder =
        format!("{}-files", json.file_stem().map_or("report".into(), |s| s.to_string_lossy()));
    let mut links = Vec::new();
    for r in reports.iter().filter(|r| !r.process_output.is_empty()) {
        let run = format!("{}-seed{}", r.scenario, r.seed);
        let dir = json.with_file_name(&folder).join(&run);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            errln!("warning: cannot create `{}` for the programs' output: {e}", dir.display());
            continue;
        }
        for f in &r.process_output {
            let Some(name) = f.file_name() else { continue };
            let to = dir.join(name);
            // A rename fails across file systems; a copy then does the same.
            if std::fs::rename(f, &to).is_err() && std::fs::copy(f, &to).is_err() {
                errln!("warning: cannot keep `{}` as `{}`", f.display(), to.display());
                continue;
            }
            moved.push((f.clone(), to));
            let name = name.to_string_lossy();
            let label = format!("{} seed {}: {name}", r.scenario, r.seed);
            links.push(FileLink { href: format!("{folder}/{run}/{name}"), label });
        }
    }
    outln!("programs' output: {}", json.with_file_name(&folder).display());
    (links, moved)
}

/// A program's output file: where the run left it, and where it was kept.
type Moved = (std::path::PathBuf, std::path::PathBuf);

/// A run's error as printed: one naming a program's output file names it where it
/// was kept, when it was (the file is the error's own path, never text within it).
fn error_text(error: &RunError, kept: &[Moved]) -> String {
    let moved = error.output().and_then(|file| kept.iter().find(|(from, _)| from == file));
    match moved {
        Some((_, to)) => error.with_output(to).to_string(),
        None => error.to_string(),
    }
}

/// Writes the report again with its links to the programs' output (known only once
/// the report's name was chosen): the pair at `json`, and `latest.*` beside a dated
/// report when they are the copies just written.
fn link_program_output(report: &Report, json: &Path, place: &Place<'_>) {
    if report.files.is_empty() {
        return;
    }
    let mut pairs = vec![json.to_path_buf()];
    if let Place::Dated(dir) = place {
        let latest = dir.join("latest.json");
        if crate::report::is_ours(&latest) {
            pairs.push(latest);
        }
    }
    for pair in pairs {
        if let Err(e) = crate::report::write_pair(&pair, report) {
            errln!("warning: cannot link the programs' output from `{}`: {e}", pair.display());
        }
    }
}

/// Ctrl-C during a real run kills every external program's process group before
/// patchbay exits (130, as a shell reports SIGINT), so none outlives the command.
fn stop_programs_on_ctrl_c() {
    let watch = || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            let n = crate::run::process::kill_all_live();
            errln!("interrupted: killed {n} external program(s)");
            std::process::exit(130);
        }
    };
    // Detached: it lives as long as the command and holds nothing the runs need.
    let _ = std::thread::Builder::new().name("ctrl-c".into()).spawn(watch);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A program's error names its output file where the command kept it: the file
    /// the error carries, matched as a path, not every text that spells a moved path.
    #[test]
    fn a_program_error_names_its_output_file_where_it_was_kept() {
        let file = |s: &str| PathBuf::from(s);
        // The ready line the program never printed spells the output file's path, and
        // the error of one run's `.out` is a prefix of the name of another's.
        let why = "node `b.0` (incarnation 0): the program did not print a line containing \
                   `/tmp/o-1/b.0.0.out` within 1s (raise `ready.timeout`); its output";
        let error =
            RunError::ProgramFailed { why: why.to_owned(), output: file("/tmp/o-1/b.0.0.out") };
        let kept = vec![
            (file("/tmp/o-1/b.0.0.out"), file("/r/r-files/s-seed1/b.0.0.out")),
            (file("/tmp/o-1/b.0.0.err"), file("/r/r-files/s-seed1/b.0.0.err")),
            (file("/tmp/o-1/b"), file("/r/elsewhere")),
        ];
        assert_eq!(
            error_text(&error, &kept),
            format!("cannot run: {why}: /r/r-files/s-seed1/b.0.0.out")
        );
        // Not kept (the report could not be written): where the run left it.
        assert_eq!(error_text(&error, &[]), format!("cannot run: {why}: /tmp/o-1/b.0.0.out"));
        // An error naming no file is printed as it is, whatever it spells.
        let other = RunError::NotRunnable("cannot write `/tmp/o-1/b.0.0.out`".to_owned());
        assert_eq!(error_text(&other, &kept), "cannot run: cannot write `/tmp/o-1/b.0.0.out`");
    }
}
