//! A `process:` node whose program dies before it is ready, run by `cargo xtask real`
//! from the folder holding its files: the program starts there (a topology named
//! without a folder once gave it the empty path to start in), and the error names
//! its errors file where the run kept it, beside the report, not where the run left
//! it before moving it.

use std::process::Command;

mod common;

#[test]
fn a_dying_program_s_error_names_its_kept_errors_file() {
    let dir = std::env::temp_dir().join(format!("patchbay-program-output-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let topology = "name: dies\nlibrary: nng\nnodes:\n\
        \x20 - name: client\n    design: client\n    sockets:\n\
        \x20     - {name: req, type: REQ, connect: broker.frontend}\n\
        \x20 - name: broker\n    process:\n\
        \x20     command: [python3, -c, \"import sys; print('no broker today', file=sys.stderr); sys.exit(1)\"]\n\
        \x20     ready: {port: frontend}\n    sockets:\n\
        \x20     - {name: frontend, type: REP, bind: true}\n";
    let scenario = "topology: t.yaml\nduration: 1s\nliveness: 1s\n\
        workload:\n  client: {requests: 1}\ninvariants: [no_lost_replies]\nexpect: pass\n";
    std::fs::write(dir.join("t.yaml"), topology).expect("write the topology");
    std::fs::write(dir.join("s.yaml"), scenario).expect("write the scenario");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["real", "s.yaml", "--json", "out/r.json"])
        .current_dir(&dir)
        .output()
        .expect("the xtask binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "a run that could not run: {stdout}");
    // A run that never started has no endpoints to show (an audit found a table of
    // sockets never bound printed before the error).
    assert!(!stdout.contains("endpoints of s seed 1"), "{stdout}");
    let kept = dir.join("out/r-files/s-seed1/broker.0.0.err");
    let line = stdout.lines().find(|l| l.starts_with("ERROR s seed 1: ")).unwrap_or_default();
    assert!(
        line.contains("the program exited (exit status: 1) before it was ready")
            && line.ends_with(&format!("its errors: {}", kept.display())),
        "{stdout}"
    );
    let errors = std::fs::read_to_string(&kept).expect("the errors file is where it says");
    assert_eq!(errors.trim(), "no broker today");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The saved report's `error` of a run whose program was never ready named the
/// output file in the run's temporary folder, which the command had emptied by
/// moving the file beside the report; the printed line named the kept file. Both
/// name the kept one now, and it is there, holding what the program printed.
#[test]
fn a_never_ready_program_s_error_in_the_saved_report_names_its_kept_output_file() {
    let dir = common::TempDir::new("program-output-saved");
    let topology = "name: never\nlibrary: nng\nnodes:\n\
        \x20 - name: client\n    design: client\n    sockets:\n\
        \x20     - {name: req, type: REQ, connect: broker.frontend}\n\
        \x20 - name: broker\n    process:\n\
        \x20     command: [sh, -c, \"echo still starting; exec sleep 30\"]\n\
        \x20     ready: {line: READY, timeout: 1s}\n    sockets:\n\
        \x20     - {name: frontend, type: REP, bind: true}\n";
    let scenario = "topology: t.yaml\nduration: 1s\nliveness: 1s\n\
        workload:\n  client: {requests: 1}\ninvariants: [no_lost_replies]\nexpect: pass\n";
    std::fs::write(dir.0.join("t.yaml"), topology).expect("write the topology");
    std::fs::write(dir.0.join("s.yaml"), scenario).expect("write the scenario");
    let out = common::xtask_in(&dir.0, &["real", "s.yaml", "--json", "out/r.json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "a run that could not run: {stdout}");
    assert!(!stdout.contains("endpoints of s seed 1"), "{stdout}");
    let kept = dir.0.join("out/r-files/s-seed1/broker.0.0.out");
    let json = std::fs::read_to_string(dir.0.join("out/r.json")).expect("the saved report");
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let error = json["runs"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("did not print a line containing `READY` within 1s")
            && error.ends_with(&format!("its output: {}", kept.display())),
        "{error}"
    );
    let printed = stdout.lines().find_map(|l| l.strip_prefix("ERROR s seed 1: "));
    assert_eq!(printed, Some(error), "{stdout}");
    let output = std::fs::read_to_string(&kept).expect("the output file is where it says");
    assert_eq!(output, "still starting\n");
}
