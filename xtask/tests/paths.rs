//! Paths named on the command line: the folder a command runs in, named as a file, is
//! refused as a directory (it was once the empty path, "cannot read ``"), and `graph`
//! refuses two topologies whose drawings would have the same name, where the second
//! silently replaced the first.

use std::path::PathBuf;

mod common;

use common::{PAIR_TOPOLOGY as TOPOLOGY, xtask_in as xtask};

/// A fresh temporary folder for the test `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patchbay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

#[test]
fn the_folder_a_command_runs_in_named_as_a_file_is_refused_as_a_directory() {
    let dir = scratch("dot");
    for args in [["sim", "."], ["check", "."]] {
        let out = xtask(&dir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error[not-a-file]: `.` is a directory, not a regular file"),
            "{args:?}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn graph_refuses_two_topologies_whose_drawings_share_a_name() {
    let dir = scratch("graph");
    for file in ["one/pair.yaml", "two/pair.yaml", "two/other.yaml"] {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::write(dir.join(file), TOPOLOGY).expect("write a topology");
    }
    let out = xtask(&dir, &["graph", "one/pair.yaml", "two/pair.yaml", "--out", "drawn"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("one/pair.yaml and two/pair.yaml would both be drawn as pair.dot"),
        "{stderr}"
    );
    assert!(!dir.join("drawn").exists(), "nothing is drawn when one would be lost");
    // Different names are drawn side by side.
    let out = xtask(&dir, &["graph", "one/pair.yaml", "two/other.yaml", "--out", "drawn"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for drawn in ["pair.dot", "pair.svg", "other.dot", "other.svg"] {
        let text = std::fs::read_to_string(dir.join("drawn").join(drawn)).expect(drawn);
        assert!(text.contains("pair"), "{drawn} draws the topology named `pair`");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_command_typed_below_the_root_says_where_its_paths_are_from() {
    let dir = scratch("below");
    std::fs::create_dir_all(dir.join("topologies")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(dir.join("topologies/pair.yaml"), TOPOLOGY).unwrap();
    let scenario = "name: step\ntopology: ../topologies/pair.yaml\nduration: 1s\nseeds: 1\n\
        invariants: [per_pipe_order]\nexpect: pass\n";
    std::fs::write(dir.join("scenarios/step.yaml"), scenario).unwrap();
    let out = xtask(&dir.join("scenarios"), &["sim", "step.yaml"]);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("wrote reports/sim/"), "the report's path is the root's: {stdout}");
    let root = dir.canonicalize().unwrap();
    let note = format!("note: paths are shown from the project root, {}", root.display());
    assert!(stderr.contains(&note) && stderr.contains("(cd ..)"), "{stderr}");
    // At the root itself there is nothing to say.
    let out = xtask(&dir, &["sim", "scenarios/step.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("note: paths"));
    let _ = std::fs::remove_dir_all(&dir);
}
