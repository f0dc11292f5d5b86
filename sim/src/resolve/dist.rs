//! Distributions: a fixed value or `{uniform|exponential|normal|lognormal: ...}` of
//! durations or sizes, with the arity and ordering of their arguments checked.

use crate::plan::Distribution;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawDist;
use crate::spec::scalar::Scalar;
use crate::spec::suggest::did_you_mean;
use crate::spec::units::{UnitError, parse_duration, parse_size};

use super::scalars::{Naming, unit_error};
use super::scenario::ScenarioResolver;

/// The unit a distribution's values are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Quantity {
    Duration,
    Size,
}

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn dist(
        &mut self,
        raw: &RawDist,
        q: Quantity,
        path: &YamlPath,
    ) -> Option<Distribution> {
        match raw {
            RawDist::Fixed(s) => self.quantity(s, q, path).map(Distribution::Fixed),
            RawDist::Named { name, args } => {
                self.named_dist(name, args, q, &path.key(name.as_str()))
            }
        }
    }

    pub(super) fn named_dist(
        &mut self,
        name: &str,
        args: &[Scalar],
        q: Quantity,
        path: &YamlPath,
    ) -> Option<Distribution> {
        const NAMES: [&str; 4] = ["uniform", "exponential", "normal", "lognormal"];
        let arity = match name {
            "exponential" => 1,
            "uniform" | "normal" | "lognormal" => 2,
            _ => {
                let d = self.diags.error(
                    path,
                    Target::Key,
                    Code::UnknownDistribution,
                    format!("`{name}` is not a distribution"),
                );
                match did_you_mean(name, NAMES) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("distributions: {}", NAMES.join(", "))),
                };
                return None;
            }
        };
        if args.len() != arity {
            let example = match name {
                "exponential" => "`{exponential: 50ms}` (the mean)",
                "uniform" => "`{uniform: [1ms, 5ms]}` (min, max)",
                "normal" => "`{normal: [50ms, 5ms]}` (mean, standard deviation)",
                _ => "`{lognormal: [1MiB, 50MiB]}` (median, 99th percentile)",
            };
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::BadDistribution,
                    format!("`{name}` takes {arity} value(s), found {}", args.len()),
                )
                .hint(format!("for example {example}"));
            return None;
        }
        let values: Vec<f64> = args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                self.quantity(a, q, &if arity == 1 { path.clone() } else { path.index(i) })
            })
            .collect::<Option<_>>()?;
        let (a, b) = (values[0], values.get(1).copied().unwrap_or(0.0));
        let ordered = |ok: bool, this: &mut Self, what: &str| {
            if !ok {
                this.diags.error(
                    path,
                    Target::Value,
                    Code::BadDistribution,
                    format!("`{name}`: {what}"),
                );
            }
            ok
        };
        match name {
            "exponential" => ordered(a > 0.0, self, "the mean must be above zero")
                .then_some(Distribution::Exponential { mean: a }),
            "uniform" => ordered(a <= b, self, "the minimum is above the maximum")
                .then_some(Distribution::Uniform { min: a, max: b }),
            "normal" => Some(Distribution::Normal { mean: a, stddev: b }),
            _ => ordered(
                a > 0.0 && a <= b,
                self,
                "the median must be above zero and at most the 99th percentile",
            )
            .then_some(Distribution::LogNormal { median: a, p99: b }),
        }
    }

    pub(super) fn quantity(&mut self, s: &Scalar, q: Quantity, path: &YamlPath) -> Option<f64> {
        let parsed = match q {
            Quantity::Duration => parse_duration(&s.text).map(|d| d.as_nanos() as f64),
            Quantity::Size => parse_size(&s.text).and_then(|v| {
                v.map(|b| b as f64).ok_or_else(|| UnitError {
                    message: "a message size cannot be unlimited".into(),
                    hint: Some("give a size such as `1KiB`".into()),
                })
            }),
        };
        parsed.map_err(|e| unit_error(self.diags, path, e, Naming::Bare)).ok()
    }
}
