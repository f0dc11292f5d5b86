//! Reading and writing reports on disk, never over a file patchbay did not make.
//!
//! Each run writes a new `<dir>/<time>.json` and `.html` (a free name is found if
//! that one is taken) and then copies them to `latest.json` and `latest.html`,
//! which it replaces only when they carry patchbay's generator marker. Copies rather
//! than symlinks, so the pair survives being uploaded as a CI artifact or opened on
//! any system.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{FORMAT, GENERATOR, Report};

/// The marker an HTML report carries in its head.
const HTML_MARKER: &str = "<meta name=\"generator\" content=\"patchbay\">";

/// Why a file could not be read as a report.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    NotJson(serde_json::Error),
    /// Valid JSON without patchbay's generator marker.
    NotOurs,
    /// A patchbay JSON of another layout (an older sweep file has none).
    Format(Option<u64>),
    /// The layout is ours but a field is missing or of the wrong type.
    Shape(serde_json::Error),
    /// Every field reads, but they do not fit together (a diagram's arrow from a row
    /// it does not have): an edited file, which would break the page.
    Inconsistent(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read it: {e}"),
            ReadError::NotJson(e) => write!(f, "it is not JSON: {e}"),
            ReadError::NotOurs => f.write_str("it is not a patchbay report (no `\"generator\": \"patchbay\"`)"),
            ReadError::Format(None) => f.write_str(
                "it is a patchbay JSON from before reports had figures (no `format`); run the command again to get one",
            ),
            ReadError::Format(Some(n)) => {
                write!(f, "it has report format {n}, and this patchbay reads format {FORMAT}")
            }
            ReadError::Shape(e) => write!(f, "it is a patchbay report with a bad field: {e}"),
            ReadError::Inconsistent(why) => {
                write!(f, "it is a patchbay report whose figures do not fit together: {why}")
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// The largest report read back: far above what a sweep writes (its figures are
/// bounded; its rows are a few hundred bytes a run), and a bound on what a path that is
/// not a report (a log, a device) can make patchbay read.
pub(crate) const REPORT_SIZE_MAX_BYTES: u64 = 512 * 1024 * 1024;

/// A regular file's whole text, read without blocking on a FIFO or a device (their
/// metadata is checked first) and without reading past [`REPORT_SIZE_MAX_BYTES`].
fn read_regular(path: &Path) -> io::Result<String> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a directory" } else { "not a regular file" };
        return Err(io::Error::other(format!("{} is {what}", path.display())));
    }
    let mut text = String::new();
    let file = std::fs::File::open(path)?;
    file.take(REPORT_SIZE_MAX_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > REPORT_SIZE_MAX_BYTES {
        let message = format!("{} is larger than {REPORT_SIZE_MAX_BYTES} bytes", path.display());
        return Err(io::Error::other(message));
    }
    Ok(text)
}

/// Reads a report's JSON, saying clearly what is wrong with a file that is not one.
pub fn read(path: &Path) -> Result<Report, ReadError> {
    let text = read_regular(path).map_err(ReadError::Io)?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(ReadError::NotJson)?;
    if value.get("generator").and_then(|g| g.as_str()) != Some(GENERATOR) {
        return Err(ReadError::NotOurs);
    }
    match value.get("format").and_then(|v| v.as_u64()) {
        Some(n) if n == u64::from(FORMAT) => {}
        other => return Err(ReadError::Format(other)),
    }
    let report: Report = serde_json::from_value(value).map_err(ReadError::Shape)?;
    check_consistent(&report).map_err(ReadError::Inconsistent)?;
    Ok(report)
}

/// The page indexes diagrams' rows and lanes and a histogram's buckets by what the
/// JSON says; a report this patchbay wrote always fits, an edited one is checked.
fn check_consistent(report: &Report) -> Result<(), String> {
    for s in &report.sections {
        for d in &s.sequences {
            let rows = d.rows.len() as u64;
            let row_ok = |r: u32| u64::from(r) < rows;
            if let Some(a) =
                d.arrows.iter().find(|a| !row_ok(a.from_row) || !a.to_row.is_none_or(row_ok))
            {
                return Err(format!("`{}`: an arrow from row {} of {rows}", s.name, a.from_row));
            }
            if d.faults
                .iter()
                .any(|f| !row_ok(f.from_row) || !row_ok(f.to_row) || f.from_row > f.to_row)
            {
                return Err(format!(
                    "`{}`: a fault band outside the diagram's {rows} rows",
                    s.name
                ));
            }
            let lane_ok = |l: &Option<u32>| l.is_none_or(|l| (l as usize) < d.lanes.len());
            if d.arrows.iter().any(|a| !lane_ok(&a.from_lane) || !lane_ok(&a.to_lane)) {
                return Err(format!("`{}`: an arrow to a lane the diagram does not have", s.name));
            }
            if d.rows.iter().any(|r| r.lane.is_some_and(|l| l as usize >= d.lanes.len())) {
                return Err(format!("`{}`: a row in a lane the diagram does not have", s.name));
            }
        }
        if let Some(latency) = &s.metrics.latency {
            let buckets = &latency.histogram.buckets;
            let ordered = buckets.windows(2).all(|w| w[0].0 < w[1].0);
            let span = buckets
                .last()
                .map_or(0, |b| b.0)
                .saturating_sub(buckets.first().map_or(0, |b| b.0));
            // Eight buckets per doubling of a u64 of microseconds: 512 at most.
            if !ordered || span > 8 * 64 {
                return Err(format!("`{}`: latency buckets out of order or out of range", s.name));
            }
        }
    }
    Ok(())
}

/// Whether patchbay wrote the file at `path` (a JSON with the generator field, or a
/// page with the generator meta tag). A file that cannot be read is not ours.
pub fn is_ours(path: &Path) -> bool {
    let Ok(text) = read_regular(path) else { return false };
    if text.trim_start().starts_with('{') {
        serde_json::from_str::<serde_json::Value>(&text)
            .is_ok_and(|v| v.get("generator").and_then(|g| g.as_str()) == Some(GENERATOR))
    } else {
        text.get(..2048.min(text.len())).is_some_and(|head| head.contains(HTML_MARKER))
    }
}

/// The error for a file in the way that patchbay did not make.
fn refuse(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} exists and is not a patchbay report; refusing to overwrite it (move it, or choose another path)",
            path.display()
        ),
    )
}

/// Refuses, before any work is done, a report path that [`write_pair`] would refuse
/// or fail on: the JSON or the page beside it held by a file patchbay did not write, or
/// by a directory, or by a symbolic link that leads nowhere; a JSON whose page would be
/// itself; or a folder on the way that is a file.
pub fn check_pair_path(json: &Path) -> io::Result<()> {
    check_target(json)?;
    check_page_path(json)
}

/// Refuses, before any work is done, the page [`write_html`] would write beside the
/// JSON at `json`: held by something [`check_pair_path`] refuses, or the JSON itself.
/// `report FILE.json` checks only this: the JSON is what it reads, not what it writes.
pub fn check_page_path(json: &Path) -> io::Result<()> {
    let html = json.with_extension("html");
    // `X.html` (in any case) would be written as JSON, then replaced by its own page;
    // a JSON that is a link to its page would be too.
    let page_is_json = json.extension().is_some_and(|e| e.eq_ignore_ascii_case("html"))
        || json.canonicalize().is_ok_and(|j| html.canonicalize().is_ok_and(|h| h == j));
    if page_is_json {
        let message = format!(
            "{} would be replaced by its own page: the page is written beside the JSON, \
             named as it is with the extension .html; name the JSON {}",
            json.display(),
            json.with_extension("json").display()
        );
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, message));
    }
    check_target(&html)?;
    json.parent().map_or(Ok(()), check_dir)
}

/// Refuses a file name patchbay cannot write at, or must not: a directory, a symbolic
/// link that leads nowhere (dangling or a loop), or a file patchbay did not write.
fn check_target(path: &Path) -> io::Result<()> {
    if let Some(e) = broken_link(path) {
        return Err(e);
    }
    if path.is_dir() {
        let message = format!("{} is a directory; name a file for the report", path.display());
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, message));
    }
    if path.exists() && !is_ours(path) {
        return Err(refuse(path));
    }
    Ok(())
}

/// The error for a symbolic link at `path` that cannot be followed (its target is
/// missing, or it is part of a loop): writing through it fails, and only after the
/// work is done, so it is refused first. `None` for anything else.
fn broken_link(path: &Path) -> Option<io::Error> {
    std::fs::symlink_metadata(path).ok().filter(|m| m.file_type().is_symlink())?;
    let e = std::fs::metadata(path).err()?;
    let message = format!(
        "{} is a symbolic link that cannot be followed ({e}); remove it, or name another path",
        path.display()
    );
    Some(io::Error::new(io::ErrorKind::AlreadyExists, message))
}

/// Refuses a report folder that cannot be one: a file holds its name or that of a
/// folder on the way to it, or a symbolic link there leads nowhere.
pub fn check_dir(dir: &Path) -> io::Result<()> {
    for at in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        match std::fs::metadata(at) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => {
                let message =
                    format!("{} is a file, so nothing can be written under it", at.display());
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, message));
            }
            Err(_) => {
                if let Some(e) = broken_link(at) {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Writes `text` to `path` unless a file patchbay did not make is there.
fn write_if_ours(path: &Path, text: &str) -> io::Result<()> {
    if path.exists() && !is_ours(path) {
        return Err(refuse(path));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// Writes the report's JSON at `json` and its page beside it (same name, `.html`),
/// refusing to replace either if it is not patchbay's. Returns the page's path.
pub fn write_pair(json: &Path, report: &Report) -> io::Result<PathBuf> {
    // Both are checked before either is written, so a refusal leaves nothing half done.
    check_pair_path(json)?;
    write_if_ours(json, &report.to_json())?;
    write_html(json, report)
}

/// Writes the report's page beside its JSON at `json` (same name, `.html`), refusing
/// to replace a file that is not patchbay's. Returns the page's path.
pub fn write_html(json: &Path, report: &Report) -> io::Result<PathBuf> {
    check_page_path(json)?;
    let html = json.with_extension("html");
    write_if_ours(&html, &report.to_html())?;
    Ok(html)
}

/// What [`write()`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub json: PathBuf,
    pub html: PathBuf,
    /// `latest.html`, when it was updated; `None` when a file someone else made holds
    /// the name (it is left alone).
    pub latest: Option<PathBuf>,
}

/// Writes a new pair in `dir`, named after the report's creation time, and updates
/// `latest.json` and `latest.html` there if they are patchbay's or absent.
pub fn write(dir: &Path, report: &Report) -> io::Result<Written> {
    std::fs::create_dir_all(dir)?;
    let stem = stem_of(&report.created);
    let json = (1..)
        .map(|n| {
            if n == 1 {
                dir.join(format!("{stem}.json"))
            } else {
                dir.join(format!("{stem}-{n}.json"))
            }
        })
        .find(|p| !p.exists() && !p.with_extension("html").exists())
        .expect("some suffix is free");
    let (json_text, html_text) = (report.to_json(), report.to_html());
    std::fs::write(&json, &json_text)?;
    let html = json.with_extension("html");
    std::fs::write(&html, &html_text)?;
    let (latest_json, latest_html) = (dir.join("latest.json"), dir.join("latest.html"));
    let free = |p: &Path| !p.exists() || is_ours(p);
    let latest = if free(&latest_json) && free(&latest_html) {
        std::fs::write(&latest_json, &json_text)?;
        std::fs::write(&latest_html, &html_text)?;
        Some(latest_html)
    } else {
        None
    };
    Ok(Written { json, html, latest })
}

/// A file name from a creation time: `2026-11-21T08:20:49Z` → `2026-11-21T08-20-49Z`.
fn stem_of(created: &str) -> String {
    let cleaned: String = created
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() { "report".to_owned() } else { cleaned.replace("--", "-") }
}

/// The current UTC time as `2026-11-21T08:20:49Z`, for [`Report::created`]. Wall
/// clock, read by the tools outside any simulation.
pub fn now_utc() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder for the test `name`.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("patchbay-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    }

    /// From the CLI probe (B2): `--json X.html` wrote the JSON, then its page over it.
    #[test]
    #[cfg(unix)]
    fn a_json_path_whose_page_would_be_itself_is_refused() {
        let dir = scratch("page");
        for name in ["same.html", "same.HTML"] {
            let err = check_pair_path(&dir.join(name)).expect_err(name).to_string();
            assert!(err.ends_with(&format!("{name} would be replaced by its own page: the page is written beside the JSON, named as it is with the extension .html; name the JSON {}", dir.join("same.json").display())), "{err}");
            assert!(check_page_path(&dir.join(name)).is_err(), "`report {name}` too");
        }
        // A JSON that is a link to its own page, both patchbay's.
        let report = Report::new(super::super::Kind::Sim, "t", "c").to_json();
        std::fs::write(dir.join("r.html"), &report).expect("written");
        std::os::unix::fs::symlink("r.html", dir.join("r.json")).expect("a link");
        let err = check_pair_path(&dir.join("r.json")).expect_err("a link to its page");
        assert!(err.to_string().contains("r.json would be replaced by its own page"), "{err}");
        assert!(check_pair_path(&dir.join("fresh.json")).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// From the CLI probe (D5): a dangling link or a loop at the report's path, or on
    /// the way to it, failed only when written, after the runs, as an internal error.
    #[test]
    #[cfg(unix)]
    fn a_symbolic_link_that_leads_nowhere_is_refused_naming_it() {
        let dir = scratch("links");
        std::os::unix::fs::symlink("nowhere/dangling.json", dir.join("dang.json")).expect("link");
        std::os::unix::fs::symlink("loop2", dir.join("loop1")).expect("link");
        std::os::unix::fs::symlink("loop1", dir.join("loop2")).expect("link");
        std::os::unix::fs::symlink("gone", dir.join("page.html")).expect("link");
        for (json, at) in [
            ("dang.json", "dang.json"),
            ("loop1", "loop1"),
            ("loop1/x.json", "loop1"),
            ("page.json", "page.html"),
        ] {
            let err = check_pair_path(&dir.join(json)).expect_err(json).to_string();
            let says =
                format!("{} is a symbolic link that cannot be followed", dir.join(at).display());
            assert!(err.starts_with(&says), "{json}: {err}");
            assert!(err.ends_with("; remove it, or name another path"), "{json}: {err}");
        }
        assert!(check_dir(&dir.join("loop2/reports")).is_err(), "a folder through a loop");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
