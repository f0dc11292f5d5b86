//! `--trace` prints every event of one run. Given a sweep (no `--seed`, or several
//! scenarios) it printed the trace of every run, possibly thousands; it is refused
//! before anything runs, with the command that picks one run.

mod common;

use common::{PAIR_TOPOLOGY as TOPOLOGY, TempDir, root, xtask_in as xtask};

/// A scenario over [`TOPOLOGY`] with these `seeds`.
fn scenario(seeds: &str) -> String {
    format!(
        "topology: t.yaml\nduration: 1s\nliveness: 1s\nseeds: {seeds}\n\
         workload:\n  a: {{start_at: 0s}}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n"
    )
}

fn project(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::write(dir.0.join("t.yaml"), TOPOLOGY).expect("write the topology");
    std::fs::write(dir.0.join("three.yaml"), scenario("3")).expect("write a scenario");
    std::fs::write(dir.0.join("one.yaml"), scenario("[5]")).expect("write a scenario");
    dir
}

#[test]
fn trace_over_more_than_one_run_is_refused_with_the_command_for_one() {
    let dir = project("trace-sweep");
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["sim", "three.yaml", "--trace"],
            "3 runs",
            "cargo xtask sim three.yaml --seed 1 --trace",
        ),
        (
            &["sim", "one.yaml", "three.yaml", "--trace", "--seed", "2"],
            "2 runs",
            "--seed 2 --trace",
        ),
        (&["sim", "one.yaml", "--seeds", "2", "--trace"], "2 runs", "one.yaml --seed 1 --trace"),
        // `real` runs one seed a scenario by default: two scenarios are two runs.
        (
            &["real", "one.yaml", "three.yaml", "--trace"],
            "2 runs",
            "cargo xtask real one.yaml --seed 5 --trace",
        ),
    ];
    for (args, runs, hint) in cases {
        let out = xtask(&dir.0, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        let says = format!("--trace prints every event of one run, and this selection is {runs}");
        assert!(stderr.contains(&says), "{args:?}: {stderr}");
        assert!(stderr.contains("hint: pick one run, e.g. `"), "{args:?}: {stderr}");
        assert!(stderr.contains(hint), "{args:?}: {stderr}");
        assert!(!stdout.contains("running"), "{args:?}: nothing ran: {stdout}");
        assert!(!dir.0.join("reports").exists(), "{args:?}: no report written");
    }
}

#[test]
fn trace_of_one_run_prints_that_run() {
    let dir = project("trace-one");
    for (args, which) in [
        (&["sim", "three.yaml", "--seed", "2", "--trace", "--json", "r.json"][..], "seed 2"),
        // A scenario of one seed is one run without `--seed`.
        (&["sim", "one.yaml", "--trace", "--json", "r.json"], "seed 5"),
    ] {
        let out = xtask(&dir.0, args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}");
        assert_eq!(stdout.matches("\ntrace of ").count(), 1, "{args:?}: {stdout}");
        assert!(
            stdout.contains(&format!("trace of {} {which} (", &args[1][..args[1].len() - 5])),
            "{stdout}"
        );
        assert!(stdout.contains("a.0.next send a.0#0"), "{args:?}: {stdout}");
    }
}

/// A refused `--trace` prints the refusal and nothing else: the line saying that
/// some scenarios run deliberately broken designs was printed above it, as if the
/// sweep had started (`sim --trace` over the shipped scenarios).
#[test]
fn a_refused_trace_prints_nothing_but_the_refusal() {
    for args in [&["sim", "--trace"][..], &["sim", "scenarios/broken/lossy-worker.yaml", "--trace"]]
    {
        let out = xtask(&root(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains("--trace prints every event of one run"), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}: only the refusal is printed");
    }
}
