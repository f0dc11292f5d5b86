//! The testing API (`patchbay::testing`) as a user's `cargo test` meets it: a sweep
//! asserted as expected, or failing with the verdict table, the first failure and its
//! repro; an exploration that fails on a broken design, writes the shrunk case beside
//! the scenario without replacing one, keeps the case's seed in a regression file and
//! replays it first next time; and one that passes on a sound design, writing nothing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use patchbay::explore::CaseRef;
use patchbay::invariant::{Invariant, Outcome};
use patchbay::registry::Registry;
use patchbay::testing::{Scenario, Step};

use crate::util::{TempDir, root};

/// Copies a shipped scenario into `dir` as `name`, its topology named by absolute path
/// and `edit` applied to its text, as a user's own scenario would sit in their folder.
fn user_scenario(
    dir: &Path,
    shipped: &str,
    name: &str,
    edit: impl Fn(String) -> String,
) -> PathBuf {
    let from = root().join(shipped);
    let text = std::fs::read_to_string(&from).expect("a shipped scenario");
    let topology = text
        .lines()
        .find_map(|l| l.strip_prefix("topology: "))
        .expect("the scenario names its topology");
    let absolute = from.parent().expect("a folder").join(topology);
    let text = text
        .replace(&format!("topology: {topology}"), &format!("topology: {}", absolute.display()));
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).expect("written");
    path
}

/// The message `f` panicked with; fails the test if it did not panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the assertion must fail");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map_or_else(|| "?".to_owned(), |s| (*s).to_owned()),
    }
}

/// The case lines of a regression file, comments left out.
fn case_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("a regression file");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_scenario_as_expected_passes_and_a_wrong_expectation_fails_with_table_and_repro() {
    let sweep = Scenario::load(root().join("scenarios/broken/lossy-worker.yaml"))
        .seeds(1..=2)
        .jobs(2)
        .assert_as_expected();
    assert_eq!(sweep.runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [1, 2]);
    // The same design claimed sound: every seed loses replies.
    let dir = TempDir::new("testing-expectation");
    let wrong =
        user_scenario(dir.path(), "scenarios/broken/lossy-worker.yaml", "lossy.yaml", |t| {
            t.replace("expect:\n  violated: [no_lost_replies]", "expect: pass")
        });
    let message =
        panic_message(|| drop(Scenario::load(&wrong).seeds(1..=2).jobs(2).assert_as_expected()));
    for part in [
        "scenario `lossy-worker`",
        "did not end as expected: UNEXPECTED in 2 of 2 seeds",
        "SCENARIO",
        "no_lost_replies              fail ×2",
        "SEED=1 did not end as expected (pass)",
        "no_lost_replies fail (",
        "repro: cargo xtask sim",
        "--seed 1",
        ".seeds([1]).assert_as_expected()",
    ] {
        assert!(message.contains(part), "{part:?} missing from:\n{message}");
    }
}

#[test]
fn a_broken_design_fails_the_exploration_writes_its_case_and_replays_its_seed_first() {
    let dir = TempDir::new("testing-broken");
    let scenario =
        user_scenario(dir.path(), "scenarios/broken/duplicating-queue.yaml", "dup.yaml", |t| t);
    let explore = || Scenario::load(&scenario).jobs(2).explore().cases(4);
    let message = panic_message(|| drop(explore().assert_survives()));
    let first_case = dir.path().join("duplicating-queue-1.yaml");
    let regressions = dir.path().join("dup.explore-regressions");
    for part in [
        "exploring `duplicating-queue` broke no_duplicate_delivery",
        &format!("kept in {}", regressions.display()),
        &format!("written to {}", first_case.display()),
    ] {
        assert!(message.contains(part), "{part:?} missing from:\n{message}");
    }
    let case_text = std::fs::read_to_string(&first_case).expect("the shrunk case is written");
    assert!(case_text.starts_with("# Found by `patchbay::testing (cargo test)`"), "{case_text}");
    let header = std::fs::read_to_string(&regressions).expect("the regression file is written");
    assert!(header.starts_with("# Cases that failed while exploring"), "{header}");
    let lines = case_lines(&regressions);
    let [line] = lines.as_slice() else { panic!("one case kept: {lines:?}") };
    assert!(line.starts_with("seed=1 case=0 # no_duplicate_delivery"), "{line}");

    // Next time, with another generator seed: the kept case runs first, still fails,
    // and stops the exploration before any new case is drawn.
    let again = explore().seed(2).run().expect("explores");
    assert_eq!(again.steps, [Step::Replayed { drawn: CaseRef { seed: 1, case: 0 }, failed: true }]);
    let second_case = dir.path().join("duplicating-queue-2.yaml");
    assert_eq!(
        again.written.as_deref(),
        Some(second_case.as_path()),
        "a new file, never the first"
    );
    assert_eq!(
        std::fs::read_to_string(&first_case).expect("kept"),
        case_text,
        "the first was changed"
    );
    assert_eq!(case_lines(&regressions), lines, "the case is kept once");
    // Replaying draws and shrinks the same case the search found.
    let replayed = again.finding.expect("a finding");
    assert!(
        case_text.ends_with(&replayed.failure.text),
        "another case:\n{}",
        replayed.failure.text
    );
}

#[test]
fn a_sound_design_survives_the_exploration_and_nothing_is_written() {
    let dir = TempDir::new("testing-sound");
    let scenario = user_scenario(dir.path(), "scenarios/queue-swarm.yaml", "queue.yaml", |t| t);
    let explored = Scenario::load(&scenario).jobs(2).explore().cases(4).assert_survives();
    assert_eq!(explored.steps, [Step::Searched { seed: 1, cases_run: 4, failed: false }]);
    let files: Vec<PathBuf> =
        std::fs::read_dir(dir.path()).expect("listed").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files, [scenario], "nothing but the scenario in its folder");
}

#[test]
fn a_regression_file_with_a_line_that_is_not_a_case_is_refused_with_its_place() {
    let dir = TempDir::new("testing-bad-regressions");
    let scenario = user_scenario(dir.path(), "scenarios/queue-swarm.yaml", "queue.yaml", |t| t);
    let regressions = dir.path().join("queue.explore-regressions");
    std::fs::write(&regressions, "# kept cases\nseed=1 case=0\n  seed=one case=2\n")
        .expect("written");
    let err = Scenario::load(&scenario).explore().cases(1).run().expect_err("refused");
    for part in ["bad-regression", "seed=<generator seed> case=<index>", ":3:3", "delete the line"]
    {
        assert!(err.contains(part), "{part:?} missing from:\n{err}");
    }
}

/// Where `f` panicked, as `file:line`; fails the test if it did not panic. A panic
/// hook, set once for the whole test binary, reads the place for this thread and
/// hands every other thread's panic to the hook before it.
fn panic_location(f: impl FnOnce()) -> String {
    use std::cell::RefCell;
    use std::sync::Once;
    thread_local! {
        static PLACE: RefCell<Option<String>> = const { RefCell::new(None) };
        static WATCHED: RefCell<bool> = const { RefCell::new(false) };
    }
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if WATCHED.with(|w| *w.borrow()) {
                let place = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                PLACE.with(|p| *p.borrow_mut() = place);
            } else {
                before(info);
            }
        }));
    });
    WATCHED.with(|w| *w.borrow_mut() = true);
    let result = catch_unwind(AssertUnwindSafe(f));
    WATCHED.with(|w| *w.borrow_mut() = false);
    assert!(result.is_err(), "the assertion must fail");
    PLACE.with(|p| p.borrow_mut().take()).expect("the hook saw the panic")
}

/// A failing assertion names the test's own line, as `assert!` does, not a line in
/// patchbay: the place a test runner prints, and the line a reader opens.
#[test]
fn a_failing_assertion_names_the_line_of_the_test_that_made_it() {
    let missing = root().join("scenarios/no-such-scenario.yaml");
    let here = |line: u32| format!("{}:{line}", file!());
    let at = panic_location(|| drop(Scenario::load(&missing).assert_as_expected()));
    assert_eq!(at, here(line!() - 1), "a scenario that does not load");
    let at = panic_location(|| drop(Scenario::load(&missing).explore().assert_survives()));
    assert_eq!(at, here(line!() - 1), "an exploration that cannot start");
    let at = panic_location(|| drop(Scenario::load(&missing).seeds([])));
    assert_eq!(at, here(line!() - 1), "no seeds");
    let at = panic_location(|| drop(Scenario::load(&missing).jobs(0)));
    assert_eq!(at, here(line!() - 1), "no simulation at a time");
    // A sweep that runs and does not end as expected.
    let dir = TempDir::new("testing-caller");
    let wrong =
        user_scenario(dir.path(), "scenarios/broken/lossy-worker.yaml", "lossy.yaml", |t| {
            t.replace("expect:\n  violated: [no_lost_replies]", "expect: pass")
        });
    let at = panic_location(|| drop(Scenario::load(&wrong).seeds([1]).assert_as_expected()));
    assert_eq!(at, here(line!() - 1), "a sweep not as expected");
}

/// The line that runs a failure again from a test passes the test's registry when
/// it holds the user's own designs or invariants: pasted without it, a scenario
/// naming them fails with `unknown-design`. With the built-ins alone it is not
/// needed, and not written.
#[test]
fn the_repro_for_a_test_passes_the_registry_when_it_is_the_users_own() {
    let mut own = Registry::builtin();
    own.invariant(Invariant::new("always_holds", "nothing", |_| {
        Outcome::from_violations("always_holds", Vec::new())
    }));
    assert!(!own.is_builtin() && Registry::builtin().is_builtin());
    let dir = TempDir::new("testing-own-registry");
    let wrong =
        user_scenario(dir.path(), "scenarios/broken/lossy-worker.yaml", "lossy.yaml", |t| {
            t.replace("expect:\n  violated: [no_lost_replies]", "expect: pass")
        });
    let sweep = |registry: Registry| {
        panic_message(|| {
            drop(Scenario::load(&wrong).registry(registry).seeds([1]).assert_as_expected())
        })
    };
    let load = format!("patchbay::testing::Scenario::load({:?})", wrong.display().to_string());
    let message = sweep(own.clone());
    let with = format!(
        "{load}.registry(/* the registry this test used */).seeds([1]).assert_as_expected()"
    );
    assert!(message.contains(&with), "{with:?} missing from:\n{message}");
    let message = sweep(Registry::builtin());
    let without = format!("{load}.seeds([1]).assert_as_expected()");
    assert!(message.contains(&without), "{without:?} missing from:\n{message}");

    // An exploration's line for its shrunk case, likewise.
    let scenario =
        user_scenario(dir.path(), "scenarios/broken/duplicating-queue.yaml", "dup.yaml", |t| t);
    let explore = Scenario::load(&scenario).registry(own).jobs(2).explore().cases(4);
    let message = panic_message(|| drop(explore.assert_survives()));
    let case = dir.path().join("duplicating-queue-1.yaml");
    let with = format!(
        "patchbay::testing::Scenario::load({:?}).registry(/* the registry this test used */)\
         .assert_as_expected()",
        case.display().to_string()
    );
    assert!(message.contains(&with), "{with:?} missing from:\n{message}");
}

/// A property test builds its scenario as text, one per case: `from_text` reads it as
/// if it were the file at the path given, which anchors its relative `topology:` and
/// need not exist. A sweep runs it, an exploration explores it, and a failure prints
/// the text after the repro lines (which run once it is saved there); nothing is
/// written beside the path but the exploration's own case and regression files.
#[test]
fn a_scenario_given_as_text_runs_explores_and_prints_its_text_when_it_fails() {
    let dir = TempDir::new("testing-from-text");
    let path = dir.path().join("made-up.yaml");
    let topology = root().join("topologies/broken/lossy-worker-queue.yaml");
    let text = |expect: &str| {
        format!(
            "name: made-up\ntopology: {}\nduration: 5s\nliveness: 10s\n\
             workload:\n  client: {{requests: 10, rate: 10/s}}\n\
             invariants: [no_lost_replies]\nexpect: {expect}\n",
            topology.display()
        )
    };
    let sweep = Scenario::from_text(&path, text("{violated: [no_lost_replies]}"))
        .seeds([1])
        .assert_as_expected();
    assert_eq!(sweep.plan.name, "made-up");
    assert!(!path.exists(), "a sweep writes nothing");

    let wrong = text("pass");
    let message = panic_message(|| {
        drop(Scenario::from_text(&path, wrong.clone()).seeds([1]).assert_as_expected())
    });
    let (lines, given) = message
        .split_once("the scenario was given as text (Scenario::from_text), not read from ")
        .expect("the text is printed");
    assert!(lines.contains("no_lost_replies              fail ×1"), "{message}");
    assert!(given.ends_with(&wrong), "{message}");
    assert!(!path.exists(), "a failure writes nothing");

    let explored = Scenario::from_text(&path, wrong).explore().cases(8).run().expect("it explores");
    assert!(explored.finding.is_some(), "a lossy worker fails a case");
    let written = explored.written.expect("the shrunk case is written");
    assert_eq!(written.parent(), Some(dir.path()), "beside the scenario's path");
    let case = std::fs::read_to_string(&written).expect("readable");
    assert!(case.contains("name: made-up"), "the case is the text's scenario: {case}");
    assert!(!path.exists(), "the scenario itself is never written");
}
