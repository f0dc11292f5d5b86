//! Merging the reports of a sweep's shards (`sim --shard K/N`) into the report one
//! unsharded sweep would have written (docs/sharding.md).
//!
//! A shard's report carries a [`ShardNote`]: its index and count, the patchbay version
//! and the sweep's command line (without the options that do not change what runs:
//! `--shard`, `--shard-from-env`, `--json`, `--jobs`), how many runs the whole sweep
//! has, and each section's measurements as data. The merge refuses reports that do
//! not belong together (another command, scenario set, version or shard count), a
//! shard missing or given twice, a shard whose runs are not exactly its share of the
//! sweep (its note lists every scenario's seeds, so the merge knows that share run by
//! run), and a section whose counts are not those of its runs (an edited file), each
//! error naming the file. Then it adds up what adds up: runs back in their unsharded
//! order (item `i` is shard `i mod N`'s), verdict counts, failing seeds (the first
//! [`FAILURES_LISTED`] by seed), the shortest failing run's diagram per invariant (by
//! events, then seed, as a sweep picks it), and the measurements, merged and finished
//! by the same code a sweep runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::metrics::{Accumulator, RawMeasurements};
use super::sweep::FAILURES_LISTED;
use super::{Kind, Report, Section, VerdictRow};
use crate::run::shard::Shard;

/// What a shard's report says about the shard, for the merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardNote {
    /// 0-based.
    pub index: u64,
    pub count: u64,
    /// The patchbay version that ran it; shards of different versions do not merge.
    pub version: String,
    /// The sweep's command line without `--shard`, `--shard-from-env`, `--json` and
    /// `--jobs`: the same in every shard of one sweep, and the merged report's command.
    pub sweep: String,
    /// Runs in the whole, unsharded sweep.
    pub total: u64,
    /// Each section's measurements as data, in section order (`sim`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<RawMeasurements>,
    /// Each section's seeds in the whole sweep, in run order, as inclusive ranges
    /// ([`seed_ranges`]: `--seeds 1000` is `[[1, 1000]]`), in section order (`sim`).
    /// With the sections they spell the unsharded run list, so the merge checks that
    /// each shard holds exactly its share of it, not merely as many runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<Vec<[u64; 2]>>,
    /// For `explore`: the unsharded index of the case this shard found failing, if
    /// any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_case: Option<u64>,
}

impl ShardNote {
    pub fn new(
        shard: Shard,
        sweep: String,
        total: u64,
        measurements: Vec<RawMeasurements>,
    ) -> Self {
        ShardNote {
            index: shard.index,
            count: shard.count,
            version: VERSION.to_owned(),
            sweep,
            total,
            measurements,
            seeds: Vec::new(),
            found_case: None,
        }
    }
}

/// `seeds` as inclusive ranges of consecutive seeds, in order: `1, 2, 3, 7` is
/// `[[1, 3], [7, 7]]`; a sweep's `--seeds K` is one range, however large K.
pub fn seed_ranges(seeds: impl IntoIterator<Item = u64>) -> Vec<[u64; 2]> {
    let mut ranges: Vec<[u64; 2]> = Vec::new();
    for seed in seeds {
        match ranges.last_mut() {
            Some(last) if last[1].checked_add(1) == Some(seed) => last[1] = seed,
            _ => ranges.push([seed, seed]),
        }
    }
    ranges
}

/// This patchbay's version, which a shard's report records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The command-line options that change where a sweep's report goes or how many runs
/// go at once, never what runs: dropped from [`ShardNote::sweep`]. Each takes a value.
pub const OPTIONS_NOT_SWEPT: [&str; 4] = ["--shard", "--shard-from-env", "--json", "--jobs"];

/// `args` without [`OPTIONS_NOT_SWEPT`] and their values (`--json X` or `--json=X`).
pub fn swept_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let name = a.split_once('=').map_or(a.as_str(), |(n, _)| n);
        if OPTIONS_NOT_SWEPT.contains(&name) {
            skip_value = !a.contains('=');
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// Merges shards' reports (each with the path it was read from, for errors) into the
/// report the unsharded sweep would have written.
pub fn merge(shards: &[(PathBuf, Report)]) -> Result<Report, String> {
    let notes = notes_of(shards)?;
    let (first_path, first) = &shards[0];
    let count = notes[0].count;
    for ((path, report), note) in shards.iter().zip(&notes).skip(1) {
        belongs_with(path, report, note, first_path, first, notes[0])?;
    }
    let ordered = in_order(shards, &notes, count)?;
    if first.kind == Kind::Explore {
        return Ok(merge_explore(shards, &notes));
    }
    for &i in &ordered {
        let (path, report) = &shards[i];
        let shard = Shard::new(notes[i].index, count)?;
        let want = shard.share_of(notes[i].total);
        if report.runs.len() as u64 != want {
            return Err(format!(
                "{}: shard {shard} of a sweep of {} runs should hold {want} runs, and holds {}",
                path.display(),
                notes[i].total,
                report.runs.len()
            ));
        }
        check_counts(path, report)?;
    }
    check_shares(shards, &ordered, notes[0])?;
    let runs = interleave(&ordered.iter().map(|&i| &shards[i].1.runs).collect::<Vec<_>>());
    let mut merged = Report::new(first.kind, first.title.clone(), notes[0].sweep.clone());
    for s in 0..first.sections.len() {
        let parts: Vec<(&Path, &Section, &RawMeasurements)> = ordered
            .iter()
            .map(|&i| (shards[i].0.as_path(), &shards[i].1.sections[s], &notes[i].measurements[s]))
            .collect();
        merged.sections.push(merge_section(&parts, &runs)?);
    }
    let good = runs.iter().filter(|r| r.get("as_expected") == Some(&true.into())).count();
    merged.notes.push(format!(
        "{} run(s) of {} scenario(s); {good} ended as their scenario expects.",
        runs.len(),
        merged.sections.len()
    ));
    merged.notes.push(format!("Merged from {count} shard(s) of this sweep."));
    merged.runs = runs;
    Ok(merged)
}

/// Each report's shard note, refusing a report that has none or is not a sweep.
fn notes_of(shards: &[(PathBuf, Report)]) -> Result<Vec<&ShardNote>, String> {
    if shards.is_empty() {
        return Err("no shard reports to merge".to_owned());
    }
    shards
        .iter()
        .map(|(path, r)| {
            let note = r.shard.as_ref().ok_or_else(|| {
                format!("{}: not a shard's report (it was made without --shard)", path.display())
            })?;
            if !matches!(r.kind, Kind::Sim | Kind::Explore) {
                return Err(format!(
                    "{}: a `{}` report; only `sim` and `explore` shards are merged",
                    path.display(),
                    r.kind.name()
                ));
            }
            if r.kind == Kind::Sim && note.measurements.len() != r.sections.len() {
                return Err(format!(
                    "{}: {} sections but measurements for {}",
                    path.display(),
                    r.sections.len(),
                    note.measurements.len()
                ));
            }
            if r.kind == Kind::Sim && note.seeds.len() != r.sections.len() {
                return Err(format!(
                    "{}: {} sections but the seeds of {} (a shard from an older patchbay \
                     lists none: run it again)",
                    path.display(),
                    r.sections.len(),
                    note.seeds.len()
                ));
            }
            Ok(note)
        })
        .collect()
}

/// Refuses a report that is not of the same sweep as the first.
fn belongs_with(
    path: &Path,
    report: &Report,
    note: &ShardNote,
    first_path: &Path,
    first: &Report,
    first_note: &ShardNote,
) -> Result<(), String> {
    let (p, f) = (path.display(), first_path.display());
    if report.kind != first.kind {
        return differs_kind(path, report, first_path, first);
    }
    let differs = |what: &str, a: &str, b: &str| {
        Err(format!("{p} is not a shard of the same sweep as {f}: its {what} is {a:?}, not {b:?}"))
    };
    if note.version != first_note.version {
        return differs("patchbay version", &note.version, &first_note.version);
    }
    if note.sweep != first_note.sweep {
        return differs("command", &note.sweep, &first_note.sweep);
    }
    if note.count != first_note.count {
        return differs("shard count", &note.count.to_string(), &first_note.count.to_string());
    }
    if note.total != first_note.total {
        return differs("run total", &note.total.to_string(), &first_note.total.to_string());
    }
    if report.kind == Kind::Explore {
        return Ok(());
    }
    let files =
        |r: &Report| r.sections.iter().map(|s| s.file.clone()).collect::<Vec<_>>().join(", ");
    if files(report) != files(first) {
        return differs("scenario set", &files(report), &files(first));
    }
    if note.seeds != first_note.seeds {
        return Err(format!(
            "{p} is not a shard of the same sweep as {f}: its scenarios' seeds differ \
             (a scenario's `seeds:` changed between the shards' runs?)"
        ));
    }
    Ok(())
}

/// Refuses a shard whose runs are not exactly its share of the sweep: the run list
/// [`ShardNote::seeds`] spells (each section's seeds in turn), dealt round-robin, run
/// `i` to shard `i mod N` (`ordered[k]` is shard `k`'s position in `shards`; each
/// holds as many runs as its share, checked before). One pass over the whole list,
/// however many shards.
fn check_shares(
    shards: &[(PathBuf, Report)],
    ordered: &[usize],
    note: &ShardNote,
) -> Result<(), String> {
    let (first_path, first) = &shards[ordered[0]];
    let mut listed = 0u64;
    for &[from, to] in note.seeds.iter().flatten() {
        listed = (to.checked_sub(from))
            .and_then(|n| listed.checked_add(n).and_then(|l| l.checked_add(1)))
            .ok_or_else(|| {
                format!(
                    "{}: the sweep's seeds list a range {from} to {to} (an edited file?)",
                    first_path.display()
                )
            })?;
    }
    if listed != note.total {
        return Err(format!(
            "{}: the sweep's seeds list {listed} runs, and its total is {} (an edited file?)",
            first_path.display(),
            note.total
        ));
    }
    let sweep = note.seeds.iter().zip(&first.sections).flat_map(|(ranges, section)| {
        let file = section.file.as_str();
        ranges.iter().flat_map(move |&[from, to]| (from..=to).map(move |seed| (file, seed)))
    });
    let count = ordered.len();
    for (i, (file, seed)) in sweep.enumerate() {
        let (k, j) = (i % count, i / count);
        let (path, report) = &shards[ordered[k]];
        let run = report.runs.get(j);
        let got = run.map(|r| (r.get("file").and_then(|f| f.as_str()), r["seed"].as_u64()));
        if got != Some((Some(file), Some(seed))) {
            let shown = |part: Option<String>| part.unwrap_or_else(|| "?".to_owned());
            let (got_file, got_seed) = got.unwrap_or_default();
            return Err(format!(
                "{}: its run {} is seed {} of {}, and shard {k}/{count}'s run {} of this sweep \
                 is seed {seed} of {file} (an edited file?)",
                path.display(),
                j + 1,
                shown(got_seed.map(|s| s.to_string())),
                shown(got_file.map(str::to_owned)),
                j + 1
            ));
        }
    }
    Ok(())
}

/// Refuses a shard whose sections do not count what its runs say: a run's verdict or
/// outcome edited after the shard wrote it, which the merged counts would hide.
fn check_counts(path: &Path, report: &Report) -> Result<(), String> {
    use serde_json::Value;
    let mut by_file: std::collections::BTreeMap<&str, Vec<&Value>> = Default::default();
    for run in &report.runs {
        let file = run.get("file").and_then(|f| f.as_str()).unwrap_or_default();
        by_file.entry(file).or_default().push(run);
    }
    for s in &report.sections {
        let runs = by_file.get(s.file.as_str()).map_or(&[][..], Vec::as_slice);
        let count = |pick: &dyn Fn(&Value) -> bool| runs.iter().filter(|r| pick(r)).count() as u64;
        let differ = |what: String, says: u64, runs: u64| {
            Err(format!(
                "{}: `{}` counts {says} {what}, and its runs give {runs} (an edited file?)",
                path.display(),
                s.name
            ))
        };
        if s.seeds != runs.len() as u64 {
            return differ("run(s)".into(), s.seeds, runs.len() as u64);
        }
        let as_expected = count(&|r| r["as_expected"] == Value::Bool(true));
        if s.as_expected != as_expected {
            return differ("run(s) as expected".into(), s.as_expected, as_expected);
        }
        let errors = count(&|r| r.get("error").is_some());
        if s.errors != errors {
            return differ("run(s) that could not run".into(), s.errors, errors);
        }
        // A run's invariants are in the plan's order, as the section's rows are.
        for (k, row) in s.verdicts.iter().enumerate() {
            for (verdict, says) in
                [("pass", row.pass), ("fail", row.fail), ("unknown", row.unknown)]
            {
                let given = count(&|r| r["invariants"][k]["verdict"] == verdict);
                if says != given {
                    let what = format!("`{verdict}` verdict(s) of {}", row.invariant);
                    return differ(what, says, given);
                }
            }
            let listed = row.failures.len() as u64 + row.more_failures;
            if listed != row.fail {
                return differ(format!("failing seed(s) of {}", row.invariant), listed, row.fail);
            }
        }
    }
    Ok(())
}

fn differs_kind(
    path: &Path,
    report: &Report,
    first_path: &Path,
    first: &Report,
) -> Result<(), String> {
    Err(format!(
        "{} is a `{}` report and {} a `{}` report: not shards of one sweep",
        path.display(),
        report.kind.name(),
        first_path.display(),
        first.kind.name()
    ))
}

/// An exploration's shards: the case the unsharded search finds first is the lowest
/// failing case of any shard, found and shrunk by the shard that ran it exactly as the
/// unsharded search does; its report is the merged one. No shard found anything: a
/// report that says so.
fn merge_explore(shards: &[(PathBuf, Report)], notes: &[&ShardNote]) -> Report {
    let count = notes[0].count;
    let found = (0..shards.len()).filter_map(|i| notes[i].found_case.map(|c| (c, i))).min();
    let Some((case, i)) = found else {
        let mut r = Report::new(Kind::Explore, shards[0].1.title.clone(), notes[0].sweep.clone());
        r.notes.push(format!(
            "No invariant failed in {} cases, searched in {count} shard(s).",
            notes[0].total
        ));
        return r;
    };
    let mut r = shards[i].1.clone();
    r.shard = None;
    r.command = notes[0].sweep.clone();
    r.notes.push(format!(
        "Merged from {count} shard(s): case={case} (counting from 0, as regression files do) is the first that fails, found and shrunk by shard {}/{count} ({}).",
        notes[i].index,
        shards[i].0.display()
    ));
    r
}

/// The reports' positions by shard index, refusing a shard given twice or missing.
fn in_order(
    shards: &[(PathBuf, Report)],
    notes: &[&ShardNote],
    count: u64,
) -> Result<Vec<usize>, String> {
    let mut by_index: Vec<Option<usize>> = vec![None; count as usize];
    for (i, note) in notes.iter().enumerate() {
        let slot = by_index.get_mut(note.index as usize).ok_or_else(|| {
            format!("{}: shard index {} of {count}", shards[i].0.display(), note.index)
        })?;
        if let Some(j) = slot.replace(i) {
            return Err(format!(
                "{} and {} are both shard {}/{count}",
                shards[j].0.display(),
                shards[i].0.display(),
                note.index
            ));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|k| by_index[*k as usize].is_none())
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} missing: a merge needs every shard's report",
            missing.join(", ")
        ));
    }
    Ok(by_index.into_iter().flatten().collect())
}

/// The runs in their unsharded order: shard k's j-th run was item `j * N + k`.
fn interleave(parts: &[&Vec<serde_json::Value>]) -> Vec<serde_json::Value> {
    let total = parts.iter().map(|p| p.len()).sum();
    (0..total).filter_map(|i| parts[i % parts.len()].get(i / parts.len()).cloned()).collect()
}

/// One scenario's section from its shards' sections (by shard index) and the merged
/// runs.
fn merge_section(
    parts: &[(&Path, &Section, &RawMeasurements)],
    runs: &[serde_json::Value],
) -> Result<Section, String> {
    let first = parts[0].1;
    let mut acc: Option<Accumulator> = None;
    for (path, section, raw) in parts {
        let one = Accumulator::from_raw(raw).map_err(|why| {
            format!("{}: `{}`'s measurements: {why}", path.display(), section.name)
        })?;
        if one.clone().finish() != section.metrics {
            return Err(format!(
                "{}: `{}`'s measurements do not give its figures (an edited file?)",
                path.display(),
                section.name
            ));
        }
        match &mut acc {
            Some(a) => a.merge(one),
            None => acc = Some(one),
        }
    }
    let sum = |f: fn(&Section) -> u64| parts.iter().map(|p| f(p.1)).sum::<u64>();
    let mut out = first.clone();
    out.seeds = sum(|s| s.seeds);
    out.as_expected = sum(|s| s.as_expected);
    out.errors = sum(|s| s.errors);
    out.shown_expected = first.shown_expected.map(|_| sum(|s| s.shown_expected.unwrap_or(0)));
    // A shard without runs of the scenario does not judge it; the merge judges all.
    let judged = parts.iter().any(|p| p.1.sweep_as_expected.is_some());
    out.sweep_as_expected = judged.then(|| {
        let mine: Vec<_> =
            runs.iter().filter(|r| r.get("file") == Some(&first.file.clone().into())).collect();
        let every = !mine.is_empty()
            && mine
                .iter()
                .all(|r| r.get("as_expected") == Some(&true.into()) && r.get("error").is_none());
        every && out.shown_expected.is_none_or(|n| n > 0)
    });
    out.verdicts = (0..first.verdicts.len())
        .map(|i| merge_row(&parts.iter().map(|p| &p.1.verdicts[i]).collect::<Vec<_>>()))
        .collect();
    out.sequences = out
        .verdicts
        .iter()
        .filter_map(|row| {
            let drawn = parts.iter().flat_map(|p| &p.1.sequences);
            drawn
                .filter(|d| d.invariant == row.invariant)
                .min_by_key(|d| (d.total_events, d.seed))
                .cloned()
        })
        .collect();
    out.metrics = acc.map(Accumulator::finish).unwrap_or_default();
    Ok(out)
}

/// One invariant's row over every shard: counts added, the first failing seeds kept.
fn merge_row(parts: &[&VerdictRow]) -> VerdictRow {
    let mut row = parts[0].clone();
    row.pass = parts.iter().map(|r| r.pass).sum();
    row.fail = parts.iter().map(|r| r.fail).sum();
    row.unknown = parts.iter().map(|r| r.unknown).sum();
    // Each shard lists its first failing seeds, so the sweep's first are among them.
    row.failures = parts.iter().flat_map(|r| r.failures.iter().cloned()).collect();
    row.failures.sort_by_key(|f| f.seed);
    row.failures.truncate(FAILURES_LISTED);
    row.more_failures = row.fail - row.failures.len() as u64;
    // One reason is shown: the first shard's that has one.
    row.unknown_note = parts.iter().find_map(|r| r.unknown_note.clone());
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Shard `k` of 2 of a sweep of seeds 1 to 3 of `a.yaml`, whose one invariant
    /// passes in every run: its share of the runs, counted in its section.
    fn shard(k: u64) -> (PathBuf, Report) {
        let shard = Shard::new(k, 2).expect("a shard");
        let seeds = shard.take((1..=3).collect::<Vec<u64>>());
        let runs = seeds.len() as u64;
        let mut r = Report::new(Kind::Sim, "t", "x sim --shard");
        r.runs = seeds
            .iter()
            .map(|s| {
                let verdicts = [json!({ "name": "inv", "verdict": "pass" })];
                json!({ "file": "a.yaml", "seed": s, "as_expected": true, "invariants": verdicts })
            })
            .collect();
        let measured = Accumulator::new(std::time::Duration::from_secs(1));
        r.sections.push(Section {
            name: "a".into(),
            design: None,
            file: "a.yaml".into(),
            topology: "t".into(),
            expected: "every invariant passes".into(),
            seeds: runs,
            as_expected: runs,
            sweep_as_expected: (runs > 0).then_some(true),
            shown_expected: None,
            errors: 0,
            graph: Default::default(),
            verdicts: vec![VerdictRow {
                invariant: "inv".into(),
                expected: "pass".into(),
                pass: runs,
                fail: 0,
                unknown: 0,
                failures: Vec::new(),
                more_failures: 0,
                unknown_note: None,
            }],
            sequences: Vec::new(),
            metrics: measured.clone().finish(),
            requests: None,
        });
        let note = ShardNote::new(shard, "x sim a.yaml".into(), 3, vec![measured.to_raw()]);
        r.shard = Some(ShardNote { seeds: vec![seed_ranges(1..=3)], ..note });
        (PathBuf::from(format!("s{k}.json")), r)
    }

    #[test]
    fn runs_come_back_in_the_unsharded_order() {
        let merged = merge(&[shard(1), shard(0)]).expect("they merge");
        let seeds: Vec<u64> = merged.runs.iter().filter_map(|r| r["seed"].as_u64()).collect();
        assert_eq!(seeds, [1, 2, 3]);
        assert_eq!(merged.command, "x sim a.yaml");
        assert_eq!(merged.sections[0].verdicts[0].pass, 3);
    }

    #[test]
    fn another_version_a_short_shard_or_a_report_without_shard_is_refused_by_name() {
        let (path, mut other) = shard(1);
        other.shard.as_mut().expect("a note").version = "0.0.1".into();
        let err = merge(&[shard(0), (path, other)]).expect_err("another version");
        assert!(err.contains("s1.json is not a shard of the same sweep as s0.json: its patchbay version is \"0.0.1\""), "{err}");
        let (path, mut short) = shard(0);
        short.runs.pop();
        let err = merge(&[(path, short), shard(1)]).expect_err("a run short");
        assert!(
            err.contains("s0.json: shard 0/2 of a sweep of 3 runs should hold 2 runs, and holds 1"),
            "{err}"
        );
        let (path, mut plain) = shard(1);
        plain.shard = None;
        let err = merge(&[shard(0), (path, plain)]).expect_err("not a shard");
        assert!(
            err.contains("s1.json: not a shard's report (it was made without --shard)"),
            "{err}"
        );
    }

    /// From the CLI probe (C3): a run's seed moved to one of another shard, and a
    /// verdict flipped under unchanged counts, were merged without a word.
    #[test]
    fn a_shard_whose_runs_are_not_its_share_or_do_not_give_its_counts_is_refused() {
        let (path, mut moved) = shard(1);
        moved.runs[0]["seed"] = json!(1);
        let err = merge(&[shard(0), (path, moved)]).expect_err("a seed of shard 0");
        assert_eq!(
            err,
            "s1.json: its run 1 is seed 1 of a.yaml, and shard 1/2's run 1 of this sweep is \
             seed 2 of a.yaml (an edited file?)"
        );
        let (path, mut flipped) = shard(0);
        flipped.runs[1]["invariants"][0]["verdict"] = json!("fail");
        let err = merge(&[(path, flipped), shard(1)]).expect_err("a verdict flipped");
        assert_eq!(
            err,
            "s0.json: `a` counts 2 `pass` verdict(s) of inv, and its runs give 1 (an edited file?)"
        );
        let (path, mut unexpected) = shard(0);
        unexpected.runs[0]["as_expected"] = json!(false);
        let err = merge(&[(path, unexpected), shard(1)]).expect_err("an outcome flipped");
        assert!(err.contains("counts 2 run(s) as expected, and its runs give 1"), "{err}");
        let (path, mut listed) = shard(1);
        listed.shard.as_mut().expect("a note").seeds = vec![vec![[1, 4]]];
        let err = merge(&[shard(0), (path, listed)]).expect_err("other seeds");
        assert!(
            err.contains(
                "s1.json is not a shard of the same sweep as s0.json: its scenarios' seeds differ"
            ),
            "{err}"
        );
    }

    /// A shard may hold no run of a scenario (more shards than runs): its section is
    /// not judged, and the merge judges the scenario from every shard's runs.
    #[test]
    fn a_shard_without_runs_of_a_scenario_merges_into_the_judged_section() {
        // Shard `k` of 4 of the same sweep of 3 runs: shard 3 holds none.
        let quarter = |k| {
            let (path, mut r) = shard(k % 2);
            let shard = Shard::new(k, 4).expect("a shard");
            let note = r.shard.as_mut().expect("a note");
            (note.index, note.count) = (shard.index, shard.count);
            r.runs = shard.take((1..=3u64).collect()).iter().map(|s| {
                let verdicts = [json!({ "name": "inv", "verdict": "pass" })];
                json!({ "file": "a.yaml", "seed": s, "as_expected": true, "invariants": verdicts })
            }).collect();
            let n = r.runs.len() as u64;
            let s = &mut r.sections[0];
            (s.seeds, s.as_expected, s.verdicts[0].pass) = (n, n, n);
            s.sweep_as_expected = (n > 0).then_some(true);
            (path.with_file_name(format!("q{k}.json")), r)
        };
        let empty = quarter(3).1;
        assert!(empty.sections[0].ran_nothing() && empty.sections[0].ended_as_expected());
        assert_eq!(super::super::table::result_cell(&empty.sections[0]), "no runs in this shard");
        let merged = merge(&[quarter(3), quarter(0), quarter(2), quarter(1)]).expect("they merge");
        let section = &merged.sections[0];
        assert_eq!((section.seeds, section.sweep_as_expected), (3, Some(true)));
        assert_eq!(super::super::table::result_cell(section), "as expected");
    }

    #[test]
    fn seeds_are_kept_as_ranges_of_consecutive_seeds() {
        assert_eq!(seed_ranges([1, 2, 3, 7, 9, 10]), [[1, 3], [7, 7], [9, 10]]);
        assert_eq!(seed_ranges([5, 5, u64::MAX]), [[5, 5], [5, 5], [u64::MAX, u64::MAX]]);
        assert!(seed_ranges([]).is_empty());
    }

    #[test]
    fn the_sweep_key_drops_only_the_options_that_do_not_change_what_runs() {
        let args: Vec<String> =
            ["a.yaml", "--shard", "1/3", "--seeds", "9", "--json=x.json", "--jobs", "2", "b.yaml"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        assert_eq!(swept_args(&args), ["a.yaml", "--seeds", "9", "b.yaml"]);
    }
}
