//! Scalars and units: every number, probability and unit-bearing value the resolvers
//! read, and the one place their diagnostics are worded.
//!
//! A whole number goes through [`whole_number`] whichever file it is in (`count`,
//! `hosts`, `requests`...), so the same mistake gets the same code and the same kind of
//! hint everywhere; a value with a unit that does not parse goes through [`unit_error`].

use std::time::Duration;

use crate::spec::diag::{Code, Diagnostics, Target};
use crate::spec::path::YamlPath;
use crate::spec::scalar::{Scalar, ScalarKind};
use crate::spec::units::{UnitError, format_duration, parse_bandwidth, parse_duration, parse_rate};

use super::scenario::ScenarioResolver;
use super::timing::SIMULATED_RUN_MAX;

/// The longest time a socket option, a design's parameter or an invariant's parameter
/// may give: 2,147,483,647 ms (about 24.9 days), the largest C `int` of milliseconds,
/// which is how libzmq, NNG (`nng_duration`) and nanomsg take every time option, so
/// `req_resend_ivl: 23d`, the usual "never", fits. A run lasts at most a week
/// (`SIMULATED_RUN_MAX`), so a longer time could change nothing in it; and designs and
/// checkers add these times to the clock and multiply them by their own counts (a
/// heartbeat interval by a liveness count), which `18446744073709551615s` overflowed.
pub(super) const TIME_OPTION_MAX: Duration = Duration::from_millis(i32::MAX as u64);

/// Said under a time option or parameter longer than [`TIME_OPTION_MAX`].
pub(super) fn time_option_max_hint() -> String {
    format!(
        "at most {} (about 24.9d), the longest time libzmq, NNG and nanomsg take, a C int of milliseconds; for \"never\", `23d` outlasts any run",
        format_duration(TIME_OPTION_MAX)
    )
}

/// What one whole-number field accepts and how its mistakes are explained.
#[derive(Clone, Copy, Debug)]
pub(super) struct WholeRange {
    pub(super) min: u64,
    pub(super) max: u64,
    /// Said under a value below `min`: what to write instead.
    pub(super) below_hint: &'static str,
    /// Said under a value above `max`: why it is the most, and what to do instead.
    pub(super) above_hint: Option<&'static str>,
    /// Said under a value that is not a whole number at all.
    pub(super) example_hint: &'static str,
}

impl WholeRange {
    /// A count of things a workload does (`requests`, `publishes`, `jobs`, `chunks`):
    /// zero is allowed and means none.
    pub(super) const WORKLOAD_COUNT: WholeRange = WholeRange {
        min: 0,
        max: crate::design::kit::WORKLOAD_MESSAGES_MAX,
        below_hint: "a count cannot be negative: write `0` for none, or leave the field out",
        above_hint: Some(
            "each request, publish or chunk takes one of the 1,048,576 message ids a replica numbers in one run of its process (a design may need one more); spread the work over more replicas with the node's `count`",
        ),
        example_hint: "for example `100`",
    };
}

/// The field a path ends in, as the user wrote it (`count`, `requests`).
pub(super) fn field_name(path: &YamlPath) -> String {
    path.last().map(|s| s.to_string()).unwrap_or_default()
}

/// Why `s` is not a whole number as YAML wrote it, if it is not: what was found
/// (`the string `"5"``) and, where one helps, how to write it instead. A YAML
/// integer is one, in any base YAML 1.2 reads (`0x10` is 16); so is a plain scalar of
/// digits grouped with `_` (`1_000`), which YAML 1.2 reads as a string and patchbay
/// has always read as a number. A quoted number, a float (`1.0`, `1e3`) and a
/// boolean are not: each was accepted as the number its text spells, which hid a
/// value the file never wrote as a number.
pub(super) fn not_a_whole_number(s: &Scalar) -> Option<(String, Option<String>)> {
    let integral = |text: &str| text.parse::<i128>().ok();
    match s.kind {
        ScalarKind::Int => None,
        ScalarKind::String if is_digit_groups(&s.text) => None,
        ScalarKind::String => match integral(&s.text) {
            Some(n) if has_leading_zero(&s.text) => Some((
                format!("the string `{}`", s.text),
                Some(format!(
                    "YAML 1.2 reads a number with a leading zero as a string (YAML 1.1 read it as octal): write `{n}`"
                )),
            )),
            Some(_) => Some((
                format!("the string `\"{}\"`", s.text),
                Some(format!("write `{}` without quotes", s.text)),
            )),
            None => Some((format!("`{}`", s.text), None)),
        },
        ScalarKind::Float => match integral(&s.text) {
            Some(n) => Some((
                format!("the float `{n}.0`"),
                Some(format!("write `{n}`, without a decimal point or exponent")),
            )),
            None => Some((format!("the float `{}`", s.text), None)),
        },
        ScalarKind::Bool => Some((format!("`{}`", s.text), None)),
    }
}

/// `1_000`: digits in groups joined by `_`, optionally signed.
fn is_digit_groups(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    digits.contains('_')
        && digits
            .split('_')
            .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()))
}

/// `010`, `-07`: digits after a zero, which YAML 1.2 leaves a string.
fn has_leading_zero(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0')
}

/// A whole number in `range`, `_` allowed as a digit separator; every mistake is
/// reported at `path`: `out-of-range` for a whole number outside it (negative ones
/// included), `bad-type` for anything else, a quoted number or a float included
/// ([`not_a_whole_number`]).
pub(super) fn whole_number(
    diags: &mut Diagnostics,
    s: &Scalar,
    path: &YamlPath,
    range: WholeRange,
) -> Option<u64> {
    let what = field_name(path);
    if let Some((found, hint)) = not_a_whole_number(s) {
        diags
            .error(
                path,
                Target::Value,
                Code::BadType,
                format!("`{what}` must be a whole number, found {found}"),
            )
            .hint(hint.unwrap_or_else(|| range.example_hint.to_owned()));
        return None;
    }
    // i128 holds every u64 and every negative a user might write.
    match s.text.replace('_', "").parse::<i128>() {
        Ok(n) if n < i128::from(range.min) => {
            let min = range.min;
            diags
                .error(
                    path,
                    Target::Value,
                    Code::OutOfRange,
                    format!("`{what}` must be at least {min}, found {n}"),
                )
                .hint(range.below_hint);
            None
        }
        Ok(n) if n > i128::from(range.max) => {
            let max = range.max;
            let d = diags.error(
                path,
                Target::Value,
                Code::OutOfRange,
                format!("`{what}` must be at most {max}, found {n}"),
            );
            if let Some(hint) = range.above_hint {
                d.hint(hint);
            }
            None
        }
        Ok(n) => u64::try_from(n).ok(),
        Err(_) => {
            diags
                .error(
                    path,
                    Target::Value,
                    Code::BadType,
                    format!("`{what}` must be a whole number, found `{}`", s.text),
                )
                .hint(range.example_hint);
            None
        }
    }
}

/// How a unit error names the value it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Naming {
    /// `` `duration`: unknown duration unit ``: the field's name first.
    Field,
    /// The parser's message alone, for values inside a list or distribution whose
    /// field name would not help.
    Bare,
}

/// Reports a value whose unit did not parse, with the parser's hint.
pub(super) fn unit_error(diags: &mut Diagnostics, path: &YamlPath, e: UnitError, naming: Naming) {
    let message = match naming {
        Naming::Field => format!("`{}`: {}", field_name(path), e.message),
        Naming::Bare => e.message,
    };
    let d = diags.error(path, Target::Value, Code::BadUnit, message);
    if let Some(h) = e.hint {
        d.hint(h);
    }
}

impl ScenarioResolver<'_, '_, '_> {
    /// A duration such as `250ms`; zero is allowed.
    pub(super) fn duration_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<Duration> {
        parse_duration(&s.text).map_err(|e| unit_error(self.diags, path, e, Naming::Field)).ok()
    }

    /// A probability already read as a number; out of `[0, 1]` it is reported and 0.
    pub(super) fn probability(&mut self, p: f64, path: &YamlPath) -> f64 {
        if (0.0..=1.0).contains(&p) {
            return p;
        }
        self.diags
            .error(
                path,
                Target::Value,
                Code::OutOfRange,
                format!("a probability must be between 0 and 1, found {p}"),
            )
            .hint("write 1% as `0.01`");
        0.0
    }

    /// A probability written as a number (`0.05`).
    pub(super) fn probability_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<f64> {
        match s.text.parse::<f64>() {
            Ok(p) if s.kind != ScalarKind::String => Some(self.probability(p, path)),
            _ => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::WrongType,
                        format!("a probability is a number between 0 and 1, found `{}`", s.text),
                    )
                    .hint("write 5% as `0.05`");
                None
            }
        }
    }

    /// A rate (`100/s`), above zero.
    pub(super) fn rate_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<f64> {
        match parse_rate(&s.text) {
            // Slower than one a run, its interval once did not fit a `Duration`, which
            // pacing read as no pacing at all.
            Ok(r) if r > 0.0 && r < 1.0 / SIMULATED_RUN_MAX.as_secs_f64() => {
                let max = format_duration(SIMULATED_RUN_MAX);
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::OutOfRange,
                        format!(
                            "a rate of `{}` is less than one in the {max} a simulated run may last",
                            s.text
                        ),
                    )
                    .hint(
                        "give a faster rate, such as `1/d`; without `rate` the work is not paced at all",
                    );
                None
            }
            Ok(r) if r > 0.0 => Some(r),
            Ok(_) => {
                self.diags.error(
                    path,
                    Target::Value,
                    Code::OutOfRange,
                    "a rate must be above zero",
                );
                None
            }
            Err(e) => {
                unit_error(self.diags, path, e, Naming::Bare);
                None
            }
        }
    }

    /// A bandwidth (`1MiB/s`) in bytes per second, above zero; `unlimited` is infinite.
    pub(super) fn bandwidth_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<f64> {
        match parse_bandwidth(&s.text) {
            Ok(b) if b > 0.0 => Some(b),
            Ok(_) => {
                self.diags
                    .error(path, Target::Value, Code::OutOfRange, "a bandwidth must be above zero")
                    .hint("a link that carries nothing is a partition: use `kind: partition`");
                None
            }
            Err(e) => {
                unit_error(self.diags, path, e, Naming::Field);
                None
            }
        }
    }

    /// A workload's count of things to do; see [`whole_number`].
    pub(super) fn count_of(&mut self, s: &Scalar, path: &YamlPath) -> Option<u64> {
        whole_number(self.diags, s, path, WholeRange::WORKLOAD_COUNT)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::not_a_whole_number;
    use crate::registry::Registry;
    use crate::resolve::{TopologyOverrides, load_scenario_source, resolve_topology_source};
    use crate::spec::SourceFile;
    use crate::spec::scalar::{Scalar, ScalarKind};

    #[test]
    fn a_whole_number_is_a_yaml_integer_or_digits_in_groups() {
        let whole = |text: &str, kind| not_a_whole_number(&Scalar::new(text, kind)).is_none();
        assert!(whole("16", ScalarKind::Int));
        assert!(whole("-3", ScalarKind::Int));
        assert!(whole("1_000", ScalarKind::String));
        assert!(!whole("5", ScalarKind::String), "a quoted number");
        assert!(!whole("010", ScalarKind::String), "YAML 1.2 leaves a leading zero a string");
        assert!(!whole("1", ScalarKind::Float), "`1.0`");
        assert!(!whole("1.5", ScalarKind::Float));
        assert!(!whole("true", ScalarKind::Bool));
        assert!(!whole("_1", ScalarKind::String));
        assert!(!whole("1__0", ScalarKind::String));
    }

    #[test]
    fn hex_and_digit_groups_are_read_as_the_numbers_they_spell() {
        let text = "name: t\nnodes:\n  - name: client\n    count: 0x2\n    design: client\n    \
                    sockets: [{name: req, type: REQ, connect: worker.rep, options: {sndhwm: 1_000, rcvhwm: 0o17}}]\n  \
                    - name: worker\n    design: echo-worker\n    sockets: [{name: rep, type: REP, bind: true}]\n";
        let loaded = resolve_topology_source(
            &SourceFile::new("t.yaml", text),
            &Registry::builtin(),
            &TopologyOverrides::default(),
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let plan = loaded.plan.expect("it loads");
        let client = plan.group_by_name("client").expect("a node");
        assert_eq!(client.count, 2);
        let options = &client.sockets[0].options;
        assert_eq!((options.sndhwm.value, options.rcvhwm.value), (1000, 15));
    }

    #[test]
    fn a_workload_count_in_hex_is_accepted_and_a_quoted_one_is_not() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good");
        let load = |requests: &str| {
            let text = format!(
                "name: t\ntopology: queue.yaml\nduration: 1s\nworkload:\n  client: {{requests: {requests}}}\n\
                 invariants: [no_lost_replies]\nexpect: pass\n"
            );
            load_scenario_source(&SourceFile::new(dir.join("t.yaml"), text), &Registry::builtin())
        };
        let hex = load("0x10");
        assert!(hex.diagnostics.is_empty(), "{:?}", hex.diagnostics);
        let plan = hex.plan.expect("it loads");
        assert_eq!(plan.workload.values().next().and_then(|w| w.requests), Some(16));
        let quoted = load("\"16\"");
        let found: Vec<_> =
            quoted.diagnostics.iter().map(|d| (d.code, d.message.as_str())).collect();
        assert_eq!(
            found,
            [(
                crate::spec::diag::Code::BadType,
                "`requests` must be a whole number, found the string `\"16\"`"
            )]
        );
    }
}
