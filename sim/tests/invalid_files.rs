//! Invalid files, one mistake each, and the exact diagnostics `check` prints for them.
//!
//! Every `NN-name.yaml` in `sim/tests/data/invalid/` is loaded the way `cargo xtask
//! check` loads it, and its rendered diagnostics must equal `NN-name.expected` beside
//! it, paths shown relative to the workspace root. `UPDATE_EXPECT=1 cargo test --test
//! tests invalid_files` rewrites the expected files instead (rust-analyzer's habit in
//! `crates/parser/src/tests.rs`); review the diff before committing it. The other
//! direction is checked too: every shipped file, and every file in
//! `sim/tests/data/good/`, loads with no diagnostic at all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use patchbay::registry::Registry;
use patchbay::resolve;
use patchbay::spec::{Diagnostic, render};

/// Where the invalid fixtures and their expected outputs live, from the workspace root.
const INVALID_DIR: &str = "sim/tests/data/invalid";
/// Small good topologies the invalid scenarios run on.
const GOOD_DIR: &str = "sim/tests/data/good";
/// Fewer fixtures than this means the directory was emptied or moved by mistake.
const FIXTURES_MIN: usize = 25;

#[test]
fn every_invalid_file_reports_exactly_its_expected_diagnostics() {
    let fixtures = yaml_files(INVALID_DIR);
    assert!(
        fixtures.len() >= FIXTURES_MIN,
        "{INVALID_DIR} holds {} fixtures, expected at least {FIXTURES_MIN}",
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
        "{} of {} invalid files do not print what their .expected file says \
         (rerun with UPDATE_EXPECT=1 to accept the new output):\n\n{}",
        mismatches.len(),
        fixtures.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_expected_file_has_its_fixture() {
    let orphans: Vec<PathBuf> = files_with_extension(INVALID_DIR, "expected")
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
            let mut loaded = resolve::load(file, &registry);
            let rendered = rendered_from_root(&loaded.diagnostics);
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

/// `sub_prefer_new` reaches the socket it is written on, and only that one; NNG's
/// PUB and SUB take its queueing and its buffer sizes.
#[test]
fn an_nng_subscriber_takes_sub_prefer_new_as_written() {
    let file = workspace_root().join(GOOD_DIR).join("pubsub-nng.yaml");
    let plan = resolve::load_topology(&file, &Registry::builtin()).plan.expect("it loads");
    let options = |group: &str| {
        let g = plan.group_by_name(group).expect("a node of the file");
        g.sockets[0].options.socket_options()
    };
    let (publisher, subscriber, keeper) =
        (options("publisher"), options("subscriber"), options("keeper"));
    assert!(publisher.nng_queues && subscriber.nng_queues && keeper.nng_queues);
    assert_eq!((publisher.sndhwm_msgs, subscriber.rcvhwm_msgs), (16, 128));
    assert_eq!((subscriber.sub_prefer_new, keeper.sub_prefer_new), (true, false));
}

/// `handshake_ivl` reaches the socket it is written on as libzmq's
/// `ZMQ_HANDSHAKE_IVL` would: a deadline, or none for `off`; unwritten, libzmq's 30 s,
/// and `check --explain` names the line it came from.
#[test]
fn a_zeromq_socket_takes_handshake_ivl_as_written() {
    let file = workspace_root().join(GOOD_DIR).join("handshake-ivl-zeromq.yaml");
    let plan = resolve::load_topology(&file, &Registry::builtin()).plan.expect("it loads");
    let effective = |group: &str| {
        let g = plan.group_by_name(group).expect("a node of the file");
        g.sockets[0].options.handshake_ivl.clone()
    };
    let (quick, patient, default) =
        (effective("quick"), effective("patient"), effective("default"));
    assert_eq!(quick.value, Some(Duration::from_millis(400)));
    assert_eq!(patient.value, None);
    assert_eq!(default.value, Some(patchbay::socket::HANDSHAKE_IVL_LIBZMQ));
    assert!(
        quick.source.to_string().ends_with("handshake-ivl-zeromq.yaml:9:71"),
        "{}",
        quick.source
    );
    assert_eq!(default.source.to_string(), "default: libzmq ZMQ_HANDSHAKE_IVL = 30s");
}

/// A socket option may be a topology `$param`, typed where it lands: a count, a
/// duration and a true/false reach the socket as the parameters say, and `check
/// --explain` names the line of the option.
#[test]
fn topology_params_fill_socket_options() {
    let file = workspace_root().join(GOOD_DIR).join("option-params.yaml");
    let plan = resolve::load_topology(&file, &Registry::builtin()).plan.expect("it loads");
    let push = &plan.group_by_name("ventilator").expect("a node of the file").sockets[0].options;
    let socket = push.socket_options();
    assert_eq!(socket.sndhwm_msgs, 7);
    assert_eq!(socket.handshake_ivl, Some(Duration::from_millis(250)));
    assert!(socket.immediate);
    assert!(
        push.immediate.source.to_string().ends_with("option-params.yaml:16:70"),
        "{}",
        push.immediate.source
    );
}

#[test]
fn negative_requests_are_out_of_range_like_a_negative_count() {
    // From issue 15: two whole-number parsers disagreed. `count: -3` was `out-of-range`
    // with a hint, `requests: -3` a `bad-type` with an example that did not say why.
    let invalid = workspace_root().join(INVALID_DIR);
    let registry = Registry::builtin();
    let shape = |file: &str| -> Vec<(String, bool)> {
        let loaded = resolve::load(&invalid.join(file), &registry);
        loaded.diagnostics.iter().map(|d| (d.code.to_string(), d.hint.is_some())).collect()
    };
    let count = shape("07-negative-count.yaml");
    assert_eq!(count, [("out-of-range".to_owned(), true)]);
    assert_eq!(shape("90-negative-request-count.yaml"), count);
}

/// Loads one invalid file and compares its rendered diagnostics with the expected
/// output, or rewrites that output under `UPDATE_EXPECT=1`. `Err` holds a report of
/// what went wrong, with a line diff.
fn check(fixture: &Path, expected_path: &Path) -> Result<(), String> {
    let loaded = resolve::load(fixture, &Registry::builtin());
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let actual = rendered_from_root(&loaded.diagnostics);
    if loaded.plan.is_some() || errors == 0 {
        return Err(format!(
            "{}: an invalid file must fail with at least one error, got {} and {errors} error(s)\n{actual}",
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

/// `diags` rendered as `cargo xtask check` prints them from the root: the root is cut
/// from each message, hint and file before rendering, since rendering cuts a long
/// quoted path in its middle (so the output would depend on where the repository is
/// checked out: 61 characters of absolute path already changed it).
fn rendered_from_root(diags: &[Diagnostic]) -> String {
    let relative: Vec<Diagnostic> = diags
        .iter()
        .cloned()
        .map(|mut d| {
            d.message = relative_to_root(&d.message);
            d.hint = d.hint.map(|h| relative_to_root(&h));
            d.file = PathBuf::from(relative_to_root(&d.file.display().to_string()));
            d
        })
        .collect();
    render(&relative)
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

/// A scratch directory for files a fixture cannot hold (pipes, megabytes), removed
/// when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("patchbay-invalid-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `file` on a thread and waits for its diagnostics; the timeout is a hang
/// detector (before the fix a FIFO blocked the read for ever), not a wait for an event.
fn load_or_hang(file: &Path) -> Vec<patchbay::spec::Diagnostic> {
    let (tx, rx) = std::sync::mpsc::channel();
    let file = file.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(resolve::load(&file, &Registry::builtin()).diagnostics);
    });
    rx.recv_timeout(std::time::Duration::from_secs(120))
        .expect("loading must answer with a diagnostic, not hang")
}

#[test]
fn a_fifo_named_as_a_file_or_as_a_topology_is_refused_without_blocking() {
    // From issue 17: a FIFO given as an input file hung patchbay.
    let dir = Scratch::new("fifo");
    let fifo = dir.0.join("pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo made the pipe");
    let diags = load_or_hang(&fifo);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "not-a-file");
    assert_eq!(diags[0].file, fifo);
    assert!(diags[0].message.contains("is a named pipe (FIFO), not a regular file"), "{diags:?}");
    assert!(diags[0].hint.as_deref().is_some_and(|h| h.contains("pipes")), "{diags:?}");

    let scenario = dir.0.join("scenario.yaml");
    let text =
        "name: s\ntopology: pipe.yaml\nduration: 1s\ninvariants: [no_lost_replies]\nexpect: pass\n";
    std::fs::write(&scenario, text).unwrap();
    let diags = load_or_hang(&scenario);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!((diags[0].code.as_str(), &diags[0].file), ("not-a-file", &fifo), "{diags:?}");
}

/// `a: [[[…` nested `depth` deep, written to `dir`.
fn nested_file(dir: &Scratch, name: &str, depth: usize) -> PathBuf {
    let path = dir.0.join(name);
    std::fs::write(&path, format!("name: deep\nnodes: {}\n", "[".repeat(depth))).unwrap();
    path
}

#[test]
fn deep_nesting_is_refused_at_the_first_bracket_past_the_limit() {
    // From issue 17 and 11: 200 KB of `[` took 22 to 62 s before its diagnostic (the
    // scanner is quadratic in depth and the depth limit came after it). The time is
    // measured in the report's figures, not here; this asserts what is said.
    let dir = Scratch::new("nesting");
    for (name, depth) in [("200k.yaml", 200_000), ("2m.yaml", 2_000_000)] {
        let path = nested_file(&dir, name, depth);
        let diags = load_or_hang(&path);
        assert_eq!(diags.len(), 1, "{diags:?}");
        let d = &diags[0];
        assert_eq!(d.code, "too-deep");
        assert_eq!(d.file, path);
        // `nodes: ` is 7 characters; the 65th `[` is past the limit of 64.
        assert_eq!(d.location, Some(patchbay::spec::Location { line: 2, column: 7 + 65 }));
        assert_eq!(
            d.message,
            "the document is nested too deeply: more than 64 levels of `[` and `{`"
        );
        assert!(d.hint.as_deref().is_some_and(|h| h.contains("unclosed")), "{d:?}");
        let shown = render(&diags);
        let excerpt = shown.lines().nth(3).expect("an excerpt line");
        assert!(excerpt.chars().count() < 120, "the excerpt is cut: {excerpt}");
        assert!(excerpt.starts_with("2 | …[[[") && excerpt.ends_with("[…"), "{excerpt}");
    }
}

#[test]
fn a_file_over_the_size_cap_is_refused_from_its_metadata() {
    let dir = Scratch::new("size");
    let path = dir.0.join("big.yaml");
    let len = patchbay::spec::source::FILE_SIZE_MAX_BYTES + 1;
    std::fs::write(&path, "#".repeat(len as usize)).unwrap();
    let diags = load_or_hang(&path);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "too-large");
    assert!(diags[0].message.contains(&format!("({len} bytes)")), "{diags:?}");
    assert!(diags[0].hint.is_some());
}

#[test]
fn a_megabyte_line_is_not_printed_whole_nor_compared_for_suggestions() {
    // From issue 17: a 5 MB line was printed back whole in its diagnostic (5 MB is over
    // the size cap now; 3 MB is under it). Suggesting a design for that name also
    // compared it with every design's name, in time proportional to its length times
    // theirs: 12 s in a release build.
    let dir = Scratch::new("long-line");
    let path = dir.0.join("long.yaml");
    let text = format!("name: long\nnodes:\n  - {{name: a, design: {}}}\n", "y".repeat(3_000_000));
    std::fs::write(&path, text).unwrap();
    let diags = load_or_hang(&path);
    let shown = render(&diags);
    assert_eq!(diags.len(), 1, "{shown}");
    assert_eq!(diags[0].code, "unknown-design");
    assert_eq!(diags[0].location, Some(patchbay::spec::Location { line: 3, column: 23 }));
    assert!(shown.len() < 2_000, "{} bytes of diagnostics", shown.len());
    assert!(shown.contains("no design is called `yyyy"), "{shown}");
    assert!(shown.contains("…yyyyyyyy (3000000 characters)`"), "{shown}");
}
