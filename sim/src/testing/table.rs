//! The words a failing test prints: the verdict table of a sweep (the table
//! `cargo xtask sim` prints, for one scenario) and its first failure with a repro.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::invariant::Verdict;
use crate::plan::{ExpectIn, ScenarioPlan};
use crate::run::{RunReport, sweep_as_expected};

/// One scenario's line of the verdict table, then a line per invariant with its
/// verdicts counted over the seeds and, for one that failed, an example and its repro.
pub fn verdict_table(plan: &ScenarioPlan, runs: &[RunReport]) -> String {
    let all: Vec<&RunReport> = runs.iter().collect();
    let mut out = format!("{:<26} {:>5}  {:<30} RESULT\n", "SCENARIO", "SEEDS", "EXPECT");
    let _ = writeln!(
        out,
        "{:<26} {:>5}  {:<30} {}",
        plan.name,
        runs.len(),
        plan.expect_text(),
        result_text(plan, &all)
    );
    let errors = runs.iter().filter(|r| r.error.is_some()).count();
    if errors > 0 {
        let _ = writeln!(out, "    {errors} run(s) could not run");
    }
    for (i, inv) in plan.invariants.iter().enumerate() {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for r in runs {
            if let Some(o) = r.invariants.get(i) {
                *by.entry(o.verdict.to_string()).or_default() += 1;
            }
        }
        let counts: Vec<String> = by.iter().map(|(v, n)| format!("{v} ×{n}")).collect();
        let _ = writeln!(out, "    {:<28} {}", inv.name, counts.join(", "));
        let failed = runs.iter().find_map(|r| {
            let o = r.invariants.get(i).filter(|o| o.verdict == Verdict::Fail)?;
            Some((r, o.violations.first()?))
        });
        if let Some((r, v)) = failed {
            let _ = writeln!(out, "        e.g. {}\n        repro: {}", v.text, r.repro());
        }
    }
    out
}

/// The table's RESULT cell: as expected, or how the sweep was not.
pub fn result_text(plan: &ScenarioPlan, runs: &[&RunReport]) -> String {
    let good = runs.iter().filter(|r| r.as_expected).count();
    let shown = runs.iter().filter(|r| r.shows_expected).count();
    if sweep_as_expected(plan, runs) {
        match plan.expect_bounds.seeds {
            ExpectIn::Every => "as expected".to_owned(),
            ExpectIn::Any => format!("as expected (shown in {shown} of {} seeds)", runs.len()),
        }
    } else if good < runs.len() {
        format!("UNEXPECTED in {} of {} seeds", runs.len() - good, runs.len())
    } else {
        format!("UNEXPECTED: shown in none of {} seeds", runs.len())
    }
}

/// The first seed (in the order run) that did not end as expected, in words: what
/// went wrong and the lines that run it again, from the command line and from a test.
pub fn first_failure(plan: &ScenarioPlan, runs: &[RunReport]) -> String {
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
        let n = o.violations.len();
        let _ = writeln!(out, "  {} {} ({n} violation(s)){first}{note}", o.name, o.verdict);
    }
    let _ = write!(out, "  repro: {}\n  or in a test: {}", r.repro(), test_repro(&r.file, r.seed));
    out
}

/// The testing API's line that runs one seed of a scenario file again.
pub fn test_repro(file: &Path, seed: u64) -> String {
    format!(
        "patchbay::testing::Scenario::load({:?}).seeds([{seed}]).assert_as_expected()",
        file.display().to_string()
    )
}
