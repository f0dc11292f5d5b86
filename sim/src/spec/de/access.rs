//! The serde access objects that hand a visitor the children of a value: list elements,
//! mapping entries and enum variants, each deserialized at its own path and with its errors
//! settled there.

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml::Value;

use super::ValueDe;
use super::context::Context;
use super::error::DeError;
use super::placeholder::Placeholder;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;

/// A mapping entry handed to a visitor; `text` is the key as it appears in paths.
pub(super) struct Entry<'v> {
    pub(super) key: &'v Value,
    pub(super) text: String,
    pub(super) value: &'v Value,
}

/// The elements of a list, each deserialized at its own path.
pub(super) struct Items<'v, 'p, 'c> {
    pub(super) items: std::iter::Enumerate<std::slice::Iter<'v, Value>>,
    pub(super) path: &'p YamlPath,
    pub(super) cx: &'c mut Context,
    /// Whether an element was left out because an earlier pass gave up on it.
    pub(super) skipped: bool,
}

impl<'de> SeqAccess<'de> for Items<'_, '_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        for (index, item) in self.items.by_ref() {
            let path = self.path.index(index);
            if self.cx.excluded.contains(&path) {
                self.skipped = true;
                continue;
            }
            self.cx.check_depth(&path, Target::Value)?;
            let result = seed.deserialize(ValueDe::new(item, path.clone(), Target::Value, self.cx));
            return result
                .map(Some)
                .map_err(|err| self.cx.settle(err, &path, Target::Value, false));
        }
        Ok(None)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a mapping, keys and values each deserialized at the entry's path.
pub(super) struct Entries<'v, 'p, 'c> {
    entries: std::vec::IntoIter<Entry<'v>>,
    pub(super) path: &'p YamlPath,
    pub(super) cx: &'c mut Context,
    /// The value whose key was just handed out, with its path.
    pending: Option<(YamlPath, &'v Value)>,
    /// Whether an entry was left out because an earlier pass gave up on it.
    pub(super) skipped: bool,
}

impl<'v, 'p, 'c> Entries<'v, 'p, 'c> {
    pub(super) fn new(entries: Vec<Entry<'v>>, path: &'p YamlPath, cx: &'c mut Context) -> Self {
        Self { entries: entries.into_iter(), path, cx, pending: None, skipped: false }
    }
}

impl<'de> MapAccess<'de> for Entries<'_, '_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for entry in self.entries.by_ref() {
            let path = self.path.key(entry.text);
            if self.cx.excluded.contains(&path) {
                self.skipped = true;
                continue;
            }
            self.cx.check_depth(&path, Target::Key)?;
            let result =
                seed.deserialize(ValueDe::new(entry.key, path.clone(), Target::Key, self.cx));
            let key = result.map_err(|err| self.cx.settle(err, &path, Target::Key, false))?;
            self.pending = Some((path, entry.value));
            return Ok(Some(key));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((path, value)) = self.pending.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        let result = seed.deserialize(ValueDe::new(value, path.clone(), Target::Value, self.cx));
        result.map_err(|err| self.cx.settle(err, &path, Target::Value, false))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as a bare name: only a unit variant fits.
pub(super) struct UnitVariant<'v, 'p, 'c> {
    pub(super) name: &'v str,
    pub(super) path: &'p YamlPath,
    pub(super) target: Target,
    pub(super) cx: &'c mut Context,
}

impl<'de> de::EnumAccess<'de> for UnitVariant<'_, '_, '_> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let tag = seed.deserialize(StrDeserializer::<DeError>::new(self.name))?;
        Ok((tag, self))
    }
}

impl UnitVariant<'_, '_, '_> {
    /// Records that this variant needs content, which a bare name cannot give.
    fn needs_content(&mut self, example: &str) {
        let name = self.name;
        let message = format!("`{name}` needs a value");
        let issue = self.cx.record(self.path, self.target, Code::WrongType, message);
        issue.hint = Some(format!("write it as a mapping: `{name}: {example}`"));
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_, '_, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        mut self,
        seed: T,
    ) -> Result<T::Value, DeError> {
        self.needs_content("...");
        seed.deserialize(Placeholder::new()).map_err(|_| self.cx.give_up(self.path))
    }

    fn tuple_variant<V: Visitor<'de>>(
        mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.needs_content(&format!("[...] (a list of {len} items)"));
        Placeholder::new().deserialize_tuple(len, visitor).map_err(|_| self.cx.give_up(self.path))
    }

    fn struct_variant<V: Visitor<'de>>(
        mut self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let example = format!(
            "{{{}}}",
            fields.iter().map(|f| format!("{f}: ...")).collect::<Vec<_>>().join(", ")
        );
        self.needs_content(&example);
        Placeholder::new()
            .deserialize_struct("", fields, visitor)
            .map_err(|_| self.cx.give_up(self.path))
    }
}

/// An enum written as a mapping with one key naming the variant; `path` is the content's.
pub(super) struct MapVariant<'v, 'p, 'c> {
    pub(super) name: &'v str,
    pub(super) content: &'v Value,
    pub(super) path: &'p YamlPath,
    pub(super) cx: &'c mut Context,
}

impl<'de> de::EnumAccess<'de> for MapVariant<'_, '_, '_> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let tag = seed.deserialize(StrDeserializer::<DeError>::new(self.name))?;
        Ok((tag, self))
    }
}

impl<'de> de::VariantAccess<'de> for MapVariant<'_, '_, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        if !self.content.is_null() {
            let message = format!("`{}` takes no value", self.name);
            let issue = self.cx.record(self.path, Target::Value, Code::WrongType, message);
            issue.hint = Some(format!("write just `{}`", self.name));
        }
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        self.cx.check_depth(self.path, Target::Value)?;
        let result =
            seed.deserialize(ValueDe::new(self.content, self.path.clone(), Target::Value, self.cx));
        result.map_err(|err| self.cx.settle(err, self.path, Target::Value, false))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.cx.check_depth(self.path, Target::Value)?;
        ValueDe::new(self.content, self.path.clone(), Target::Value, self.cx)
            .deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.cx.check_depth(self.path, Target::Value)?;
        ValueDe::new(self.content, self.path.clone(), Target::Value, self.cx)
            .deserialize_struct("", fields, visitor)
    }
}
