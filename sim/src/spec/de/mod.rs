//! A `serde::Deserializer` over a parsed `serde_yaml::Value` that tracks the YAML path and
//! keeps going after an error, so that one load reports every problem it can find.
//!
//! Two kinds of failure are handled differently:
//! - Problems the deserializer sees itself before handing anything to a visitor (a wrong
//!   type, an unknown field, an unknown enum value, a number out of range) are recorded as
//!   an [`Issue`] and then *recovered* from: the visitor is fed a [`Placeholder`] and the
//!   walk goes on. Unknown fields are simply skipped.
//! - Problems raised by a visitor (a missing field, a failed custom check) arrive after the
//!   visitor is used up, so nothing can be fed instead. They are recorded and the current
//!   pass gives up, remembering where ([`Context::failed_at`]). The loader then runs another
//!   pass that leaves that value out, so later problems are found too (see
//!   [`super::yaml::load`]).
//!
//! Every place that deserializes a child value *settles* its error: a raised error is
//! recorded at the child's path and turned into [`DeError::Reported`].

mod access;
mod context;
mod error;
mod placeholder;

pub(super) use self::error::COMPLEX_KEY;
use serde::de::{self, Deserializer, Visitor};
use serde_yaml::{Mapping, Value};

use self::access::{Entries, Entry, Items, MapVariant, UnitVariant};
use self::error::{Raised, describe_value};
use self::placeholder::Placeholder;
use crate::spec::diag::{Code, Target};
use crate::spec::one_or_many;
use crate::spec::path::{Seg, YamlPath};
use crate::spec::suggest;

pub(crate) use self::context::{Context, Issue};
pub(crate) use self::error::{DeError, key_text};

/// What a field typed as a whole number expects, in a mismatch's message.
const WHOLE_NUMBER: &str = "a whole number";

/// Deserializes the value at the root of a document.
pub(crate) fn from_root<T: de::DeserializeOwned>(
    value: &Value,
    cx: &mut Context,
) -> Result<T, DeError> {
    let root = YamlPath::root();
    let result = T::deserialize(ValueDe::new(value, root.clone(), Target::Value, cx));
    result.map_err(|err| cx.settle(err, &root, Target::Value, false))
}

/// Deserializes one value (or one mapping key) at a known path.
pub(super) struct ValueDe<'v, 'c> {
    value: &'v Value,
    path: YamlPath,
    /// `Key` when this value is a mapping key, so issues point at the key.
    target: Target,
    cx: &'c mut Context,
}

impl<'v, 'c> ValueDe<'v, 'c> {
    pub(super) fn new(
        value: &'v Value,
        path: YamlPath,
        target: Target,
        cx: &'c mut Context,
    ) -> Self {
        Self { value, path, target, cx }
    }

    /// Records an issue about this value.
    fn record(&mut self, code: Code, message: String) -> &mut Issue {
        self.cx.record(&self.path, self.target, code, message)
    }

    /// Feeds the visitor a stand-in after an issue was recorded, or gives up if it refuses.
    fn recover<'de, V, F>(self, visitor: V, fallback: F) -> Result<V::Value, DeError>
    where
        V: Visitor<'de>,
        F: FnOnce(Placeholder, V) -> Result<V::Value, DeError>,
    {
        fallback(Placeholder::new(), visitor).map_err(|_| self.cx.give_up(&self.path))
    }

    /// Records "expected …, found …" and recovers with a stand-in.
    fn mismatch<'de, V, F>(
        mut self,
        expected: &str,
        visitor: V,
        fallback: F,
    ) -> Result<V::Value, DeError>
    where
        V: Visitor<'de>,
        F: FnOnce(Placeholder, V) -> Result<V::Value, DeError>,
    {
        let found = describe_value(self.value);
        let hint = match (self.value, self.path.last()) {
            // Only a null under a key has a colon to write a value after.
            (Value::Null, Some(Seg::Index(_)) | None) => None,
            _ => mismatch_hint(expected, self.value),
        };
        // A whole number's mismatch has the code every whole-number field the resolver
        // reads gives it (`resolve/scalars.rs`).
        let code = if expected == WHOLE_NUMBER { Code::BadType } else { Code::WrongType };
        self.record(code, format!("expected {expected}, found {found}")).hint = hint;
        self.recover(visitor, fallback)
    }

    /// Records an out-of-range number and recovers with a stand-in.
    fn out_of_range<'de, V: Visitor<'de>>(
        mut self,
        message: String,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.record(Code::OutOfRange, message);
        self.recover(visitor, |p, v| p.deserialize_u64(v))
    }

    /// Any unsigned integer type: a YAML integer in `0..=max`, nothing else.
    fn unsigned<'de, V: Visitor<'de>>(self, visitor: V, max: u64) -> Result<V::Value, DeError> {
        match self.value {
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) if u <= max => visitor.visit_u64(u),
                (Some(u), _) => self.out_of_range(
                    format!("the number `{u}` is too large here (at most {max})"),
                    visitor,
                ),
                (None, Some(i)) => {
                    self.out_of_range(format!("the number `{i}` must not be negative"), visitor)
                }
                (None, None) => self.mismatch(WHOLE_NUMBER, visitor, |p, v| p.deserialize_u64(v)),
            },
            _ => self.mismatch(WHOLE_NUMBER, visitor, |p, v| p.deserialize_u64(v)),
        }
    }

    /// Any signed integer type: a YAML integer in `min..=max`, nothing else.
    fn signed<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        min: i64,
        max: i64,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) if (min..=max).contains(&i) => visitor.visit_i64(i),
                (Some(i), _) if i < min => self.out_of_range(
                    format!("the number `{i}` is too small here (at least {min})"),
                    visitor,
                ),
                (Some(i), _) => self.out_of_range(
                    format!("the number `{i}` is too large here (at most {max})"),
                    visitor,
                ),
                (None, Some(u)) => self.out_of_range(
                    format!("the number `{u}` is too large here (at most {max})"),
                    visitor,
                ),
                (None, None) => self.mismatch(WHOLE_NUMBER, visitor, |p, v| p.deserialize_i64(v)),
            },
            _ => self.mismatch(WHOLE_NUMBER, visitor, |p, v| p.deserialize_i64(v)),
        }
    }

    /// Hands a list to the visitor, skipping elements left out by an earlier pass.
    fn visit_items<'de, V: Visitor<'de>>(
        self,
        items: &'v [Value],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut access = Items {
            items: items.iter().enumerate(),
            path: &self.path,
            cx: &mut *self.cx,
            skipped: false,
        };
        let result = visitor.visit_seq(&mut access);
        let skipped = access.skipped;
        // A failure of a list that lost elements is most likely caused by the loss.
        result.map_err(|err| self.cx.settle(err, &self.path, self.target, skipped))
    }

    /// Hands mapping entries to the visitor, skipping entries left out by an earlier pass.
    fn visit_entries<'de, V: Visitor<'de>>(
        self,
        entries: Vec<Entry<'v>>,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut access = Entries::new(entries, &self.path, &mut *self.cx);
        let result = visitor.visit_map(&mut access);
        let skipped = access.skipped;
        result.map_err(|err| self.cx.settle(err, &self.path, self.target, skipped))
    }

    /// The entries of a mapping whose keys must be strings; other keys are reported.
    fn string_keyed(&mut self, mapping: &'v Mapping) -> Vec<Entry<'v>> {
        let mut entries = Vec::with_capacity(mapping.len());
        for (key, value) in mapping {
            match key {
                Value::String(text) => entries.push(Entry { key, text: text.clone(), value }),
                _ => self.reject_key(key, "expected a string as the key"),
            }
        }
        entries
    }

    /// Records a key that is not a string where names are expected; the entry is skipped.
    fn reject_key(&mut self, key: &Value, expected: &str) {
        let path = self.path.key(key_text(key));
        let message = format!("{expected}, found {}", describe_value(key));
        let hint = match key {
            Value::Sequence(_) | Value::Mapping(_) => {
                "write a name as the key: `? ` makes a list or mapping the key".to_owned()
            }
            _ => format!("put the key in quotes: `\"{}\"`", key_text(key)),
        };
        let hint = Some(hint);
        self.cx.record(&path, Target::Key, Code::WrongType, message).hint = hint;
    }

    /// Checks a struct's keys against its fields, then hands the known ones to the visitor.
    fn visit_struct<'de, V: Visitor<'de>>(
        mut self,
        mapping: &'v Mapping,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut entries = Vec::with_capacity(mapping.len());
        let mut unknown = Vec::new();
        for (key, value) in mapping {
            match key.as_str() {
                Some(text) if fields.contains(&text) => {
                    entries.push(Entry { key, text: text.to_owned(), value })
                }
                Some(text) => {
                    self.unknown_field(text, fields);
                    unknown.push(text);
                }
                None => self.reject_key(key, "expected a field name"),
            }
        }
        let mut access = Entries::new(entries, &self.path, &mut *self.cx);
        let result = visitor.visit_map(&mut access);
        let skipped = access.skipped;
        result.map_err(|err| self.settle_struct(err, &unknown, skipped))
    }

    fn unknown_field(&mut self, name: &str, fields: &[&str]) {
        let place = match self.path.is_root() {
            true => "at the top level".to_owned(),
            false => format!("in `{}`", self.path),
        };
        let message = format!("unknown field `{name}` {place}");
        let hint = Some(suggest::did_you_mean_or_list(name, fields));
        self.cx.record(&self.path.key(name), Target::Key, Code::UnknownField, message).hint = hint;
    }

    /// Records a struct's own failure; a missing field gets a hint when a misspelt key was
    /// seen, and is left unrecorded when an earlier pass left that field out on purpose.
    fn settle_struct(self, err: DeError, unknown: &[&str], skipped: bool) -> DeError {
        let DeError::Raised(Raised { missing_field: Some(field), .. }) = err else {
            return self.cx.settle(err, &self.path, self.target, skipped);
        };
        let quiet = self.cx.excluded.contains(&self.path.key(field));
        let settled = self.cx.settle(err, &self.path, self.target, quiet);
        let typo = unknown.iter().find(|name| suggest::closest(name, &[field]).is_some());
        if let (Some(typo), false) = (typo, quiet)
            && let Some(issue) = self.cx.issues.last_mut()
        {
            issue.hint = Some(format!("found `{typo}`; did you mean `{field}`?"));
        }
        settled
    }

    /// Picks the variant of an enum written as `name` or as `{name: content}`.
    fn visit_enum<'de, V: Visitor<'de>>(
        mut self,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(name) if variants.contains(&name.as_str()) => {
                let access =
                    UnitVariant { name, path: &self.path, target: self.target, cx: &mut *self.cx };
                visitor.visit_enum(access)
            }
            Value::String(name) => {
                self.unknown_variant(self.path.clone(), self.target, name, variants);
                self.recover(visitor, |p, v| p.deserialize_enum("", variants, v))
            }
            Value::Mapping(mapping) if mapping.len() == 1 => {
                self.visit_enum_entry(mapping, variants, visitor)
            }
            _ => {
                let expected = enum_expected(variants);
                self.mismatch(&expected, visitor, |p, v| p.deserialize_enum("", variants, v))
            }
        }
    }

    fn visit_enum_entry<'de, V: Visitor<'de>>(
        mut self,
        mapping: &'v Mapping,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Some((key, content)) = mapping.iter().next() else {
            return self.mismatch(&enum_expected(variants), visitor, |p, v| {
                p.deserialize_enum("", variants, v)
            });
        };
        match key.as_str() {
            Some(name) if variants.contains(&name) => {
                let path = self.path.key(name);
                visitor.visit_enum(MapVariant { name, content, path: &path, cx: &mut *self.cx })
            }
            Some(name) => {
                self.unknown_variant(self.path.key(name), Target::Key, name, variants);
                self.recover(visitor, |p, v| p.deserialize_enum("", variants, v))
            }
            None => {
                self.reject_key(key, "expected a name");
                self.recover(visitor, |p, v| p.deserialize_enum("", variants, v))
            }
        }
    }

    fn unknown_variant(&mut self, path: YamlPath, target: Target, name: &str, variants: &[&str]) {
        let place = match self.path.is_root() {
            true => String::new(),
            false => format!(" for `{}`", self.path),
        };
        let message = format!("unknown value `{name}`{place}");
        let hint = Some(suggest::did_you_mean_or_list(name, variants));
        self.cx.record(&path, target, Code::UnknownVariant, message).hint = hint;
    }

    fn empty_file<'de, V: Visitor<'de>>(
        mut self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let message = match fields {
            [] => "the file is empty; expected a mapping".to_owned(),
            _ => format!(
                "the file is empty; expected a mapping with {}",
                suggest::quoted_list(fields)
            ),
        };
        self.record(Code::EmptyFile, message);
        self.recover(visitor, |p, v| p.deserialize_struct("", fields, v))
    }
}

/// The expected-text for an enum: "one of `a`, `b`".
fn enum_expected(variants: &[&str]) -> String {
    match variants {
        [only] => format!("`{only}`"),
        _ => format!("one of {}", suggest::quoted_list(variants)),
    }
}

/// A hint for the common mix-ups between quoted and unquoted scalars.
fn mismatch_hint(expected: &str, found: &Value) -> Option<String> {
    match found {
        Value::String(s) if expected.contains("number") && looks_numeric(s) => {
            Some("remove the quotes to write a number".to_owned())
        }
        Value::Number(n) if expected == WHOLE_NUMBER && n.is_f64() => {
            Some("write a whole number, without a fraction".to_owned())
        }
        Value::Number(_) | Value::Bool(_) if expected == "a string" => {
            Some(format!("put it in quotes to make it a string: `\"{}\"`", key_text(found)))
        }
        Value::Tagged(tagged) => {
            Some(format!("YAML tags are not supported; remove `{}`", tagged.tag))
        }
        Value::Null if expected != "null" => {
            Some("write a value after the colon, or remove the key".to_owned())
        }
        _ => None,
    }
}

/// Whether a string would have been read as a number had it not been quoted.
fn looks_numeric(s: &str) -> bool {
    let s = s.trim();
    let starts_like_a_number =
        s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    starts_like_a_number && s.parse::<f64>().is_ok()
}

impl<'de> Deserializer<'de> for ValueDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                (None, None, f) => visitor.visit_f64(f.unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Sequence(items) => self.visit_items(items, visitor),
            Value::Mapping(mapping) => {
                let entries = mapping
                    .iter()
                    .map(|(key, value)| Entry { key, text: key_text(key), value })
                    .collect();
                self.visit_entries(entries, visitor)
            }
            Value::Tagged(tagged) => {
                let message = format!("YAML tags such as `{}` are not supported", tagged.tag);
                self.record(Code::Unsupported, message).hint =
                    Some(format!("remove `{}`", tagged.tag));
                self.recover(visitor, |p, v| p.deserialize_any(v))
            }
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Bool(b) => visitor.visit_bool(*b),
            _ => self.mismatch("`true` or `false`", visitor, |p, v| p.deserialize_bool(v)),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.signed(visitor, i8::MIN.into(), i8::MAX.into())
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.signed(visitor, i16::MIN.into(), i16::MAX.into())
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.signed(visitor, i32::MIN.into(), i32::MAX.into())
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.signed(visitor, i64::MIN, i64::MAX)
    }

    // YAML numbers here never exceed 64 bits: serde_yaml rejects larger ones while parsing.
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.signed(visitor, i64::MIN, i64::MAX)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.unsigned(visitor, u8::MAX.into())
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.unsigned(visitor, u16::MAX.into())
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.unsigned(visitor, u32::MAX.into())
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.unsigned(visitor, u64::MAX)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.unsigned(visitor, u64::MAX)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Number(n) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            _ => self.mismatch("a number", visitor, |p, v| p.deserialize_f64(v)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mut chars = self.value.as_str().unwrap_or("").chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => self.mismatch("a single character", visitor, |p, v| p.deserialize_char(v)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor.visit_str(s),
            _ => self.mismatch("a string", visitor, |p, v| p.deserialize_str(v)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    // YAML has no byte strings; a string's bytes or a list of numbers are what visitors get.
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            _ => self.mismatch("null", visitor, |p, v| p.deserialize_unit(v)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            // The protocol with `OneOrMany`: a list goes to `visit_seq`, anything else to
            // `visit_some` with this deserializer, so the single value keeps its path.
            Value::Sequence(items) if name == one_or_many::MARKER => {
                self.visit_items(items, visitor)
            }
            _ if name == one_or_many::MARKER => visitor.visit_some(self),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Sequence(items) => self.visit_items(items, visitor),
            _ => self.mismatch("a list", visitor, |p, v| p.deserialize_seq(v)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::Sequence(items) if items.len() == len => self.visit_items(items, visitor),
            Value::Sequence(items) => {
                self.record(
                    Code::WrongLength,
                    format!("expected a list of {len} items, found {}", items.len()),
                );
                self.recover(visitor, |p, v| p.deserialize_tuple(len, v))
            }
            _ => self.mismatch(&format!("a list of {len} items"), visitor, |p, v| {
                p.deserialize_tuple(len, v)
            }),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Mapping(mapping) => {
                let entries = self.string_keyed(mapping);
                self.visit_entries(entries, visitor)
            }
            _ => self.mismatch("a mapping", visitor, |p, v| p.deserialize_map(v)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::Mapping(mapping) => self.visit_struct(mapping, fields, visitor),
            Value::Null if self.path.is_root() && self.cx.blank_source => {
                self.empty_file(fields, visitor)
            }
            _ => self.mismatch("a mapping", visitor, |p, v| p.deserialize_struct("", fields, v)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_enum(variants, visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor.visit_str(s),
            _ => self.mismatch("a name", visitor, |p, v| p.deserialize_str(v)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}
