//! A leaf value kept as the text the user wrote, for fields that carry units (`250ms`,
//! `1000`, `unlimited`).
//!
//! Reading such a field as a plain `String` would reject `1000`, and parsing units inside
//! `Deserialize` would make a unit error stop the load. A [`Scalar`] accepts any YAML
//! scalar, and the resolver parses it with [`super::units`] later, recording unit errors
//! next to every other problem.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

// The other schema leaf type has its own file; it is re-exported here so that the schema can
// import both leaf types from one place.
pub use super::one_or_many::OneOrMany;

/// How YAML read a scalar, which decides e.g. whether `"1000"` and `1000` differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScalarKind {
    /// A string.
    String,
    /// An integer.
    Int,
    /// A float.
    Float,
    /// A boolean.
    Bool,
}

/// Any YAML scalar with its text: strings as written, numbers and booleans as YAML
/// resolved them (so `0x10` reads as `16` and `1.50` as `1.5`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scalar {
    /// The text, as above.
    pub text: String,
    /// What YAML read it as.
    pub kind: ScalarKind,
}

impl Scalar {
    /// A scalar of the given kind; for tests and defaults.
    pub fn new(text: impl Into<String>, kind: ScalarKind) -> Self {
        Self { text: text.into(), kind }
    }

    /// A string scalar, for hand-written `Deserialize` impls that meet one.
    pub(crate) fn string(text: impl Into<String>) -> Self {
        Self::new(text, ScalarKind::String)
    }

    /// A number scalar from its text: `Int` if it reads as a whole number, else `Float`.
    pub fn number(text: impl Into<String>) -> Self {
        let text = text.into();
        let kind = if text.parse::<i128>().is_ok() { ScalarKind::Int } else { ScalarKind::Float };
        Self::new(text, kind)
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a single value such as `250ms`, `1000` or `unlimited`")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Scalar, E> {
        Ok(Scalar::new(text, ScalarKind::String))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Scalar, E> {
        Ok(Scalar::new(value.to_string(), ScalarKind::Bool))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Scalar, E> {
        Ok(Scalar::new(value.to_string(), ScalarKind::Int))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Scalar, E> {
        Ok(Scalar::new(value.to_string(), ScalarKind::Int))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Scalar, E> {
        Ok(Scalar::new(value.to_string(), ScalarKind::Int))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Scalar, E> {
        Ok(Scalar::new(value.to_string(), ScalarKind::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Scalar, E> {
        Ok(Scalar::new(float_text(value), ScalarKind::Float))
    }
}

/// A float as YAML spells it: `1.5`, `.inf`, `-.inf`, `.nan`.
fn float_text(value: f64) -> String {
    match value {
        v if v.is_nan() => ".nan".to_owned(),
        f64::INFINITY => ".inf".to_owned(),
        f64::NEG_INFINITY => "-.inf".to_owned(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Diagnostics, SourceFile, load};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Leaves {
        a: Scalar,
        b: Scalar,
        c: Scalar,
        d: Scalar,
        e: Scalar,
    }

    #[test]
    fn keeps_the_text_of_any_scalar() {
        let src = SourceFile::new("t.yaml", "a: 250ms\nb: 1000\nc: true\nd: 1.50\ne: \"64\"\n");
        let mut diags = Diagnostics::new(&src);
        let leaves: Leaves = load(&src, &mut diags).expect("all scalars");
        assert_eq!(leaves.a, Scalar::new("250ms", ScalarKind::String));
        assert_eq!(leaves.b, Scalar::new("1000", ScalarKind::Int));
        assert_eq!(leaves.c, Scalar::new("true", ScalarKind::Bool));
        assert_eq!(leaves.d, Scalar::new("1.5", ScalarKind::Float));
        assert_eq!(leaves.e, Scalar::new("64", ScalarKind::String));
    }

    #[test]
    fn rejects_collections_with_a_located_error() {
        let src = SourceFile::new("t.yaml", "a: [1]\nb: 1\nc: 1\nd: 1\ne: {x: 1}\n");
        let mut diags = Diagnostics::new(&src);
        assert!(load::<Leaves>(&src, &mut diags).is_none());
        let found: Vec<_> = diags
            .as_slice()
            .iter()
            .map(|d| (d.location.map(|l| l.line), d.message.as_str()))
            .collect();
        let expected = "expected a single value such as `250ms`, `1000` or `unlimited`, found";
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0], (Some(1), &*format!("{expected} a list")));
        assert_eq!(found[1], (Some(5), &*format!("{expected} a mapping")));
    }

    #[test]
    fn constructors_pick_the_kind() {
        assert_eq!(Scalar::string("5").kind, ScalarKind::String);
        assert_eq!(Scalar::number("5").kind, ScalarKind::Int);
        assert_eq!(Scalar::number("-5").kind, ScalarKind::Int);
        assert_eq!(Scalar::number("2.5").kind, ScalarKind::Float);
    }

    #[test]
    fn works_with_serde_yaml_directly() {
        let scalar: Scalar = serde_yaml::from_str("-3").expect("an int");
        assert_eq!(scalar, Scalar::new("-3", ScalarKind::Int));
        let scalar: Scalar = serde_yaml::from_str(".inf").expect("a float");
        assert_eq!(scalar.text, ".inf");
    }
}
