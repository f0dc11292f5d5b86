//! patchbay's command line, run as `cargo xtask <command>`.
//!
//! One match over subcommands; the work lives in the `patchbay` library. Exit codes:
//! 0 when everything is as it should be, 2 when the user's input or a scenario's
//! outcome is wrong (diagnostics, unexpected verdicts), 1 for internal errors.

mod args;
mod browser;
mod check;
mod progress;
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
  report JSON...                render each report's HTML again from its JSON, beside it
      --browser-check HTML...   open pages in headless Chromium: fail on console output
                                or a missing or empty section; screenshot to PAGE.png
      --screenshot PNG          where to put the screenshot (one page)
  test [ARGS...]                install the test peers if missing (pynng, pinned),
                                then `cargo test --workspace ARGS...`
  help                          this text
";

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
        "report" => report::report(argv),
        "test" => test::test(argv),
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
