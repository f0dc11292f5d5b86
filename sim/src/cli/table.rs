//! The verdict tables `sim` and `real` print, read from the report model
//! (`report::Section`, `report::VerdictRow`): the page and the terminal show the same
//! counts because they are counted once, in `report/sweep.rs`.

use crate::report::{Report, VerdictRow};

/// Prints `sim`'s table; returns how many scenarios did not end as expected.
pub fn print_sim(report: &Report) -> usize {
    println!("\n{:<26} {:>5}  {:<30} RESULT", "SCENARIO", "SEEDS", "EXPECT");
    let mut unexpected = 0;
    for s in &report.sections {
        let ok = s.ended_as_expected();
        unexpected += usize::from(!ok);
        let result = match (ok, s.shown_expected) {
            (true, None) => "as expected".to_owned(),
            (true, Some(shown)) => format!("as expected (shown in {shown} of {} seeds)", s.seeds),
            (false, _) if s.as_expected < s.seeds => {
                format!("UNEXPECTED in {} of {} seeds", s.seeds - s.as_expected, s.seeds)
            }
            (false, _) => format!("UNEXPECTED: shown in none of {} seeds", s.seeds),
        };
        println!("{:<26} {:>5}  {:<30} {result}", s.name, s.seeds, s.expected);
        if s.errors > 0 {
            println!("    {} run(s) could not run", s.errors);
        }
        for row in &s.verdicts {
            println!("    {:<28} {}", row.invariant, counts(row));
            // A failure the scenario expects is still news to a reader: what it was,
            // and how to see it again.
            if let Some(f) = row.failures.first() {
                println!("        e.g. {}\n        repro: {}", f.first, f.repro);
            }
        }
    }
    unexpected
}

/// Prints `real`'s table: a verdict that differs from `expect` is a difference, not
/// a failure.
pub fn print_real(report: &Report) {
    println!("\n{:<28} {:>4}  {:<30} RESULT", "SCENARIO", "RUNS", "EXPECT");
    for s in &report.sections {
        // A run that could not run is never as expected.
        let differ = s.seeds.saturating_sub(s.as_expected + s.errors);
        let result = match (s.errors, differ) {
            (0, 0) => "as expected".to_owned(),
            (0, d) => format!("differs in {d} of {} run(s)", s.seeds),
            (e, _) => format!("{e} run(s) could not run"),
        };
        println!("{:<28} {:>4}  {:<30} {result}", s.name, s.seeds, s.expected);
        for row in &s.verdicts {
            let first =
                row.failures.first().map(|f| format!("  ({})", f.first)).unwrap_or_default();
            println!("    {:<28} {}{first}", row.invariant, counts(row));
        }
    }
}

/// `fail ×2, pass ×6`: each verdict seen, in name order.
pub fn counts(row: &VerdictRow) -> String {
    let by = [("fail", row.fail), ("pass", row.pass), ("unknown", row.unknown)];
    let seen: Vec<String> =
        by.iter().filter(|(_, n)| *n > 0).map(|(v, n)| format!("{v} ×{n}")).collect();
    seen.join(", ")
}
