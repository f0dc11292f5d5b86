//! The verdict tables the terminal shows, read from the report model ([`Section`],
//! [`VerdictRow`]): `sim` and `real` print them, and a failing `patchbay::testing`
//! assertion panics with the same one, so the page, the terminal and a test count
//! each verdict once (in `report/sweep.rs`) and word it once (here).

use std::fmt::Write as _;

use super::{Section, VerdictRow};

/// `sim`'s table: a line per scenario with its RESULT cell, then a line per
/// invariant with its verdicts counted over the seeds and, for one that failed, an
/// example and its repro.
pub(crate) fn sim_table(sections: &[Section]) -> String {
    let (w, e) = (name_width(sections, 26), expect_width(sections));
    let mut out = format!("{:<w$} {:>5}  {:<e$} RESULT\n", "SCENARIO", "SEEDS", "EXPECT");
    for s in sections {
        let result = result_cell(s);
        let _ = writeln!(out, "{:<w$} {:>5}  {:<e$} {result}", s.name, s.seeds, s.expected);
        if s.errors > 0 {
            let _ = writeln!(out, "    {} run(s) could not run", s.errors);
        }
        // No run, no verdict to count: the RESULT cell says so.
        let rows = if s.ran_nothing() { &[][..] } else { &s.verdicts[..] };
        for row in rows {
            let _ = writeln!(out, "    {:<28} {}", row.invariant, verdict_cell(s, row));
            // A failure the scenario expects is still news to a reader: what it was,
            // and how to see it again.
            if let Some(f) = row.failures.first() {
                let _ = writeln!(out, "        e.g. {}", f.first);
                if let Some(note) = &f.note {
                    let _ = writeln!(out, "        note: {note}");
                }
                let _ = writeln!(out, "        repro: {}", f.repro);
            }
            // An unknown verdict is never what a scenario expects: why it was one.
            if let Some(note) = unknown_note(row) {
                let _ = writeln!(out, "        unknown: {note}");
            }
        }
    }
    out
}

/// A simulated section's RESULT cell: as expected, or how the sweep was not.
pub(crate) fn result_cell(s: &Section) -> String {
    if s.ran_nothing() {
        return NO_RUNS.to_owned();
    }
    match (s.ended_as_expected(), s.shown_expected) {
        (true, None) => "as expected".to_owned(),
        (true, Some(shown)) => format!("as expected (shown in {shown} of {} seeds)", s.seeds),
        (false, _) if s.as_expected < s.seeds => {
            format!("UNEXPECTED in {} of {} seeds", s.seeds - s.as_expected, s.seeds)
        }
        (false, _) => format!("UNEXPECTED: shown in none of {} seeds", s.seeds),
    }
}

/// The RESULT of a section without runs: a shard's share held none of the scenario.
pub(crate) const NO_RUNS: &str = "no runs in this shard";

/// `real`'s table: a verdict that differs from `expect` is a difference, not a
/// failure, since real runs are not deterministic.
pub(crate) fn real_table(sections: &[Section]) -> String {
    let (w, e) = (name_width(sections, 28), expect_width(sections));
    let mut out = format!("{:<w$} {:>4}  {:<e$} RESULT\n", "SCENARIO", "RUNS", "EXPECT");
    for s in sections {
        // A run that could not run is never as expected.
        let differ = s.seeds.saturating_sub(s.as_expected + s.errors);
        let result = match (s.errors, differ) {
            (0, 0) => "as expected".to_owned(),
            (0, d) => format!("differs in {d} of {} run(s)", s.seeds),
            (e, _) => format!("{e} run(s) could not run"),
        };
        let _ = writeln!(out, "{:<w$} {:>4}  {:<e$} {result}", s.name, s.seeds, s.expected);
        for row in &s.verdicts {
            // Beside the counts, what the first failure was and why a verdict was
            // unknown, as `sim`'s table says under them.
            let why: Vec<String> = (row.failures.first().map(|f| f.first.clone()))
                .into_iter()
                .chain(unknown_note(row).map(|n| match row.fail {
                    0 => n.to_owned(),
                    _ => format!("unknown: {n}"),
                }))
                .collect();
            let why =
                if why.is_empty() { String::new() } else { format!("  ({})", why.join("; ")) };
            let _ = writeln!(out, "    {:<28} {}{why}", row.invariant, verdict_cell(s, row));
        }
    }
    out
}

/// A row's verdicts as the tables show them: [`counts`], then `not run ×N` for the
/// runs that gave no verdict because they could not run (their reason is printed
/// below the table), so a row of a scenario that could not run is never blank.
fn verdict_cell(s: &Section, row: &VerdictRow) -> String {
    let not_run = s.seeds.saturating_sub(row.pass + row.fail + row.unknown);
    let not_run = (not_run > 0).then(|| format!("{NOT_RUN} ×{not_run}"));
    let counts = Some(counts(row)).filter(|c| !c.is_empty());
    counts.into_iter().chain(not_run).collect::<Vec<_>>().join(", ")
}

/// What a row counts a run that could not run as: it gave no verdict.
pub(crate) const NOT_RUN: &str = "not run";

/// Why the row's invariant could not judge, when a run's verdict was unknown.
fn unknown_note(row: &VerdictRow) -> Option<&str> {
    row.unknown_note.as_deref().filter(|_| row.unknown > 0)
}

/// The scenario column's width: `least`, or the longest name's, so that a long name
/// (`pipeline-worker-crash-heartbeat`) does not push its row's columns out of line.
fn name_width(sections: &[Section], least: usize) -> usize {
    sections.iter().map(|s| s.name.chars().count()).fold(least, usize::max)
}

/// The EXPECT column's width: 30, or the longest expectation's up to 40, so that one
/// such as `violated: aggregate_complete, liveness` keeps its RESULT under the
/// heading. One with counts (`...; pipeline_conservation violations: [1, 6]`) is
/// longer still and pushes its own RESULT out rather than every row's.
fn expect_width(sections: &[Section]) -> usize {
    let widest = sections.iter().map(|s| s.expected.chars().count());
    widest.filter(|w| *w <= EXPECT_WIDTH_MAX).fold(30, usize::max)
}

/// The widest EXPECT column a table takes (see [`expect_width`]).
const EXPECT_WIDTH_MAX: usize = 40;

/// `fail ×2, pass ×6`: each verdict seen, in name order.
pub fn counts(row: &VerdictRow) -> String {
    let by = [("fail", row.fail), ("pass", row.pass), ("unknown", row.unknown)];
    let seen: Vec<String> =
        by.iter().filter(|(_, n)| *n > 0).map(|(v, n)| format!("{v} ×{n}")).collect();
    seen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pass: u64, fail: u64) -> VerdictRow {
        VerdictRow {
            invariant: "no-loss".to_owned(),
            expected: "pass".to_owned(),
            pass,
            fail,
            unknown: 0,
            failures: Vec::new(),
            more_failures: 0,
            unknown_note: None,
        }
    }

    fn section(as_expected: u64, verdicts: Vec<VerdictRow>) -> Section {
        Section {
            name: "steady".to_owned(),
            expected: "every invariant passes".to_owned(),
            seeds: 4,
            as_expected,
            sweep_as_expected: Some(as_expected == 4),
            design: None,
            file: "steady.yaml".to_owned(),
            topology: "pair".to_owned(),
            shown_expected: None,
            errors: 0,
            graph: Default::default(),
            verdicts,
            sequences: Vec::new(),
            metrics: Default::default(),
            requests: None,
        }
    }

    /// A name longer than the column widens it for every row, so the seeds line up
    /// under SEEDS (`pipeline-worker-crash-heartbeat` pushed its row out of line).
    #[test]
    fn a_long_scenario_name_widens_the_column_for_every_row() {
        let long =
            Section { name: "pipeline-worker-crash-heartbeat".to_owned(), ..section(4, vec![]) };
        let table = sim_table(&[section(4, vec![]), long]);
        let lines: Vec<&str> = table.lines().collect();
        let seeds_end = lines[0].find("SEEDS").expect("the header names SEEDS") + "SEEDS".len();
        for line in &lines[1..] {
            assert_eq!(line.get(seeds_end - 1..seeds_end), Some("4"), "{table}");
        }
    }

    /// A failing row shows its first example, the invariant's note on that seed when
    /// it wrote one (the counts an example cannot show), and the repro, in that order.
    #[test]
    fn a_failing_row_shows_its_example_then_its_note_then_its_repro() {
        let failure = |note: Option<&str>| crate::report::Failure {
            seed: 3,
            events: 10,
            first: "task v.0#1 was lost".to_owned(),
            note: note.map(str::to_owned),
            repro: "cargo xtask sim steady.yaml --seed 3".to_owned(),
        };
        let with = |note| VerdictRow { failures: vec![failure(note)], ..row(3, 1) };
        let table = sim_table(&[section(3, vec![with(Some("lost otherwise: 18"))])]);
        let tail: Vec<&str> = table.lines().skip(3).map(str::trim_start).collect();
        assert_eq!(
            tail,
            [
                "e.g. task v.0#1 was lost",
                "note: lost otherwise: 18",
                "repro: cargo xtask sim steady.yaml --seed 3"
            ],
            "{table}"
        );
        let table = sim_table(&[section(3, vec![with(None)])]);
        assert!(!table.contains("note:"), "no note, no line: {table}");
        assert_eq!(table.lines().count(), 5, "{table}");
    }

    #[test]
    fn a_long_expectation_keeps_its_result_apart() {
        let mut long = section(3, vec![row(4, 0)]);
        long.expected = "violated: aggregate_complete, liveness".to_owned();
        // A longer one, with counts, pushes only its own row's RESULT out.
        let mut counted = section(3, vec![row(4, 0)]);
        counted.name = "counted".to_owned();
        counted.expected = format!("violated: pipeline_conservation; {}", "x".repeat(40));
        let both = [long.clone(), counted];
        for table in [sim_table(&both), real_table(&both)] {
            let (header, line) = (table.lines().next().unwrap(), table.lines().nth(1).unwrap());
            // The RESULT cell starts under its heading, after the whole expectation.
            let at = header.find("RESULT").expect("a RESULT heading");
            let expect_at = header.find("EXPECT").expect("an EXPECT heading");
            // As wide as the longest expectation within the cap: the counted one is not.
            let widest = "violated: aggregate_complete, liveness".len();
            assert_eq!(at - expect_at, widest + 1, "{table}");
            assert!(line[..at].trim_end().ends_with("liveness"), "{table}");
            assert!(line[at..].starts_with(['U', 'd']), "{table}");
        }
    }

    /// A new-user audit: `real` printed `no_lost_replies unknown ×1` with no reason,
    /// where the JSON said "no request was issued: nothing to check". Both tables
    /// give an unknown verdict's reason as they give a failure's example.
    #[test]
    fn an_unknown_verdict_is_shown_with_its_reason_in_both_tables() {
        let why = "no request was issued: nothing to check";
        // Every seed of the section's four.
        let unknown = VerdictRow { unknown: 4, unknown_note: Some(why.to_owned()), ..row(0, 0) };
        let sim = sim_table(&[section(2, vec![unknown.clone()])]);
        let lines: Vec<&str> = sim.lines().skip(2).map(str::trim_start).collect();
        assert_eq!(lines, [format!("{:<28} unknown ×4", "no-loss"), format!("unknown: {why}")]);
        let real = real_table(&[section(2, vec![unknown.clone()])]);
        let line = real.lines().nth(2).map(str::trim_start);
        assert_eq!(line, Some(format!("{:<28} unknown ×4  ({why})", "no-loss").as_str()));
        // Beside a failure, the reason says which verdict it is for.
        let both = VerdictRow { unknown: 1, ..row(2, 1) };
        let both = VerdictRow { unknown_note: Some(why.to_owned()), ..both };
        let failure = crate::report::Failure {
            seed: 1,
            events: 10,
            first: "task v.0#1 was lost".to_owned(),
            note: None,
            repro: "repro".to_owned(),
        };
        let both = VerdictRow { failures: vec![failure], ..both };
        let real = real_table(&[section(2, vec![both])]);
        assert!(
            real.lines()
                .nth(2)
                .is_some_and(|l| l.ends_with(&format!("(task v.0#1 was lost; unknown: {why})"))),
            "{real}"
        );
    }

    /// A new-user audit: the rows of a scenario whose run could not run had an empty
    /// verdict column, as if the table were unfinished; each says `not run` now.
    #[test]
    fn a_run_that_could_not_run_counts_as_not_run_in_every_row() {
        let none = Section { errors: 1, seeds: 1, ..section(0, vec![row(0, 0)]) };
        let real = real_table(std::slice::from_ref(&none));
        let lines: Vec<&str> = real.lines().collect();
        assert!(lines[1].ends_with("1 run(s) could not run"), "{real}");
        assert_eq!(lines[2].trim_start(), format!("{:<28} not run ×1", "no-loss"), "{real}");
        let sim = sim_table(&[none]);
        assert!(sim.lines().any(|l| l.trim_start().ends_with("not run ×1")), "{sim}");
        // Beside the runs that gave a verdict.
        let some = Section { errors: 1, ..section(2, vec![row(3, 0)]) };
        let real = real_table(&[some]);
        assert!(real.lines().nth(2).is_some_and(|l| l.ends_with("pass ×3, not run ×1")), "{real}");
    }

    #[test]
    fn counts_names_each_verdict_seen_in_name_order() {
        assert_eq!(counts(&row(6, 2)), "fail ×2, pass ×6");
        assert_eq!(counts(&row(4, 0)), "pass ×4");
    }

    #[test]
    fn sim_table_says_in_how_many_seeds_a_sweep_was_unexpected() {
        let table = sim_table(&[section(3, vec![row(3, 1)])]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[1].starts_with("steady") && lines[1].ends_with("UNEXPECTED in 1 of 4 seeds"));
        assert_eq!(lines[2].trim_start(), format!("{:<28} fail ×1, pass ×3", "no-loss"));
    }

    #[test]
    fn real_table_calls_a_verdict_unlike_expect_a_difference() {
        let table = real_table(&[section(3, vec![row(3, 1)])]);
        assert!(
            table.lines().nth(1).is_some_and(|l| l.ends_with("differs in 1 of 4 run(s)")),
            "{table}"
        );
        let fine = sim_table(&[section(4, vec![row(4, 0)])]);
        assert!(fine.lines().nth(1).is_some_and(|l| l.ends_with("as expected")), "{fine}");
    }
}
