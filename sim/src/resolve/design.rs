//! A node's design: it exists, its parameters are the ones it declares (with their
//! kinds), and its sockets have the roles and types it needs.

use std::collections::BTreeMap;

use crate::design::{Design, ParamDefault, ParamKind, ParamScope};
use crate::plan::{Group, ParamValue};
use crate::socket::SocketType;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawNode, RawSocket, RawTopology};
use crate::spec::scalar::{Scalar, ScalarKind};
use crate::spec::suggest::{did_you_mean, nearest_names};
use crate::spec::units::{format_duration, parse_duration, parse_size};

use super::scalars::{TIME_OPTION_MAX, not_a_whole_number, time_option_max_hint};
use super::topology::TopologyResolver;

impl<'r> TopologyResolver<'r, '_, '_> {
    pub(super) fn design(&mut self, name: &str, path: &YamlPath) -> Option<&'r Design> {
        if let Some(spec) = self.registry.get(name) {
            if spec.is_broken() {
                self.diags
                    .warning(
                        &path.key("design"),
                        Target::Value,
                        Code::BrokenDesign,
                        format!(
                            "`{}` is deliberately broken: it exists to show that patchbay's checkers catch its bug",
                            spec.name()
                        ),
                    )
                    .hint(format!(
                        "its bug: {}; model real systems with the sound designs",
                        spec.summary_text().trim_start_matches("BROKEN: ").trim_end_matches('.')
                    ));
            }
            return Some(spec);
        }
        let d = self.diags.error(
            &path.key("design"),
            Target::Value,
            Code::UnknownDesign,
            format!("no design is called `{name}`"),
        );
        let sound = || self.registry.iter().filter(|d| !d.is_broken()).map(|d| d.name());
        match did_you_mean(name, sound()) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None => d.hint(format!(
                "built-in designs: {}; register your own from Rust with `Registry::register`",
                nearest_names(name, &sound().collect::<Vec<_>>())
            )),
        };
        None
    }

    pub(super) fn design_params(
        &mut self,
        node: &RawNode,
        design: &Design,
        path: &YamlPath,
    ) -> BTreeMap<String, ParamValue> {
        let mut out = BTreeMap::new();
        for (name, raw) in &node.params {
            let ppath = path.key("params").key(name.as_str());
            let Some(spec) = design.params().iter().find(|p| p.name == name) else {
                let names = design.params().iter().map(|p| p.name);
                let d = self.diags.error(
                    &ppath,
                    Target::Key,
                    Code::UnknownParam,
                    format!("design `{}` takes no parameter `{name}`", design.name()),
                );
                match did_you_mean(name, names.clone()) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None if design.params().is_empty() => d.hint("this design takes no parameters"),
                    None => d.hint(format!("it takes: {}", names.collect::<Vec<_>>().join(", "))),
                };
                continue;
            };
            let Some(written) = self.expand_scalar(raw, &ppath) else { continue };
            let before = self.diags.as_slice().len();
            let value = self.param_value(spec.kind, &written, &ppath, name);
            self.name_the_param(raw, &ppath, before);
            if let Some(v) = value {
                out.insert(name.clone(), v);
            }
        }
        for spec in design.params() {
            if out.contains_key(spec.name) || node.params.contains_key(spec.name) {
                continue;
            }
            match spec.default {
                ParamDefault::Value(text) => match parse_param(spec.kind, text) {
                    Ok(v) => {
                        out.insert(spec.name.to_owned(), v);
                    }
                    Err((must, _)) => {
                        let whose = format!("design `{}`", design.name());
                        let message = bad_default(&whose, spec.name, text, &must);
                        self.diags
                            .error(path, Target::Value, Code::BadValue, message)
                            .hint(bad_default_hint(&whose, spec.name, &node.label()));
                    }
                },
                ParamDefault::Computed(_) => {}
                ParamDefault::Required => {
                    self.diags
                        .error(
                            path,
                            Target::Value,
                            Code::MissingParam,
                            format!(
                                "design `{}` needs the parameter `{}` ({})",
                                design.name(),
                                spec.name,
                                spec.doc
                            ),
                        )
                        .hint(format!("add `params: {{{}: ...}}` to {}", spec.name, node.label()));
                }
            }
        }
        out
    }

    /// Holds each node's parameters to its design's rules (`Design::check_params`),
    /// once every node is resolved, since a rule may compare a value with another
    /// node. A problem is reported at the parameter's value, or at the node when the
    /// value is the design's default.
    pub(super) fn check_param_rules(&mut self, raw: &RawTopology, groups: &[Group]) {
        for group in groups {
            let Some(design) = self.registry.get(&group.design) else { continue };
            let Some(i) = raw.nodes.iter().position(|n| n.name() == group.name) else { continue };
            let path = YamlPath::root().key("nodes").index(i);
            for problem in design.param_problems(&ParamScope::new(&group.params, groups)) {
                let at = if raw.nodes[i].params.contains_key(problem.param()) {
                    path.key("params").key(problem.param())
                } else {
                    path.clone()
                };
                self.diags
                    .error(&at, Target::Value, Code::OutOfRange, problem.message())
                    .hint(problem.hint());
            }
        }
    }

    pub(super) fn param_value(
        &mut self,
        kind: ParamKind,
        written: &Scalar,
        path: &YamlPath,
        name: &str,
    ) -> Option<ParamValue> {
        match parse_written_param(kind, written) {
            Ok(v) => Some(v),
            Err((must, hint)) => {
                self.diags
                    .error(
                        path,
                        Target::Value,
                        Code::BadValue,
                        format!("parameter `{name}` {must}"),
                    )
                    .hint(hint);
                None
            }
        }
    }

    pub(super) fn check_role(
        &mut self,
        raw: &RawSocket,
        t: SocketType,
        design: &Design,
        path: &YamlPath,
    ) {
        let Some(role) = design.sockets().iter().find(|r| r.name == raw.name) else {
            let names = design.sockets().iter().map(|r| r.name);
            let d = self.diags.error(
                &path.key("name"),
                Target::Value,
                Code::UnknownSocketRole,
                format!("design `{}` uses no socket named `{}`", design.name(), raw.name),
            );
            match did_you_mean(&raw.name, names.clone()) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("its sockets: {}", names.collect::<Vec<_>>().join(", "))),
            };
            return;
        };
        if !role.types.contains(&t) {
            let allowed: Vec<&str> = role.types.iter().map(|t| t.name()).collect();
            self.diags
                .error(
                    &path.key("type"),
                    Target::Value,
                    Code::WrongSocketType,
                    format!(
                        "design `{}` needs socket `{}` to be {}, not {t}",
                        design.name(),
                        role.name,
                        allowed.join(" or ")
                    ),
                )
                .hint(format!("`{}` {}", role.name, role.doc));
        }
    }

    pub(super) fn check_design_sockets(
        &mut self,
        node: &RawNode,
        design: &Design,
        path: &YamlPath,
    ) {
        for role in design.sockets().iter().filter(|r| r.required) {
            if node.sockets.iter().any(|s| s.name == role.name) {
                continue;
            }
            let types: Vec<&str> = role.types.iter().map(|t| t.name()).collect();
            self.diags
                .error(
                    path,
                    Target::Value,
                    Code::MissingSocket,
                    format!(
                        "{} runs design `{}`, which needs a socket `{}` ({})",
                        node.label(),
                        design.name(),
                        role.name,
                        types.join(" or ")
                    ),
                )
                .hint(format!(
                    "add `{{name: {}, type: {}, ...}}` to its sockets",
                    role.name, types[0]
                ));
        }
    }
}

/// The error for a parameter whose declared default is not of its kind (`whose`:
/// "design `batcher`"): a mistake in the Rust that declared it, which no file can
/// make, but which must not leave the parameter silently unset.
pub(super) fn bad_default(whose: &str, param: &str, text: &str, must: &str) -> String {
    format!("{whose} declares `{text}` as the default of its parameter `{param}`, which {must}")
}

/// The hint for [`bad_default`]: mend the declaration, or give the value in the file
/// (`within`: "node `broker`", "its entry").
pub(super) fn bad_default_hint(whose: &str, param: &str, within: &str) -> String {
    format!(
        "correct the default in the Rust code that declares {whose}, or give `{param}` in \
         {within}"
    )
}

/// A design's or an invariant's parameter; an error is what it must be (`must be a
/// whole number`) and a hint.
pub(super) fn parse_param(kind: ParamKind, text: &str) -> Result<ParamValue, (String, String)> {
    let must = || format!("must be {}", kind.describe());
    if kind == ParamKind::Duration && parse_duration(text).is_ok_and(|d| d > TIME_OPTION_MAX) {
        return Err((
            format!("must be at most {}", format_duration(TIME_OPTION_MAX)),
            time_option_max_hint(),
        ));
    }
    parse_param_value(kind, text).map_err(|hint| (must(), hint))
}

/// A parameter's value as a file wrote it: [`parse_param`], and a whole number must be
/// a YAML integer (a quoted `"3"` or a float `3.0` is refused, as in every other
/// whole-number field: `scalars::not_a_whole_number`), a number a YAML integer or
/// float, and a boolean a YAML boolean: a quoted `"0.5"` or `"true"` is refused too,
/// rather than read as the value its text spells. An error is what it must be and
/// what was found (`must be a whole number, found the string `"3"``), and a hint.
pub(super) fn parse_written_param(
    kind: ParamKind,
    written: &Scalar,
) -> Result<ParamValue, (String, String)> {
    if kind == ParamKind::Count
        && let Some((found, hint)) = not_a_whole_number(written)
    {
        let hint = hint.unwrap_or_else(|| "for example `3`".to_owned());
        return Err((format!("must be {}, found {found}", kind.describe()), hint));
    }
    if let Some((found, hint)) = not_of_yaml_kind(kind, written) {
        return Err((format!("must be {}, found {found}", kind.describe()), hint));
    }
    parse_param(kind, &written.text)
        .map_err(|(must, hint)| (format!("{must}, found `{}`", written.text), hint))
}

/// Why a number or boolean parameter was not written as one, if it was not: a string
/// (a quoted `"0.5"` or `"true"`) whose text would parse is refused, with a hint to
/// drop the quotes. Anything else that is not a number or a boolean fails
/// [`parse_param`] with its own message.
fn not_of_yaml_kind(kind: ParamKind, written: &Scalar) -> Option<(String, String)> {
    let text = written.text.as_str();
    match (kind, written.kind) {
        (ParamKind::Number, ScalarKind::Int | ScalarKind::Float)
        | (ParamKind::Bool, ScalarKind::Bool) => None,
        (ParamKind::Number | ParamKind::Bool, ScalarKind::String)
            if parse_param_value(kind, text).is_ok() =>
        {
            Some((format!("the string `\"{text}\"`"), format!("write `{text}` without quotes")))
        }
        _ => None,
    }
}

fn parse_param_value(kind: ParamKind, text: &str) -> Result<ParamValue, String> {
    match kind {
        ParamKind::Count => text
            .replace('_', "")
            .parse()
            .map(ParamValue::Count)
            .map_err(|_| "for example `3`".to_owned()),
        ParamKind::Duration => {
            parse_duration(text).map(ParamValue::Duration).map_err(|e| e.hint.unwrap_or(e.message))
        }
        ParamKind::Size => {
            parse_size(text).map(ParamValue::Size).map_err(|e| e.hint.unwrap_or(e.message))
        }
        ParamKind::Number => text
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .map(ParamValue::Number)
            .ok_or_else(|| "for example `0.5`".to_owned()),
        ParamKind::Bool => match text {
            "true" => Ok(ParamValue::Bool(true)),
            "false" => Ok(ParamValue::Bool(false)),
            _ => Err("write `true` or `false`".to_owned()),
        },
        ParamKind::Text => Ok(ParamValue::Text(text.to_owned())),
        ParamKind::OneOf(words) if words.contains(&text) => Ok(ParamValue::Text(text.to_owned())),
        ParamKind::OneOf(words) => Err(format!(
            "write {}",
            words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(" or ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_written_param;
    use crate::design::ParamKind;
    use crate::plan::ParamValue;
    use crate::spec::scalar::{Scalar, ScalarKind};

    #[test]
    fn a_number_or_bool_parameter_must_not_be_quoted() {
        let parse =
            |kind, text: &str, scalar| parse_written_param(kind, &Scalar::new(text, scalar));
        assert_eq!(
            parse(ParamKind::Number, "0.5", ScalarKind::Float).ok(),
            Some(ParamValue::Number(0.5))
        );
        assert_eq!(
            parse(ParamKind::Number, "5", ScalarKind::Int).ok(),
            Some(ParamValue::Number(5.0))
        );
        assert_eq!(
            parse(ParamKind::Bool, "true", ScalarKind::Bool).ok(),
            Some(ParamValue::Bool(true))
        );
        assert_eq!(
            parse(ParamKind::Number, "5", ScalarKind::String).err(),
            Some((
                "must be a number, found the string `\"5\"`".to_owned(),
                "write `5` without quotes".to_owned()
            ))
        );
        assert_eq!(
            parse(ParamKind::Bool, "true", ScalarKind::String).err(),
            Some((
                "must be `true` or `false`, found the string `\"true\"`".to_owned(),
                "write `true` without quotes".to_owned()
            ))
        );
        assert!(parse(ParamKind::Bool, "1", ScalarKind::Int).is_err(), "a number for a bool");
        // A string is still a string parameter's value.
        assert_eq!(
            parse(ParamKind::Text, "5", ScalarKind::String).ok(),
            Some(ParamValue::Text("5".to_owned()))
        );
    }
}
