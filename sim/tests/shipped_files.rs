//! Property tests of the loader on damaged input: whatever the text, loading never
//! panics, and it either returns a plan with no error or reports at least one error.
//!
//! The inputs are the shipped topologies and scenarios with a few edits: bytes from an
//! alphabet rich in YAML syntax inserted, deleted or replaced, and whole-tree edits
//! (a value replaced, removed, duplicated or wrapped) that keep the YAML valid and so
//! reach the resolver; plus text and bytes that owe nothing to a shipped file. Every
//! property runs a fixed number of cases per file from a fixed seed, so a run is
//! reproducible: `PATCHBAY_PROPTEST_CASES=5000` explores further, `PROPTEST_RNG_SEED=N`
//! elsewhere. Failures are kept in `sim/proptest-regressions/shipped_files.txt`, which
//! is committed, and replayed first on every run.

use std::path::{Path, PathBuf};

use patchbay::registry::Registry;
use patchbay::resolve;
use patchbay::spec::{Diagnostic, SourceFile, render};
use proptest::prelude::*;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner,
};
use serde_yaml::{Mapping, Value};

/// Cases per property and file when `PATCHBAY_PROPTEST_CASES` is not set: the whole
/// module takes about 5 s in a debug build on two busy cores, well under its 20 s
/// budget. Rarer bugs need more (the seed-count abort took about 3,000).
const CASES_PER_FILE: u32 = 256;

/// The seed every run uses unless `PROPTEST_RNG_SEED` says otherwise.
const SEED: u64 = 0x5eed_f11e;

/// Committed regressions, replayed before new cases.
const REGRESSIONS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/shipped_files.txt");

/// Bytes a mutation inserts: YAML's indicators, line breaks, digits and letters, and a
/// character outside ASCII.
const ALPHABET: &[char] = &[
    ':', '-', ' ', ' ', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '\n', '\n',
    '\t', ',', '.', '$', '%', '@', '?', '<', '=', '~', '\\', '0', '1', '5', '9', 'a', 'e', 's',
    'x', 'K', 'i', 'B', 'é',
];

/// Whole tokens a mutation inserts, each meaningful to YAML or to the language.
const TOKENS: &[&str] = &[
    "<<: *a",
    "&a ",
    "*a",
    "---\n",
    "...\n",
    "~",
    "null",
    "!!binary ",
    "!tag ",
    "? ",
    "1e400",
    "-1",
    "18446744073709551616",
    "$users",
    "$",
    ".inf",
    ".nan",
    "0x1F",
    "0o17",
    "true",
    ": ",
    "- ",
    "\"\\u00e9",
    "'it''s'",
    "\r\n",
    "\u{feff}",
    "\0",
];

/// Scalars a tree mutation puts in place of a value.
const LEAVES: &[&str] = &[
    "0",
    "-1",
    "1",
    "3",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1.5",
    "-0.0",
    ".nan",
    "1e308",
    "",
    " ",
    "~",
    "true",
    "false",
    "$users",
    "$clients",
    "$nope",
    "10s",
    "0s",
    "0",
    "60 sec",
    "18446744073709551615s",
    "99999999999999999999d",
    "5ms",
    "1KiB",
    "64kb",
    "unlimited",
    "100/s",
    "0/s",
    "client",
    "client.0",
    "client.99",
    "worker.0",
    "worker.-1",
    "device.frontend",
    "broker.backend",
    "worker.0.rep",
    "a.b.c.d",
    "PAIR",
    "XREP",
    "REQ",
    "ROUTER",
    "tcp://*:0",
    "tcp://*:65536",
    "tcp://*:5555",
    "no_lost_replies",
    "faults_fired",
    "kill",
    "partition",
    "latency",
    "pass",
    "uniform",
    "exponential",
];

#[test]
fn byte_edits_of_shipped_files_never_panic_nor_fail_silently() {
    for_each_shipped_file("byte edits", |file| {
        let text = file.text.clone();
        prop::collection::vec(byte_edit(), 1..=8)
            .prop_map(move |edits| apply_byte_edits(&text, &edits))
            .boxed()
    });
}

#[test]
fn tree_edits_of_shipped_files_never_panic_nor_fail_silently() {
    for_each_shipped_file("tree edits", |file| {
        let tree: Value = serde_yaml::from_str(&file.text).expect("a shipped file is YAML");
        let paths = value_paths(&tree);
        prop::collection::vec(tree_edit(paths.len()), 1..=4)
            .prop_map(move |edits| {
                let mut tree = tree.clone();
                for edit in &edits {
                    apply_tree_edit(&mut tree, &paths, edit);
                }
                serde_yaml::to_string(&tree).expect("a YAML tree serializes")
            })
            .boxed()
    });
}

#[test]
fn arbitrary_text_never_panics_nor_fails_silently() {
    let files = shipped_files();
    // One topology and one scenario give the arbitrary text a real place on disk, so a
    // scenario's `topology:` line resolves as it would next to real files.
    let samples: Vec<&Shipped> = [Kind::Topology, Kind::Scenario]
        .iter()
        .map(|&kind| files.iter().find(|f| f.kind == kind).expect("a shipped file of each kind"))
        .collect();
    for_each_file(&samples, "arbitrary text", |_| {
        let yamlish = prop::collection::vec(
            prop_oneof![
                prop::sample::select(ALPHABET).prop_map(String::from),
                prop::sample::select(TOKENS).prop_map(String::from),
                prop::sample::select(LEAVES).prop_map(String::from),
                "[a-z_]{1,12}",
            ],
            0..64,
        )
        .prop_map(|parts| parts.concat());
        prop_oneof![any::<String>(), yamlish].boxed()
    });
}

#[test]
fn arbitrary_bytes_on_disk_never_panic_nor_fail_silently() {
    let dir = std::env::temp_dir().join(format!("patchbay-shipped-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
    let registry = Registry::builtin();
    let mut runner = TestRunner::new(config(0));
    let result = runner.run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
        // Bytes that may not be UTF-8 can only reach the loader through a file.
        let path = dir.join("arbitrary.yaml");
        std::fs::write(&path, &bytes).expect("the temporary file is writable");
        let loaded = resolve::load(&path, &registry);
        consistent(loaded.plan.is_some(), &loaded.diagnostics)
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(failure) = result {
        panic!("{}", failure_report("arbitrary bytes", "a file in the temporary folder", failure));
    }
}

/// Which schema a shipped file follows, from the folder it sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Topology,
    Scenario,
}

/// A shipped file: its absolute path (so that a scenario finds its topology however the
/// tests were started), its kind and its text.
#[derive(Debug)]
struct Shipped {
    path: PathBuf,
    kind: Kind,
    text: String,
}

fn shipped_files() -> Vec<Shipped> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("sim/ sits in the workspace");
    let paths = patchbay::files::shipped_files(root).expect("the shipped folders are readable");
    assert!(!paths.is_empty(), "no shipped file under {}", root.display());
    paths
        .into_iter()
        .map(|path| {
            let in_scenarios = path.parent().is_some_and(|dir| dir.ends_with("scenarios"));
            let kind = if in_scenarios { Kind::Scenario } else { Kind::Topology };
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            Shipped { path, kind, text }
        })
        .collect()
}

fn for_each_shipped_file(property: &str, texts: impl Fn(&Shipped) -> BoxedStrategy<String>) {
    let files = shipped_files();
    for_each_file(&files.iter().collect::<Vec<_>>(), property, texts);
}

/// Runs the property on texts drawn for each file, loading each as that file, and
/// panics with every file's minimal failing text.
fn for_each_file(
    files: &[&Shipped],
    property: &str,
    texts: impl Fn(&Shipped) -> BoxedStrategy<String>,
) {
    let registry = Registry::builtin();
    let failures: Vec<String> = files
        .iter()
        .enumerate()
        .filter_map(|(i, file)| {
            let mut runner = TestRunner::new(config(i as u64));
            let result =
                runner.run(&texts(file), |text| loads_consistently(file, &text, &registry));
            result
                .err()
                .map(|failure| failure_report(property, &file.path.display().to_string(), failure))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Loads `text` as if it were `file`, the way `resolve::load` would.
fn loads_consistently(
    file: &Shipped,
    text: &str,
    registry: &Registry,
) -> Result<(), TestCaseError> {
    let src = SourceFile::new(&file.path, text);
    let (has_plan, diagnostics) = match file.kind {
        Kind::Topology => {
            let loaded = resolve::resolve_topology_source(&src, registry, &Default::default());
            (loaded.plan.is_some(), loaded.diagnostics)
        }
        Kind::Scenario => {
            let loaded = resolve::load_scenario_source(&src, registry);
            (loaded.plan.is_some(), loaded.diagnostics)
        }
    };
    consistent(has_plan, &diagnostics)
}

/// A plan exactly when no error was reported; and whatever was reported renders.
fn consistent(has_plan: bool, diagnostics: &[Diagnostic]) -> Result<(), TestCaseError> {
    let rendered = render(diagnostics);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    prop_assert!(has_plan || errors > 0, "the load failed without reporting an error:\n{rendered}");
    prop_assert!(
        !has_plan || errors == 0,
        "a plan came back despite {errors} error(s):\n{rendered}"
    );
    Ok(())
}

/// The configuration of every runner: a fixed seed (or `PROPTEST_RNG_SEED`), offset by
/// the file's position so that files do not all draw the same edits.
fn config(offset: u64) -> Config {
    let cases = std::env::var("PATCHBAY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES_PER_FILE);
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed().wrapping_add(offset)),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        // Each case is a load of a small file; shrinking a failure must stay quick.
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

fn seed() -> u64 {
    std::env::var("PROPTEST_RNG_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(SEED)
}

/// The seed first, then a command that repeats the run, then what failed.
fn failure_report(property: &str, file: &str, failure: TestError<impl std::fmt::Debug>) -> String {
    let seed = seed();
    let detail = match failure {
        TestError::Fail(reason, input) => format!("{reason}\nminimal input: {input:?}"),
        TestError::Abort(reason) => format!("aborted: {reason}"),
    };
    format!(
        "SEED={seed} {property} of {file}\nrepro: PROPTEST_RNG_SEED={seed} cargo test -p patchbay \
         --test tests shipped_files\n{detail}\n"
    )
}

/// One edit of a text, positions taken modulo its length at the time.
#[derive(Clone, Debug)]
enum ByteEdit {
    Insert(usize, String),
    Delete(usize),
    Replace(usize, String),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let piece = prop_oneof![
        4 => prop::sample::select(ALPHABET).prop_map(String::from),
        1 => prop::sample::select(TOKENS).prop_map(String::from),
    ];
    prop_oneof![
        (any::<usize>(), piece.clone()).prop_map(|(at, s)| ByteEdit::Insert(at, s)),
        any::<usize>().prop_map(ByteEdit::Delete),
        (any::<usize>(), piece).prop_map(|(at, s)| ByteEdit::Replace(at, s)),
    ]
}

/// Applies the edits to the characters of `text`, so the result stays UTF-8.
fn apply_byte_edits(text: &str, edits: &[ByteEdit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        match edit {
            ByteEdit::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            ByteEdit::Delete(at) if !chars.is_empty() => {
                chars.remove(at % chars.len());
            }
            ByteEdit::Replace(at, s) if !chars.is_empty() => {
                let at = at % chars.len();
                chars.splice(at..=at, s.chars());
            }
            ByteEdit::Delete(_) | ByteEdit::Replace(..) => {}
        }
    }
    chars.into_iter().collect()
}

/// One step from a value to a child: a mapping's key or a list's index.
#[derive(Clone, Debug)]
enum Step {
    Key(Value),
    Item(usize),
}

/// Every value of the tree, the root first, each as the steps that reach it.
fn value_paths(tree: &Value) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut stack = vec![(tree, Vec::new())];
    while let Some((value, path)) = stack.pop() {
        match value {
            Value::Mapping(map) => {
                for (key, child) in map {
                    let mut p: Vec<Step> = path.clone();
                    p.push(Step::Key(key.clone()));
                    stack.push((child, p));
                }
            }
            Value::Sequence(items) => {
                for (i, child) in items.iter().enumerate() {
                    let mut p: Vec<Step> = path.clone();
                    p.push(Step::Item(i));
                    stack.push((child, p));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

/// One edit of a YAML tree, applied to the value at `paths[target]`.
#[derive(Clone, Debug)]
struct TreeEdit {
    target: usize,
    action: TreeAction,
}

#[derive(Clone, Debug)]
enum TreeAction {
    /// Put a scalar in its place (parsed as YAML, so `3` is a number).
    Replace(&'static str),
    /// Remove it from its mapping or list.
    Remove,
    /// Repeat it in its list, or add it again under another key.
    Duplicate,
    /// Wrap it in a one-item list.
    WrapInList,
    /// Wrap it in a one-entry mapping with the given key.
    WrapInMapping(&'static str),
    /// Replace it with an empty mapping or list.
    Empty { mapping: bool },
    /// Rename its key in a mapping.
    RenameKey(&'static str),
}

fn tree_edit(paths: usize) -> impl Strategy<Value = TreeEdit> {
    let action = prop_oneof![
        4 => prop::sample::select(LEAVES).prop_map(TreeAction::Replace),
        2 => Just(TreeAction::Remove),
        1 => Just(TreeAction::Duplicate),
        1 => Just(TreeAction::WrapInList),
        1 => prop::sample::select(LEAVES).prop_map(TreeAction::WrapInMapping),
        1 => any::<bool>().prop_map(|mapping| TreeAction::Empty { mapping }),
        1 => prop::sample::select(LEAVES).prop_map(TreeAction::RenameKey),
    ];
    (0..paths, action).prop_map(|(target, action)| TreeEdit { target, action })
}

/// Applies one edit; an edit whose target an earlier edit removed does nothing.
fn apply_tree_edit(tree: &mut Value, paths: &[Vec<Step>], edit: &TreeEdit) {
    let path = &paths[edit.target];
    let Some((last, parent_path)) = path.split_last() else {
        // The root: only replacing it means something.
        if let TreeAction::Replace(s) = edit.action {
            *tree = leaf(s);
        }
        return;
    };
    let Some(parent) = walk(tree, parent_path) else { return };
    match (&edit.action, parent, last) {
        (TreeAction::Remove, Value::Mapping(map), Step::Key(key)) => {
            map.remove(key);
        }
        (TreeAction::Remove, Value::Sequence(items), Step::Item(i)) if *i < items.len() => {
            items.remove(*i);
        }
        (TreeAction::Duplicate, Value::Sequence(items), Step::Item(i)) if *i < items.len() => {
            items.insert(*i, items[*i].clone());
        }
        (TreeAction::Duplicate, Value::Mapping(map), Step::Key(key)) => {
            if let Some(value) = map.get(key).cloned() {
                map.insert(Value::String(format!("{}2", key_text(key))), value);
            }
        }
        (TreeAction::RenameKey(new), Value::Mapping(map), Step::Key(key)) => {
            if let Some(value) = map.remove(key) {
                map.insert(leaf(new), value);
            }
        }
        (action, parent, last) => {
            let Some(slot) = child(parent, last) else { return };
            match action {
                TreeAction::Replace(s) => *slot = leaf(s),
                TreeAction::WrapInList => *slot = Value::Sequence(vec![slot.clone()]),
                TreeAction::WrapInMapping(key) => {
                    let mut map = Mapping::new();
                    map.insert(leaf(key), slot.clone());
                    *slot = Value::Mapping(map);
                }
                TreeAction::Empty { mapping: true } => *slot = Value::Mapping(Mapping::new()),
                TreeAction::Empty { mapping: false } => *slot = Value::Sequence(Vec::new()),
                TreeAction::Remove | TreeAction::Duplicate | TreeAction::RenameKey(_) => {}
            }
        }
    }
}

fn walk<'v>(tree: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    steps.iter().try_fold(tree, child)
}

fn child<'v>(value: &'v mut Value, step: &Step) -> Option<&'v mut Value> {
    match (value, step) {
        (Value::Mapping(map), Step::Key(key)) => map.get_mut(key),
        (Value::Sequence(items), Step::Item(i)) => items.get_mut(*i),
        _ => None,
    }
}

/// A scalar as YAML reads it: `3` a number, `true` a boolean, `~` null.
fn leaf(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_owned(),
    }
}

#[test]
fn byte_edits_stay_within_the_text() {
    let edits =
        [ByteEdit::Delete(2), ByteEdit::Insert(3, "é".into()), ByteEdit::Replace(4, "[".into())];
    assert_eq!(apply_byte_edits("ab", &edits), "[é");
    assert_eq!(apply_byte_edits("", &edits), "[");
}

#[test]
fn tree_edits_reach_nested_values() {
    let tree: Value = serde_yaml::from_str("a: [1, {b: 2}]\n").expect("YAML");
    let paths = value_paths(&tree);
    let nested = paths
        .iter()
        .position(|p| matches!(p.as_slice(), [Step::Key(_), Step::Item(1), Step::Key(_)]))
        .expect("the path to b");
    let mut edited = tree.clone();
    apply_tree_edit(
        &mut edited,
        &paths,
        &TreeEdit { target: nested, action: TreeAction::Replace("10s") },
    );
    assert_eq!(serde_yaml::to_string(&edited).expect("serializes"), "a:\n- 1\n- b: 10s\n");
}
