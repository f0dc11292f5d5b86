//! `cargo xtask real` under a lowered descriptor limit: the run could not run, says
//! why and what to raise the limit to, and exits non-zero, instead of reporting the
//! machine's limit as a timing difference (issue 17; docs/limits.md).
//!
//! The binary runs as a child under `sh -c 'ulimit -n N'`, which lowers the soft
//! and hard limits together, so patchbay cannot raise its way out.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Runs `xtask real FILE` with the descriptor limit at `limit`, returning the exit
/// code and everything it printed.
fn real_under_limit(limit: u32, file: &str, more: &str) -> (Option<i32>, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" real \"$1\" {more}"))
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .arg(root().join(file))
        .current_dir(root())
        .output()
        .expect("run sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// comet-logins has 2,002 replicas on 2,001 links: 64 + 2 listeners + 5 × 2,001
/// descriptors. Under 1,024 it used to start, pin at the limit and report "never
/// routed" as a real-timing difference with exit 0.
#[test]
fn a_real_run_under_1024_descriptors_could_not_run_with_the_limit_to_set() {
    let (code, text) = real_under_limit(1024, "scenarios/comet-logins.yaml", "");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(
            "comet-logins: needs 10071 file descriptors at once and the limit is 1024: \
             EMFILE: raise ulimit -n to 10071"
        ),
        "{text}"
    );
    assert!(text.contains("cannot run on the real network"), "{text}");
}

/// Each run fits under 800 descriptors (571) but two side by side do not: the runs
/// meet EMFILE while running, and each that does could not run, with the reason and
/// the limit to set, and the command fails. Before, such runs reported "never routed"
/// as a real-timing difference and exited 0.
#[test]
fn real_runs_that_meet_emfile_while_running_could_not_run() {
    let report = std::env::temp_dir().join(format!("patchbay-emfile-{}.json", std::process::id()));
    let more = format!("--seeds 2 --jobs 2 --json {}", report.display());
    let (code, text) = real_under_limit(800, "xtask/tests/data/comet-100-real.yaml", &more);
    assert_eq!(code, Some(2), "a run that could not run: {text}");
    let failed: Vec<&str> =
        text.lines().filter(|l| l.starts_with("ERROR comet-100-real")).collect();
    assert!(!failed.is_empty(), "{text}");
    for line in &failed {
        assert!(line.contains("cannot run: ran out of file descriptors ("), "{line}");
        assert!(line.contains("EMFILE: raise ulimit -n to at least 571 per run at once"), "{line}");
    }
    assert!(!text.contains(" dif "), "no run reported as a timing difference: {text}");
    let _ = std::fs::remove_file(&report);
    let _ = std::fs::remove_file(report.with_extension("html"));
}
