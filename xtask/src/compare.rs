//! `compare`: one scenario's workload and faults over several broker designs, in
//! simulation and (with `--real`) on the real network, as a table of throughput,
//! latency, messages per request and invariant verdicts, and as a report
//! (`reports/compare/<time>.{json,html}` and `latest.*`, or the pair at `--json
//! PATH`) with one section per design and backend, drawn side by side.
//!
//! The designs need different topologies (a QUEUE device talks to REP workers, an
//! LRU broker to REQ ready-workers, a Paranoid Pirate broker to DEALER workers), so
//! each design names its topology in `DESIGNS`; the scenario is resolved once per
//! design with its `topology:` swapped and the `clients` and `workers` parameters set
//! alike, so every design serves the same clients with the same number of workers.
//! Faults and workloads must therefore name groups every topology has (`client`,
//! `worker`); one that does not is reported as the resolver's error.

use std::path::Path;
use std::process::ExitCode;

use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::report::compare::{Entry, compare_report};
use patchbay::resolve;
use patchbay::run::compare::Row;
use patchbay::run::real::{RealOptions, scaled};
use patchbay::run::{Backend, Job, RunReport, run_many, run_many_real};
use patchbay::spec::diag::render;
use patchbay::spec::source::SourceFile;

use crate::args;
use crate::check::{absolute, absolute_then_enter, usage_error};
use crate::report::Place;

/// Each design `compare` knows, with the topology that runs it.
const DESIGNS: &[(&str, &str)] = &[
    ("queue-device", "topologies/queue.yaml"),
    ("lru-broker", "topologies/lru-broker.yaml"),
    ("ppp-broker", "topologies/ppp-broker.yaml"),
];
const DESIGNS_DEFAULT: &str = "queue-device,lru-broker,ppp-broker";
/// Every topology above takes these parameters; the same values for all keep the
/// workload equal.
const CLIENTS: u64 = 4;
const WORKERS: u64 = 3;

pub fn compare(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let command = crate::report::command_line("compare", &argv);
    let args =
        match args::parse(argv, &["designs", "seeds", "jobs", "json", "time-scale"], &["real"]) {
            Ok(a) => a,
            Err(e) => return usage_error(&e),
        };
    let (seeds, jobs) = match (args.number("seeds"), args.number("jobs")) {
        (Ok(a), Ok(b)) => (a.unwrap_or(4).max(1), b),
        (Err(e), _) | (_, Err(e)) => return usage_error(&e),
    };
    let time_scale = match args.value("time-scale").map(str::parse::<f64>) {
        None => 1.0,
        Some(Ok(f)) if f.is_finite() && f > 0.0 => f,
        Some(_) => return usage_error("--time-scale takes a positive number such as 0.1"),
    };
    let json_path = args.value("json").map(|p| absolute(Path::new(p))).transpose()?;
    let files = absolute_then_enter(args.files.clone())?;
    let [scenario] = files.as_slice() else {
        return usage_error("compare takes exactly one scenario file");
    };
    let mut designs = Vec::new();
    for name in args.value("designs").unwrap_or(DESIGNS_DEFAULT).split(',') {
        match DESIGNS.iter().find(|(d, _)| *d == name.trim()) {
            Some(d) => designs.push(*d),
            None => {
                let known: Vec<&str> = DESIGNS.iter().map(|(d, _)| *d).collect();
                return usage_error(&format!(
                    "compare knows no design `{}`; it knows: {}",
                    patchbay::spec::printable(name),
                    known.join(", ")
                ));
            }
        }
    }
    let place = json_path.as_deref().map_or(Place::Dated(Path::new("reports/compare")), Place::At);
    if !crate::report::check_place(&place) {
        return Ok(ExitCode::from(2));
    }
    let registry = Registry::builtin();
    // Read as every input file is: a pipe, a device, a huge or non-UTF-8 file is named
    // as such rather than hanging or failing as "cannot read".
    let text = match patchbay::spec::SourceFile::read(scenario) {
        Ok(src) => src.text,
        Err(d) => {
            eprint!("{}", patchbay::spec::render(&[d]));
            return Ok(ExitCode::from(2));
        }
    };
    let mut plans = Vec::new();
    for (design, topology) in &designs {
        match variant(scenario, &text, topology, &registry) {
            Some(p) => plans.push((*design, p)),
            None => {
                eprintln!("(while putting `{design}` under {})", scenario.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let threads = jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    // Each design's runs on each backend, with the plan as run, their traces, and the
    // command that runs that design alone again.
    let mut ran: Vec<(Row, ScenarioPlan, Vec<RunReport>, String)> = Vec::new();
    let shown = scenario.strip_prefix(crate::root()).unwrap_or(scenario).display();
    for (design, plan) in &plans {
        let work: Vec<Job<'_>> = (1..=seeds).map(|seed| Job { plan, seed }).collect();
        println!("{design}: {seeds} simulated run(s)");
        let sim = run_many(&work, &registry, threads, true, &|_| {});
        let repro = format!("cargo xtask compare {shown} --designs {design} --seeds {seeds}");
        ran.push((Row::of(design, Backend::Sim, &sim), plan.clone(), sim, repro.clone()));
        if args.flag("real") {
            println!("{design}: 1 real run (time scale {time_scale})");
            let opts = RealOptions { time_scale };
            let real = run_many_real(&work[..1], &registry, 1, opts, true, &|_| {});
            let row = Row::of(design, Backend::Real, &real);
            let repro = format!("{repro} --real --time-scale {time_scale}");
            ran.push((row, scaled(plan, time_scale), real, repro));
        }
    }
    let name = plans.first().map(|(_, p)| p.name.clone()).unwrap_or_default();
    let rows: Vec<&Row> = ran.iter().map(|(row, ..)| row).collect();
    print_table(&name, &rows);
    let entries: Vec<Entry<'_>> =
        ran.iter().map(|(row, plan, reports, repro)| Entry { row, plan, reports, repro }).collect();
    let mut report = compare_report(command, &name, &entries, &registry);
    report.notes.push(format!("Every design serves {CLIENTS} clients with {WORKERS} workers."));
    if !crate::report::save(&mut report, place)? {
        return Ok(ExitCode::from(2));
    }
    let errors = rows.iter().any(|r| !r.errors.is_empty());
    Ok(if errors { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The scenario resolved with `topology` in place of its own and the shared client
/// and worker counts; its diagnostics are printed when it does not resolve.
fn variant(
    scenario: &Path,
    text: &str,
    topology: &str,
    registry: &Registry,
) -> Option<ScenarioPlan> {
    let topology = crate::root().join(topology);
    let params = format!("params: {{clients: {CLIENTS}, workers: {WORKERS}}}");
    let mut swapped = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with("topology:") {
                swapped = true;
                format!("topology: {}\n{params}", topology.display())
            } else if line.starts_with("params:") {
                // The shared counts replace the scenario's own parameters.
                String::new()
            } else {
                line.to_owned()
            }
        })
        .collect();
    if !swapped {
        eprintln!("{}: no top-level `topology:` line to swap", scenario.display());
        return None;
    }
    let src = SourceFile::new(scenario, lines.join("\n"));
    let loaded = resolve::load_scenario_source(&src, registry);
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", render(&loaded.diagnostics));
    }
    loaded.plan
}

fn print_table(scenario: &str, rows: &[&Row]) {
    let ms = |d: Option<std::time::Duration>| {
        d.map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0))
    };
    println!(
        "\n{scenario}: {CLIENTS} clients, {WORKERS} workers; latency in ms (simulated or real), \
         throughput in replies per second of the busy span"
    );
    println!(
        "{:<14} {:<5} {:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  INVARIANTS",
        "DESIGN", "NET", "RUNS", "SERVED", "REQ/S", "P50", "P99", "P99.9", "MSG/REQ"
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
        println!(
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
            println!("    {e}");
        }
    }
}
