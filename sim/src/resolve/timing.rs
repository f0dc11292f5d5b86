//! Timing: the safety phase's `duration`, `liveness`, `tcp_timeout` and `seeds`.
//!
//! A wrong `duration` does not stop the rest of the file being checked: the checks that
//! compare against it (a fault's start) are skipped instead.

use std::time::Duration;

use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawScenario;
use crate::spec::scalar::{OneOrMany, Scalar};
use crate::spec::units::{format_duration, parse_duration};

use super::scalars::{Naming, unit_error};
use super::scenario::ScenarioResolver;

/// Runs a scenario gets when it gives no `seeds`.
pub const DEFAULT_SEEDS: u64 = 8;
/// Most seeds a count may ask for, in a file's `seeds:` or on the command line
/// (`--seeds`): each one is a whole simulation and a row of the report, and the list
/// is made before the first runs.
pub const SEEDS_MAX: u64 = 1_000_000;
/// The liveness phase when a scenario gives no `liveness`.
pub const DEFAULT_LIVENESS: Duration = Duration::from_secs(60);
/// Linux gives up on an established connection after about 15 minutes of
/// retransmissions (tcp_retries2 = 15).
pub const DEFAULT_TCP_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The longest simulated run: `duration` and `liveness` together, and so also the
/// coarsest `network.tick`. turmoil steps every host at every tick whether anything
/// happens or not, so simulated time costs wall time even when idle: an idle hour of
/// `pair-relay` (three nodes) takes 3.8 s of one core and a day 92 s, so a week takes
/// about 11 minutes, and a larger topology longer (`duration: 100000h` would have
/// stepped for two days). A week covers any daily cycle a scenario could ask about.
/// Bounding the run here also keeps every sum and multiple the simulator makes of
/// these times (`duration + liveness`, a few ticks, a `--time-scale`) far inside a
/// `Duration`.
pub const SIMULATED_RUN_MAX: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Said under every time refused for being longer than [`SIMULATED_RUN_MAX`].
fn run_max_hint() -> String {
    format!(
        "a simulated run (`duration` and `liveness` together) lasts at most {} (docs/limits.md)",
        format_duration(SIMULATED_RUN_MAX)
    )
}

impl ScenarioResolver<'_, '_, '_> {
    /// The safety phase's length: required, and longer than zero.
    pub(super) fn duration_required(
        raw: &RawScenario,
        diags: &mut Diagnostics,
    ) -> Option<Duration> {
        let path = YamlPath::root().key("duration");
        let Some(duration) = &raw.duration else {
            diags
                .missing_field(&YamlPath::root(), "duration")
                .hint("add how long the safety phase runs, for example `duration: 60s`");
            return None;
        };
        match parse_duration(&duration.text) {
            Ok(d) if d.is_zero() => {
                diags
                    .error(
                        &path,
                        Target::Value,
                        Code::OutOfRange,
                        "`duration` must be longer than zero",
                    )
                    .hint("for example `duration: 60s`");
                None
            }
            Ok(d) if d > SIMULATED_RUN_MAX => {
                diags
                    .error(
                        &path,
                        Target::Value,
                        Code::OutOfRange,
                        format!(
                            "`duration` is {}, longer than a simulated run may last ({})",
                            format_duration(d),
                            format_duration(SIMULATED_RUN_MAX)
                        ),
                    )
                    .hint(run_max_hint());
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                unit_error(diags, &path, e, Naming::Field);
                None
            }
        }
    }

    /// The liveness phase's bound; `0` is allowed (no liveness phase). With the
    /// duration it may last at most [`SIMULATED_RUN_MAX`]: a written `liveness` that
    /// goes past it is reported at `liveness`, the default one at `duration`.
    pub(super) fn liveness(&mut self, raw: &Option<Scalar>) -> Duration {
        let path = YamlPath::root().key("liveness");
        let liveness = match raw {
            None => DEFAULT_LIVENESS,
            Some(s) => match self.duration_of(s, &path) {
                Some(liveness) => liveness,
                None => return DEFAULT_LIVENESS,
            },
        };
        // A wrong duration was reported already: the liveness is then held alone to
        // the bound.
        let duration = self.duration.unwrap_or(Duration::ZERO);
        if duration.checked_add(liveness).is_some_and(|run| run <= SIMULATED_RUN_MAX) {
            return liveness;
        }
        let max = format_duration(SIMULATED_RUN_MAX);
        let (message, at, hint) = match raw {
            None => (
                format!(
                    "`duration` {} and the default `liveness` of {} run past the {max} a simulated run may last",
                    format_duration(duration),
                    format_duration(liveness)
                ),
                YamlPath::root().key("duration"),
                format!(
                    "shorten `duration`, or give a shorter `liveness` (`0` for none): {}",
                    run_max_hint()
                ),
            ),
            Some(_) if duration.is_zero() => (
                format!(
                    "`liveness` is {}, longer than a simulated run may last ({max})",
                    format_duration(liveness)
                ),
                path,
                run_max_hint(),
            ),
            Some(_) => (
                format!(
                    "`liveness` {} after a `duration` of {} runs past the {max} a simulated run may last",
                    format_duration(liveness),
                    format_duration(duration)
                ),
                path,
                run_max_hint(),
            ),
        };
        self.diags.error(&at, Target::Value, Code::OutOfRange, message).hint(hint);
        DEFAULT_LIVENESS
    }

    /// The simulator's tick: at most [`SIMULATED_RUN_MAX`], and no longer than the
    /// safety phase, which it would make a single step (the caller checks that it is
    /// a whole number of milliseconds).
    pub(super) fn tick_in_range(&mut self, tick: Duration, path: &YamlPath) -> bool {
        if let Some(duration) = self.duration.filter(|d| tick > *d && tick <= SIMULATED_RUN_MAX) {
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::OutOfRange,
                    format!(
                        "the simulator tick is {}, longer than the {} `duration`: the whole safety phase would be one step",
                        format_duration(tick),
                        format_duration(duration)
                    ),
                )
                .hint("give a tick no longer than `duration`, such as `10ms` (the default, `1ms`, is turmoil's finest)");
            return false;
        }
        if tick <= SIMULATED_RUN_MAX {
            return true;
        }
        self.diags
            .error(
                path,
                Target::Value,
                Code::OutOfRange,
                format!(
                    "the simulator tick is {}, longer than a simulated run may last ({})",
                    format_duration(tick),
                    format_duration(SIMULATED_RUN_MAX)
                ),
            )
            .hint(format!(
                "give a tick of at most {}, such as `10ms` (the default, `1ms`, is turmoil's finest)",
                format_duration(SIMULATED_RUN_MAX)
            ));
        false
    }

    pub(super) fn opt_duration(
        &mut self,
        s: &Option<Scalar>,
        path: &YamlPath,
        default: Duration,
    ) -> Duration {
        let Some(s) = s else { return default };
        match self.duration_of(s, path) {
            Some(d) if d.is_zero() => {
                let what = path.last().map(|s| s.to_string()).unwrap_or_default();
                self.diags.error(
                    path,
                    Target::Value,
                    Code::OutOfRange,
                    format!("`{what}` must be longer than zero"),
                );
                default
            }
            Some(d) => d,
            None => default,
        }
    }

    pub(super) fn seeds(&mut self, raw: &Option<OneOrMany<u64>>) -> Vec<u64> {
        let path = YamlPath::root().key("seeds");
        match raw {
            None => (1..=DEFAULT_SEEDS).collect(),
            Some(OneOrMany::One(0)) => {
                self.diags
                    .error(&path, Target::Value, Code::OutOfRange, "`seeds: 0` runs nothing")
                    .hint("give a count such as `seeds: 20` or a list such as `seeds: [1, 7]`");
                Vec::new()
            }
            Some(OneOrMany::One(n)) if *n > SEEDS_MAX => {
                // The seeds are listed in the plan: a huge count must not allocate them.
                self.diags
                    .error(
                        &path,
                        Target::Value,
                        Code::OutOfRange,
                        format!("`seeds: {n}` asks for more than {SEEDS_MAX} runs"),
                    )
                    .hint("give a smaller count, or list the seeds such as `seeds: [1, 7]`");
                Vec::new()
            }
            Some(OneOrMany::One(n)) => (1..=*n).collect(),
            Some(OneOrMany::Many(list)) if list.is_empty() => {
                self.diags.error(
                    &path,
                    Target::Value,
                    Code::Empty,
                    "an empty list of seeds runs nothing",
                );
                Vec::new()
            }
            Some(OneOrMany::Many(list)) if list.len() as u64 > SEEDS_MAX => {
                self.diags
                    .error(
                        &path,
                        Target::Value,
                        Code::OutOfRange,
                        format!("`seeds` lists {} seeds, more than {SEEDS_MAX} runs", list.len()),
                    )
                    .hint("list fewer seeds, or give a count such as `seeds: 1000`");
                Vec::new()
            }
            Some(OneOrMany::Many(list)) => {
                // A seed listed twice would run twice and count twice in the verdicts.
                // The first repeat is reported, with how many follow: a file of
                // repeats must not print an error each.
                let mut seen = std::collections::BTreeSet::new();
                let repeats: Vec<usize> =
                    (0..list.len()).filter(|&i| !seen.insert(list[i])).collect();
                if let Some(&first) = repeats.first() {
                    let more = match repeats.len() - 1 {
                        0 => String::new(),
                        n => format!(", and {n} more seed(s) after it are repeats"),
                    };
                    self.diags
                        .error(
                            &path.index(first),
                            Target::Value,
                            Code::BadValue,
                            format!("seed {} is listed twice{more}", list[first]),
                        )
                        .hint("a seed runs the same simulation every time: list each once");
                }
                list.clone()
            }
        }
    }
}
