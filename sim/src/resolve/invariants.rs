//! Invariants: each named one exists in the catalogue, is listed once, applies to this
//! topology, and gets only the parameters it takes.

use std::collections::BTreeMap;

use crate::invariant::Invariant;
use crate::plan::{InvariantPlan, ParamValue};
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawScenario;
use crate::spec::scalar::Scalar;
use crate::spec::suggest::did_you_mean;

use super::design::parse_param;
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
            let params = self.invariant_params(spec, &inv.params, &path);
            out.push(InvariantPlan { name: spec.name, params });
        }
        out
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
            match parse_param(pspec.kind, &value.text) {
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
        params
    }
}
