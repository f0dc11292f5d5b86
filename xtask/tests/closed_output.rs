//! A command whose output nobody reads any more (`cargo xtask sim | head -1`) or
//! cannot be written (`>/dev/full`) still finishes its work: it once panicked at its
//! first line ("failed printing to stdout: Broken pipe") and never wrote the sweep's
//! report.

use std::path::PathBuf;
use std::process::Command;

/// A fresh temporary project holding the shipped pair relay.
fn project() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patchbay-closed-output-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for (folder, file) in [("scenarios", "pair-relay.yaml"), ("topologies", "pair-relay.yaml")] {
        std::fs::create_dir_all(dir.join(folder)).expect("a temporary folder");
        std::fs::copy(root.join(folder).join(file), dir.join(folder).join(file))
            .expect("copy a shipped file");
    }
    dir
}

/// A pipe whose reading end is already closed: every write to it fails.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

#[test]
fn a_sweep_whose_output_nobody_reads_still_writes_its_report_and_exits_as_it_would() {
    let dir = project();
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sim", "scenarios/pair-relay.yaml", "--seed", "1", "--json", "out.json"])
        .current_dir(&dir)
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .expect("the xtask binary runs");
    assert_eq!(status.code(), Some(0), "a passing sweep exits 0 with nowhere to print");
    let report = std::fs::read_to_string(dir.join("out.json")).expect("the report was written");
    assert!(report.contains("\"pair-relay\""), "the report holds the run: {report:.200}");
    assert!(dir.join("out.html").exists(), "and its page");

    // A wrong input still exits 2, its diagnostic lost with stderr, not a panic's 101.
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["check", "scenarios/missing.yaml"])
        .current_dir(&dir)
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .expect("the xtask binary runs");
    assert_eq!(status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
