//! A field that may be written as one value or as a list (`connect: tcp://a:1` or
//! `connect: [tcp://a:1, tcp://b:2]`).
//!
//! An untagged enum would do this, but it buffers the value and reports only "data did not
//! match any variant", losing the path and the unknown-field checks of `spec/de/`. So
//! [`OneOrMany`] asks for a newtype struct with the private name [`MARKER`]: the collecting
//! deserializer answers with `visit_seq` for a list and with `visit_some(itself)` for a
//! single value, keeping every check; any other deserializer answers with
//! `visit_newtype_struct`, and the value is then inspected with `deserialize_any`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

/// The newtype name that tells the collecting deserializer this is a [`OneOrMany`].
pub const MARKER: &str = "patchbay::spec::OneOrMany";

/// One value or a list of values of the same type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a list, one or many alike.
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }

    /// The values as a slice.
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }

    /// The values in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    /// Whether the value was written as a list (even of one item), so that paths into it
    /// need an index.
    pub(crate) fn is_many(&self) -> bool {
        matches!(self, OneOrMany::Many(_))
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether this is an empty list.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl<T> IntoIterator for OneOrMany<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'a, T> IntoIterator for &'a OneOrMany<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OneOrMany::One(one) => one.serialize(serializer),
            OneOrMany::Many(many) => many.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(MARKER, OneOrManyVisitor(PhantomData))
    }
}

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = OneOrMany<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
    }

    // The collecting deserializer's answer for a single value.
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        T::deserialize(deserializer).map(OneOrMany::One)
    }

    // Any other deserializer's answer.
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(Fallback(PhantomData))
    }
}

/// Decides between one and many by looking at the value, for deserializers other than ours.
struct Fallback<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Fallback<T> {
    type Value = OneOrMany<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::deserialize(v.into_deserializer()).map(OneOrMany::One)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        T::deserialize(().into_deserializer()).map(OneOrMany::One)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Diagnostics, SourceFile, load};
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Endpoint {
        url: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Socket {
        connect: OneOrMany<String>,
        peers: Option<OneOrMany<Endpoint>>,
    }

    fn load_socket(text: &str) -> (Option<Socket>, Vec<String>) {
        let src = SourceFile::new("t.yaml", text);
        let mut diags = Diagnostics::new(&src);
        let socket = load::<Socket>(&src, &mut diags);
        (socket, diags.into_vec().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reads_one_or_a_list() {
        let (one, _) = load_socket("connect: tcp://a:1\n");
        assert_eq!(one.expect("one").connect, OneOrMany::One("tcp://a:1".to_owned()));
        let (many, _) = load_socket("connect: [tcp://a:1, tcp://b:2]\n");
        let many = many.expect("many").connect;
        assert!(many.is_many());
        assert_eq!(many.len(), 2);
        assert_eq!(many.iter().map(String::as_str).collect::<Vec<_>>(), ["tcp://a:1", "tcp://b:2"]);
        assert_eq!(many.into_vec(), ["tcp://a:1", "tcp://b:2"]);
    }

    #[test]
    fn keeps_paths_and_field_checks_inside() {
        let text = "connect: x\npeers:\n  - url: a\n  - urll: b\n";
        let (socket, diags) = load_socket(text);
        assert!(socket.is_none());
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(
            diags[0].starts_with(
                "t.yaml:4:5: error[unknown-field]: unknown field `urll` in `peers[1]`"
            )
        );
        assert!(diags[1].starts_with("t.yaml:4:5: error[missing-field]: missing field `url`"));
        let (_, diags) = load_socket("connect: x\npeers: {urll: b}\n");
        assert_eq!(
            diags,
            [
                "t.yaml:2:8: error[missing-field]: missing field `url` \
                 (hint: found `urll`; did you mean `url`?)",
                "t.yaml:2:9: error[unknown-field]: unknown field `urll` in `peers` \
                 (hint: did you mean `url`?)",
            ]
        );
    }

    #[test]
    fn works_with_serde_yaml_directly() {
        let one: OneOrMany<u32> = serde_yaml::from_str("5").expect("one");
        assert_eq!(one, OneOrMany::One(5));
        let many: OneOrMany<u32> = serde_yaml::from_str("[5, 6]").expect("many");
        assert_eq!(many, OneOrMany::Many(vec![5, 6]));
        let endpoint: OneOrMany<Endpoint> = serde_yaml::from_str("url: a").expect("map");
        assert_eq!(endpoint.into_vec(), [Endpoint { url: "a".to_owned() }]);
    }
}
