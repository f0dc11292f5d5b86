//! `check --list`: every design and invariant the tool knows, each with its summary
//! and parameters, printed without a project (nothing is read); and refused beside
//! files, which it would not check.

mod common;

use common::{TempDir, root, xtask_in as xtask};

#[test]
fn the_list_shows_each_design_and_invariant_with_its_summary_and_parameters() {
    // Outside any project: the list reads no file.
    let dir = TempDir::new("check-list");
    let out = xtask(&dir.0, &["check", "--list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let line = |start: &str| {
        let found = stdout.lines().find(|l| l.trim_start().starts_with(start));
        found.unwrap_or_else(|| panic!("no line starts with {start:?} in:\n{stdout}")).to_owned()
    };
    let words = |l: String| l.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(stdout.starts_with("32 designs ("), "{stdout}");
    assert_eq!(
        words(line("queue-device ")),
        "queue-device The QUEUE device: a ROUTER frontend and a DEALER backend, messages \
         copied both ways."
    );
    assert_eq!(
        words(line("subscribers ")),
        "subscribers count required how many subscribers to wait for"
    );
    assert!(stdout.contains("\n14 invariants ("), "{stdout}");
    assert_eq!(
        words(line("no_lost_replies ")),
        "no_lost_replies every request gets exactly one reply by the end of the liveness phase"
    );
    // A default that is a value, and one the checker works out.
    let bounds: Vec<String> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("bound "))
        .map(str::to_owned)
        .collect();
    let bounds: Vec<String> = bounds.into_iter().map(words).collect();
    assert_eq!(
        bounds,
        [
            "bound duration default 1s how long a unit of work may take once faults have healed",
            "bound duration default: the scenario's `liveness` how long a unit of work may take \
             once faults have healed",
        ]
    );
    // Aligned: every parameter's doc starts in the same column.
    let doc_at = |l: String, doc: &str| l.find(doc).expect("the doc");
    assert_eq!(
        doc_at(line("subscribers "), "how many"),
        doc_at(line("tolerance "), "slack allowed"),
        "{stdout}"
    );
}

#[test]
fn the_list_beside_files_is_a_usage_error() {
    let out = xtask(&root(), &["check", "--list", "scenarios/rrbroker-steady.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: --list lists the designs and invariants files may name, and checks no file"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("`cargo xtask check FILE...` to check files"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "nothing was checked");
}
