//! Turns a [`YamlPath`] back into a line and column of the source text, without a second
//! YAML parser.
//!
//! `serde_yaml::Value` keeps no positions, but serde_yaml stamps the position of the event
//! it is deserializing onto any custom error raised inside that event's visitor. So the
//! locator deserializes the original text with a seed that walks down the path (skipping
//! everything else with [`IgnoredAny`]) and, on arriving, raises a sentinel error from inside
//! the target's own visitor; the error's location is the answer. Raising it any earlier would
//! stamp the parent's position instead. This runs only when a diagnostic is recorded.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::de::COMPLEX_KEY;
use super::diag::{Location, Target};
use super::path::{Seg, YamlPath};
use super::source::SourceFile;

/// The sentinel raised on arriving; a NUL keeps it from colliding with any real message.
const FOUND: &str = "\u{0}patchbay-locate-found";

/// Where the value (or key) at `path` starts in `src`; if the path cannot be found (a key
/// that came from a `<<` merge, say) the nearest ancestor that can be found is used instead,
/// and `None` only if not even the root can be.
pub fn locate(src: &SourceFile, path: &YamlPath, target: Target) -> Option<Location> {
    let mut segs = path.segs();
    let mut target = target;
    loop {
        if let Some(location) = find(&src.text, segs, target) {
            return Some(location);
        }
        (_, segs) = segs.split_last()?;
        target = Target::Value;
    }
}

/// Where the value (or key) at exactly `path` starts in `src`, `None` if the file has
/// nothing there: unlike [`locate`], no ancestor stands in, so it also says whether the
/// file writes a field at all.
pub(crate) fn locate_exact(src: &SourceFile, path: &YamlPath, target: Target) -> Option<Location> {
    find(&src.text, path.segs(), target)
}

/// One attempt at exactly `segs`; `None` if the walk did not arrive.
fn find(text: &str, segs: &[Seg], target: Target) -> Option<Location> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let err = Walk { segs, target }.deserialize(deserializer).err()?;
    if !err.to_string().contains(FOUND) {
        return None;
    }
    let at = err.location()?;
    Some(Location { line: at.line(), column: at.column() })
}

/// Walks down the remaining `segs`; it never succeeds, it only raises [`FOUND`] or fails.
struct Walk<'p> {
    segs: &'p [Seg],
    target: Target,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.segs.split_first() {
            None => deserializer.deserialize_any(Arrive),
            Some((Seg::Key(key), rest)) => {
                // A key has a position of its own only when it is the last step.
                let at_key = rest.is_empty() && self.target == Target::Key;
                deserializer.deserialize_any(InMapping { key, rest, target: self.target, at_key })
            }
            Some((Seg::Index(index), rest)) => {
                deserializer.deserialize_any(InList { index: *index, rest, target: self.target })
            }
        }
    }
}

/// Looks for one key of a mapping, then walks on below it.
struct InMapping<'p> {
    key: &'p str,
    rest: &'p [Seg],
    target: Target,
    /// Raise on the key itself rather than walking into its value.
    at_key: bool,
}

impl<'de> Visitor<'de> for InMapping<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let probe = KeyProbe { wanted: self.key, at_key: self.at_key };
        while let Some(matched) = map.next_key_seed(probe)? {
            if matched {
                return map.next_value_seed(Walk { segs: self.rest, target: self.target });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom("key not found"))
    }
}

/// Looks for one element of a list, then walks on below it.
struct InList<'p> {
    index: usize,
    rest: &'p [Seg],
    target: Target,
}

impl<'de> Visitor<'de> for InList<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom("index not found"));
            }
        }
        seq.next_element_seed(Walk { segs: self.rest, target: self.target })?;
        Err(de::Error::custom("index not found"))
    }
}

/// Reads one mapping key and tells whether it is the wanted one, or raises [`FOUND`] on it
/// when the key itself is the target.
#[derive(Clone, Copy)]
struct KeyProbe<'p> {
    wanted: &'p str,
    at_key: bool,
}

impl KeyProbe<'_> {
    fn check<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match key == self.wanted {
            true if self.at_key => Err(E::custom(FOUND)),
            matched => Ok(matched),
        }
    }

    /// [`Self::check`] for a key that is a list or mapping.
    fn complex_key<E: de::Error>(self) -> Result<bool, E> {
        self.check(COMPLEX_KEY)
    }
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        self.check(key)
    }

    // Non-string keys are compared by the text the deserializer puts in their path.
    fn visit_bool<E: de::Error>(self, key: bool) -> Result<bool, E> {
        self.check(&key.to_string())
    }

    fn visit_i64<E: de::Error>(self, key: i64) -> Result<bool, E> {
        self.check(&key.to_string())
    }

    fn visit_u64<E: de::Error>(self, key: u64) -> Result<bool, E> {
        self.check(&key.to_string())
    }

    fn visit_f64<E: de::Error>(self, key: f64) -> Result<bool, E> {
        self.check(&serde_yaml::Number::from(key).to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.check("null")
    }

    // A list or mapping key is named [`COMPLEX_KEY`] in paths; raised on before it is
    // read, so that the position is its start.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let matched = self.complex_key()?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(matched)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let matched = self.complex_key()?;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(matched)
    }
}

/// The visitor of the target value: whatever the value is, raise [`FOUND`] from inside it.
struct Arrive;

impl<'de> Visitor<'de> for Arrive {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }

    // serde_yaml hands tagged values (`!tag x`) to `visit_enum`.
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, path: &YamlPath, target: Target) -> Option<(usize, usize)> {
        let src = SourceFile::new("t.yaml", text);
        locate(&src, path, target).map(|l| (l.line, l.column))
    }

    const BLOCK: &str = "\
name: demo
nodes:
  - name: a
    sockets:
      - name: s
        bnd: tcp://*:5555
  - name: b
";

    #[test]
    fn finds_keys_and_values_in_block_style() {
        let socket = YamlPath::root().key("nodes").index(0).key("sockets").index(0);
        assert_eq!(at(BLOCK, &socket.key("bnd"), Target::Key), Some((6, 9)));
        assert_eq!(at(BLOCK, &socket.key("bnd"), Target::Value), Some((6, 14)));
        assert_eq!(at(BLOCK, &socket, Target::Value), Some((5, 9)));
        let second = YamlPath::root().key("nodes").index(1).key("name");
        assert_eq!(at(BLOCK, &second, Target::Value), Some((7, 11)));
        assert_eq!(at(BLOCK, &YamlPath::root().key("name"), Target::Key), Some((1, 1)));
    }

    #[test]
    fn finds_keys_and_values_in_flow_style() {
        let text = "sockets: [{name: x, bnd: y}]\n";
        let entry = YamlPath::root().key("sockets").index(0);
        assert_eq!(at(text, &entry.key("bnd"), Target::Key), Some((1, 21)));
        assert_eq!(at(text, &entry.key("bnd"), Target::Value), Some((1, 26)));
        assert_eq!(at(text, &entry, Target::Value), Some((1, 11)));
        assert_eq!(at(text, &YamlPath::root().key("sockets"), Target::Value), Some((1, 10)));
    }

    #[test]
    fn missing_path_falls_back_to_nearest_ancestor() {
        let path = YamlPath::root().key("nodes").index(1).key("nope").index(4);
        assert_eq!(at(BLOCK, &path, Target::Key), Some((7, 5)));
        let past_end = YamlPath::root().key("nodes").index(9);
        assert_eq!(at(BLOCK, &past_end, Target::Value), Some((3, 3)));
    }

    #[test]
    fn an_index_target_has_no_key_so_the_value_is_used() {
        let path = YamlPath::root().key("nodes").index(1);
        assert_eq!(at(BLOCK, &path, Target::Key), Some((7, 5)));
    }

    #[test]
    fn non_string_keys_are_found_by_their_text() {
        let text = "ports:\n  80: web\n  true: yes\n";
        assert_eq!(at(text, &YamlPath::root().key("ports").key("80"), Target::Key), Some((2, 3)));
        let flag = YamlPath::root().key("ports").key("true");
        assert_eq!(at(text, &flag, Target::Value), Some((3, 9)));
    }

    #[test]
    fn text_before_a_syntax_error_can_still_be_located() {
        assert_eq!(at("a: [1, 2\n", &YamlPath::root().key("a"), Target::Value), Some((1, 4)));
        assert_eq!(at("]\n", &YamlPath::root(), Target::Value), None);
    }
}
