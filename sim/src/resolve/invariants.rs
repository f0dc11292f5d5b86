//! Invariants: each named one exists in the catalogue, is listed once, applies to this
//! topology, and gets only the parameters it takes, every required one, and the
//! declared default of each one left out.

use std::collections::BTreeMap;

use crate::invariant::Invariant;
use crate::plan::{Expect, ExpectBounds, InvariantPlan, ParamValue};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawScenario;
use crate::spec::scalar::Scalar;
use crate::spec::suggest::did_you_mean;
use crate::vocab::{ParamDefault, ParamKind};

use super::design::{bad_default, bad_default_hint, parse_param, parse_written_param};
use super::scenario::ScenarioResolver;

impl ScenarioResolver<'_, '_, '_> {
    pub(super) fn invariants(&mut self, raw: &RawScenario) -> Vec<InvariantPlan> {
        let mut out = Vec::new();
        for (i, inv) in raw.invariants.iter().enumerate() {
            let path = YamlPath::root().key("invariants").index(i);
            let Some(spec) = self.registry.find_invariant(&inv.name) else {
                let d = self.diags.error(
                    &path,
                    Target::Value,
                    Code::UnknownInvariant,
                    format!("no invariant is called `{}`", inv.name),
                );
                match did_you_mean(&inv.name, self.registry.invariants().map(|s| s.name)) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!(
                        "invariants: {}",
                        self.registry.invariants().map(|s| s.name).collect::<Vec<_>>().join(", ")
                    )),
                };
                continue;
            };
            if out.iter().any(|p: &InvariantPlan| p.name == spec.name) {
                self.diags.error(
                    &path,
                    Target::Value,
                    Code::DuplicateInvariant,
                    format!("`{}` is listed twice", spec.name),
                );
                continue;
            }
            if let Err(reason) = (spec.applies)(self.topology, self.registry) {
                self.diags
                    .error(
                        &path,
                        Target::Value,
                        Code::InvariantNotApplicable,
                        format!("`{}` cannot apply to this topology: {reason}", spec.name),
                    )
                    .hint(format!("`{}` checks that {}", spec.name, spec.summary));
                continue;
            }
            if spec.faults_needed() && raw.faults.is_empty() && raw.swarm.is_none() {
                self.diags
                    .error(
                        &path,
                        Target::Value,
                        Code::InvariantNotApplicable,
                        format!(
                            "`{}` checks that {}, and this scenario schedules no fault: it \
                             would pass whatever the run did",
                            spec.name, spec.summary
                        ),
                    )
                    .hint(format!(
                        "schedule a fault under `faults:` (or draw them with `swarm:`), or \
                         leave `{}` out",
                        spec.name
                    ));
                continue;
            }
            let params = self.invariant_params(spec, &inv.params, &path);
            out.push(InvariantPlan { name: spec.name, params });
        }
        out
    }

    /// A scenario that expects to pass must check something: with no invariant and no
    /// drop count to hold the run to, `expect: pass` would pass whatever the run did.
    /// Reported at `invariants: []`, or at the top of the file when it has none, with
    /// the invariants that apply to this topology.
    pub(super) fn require_a_check(
        &mut self,
        raw: &RawScenario,
        expect: &Expect,
        bounds: &ExpectBounds,
    ) {
        if !raw.invariants.is_empty()
            || raw.expect.is_none()
            || *expect != Expect::Pass
            || !bounds.drops.is_empty()
        {
            return;
        }
        let root = YamlPath::root();
        let written = self.diags.locate(&root.key("invariants"), Target::Key).is_some();
        let d = if written {
            self.diags.error(
                &root.key("invariants"),
                Target::Value,
                Code::Empty,
                "`invariants` names none, so `expect: pass` checks nothing and always passes",
            )
        } else {
            self.diags.error(
                &root,
                Target::Key,
                Code::MissingField,
                "the scenario names no `invariants`, so `expect: pass` checks nothing and always passes",
            )
        };
        let applicable: Vec<&str> = self
            .registry
            .invariants()
            .filter(|spec| (spec.applies)(self.topology, self.registry).is_ok())
            .map(|spec| spec.name)
            .collect();
        match applicable.as_slice() {
            [] => d.hint("name an invariant to check under `invariants:`"),
            [first, ..] => d.hint(format!(
                "name one to check, such as `invariants: [{first}]`; those that apply to this topology: {}",
                applicable.join(", ")
            )),
        };
    }

    /// The parameters given to one invariant: each one it declares, of its kind.
    fn invariant_params(
        &mut self,
        spec: &Invariant,
        given: &BTreeMap<String, Scalar>,
        path: &YamlPath,
    ) -> BTreeMap<String, ParamValue> {
        let mut params = BTreeMap::new();
        for (pname, value) in given {
            let ppath = path.key(spec.name).key(pname.as_str());
            let Some(pspec) = spec.params.iter().find(|p| p.name == pname) else {
                let d = self.diags.error(
                    &ppath,
                    Target::Key,
                    Code::UnknownParam,
                    format!("`{}` takes no parameter `{pname}`", spec.name),
                );
                if spec.params.is_empty() {
                    d.hint("it takes no parameters");
                } else {
                    d.hint(format!(
                        "it takes: {}",
                        spec.params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                    ));
                }
                continue;
            };
            match parse_written_param(pspec.kind, value) {
                Ok(v) => {
                    params.insert(pname.clone(), v);
                }
                Err((must, hint)) => {
                    self.diags
                        .error(&ppath, Target::Value, Code::BadValue, format!("`{pname}` {must}"))
                        .hint(hint);
                }
            }
        }
        for pspec in spec.params.iter().filter(|p| !given.contains_key(p.name)) {
            match pspec.default {
                ParamDefault::Value(text) => match parse_param(pspec.kind, text) {
                    Ok(v) => {
                        params.insert(pspec.name.to_owned(), v);
                    }
                    Err((must, _)) => {
                        let whose = format!("invariant `{}`", spec.name);
                        let message = bad_default(&whose, pspec.name, text, &must);
                        self.diags
                            .error(path, Target::Value, Code::BadValue, message)
                            .hint(bad_default_hint(&whose, pspec.name, "its entry here"));
                    }
                },
                ParamDefault::Computed(_) => {}
                ParamDefault::Required => {
                    let (name, param) = (spec.name, pspec.name);
                    let value = format!("{param}: {}", example(pspec.kind));
                    let how = if given.is_empty() {
                        format!("write the entry as `- {name}: {{{value}}}`")
                    } else {
                        format!("add `{value}` to the entry's parameters")
                    };
                    self.diags
                        .error(
                            path,
                            Target::Value,
                            Code::MissingParam,
                            format!("`{name}` needs the parameter `{param}` ({})", pspec.doc),
                        )
                        .hint(format!("{how}, `{param}` being {}", pspec.kind.describe()));
                }
            }
        }
        params
    }
}

/// A value of `kind` to show in a hint, as a file writes it.
fn example(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Count => "3",
        ParamKind::Duration => "250ms",
        ParamKind::Size => "64KiB",
        ParamKind::Number => "0.5",
        ParamKind::Bool => "true",
        ParamKind::Text => "some text",
        ParamKind::OneOf(words) => words.first().copied().unwrap_or("..."),
    }
}
