//! The entry point of this layer: YAML text in, a raw serde struct (or diagnostics) out.
//!
//! serde_yaml checks the syntax and builds a `Value`; the collecting deserializer in
//! `spec/de/` then walks that value into `T`, recording every problem with its YAML path.
//! Problems that a visitor raises stop a walk, so [`load`] walks again, leaving out each
//! value it gave up on, until a walk completes; the issues of all walks are merged.
//! This is the only file besides [`locate`](mod@super::locate) that calls serde_yaml's
//! parser, so the YAML library can be swapped here.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::de::{self, Context, Issue, key_text};
use super::diag::{Code, Diagnostic, Diagnostics, LOCATE_BUDGET_BYTES, Location, Severity, Target};
// `locate` lives in its own file; it is re-exported here, next to `load`, where callers
// that turn paths into positions look for it.
pub use super::locate::locate;
use super::nesting;
use super::path::YamlPath;
use super::source::SourceFile;

/// How many walks a load may take; each one after the first finds at least one more
/// problem, so this only bounds the work on a file with very many.
const PASSES_MAX: usize = 64;

/// How many problems one load reports. Each is located by parsing the file once more, so a
/// file that is not a topology at all (a large data file, say) must not yield thousands.
const REPORTED_MAX: usize = 100;

/// How many rounds of `<<` merging are applied, for merges that bring in further merges.
const MERGE_ROUNDS_MAX: usize = 8;

/// Reads `src` into `T`, recording every problem found in `diags`; `None` if any error
/// other than an unknown field was recorded while loading (unknown fields are skipped,
/// so the value is still whole and the caller can go on checking it).
pub fn load<T: DeserializeOwned>(src: &SourceFile, diags: &mut Diagnostics) -> Option<T> {
    let value = parse(src, diags)?;
    if !control_characters(&value, &YamlPath::root(), diags) {
        return None;
    }
    let (outcome, issues) = walk::<T>(&value, is_blank(&src.text));
    // An unknown field was skipped, so the value is whole: hand it on so the resolver
    // can report the file's other problems in the same run. Any other issue may have
    // left a stand-in value behind, which would only breed spurious errors.
    let only_unknown_fields = issues.iter().all(|i| i.code == Code::UnknownField);
    let failed = (!issues.is_empty() && !only_unknown_fields) || outcome.is_none();
    report(src, issues, diags);
    if failed && !diags.has_errors() {
        // Unreachable by construction (every failure records an issue); kept so a failed
        // load can never look like a success.
        diags.error_at(None, Code::InvalidValue, "the file could not be read");
    }
    if failed { None } else { outcome }
}

/// Parses the text into a `Value` with merges applied, or records why it cannot be
/// (`edit.rs` reads documents it rewrites through this too).
pub(super) fn parse_value(src: &SourceFile, diags: &mut Diagnostics) -> Option<Value> {
    parse(src, diags)
}

/// Parses the text into a `Value` with merges applied, or records why it cannot be.
fn parse(src: &SourceFile, diags: &mut Diagnostics) -> Option<Value> {
    // libyaml's scanner is quadratic in the depth of flow collections and serde_yaml
    // checks depth only after scanning, so deep nesting is refused before either runs.
    if let Some(at) = nesting::too_deep(&src.text) {
        let message = format!(
            "the document is nested too deeply: more than {} levels of `[` and `{{`",
            nesting::DEPTH_MAX
        );
        diags
            .error_at(Some(at), Code::TooDeep, message)
            .hint("a topology or scenario needs a few levels; look for an unclosed `[` or `{`");
        return None;
    }
    match serde_yaml::from_str::<Value>(&src.text) {
        Ok(mut value) => apply_merges(&mut value, diags).then_some(value),
        Err(err) => {
            report_syntax(&err, diags);
            None
        }
    }
}

/// Records every key, and every text value, holding a control character (a `"\e[31m"`
/// escape, say): names and values are printed to terminals and pages, where such a
/// character would act instead of showing. Line breaks and tabs are text in a value,
/// never in a key. `true` when there is none.
fn control_characters(value: &Value, path: &YamlPath, diags: &mut Diagnostics) -> bool {
    let mut found = Vec::new();
    find_controls(value, path, &mut found);
    for (path, target, c) in found.iter().take(REPORTED_MAX) {
        let what = if *target == Target::Key { "key" } else { "value" };
        let message = format!("the {what} holds the control character U+{:04X}", u32::from(*c));
        diags.error(path, *target, Code::ControlCharacter, message).hint(
            "names and values are printed; write them without escapes such as `\\e` or `\\x1b`",
        );
    }
    if found.len() > REPORTED_MAX {
        let message = format!(
            "more keys or values hold control characters; only the first {REPORTED_MAX} are shown"
        );
        diags
            .error_at(None, Code::TooManyErrors, message)
            .hint("fix the errors above and load again");
    }
    found.is_empty()
}

/// Collects where control characters are, in document order (at most one past
/// [`REPORTED_MAX`], so that a file of nothing else is not walked for them all).
fn find_controls(value: &Value, path: &YamlPath, found: &mut Vec<(YamlPath, Target, char)>) {
    if found.len() > REPORTED_MAX {
        return;
    }
    match value {
        Value::String(text) => {
            if let Some(c) = first_control(text, &['\n', '\t', '\r']) {
                found.push((path.clone(), Target::Value, c));
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                find_controls(item, &path.index(i), found);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map {
                let text = key_text(key);
                let below = path.key(text.as_str());
                match first_control(&text, &[]) {
                    Some(c) => found.push((below, Target::Key, c)),
                    None => find_controls(item, &below, found),
                }
            }
        }
        Value::Tagged(tagged) => find_controls(&tagged.value, path, found),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The first control character of `text` that is not `allowed`.
fn first_control(text: &str, allowed: &[char]) -> Option<char> {
    text.chars().find(|&c| c.is_control() && !allowed.contains(&c))
}

/// Walks the value into `T` as often as needed to find every problem.
fn walk<T: DeserializeOwned>(value: &Value, blank_source: bool) -> (Option<T>, Vec<Issue>) {
    let mut cx = Context { blank_source, ..Context::default() };
    let mut seen = BTreeSet::new();
    let mut issues = Vec::new();
    let mut outcome = None;
    for _ in 0..PASSES_MAX {
        let result = de::from_root::<T>(value, &mut cx);
        for issue in cx.issues.drain(..) {
            if seen.insert(issue.clone()) {
                issues.push(issue);
            }
        }
        let failed_at = cx.failed_at.take();
        match (result, failed_at) {
            (Ok(value), _) => {
                outcome = Some(value);
                break;
            }
            (Err(_), Some(path)) if !path.is_root() && cx.excluded.insert(path.clone()) => {}
            (Err(_), _) => break,
        }
    }
    (outcome, issues)
}

/// Locates the issues and records them in document order, up to [`REPORTED_MAX`].
fn report(src: &SourceFile, issues: Vec<Issue>, diags: &mut Diagnostics) {
    // Each location parses the file again: a large file reports fewer, so the work
    // stays within the locating budget whatever the file.
    let reported_max = (LOCATE_BUDGET_BYTES / src.text.len().max(1)).clamp(1, REPORTED_MAX);
    let unreported = issues.len().saturating_sub(reported_max);
    let mut located: Vec<(Option<Location>, Issue)> = issues
        .into_iter()
        .take(reported_max)
        .map(|issue| (locate(src, &issue.path, issue.target), issue))
        .collect();
    // Issues without a position go last; the sort is stable, so ties keep discovery order.
    located.sort_by_key(|(at, _)| at.map_or((usize::MAX, usize::MAX), |at| (at.line, at.column)));
    for (location, issue) in located {
        let mut diag = Diagnostic::new(Severity::Error, issue.code, issue.message, &src.path);
        diag.location = location;
        diag.hint = issue.hint;
        diag.yaml_path = Some(issue.path);
        diags.push(diag);
    }
    if unreported > 0 {
        let message = format!("{unreported} more errors in this file are not shown");
        diags
            .error_at(None, Code::TooManyErrors, message)
            .hint("fix the errors above and load again");
    }
}

/// Records a serde_yaml parse error, reworded where its own wording is obscure.
fn report_syntax(err: &serde_yaml::Error, diags: &mut Diagnostics) {
    let mut message = err.to_string();
    // A character the reader refuses is placed by its byte offset alone, in the prose;
    // the position serde_yaml gives with it is the document's start.
    let location = match reader_offset(&message) {
        Some(offset) => Some(location_of_offset(&diags.source().text, offset)),
        None => err.location().map(|at| Location { line: at.line(), column: at.column() }),
    };
    // serde_yaml gives no position for a second document, so the `---` is found here.
    let location = location.or_else(|| second_document(&diags.source().text));
    if let Some(at) = &location {
        // The position is printed separately, so it is cut from the prose.
        message = message.replacen(&format!(" at line {} column {}", at.line, at.column), "", 1);
    }
    if let Some((before, _)) = message.split_once(" at position ") {
        message = before.to_owned();
    }
    // serde_yaml points a duplicate key at the start of its mapping; the user needs the
    // second one, which is the one to remove or rename.
    let duplicate = location.zip(duplicated_key(&message)).and_then(|(at, key)| {
        let lines = duplicate_key_lines(&diags.source().text, at, key)?;
        Some((key.to_owned(), lines))
    });
    // libyaml words a tab in indentation in more than one way ("found character that
    // cannot start any token" under a mapping's key): the source text says which it is.
    let tab =
        duplicate.is_none() && location.is_some_and(|at| tab_indents(&diags.source().text, at));
    let (code, message, mut hint) = if tab { tab_indentation() } else { reword_syntax(message) };
    let mut location = location;
    if let Some((key, (first, second))) = duplicate {
        location = Some(second);
        hint = Some(format!(
            "each key may appear only once in a mapping; `{key}` is first at line {}",
            first.line
        ));
    }
    let diag = diags.error_at(location, code, message);
    diag.hint = hint;
}

/// The byte offset in libyaml's reader errors ("control characters are not allowed at
/// position 172"), which carry no line.
fn reader_offset(message: &str) -> Option<usize> {
    let (_, rest) = message.split_once(" at position ")?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The line and column (in characters, from 1) of byte `offset` of `text`.
fn location_of_offset(text: &str, offset: usize) -> Location {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let line = before.matches('\n').count() + 1;
    Location { line, column: before[line_start..].chars().count() + 1 }
}

/// The key in serde_yaml's "duplicate entry with key …" error, if it is that one.
fn duplicated_key(message: &str) -> Option<&str> {
    let (_, key) = message.split_once("duplicate entry with key ")?;
    Some(key.strip_prefix('"').and_then(|k| k.strip_suffix('"')).unwrap_or(key))
}

/// Where `key` first and second appear as keys of the block mapping that starts at
/// `mapping` (its first key's position). `None` when it is not found twice there, as in
/// a flow mapping (`{a: 1, a: 2}`): the mapping's start then stands.
fn duplicate_key_lines(text: &str, mapping: Location, key: &str) -> Option<(Location, Location)> {
    let indent = mapping.column.checked_sub(1)?;
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate().skip(mapping.line.checked_sub(1)?) {
        let split = line.char_indices().nth(indent).map_or(line.len(), |(at, _)| at);
        let (margin, rest) = line.split_at(split);
        let first_line = index + 1 == mapping.line;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if !first_line && (margin.chars().any(|c| c != ' ') || rest.is_empty()) {
            // Content left of the mapping's column: the mapping has ended.
            break;
        }
        if rest.starts_with(' ') || rest.starts_with("- ") || rest == "-" {
            // Deeper content, or a sequence that is a value of this mapping.
            continue;
        }
        if key_of(rest) == Some(key) {
            found.push(Location { line: index + 1, column: mapping.column });
            if let [first, second] = found[..] {
                return Some((first, second));
            }
        }
    }
    None
}

/// The key a `key: value` line starts with, quotes removed.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    let key = key.trim_end();
    let unquoted =
        ['"', '\''].iter().find_map(|q| key.strip_prefix(*q).and_then(|k| k.strip_suffix(*q)));
    Some(unquoted.unwrap_or(key))
}

fn reword_syntax(message: String) -> (Code, String, Option<String>) {
    if message.contains("more than one document") {
        let hint = "keep one document per file: remove the `---` line and what follows it";
        return (
            Code::Syntax,
            "the file holds more than one YAML document".to_owned(),
            Some(hint.to_owned()),
        );
    }
    if message.contains("recursion limit exceeded") {
        let hint = "more than 128 levels, or an alias (`*name`) used inside its own anchor";
        return (
            Code::Syntax,
            "the document is nested too deeply".to_owned(),
            Some(hint.to_owned()),
        );
    }
    if message.contains("repetition limit exceeded") {
        let hint = "aliases (`*name`) expand to too much data";
        return (
            Code::Syntax,
            "the document is too large once aliases are expanded".to_owned(),
            Some(hint.to_owned()),
        );
    }
    if message.contains("control characters are not allowed") {
        return (
            Code::Syntax,
            "a control character is not allowed here".to_owned(),
            Some(
                "remove it; a file may hold tabs and line breaks, but no other control characters"
                    .to_owned(),
            ),
        );
    }
    if message.starts_with("found a tab character that violates indentation") {
        // libyaml adds where the value it was reading began, a line or more above the
        // tab; the location is the tab's own line, and one position is enough.
        return tab_indentation();
    }
    if let Some(number) = oversized_integer(&message) {
        return (Code::OutOfRange, format!("the number `{number}` is too large"), None);
    }
    if let Some(key) = duplicated_key(&message) {
        let message = match message.split_once(": duplicate entry with key ") {
            Some((path, _)) => format!("the key `{key}` appears twice in `{path}`"),
            None => format!("the key `{key}` appears twice in one mapping"),
        };
        return (
            Code::DuplicateField,
            message,
            Some("each key may appear only once in a mapping".to_owned()),
        );
    }
    (Code::Syntax, format!("invalid YAML: {message}"), None)
}

/// The diagnostic for a tab in indentation, however libyaml worded it.
fn tab_indentation() -> (Code, String, Option<String>) {
    (
        Code::Syntax,
        "a tab character is used for indentation".to_owned(),
        Some("indent with spaces: YAML does not allow tabs in indentation".to_owned()),
    )
}

/// Whether the character at `at` in `text` is a tab in its line's indentation.
fn tab_indents(text: &str, at: Location) -> bool {
    let Some(line) = text.lines().nth(at.line.saturating_sub(1)) else {
        return false;
    };
    let mut before = line.chars().take(at.column.saturating_sub(1));
    before.all(|c| c == ' ' || c == '\t')
        && line.chars().nth(at.column.saturating_sub(1)) == Some('\t')
}

/// Where a second YAML document starts: a `---` line after some content.
fn second_document(text: &str) -> Option<Location> {
    let mut seen_content = false;
    for (index, line) in text.lines().enumerate() {
        let starts_document = line == "---" || line.starts_with("--- ");
        if starts_document && seen_content {
            return Some(Location { line: index + 1, column: 1 });
        }
        let trimmed = line.trim();
        seen_content |= !(trimmed.is_empty() || trimmed.starts_with('#') || starts_document);
    }
    None
}

/// The digits in serde_yaml's "invalid type: integer `…` as u128" error, if it is that one.
fn oversized_integer(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("invalid type: integer `")?;
    let (number, rest) = rest.split_once('`')?;
    (rest.starts_with(" as u128") || rest.starts_with(" as i128")).then_some(number)
}

/// Applies `<<` merge keys; merges that are not mappings are recorded as errors.
fn apply_merges(value: &mut Value, diags: &mut Diagnostics) -> bool {
    for _ in 0..MERGE_ROUNDS_MAX {
        let Some(path) = first_merge_key(value) else { return true };
        if let Err(err) = value.apply_merge() {
            let message = format!("invalid merge: {err}");
            let diag = diags.error(&path, Target::Key, Code::Merge, message);
            diag.hint("`<<` takes a mapping or a list of mappings, such as `<<: *defaults`");
            return false;
        }
    }
    true
}

/// The path of some `<<` key still in the value, searched without recursion.
fn first_merge_key(value: &Value) -> Option<YamlPath> {
    let mut stack = vec![(value, YamlPath::root())];
    while let Some((node, path)) = stack.pop() {
        match node {
            Value::Mapping(mapping) if mapping.contains_key("<<") => return Some(path.key("<<")),
            Value::Mapping(mapping) => {
                let children = mapping.iter().map(|(k, v)| (v, path.key(key_text(k))));
                stack.extend(children);
            }
            Value::Sequence(items) => {
                stack.extend(items.iter().enumerate().map(|(i, v)| (v, path.index(i))))
            }
            Value::Tagged(tagged) => stack.push((&tagged.value, path)),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    None
}

/// Whether the text holds no YAML content at all: only blanks, comments and markers.
fn is_blank(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#') || line == "---" || line == "...")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::spec::{OneOrMany, Scalar, render};

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Topology {
        name: String,
        nodes: Vec<Node>,
        expect: Option<Expect>,
        limits: Option<BTreeMap<String, u32>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Node {
        name: String,
        sockets: Vec<Socket>,
        hwm: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Socket {
        name: String,
        #[serde(rename = "type")]
        kind: SocketType,
        bind: Option<String>,
        connect: Option<OneOrMany<String>>,
        options: Option<BTreeMap<String, Scalar>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum SocketType {
        Pub,
        Sub,
        Req,
        Rep,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Expect {
        Pass,
        Fail,
        Within(u32),
        Range { lo: u32, hi: u32 },
    }

    const GOOD: &str = "\
name: demo
nodes:
  - name: a
    hwm: 1000
    sockets:
      - name: out
        type: pub
        bind: tcp://*:5555
        options: {linger: 250ms, sndhwm: 1000}
  - name: b
    sockets:
      - {name: in, type: sub, connect: tcp://a:5555}
expect: pass
";

    /// Loads `text` and returns the value and each diagnostic in its one-line form.
    fn check<T: DeserializeOwned>(text: &str) -> (Option<T>, Vec<String>) {
        let src = SourceFile::new("t.yaml", text);
        let mut diags = Diagnostics::new(&src);
        let value = load::<T>(&src, &mut diags);
        (value, diags.as_slice().iter().map(ToString::to_string).collect())
    }

    /// The diagnostics of a load that must report errors. A value may still come back
    /// when every error is an unknown field (skipped, so the value is whole).
    fn errors_of<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> Vec<String> {
        let (value, diags) = check::<T>(text);
        assert!(!diags.is_empty(), "load should report errors, got {value:?}");
        if value.is_some() {
            let harmless =
                |d: &String| d.contains("unknown-field") || d.contains("too-many-errors");
            assert!(diags.iter().all(harmless), "a value came back despite {diags:?}");
        }
        diags
    }

    #[test]
    fn loads_a_valid_document() {
        let (topology, diags) = check::<Topology>(GOOD);
        assert_eq!(diags, Vec::<String>::new());
        let topology = topology.expect("valid");
        assert_eq!(topology.nodes.len(), 2);
        assert_eq!(topology.nodes[0].hwm, Some(1000));
        assert_eq!(topology.nodes[0].sockets[0].kind, SocketType::Pub);
        let options = topology.nodes[0].sockets[0].options.as_ref().expect("options");
        assert_eq!(options["linger"].text, "250ms");
        let connect = topology.nodes[1].sockets[0].connect.as_ref().expect("connect");
        assert_eq!(connect.as_slice(), ["tcp://a:5555"]);
        assert_eq!(topology.expect, Some(Expect::Pass));
        assert_eq!(topology.limits, None);
    }

    #[test]
    fn unknown_field_with_a_close_match_is_located_at_the_key() {
        let text = GOOD.replace("        bind: tcp", "        bnd: tcp");
        let diags = errors_of::<Topology>(&text);
        assert_eq!(
            diags,
            ["t.yaml:8:9: error[unknown-field]: unknown field `bnd` in `nodes[0].sockets[0]` \
              (hint: did you mean `bind`?)"]
        );
    }

    #[test]
    fn unknown_field_without_a_close_match_lists_the_fields() {
        let text = GOOD.replace("    hwm: 1000", "    zzz: 1000");
        let diags = errors_of::<Topology>(&text);
        assert_eq!(
            diags,
            ["t.yaml:4:5: error[unknown-field]: unknown field `zzz` in `nodes[0]` \
              (hint: expected one of `name`, `sockets`, `hwm`)"]
        );
    }

    #[test]
    fn two_unknown_fields_in_one_mapping_are_both_reported() {
        let text = GOOD.replace("name: demo\n", "name: demo\nnodez: 1\nexpekt: pass\n");
        let diags = errors_of::<Topology>(&text);
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(diags[0].starts_with(
            "t.yaml:2:1: error[unknown-field]: unknown field `nodez` at the top level"
        ));
        assert!(diags[0].ends_with("(hint: did you mean `nodes`?)"));
        assert!(diags[1].starts_with("t.yaml:3:1: error[unknown-field]: unknown field `expekt`"));
    }

    #[test]
    fn type_errors_in_two_list_items_are_both_reported() {
        let text =
            "name: x\nnodes:\n  - {name: a, sockets: [], hwm: abc}\n  - {name: b, sockets: {}}\n";
        let diags = errors_of::<Topology>(text);
        assert_eq!(
            diags,
            [
                "t.yaml:3:33: error[bad-type]: expected a whole number, found the string `abc`",
                "t.yaml:4:24: error[wrong-type]: expected a list, found a mapping",
            ]
        );
    }

    #[test]
    fn missing_fields_in_two_list_items_are_both_reported_at_their_mappings() {
        let text = "\
name: x
nodes:
  - name: a
    sockets:
      - name: s1
      - name: s2
        typ: pub
      - name: s3
        type: req
";
        let diags = errors_of::<Topology>(text);
        assert_eq!(
            diags,
            [
                "t.yaml:5:9: error[missing-field]: missing field `type`",
                "t.yaml:6:9: error[missing-field]: missing field `type` \
                 (hint: found `typ`; did you mean `type`?)",
                "t.yaml:7:9: error[unknown-field]: unknown field `typ` in `nodes[0].sockets[1]` \
                 (hint: did you mean `type`?)",
            ]
        );
    }

    #[test]
    fn errors_after_a_failed_field_in_the_same_mapping_are_still_found() {
        // The missing `sockets` stops the first node; its sibling's error must still show.
        let text = "name: x\nnodes:\n  - name: a\n  - name: b\n    sockets: 5\n";
        let diags = errors_of::<Topology>(text);
        assert_eq!(
            diags,
            [
                "t.yaml:3:5: error[missing-field]: missing field `sockets`",
                "t.yaml:5:14: error[wrong-type]: expected a list, found the number `5`",
            ]
        );
    }

    #[test]
    fn wrong_types_read_plainly() {
        let diags =
            errors_of::<Topology>("name: x\nnodes: [\"x\"]\nlimits: {a: \"12\", b: 1.5, c: -1}\n");
        assert_eq!(
            diags,
            [
                "t.yaml:2:9: error[wrong-type]: expected a mapping, found the string `x`",
                "t.yaml:3:13: error[bad-type]: expected a whole number, found the string `12` \
                 (hint: remove the quotes to write a number)",
                "t.yaml:3:22: error[bad-type]: expected a whole number, found the number `1.5` \
                 (hint: write a whole number, without a fraction)",
                "t.yaml:3:30: error[out-of-range]: the number `-1` must not be negative",
            ]
        );
        let diags = errors_of::<Topology>("name: 5\nnodes: []\n");
        assert_eq!(
            diags,
            ["t.yaml:1:7: error[wrong-type]: expected a string, found the number `5` \
              (hint: put it in quotes to make it a string: `\"5\"`)"]
        );
    }

    #[test]
    fn numbers_out_of_range_are_reported() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code, reason = "only the diagnostics matter here")]
        struct Small {
            a: u8,
            b: i8,
            c: i16,
        }
        let diags = errors_of::<Small>("a: 256\nb: -129\nc: 99999999999\n");
        assert_eq!(
            diags,
            [
                "t.yaml:1:4: error[out-of-range]: the number `256` is too large here (at most 255)",
                "t.yaml:2:4: error[out-of-range]: \
                 the number `-129` is too small here (at least -128)",
                "t.yaml:3:4: error[out-of-range]: \
                 the number `99999999999` is too large here (at most 32767)",
            ]
        );
    }

    #[test]
    fn missing_field_is_located_at_the_parent_mapping() {
        let diags = errors_of::<Topology>("nodes: []\n");
        assert_eq!(diags, ["t.yaml:1:1: error[missing-field]: missing field `name`"]);
        let diags = errors_of::<Topology>("name: x\nnodes:\n  - sockets: []\n");
        assert_eq!(diags, ["t.yaml:3:5: error[missing-field]: missing field `name`"]);
    }

    #[test]
    fn enums_as_names_and_single_key_mappings() {
        let base = "name: x\nnodes: []\nexpect: ";
        let (value, _) = check::<Topology>(&format!("{base}fail\n"));
        assert_eq!(value.expect("unit").expect, Some(Expect::Fail));
        let (value, _) = check::<Topology>(&format!("{base}{{within: 5}}\n"));
        assert_eq!(value.expect("newtype").expect, Some(Expect::Within(5)));
        let (value, _) = check::<Topology>(&format!("{base}\n  range: {{lo: 1, hi: 2}}\n"));
        assert_eq!(value.expect("struct").expect, Some(Expect::Range { lo: 1, hi: 2 }));
    }

    #[test]
    fn enum_mistakes_are_explained() {
        let base = "name: x\nnodes: []\nexpect: ";
        let cases = [
            (
                "pas",
                "3:9: error[unknown-variant]: unknown value `pas` for `expect` \
                 (hint: did you mean `pass`?)",
            ),
            (
                "{rnage: {lo: 1}}",
                "3:10: error[unknown-variant]: unknown value `rnage` for `expect` \
                 (hint: did you mean `range`?)",
            ),
            (
                "within",
                "3:9: error[wrong-type]: `within` needs a value \
                 (hint: write it as a mapping: `within: ...`)",
            ),
            (
                "{pass: 3}",
                "3:16: error[wrong-type]: `pass` takes no value (hint: write just `pass`)",
            ),
            ("{within: x}", "3:18: error[bad-type]: expected a whole number, found the string `x`"),
            (
                "7",
                "3:9: error[wrong-type]: \
                 expected one of `pass`, `fail`, `within`, `range`, found the number `7`",
            ),
            ("{range: {lo: 1}}", "3:17: error[missing-field]: missing field `hi`"),
        ];
        for (written, expected) in cases {
            let diags = errors_of::<Topology>(&format!("{base}{written}\n"));
            assert_eq!(diags, [format!("t.yaml:{expected}")], "for `{written}`");
        }
    }

    #[test]
    fn optional_fields_may_be_absent_or_null() {
        let (value, diags) = check::<Topology>("name: x\nnodes: []\nexpect: null\nlimits: ~\n");
        assert_eq!(diags, Vec::<String>::new());
        let value = value.expect("nulls are absent");
        assert_eq!((value.expect, value.limits), (None, None));
    }

    #[test]
    fn map_keys_must_be_strings() {
        let diags = errors_of::<Topology>("name: x\nnodes: []\nlimits: {80: 1, ok: 2}\n");
        assert_eq!(
            diags,
            ["t.yaml:3:10: error[wrong-type]: \
                 expected a string as the key, found the number `80` \
              (hint: put the key in quotes: `\"80\"`)"]
        );
    }

    #[test]
    fn any_value_tuples_and_untagged_enums_go_through_deserialize_any() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(untagged)]
        enum Port {
            Number(u16),
            Name(String),
        }
        #[derive(Debug, Deserialize, PartialEq)]
        struct Mixed {
            raw: serde_yaml::Value,
            pair: (u8, String),
            ports: Vec<Port>,
            unit: (),
            letter: char,
            ratio: f32,
        }
        let text = "raw: {a: [1, -2, 1.5, true, null, x]}\npair: [1, b]\nports: [80, http]\n\
                    unit: ~\nletter: z\nratio: 2\n";
        let (value, diags) = check::<Mixed>(text);
        assert_eq!(diags, Vec::<String>::new());
        let value = value.expect("valid");
        let expected_raw: serde_yaml::Value =
            serde_yaml::from_str("{a: [1, -2, 1.5, true, null, x]}").expect("yaml");
        assert_eq!(value.raw, expected_raw);
        assert_eq!(value.pair, (1, "b".to_owned()));
        assert_eq!(value.ports, [Port::Number(80), Port::Name("http".to_owned())]);
        assert_eq!((value.letter, value.ratio), ('z', 2.0));

        let diags =
            errors_of::<Mixed>("raw: 1\npair: [1]\nports: [[1]]\nunit: 1\nletter: zz\nratio: x\n");
        assert_eq!(
            diags,
            [
                "t.yaml:2:7: error[wrong-length]: expected a list of 2 items, found 1",
                "t.yaml:3:9: error[invalid-value]: \
                 data did not match any variant of untagged enum Port",
                "t.yaml:4:7: error[wrong-type]: expected null, found the number `1`",
                "t.yaml:5:9: error[wrong-type]: expected a single character, found the string `zz`",
                "t.yaml:6:8: error[wrong-type]: expected a number, found the string `x`",
            ]
        );
    }

    #[test]
    fn an_empty_file_says_so() {
        for text in ["", "# only a comment\n\n", "---\n"] {
            let diags = errors_of::<Topology>(text);
            assert_eq!(diags.len(), 1, "{diags:?}");
            assert!(
                diags[0].contains(
                    "error[empty-file]: the file is empty; \
                     expected a mapping with `name`, `nodes`, `expect`, `limits`"
                ),
                "{diags:?}"
            );
        }
        let diags = errors_of::<Topology>("~\n");
        assert_eq!(diags, ["t.yaml:1:1: error[wrong-type]: expected a mapping, found null"]);
        let diags = errors_of::<Topology>("name:\nnodes: []\n");
        assert_eq!(
            diags,
            ["t.yaml:1:6: error[wrong-type]: expected a string, found null \
              (hint: write a value after the colon, or remove the key)"]
        );
    }

    #[test]
    fn a_duplicate_key_is_pointed_at_where_it_appears_again() {
        // In a sequence item, past a nested mapping, a comment and a sequence that is a
        // value at the mapping's own indentation.
        let text = "name: x\nnodes:\n  - name: a\n    sockets:\n    - name: s\n      \
                    type: REQ\n    # a comment\n    \"name\": b\n";
        let diags = errors_of::<Topology>(text);
        assert_eq!(
            diags,
            ["t.yaml:8:5: error[duplicate-field]: the key `name` appears twice in `nodes[0]` \
                 (hint: each key may appear only once in a mapping; `name` is first at line 3)"]
        );
        // A key of the same name in a nested mapping or after the mapping has ended is
        // no duplicate of it; the second top-level `name` is.
        let text = "name: x\nnodes:\n  - name: a\nname: y\n";
        let diags = errors_of::<Topology>(text);
        assert_eq!(
            diags,
            ["t.yaml:4:1: error[duplicate-field]: the key `name` appears twice in one mapping \
                 (hint: each key may appear only once in a mapping; `name` is first at line 1)"]
        );
        // A flow mapping keeps serde_yaml's position, the mapping's start.
        let diags = errors_of::<serde_yaml::Value>("a: {b: 1, b: 2}\n");
        assert_eq!(
            diags,
            ["t.yaml:1:4: error[duplicate-field]: the key `b` appears twice in `a` \
                 (hint: each key may appear only once in a mapping)"]
        );
    }

    #[test]
    fn syntax_errors_are_one_located_diagnostic() {
        let diags = errors_of::<Topology>("name: x\nnodes:\n  - a: [1, 2\n");
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0].starts_with(
                "t.yaml:4:1: error[syntax]: invalid YAML: did not find expected ',' or ']'"
            ),
            "{diags:?}"
        );
        // A duplicate key: `a_duplicate_key_is_pointed_at_where_it_appears_again`.
        let diags = errors_of::<serde_yaml::Value>("a: 1\n---\nb: 2\n");
        assert!(
            diags[0].starts_with(
                "t.yaml:2:1: error[syntax]: the file holds more than one YAML document"
            ),
            "{diags:?}"
        );
        let diags = errors_of::<serde_yaml::Value>("a: 123456789012345678901234567890\n");
        assert_eq!(
            diags,
            ["t.yaml:1:4: error[out-of-range]: \
                 the number `123456789012345678901234567890` is too large"]
        );
    }

    #[test]
    fn tags_are_rejected() {
        let diags = errors_of::<Topology>("name: !custom x\nnodes: []\n");
        assert_eq!(
            diags,
            ["t.yaml:1:7: error[wrong-type]: expected a string, found a value tagged `!custom` \
              (hint: YAML tags are not supported; remove `!custom`)"]
        );
        let diags = errors_of::<serde_yaml::Value>("a: !t 1\n");
        assert_eq!(
            diags,
            ["t.yaml:1:4: error[unsupported]: YAML tags such as `!t` are not supported \
                 (hint: remove `!t`)"]
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys_work() {
        let text = "\
name: x
nodes:
  - &base
    name: a
    sockets: []
  - <<: *base
    name: b
  - *base
";
        let (value, diags) = check::<Topology>(text);
        assert_eq!(diags, Vec::<String>::new());
        let names: Vec<String> = value.expect("valid").nodes.into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["a", "b", "a"]);
        let diags = errors_of::<Topology>("name: x\nnodes:\n  - <<: 5\n    name: a\n");
        assert_eq!(
            diags,
            ["t.yaml:3:5: error[merge]: invalid merge: \
                 expected a mapping or list of mappings for merging, but found scalar \
              (hint: `<<` takes a mapping or a list of mappings, such as `<<: *defaults`)"]
        );
    }

    #[test]
    fn deep_nesting_is_bounded_without_overflowing_the_stack() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        let (value, diags) = check::<serde_yaml::Value>(&nested(64));
        assert!(value.is_some(), "{diags:?}");
        let diags = errors_of::<serde_yaml::Value>(&nested(120));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(
            diags[0].contains("error[too-deep]: the document is nested too deeply"),
            "{diags:?}"
        );
        let too_deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let diags = errors_of::<serde_yaml::Value>(&too_deep);
        assert!(diags[0].contains("nested too deeply"), "{diags:?}");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized, to measure the recursion")]
    struct Tree {
        kids: Option<Vec<Tree>>,
        next: Option<Box<Tree>>,
    }

    #[test]
    fn a_flood_of_errors_is_cut_short() {
        let keys: String = (0..150).map(|i| format!("junk{i}: 1\n")).collect();
        let diags = errors_of::<Topology>(&format!("name: x\nnodes: []\n{keys}"));
        assert_eq!(diags.len(), 101);
        assert!(
            diags[99].starts_with("t.yaml:102:1: error[unknown-field]: unknown field `junk99`")
        );
        assert_eq!(
            diags[100],
            "t.yaml: error[too-many-errors]: 50 more errors in this file are not shown \
             (hint: fix the errors above and load again)"
        );
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_an_error_not_a_hang() {
        let diags = errors_of::<serde_yaml::Value>("a: &x\n  b: *x\n");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].contains("error[syntax]: the document is nested too deeply"), "{diags:?}");
    }

    #[test]
    fn recursive_types_at_the_nesting_limit_fit_on_a_test_thread_stack() {
        let chain = |levels: usize| format!("{}{}", "{next: ".repeat(levels), "}".repeat(levels));
        let (tree, diags) = check::<Tree>(&chain(63));
        assert!(tree.is_some(), "{diags:?}");
        // serde_yaml refuses more than 128 levels, so this is the deepest input possible.
        let diags = errors_of::<Tree>(&chain(127));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].contains("error[too-deep]"), "{diags:?}");
        let text = format!("{}{{nxt: 1}}{}", "{kids: [".repeat(31), "]}".repeat(31));
        let diags = errors_of::<Tree>(&text);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].contains("unknown field `nxt` in `kids[0].kids[0]."), "{diags:?}");
    }

    #[test]
    fn renders_loaded_diagnostics_exactly() {
        let text = "\
name: demo
nodes:
  - name: a
    sockets:
      - {name: s, type: sock, bnd: \"tcp://*:5555\"}
";
        let src = SourceFile::new("topologies/broken/x.yaml", text);
        let mut diags = Diagnostics::new(&src);
        assert!(load::<Topology>(&src, &mut diags).is_none());
        let expected = "\
error[unknown-variant]: unknown value `sock` for `nodes[0].sockets[0].type`
 --> topologies/broken/x.yaml:5:25
  |
5 |       - {name: s, type: sock, bnd: \"tcp://*:5555\"}
  |                         ^^^^
  = hint: expected one of `pub`, `sub`, `req`, `rep`

error[unknown-field]: unknown field `bnd` in `nodes[0].sockets[0]`
 --> topologies/broken/x.yaml:5:31
  |
5 |       - {name: s, type: sock, bnd: \"tcp://*:5555\"}
  |                               ^^^
  = hint: did you mean `bind`?
";
        assert_eq!(render(diags.as_slice()), expected);
    }

    /// A tiny deterministic generator, so the fuzz loop needs no dependency.
    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn byte_mutations_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let alphabet = b" \n\t:-[]{},#&*!|>'\"?%@`0123456789abcxyz.<";
        for round in 0..400 {
            let mut bytes = GOOD.as_bytes().to_vec();
            for _ in 0..1 + round % 6 {
                let at = (next_random(&mut state) as usize) % bytes.len();
                let byte = alphabet[(next_random(&mut state) as usize) % alphabet.len()];
                match next_random(&mut state) % 3 {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => drop(bytes.remove(at)),
                }
            }
            // Invalid UTF-8 never reaches `load`: `SourceFile::read` turns it into a diagnostic.
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let src = SourceFile::new("fuzz.yaml", text);
            let mut diags = Diagnostics::new(&src);
            let loaded = load::<Topology>(&src, &mut diags);
            let only_unknown = diags.as_slice().iter().all(|d| d.code == Code::UnknownField);
            assert!(
                loaded.is_some() || diags.has_errors(),
                "round {round}: a failure with no error: {:?}",
                src.text
            );
            assert!(
                loaded.is_none() || only_unknown,
                "round {round}: a value despite errors: {:?}",
                src.text
            );
            let _ = render(diags.as_slice());
            let mut diags = Diagnostics::new(&src);
            let _ = load::<serde_yaml::Value>(&src, &mut diags);
        }
    }
}
