//! The command line's arguments, declared with clap's derive: each command and
//! option with its help, so `TOOL help`, `TOOL COMMAND --help` and clap's usage
//! errors (with did-you-mean) come from one declaration.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::resolve::{DRAWN_FAULTS_MAX, SEEDS_MAX};
use crate::run::real::{TIME_SCALE_MAX, TIME_SCALE_MIN};
use crate::run::shard::Shard;

/// Simulate, check and benchmark ZeroMQ- and nanomsg-style messaging topologies.
#[derive(Debug, Parser)]
#[command(
    name = "patchbay",
    disable_help_subcommand = false,
    after_help = "Exit codes: 0 as it should be; 2 wrong input, or a run that did not end as \
                  it should (sim: an outcome the scenario did not expect; explore: a failing \
                  case found; real, compare: a run that could not run, such as a program that \
                  did not start); 1 an internal error (patchbay itself failed)."
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
    /// every link; each scenario's first seed only, unless --seed or --seeds says
    /// otherwise (a real run is not a repeat of a simulated one).
    Real(RealArgs),
    /// A scenario's workload and faults over several designs, each with its own topology.
    Compare(CompareArgs),
    /// Render each report's HTML again from its JSON, beside it.
    Report(ReportArgs),
    /// One of patchbay's sockets on real TCP, as nanocat: send, receive and print
    /// messages to poke a running NNG, nanomsg or libzmq program (docs/cat.md).
    Cat(CatArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Topology and scenario files (default: every shipped file).
    pub files: Vec<PathBuf>,
    /// Print every socket with its effective options and where each value came from.
    #[arg(long)]
    pub explain: bool,
    /// Instead of checking files, list every design and invariant files may name
    /// (built-in and registered), each with its summary and parameters.
    #[arg(long, conflicts_with = "explain")]
    pub list: bool,
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
    /// Run seeds 1..=K instead of the scenario's own (K at most 1,000,000, as in a
    /// file's `seeds:`; `--shard` splits a long sweep between machines).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..=SEEDS_MAX))]
    pub seeds: Option<u64>,
    /// Runs at a time (default: sim the number of cores, real 2).
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Write the report's JSON here and its HTML beside it (default: a new pair under
    /// reports/sim/ or reports/real/, copied to latest.json and latest.html).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Print every event of the run: one run only (one scenario and --seed N, or a
    /// scenario of one seed); a selection of more runs is refused.
    #[arg(long)]
    pub trace: bool,
}

/// Which share of the work this machine runs (docs/sharding.md): what `sim` and
/// `explore` read alike.
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Run only shard K of N (0-based, 0 <= K < N): every N-th run (sim) or case
    /// (explore) of the unsharded sweep, starting at the K-th; `report merge` combines
    /// the N reports.
    #[arg(long, value_name = "K/N", value_parser = shard, conflicts_with = "shard_from_env")]
    pub shard: Option<Shard>,
    /// Run one of N shards, its index read from JOB_COMPLETION_INDEX (Kubernetes
    /// Indexed Jobs) or PATCHBAY_SHARD_INDEX (a CI matrix).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub shard_from_env: Option<u64>,
}

impl ShardArgs {
    /// The shard to run, if any; an error says which variable is missing or wrong.
    pub fn resolve(&self) -> Result<Option<Shard>, String> {
        match (self.shard, self.shard_from_env) {
            (Some(s), _) => Ok(Some(s)),
            (None, Some(n)) => Shard::from_env(n, |v| std::env::var(v).ok()).map(Some),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 every scenario ended as its `expect` says; 2 wrong input, \
    or a run that did not end as expected (or could not run); 1 an internal error (patchbay \
    itself failed).")]
pub struct SimArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Run every seed twice and compare trace hashes.
    #[arg(long)]
    pub check_determinism: bool,
    /// Run every seed to the end of its liveness phase (or drain) even once nothing
    /// more can happen in it: the same trace, more steps. For comparing the two.
    #[arg(long, hide = true)]
    pub no_idle_end: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 every run ran (a verdict unlike `expect` is reported, not \
    a failure: the timing is the machine's); 2 wrong input, or a run that could not run (a \
    program that did not start or get ready, too few file descriptors: the reason is \
    printed); 1 an internal error (patchbay itself failed).")]
pub struct RealArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Multiply the scenario's durations (phases, fault times, start times; rates
    /// divided) by F, from 0.01 to 100.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = time_scale)]
    pub time_scale: f64,
    /// Which ports outside programs reach: `ephemeral` (none: every socket and proxy
    /// on a port the system picks) or `as-written` (a socket that binds `5555` gets a
    /// proxy on 127.0.0.1:5555; runs one at a time).
    #[arg(long, value_name = "PORTS", default_value = "ephemeral")]
    pub ports: RealPorts,
}

/// `real --ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RealPorts {
    /// Every port picked by the system: runs side by side never meet.
    Ephemeral,
    /// The ports the topology writes, as proxies in front of the sockets.
    AsWritten,
}

#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 no case failed; 2 wrong input, or a failing case found \
    (written, with its repro); 1 an internal error (patchbay itself failed).")]
pub struct ExploreArgs {
    /// The scenario to explore.
    pub scenario: PathBuf,
    /// Cases to try.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cases: u64,
    /// Seed of the case generator.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Simulations at a time (default: the number of cores).
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Most faults per case, at most 100 (default: the swarm block's, or 4).
    #[arg(long, value_name = "K",
          value_parser = clap::value_parser!(u64).range(0..=DRAWN_FAULTS_MAX))]
    pub max_faults: Option<u64>,
    /// Vary only faults and seeds, not counts, sizes, options or the duration.
    #[arg(long)]
    pub faults_only: bool,
    /// Where to write the case.
    #[arg(long, value_name = "DIR", default_value = "reports/explore")]
    pub out: PathBuf,
    #[command(flatten)]
    pub shard: ShardArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "Without --design or --sides, compares the shipped brokers: \
    queue-device (topologies/queue.yaml), rrbroker (topologies/rrbroker-compare.yaml), \
    lru-broker (topologies/lru-broker.yaml) and ppp-broker (topologies/ppp-broker.yaml).\n\n\
    Exit codes: 0 every run ran; 2 wrong input, or a run that could not run (the reason is \
    printed); 1 an internal error (patchbay itself failed).")]
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
    /// Simulated seeds 1..=K per design (K at most 1,000,000).
    #[arg(long, value_name = "K", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=SEEDS_MAX))]
    pub seeds: u64,
    /// Simulations at a time (default: the number of cores).
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Also one run per design on the real network.
    #[arg(long)]
    pub real: bool,
    /// For --real, as for `real`.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = time_scale, requires = "real")]
    pub time_scale: f64,
    /// Write the report's JSON here and its HTML beside it (default: a new pair under
    /// reports/compare/).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub merge: Option<ReportCommand>,
    /// Report JSON files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `cat`'s options, as nanocat's where nanocat has them (docs/cat.md).
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("socket").required(true).multiple(false).args([
        "req", "rep", "pub_", "sub", "push", "pull", "pair", "surveyor", "respondent", "bus",
        "dealer", "router",
    ])),
    after_help = "REQ sends the data and prints the reply; REP, RESPONDENT and ROUTER print each \
    request and answer it with the data (echo it without); PUSH and PUB send; PULL and SUB \
    print; PAIR, BUS and DEALER send the data if given and print what arrives; SURVEYOR sends \
    a survey and prints the responses until its deadline.\n\n\
    Exit codes: 0 done; 1 an error (a bind refused, output failed); 2 wrong arguments; \
    3 no message arrived within --recv-timeout (a survey nobody answered); 4 a send could \
    not leave within --send-timeout."
)]
#[allow(clippy::struct_excessive_bools, reason = "one flag per socket type, as nanocat's")]
pub struct CatArgs {
    /// A REQ socket.
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub req: bool,
    /// A REP socket.
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub rep: bool,
    /// A PUB socket.
    #[arg(long = "pub", help_heading = "Socket type (exactly one)")]
    pub pub_: bool,
    /// A SUB socket.
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub sub: bool,
    /// A PUSH socket.
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub push: bool,
    /// A PULL socket.
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub pull: bool,
    /// A PAIR socket.
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub pair: bool,
    /// A SURVEYOR socket (nng, nanomsg).
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub surveyor: bool,
    /// A RESPONDENT socket (nng, nanomsg).
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub respondent: bool,
    /// A BUS socket (nng, nanomsg).
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub bus: bool,
    /// A DEALER socket (on nng and nanomsg a raw REQ).
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub dealer: bool,
    /// A ROUTER socket (on nng and nanomsg a raw REP).
    #[arg(long, help_heading = "Socket type (exactly one)")]
    pub router: bool,
    /// The library the socket stands for: its wire (SP for nng and nanomsg, ZMTP for
    /// zeromq), its socket types and its option defaults.
    #[arg(long, value_enum, default_value_t = CatLibrary::Nng)]
    pub library: CatLibrary,
    /// Bind to tcp://HOST:PORT (HOST an IP address, `localhost` or `*`); repeatable.
    #[arg(long, value_name = "URL")]
    pub bind: Vec<String>,
    /// Connect to tcp://HOST:PORT (HOST an IP address or `localhost`); repeatable.
    #[arg(long, value_name = "URL")]
    pub connect: Vec<String>,
    /// The message to send (a request, a survey, a reply): the argument's bytes as
    /// given, UTF-8 or not.
    #[arg(long, short = 'D', value_name = "TEXT", conflicts_with = "file")]
    pub data: Option<std::ffi::OsString>,
    /// As --data, the bytes of the file PATH.
    #[arg(long, short = 'F', value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// How received messages are printed (default quoted): raw bytes as they are; ascii,
    /// quoted and hex one message a line, as nanocat's -A, -Q and --hex.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<CatFormat>,
    /// SUB: subscribe to messages starting with PREFIX (repeatable; default everything):
    /// the argument's bytes as given, UTF-8 or not.
    #[arg(long, value_name = "PREFIX")]
    pub subscribe: Vec<std::ffi::OsString>,
    /// Send again every SECS seconds (a REQ or SURVEYOR: the next request or survey).
    #[arg(long, short = 'i', value_name = "SECS", value_parser = seconds_positive)]
    pub interval: Option<std::time::Duration>,
    /// Wait SECS seconds before the first send.
    #[arg(long, short = 'd', value_name = "SECS", value_parser = seconds)]
    pub delay: Option<std::time::Duration>,
    /// Stop after N messages received (sent, for PUSH and PUB).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Exit with code 3 when no message arrives for SECS seconds (a SURVEYOR: how long
    /// each survey collects responses, default 1).
    #[arg(long, value_name = "SECS", value_parser = seconds_positive)]
    pub recv_timeout: Option<std::time::Duration>,
    /// Exit with code 4 when a send cannot leave within SECS seconds (no peer, or
    /// every peer's queue full); also how long queued messages may take to leave at
    /// exit.
    #[arg(long, value_name = "SECS", value_parser = seconds_positive)]
    pub send_timeout: Option<std::time::Duration>,
}

/// `cat --library`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CatLibrary {
    Zeromq,
    Nng,
    Nanomsg,
}

/// `cat --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CatFormat {
    /// The bytes as they are, no delimiters.
    Raw,
    /// Printable ASCII kept, every other byte a dot, a newline after each message.
    Ascii,
    /// In double quotes with C-like escapes, a line each.
    Quoted,
    /// In double quotes, every byte as \xHH, a line each.
    Hex,
}

/// The bound on `cat`'s times (`--interval`, `--delay`, the timeouts), in seconds:
/// about 31 years, far past any wait worth asking for, and far inside what a
/// `Duration` added to the clock can hold.
const CAT_SECONDS_MAX: f64 = 1e9;

/// A number of seconds, zero or more and below [`CAT_SECONDS_MAX`] (`0.5`).
fn seconds(v: &str) -> Result<std::time::Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if (0.0..CAT_SECONDS_MAX).contains(&s) => Ok(std::time::Duration::from_secs_f64(s)),
        _ => Err(format!(
            "takes a number of seconds from 0 to below {CAT_SECONDS_MAX:.0} (about 31 years), \
             such as 0.5"
        )),
    }
}

/// A number of seconds above zero and below [`CAT_SECONDS_MAX`].
fn seconds_positive(v: &str) -> Result<std::time::Duration, String> {
    match seconds(v) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "takes a number of seconds above 0 and below {CAT_SECONDS_MAX:.0} (about 31 years), \
             such as 0.5"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the reports of a sweep's shards (`sim --shard K/N`) into the report the
    /// unsharded sweep would have written, with its HTML beside it.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Where to write the merged report's JSON (its HTML goes beside it).
    pub out: PathBuf,
    /// Every shard's report JSON, in any order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

/// `--time-scale F`: a factor from [`TIME_SCALE_MIN`] to [`TIME_SCALE_MAX`]
/// (docs/limits.md says why).
fn time_scale(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(f) if (TIME_SCALE_MIN..=TIME_SCALE_MAX).contains(&f) => Ok(f),
        _ => Err(format!(
            "takes a factor from {TIME_SCALE_MIN} to {TIME_SCALE_MAX}, such as 0.5 (twice as fast)"
        )),
    }
}

/// `--shard K/N`.
fn shard(v: &str) -> Result<Shard, String> {
    Shard::parse(v)
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn parsed(args: &[&str]) -> Result<Command, String> {
        Cli::try_parse_from(args).map(|cli| cli.command).map_err(|e| e.to_string())
    }

    #[test]
    fn a_time_scale_outside_its_range_is_refused_by_real_and_compare() {
        // 1e10 and 1e20 panicked in `Duration::mul_f64`; 1e-300 ran a 4 s scenario in
        // 0 ms with no verdict.
        for f in ["1e20", "1e10", "100.5", "0.009", "1e-9", "1e-300", "0", "NaN", "inf"] {
            for args in [
                vec!["t", "real", "--time-scale", f],
                vec!["t", "compare", "x.yaml", "--real", "--time-scale", f],
            ] {
                let error = parsed(&args).expect_err(f);
                assert!(
                    error.contains("takes a factor from 0.01 to 100, such as 0.5"),
                    "{f}: {error}"
                );
            }
        }
        for f in ["0.01", "0.3", "100"] {
            let Ok(Command::Real(real)) = parsed(&["t", "real", "--time-scale", f]) else {
                panic!("{f} refused")
            };
            assert_eq!(real.time_scale, f.parse::<f64>().unwrap());
        }
    }

    #[test]
    fn max_faults_is_refused_past_what_one_run_may_draw() {
        // Each of these once reached proptest, which reserved a case at its longest:
        // a capacity-overflow panic, a 170 GB allocation, a hang.
        for k in ["18446744073709551615", "4294967295", "10000000", "101"] {
            let error = parsed(&["t", "explore", "x.yaml", "--max-faults", k]).expect_err(k);
            assert!(error.contains("not in 0..=100"), "{k}: {error}");
        }
        for k in [0, 100] {
            let Ok(Command::Explore(explore)) =
                parsed(&["t", "explore", "x.yaml", "--max-faults", &k.to_string()])
            else {
                panic!("{k} refused")
            };
            assert_eq!(explore.max_faults, Some(k));
        }
    }
}
