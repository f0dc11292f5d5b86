//! Broken files, one mistake each, and the exact diagnostics `check` prints for them.
//!
//! Every `NN-name.yaml` in `sim/tests/data/broken/` is loaded the way `cargo xtask
//! check` loads it, and its rendered diagnostics must equal `NN-name.expected` beside
//! it, paths shown relative to the workspace root. `UPDATE_EXPECT=1 cargo test --test
//! tests broken_files` rewrites the expected files instead (rust-analyzer's habit in
//! `crates/parser/src/tests.rs`); review the diff before committing it. The other
//! direction is checked too: every shipped file, and every file in
//! `sim/tests/data/good/`, loads with no diagnostic at all.

use std::path::{Path, PathBuf};

use patchbay::design::Registry;
use patchbay::plan;
use patchbay::spec::render;

/// Where the broken fixtures and their expected outputs live, from the workspace root.
const BROKEN_DIR: &str = "sim/tests/data/broken";
/// Small good topologies the broken scenarios run on.
const GOOD_DIR: &str = "sim/tests/data/good";
/// Fewer fixtures than this means the directory was emptied or moved by mistake.
const FIXTURES_MIN: usize = 25;

#[test]
fn every_broken_file_reports_exactly_its_expected_diagnostics() {
    let fixtures = yaml_files(BROKEN_DIR);
    assert!(
        fixtures.len() >= FIXTURES_MIN,
        "{BROKEN_DIR} holds {} fixtures, expected at least {FIXTURES_MIN}",
        fixtures.len()
    );
    let mismatches: Vec<String> = fixtures
        .iter()
        .filter_map(|fixture| {
            let expected_path = fixture.with_extension("expected");
            check(fixture, &expected_path).err()
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} broken files do not print what their .expected file says \
         (rerun with UPDATE_EXPECT=1 to accept the new output):\n\n{}",
        mismatches.len(),
        fixtures.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_expected_file_has_its_fixture() {
    let orphans: Vec<PathBuf> = files_with_extension(BROKEN_DIR, "expected")
        .into_iter()
        .filter(|expected| !expected.with_extension("yaml").exists())
        .collect();
    assert!(orphans.is_empty(), "expected outputs with no fixture beside them: {orphans:?}");
}

#[test]
fn every_shipped_and_good_file_loads_without_a_diagnostic() {
    let root = workspace_root();
    let mut files =
        patchbay::files::shipped_files(&root).expect("the shipped folders are readable");
    assert!(!files.is_empty(), "no shipped file found under {}", root.display());
    files.extend(yaml_files(GOOD_DIR));
    let registry = Registry::builtin();
    let noisy: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let mut loaded = plan::load(file, &registry);
            let rendered = relative_to_root(&render(&loaded.diagnostics));
            // The deliberately broken catalogue (`*/broken/*`) must say so, and
            // nothing else.
            if file.parent().is_some_and(|d| d.ends_with("broken")) {
                let warned = loaded.diagnostics.iter().any(|d| d.code == "broken-design");
                let is_topology = file.starts_with(root.join("topologies"));
                if is_topology && !warned {
                    return Some(format!("{}: no broken-design warning", shown(file)));
                }
                loaded.diagnostics.retain(|d| d.code != "broken-design");
            }
            match (&loaded.plan, loaded.diagnostics.is_empty()) {
                (Some(_), true) => None,
                (Some(_), false) => Some(format!("{}: warnings\n{rendered}", shown(file))),
                (None, _) => Some(format!("{}: no plan\n{rendered}", shown(file))),
            }
        })
        .collect();
    assert!(noisy.is_empty(), "shipped files must check clean:\n\n{}", noisy.join("\n"));
}

/// Loads one broken file and compares its rendered diagnostics with the expected
/// output, or rewrites that output under `UPDATE_EXPECT=1`. `Err` holds a report of
/// what went wrong, with a line diff.
fn check(fixture: &Path, expected_path: &Path) -> Result<(), String> {
    let loaded = plan::load(fixture, &Registry::builtin());
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let actual = relative_to_root(&render(&loaded.diagnostics));
    if loaded.plan.is_some() || errors == 0 {
        return Err(format!(
            "{}: a broken file must fail with at least one error, got {} and {errors} error(s)\n{actual}",
            shown(fixture),
            if loaded.plan.is_some() { "a plan" } else { "no plan" },
        ));
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(expected_path, &actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", expected_path.display()));
        return Ok(());
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "--- {} (expected)\n+++ {} (actual)\n{}",
        shown(expected_path),
        shown(fixture),
        line_diff(&expected, &actual)
    ))
}

/// A plain line diff: common lines with two spaces, removed with `-`, added with `+`.
/// Longest common subsequence over lines; expected files are a few dozen lines.
fn line_diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    // lcs[i][j]: length of the longest common subsequence of old[i..] and new[j..].
    let mut lcs = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push_str(&format!("  {}\n", old[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < old.len() && (j == new.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", old[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", new[j]));
            j += 1;
        }
    }
    if expected.ends_with('\n') != actual.ends_with('\n') {
        out.push_str("(the two differ in their final line break)\n");
    }
    out
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("sim/ sits in the workspace").to_owned()
}

/// Files are loaded by absolute path and the root is cut from what is printed, which
/// gives the output `cargo xtask check` prints from the root. Changing the working
/// directory instead would race with the other test modules of this binary.
fn relative_to_root(rendered: &str) -> String {
    rendered.replace(&format!("{}/", workspace_root().display()), "")
}

fn shown(path: &Path) -> String {
    relative_to_root(&path.display().to_string())
}

/// The `*.yaml` files of a folder given from the workspace root, as absolute paths,
/// sorted by name.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    files_with_extension(dir, "yaml")
}

fn files_with_extension(dir: &str, extension: &str) -> Vec<PathBuf> {
    let dir = workspace_root().join(dir);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|x| x == extension))
        .collect();
    files.sort();
    files
}

#[test]
fn line_diff_marks_removed_and_added_lines() {
    let diff = line_diff("a\nb\nc\n", "a\nx\nc\n");
    assert_eq!(diff, "  a\n- b\n+ x\n  c\n");
    assert_eq!(line_diff("a\n", "a"), "  a\n(the two differ in their final line break)\n");
}
