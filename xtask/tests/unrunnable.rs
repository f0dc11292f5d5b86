//! A scenario the simulator cannot run, named on `sim`'s command line, is refused
//! with its reason and the command that runs it, not a bare "cannot run".

use std::path::PathBuf;
use std::process::Command;

#[test]
fn naming_an_outside_program_s_scenario_to_sim_says_why_and_what_runs_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sim", "scenarios/external/lru-nng-worker-kill.yaml"])
        .current_dir(root)
        .output()
        .expect("the xtask binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lru-nng-worker-kill: cannot run: real-only: node `broker`"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("run it with `cargo xtask real scenarios/external/lru-nng-worker-kill.yaml`"),
        "{stderr}"
    );
}
