//! The line a sweep starts with says how many runs go side by side: `--jobs`, or the
//! machine's cores, but never more than there are runs. `--jobs 100000` over 4 runs
//! said "100000 at a time", and one run on two cores "2 at a time".

mod common;

use common::{PAIR_TOPOLOGY as TOPOLOGY, TempDir, xtask_in as xtask};

const SCENARIO: &str = "topology: t.yaml\nduration: 1s\nliveness: 1s\nseeds: 4\n\
    workload:\n  a: {start_at: 0s}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";

#[test]
fn sim_says_no_more_runs_at_a_time_than_there_are_runs() {
    let dir = TempDir::new("runs-at-a-time");
    std::fs::write(dir.0.join("t.yaml"), TOPOLOGY).expect("write the topology");
    std::fs::write(dir.0.join("s.yaml"), SCENARIO).expect("write a scenario");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--seeds", "4", "--jobs", "100000"],
            "running 4 simulation(s) of 1 scenario(s), 4 at a time",
        ),
        (&["--seeds", "4", "--jobs", "3"], "running 4 simulation(s) of 1 scenario(s), 3 at a time"),
        // The machine's cores by default; one run is one at a time however many.
        (&["--seed", "1"], "running 1 simulation(s) of 1 scenario(s), 1 at a time"),
    ];
    for (more, line) in cases {
        let mut args = vec!["sim", "s.yaml", "--json", "r.json"];
        args.extend(more);
        let out = xtask(&dir.0, &args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}{stderr}");
        assert!(stdout.lines().any(|l| l == line), "{args:?}: wanted `{line}` in:\n{stdout}");
    }
}
