//! `cargo xtask bench FILTER` with a filter that is not a regular expression: it
//! built the benchmarks first (minutes) and only then failed inside criterion. The
//! filter is checked first: a usage error (exit 2) with the regex's own message,
//! before cargo is started.

use std::process::Command;

mod common;

use common::TempDir;

#[test]
fn a_filter_that_is_not_a_regular_expression_is_refused_before_anything_builds() {
    let dir = TempDir::new("bench-filter");
    // Were cargo started, it would be this program, which does not exist: the run
    // would end in an internal error ("running cargo bench"), exit 1, not a usage error.
    let cargo = dir.0.join("no-such-cargo");
    for filter in ["(", "push_pull[", "req_rep/(patchbay"] {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["bench", "--quick", filter])
            .env("CARGO", &cargo)
            .current_dir(&dir.0)
            .output()
            .expect("the xtask binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{filter}: {stderr}");
        assert!(!stderr.contains("running cargo bench"), "{filter}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{filter}' for '[FILTER]'"))
                && stderr.contains("not a regular expression")
                && stderr.contains("regex parse error"),
            "{filter}: {stderr}"
        );
        assert!(stderr.contains("hint: a filter is a regular expression over"), "{stderr}");
    }
}
