//! `expect`: which invariants are to be violated, in which seeds, and the counts of
//! violations and drops a run is to show.

use std::collections::BTreeMap;

use crate::plan::{CountRange, DROP_REASONS, Expect, ExpectBounds, ExpectIn, InvariantPlan};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawExpect, RawScenario};
use crate::spec::scalar::{OneOrMany, Scalar};
use crate::spec::suggest::did_you_mean;

use super::scalars::not_a_whole_number;
use super::scenario::ScenarioResolver;

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn expect(
        &mut self,
        raw: &RawScenario,
        invariants: &[InvariantPlan],
    ) -> (Expect, ExpectBounds) {
        let spec = match &raw.expect {
            None => {
                self.diags
                    .missing_field(&YamlPath::root(), "expect")
                    .hint("say what the run should show: `expect: pass`, or `expect: {violated: [no_lost_replies]}`");
                return (Expect::Pass, ExpectBounds::default());
            }
            Some(RawExpect::Pass) => return (Expect::Pass, ExpectBounds::default()),
            Some(RawExpect::Spec(spec)) => spec,
        };
        let path = YamlPath::root().key("expect");
        let expect = match &spec.violated {
            None => Expect::Pass,
            Some(names) => {
                self.expect_violated(raw, invariants, names, &path.key("violated"));
                Expect::Violated(names.clone())
            }
        };
        let seeds = self.expect_in(spec.in_seeds.as_deref(), &expect, &path.key("in"));
        let mut violations = BTreeMap::new();
        for (name, written) in &spec.violations {
            let vpath = path.key("violations").key(name.as_str());
            if !matches!(&expect, Expect::Violated(v) if v.contains(name)) {
                self.diags
                    .error(
                        &vpath,
                        Target::Key,
                        Code::CountNotViolated,
                        format!("counts violations of `{name}`, which `violated` does not list"),
                    )
                    .hint(format!("add `{name}` to `violated:`, or remove its count"));
                continue;
            }
            if let Some(range) = self.count_range(written, &vpath) {
                if range.min == 0 {
                    self.diags
                        .error(&vpath, Target::Value, Code::OutOfRange, format!("`{name}` is expected to be violated, so it has at least one violation"))
                        .hint("start the range at 1");
                }
                violations.insert(name.clone(), range);
            }
        }
        let mut drops = BTreeMap::new();
        for (name, written) in &spec.drops {
            let dpath = path.key("drops").key(name.as_str());
            let Some((_, reason)) = DROP_REASONS.iter().find(|(n, _)| n == name) else {
                let names = DROP_REASONS.map(|(n, _)| n);
                let d = self.diags.error(
                    &dpath,
                    Target::Key,
                    Code::UnknownDropReason,
                    format!("`{name}` is not a drop reason"),
                );
                match did_you_mean(name, names) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("drop reasons: {}", names.join(", "))),
                };
                continue;
            };
            if let Some(range) = self.count_range(written, &dpath) {
                drops.insert(*reason, range);
            }
        }
        (expect, ExpectBounds { seeds, violations, drops })
    }

    pub(super) fn expect_violated(
        &mut self,
        raw: &RawScenario,
        invariants: &[InvariantPlan],
        names: &[String],
        path: &YamlPath,
    ) {
        if names.is_empty() {
            self.diags
                .error(path, Target::Value, Code::Empty, "`violated` lists no invariant")
                .hint("write `expect: pass` if every invariant should hold");
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                self.diags
                    .error(
                        &path.index(i),
                        Target::Value,
                        Code::DuplicateInvariant,
                        format!("`violated` lists `{name}` twice"),
                    )
                    .hint("list each invariant once");
                continue;
            }
            if !raw.invariants.iter().any(|inv| &inv.name == name) {
                let d = self.diags.error(
                    &path.index(i),
                    Target::Value,
                    Code::ExpectUnchecked,
                    format!("expects `{name}` to be violated, but the scenario does not check it"),
                );
                match did_you_mean(name, invariants.iter().map(|p| p.name)) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("add `{name}` to `invariants:`")),
                };
            }
        }
    }

    /// `in: every | any`; `any` only with `violated`, since "passes in some seed"
    /// says nothing of the others.
    pub(super) fn expect_in(
        &mut self,
        written: Option<&str>,
        expect: &Expect,
        path: &YamlPath,
    ) -> ExpectIn {
        match written {
            None | Some("every") => ExpectIn::Every,
            Some("any") if *expect == Expect::Pass => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::BadValue,
                        "`in: any` needs `violated`: which outcome is to show in some seed?",
                    )
                    .hint("a scenario that must pass does so in every seed; drop `in`");
                ExpectIn::Every
            }
            Some("any") => ExpectIn::Any,
            Some(other) => {
                let d = self.diags.error(
                    path,
                    Target::Value,
                    Code::UnknownVariant,
                    format!("`in: {other}` is neither `every` nor `any`"),
                );
                match did_you_mean(other, ["every", "any"]) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint("`every` seed (the default) or `any` seed"),
                };
                ExpectIn::Every
            }
        }
    }

    /// `N` or `[min, max]` of whole numbers; `max` may be `.inf`.
    pub(super) fn count_range(
        &mut self,
        written: &OneOrMany<Scalar>,
        path: &YamlPath,
    ) -> Option<CountRange> {
        // A YAML integer (or `1_000`), as every whole-number field takes: a quoted `"3"`
        // or a float `3.0` is refused, with what to write instead.
        let mut typo_hint = None;
        let mut whole = |s: &Scalar| match not_a_whole_number(s) {
            Some((_, hint)) => {
                typo_hint = typo_hint.take().or(hint);
                None
            }
            None => s.text.replace('_', "").parse::<u64>().ok(),
        };
        let range = match written {
            OneOrMany::One(n) => whole(n).map(|n| CountRange { min: n, max: Some(n) }),
            OneOrMany::Many(v) => match v.as_slice() {
                [min, max] if matches!(max.text.as_str(), ".inf" | "+.inf" | "inf") => {
                    whole(min).map(|min| CountRange { min, max: None })
                }
                [min, max] => match (whole(min), whole(max)) {
                    (Some(min), Some(max)) if min <= max => {
                        Some(CountRange { min, max: Some(max) })
                    }
                    _ => None,
                },
                _ => None,
            },
        };
        if range.is_none() {
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::BadRange,
                    "a count is a whole number `N` or a range `[min, max]` with min at most max",
                )
                .hint(typo_hint.unwrap_or_else(|| {
                    "for example `3`, `[1, 20]`, or `[1, .inf]` for at least one".to_owned()
                }));
        }
        range
    }
}
