//! `real`: run scenarios over real TCP on 127.0.0.1 through the fault proxies, print
//! verdicts and whether they match the scenario's `expect`, write the report
//! (`reports/real/<time>.{json,html}` and `latest.*`, or the pair at `--json PATH`).
//!
//! Each run is measured as it finishes; the traces of runs that failed an invariant
//! are kept to be drawn, since running a real seed again need not fail again.
//!
//! A real run is not deterministic and its timing is the machine's, so a verdict
//! that differs from `expect` is reported, not treated as a failure: the command
//! fails only when the input is wrong or a run could not run at all (exit 2: a
//! program that did not start or get ready, too few descriptors), or patchbay itself
//! failed (exit 1: an internal error). After the table it says what went wrong with
//! the external programs while the runs went on (one that exited, one whose
//! connections were closed for a protocol error), which the verdicts alone do not.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Ctx;
use super::args::{RealArgs, RealPorts};
use super::error::Error;
use super::report::{Place, check_place, save_json};
use super::sim::{
    Selection, load_all, print_broken, print_trace, side_by_side, split, trace_refused,
};
use crate::invariant::Verdict;
use crate::plan::ScenarioPlan;
use crate::report::sweep::{Measurements, real_report};
use crate::report::{FileLink, Report};
use crate::run::process::{OUTPUT_FILE_MAX, ProgramTrouble};
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
    print_broken(ctx, &plans);
    outln!(
        "running {} real run(s) of {} scenario(s) on 127.0.0.1, {} at a time, time scale {}",
        work.len(),
        plans.len(),
        side_by_side(threads, work.len()),
        opts.time_scale
    );
    // The plans as run, for measuring and drawing: faults and phases where they were.
    let as_run: Vec<ScenarioPlan> = plans.iter().map(|p| scaled(p, opts.time_scale)).collect();
    let measured = Measurements::default();
    let keep = args.sweep.trace;
    let mut reports = run_all(ctx, &work, &as_run, threads, opts, keep, &measured);
    if keep {
        for r in &reports {
            print_trace(r, &plans);
        }
    }
    let mut report = real_report(command, &as_run, &ctx.registry, &reports, &measured, &skipped);
    super::table::print_real(&report);
    let capped = capped_output(&reports);
    // Checked before the runs; if the path was taken since, the summary still prints.
    let saved = save_json(&mut report, place)?;
    let mut kept = Vec::new();
    if let Some(json) = &saved {
        (report.files, kept) = keep_program_output(json, &reports);
        // Known only now: the saved report (written again below) and the lines
        // printed name each program's output file where it was kept.
        name_kept_output(&mut reports, &mut report.runs, &kept);
        link_program_output(&report, json, &place);
    }
    let saved = saved.is_some();
    if capped > 0 {
        outln!(
            "note: {capped} program output file(s) reached {OUTPUT_FILE_MAX} bytes (`OUTPUT_FILE_MAX`): the rest was read and not kept, as each file's last line says"
        );
    }
    print_program_troubles(&reports, &kept);
    print_skipped(&skipped);
    let errors: Vec<&RunReport> = reports.iter().filter(|r| r.error.is_some()).collect();
    for r in &errors {
        let error = r.error.as_ref().expect("filtered");
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
    Ok(ran_code(errors.iter().filter_map(|r| r.error.as_ref())))
}

/// The exit code of `real` or `compare` once its runs ran, given why each run that
/// could not run did not: 0 with none; 1 when one is patchbay's own failure
/// ([`RunError::Internal`]), as every command's internal error is; else 2, as for a
/// `sim` run that did not end as expected: the user's program, the machine's limits
/// or the input stopped it, and the reason is printed.
pub(crate) fn ran_code<'a>(errors: impl IntoIterator<Item = &'a RunError>) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for e in errors {
        match e {
            RunError::Internal(_) => return ExitCode::from(1),
            RunError::NotRunnable(_) | RunError::ProgramFailed { .. } => code = ExitCode::from(2),
        }
    }
    code
}

/// Prints, for each run whose external programs went wrong while it went on, one
/// line per program and trouble: the node, when, what happened, and where its output
/// is (where it was `kept`, when it was). The verdicts only show what followed
/// ("never got a reply"); `--trace` alone showed the cause.
fn print_program_troubles(reports: &[RunReport], kept: &[Moved]) {
    for r in reports.iter().filter(|r| !r.program_troubles.is_empty()) {
        outln!();
        outln!("what went wrong with the programs of {} seed {}:", r.scenario, r.seed);
        for t in &r.program_troubles {
            outln!("  {}", trouble_line(t, kept));
        }
    }
}

/// One program's trouble as [`print_program_troubles`] prints it.
fn trouble_line(t: &ProgramTrouble, kept: &[Moved]) -> String {
    let output = t.output.as_ref().map(|out| {
        let out = kept.iter().find(|(from, _)| from == out).map_or(out, |(_, to)| to);
        let err = out.with_extension("err");
        let err = err.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        format!("; its output: {}, {err} beside it", out.display())
    });
    format!("{} at {:.3?}: {}{}", t.node, t.at, t.what, output.unwrap_or_default())
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

/// How many of the runs' program output files the copy cut at `OUTPUT_FILE_MAX`
/// (only those hold more: the cap, then the line saying so).
fn capped_output(reports: &[RunReport]) -> usize {
    let files = reports.iter().flat_map(|r| &r.process_output);
    files.filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > OUTPUT_FILE_MAX)).count()
}

/// Moves every external program's output files beside the report, into
/// `<report>-files/<scenario>-seed<N>/` (runs of several scenarios may have nodes of
/// one name), says where they are, and returns a link to each, relative to the page,
/// and each file's old and new path.
///
/// The folder is patchbay's, marked so ([`FILES_MARKER`]): a folder of that name that
/// is not (the user's) is left alone and the next free name taken (`<report>-files-2`),
/// and one patchbay made (a run before with the same `--json`) loses the files it
/// kept then, so runs never mix. Each run's folder is one safe name (a scenario's
/// name may hold `/` or `..`), and its own (two scenarios may share a name: the
/// second is `<scenario>-seed<N>-2`); no file is ever written over.
fn keep_program_output(json: &Path, reports: &[RunReport]) -> (Vec<FileLink>, Vec<Moved>) {
    let mut moved = Vec::new();
    if reports.iter().all(|r| r.process_output.is_empty()) {
        return (Vec::new(), moved);
    }
    let stem = json.file_stem().map_or("report".into(), |s| s.to_string_lossy());
    let Some((folder, dir)) = files_folder(json, &stem) else {
        return (Vec::new(), moved);
    };
    let mut links = Vec::new();
    let mut taken = BTreeSet::new();
    let mut kept = Vec::new();
    let mut left = BTreeSet::new();
    for r in reports.iter().filter(|r| !r.process_output.is_empty()) {
        let base = format!("{}-seed{}", path_component(&r.scenario), r.seed);
        let run = fresh_name(&mut taken, &dir, &base);
        let to_dir = dir.join(&run);
        if let Err(e) = std::fs::create_dir(&to_dir) {
            errln!("warning: cannot create `{}` for the programs' output: {e}", to_dir.display());
            continue;
        }
        for f in &r.process_output {
            let Some(name) = f.file_name() else { continue };
            let to = to_dir.join(name);
            if let Err(e) = move_new(f, &to) {
                errln!("warning: cannot keep `{}` as `{}`: {e}", f.display(), to.display());
                continue;
            }
            left.extend(f.parent().map(Path::to_path_buf));
            moved.push((f.clone(), to));
            let name = name.to_string_lossy();
            kept.push(format!("{run}/{name}"));
            let label = match run == base {
                true => format!("{} seed {}: {name}", r.scenario, r.seed),
                false => format!("{} seed {} ({run}): {name}", r.scenario, r.seed),
            };
            links.push(FileLink { href: format!("{folder}/{run}/{name}"), label });
        }
    }
    if let Err(e) = mark_files_folder(&dir, &kept) {
        errln!("warning: cannot list the programs' output in `{}`: {e}", dir.display());
    }
    // The run's temporary folders, emptied.
    for dir in left {
        let _ = std::fs::remove_dir(dir);
    }
    outln!("programs' output: {}", dir.display());
    (links, moved)
}

/// The file that marks a programs'-output folder as patchbay's: [`FILES_MARKER_HEAD`],
/// then the files kept there, one a line, relative to the folder.
const FILES_MARKER: &str = ".patchbay-files";
const FILES_MARKER_HEAD: &str = "patchbay kept programs' output here; its next run with this report's name replaces the files below";

/// The folder beside the report `json` that the programs' output goes in, and its
/// name: `<stem>-files`, made now, or made by patchbay before (then emptied of what it
/// kept there); else, when something not patchbay's holds that name, the first free
/// `<stem>-files-<n>`. `None` (said) when none can be had.
fn files_folder(json: &Path, stem: &str) -> Option<(String, PathBuf)> {
    let first = format!("{stem}-files");
    for n in 1..=100 {
        let folder = if n == 1 { first.clone() } else { format!("{first}-{n}") };
        let dir = json.with_file_name(&folder);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !clear_files_folder(&dir) {
                    continue;
                }
            }
            Err(e) => {
                errln!("warning: cannot create `{}` for the programs' output: {e}", dir.display());
                return None;
            }
        }
        // Claimed at once: if the run ends here, the folder is still known as ours.
        if let Err(e) = mark_files_folder(&dir, &[]) {
            errln!("warning: cannot write in `{}` for the programs' output: {e}", dir.display());
            return None;
        }
        if n > 1 {
            let taken = json.with_file_name(&first);
            errln!("note: {} is not patchbay's; left alone", taken.display());
        }
        return Some((folder, dir));
    }
    errln!("warning: no folder beside `{}` is free for the programs' output", json.display());
    None
}

/// Whether `dir` is a programs'-output folder patchbay made (a folder, not a link to
/// one, holding its marker); if so, removes every file its marker lists, and then
/// every folder those were in that is left empty.
fn clear_files_folder(dir: &Path) -> bool {
    let is_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    let marker = dir.join(FILES_MARKER);
    let is_file = std::fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file());
    let Some(text) = (is_dir && is_file).then(|| std::fs::read_to_string(&marker).ok()).flatten()
    else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(FILES_MARKER_HEAD) {
        return false;
    }
    let mut runs = BTreeSet::new();
    for line in lines {
        // Only `<run>/<file>`, as written: never a path out of the folder.
        let parts: Vec<_> = Path::new(line).components().collect();
        let [Component::Normal(run), Component::Normal(_)] = parts.as_slice() else { continue };
        let _ = std::fs::remove_file(dir.join(line));
        runs.insert(dir.join(run));
    }
    for run in runs {
        let _ = std::fs::remove_dir(run);
    }
    true
}

/// Writes the marker of the programs'-output folder `dir`, listing `kept`.
fn mark_files_folder(dir: &Path, kept: &[String]) -> std::io::Result<()> {
    let mut text = format!("{FILES_MARKER_HEAD}\n");
    for file in kept {
        text += file;
        text.push('\n');
    }
    std::fs::write(dir.join(FILES_MARKER), text)
}

/// `name` as one safe file name: ASCII letters, digits, `-`, `_` and `.` kept, any
/// other character `_`, never empty nor starting with `.` (so never `..`), at most
/// 64 characters.
fn path_component(name: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut s: String = name.chars().take(64).map(|c| if safe(c) { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// `base`, or `base-2`, `base-3`...: the first neither in `taken` nor in `dir`.
fn fresh_name(taken: &mut BTreeSet<String>, dir: &Path, base: &str) -> String {
    let mut n = 1;
    loop {
        let name = if n == 1 { base.to_owned() } else { format!("{base}-{n}") };
        if !taken.contains(&name) && std::fs::symlink_metadata(dir.join(&name)).is_err() {
            taken.insert(name.clone());
            return name;
        }
        n += 1;
    }
}

/// Moves the file `from` to `to`, which must not exist (nor be a link): a second
/// name made, then the old one removed; where no second name can be made (another
/// file system), a copy into a new file.
fn move_new(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(e),
        Err(_) => {
            let mut src = std::fs::File::open(from)?;
            let mut dst = std::fs::OpenOptions::new().write(true).create_new(true).open(to)?;
            if let Err(e) = std::io::copy(&mut src, &mut dst) {
                let _ = std::fs::remove_file(to);
                return Err(e);
            }
        }
    }
    let _ = std::fs::remove_file(from);
    Ok(())
}

/// A program's output file: where the run left it, and where it was kept.
type Moved = (std::path::PathBuf, std::path::PathBuf);

/// A run's error as printed and saved: one naming a program's output file names it
/// where it was kept, when it was (the file is the error's own path, never text
/// within it).
fn kept_error(error: &RunError, kept: &[Moved]) -> RunError {
    let moved = error.output().and_then(|file| kept.iter().find(|(from, _)| from == file));
    match moved {
        Some((_, to)) => error.with_output(to),
        None => error.clone(),
    }
}

/// Makes each run's error and program troubles name their program's output file
/// where it was `kept`, in the runs and in the report's rows of them (`run_rows`, one
/// per run in order), so the saved report says what the printed lines say: the saved
/// `error` named the temporary folder the files had just left.
fn name_kept_output(reports: &mut [RunReport], rows: &mut [serde_json::Value], kept: &[Moved]) {
    for (r, row) in reports.iter_mut().zip(rows) {
        for (i, trouble) in r.program_troubles.iter_mut().enumerate() {
            let Some(out) = &trouble.output else { continue };
            let Some((_, to)) = kept.iter().find(|(from, _)| from == out) else { continue };
            if let Some(text) = row.pointer_mut(&format!("/program_troubles/{i}/output")) {
                *text = serde_json::Value::from(to.display().to_string());
            }
            trouble.output = Some(to.clone());
        }
        let Some(error) = &r.error else { continue };
        let renamed = kept_error(error, kept);
        if let Some(text) = row.get_mut("error")
            && text.as_str() == Some(error.to_string().as_str())
        {
            *text = serde_json::Value::from(renamed.to_string());
        }
        r.error = Some(renamed);
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// F12 of the real-run probe: a scenario's name made the run's folder, so
    /// `../../x` or `/tmp/x` put the programs' output outside the report's folder.
    #[test]
    fn a_scenario_name_becomes_one_safe_file_name() {
        for (name, file) in [
            ("lru-nng-worker-kill", "lru-nng-worker-kill"),
            ("../../ESCAPED", "_.._.._ESCAPED"),
            ("/tmp/abs", "_tmp_abs"),
            ("..", "_.."),
            (".hidden", "_.hidden"),
            ("", "_"),
            ("a\\b c\u{e9}", "a_b_c_"),
        ] {
            assert_eq!(path_component(name), file, "{name:?}");
            let parts: Vec<_> = Path::new(file).components().collect();
            assert!(matches!(parts[..], [Component::Normal(_)]), "{file}");
        }
        assert_eq!(path_component(&"x".repeat(300)).len(), 64);
    }

    /// The marker of a programs'-output folder lists what patchbay may remove; a line
    /// naming anything but `<run>/<file>` in the folder (a marker edited by hand) is
    /// passed over, and a file is never moved over another.
    #[test]
    fn only_what_the_marker_lists_in_the_folder_is_removed_and_nothing_is_written_over() {
        let dir =
            std::env::temp_dir().join(format!("patchbay-files-marker-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let folder = dir.join("r-files");
        std::fs::create_dir_all(folder.join("s-seed1")).expect("folders");
        std::fs::write(dir.join("victim"), "keep").expect("a file outside");
        std::fs::write(folder.join("s-seed1/a.out"), "old").expect("a kept file");
        std::fs::write(folder.join("notes"), "mine").expect("the user's file");
        assert!(!clear_files_folder(&folder), "no marker: not patchbay's");
        let kept = ["s-seed1/a.out", "../victim", "s-seed1/../../victim", "/tmp/x/y", "notes"];
        mark_files_folder(&folder, &kept.map(String::from)).expect("marked");
        assert!(clear_files_folder(&folder), "patchbay's");
        assert!(!folder.join("s-seed1").exists(), "the listed file, and its emptied folder");
        assert_eq!(std::fs::read_to_string(dir.join("victim")).expect("left"), "keep");
        assert_eq!(std::fs::read_to_string(folder.join("notes")).expect("left"), "mine");

        let (from, to) = (dir.join("from"), folder.join("notes"));
        std::fs::write(&from, "new").expect("a file to move");
        assert!(move_new(&from, &to).is_err(), "`notes` is there");
        assert_eq!(std::fs::read_to_string(&to).expect("left"), "mine");
        move_new(&from, &folder.join("moved")).expect("moved");
        assert!(!from.exists());
        assert_eq!(std::fs::read_to_string(folder.join("moved")).expect("moved"), "new");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A new-user audit: a run that could not run because of the user's program
    /// exited 1, which the help called an internal error. It exits 2 now, as `sim`
    /// does for a run that did not end as it should; 1 is patchbay's own failure.
    #[test]
    fn a_run_that_could_not_run_exits_2_and_an_internal_error_1() {
        let program = RunError::ProgramFailed { why: "exited".to_owned(), output: "x.err".into() };
        let limit = RunError::NotRunnable("ran out of file descriptors".to_owned());
        let internal = RunError::Internal("a bug".to_owned());
        assert_eq!(ran_code([]), ExitCode::SUCCESS);
        assert_eq!(ran_code([&program]), ExitCode::from(2));
        assert_eq!(ran_code([&limit, &program]), ExitCode::from(2));
        assert_eq!(ran_code([&program, &internal, &limit]), ExitCode::from(1));
    }

    /// A program's trouble names its output where the command kept it, and its
    /// `.err` beside it.
    #[test]
    fn a_program_s_trouble_is_one_line_naming_its_output_where_it_was_kept() {
        let trouble = ProgramTrouble {
            node: "worker.0".to_owned(),
            at: std::time::Duration::from_micros(23_964),
            what: "exited on its own (exit status: 1)".to_owned(),
            output: Some(PathBuf::from("/tmp/o-1/worker.0.0.out")),
        };
        let kept =
            [(PathBuf::from("/tmp/o-1/worker.0.0.out"), PathBuf::from("/r/s/worker.0.0.out"))];
        assert_eq!(
            trouble_line(&trouble, &kept),
            "worker.0 at 23.964ms: exited on its own (exit status: 1); its output: /r/s/worker.0.0.out, worker.0.0.err beside it"
        );
        let left = trouble_line(&trouble, &[]);
        assert!(left.ends_with("its output: /tmp/o-1/worker.0.0.out, worker.0.0.err beside it"));
    }

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
            kept_error(&error, &kept).to_string(),
            format!("cannot run: {why}: /r/r-files/s-seed1/b.0.0.out")
        );
        // Not kept (the report could not be written): where the run left it.
        let left = kept_error(&error, &[]).to_string();
        assert_eq!(left, format!("cannot run: {why}: /tmp/o-1/b.0.0.out"));
        // An error naming no file is printed as it is, whatever it spells.
        let other = RunError::NotRunnable("cannot write `/tmp/o-1/b.0.0.out`".to_owned());
        let other = kept_error(&other, &kept).to_string();
        assert_eq!(other, "cannot run: cannot write `/tmp/o-1/b.0.0.out`");
    }
}
