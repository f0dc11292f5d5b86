//! `cargo xtask bench`: runs the messaging benchmarks (with the peers) and, against a
//! saved baseline, gates on regressions.
//!
//! The benchmarks are criterion's; so are the baselines (`--save-baseline NAME`
//! keeps a run under `target/criterion/<id>/NAME/`, `--baseline NAME` compares the
//! new run with it). The gate reads both runs' `estimates.json` and calls a
//! benchmark regressed only when its new median's confidence interval lies wholly
//! above the baseline's (so the two cannot be the same within criterion's own
//! uncertainty) *and* the median slowed by more than `--max-regression`. Either
//! alone is not enough on a shared machine: noise moves medians by more than 10 %,
//! and tight intervals make tiny changes "significant".

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::SystemTime;

use anyhow::Context as _;
use serde_json::Value;

/// The bench target this command runs.
const BENCH: &str = "messaging";
/// The slowdown allowed when `--max-regression` is not given.
pub const MAX_REGRESSION_DEFAULT: f64 = 0.10;

/// One statistic of criterion's `estimates.json`, in nanoseconds per iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
}

/// What the gate concludes for one benchmark.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Judgement {
    /// Slower beyond doubt and beyond the threshold.
    Regressed { change: f64 },
    /// Slower beyond doubt, but within the threshold.
    SlowerWithinThreshold { change: f64 },
    /// Faster beyond doubt.
    Faster { change: f64 },
    /// The intervals overlap: no change can be told from noise.
    NoChange { change: f64 },
}

impl Judgement {
    fn describe(self) -> String {
        match self {
            Judgement::Regressed { change } => format!("{:+.1}%  REGRESSED", change * 100.0),
            Judgement::SlowerWithinThreshold { change } => {
                format!("{:+.1}%  slower, within the threshold", change * 100.0)
            }
            Judgement::Faster { change } => format!("{:+.1}%  faster", change * 100.0),
            Judgement::NoChange { change } => {
                format!("{:+.1}%  no change (intervals overlap)", change * 100.0)
            }
        }
    }
}

/// Judges a benchmark's new estimate (time per iteration) against its baseline.
pub fn judge(baseline: Estimate, new: Estimate, max_regression: f64) -> Judgement {
    let change = new.point / baseline.point - 1.0;
    if new.lower > baseline.upper {
        if change > max_regression {
            Judgement::Regressed { change }
        } else {
            Judgement::SlowerWithinThreshold { change }
        }
    } else if new.upper < baseline.lower {
        Judgement::Faster { change }
    } else {
        Judgement::NoChange { change }
    }
}

/// `10%`, `10` or `2.5%` as a fraction; anything else is an error that says so.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=1000.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!(
            "--max-regression takes a percentage between 0% and 1000%, like `10%`, not `{text}`"
        )),
    }
}

/// A benchmark filter, checked as criterion will parse it (`Regex::new`) once the
/// benchmarks are built: a filter criterion would refuse is refused here, before
/// minutes of building, with the regex's own message and a hint.
pub fn parse_filter(text: &str) -> Result<String, String> {
    match regex::Regex::new(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(e) => Err(format!(
            "not a regular expression, as criterion reads a filter:\n{e}\n\
             hint: a filter is a regular expression over benchmark ids, such as `push_pull`, \
             `req_rep/patchbay` or `lru_broker/.*/4_workers`; escape a literal `(`, `[` or `.` \
             with `\\`"
        )),
    }
}

/// The median of one `estimates.json`.
pub fn median_of(json: &str) -> Result<Estimate, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let median = &value["median"];
    let field = |v: &Value| v.as_f64().ok_or_else(|| format!("no number in {median}"));
    Ok(Estimate {
        point: field(&median["point_estimate"])?,
        lower: field(&median["confidence_interval"]["lower_bound"])?,
        upper: field(&median["confidence_interval"]["upper_bound"])?,
    })
}

pub fn bench(args: crate::BenchArgs) -> anyhow::Result<ExitCode> {
    let (save, compare) = (args.save_baseline.as_deref(), args.baseline.as_deref());
    let max_regression = args.max_regression.unwrap_or(MAX_REGRESSION_DEFAULT);
    let mut criterion_args: Vec<String> = Vec::new();
    if let Some(name) = save {
        criterion_args.extend(["--save-baseline".into(), name.to_owned()]);
    }
    if let Some(name) = compare {
        criterion_args.extend(["--baseline".into(), name.to_owned()]);
    }
    if args.quick {
        criterion_args.push("--quick".into());
    }
    criterion_args.extend(args.filter.iter().cloned());

    let started = SystemTime::now();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(crate::root())
        .args(["bench", "-p", "patchbay-benches", "--features", "peers", "--bench", BENCH, "--"])
        .args(&criterion_args)
        .status()
        .context("running cargo bench")?;
    if !status.success() {
        errln!("error: the benchmarks failed (see above)");
        return Ok(ExitCode::from(1));
    }
    match compare {
        Some(name) => gate(&criterion_dir(), name, started, max_regression),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Criterion's output directory, as criterion picks it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::root().join("target"), PathBuf::from);
    target.join("criterion")
}

/// Every benchmark directory under `dir` whose `new/` run was written after `since`.
fn fresh_benchmarks(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let estimates = path.join("new").join("estimates.json");
            let modified = std::fs::metadata(&estimates).and_then(|m| m.modified());
            if modified.is_ok_and(|m| m >= since) {
                found.push(path);
            } else if path.file_name().is_some_and(|n| n != "report") {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Compares every benchmark of this run with baseline `name`; exit 1 names the
/// regressions.
fn gate(dir: &Path, name: &str, since: SystemTime, max: f64) -> anyhow::Result<ExitCode> {
    let benchmarks = fresh_benchmarks(dir, since);
    anyhow::ensure!(!benchmarks.is_empty(), "no benchmark results under {}", dir.display());
    outln!(
        "\nregression gate: median time per iteration against baseline `{name}`, threshold {:.1}%",
        max * 100.0
    );
    let mut regressed = Vec::new();
    for bench in &benchmarks {
        let id = bench.strip_prefix(dir).unwrap_or(bench).to_string_lossy().into_owned();
        let read = |run: &str| -> anyhow::Result<Estimate> {
            let file = bench.join(run).join("estimates.json");
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("{id}: no `{run}` run ({})", file.display()))?;
            median_of(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
        };
        // A benchmark added since the baseline was saved has nothing to be judged
        // against: it is named, not failed, so a new id never breaks an old baseline.
        if !bench.join(name).join("estimates.json").exists() {
            outln!("  {id:<45} new since baseline `{name}`: not judged");
            continue;
        }
        let (base, new) = (read(name)?, read("new")?);
        let judgement = judge(base, new, max);
        outln!(
            "  {id:<45} {:>12.1} ns -> {:>12.1} ns  {}",
            base.point,
            new.point,
            judgement.describe()
        );
        if let Judgement::Regressed { change } = judgement {
            regressed.push(format!("{id} ({:+.1}%)", change * 100.0));
        }
    }
    if regressed.is_empty() {
        outln!("no regression beyond {:.1}% in {} benchmark(s)", max * 100.0, benchmarks.len());
        return Ok(ExitCode::SUCCESS);
    }
    errln!("error: {} regression(s) against `{name}`: {}", regressed.len(), regressed.join(", "));
    Ok(ExitCode::from(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(point: f64, lower: f64, upper: f64) -> Estimate {
        Estimate { point, lower, upper }
    }

    #[test]
    fn overlapping_intervals_are_no_change_however_large_the_shift() {
        let judged = judge(est(100.0, 90.0, 130.0), est(125.0, 110.0, 140.0), 0.10);
        assert!(matches!(judged, Judgement::NoChange { .. }), "{judged:?}");
    }

    #[test]
    fn a_clear_slowdown_below_the_threshold_is_not_a_regression() {
        let judged = judge(est(100.0, 99.0, 101.0), est(105.0, 104.0, 106.0), 0.10);
        assert!(matches!(judged, Judgement::SlowerWithinThreshold { .. }), "{judged:?}");
    }

    #[test]
    fn a_clear_slowdown_above_the_threshold_is_a_regression() {
        let judged = judge(est(100.0, 99.0, 101.0), est(120.0, 118.0, 122.0), 0.10);
        match judged {
            Judgement::Regressed { change } => assert!((change - 0.20).abs() < 1e-9),
            other => panic!("expected a regression, got {other:?}"),
        }
    }

    #[test]
    fn a_clear_speedup_is_faster_not_a_regression() {
        let judged = judge(est(100.0, 99.0, 101.0), est(50.0, 49.0, 51.0), 0.10);
        assert!(matches!(judged, Judgement::Faster { .. }), "{judged:?}");
    }

    /// Writes a criterion `estimates.json` whose median is `point` ± 1 ns.
    fn write_estimates(dir: &Path, point: f64) {
        std::fs::create_dir_all(dir).unwrap();
        let ci = format!(r#"{{"lower_bound":{},"upper_bound":{}}}"#, point - 1.0, point + 1.0);
        let json =
            format!(r#"{{"median":{{"confidence_interval":{ci},"point_estimate":{point}}}}}"#);
        std::fs::write(dir.join("estimates.json"), json).unwrap();
    }

    #[test]
    fn a_benchmark_newer_than_the_baseline_is_named_not_failed() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-gate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let since = SystemTime::now() - std::time::Duration::from_secs(60);
        write_estimates(&dir.join("req_rep/patchbay/base"), 100.0);
        write_estimates(&dir.join("req_rep/patchbay/new"), 100.0);
        write_estimates(&dir.join("queue_device/libzmq/new"), 100.0);
        let judged = gate(&dir, "base", since, 0.10).expect("a new id is no error");
        assert_eq!(judged, ExitCode::SUCCESS);
        // The old benchmark is still judged: a regression in it still fails the gate.
        write_estimates(&dir.join("req_rep/patchbay/new"), 200.0);
        assert_eq!(gate(&dir, "base", since, 0.10).expect("judged"), ExitCode::from(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn filters_are_checked_as_criterion_reads_them() {
        for good in ["push_pull", "req_rep/patchbay", "^lru_broker/.*/4_workers$", r"\w+/tokio"] {
            assert_eq!(parse_filter(good).as_deref(), Ok(good));
        }
        for bad in ["(", "req_rep/(patchbay", "push_pull[", "*", "[z-a]", "x{2,1}"] {
            let err = parse_filter(bad).expect_err(bad);
            assert!(err.contains("regex parse error") && err.contains(bad), "{err}");
            assert!(err.contains("hint: a filter is a regular expression"), "{err}");
        }
    }

    #[test]
    fn percentages_parse_with_or_without_the_sign() {
        assert_eq!(parse_percent("10%"), Ok(0.10));
        assert_eq!(parse_percent("2.5"), Ok(0.025));
        assert_eq!(parse_percent("0%"), Ok(0.0));
    }

    #[test]
    fn bad_percentages_are_clear_errors() {
        for bad in ["ten", "-5%", "10%%", "", "1e9", "NaN%"] {
            let err = parse_percent(bad).expect_err(bad);
            assert!(err.contains("--max-regression") && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn criterion_estimates_are_read_from_their_median() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,
            "lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.0,"standard_error":0.1},
            "median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":10.0,
            "upper_bound":30.0},"point_estimate":20.0,"standard_error":1.0}}"#;
        assert_eq!(median_of(json), Ok(est(20.0, 10.0, 30.0)));
        assert!(median_of(r#"{"mean":{}}"#).is_err());
    }
}
