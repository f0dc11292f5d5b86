//! A scenario the simulator cannot run, named on `sim`'s command line, is refused
//! with its reason and the command that runs it, not a bare "cannot run"; a topology
//! named where a scenario belongs is refused as one, with the scenarios that run it.

use std::path::PathBuf;
use std::process::Command;

/// Runs `cargo xtask sim FILE` from the workspace root: its exit code and stderr.
fn sim(file: &str) -> (Option<i32>, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sim", file])
        .current_dir(root)
        .output()
        .expect("the xtask binary runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn naming_an_outside_program_s_scenario_to_sim_says_why_and_what_runs_it() {
    let (code, stderr) = sim("scenarios/external/lru-nng-worker-kill.yaml");
    assert_eq!(code, Some(2), "{stderr}");
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

#[test]
fn naming_a_topology_to_sim_says_it_is_one_and_which_scenarios_run_it() {
    let (code, stderr) = sim("topologies/lru-broker.yaml");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("error[not-a-scenario]: this file is a topology, not a scenario")
            && stderr.contains("--> topologies/lru-broker.yaml:15:1"),
        "{stderr}"
    );
    // One error, not the scenario schema's list of unknown fields.
    assert_eq!(stderr.matches("error[").count(), 1, "{stderr}");
    let listed = stderr
        .lines()
        .find_map(|l| l.strip_prefix("scenarios that run topologies/lru-broker.yaml: "))
        .unwrap_or_else(|| panic!("no list of scenarios: {stderr}"));
    let listed: Vec<&str> = listed.split(", ").collect();
    assert!(listed.contains(&"scenarios/lru-worker-crash.yaml"), "{listed:?}");
    assert!(!listed.iter().any(|s| s.contains("queue")), "only the ones naming it: {listed:?}");
}
