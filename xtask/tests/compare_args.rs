//! `compare`'s sides as a hostile user gives them: every refusal here happens before
//! any run, with exit code 2 and a message naming what the user wrote (the option, or
//! the compare file's line and column), never the scenario's `topology:` line that
//! the side's topology is swapped into.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh project folder for the test `name`: the shipped scenario `lru-worker-crash`
/// and the topologies of two shipped brokers, and an empty `sides/` for compare files.
fn project(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patchbay-compare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in
        ["scenarios/lru-worker-crash.yaml", "topologies/lru-broker.yaml", "topologies/queue.yaml"]
    {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::copy(shipped.join(file), dir.join(file)).expect(file);
    }
    std::fs::create_dir_all(dir.join("sides")).unwrap();
    dir
}

/// Runs `compare scenarios/lru-worker-crash.yaml ARGS` in `dir`: exit code and stderr.
/// One seed, one job: a test that should be refused and is not still ends soon.
fn compare(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["compare", "scenarios/lru-worker-crash.yaml", "--seeds", "1", "--jobs", "1"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the xtask binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Runs `compare` with the compare file `text` written at `sides/NAME.yaml`.
fn with_sides(dir: &Path, name: &str, text: &str) -> (Option<i32>, String, String) {
    let file = format!("sides/{name}.yaml");
    std::fs::write(dir.join(&file), text).unwrap();
    compare(dir, &["--sides", &file])
}

#[test]
fn unknown_keys_inside_a_side_are_refused_at_their_line_with_a_hint() {
    let dir = project("keys");
    let (code, stdout, stderr) = with_sides(
        &dir,
        "keys",
        "designs:\n\
         \x20 - {name: a, topology: ../topologies/lru-broker.yaml, topolgy: x}\n\
         \x20 - name: b\n\
         \x20   topology: ../topologies/queue.yaml\n\
         \x20   params: {workers: 1}\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stdout.contains("simulated run"), "nothing runs: {stdout}");
    assert!(
        stderr.contains("error[compare-unknown-key]: unknown key `topolgy` in a side"),
        "{stderr}"
    );
    assert!(stderr.contains("--> sides/keys.yaml:2:56"), "{stderr}");
    assert!(stderr.contains("did you mean `topology`?"), "{stderr}");
    // A side's own params were accepted and never applied: the hint says where they go.
    assert!(
        stderr.contains("error[compare-unknown-key]: unknown key `params` in a side"),
        "{stderr}"
    );
    assert!(stderr.contains("--> sides/keys.yaml:5:5"), "{stderr}");
    assert!(stderr.contains("give them once, at the top level of this file"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_repeated_or_empty_name_is_refused_wherever_it_is_given() {
    let dir = project("names");
    let (code, _, stderr) = with_sides(
        &dir,
        "names",
        "designs:\n\
         \x20 - {name: a, topology: ../topologies/lru-broker.yaml}\n\
         \x20 - {name: a, topology: ../topologies/queue.yaml}\n\
         \x20 - {name: \"\", topology: ../topologies/queue.yaml}\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the name `a` already names an earlier side (line 2)"), "{stderr}");
    assert!(stderr.contains("--> sides/names.yaml:3:12"), "{stderr}");
    assert!(stderr.contains("a side's `name` is empty"), "{stderr}");
    assert!(stderr.contains("--> sides/names.yaml:4:12"), "{stderr}");

    let (code, stdout, stderr) = compare(
        &dir,
        &["--design", "mine=topologies/lru-broker.yaml", "--design", "mine=topologies/queue.yaml"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stdout.contains("simulated run"), "nothing runs: {stdout}");
    assert!(
        stderr.contains(
            "--design mine=topologies/lru-broker.yaml and --design mine=topologies/queue.yaml \
             give the name `mine` twice"
        ),
        "{stderr}"
    );

    let (code, _, stderr) = compare(&dir, &["--designs", "lru-broker,lru-broker"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--designs names `lru-broker` twice"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_topology_is_named_where_the_user_wrote_it() {
    let dir = project("missing");
    // Typed in a subfolder: the path is relative to it, and the error says so.
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["compare", "../scenarios/lru-worker-crash.yaml", "--seeds", "1"])
        .args(["--design", "mine=missing.yaml"])
        .current_dir(dir.join("sub"))
        .output()
        .expect("the xtask binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--design mine=missing.yaml: the topology file cannot be read"),
        "{stderr}"
    );
    assert!(stderr.contains("relative to the folder the command was typed in"), "{stderr}");
    assert!(!stderr.contains("lru-worker-crash.yaml:"), "not at the scenario's line: {stderr}");
    assert!(!stderr.contains("relative to this scenario file"), "{stderr}");

    let (code, _, stderr) =
        with_sides(&dir, "missing", "designs:\n  - {name: a, topology: nope.yaml}\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("error[missing-file]: the topology file `sides/nope.yaml` cannot be read"),
        "{stderr}"
    );
    assert!(stderr.contains("--> sides/missing.yaml:2:25"), "{stderr}");
    assert!(stderr.contains("the path is relative to this compare file, in `sides`"), "{stderr}");
    assert!(!stderr.contains("lru-worker-crash.yaml:"), "not at the scenario's line: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_parameter_a_topology_refuses_says_which_compare_file_gave_it() {
    let dir = project("params");
    let (code, _, stderr) = with_sides(
        &dir,
        "zero",
        "designs:\n  - {name: a, topology: ../topologies/lru-broker.yaml}\n\
         params: {clients: 0, workers: 3}\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    // Reported in the topology, where `$clients` is used, and traced back to the file.
    assert!(stderr.contains("`count` must be at least 1, found 0"), "{stderr}");
    assert!(stderr.contains("while putting `a`"), "{stderr}");
    assert!(
        stderr.contains(
            "`params:` set to {clients: 0, workers: 3} by the compare file's `params:` at \
             sides/zero.yaml:3:9"
        ),
        "{stderr}"
    );
    // Without `params`, every side gets the defaults, and nothing is traced to the file.
    let (code, _, stderr) = with_sides(
        &dir,
        "defaults",
        "designs:\n  - {name: a, topology: ../scenarios/lru-worker-crash.yaml}\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`params:` set to {clients: 4, workers: 3}, comments"), "{stderr}");
    let (code, _, stderr) = with_sides(
        &dir,
        "scalar",
        "designs:\n  - {name: a, topology: ../topologies/lru-broker.yaml}\nparams: 3\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`params` is a mapping of the topologies' parameters"), "{stderr}");
    assert!(stderr.contains("--> sides/scalar.yaml:3:9"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A parameter no side's topology declares is the compare file's mistake: it is told
/// at that file's line, not in the scenario as rewritten for the side, whose lines are
/// in no file the user has (a new user's report: "window-steady.yaml:18:3" in a file of
/// 16 lines).
#[test]
fn a_misspelt_parameter_is_told_at_the_compare_files_line() {
    let dir = project("misspelt");
    let (code, _, stderr) = with_sides(
        &dir,
        "typo",
        "designs:\n  - {name: a, topology: ../topologies/lru-broker.yaml}\n\
         params: {clients: 2, wrokers: 3}\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the topology has no parameter `wrokers`"), "{stderr}");
    assert!(stderr.contains("--> sides/typo.yaml:3:22"), "{stderr}");
    assert!(stderr.contains("did you mean `workers`?"), "{stderr}");
    assert!(!stderr.contains("--> scenarios/lru-worker-crash.yaml"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn real_runs_too_long_for_the_time_scale_are_refused_before_any_run() {
    let dir = project("real");
    // lru-worker-crash lasts 50 s: at 100 times, 5,000 s of real time, past the 600 s
    // a real run may take. `real` refuses it with exit 2; so does `compare --real`,
    // before the simulated runs (it once ran them and then exited 1, "internal error").
    let (code, stdout, stderr) =
        compare(&dir, &["--designs", "lru-broker", "--real", "--time-scale", "100"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(!stdout.contains("simulated run"), "nothing runs: {stdout}");
    assert!(stderr.contains("lru-broker: cannot run on the real network: needs"), "{stderr}");
    assert!(stderr.contains("a smaller --time-scale shortens it"), "{stderr}");
    assert!(stderr.contains("drop --real to compare them in simulation only"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
