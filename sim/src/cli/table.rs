//! The verdict tables `sim` and `real` print: worded once in `report/table.rs`
//! (which a failing `patchbay::testing` assertion shows too), counted once in
//! `report/sweep.rs`, so the page, the terminal and a test agree.

use crate::report::Report;
use crate::report::table::{real_table, sim_table};

/// Prints `sim`'s table; returns how many scenarios did not end as expected.
pub fn print_sim(report: &Report) -> usize {
    out!("\n{}", sim_table(&report.sections));
    report.sections.iter().filter(|s| !s.ended_as_expected()).count()
}

/// Prints `real`'s table: a verdict that differs from `expect` is a difference, not
/// a failure.
pub fn print_real(report: &Report) {
    out!("\n{}", real_table(&report.sections));
}
