//! Where `real` keeps the external programs' output (the real-run probe's F11, F12,
//! F15 and F13's litter): beside the report, in a folder of patchbay's own that
//! never takes over one the user made; one folder per run, even for two scenarios of
//! one name; one safe name whatever the scenario's name spells (`../..`); nothing
//! written over; a run again with the same `--json` replacing what the run before
//! kept, not mixing with it; and nothing left in the temporary folder.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use common::TempDir;

/// A topology whose `server` runs `sh`, printing `ready from WHO` and waiting, beside
/// a patchbay client; and a scenario of it named `name`, in `file`.
fn scenario(dir: &Path, file: &str, name: &str, who: &str) {
    let topology = format!(
        "name: t{who}\nlibrary: nng\nnodes:\n\
         \x20 - name: server\n    process:\n      command: [sh, -c, 'echo ready from {who}; exec sleep 600']\n      ready: {{line: ready}}\n    sockets:\n\
         \x20     - {{name: rep, type: REP, bind: true}}\n\
         \x20 - name: client\n    design: client\n    sockets:\n\
         \x20     - {{name: req, type: REQ, connect: server.rep}}\n"
    );
    let scenario = format!(
        "name: '{name}'\ntopology: t{who}.yaml\nduration: 1s\nliveness: 1s\n\
         workload: {{client: {{requests: 1}}}}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n"
    );
    std::fs::write(dir.join(format!("t{who}.yaml")), topology).expect("the topology");
    std::fs::write(dir.join(file), scenario).expect("the scenario");
}

/// Runs `real FILES... --json out/r.json` in `dir`; its standard output, and the
/// temporary folders for program output its process left.
fn real(dir: &Path, files: &[&str]) -> (String, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("real")
        .args(files)
        .args(["--json", "out/r.json"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|child| {
            let pid = child.id();
            child.wait_with_output().map(|o| (o, pid))
        });
    let (out, pid) = out.expect("the xtask binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let prefix = format!("patchbay-output-{pid}-");
    let entries = std::fs::read_dir(std::env::temp_dir()).expect("the temporary folder");
    let left = (entries.filter_map(|e| e.ok()?.file_name().into_string().ok()))
        .filter(|n| n.starts_with(&prefix))
        .collect();
    (stdout, left)
}

/// The report's links to program output, as `(label, href)`.
fn links(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("out/r.json")).expect("the report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let files = report["files"].as_array().expect("links to the programs' output");
    (files.iter())
        .map(|f| (f["label"].as_str().unwrap().to_owned(), f["href"].as_str().unwrap().to_owned()))
        .collect()
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("a folder").map(|e| e.expect("an entry")) {
            if e.file_type().expect("its type").is_dir() {
                todo.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).expect("under").display().to_string();
                found.insert(rel);
            }
        }
    }
    found
}

#[test]
fn each_run_keeps_its_programs_output_in_a_folder_of_its_own_beside_the_report() {
    let dir = TempDir::new("program-output-folders");
    let d = &dir.0;
    scenario(d, "a.yaml", "same", "A");
    scenario(d, "b.yaml", "same", "B");
    scenario(d, "up.yaml", "../../up", "A");
    // The user's own folder where the output would go, with a file where the first
    // run's output would be.
    let user = d.join("out/r-files");
    std::fs::create_dir_all(user.join("same-seed1")).expect("the user's folder");
    std::fs::write(user.join("same-seed1/server.0.0.out"), "mine").expect("the user's file");

    let (stdout, left) = real(d, &["a.yaml", "b.yaml", "up.yaml"]);
    assert_eq!(left, Vec::<String>::new(), "temporary folders left");
    assert_eq!(
        std::fs::read_to_string(user.join("same-seed1/server.0.0.out")).expect("still there"),
        "mine",
        "the user's file is left alone"
    );
    assert_eq!(files_under(&user), BTreeSet::from(["same-seed1/server.0.0.out".to_owned()]));
    let said = format!("programs' output: {}", d.join("out/r-files-2").display());
    assert!(stdout.lines().any(|l| l == said), "{stdout}");
    // Nothing went up the tree: `out/r-files/../../up-seed1` is the test's folder.
    assert!(!d.join("up-seed1").exists() && !d.join("out/up-seed1").exists());
    let links = links(d);
    let outs: Vec<(String, String)> = (links.iter())
        .filter(|(_, href)| href.ends_with(".out"))
        .map(|(label, href)| {
            let text = std::fs::read_to_string(d.join("out").join(href)).expect("linked file");
            (label.clone(), format!("{href}: {}", text.trim()))
        })
        .collect();
    assert_eq!(
        outs,
        [
            (
                "same seed 1: server.0.0.out".into(),
                "r-files-2/same-seed1/server.0.0.out: ready from A".into()
            ),
            (
                "same seed 1 (same-seed1-2): server.0.0.out".into(),
                "r-files-2/same-seed1-2/server.0.0.out: ready from B".into()
            ),
            (
                "../../up seed 1: server.0.0.out".into(),
                "r-files-2/_.._.._up-seed1/server.0.0.out: ready from A".into()
            ),
        ]
    );
    let hrefs: BTreeSet<&String> = links.iter().map(|(_, h)| h).collect();
    assert_eq!(hrefs.len(), links.len(), "one file a link: {links:?}");

    // Again with the same `--json`: the folder patchbay made is replaced, not mixed.
    let (_, left) = real(d, &["b.yaml"]);
    assert_eq!(left, Vec::<String>::new(), "temporary folders left");
    let kept = files_under(&d.join("out/r-files-2"));
    let expected = [".patchbay-files", "same-seed1/server.0.0.err", "same-seed1/server.0.0.out"];
    assert_eq!(kept, expected.map(String::from).into(), "only the last run's");
    let b = std::fs::read_to_string(d.join("out/r-files-2/same-seed1/server.0.0.out"));
    assert_eq!(b.expect("kept").trim(), "ready from B");
    assert_eq!(files_under(&user).len(), 1, "the user's folder is still left alone");
}

#[test]
fn a_program_that_cannot_start_leaves_nothing_in_the_temporary_folder() {
    let dir = TempDir::new("program-output-unstarted");
    let d = &dir.0;
    scenario(d, "s.yaml", "unstarted", "A");
    let topology = std::fs::read_to_string(d.join("tA.yaml")).expect("the topology");
    let missing = topology.replace("[sh, -c, 'echo ready from A; exec sleep 600']", "[./absent]");
    std::fs::write(d.join("tA.yaml"), missing).expect("the topology");
    let child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["real", "s.yaml", "--json", "out/r.json"])
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xtask binary runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("it ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "could not run: {stdout}");
    assert!(stdout.contains("cannot start") && stdout.contains("./absent"), "{stdout}");
    let prefix = format!("patchbay-output-{pid}-");
    let entries = std::fs::read_dir(std::env::temp_dir()).expect("the temporary folder");
    let left: Vec<String> = (entries.filter_map(|e| e.ok()?.file_name().into_string().ok()))
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "an empty folder (or an empty `.err`) left");
}
