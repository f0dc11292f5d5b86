//! patchbay's command line, run as `cargo xtask <command>`.
//!
//! One match over subcommands; the work lives in the `patchbay` library. Exit codes:
//! 0 when everything is as it should be, 2 when the user's input or a scenario's
//! outcome is wrong (diagnostics, unexpected verdicts), 1 for internal errors.

mod args;
mod bench;
mod browser;
mod check;
mod compare;
mod explore;
mod fuzz;
mod progress;
mod real;
mod report;
mod sim;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  check [FILE...] [--explain]   validate topology and scenario files (default: every
                                shipped file); --explain prints every socket with its
                                effective options and where each value came from
  graph FILE [--out DIR]        write the topology as DOT and SVG (default: reports/graph/)
  sim [FILE...] [options]       run scenarios over the deterministic simulator
      --seed N                  run only seed N
      --seeds K                 run seeds 1..=K instead of the scenario's own
      --jobs J                  simulations at a time (default: the number of cores)
      --json PATH               write the report's JSON here and its HTML beside it
                                (default: a new pair under reports/sim/, copied to
                                reports/sim/latest.json and latest.html)
      --check-determinism       run every seed twice and compare trace hashes
      --trace                   print every event of every run (use with --seed)
  explore SCENARIO [options]    generated variants of a scenario (faults, counts, sizes,
                                options, duration, seed) until an invariant fails; the
                                failing case is shrunk and written as a scenario under
                                reports/explore/ (never replacing a file), with its repro
                                and a report beside it (NAME-N.json and .html)
      --cases N                 cases to try (default 256)
      --seed S                  seed of the case generator (default 1)
      --jobs J                  simulations at a time (default: the number of cores)
      --max-faults K            most faults per case (default: the swarm block's, or 4)
      --faults-only             vary only faults and seeds, not counts, sizes, options
                                or the duration
      --out DIR                 where to write the case (default: reports/explore)
  real [FILE...] [options]      run scenarios over real TCP on 127.0.0.1, in real time,
                                with a fault proxy on every link (default: every shipped
                                scenario that does not need simulated time; the others
                                are listed with the reason). Verdicts that differ from
                                `expect` are reported, not failures: real timing differs
      --time-scale F            multiply the scenario's durations (phases, fault times,
                                start times; rates divided) by F (default 1)
      --seed N | --seeds K      run seed N, or seeds 1..=K (default: the first seed)
      --jobs J                  runs at a time (default 2)
      --json PATH               write the report's JSON here and its HTML beside it
                                (default: a new pair under reports/real/, copied to
                                latest.json and latest.html)
      --trace                   print every event of every run
  compare SCENARIO [options]    the scenario's workload and faults over several broker
                                designs (each with its own topology: queue-device
                                topologies/queue.yaml, lru-broker topologies/lru-broker.yaml,
                                ppp-broker topologies/ppp-broker.yaml; 4 clients and 3
                                workers each): served, req/s, latency p50/p99/p99.9,
                                messages per request, invariant verdicts
      --designs a,b,...         (default: queue-device,lru-broker,ppp-broker)
      --seeds K                 simulated seeds 1..=K per design (default 4)
      --real                    also one run per design on the real network
      --time-scale F            for --real, as for `real`
      --json PATH               as for `real` (default: a new pair under reports/compare/)
  report JSON...                render each report's HTML again from its JSON, beside it
      --browser-check HTML...   open pages in headless Chromium: fail on console output
                                or a missing or empty section; screenshot to PAGE.png
      --screenshot PNG          where to put the screenshot (one page)
  test [ARGS...]                install the test peers if missing (pynng, pyzmq, pinned),
                                then `cargo test --workspace ARGS...`
  bench [options] [FILTER]      run the messaging benchmarks beside libzmq, zeromq-rs
                                and raw tokio, print the ratio table (also written to
                                reports/bench/latest.{json,md})
      --save-baseline NAME      keep this run as criterion baseline NAME
      --baseline NAME           compare with baseline NAME; exit 1 naming every
                                benchmark that regressed
      --max-regression PCT      slowdown allowed with --baseline (default 10%); a
                                regression needs the confidence intervals apart too
      --quick                   criterion's quick mode and shorter latency runs
  fuzz [options]                the SP and ZMTP decoders and the YAML front end under
                                generated and mutated inputs (docs/fuzzing.md); exit 2
                                if any input panicked, hung or grew a buffer
      --target sp|zmtp|yaml     one target (default: all three)
      --iterations N            inputs per target (default 1000000)
      --seed S                  seed of the inputs (default 1)
  help                          this text
";

/// `cargo xtask bench`'s synopsis, for its errors.
pub const BENCH_USAGE: &str = "cargo xtask bench [--save-baseline NAME | --baseline NAME [--max-regression 10%]] [--quick] [FILTER]";

/// The workspace root: xtask lives one level below it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    }
    let command = argv.remove(0);
    let result = match command.as_str() {
        "check" => check::check(argv),
        "graph" => check::graph(argv),
        "sim" => sim::sim(argv),
        "explore" => explore::explore(argv),
        "real" => real::real(argv),
        "compare" => compare::compare(argv),
        "report" => report::report(argv),
        "test" => test::test(argv),
        "bench" => bench::bench(argv),
        "fuzz" => fuzz::fuzz(argv),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprintln!("error: unknown command `{other}`\n\n{USAGE}");
            Ok(ExitCode::from(2))
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("internal error: {e:#}");
        ExitCode::from(1)
    })
}
