//! `compare`: one scenario's workload and faults over several designs, in simulation
//! and (with `--real`) on the real network, as a table of throughput, latency,
//! messages per request and invariant verdicts, and as a report
//! (`reports/compare/<time>.{json,html}` and `latest.*`, or the pair at `--json
//! PATH`) with one section per design and backend, drawn side by side.
//!
//! Each side is a name and the topology that runs it: `--design NAME=TOPOLOGY`
//! (repeatable), a compare file (`--sides FILE`, see `run::compare::read_sides`), or
//! shipped brokers by name (`--designs`, default all of `SHIPPED_BROKERS`). The
//! scenario is resolved once per side with its `topology:` swapped and the `clients`
//! and `workers` parameters set alike (`run::compare::variant`), so every design
//! serves the same clients with the same number of workers. Faults and workloads must
//! therefore name groups every topology has (`client`, `worker`); one that does not is
//! reported as the resolver's error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Ctx;
use super::args::CompareArgs;
use super::check::{absolute, absolute_then_enter};
use super::error::Error;
use super::report::{Place, check_place, save};
use crate::plan::ScenarioPlan;
use crate::report::compare::{Entry, compare_report};
use crate::run::compare::{Row, SHIPPED_BROKERS, Side, read_sides, shared_params, variant};
use crate::run::real::{RealOptions, scaled, skip_reason};
use crate::run::{Backend, Job, RunReport, run_many, run_many_real};
use crate::spec::code::Code;
use crate::spec::diag::render;
use crate::spec::edit::{Tree, parse_tree};
use crate::spec::{
    Diagnostic, Diagnostics, Seg, Severity, SourceFile, Target, YamlPath, locate, printable,
};

/// Each design's runs on one backend, with the plan as run, their traces, and the
/// command that runs that design alone again.
type Ran = (Row, ScenarioPlan, Vec<RunReport>, String);

pub fn compare(ctx: &Ctx, args: CompareArgs) -> Result<ExitCode, Error> {
    let command = ctx.command_line("compare");
    let json_path = args.json.as_deref().map(absolute).transpose()?;
    let typed: Vec<Side> = args
        .design
        .iter()
        .map(|(name, t)| Ok(Side { name: name.clone(), topology: absolute(t)? }))
        .collect::<Result<_, Error>>()?;
    let sides_file = args.sides.as_deref().map(absolute).transpose()?;
    let files = absolute_then_enter(ctx, std::slice::from_ref(&args.scenario))?;
    let scenario = &files[0];
    let Some(Sides { sides, params, params_file }) =
        sides(ctx, &args, typed, sides_file.as_deref())?
    else {
        return Ok(ExitCode::from(2));
    };
    let place = json_path.as_deref().map_or(Place::Dated(Path::new("reports/compare")), Place::At);
    if !check_place(&place) {
        return Ok(ExitCode::from(2));
    }
    // Read as every input file is: a pipe, a device, a huge or non-UTF-8 file is named
    // as such rather than hanging or failing as "cannot read".
    let src = match SourceFile::read(scenario) {
        Ok(src) => src,
        Err(d) => {
            err!("{}", render(&[d]));
            return Ok(ExitCode::from(2));
        }
    };
    let mut plans = Vec::new();
    for side in &sides {
        let loaded = variant(&src, &side.topology, &params, &ctx.registry);
        if !loaded.diagnostics.is_empty() {
            let told = |d| at_compare_file(d, params_file.as_ref());
            let diagnostics: Vec<Diagnostic> = loaded.diagnostics.into_iter().map(told).collect();
            err!("{}", render(&diagnostics));
        }
        let Some(plan) = loaded.plan else {
            let topology = ctx.shown(&side.topology);
            errln!(
                "(while putting `{}` ({}) under {}; lines count in the scenario as rewritten \
                 for this side: `topology:` swapped, `params:` set to {}{}, comments dropped. \
                 Every side's topology must declare those parameters; a compare file \
                 (--sides) can set others.)",
                printable(&side.name),
                topology.display(),
                scenario.display(),
                params_text(&params),
                params_file.as_ref().and_then(params_written).map_or_else(String::new, |at| {
                    format!(" by the compare file's `params:` at {at}")
                }),
            );
            return Ok(ExitCode::from(2));
        };
        plans.push((side, plan));
    }
    if args.real && !runs_for_real(ctx, &args, &plans) {
        return ctx.usage_error(
            "compare",
            "--real: the design(s) above cannot run on the real network; \
             hint: drop --real to compare them in simulation only",
        );
    }
    let ran = run_sides(ctx, &args, scenario, &plans);
    let name = plans.first().map(|(_, p)| p.name.clone()).unwrap_or_default();
    let rows: Vec<&Row> = ran.iter().map(|(row, ..)| row).collect();
    print_table(&name, &params, &rows);
    let entries: Vec<Entry<'_>> =
        ran.iter().map(|(row, plan, reports, repro)| Entry { row, plan, reports, repro }).collect();
    let mut report = compare_report(command, &name, &entries, &ctx.registry);
    report.notes.push(format!("Every design runs with the parameters {}.", params_text(&params)));
    if !save(&mut report, place)? {
        return Ok(ExitCode::from(2));
    }
    // A run that could not run exits as under `real`: 2, or 1 for an internal error.
    let errors = ran.iter().flat_map(|(_, _, reports, _)| reports.iter());
    Ok(super::real::ran_code(errors.filter_map(|r| r.error.as_ref())))
}

/// The sides to compare and the parameters they all run with.
struct Sides {
    sides: Vec<Side>,
    params: Tree,
    /// The compare file, when one gave `params`: a parameter a side's topology
    /// refuses is told at that file's line, and the note says where they came from.
    params_file: Option<SourceFile>,
}

/// The sides and parameters the arguments name; `None` after printing a usage error
/// or the compare file's diagnostics. Every side has its own, non-empty name (the
/// table and the report tell them apart by it) and a topology that is there: one that
/// is not is named where the user wrote it, never at the scenario's `topology:` line
/// it would be swapped into.
fn sides(
    ctx: &Ctx,
    args: &CompareArgs,
    typed: Vec<Side>,
    sides_file: Option<&Path>,
) -> Result<Option<Sides>, Error> {
    if !typed.is_empty() {
        // As typed: `mine=topologies/my-broker.yaml`.
        let given = |(n, p): &(String, PathBuf)| format!("{}={}", printable(n), p.display());
        for (i, (design, side)) in args.design.iter().zip(&typed).enumerate() {
            if let Some(first) = args.design[..i].iter().find(|(n, _)| *n == design.0) {
                let message = format!(
                    "--design {} and --design {} give the name `{}` twice; hint: give each \
                     design its own name, as the table and the report tell them apart by it",
                    given(first),
                    given(design),
                    printable(&design.0)
                );
                ctx.usage_error("compare", &message)?;
                return Ok(None);
            }
            if let Err(e) = std::fs::metadata(&side.topology) {
                let message = format!(
                    "--design {}: the topology file cannot be read: {e}; hint: the path is \
                     relative to the folder the command was typed in",
                    given(design)
                );
                ctx.usage_error("compare", &message)?;
                return Ok(None);
            }
        }
        return Ok(Some(Sides { sides: typed, params: shared_params(), params_file: None }));
    }
    if let Some(file) = sides_file {
        let read = SourceFile::read(ctx.shown(file)).map_err(|d| vec![d]);
        let src = match read {
            Ok(src) => src,
            Err(diags) => {
                err!("{}", render(&diags));
                return Ok(None);
            }
        };
        return match read_sides(&src) {
            // The file was read by its path from the root, so its sides' topologies
            // are too; made absolute, they resolve wherever the scenario lies.
            Ok((sides, params)) => {
                let at_root = |s: Side| Side { topology: ctx.root.join(&s.topology), ..s };
                let params_file = params_written(&src).is_some().then_some(src);
                let sides = sides.into_iter().map(at_root).collect();
                Ok(Some(Sides { sides, params, params_file }))
            }
            Err(diags) => {
                err!("{}", render(&diags));
                Ok(None)
            }
        };
    }
    let names: Vec<&str> = if args.designs.is_empty() {
        SHIPPED_BROKERS.iter().map(|(d, _)| *d).collect()
    } else {
        args.designs.iter().map(|d| d.trim()).collect()
    };
    let mut sides: Vec<Side> = Vec::new();
    for name in names {
        if sides.iter().any(|s| s.name == name) {
            let message =
                format!("--designs names `{}` twice; hint: name each design once", printable(name));
            ctx.usage_error("compare", &message)?;
            return Ok(None);
        }
        let Some((_, topology)) = SHIPPED_BROKERS.iter().find(|(d, _)| *d == name) else {
            let known: Vec<&str> = SHIPPED_BROKERS.iter().map(|(d, _)| *d).collect();
            let message = format!(
                "compare knows no shipped design `{}`; it knows: {} (name any other with --design NAME=TOPOLOGY)",
                printable(name),
                known.join(", ")
            );
            ctx.usage_error("compare", &message)?;
            return Ok(None);
        };
        let path = ctx.root.join(topology);
        if let Err(e) = std::fs::metadata(&path) {
            let message = format!(
                "the shipped design `{name}` runs {topology}, which cannot be read in {}: {e}; \
                 hint: name its topology with --design {name}=PATH",
                ctx.root.display()
            );
            ctx.usage_error("compare", &message)?;
            return Ok(None);
        }
        sides.push(Side { name: name.to_owned(), topology: path });
    }
    Ok(Some(Sides { sides, params: shared_params(), params_file: None }))
}

/// `d`, a diagnostic about the scenario as rewritten for a side, told at the compare
/// file's own line when it is about a parameter that file set (`params.workers`): the
/// rewritten scenario's lines are in no file the user has. Anything else, or with no
/// compare file, is `d` as it was.
fn at_compare_file(d: Diagnostic, compare: Option<&SourceFile>) -> Diagnostic {
    let Some(compare) = compare else { return d };
    let Some(path) = d.yaml_path.clone() else { return d };
    let written = match path.segs() {
        [Seg::Key(top), Seg::Key(name), ..] if top == "params" => {
            locate(compare, &YamlPath::root().key("params").key(name.as_str()), Target::Key)
        }
        _ => None,
    };
    if written.is_none() {
        return d;
    }
    // The key itself for a parameter no topology declares, else the value.
    let target = if d.code == Code::UnknownParam { Target::Key } else { Target::Value };
    let mut diags = Diagnostics::new(compare);
    let told = match d.severity {
        Severity::Error => diags.error(&path, target, d.code, d.message),
        Severity::Warning => diags.warning(&path, target, d.code, d.message),
    };
    if let Some(hint) = d.hint {
        told.hint(hint);
    }
    diags.into_vec().pop().expect("one diagnostic was recorded")
}

/// Where a compare file writes its `params` (`FILE:LINE:COLUMN`), if it does: `read_sides`
/// gives the defaults when it does not, and a path that is not in the file locates
/// at its start.
fn params_written(src: &SourceFile) -> Option<String> {
    let doc = parse_tree(src, &mut Diagnostics::new(src))?;
    doc.get("params")?;
    let at = locate(src, &YamlPath::root().key("params"), Target::Value)?;
    Some(format!("{}:{}:{}", src.path.display(), at.line, at.column))
}

/// Whether every side can run on the real network as `--real` asks, after printing
/// why each one that cannot does not. Checked before any run, as `real` checks the
/// scenarios it is given: a time scale that makes a run too long is the user's to
/// change, not a failure found after every simulated seed has run.
fn runs_for_real(ctx: &Ctx, args: &CompareArgs, plans: &[(&Side, ScenarioPlan)]) -> bool {
    let opts = real_options(args.time_scale);
    let mut all = true;
    for (side, plan) in plans {
        if let Some(why) = skip_reason(plan, &ctx.registry, opts) {
            errln!("{}: cannot run on the real network: {why}", printable(&side.name));
            all = false;
        }
    }
    all
}

/// How `--real` runs a side: at the time scale given, endpoints printed.
fn real_options(time_scale: f64) -> RealOptions {
    RealOptions { time_scale, print_endpoints: true, ..RealOptions::default() }
}

/// Runs each side's seeds in the simulator, and once on the real network with `--real`.
fn run_sides(
    ctx: &Ctx,
    args: &CompareArgs,
    scenario: &Path,
    plans: &[(&Side, ScenarioPlan)],
) -> Vec<Ran> {
    let threads = args.jobs.map_or_else(super::sim::cores, |j| j as usize);
    let seeds = args.seeds;
    let mut ran = Vec::new();
    for (side, plan) in plans {
        let design = side.name.as_str();
        let work: Vec<Job<'_>> = (1..=seeds).map(|seed| Job { plan, seed }).collect();
        outln!("{design}: {seeds} simulated run(s)");
        let sim = run_many(&work, &ctx.registry, threads, true, &|_| {});
        let repro = repro(ctx, scenario, side, seeds);
        ran.push((Row::of(design, Backend::Sim, &sim), plan.clone(), sim, repro.clone()));
        if args.real {
            let time_scale = args.time_scale;
            outln!("{design}: 1 real run (time scale {time_scale})");
            let real = run_many_real(
                &work[..1],
                &ctx.registry,
                1,
                real_options(time_scale),
                true,
                &|_| {},
            );
            // `real` keeps it beside its report; here it stays where the run wrote it.
            let output: std::collections::BTreeSet<&Path> =
                real.iter().flat_map(|r| &r.process_output).filter_map(|f| f.parent()).collect();
            for dir in output {
                outln!("{design}: programs' output: {}", dir.display());
            }
            let row = Row::of(design, Backend::Real, &real);
            let repro = format!("{repro} --real --time-scale {time_scale}");
            ran.push((row, scaled(plan, time_scale), real, repro));
        }
    }
    ran
}

/// The command that runs this side alone again.
fn repro(ctx: &Ctx, scenario: &Path, side: &Side, seeds: u64) -> String {
    let topology: PathBuf = ctx.shown(&side.topology);
    format!(
        "{} compare {} --design {}={} --seeds {seeds}",
        ctx.tool,
        scenario.display(),
        side.name,
        topology.display()
    )
}

/// `{clients: 4, workers: 3}`.
fn params_text(params: &Tree) -> String {
    let entries: Vec<String> = params
        .entries()
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_yaml().trim().replace('\n', " ")))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

fn print_table(scenario: &str, params: &Tree, rows: &[&Row]) {
    let ms = |d: Option<std::time::Duration>| {
        d.map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0))
    };
    outln!(
        "\n{scenario}: {}; latency in ms (simulated or real), throughput in replies per second of the busy span",
        params_text(params)
    );
    outln!(
        "{:<14} {:<5} {:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  INVARIANTS",
        "DESIGN",
        "NET",
        "RUNS",
        "SERVED",
        "REQ/S",
        "P50",
        "P99",
        "P99.9",
        "MSG/REQ"
    );
    for r in rows {
        let m = &r.metrics;
        let verdicts: Vec<String> = r
            .verdicts
            .iter()
            .map(|(name, by)| {
                let counts: Vec<String> = by.iter().map(|(v, n)| format!("{v}×{n}")).collect();
                format!("{name} {}", counts.join(" "))
            })
            .collect();
        outln!(
            "{:<14} {:<5} {:>4} {:>9} {:>8.1} {:>8} {:>8} {:>8} {:>8}  {}",
            r.design,
            r.backend.to_string(),
            r.runs,
            format!("{}/{}", m.served, m.issued),
            m.throughput(),
            ms(m.latency(0.5)),
            ms(m.latency(0.99)),
            ms(m.latency(0.999)),
            m.messages_per_request().map_or("-".to_owned(), |x| format!("{x:.2}")),
            verdicts.join(", ")
        );
        for e in &r.errors {
            outln!("    {e}");
        }
    }
}
