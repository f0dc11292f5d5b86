//! The words a failing test prints: the verdict table of a sweep (the one
//! `cargo xtask sim` prints, worded in `report/table.rs`) and its first failure with
//! a repro from the command line and from a test.

use std::fmt::Write as _;
use std::path::Path;

use crate::invariant::Verdict;
use crate::plan::ScenarioPlan;
use crate::report::Section;
use crate::report::sweep::verdict_section;
use crate::report::table::{result_cell, sim_table};
use crate::run::{DEFAULT_TOOL, RunReport};

/// The sweep's verdicts counted as `sim`'s report counts them, repro lines through
/// the project's own tool.
fn section(plan: &ScenarioPlan, runs: &[RunReport]) -> Section {
    verdict_section(plan, &runs.iter().collect::<Vec<_>>(), DEFAULT_TOOL)
}

/// One scenario's verdict table, the one `sim` prints (`report::table`).
pub(crate) fn verdict_table(plan: &ScenarioPlan, runs: &[RunReport]) -> String {
    sim_table(&[section(plan, runs)])
}

/// The table's RESULT cell: as expected, or how the sweep was not.
pub(crate) fn result_text(plan: &ScenarioPlan, runs: &[RunReport]) -> String {
    result_cell(&section(plan, runs))
}

/// The first seed (in the order run) that did not end as expected, in words: what
/// went wrong and the lines that run it again, from the command line and from a test.
/// `own_registry`: the scenario resolved against a registry holding more than the
/// built-ins, which the test's line must pass too.
pub(crate) fn first_failure(plan: &ScenarioPlan, runs: &[RunReport], own_registry: bool) -> String {
    let Some(r) = runs.iter().find(|r| !r.as_expected || r.error.is_some()) else {
        return format!(
            "no seed showed the expected outcome ({}), which `in: any` asks of at least one",
            plan.expect_text()
        );
    };
    let mut out = format!("SEED={} did not end as expected ({})\n", r.seed, plan.expect_text());
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  {e}");
    }
    for o in r.invariants.iter().filter(|o| o.verdict != Verdict::Pass) {
        let first = o.violations.first().map(|v| format!(": {}", v.text)).unwrap_or_default();
        let note = o.note.as_ref().map(|n| format!(" [{n}]")).unwrap_or_default();
        let n = o.violation_count();
        let _ = writeln!(out, "  {} {} ({n} violation(s)){first}{note}", o.name, o.verdict);
    }
    let in_a_test = test_repro(&r.file, Some(r.seed), own_registry);
    let _ = write!(out, "  repro: {}\n  or in a test: {in_a_test}", r.repro());
    out
}

/// The testing API's line that runs a scenario file again (only `seed`, if given),
/// passing the test's registry when it holds more than the built-ins: pasted
/// without it, the file's own designs and invariants would be unknown.
pub(crate) fn test_repro(file: &Path, seed: Option<u64>, own_registry: bool) -> String {
    let registry = if own_registry { ".registry(/* the registry this test used */)" } else { "" };
    let seeds = seed.map(|s| format!(".seeds([{s}])")).unwrap_or_default();
    format!(
        "patchbay::testing::Scenario::load({:?}){registry}{seeds}.assert_as_expected()",
        file.display().to_string()
    )
}
