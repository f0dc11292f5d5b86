//! Timing: the safety phase's `duration`, `liveness`, `tcp_timeout` and `seeds`.
//!
//! A wrong `duration` does not stop the rest of the file being checked: the checks that
//! compare against it (a fault's start) are skipped instead.

use std::time::Duration;

use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawScenario;
use crate::spec::scalar::{OneOrMany, Scalar};
use crate::spec::units::parse_duration;

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
            Ok(d) => Some(d),
            Err(e) => {
                unit_error(diags, &path, e, Naming::Field);
                None
            }
        }
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
            Some(OneOrMany::Many(list)) => list.clone(),
        }
    }
}
