//! YAML documents a program rewrites: read a file as a plain tree, change a few keys,
//! write it back.
//!
//! `cargo xtask explore` turns each case it tries into a scenario file by editing the
//! user's own scenario (its `faults`, `params`, `duration`, ...) rather than printing a
//! new one from scratch, so everything the case does not vary stays exactly as the user
//! wrote it. [`Tree`] is deliberately small and owned by patchbay, so the YAML library
//! stays behind this module: [`parse_tree`] reads through `yaml.rs` and
//! [`Tree::to_yaml`] is the one place that writes YAML. Comments do not survive a
//! rewrite; callers that write files add a header of their own.

use serde_yaml::{Mapping, Number, Value};

use super::de::key_text;
use super::diag::Diagnostics;
use super::source::SourceFile;

/// A YAML value: scalars, sequences, and mappings that keep their key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Tree {
    /// `~` or `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Tree>),
    /// A mapping, its keys in file order.
    Map(Vec<(String, Tree)>),
}

impl Tree {
    /// An empty mapping.
    pub fn map() -> Tree {
        Tree::Map(Vec::new())
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value under `key` of a mapping, created as an empty mapping when absent (or
    /// when it is `null`, as `key:` with nothing after it reads). `None` when `self` is
    /// not a mapping.
    pub fn entry(&mut self, key: &str) -> Option<&mut Tree> {
        let Tree::Map(entries) = self else { return None };
        let at = match entries.iter().position(|(k, _)| k == key) {
            Some(at) => at,
            None => {
                entries.push((key.to_owned(), Tree::map()));
                entries.len() - 1
            }
        };
        let value = &mut entries[at].1;
        if *value == Tree::Null {
            *value = Tree::map();
        }
        Some(value)
    }

    /// Sets `key` in a mapping, in place when present (so key order is kept) and at the
    /// end otherwise. Does nothing to a value that is not a mapping.
    pub fn set(&mut self, key: &str, value: Tree) {
        let Tree::Map(entries) = self else { return };
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => *old = value,
            None => entries.push((key.to_owned(), value)),
        }
    }

    /// Removes `key` from a mapping, returning what it held.
    pub fn remove(&mut self, key: &str) -> Option<Tree> {
        let Tree::Map(entries) = self else { return None };
        let at = entries.iter().position(|(k, _)| k == key)?;
        Some(entries.remove(at).1)
    }

    /// The entries of a mapping (none for any other value).
    pub fn entries(&self) -> &[(String, Tree)] {
        match self {
            Tree::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The node's integer value, if it is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Tree::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Tree::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The document as YAML text.
    pub fn to_yaml(&self) -> String {
        // A tree holds only strings, numbers, booleans, sequences and string-keyed
        // mappings, all of which serde_yaml writes; the fallback is never taken.
        serde_yaml::to_string(&to_value(self)).unwrap_or_default()
    }
}

/// Points a scenario document at another topology: its `topology:` becomes
/// `topology` and its `params:` become `params` (a scenario's own parameters are its
/// own topology's). Keys are edited in the tree, so any YAML style (block or flow
/// `params:`, comments, quoting) reads the same. Errs when the document is not a
/// mapping with a `topology:` key.
pub(crate) fn retarget(doc: &mut Tree, topology: &str, params: Tree) -> Result<(), &'static str> {
    if doc.get("topology").is_none() {
        return Err("the scenario has no top-level `topology:` to replace");
    }
    doc.set("topology", Tree::Str(topology.to_owned()));
    doc.set("params", params);
    Ok(())
}

/// Reads a YAML document as a [`Tree`], recording syntax errors in `diags` as loading
/// a topology or scenario would.
pub fn parse_tree(src: &SourceFile, diags: &mut Diagnostics) -> Option<Tree> {
    super::yaml::parse_value(src, diags).map(|v| from_value(&v))
}

fn from_value(value: &Value) -> Tree {
    match value {
        Value::Null => Tree::Null,
        Value::Bool(b) => Tree::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Tree::Int(i),
            None => Tree::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Tree::Str(s.clone()),
        Value::Sequence(items) => Tree::Seq(items.iter().map(from_value).collect()),
        Value::Mapping(map) => {
            Tree::Map(map.iter().map(|(k, v)| (key_text(k), from_value(v))).collect())
        }
        Value::Tagged(tagged) => from_value(&tagged.value),
    }
}

fn to_value(tree: &Tree) -> Value {
    match tree {
        Tree::Null => Value::Null,
        Tree::Bool(b) => Value::Bool(*b),
        Tree::Int(i) => Value::Number(Number::from(*i)),
        Tree::Float(x) => Value::Number(Number::from(*x)),
        Tree::Str(s) => Value::String(s.clone()),
        Tree::Seq(items) => Value::Sequence(items.iter().map(to_value).collect()),
        Tree::Map(entries) => {
            let mut map = Mapping::new();
            for (k, v) in entries {
                map.insert(Value::String(k.clone()), to_value(v));
            }
            Value::Mapping(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Tree {
        let src = SourceFile::new("t.yaml", text);
        let mut diags = Diagnostics::new(&src);
        parse_tree(&src, &mut diags).expect("valid YAML")
    }

    #[test]
    fn retarget_replaces_block_style_params_whole() {
        // Issue 14: compare swapped topologies by matching line prefixes, so a
        // block-style `params:` left its indented lines behind as a syntax error.
        let mut doc =
            parse("name: s\ntopology: a.yaml\nparams:\n  clients: 9\n  extra: 1\nseeds: 2\n");
        let params = Tree::Map(vec![("clients".into(), Tree::Int(4))]);
        retarget(&mut doc, "/t/b.yaml", params).expect("has a topology");
        assert_eq!(
            doc.to_yaml(),
            "name: s\ntopology: /t/b.yaml\nparams:\n  clients: 4\nseeds: 2\n"
        );
        let mut none = parse("name: s\n");
        assert!(retarget(&mut none, "b.yaml", Tree::map()).is_err(), "no topology to replace");
    }

    #[test]
    fn edits_keep_key_order_and_round_trip() {
        let mut doc = parse("name: a\nduration: 5s\nfaults: []\nexpect: pass\n");
        doc.set("duration", Tree::Str("2s".into()));
        doc.set("seeds", Tree::Seq(vec![Tree::Int(7)]));
        assert_eq!(doc.remove("faults"), Some(Tree::Seq(vec![])));
        let text = doc.to_yaml();
        assert_eq!(text, "name: a\nduration: 2s\nexpect: pass\nseeds:\n- 7\n");
        assert_eq!(parse(&text), doc);
    }

    #[test]
    fn entry_creates_a_mapping_where_there_was_none_or_null() {
        let mut doc = parse("params:\nworkload: {client: {requests: 3}}\n");
        doc.entry("params").expect("a map").set("workers", Tree::Int(2));
        doc.entry("workload")
            .and_then(|w| w.entry("client"))
            .expect("a map")
            .set("requests", Tree::Int(1));
        doc.entry("overrides").expect("a map").set("x.y", Tree::map());
        assert_eq!(doc.get("params").and_then(|p| p.get("workers")), Some(&Tree::Int(2)));
        let client = doc.get("workload").and_then(|w| w.get("client"));
        assert_eq!(client.and_then(|c| c.get("requests")).and_then(Tree::as_i64), Some(1));
        assert!(doc.get("overrides").is_some_and(|o| o.get("x.y").is_some()));
    }

    #[test]
    fn syntax_errors_are_diagnostics_not_trees() {
        let src = SourceFile::new("t.yaml", "a: [1, 2\n");
        let mut diags = Diagnostics::new(&src);
        assert!(parse_tree(&src, &mut diags).is_none());
        assert!(diags.has_errors());
    }
}
