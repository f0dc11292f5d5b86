//! The regression file: the cases an exploration found failing, kept beside the
//! scenario so that the next exploration replays them before drawing new ones.
//!
//! proptest keeps `*.proptest-regressions` files for the same reason: a failure found
//! once in CI should be the first thing checked on every later run, not something
//! the search may or may not draw again. A case is named by the generator seed of the
//! search that drew it and its index in that search (`seed=1 case=17`): generating is
//! deterministic, so the pair draws the same case again as long as the scenario's
//! space (what it lets vary) is unchanged. Lines are only ever appended; a case whose
//! failure has been fixed stays and keeps passing, as proptest's do.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::spec::diag::Code;
use crate::spec::{Diagnostic, Location, Severity, SourceFile};

/// What names a regression file beside a scenario: `lossy.yaml` keeps
/// `lossy.explore-regressions`.
pub const REGRESSIONS_EXTENSION: &str = "explore-regressions";

/// The largest case index a line may name: replaying draws every case before it,
/// so an edited line must not make the next test draw for hours.
pub(crate) const CASE_INDEX_MAX: u64 = 1_000_000;

/// One case an exploration drew: its search's generator seed and its index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CaseRef {
    pub seed: u64,
    pub case: u64,
}

impl std::fmt::Display for CaseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seed={} case={}", self.seed, self.case)
    }
}

/// The regression file kept for the scenario at `scenario`, in `dir`.
pub fn regressions_path(dir: &Path, scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(|| "scenario".into(), |s| s.to_os_string());
    let mut name = stem;
    name.push(".");
    name.push(REGRESSIONS_EXTENSION);
    dir.join(name)
}

/// The cases in the file at `path`, in file order; none when there is no file. A line
/// that is not a case is an error naming its place, never skipped.
#[allow(clippy::result_large_err, reason = "as `SourceFile::read`, once per exploration")]
pub fn read_regressions(path: &Path) -> Result<Vec<CaseRef>, Diagnostic> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let src = SourceFile::read(path)?;
    let mut cases = Vec::new();
    for (i, line) in src.text.lines().enumerate() {
        let body = line.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        let case = parse_case(body).ok_or_else(|| bad_line(path, i + 1, line))?;
        if !cases.contains(&case) {
            cases.push(case);
        }
    }
    Ok(cases)
}

fn parse_case(body: &str) -> Option<CaseRef> {
    let mut words = body.split_whitespace();
    let seed = words.next()?.strip_prefix("seed=")?.parse().ok()?;
    let case = words.next()?.strip_prefix("case=")?.parse().ok()?;
    (words.next().is_none() && case <= CASE_INDEX_MAX).then_some(CaseRef { seed, case })
}

fn bad_line(path: &Path, line: usize, text: &str) -> Diagnostic {
    let column = text.len() - text.trim_start().len() + 1;
    let mut d = Diagnostic::new(
        Severity::Error,
        Code::BadRegression,
        format!(
            "expected a case as `seed=<generator seed> case=<index>` (an index of at most \
             {CASE_INDEX_MAX}), optionally followed by a `#` comment"
        ),
        path,
    );
    d.location = Some(Location { line, column });
    d.excerpt = Some(text.to_owned());
    d.hint("the file is written by exploration; delete the line (or the file) to start afresh");
    d
}

/// The comment block a new regression file opens with.
fn header(scenario: &Path) -> String {
    format!(
        "# Cases that failed while exploring {}.\n\
         # Each line names one by its search's generator seed and its index there; the\n\
         # next exploration of the scenario replays these first, in this order, before it\n\
         # draws new cases. Keep the file in version control. A line stays after its\n\
         # failure is fixed (it then passes); delete the file to start afresh.\n",
        scenario.display()
    )
}

/// Appends `case` with a comment (what it broke, where its shrunk form was written),
/// creating the file with its header first. A case already listed is not added again.
/// Returns whether a line was added.
pub fn append_regression(
    path: &Path,
    scenario: &Path,
    case: CaseRef,
    comment: &str,
) -> std::io::Result<bool> {
    if case.case > CASE_INDEX_MAX {
        let message =
            format!("case {} is past the {CASE_INDEX_MAX} a regression file keeps", case.case);
        return Err(std::io::Error::other(message));
    }
    let known = read_regressions(path).map_err(|d| std::io::Error::other(d.message))?;
    if known.contains(&case) {
        return Ok(false);
    }
    let fresh = !path.exists();
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    if fresh {
        file.write_all(header(scenario).as_bytes())?;
    }
    let comment = comment.replace(['\n', '\r'], " ");
    writeln!(file, "{case} # {comment}")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_line_reads_back_and_a_bad_one_is_named() {
        assert_eq!(parse_case("seed=1 case=17"), Some(CaseRef { seed: 1, case: 17 }));
        assert_eq!(parse_case("seed=1"), None);
        assert_eq!(parse_case("seed=1 case=2 extra"), None);
        assert_eq!(parse_case("case=2 seed=1"), None);
        assert_eq!(parse_case(&format!("seed=1 case={}", CASE_INDEX_MAX + 1)), None);
        let d = bad_line(Path::new("x.explore-regressions"), 4, "  seed=one case=2");
        assert_eq!(d.location, Some(Location { line: 4, column: 3 }));
        assert!(d.message.contains("seed=<generator seed> case=<index>"), "{}", d.message);
        assert!(d.hint.is_some());
    }

    #[test]
    fn the_file_is_named_after_the_scenario() {
        let path = regressions_path(Path::new("/t"), Path::new("scenarios/lossy.yaml"));
        assert_eq!(path, Path::new("/t/lossy.explore-regressions"));
    }
}
