//! What `explore` prints it will vary: `--faults-only` holds the duration as written,
//! so the search must not say it shortens it (an audit saw "duration down to a
//! quarter" above a shrink reporting `10000 ms (was 10000 ms)`).

mod common;

use common::{TempDir, root, xtask_in};

/// The `explore` of `scenarios/pair-relay.yaml` with `more`, writing under a folder
/// `name`: exit code and stdout.
fn explore(name: &str, more: &[&str]) -> (Option<i32>, String) {
    let dir = TempDir::new(name);
    let out = dir.at("ex");
    let args = ["explore", "scenarios/pair-relay.yaml", "--cases", "1", "--jobs", "1"];
    let ran = xtask_in(&root(), &[&args[..], more, &["--out", &out]].concat());
    (ran.status.code(), String::from_utf8_lossy(&ran.stdout).into_owned())
}

#[test]
fn faults_only_says_the_duration_is_held_as_written() {
    let (code, stdout) = explore("explore-space-faults-only", &["--faults-only"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(!stdout.contains("down to a quarter"), "{stdout}");
    assert!(
        stdout.contains(
            "  held as written (--faults-only): counts, sizes, socket options and the \
             duration (2000 ms)"
        ),
        "{stdout}"
    );
}

#[test]
fn without_faults_only_the_duration_may_shrink_to_a_quarter() {
    let (code, stdout) = explore("explore-space-all", &[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("; duration from 2000 ms down to a quarter"), "{stdout}");
}
