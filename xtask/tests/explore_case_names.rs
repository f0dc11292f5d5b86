//! `explore` names the case it found as the regression file and the testing API do,
//! `seed=S case=N` with `case=` counting from 0, beside how many cases it took: the
//! terminal once said `case 28 failed` of the case a test called `seed=1 case=27`.
//! The name it prints, pasted into a regression file, replays that very case.

mod common;

use patchbay::explore::CaseRef;
use patchbay::testing::{Scenario, Step};

use common::{TempDir, root, xtask_in as xtask};

#[test]
fn the_case_explore_prints_is_the_one_a_regression_file_replays() {
    let dir = TempDir::new("explore-case-names");
    let scenario = "scenarios/broken/lossy-worker.yaml";
    let args = ["explore", scenario, "--cases", "4", "--jobs", "1", "--out", &dir.at("cases")];
    let out = xtask(&root(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "a case was found: {stdout}");
    let line = stdout.lines().find(|l| l.starts_with("`seed=1 case=")).unwrap_or_else(|| {
        panic!("no line names the case:\n{stdout}");
    });
    // "`seed=1 case=N` failed no_lost_replies after N+1 case(s) in …"
    let (name, rest) = line[1..].split_once('`').expect("the case in backquotes");
    let index: u64 = name["seed=1 case=".len()..].parse().expect("a case index");
    let after = format!(" failed no_lost_replies after {} case(s) in ", index + 1);
    assert!(rest.starts_with(&after), "{line}");
    let case = std::fs::read_to_string(dir.0.join("cases/lossy-worker-1.yaml")).expect("written");
    let header = format!("(`{name}`, found after {} case(s))", index + 1);
    assert!(case.lines().nth(1).is_some_and(|l| l.contains(&header)), "{case}");

    // Pasted into a regression file, the name replays the case, which fails again.
    let kept = dir.0.join("lossy-worker.explore-regressions");
    std::fs::write(&kept, format!("{name}\n")).expect("written");
    let replayed = Scenario::load(root().join(scenario))
        .jobs(1)
        .explore()
        .out_dir(&dir.0)
        .run()
        .expect("explores");
    let drawn = CaseRef { seed: 1, case: index };
    assert_eq!(replayed.steps, [Step::Replayed { drawn, failed: true }]);
    let message = replayed.failure_message().expect("it failed");
    assert!(message.contains(&format!("replaying `{name}` from")), "{message}");
}
