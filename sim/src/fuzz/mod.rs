//! Fuzzing on the stable toolchain: the SP and ZMTP decoders and the YAML front end
//! each take generated and mutated inputs, run one at a time under `catch_unwind`.
//!
//! An input is a function of the seed and its iteration number alone (one ChaCha
//! stream per iteration), so any failure is replayed by its seed and iteration. Each
//! target checks its own properties (no panic; no hang, which the wire targets prove
//! by counting that every event consumed bytes; no growth past the receive limit) and
//! labels what the input led to, so a report shows which paths were reached. Inputs
//! are capped in size, which bounds the time one can take; the slowest is reported.
//! `cargo xtask fuzz` runs millions; `docs/fuzzing.md` says how to read the output.
//! This is a tool run, not a simulation: timing it with the wall clock is its job.

mod mutate;
mod wire;
mod yaml;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use wire::{SpTarget, ZmtpTarget};
pub use yaml::YamlTarget;

/// Failures kept in a report with their inputs; more are only counted.
const FAILURES_KEPT: usize = 20;

/// Something that can be fuzzed: inputs drawn from an RNG, and a check of one input.
pub trait Target {
    type Input;
    /// The target's name on the command line.
    fn name(&self) -> &'static str;
    /// Draws one input (a mutated corpus entry, now and then plain noise).
    fn input(&self, rng: &mut ChaCha8Rng) -> Self::Input;
    /// Runs one input. `Err` is a broken property (a hang or unbounded growth); a
    /// panic is caught around this call. `Ok` labels what the input led to.
    fn check(&self, input: &Self::Input, rng: &mut ChaCha8Rng) -> Result<Checked, String>;
    /// The input as bytes, to save and to show with a failure.
    fn bytes(&self, input: &Self::Input) -> Vec<u8>;
}

/// What one input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The outcome's kind: `ok`, or the error's variant or code.
    pub label: String,
    /// Most bytes the decoder and its read buffer held at once (0 for YAML).
    pub buffered_bytes: u64,
}

/// A broken property, with the input that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub iteration: u64,
    /// `panic: <message>`, or the property the target found broken.
    pub what: String,
    pub input: Vec<u8>,
}

/// The totals of one fuzz run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub target: &'static str,
    pub seed: u64,
    pub iterations: u64,
    pub input_bytes: u64,
    /// How many inputs ended in each outcome, by label.
    pub outcomes: BTreeMap<String, u64>,
    pub failures_total: u64,
    /// The first few failures with their inputs.
    pub failures: Vec<Failure>,
    /// The slowest input: its iteration, its best time over a few re-runs (so a
    /// pause of a busy machine is not blamed on it) and its size.
    pub slowest: Option<(u64, Duration, usize)>,
    pub buffered_bytes_max: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `iterations` inputs of `target` from `seed`, calling `progress` with the
/// count done every 2^14 inputs.
pub fn run<T: Target>(
    target: &T,
    seed: u64,
    iterations: u64,
    progress: &mut dyn FnMut(u64),
) -> Report {
    let started = Instant::now();
    let mut report = Report { target: target.name(), seed, ..Report::default() };
    let mut slow = Vec::new();
    for iteration in 0..iterations {
        let (took, size, result) = run_one(target, seed, iteration);
        report.input_bytes += size as u64;
        note_slow(&mut slow, took, iteration);
        let failed = match result {
            Ok(Ok(checked)) => {
                report.buffered_bytes_max = report.buffered_bytes_max.max(checked.buffered_bytes);
                *report.outcomes.entry(checked.label).or_default() += 1;
                None
            }
            Ok(Err(broken)) => Some(broken),
            Err(panic) => Some(format!("panic: {panic}")),
        };
        if let Some(what) = failed {
            report.failures_total += 1;
            if report.failures.len() < FAILURES_KEPT {
                let input = target.bytes(&draw(target, seed, iteration).0);
                report.failures.push(Failure { iteration, what, input });
            }
        }
        report.iterations += 1;
        if (iteration + 1) % (1 << 14) == 0 {
            progress(iteration + 1);
        }
    }
    report.elapsed = started.elapsed();
    report.slowest = retime(target, seed, &slow);
    report
}

/// Inputs whose first timing was among the slowest, re-timed at the end.
const SLOW_KEPT: usize = 8;
/// Timings of each slow input; the least counts, so a pause of the machine is not
/// blamed on the input.
const RETIMES: usize = 3;

/// The input of `iteration` and the RNG its check continues with.
fn draw<T: Target>(target: &T, seed: u64, iteration: u64) -> (T::Input, ChaCha8Rng) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(iteration);
    (target.input(&mut rng), rng)
}

/// Checks one input under `catch_unwind`: its time, size and outcome (the outer
/// `Err` a panic's message).
fn run_one<T: Target>(
    target: &T,
    seed: u64,
    iteration: u64,
) -> (Duration, usize, Result<Result<Checked, String>, String>) {
    let (input, mut rng) = draw(target, seed, iteration);
    let begun = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| target.check(&input, &mut rng)));
    let took = begun.elapsed();
    let size = target.bytes(&input).len();
    (took, size, result.map_err(|payload| panic_message(payload.as_ref())))
}

/// Keeps the [`SLOW_KEPT`] slowest first timings.
fn note_slow(slow: &mut Vec<(Duration, u64)>, took: Duration, iteration: u64) {
    if slow.len() < SLOW_KEPT || took > slow[slow.len() - 1].0 {
        slow.push((took, iteration));
        slow.sort_by_key(|s| std::cmp::Reverse(s.0));
        slow.truncate(SLOW_KEPT);
    }
}

/// Re-runs the slowest inputs (inputs are a function of seed and iteration) and
/// returns the one whose best time is worst: its iteration, time and size.
fn retime<T: Target>(
    target: &T,
    seed: u64,
    slow: &[(Duration, u64)],
) -> Option<(u64, Duration, usize)> {
    slow.iter()
        .map(|&(_, iteration)| {
            let runs = (0..RETIMES).map(|_| run_one(target, seed, iteration));
            let (took, size) = runs.map(|(took, size, _)| (took, size)).min().expect("RETIMES > 0");
            (iteration, took, size)
        })
        .max_by_key(|&(_, took, _)| took)
}

/// Runs the target named `name` (`sp`, `zmtp`, `yaml`); the YAML corpus is the
/// shipped files under `root`.
pub fn run_named(
    name: &str,
    root: &Path,
    seed: u64,
    iterations: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, String> {
    match name {
        "sp" => Ok(run(&SpTarget::new(), seed, iterations, progress)),
        "zmtp" => Ok(run(&ZmtpTarget::new(), seed, iterations, progress)),
        "yaml" => {
            let target = YamlTarget::from_shipped(root)
                .map_err(|e| format!("reading the shipped files under {}: {e}", root.display()))?;
            Ok(run(&target, seed, iterations, progress))
        }
        other => {
            Err(format!("unknown fuzz target `{other}`, expected one of {}", TARGETS.join(", ")))
        }
    }
}

/// The targets, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: [&str; 3] = ["sp", "zmtp", "yaml"];

/// A panic's message, when it carried text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// An error's kind for a label: its `Debug` text up to the first field.
fn kind_of(error: &impl std::fmt::Debug) -> String {
    let text = format!("{error:?}");
    let end = text.find([' ', '{', '(']).unwrap_or(text.len());
    text[..end].to_owned()
}

#[cfg(test)]
mod tests;
