//! The error type of the collecting deserializer in [`super`], and the words it uses to
//! describe what was found ("the string `abc`", "a mapping").
//!
//! A failure is either already recorded as an issue (the deserializer found it and wrote it
//! down with its path) or raised by serde-generated code through [`de::Error`], in which
//! case it carries its message here until the deserializer that called the visitor records
//! it at the right path.

use std::fmt;

use serde::de::{self, Expected, Unexpected};
use serde_yaml::Value;

use crate::spec::diag::Code;
use crate::spec::suggest;

/// Why deserializing one value failed.
#[derive(Debug)]
pub(crate) enum DeError {
    /// Recorded already, or left unrecorded on purpose because a recorded issue explains it.
    Reported,
    /// Raised by a visitor or a `Deserialize` impl and not yet recorded.
    Raised(Raised),
}

/// A failure raised through [`de::Error`], waiting to be given a path.
#[derive(Debug)]
pub(crate) struct Raised {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    /// Set for "missing field" so the struct can look for a misspelt key to hint at.
    pub(crate) missing_field: Option<&'static str>,
}

impl DeError {
    fn raised(code: Code, message: String, hint: Option<String>) -> Self {
        DeError::Raised(Raised { code, message, hint, missing_field: None })
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Reported => f.write_str("the error has been recorded"),
            DeError::Raised(raised) => f.write_str(&raised.message),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::raised(Code::InvalidValue, msg.to_string(), None)
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        let message = format!("expected {exp}, found {}", describe_unexpected(&unexp));
        DeError::raised(Code::WrongType, message, None)
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        let message =
            format!("invalid value: expected {exp}, found {}", describe_unexpected(&unexp));
        DeError::raised(Code::InvalidValue, message, None)
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        let message = format!("expected {exp}, found {len} items");
        DeError::raised(Code::WrongLength, message, None)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let message = format!("unknown value `{variant}`");
        DeError::raised(
            Code::UnknownVariant,
            message,
            Some(suggest::did_you_mean_or_list(variant, expected)),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let message = format!("unknown field `{field}`");
        DeError::raised(
            Code::UnknownField,
            message,
            Some(suggest::did_you_mean_or_list(field, expected)),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        let message = format!("missing field `{field}`");
        DeError::Raised(Raised {
            code: Code::MissingField,
            message,
            hint: None,
            missing_field: Some(field),
        })
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::raised(Code::DuplicateField, format!("field `{field}` is given twice"), None)
    }
}

/// "the string `abc`", "a mapping", "null": what a YAML value is, for "found …".
pub(super) fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{}`", shorten(s)),
        Value::Sequence(items) => match items.len() {
            1 => "a list of 1 item".to_owned(),
            n => format!("a list of {n} items"),
        },
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("a value tagged `{}`", tagged.tag),
    }
}

/// How a path names a key that is a list or mapping (YAML's `? [a, b]`): after the
/// `?` that writes one. The locator finds such a key by this name.
pub(crate) const COMPLEX_KEY: &str = "?";

/// The text a mapping key stands for in a [`crate::spec::YamlPath`]; non-string keys use their
/// YAML spelling so the locator can compare them.
pub(crate) fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => COMPLEX_KEY.to_owned(),
    }
}

/// Like [`describe_value`], for what serde's own visitors report.
fn describe_unexpected(unexp: &Unexpected<'_>) -> String {
    match *unexp {
        Unexpected::Bool(b) => format!("`{b}`"),
        Unexpected::Unsigned(n) => format!("the number `{n}`"),
        Unexpected::Signed(n) => format!("the number `{n}`"),
        Unexpected::Float(n) => format!("the number `{}`", serde_yaml::Number::from(n)),
        Unexpected::Char(c) => format!("the character `{c}`"),
        Unexpected::Str(s) => format!("the string `{}`", shorten(s)),
        Unexpected::Bytes(_) => "bytes".to_owned(),
        Unexpected::Unit => "null".to_owned(),
        Unexpected::Option => "an optional value".to_owned(),
        Unexpected::NewtypeStruct => "a single value".to_owned(),
        Unexpected::Seq => "a list".to_owned(),
        Unexpected::Map => "a mapping".to_owned(),
        Unexpected::Enum => "a tagged value".to_owned(),
        Unexpected::UnitVariant
        | Unexpected::NewtypeVariant
        | Unexpected::TupleVariant
        | Unexpected::StructVariant => "a variant".to_owned(),
        Unexpected::Other(other) => other.to_owned(),
    }
}

/// The first line of `s`, cut to a length that fits in a message.
fn shorten(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    let first_line = s.lines().next().unwrap_or("");
    let cut: String = first_line.chars().take(MAX_CHARS).collect();
    if cut.len() < s.len() { format!("{cut}…") } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::Error as _;

    #[test]
    fn describes_values_readably() {
        assert_eq!(describe_value(&Value::from("abc")), "the string `abc`");
        assert_eq!(describe_value(&Value::from(5)), "the number `5`");
        assert_eq!(describe_value(&Value::from(1.5)), "the number `1.5`");
        assert_eq!(describe_value(&Value::Null), "null");
        assert_eq!(describe_value(&Value::from(true)), "`true`");
        let long = "x".repeat(50);
        let expected = format!("the string `{}…`", "x".repeat(40));
        assert_eq!(describe_value(&Value::from(long)), expected);
        assert_eq!(describe_value(&Value::from("a\nb")), "the string `a…`");
    }

    #[test]
    fn raised_errors_keep_their_kind() {
        let DeError::Raised(raised) = DeError::missing_field("type") else {
            panic!("missing_field must be raised, not reported");
        };
        assert_eq!(raised.code, "missing-field");
        assert_eq!(raised.message, "missing field `type`");
        assert_eq!(raised.missing_field, Some("type"));

        let err = DeError::invalid_type(Unexpected::Map, &"a string");
        assert_eq!(err.to_string(), "expected a string, found a mapping");
        let err = DeError::unknown_variant("sbu", &["pub", "sub"]);
        let DeError::Raised(raised) = err else { panic!("raised") };
        assert_eq!(raised.hint.as_deref(), Some("did you mean `sub`?"));
    }

    #[test]
    fn keys_have_yaml_text() {
        assert_eq!(key_text(&Value::from(80)), "80");
        assert_eq!(key_text(&Value::from("a")), "a");
        assert_eq!(key_text(&Value::Null), "null");
    }
}
