//! The command line's arguments, declared with clap's derive: each command and
//! option with its help, so `TOOL help`, `TOOL COMMAND --help` and clap's usage
//! errors (with did-you-mean) come from one declaration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Simulate, check and benchmark ZeroMQ- and nanomsg-style messaging topologies.
#[derive(Debug, Parser)]
#[command(
    name = "patchbay",
    disable_help_subcommand = false,
    after_help = "Exit codes: 0 as it should be; 2 wrong input or an outcome the scenario did \
                  not expect; 1 an internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    /// The command to run.
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate topology and scenario files (default: every shipped file).
    Check(CheckArgs),
    /// Write a topology as DOT and SVG.
    Graph(GraphArgs),
    /// Run scenarios over the deterministic simulator.
    Sim(SimArgs),
    /// Generated variants of a scenario until an invariant fails; the failing case is
    /// shrunk and written as a scenario (never replacing a file), with a report.
    Explore(ExploreArgs),
    /// Run scenarios over real TCP on 127.0.0.1, in real time, with a fault proxy on
    /// every link.
    Real(RealArgs),
    /// A scenario's workload and faults over several designs, each with its own topology.
    Compare(CompareArgs),
    /// Render each report's HTML again from its JSON, beside it.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Topology and scenario files (default: every shipped file).
    pub files: Vec<PathBuf>,
    /// Print every socket with its effective options and where each value came from.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Topology or scenario files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Where to write (default: reports/graph/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Which seeds, how many runs at once and where the report goes: what `sim` and
/// `real` read alike.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Scenario files (default: every shipped scenario).
    pub files: Vec<PathBuf>,
    /// Run only seed N.
    #[arg(long, value_name = "N", conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run seeds 1..=K instead of the scenario's own.
    #[arg(long, value_name = "K")]
    pub seeds: Option<u64>,
    /// Runs at a time (default: sim the number of cores, real 2).
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Write the report's JSON here and its HTML beside it (default: a new pair under
    /// reports/sim/ or reports/real/, copied to latest.json and latest.html).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Print every event of every run (use with --seed).
    #[arg(long)]
    pub trace: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Run every seed twice and compare trace hashes.
    #[arg(long)]
    pub check_determinism: bool,
}

#[derive(Debug, Args)]
pub struct RealArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Multiply the scenario's durations (phases, fault times, start times; rates
    /// divided) by F.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = positive)]
    pub time_scale: f64,
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The scenario to explore.
    pub scenario: PathBuf,
    /// Cases to try.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub cases: u64,
    /// Seed of the case generator.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Simulations at a time (default: the number of cores).
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Most faults per case (default: the swarm block's, or 4).
    #[arg(long, value_name = "K")]
    pub max_faults: Option<u64>,
    /// Vary only faults and seeds, not counts, sizes, options or the duration.
    #[arg(long)]
    pub faults_only: bool,
    /// Where to write the case.
    #[arg(long, value_name = "DIR", default_value = "reports/explore")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_help = "Without --design or --sides, compares the shipped brokers: \
    queue-device (topologies/queue.yaml), rrbroker (topologies/rrbroker.yaml), \
    lru-broker (topologies/lru-broker.yaml) and ppp-broker (topologies/ppp-broker.yaml).")]
pub struct CompareArgs {
    /// The scenario whose workload and faults every design runs.
    pub scenario: PathBuf,
    /// A side: a name and the topology that runs it (repeatable), e.g.
    /// `--design mine=topologies/my-broker.yaml`.
    #[arg(long = "design", value_name = "NAME=TOPOLOGY", value_parser = side, conflicts_with_all = ["designs", "sides"])]
    pub design: Vec<(String, PathBuf)>,
    /// A compare file naming the sides (`designs: [{name, topology}]`, optional
    /// `params`).
    #[arg(long, value_name = "FILE", conflicts_with = "designs")]
    pub sides: Option<PathBuf>,
    /// Shipped brokers to compare, by name (default: all four).
    #[arg(long, value_name = "a,b,...", value_delimiter = ',')]
    pub designs: Vec<String>,
    /// Simulated seeds 1..=K per design.
    #[arg(long, value_name = "K", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// Simulations at a time (default: the number of cores).
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Also one run per design on the real network.
    #[arg(long)]
    pub real: bool,
    /// For --real, as for `real`.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = positive, requires = "real")]
    pub time_scale: f64,
    /// Write the report's JSON here and its HTML beside it (default: a new pair under
    /// reports/compare/).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report JSON files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `--time-scale F`: a positive, finite factor.
fn positive(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err("takes a positive number such as 0.1".to_owned()),
    }
}

/// `NAME=TOPOLOGY`.
fn side(v: &str) -> Result<(String, PathBuf), String> {
    match v.split_once('=') {
        Some((name, topology)) if !name.trim().is_empty() && !topology.is_empty() => {
            Ok((name.trim().to_owned(), PathBuf::from(topology)))
        }
        _ => Err("takes NAME=TOPOLOGY, e.g. mine=topologies/my-broker.yaml".to_owned()),
    }
}
