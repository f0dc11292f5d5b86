//! patchbay's command line, run as `cargo xtask <command>`.
//!
//! The simulator's commands (`check`, `graph`, `sim`, `explore`, `real`, `compare`,
//! `report`, `cat`) are the library's (`patchbay::cli`), run here with the built-in
//! designs; this binary adds only the project's own: `test`, `bench`, `fuzz` and
//! `report --browser-check`. Exit codes: 0 when everything is as it should be, 2 when
//! the user's input or a scenario's outcome is wrong, 1 for internal errors.

// Lines go through these, never `println!`: a closed pipe (`cargo xtask test | head`)
// or a full device drops a line instead of panicking mid-run (as the library's
// commands do, `patchbay::cli`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod bench;
mod browser;
mod fuzz;
mod test;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use patchbay::registry::Registry;

/// The command users type to reach this binary.
const TOOL: &str = "cargo xtask";
/// The project's own commands, answered here before the library's.
const OWN: &[&str] = &["test", "bench", "fuzz"];

/// The workspace root: xtask lives one level below it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let first = args.get(1).and_then(|a| a.to_str()).map(str::to_owned);
    let first = first.as_deref();
    let browser = first == Some("report") && args.iter().any(|a| a == "--browser-check");
    if browser || first.is_some_and(|c| OWN.contains(&c)) {
        return own(args);
    }
    let code = patchbay::cli::run(Registry::builtin(), TOOL, args);
    if matches!(first, None | Some("help" | "--help" | "-h")) {
        errln!(
            "\nThe project's own commands: {TOOL} test [ARGS...], {TOOL} bench, {TOOL} fuzz, \
             {TOOL} report --browser-check HTML... (each with --help)"
        );
    }
    code
}

/// The project's commands.
#[derive(Debug, Parser)]
#[command(name = "xtask", bin_name = TOOL)]
struct Own {
    #[command(subcommand)]
    command: OwnCommand,
}

#[derive(Debug, Subcommand)]
enum OwnCommand {
    /// Install the test peers if missing (pynng, pyzmq, pinned), then `cargo test
    /// --workspace ARGS...`, the arguments forwarded as typed (`--` and what follows
    /// it go to the test binaries, as with cargo).
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
        args: Vec<OsString>,
    },
    /// Run the messaging benchmarks beside libzmq, zeromq-rs and raw tokio, print the
    /// ratio table (also written to reports/bench/latest.{json,md}).
    Bench(BenchArgs),
    /// The SP and ZMTP decoders and the YAML front end under generated and mutated
    /// inputs (docs/fuzzing.md); exit 2 if any input panicked, hung or grew a buffer.
    Fuzz(FuzzArgs),
    /// Open report pages in headless Chromium: fail on console output or a missing or
    /// empty section; screenshot to PAGE.png.
    Report(BrowserArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Keep this run as criterion baseline NAME.
    #[arg(long, value_name = "NAME", conflicts_with = "baseline")]
    pub save_baseline: Option<String>,
    /// Compare with baseline NAME; exit 1 naming every benchmark that regressed.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Slowdown allowed with --baseline (default 10%); a regression needs the
    /// confidence intervals apart too.
    #[arg(long, value_name = "PCT", requires = "baseline", value_parser = bench::parse_percent)]
    pub max_regression: Option<f64>,
    /// Criterion's quick mode and shorter latency runs.
    #[arg(long)]
    pub quick: bool,
    /// A regular expression over benchmark ids (`push_pull`, `req_rep/patchbay`),
    /// checked before anything builds.
    #[arg(value_parser = bench::parse_filter)]
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// One target (default: all three).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(patchbay::fuzz::TARGETS))]
    pub target: Option<String>,
    /// Inputs per target.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub iterations: u64,
    /// Seed of the inputs.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
struct BrowserArgs {
    /// Check the pages in a browser (this binary's part of `report`).
    #[arg(long, required = true)]
    browser_check: bool,
    /// Pages to check.
    #[arg(required = true, value_name = "HTML")]
    pages: Vec<PathBuf>,
    /// Where to put the screenshot (one page).
    #[arg(long, value_name = "PNG")]
    screenshot: Option<PathBuf>,
}

fn own(args: Vec<OsString>) -> ExitCode {
    // `test` forwards its arguments as typed, `--` included (clap would drop it).
    let forwarded: Vec<OsString> = args.iter().skip(2).cloned().collect();
    let parsed = match Own::try_parse_from(args) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let result = match parsed.command {
        OwnCommand::Test { .. } => test::test(forwarded),
        OwnCommand::Bench(a) => bench::bench(a),
        OwnCommand::Fuzz(a) => fuzz::fuzz(a),
        OwnCommand::Report(a) => browser_check(&a),
    };
    result.unwrap_or_else(|e| {
        errln!("internal error: {e:#}");
        ExitCode::from(1)
    })
}

fn browser_check(args: &BrowserArgs) -> anyhow::Result<ExitCode> {
    if args.screenshot.is_some() && args.pages.len() > 1 {
        errln!("error: --screenshot names one file; check one page at a time with it");
        return Ok(ExitCode::from(2));
    }
    let mut bad = false;
    for page in &args.pages {
        let shot = args.screenshot.clone().unwrap_or_else(|| page.with_extension("png"));
        match browser::check(&std::path::absolute(page)?, &shot) {
            Ok(()) => {
                outln!("browser check: {} ok (screenshot {})", page.display(), shot.display())
            }
            Err(e) => {
                errln!("browser check: {} FAILED: {e:#}", page.display());
                bad = true;
            }
        }
    }
    Ok(if bad { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
