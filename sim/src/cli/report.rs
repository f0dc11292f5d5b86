//! `report`: render reports' HTML again from their JSON; and [`save`], how `sim`,
//! `real`, `compare` and `explore` write theirs.
//!
//! `TOOL report JSON...` writes each page beside its JSON (a CI artifact can be
//! rendered long after the run).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::Ctx;
use super::args::{MergeArgs, ReportArgs, ReportCommand};
use super::error::Error;
use crate::report::Report;

pub fn report(ctx: &Ctx, args: ReportArgs) -> Result<ExitCode, Error> {
    if let Some(ReportCommand::Merge(m)) = args.merge {
        return merge(ctx, &m);
    }
    // Every page's path is checked before any is rendered, as the sweeps check theirs.
    // Only the page's: the JSON is read, never written, so what is wrong with it is
    // said when it is read (not JSON, not a report), not as a refusal to overwrite it.
    let refused = args.files.iter().filter(|json| !check_page(json)).count();
    if refused > 0 {
        return Ok(ExitCode::from(2));
    }
    let mut bad = false;
    for json in &args.files {
        if let Err(e) = render_one(json) {
            errln!("error: {}: {e}", json.display());
            bad = true;
        }
    }
    Ok(if bad { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn render_one(json: &Path) -> Result<(), String> {
    let started = Instant::now();
    let report = crate::report::read(json).map_err(|e| e.to_string())?;
    let html = crate::report::write_html(json, &report).map_err(|e| e.to_string())?;
    outln!("wrote {} ({} ms)", html.display(), started.elapsed().as_millis());
    Ok(())
}

/// `report merge OUT SHARD...`: reads every shard's report (refusing a file that is
/// not one, naming it), merges them (`report/merge.rs`), writes the pair at OUT and
/// prints the verdict table; ends with the line and exits as the unsharded `sim` would.
fn merge(ctx: &Ctx, args: &MergeArgs) -> Result<ExitCode, Error> {
    let out = super::check::absolute(&args.out)?;
    if let Some(why) = out_is_a_shard(&args.out, &args.shards) {
        errln!("error: {why}");
        return Ok(ExitCode::from(2));
    }
    if !check_place(&Place::At(&out)) {
        return Ok(ExitCode::from(2));
    }
    let mut shards = Vec::new();
    for path in &args.shards {
        match crate::report::read(path) {
            Ok(r) => shards.push((ctx.shown(path), r)),
            Err(e) => {
                errln!("error: {}: {e}", path.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let mut report = match crate::report::merge::merge(&shards) {
        Ok(r) => r,
        Err(why) => {
            errln!("error: {why}");
            return Ok(ExitCode::from(2));
        }
    };
    outln!("merged {} shard report(s): {}", shards.len(), report.command);
    let unexpected = super::table::print_sim(&report);
    if !save(&mut report, Place::At(&out))? {
        return Ok(ExitCode::from(2));
    }
    // Ends as the unsharded `sim` does, from the merged table.
    outln!("{}", super::sim::last_line(unexpected == 0));
    Ok(if unexpected == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Why `report merge` must not write at `out`: it, or the page beside it, is one of
/// the `shards` (under any spelling of the path, or through a link), which the merge
/// would replace, losing that shard's runs. Patchbay wrote the shard, so the usual
/// check of a report path lets it be replaced; this one does not.
fn out_is_a_shard(out: &Path, shards: &[PathBuf]) -> Option<String> {
    let page = out.with_extension("html");
    for written in [out, page.as_path()] {
        let Ok(same) = written.canonicalize() else { continue };
        if let Some(shard) = shards.iter().find(|s| s.canonicalize().is_ok_and(|s| s == same)) {
            let what =
                if written == out { "the merged report" } else { "the merged report's page" };
            let is = if shard == written {
                format!("{} is also given as a shard report", written.display())
            } else {
                format!(
                    "{} is the shard report {} (the same file)",
                    written.display(),
                    shard.display()
                )
            };
            return Some(format!(
                "{is}: writing {what} there would lose that shard; name another OUT \
                 (`report merge OUT.json SHARD.json...`)"
            ));
        }
    }
    None
}

/// Checks, before any page is rendered, that the page beside `json` can be written
/// (see [`crate::report::check_page_path`]); prints the reason when not.
fn check_page(json: &Path) -> bool {
    match crate::report::check_page_path(json) {
        Ok(()) => true,
        Err(e) => {
            errln!("error: {e}");
            false
        }
    }
}

/// Where [`save`] puts a report.
#[derive(Clone, Copy, Debug)]
pub enum Place<'a> {
    /// A new pair named after the report's time in this folder, copied to `latest.*`.
    Dated(&'a Path),
    /// The JSON at this path (`--json PATH`, an exploration's case stem), the page
    /// beside it.
    At(&'a Path),
}

/// Checks, before the first run, that [`save`] will be able to write at `place`:
/// a sweep that ran for an hour must not end in a refusal. Prints the reason and
/// returns false when it will not.
pub fn check_place(place: &Place<'_>) -> bool {
    let checked = match place {
        Place::At(json) => crate::report::check_pair_path(json),
        Place::Dated(dir) => crate::report::check_dir(dir),
    };
    match checked {
        Ok(()) => true,
        Err(e) => {
            errln!("error: {e}");
            false
        }
    }
}

/// Stamps `report` with the time and writes it, printing where. Returns false when a
/// file patchbay did not write is in the way: that is the user's, so the error is
/// printed and the command should exit 2, not 1.
pub fn save(report: &mut Report, place: Place<'_>) -> Result<bool, Error> {
    save_json(report, place).map(|json| json.is_some())
}

/// [`save`], returning the JSON's path when it was written.
pub fn save_json(report: &mut Report, place: Place<'_>) -> Result<Option<PathBuf>, Error> {
    report.created = crate::report::now_utc();
    let written = match place {
        Place::At(json) => crate::report::write_pair(json, report).map(|html| {
            outln!("wrote {}", json.display());
            outln!("report: {}", html.display());
            json.to_path_buf()
        }),
        Place::Dated(dir) => crate::report::write(dir, report).map(|w| {
            outln!("wrote {}", w.json.display());
            match &w.latest {
                Some(latest) => {
                    outln!("report: {} (also {})", w.html.display(), latest.display())
                }
                None => outln!(
                    "report: {} (latest.json or latest.html in {} is not patchbay's; left alone)",
                    w.html.display(),
                    dir.display()
                ),
            }
            w.json
        }),
    };
    match written {
        Ok(json) => Ok(Some(json)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            errln!("error: {e}");
            Ok(None)
        }
        Err(e) => Err(Error::msg(format!("writing the report: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_path_the_user_owns_is_refused_before_any_run() {
        // From issue 17: `--json` over a file patchbay did not write was refused only
        // after every run had finished; the commands call this first now.
        let dir = std::env::temp_dir().join(format!("patchbay-cli-place-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let user = dir.join("mine.json");
        std::fs::write(&user, "{}").expect("written");
        assert!(!check_place(&Place::At(&user)), "the user's JSON is refused");
        assert!(!check_place(&Place::Dated(&user.join("sub"))), "a folder under a file is refused");
        assert!(check_place(&Place::At(&dir.join("fresh.json"))), "a new path is taken");
        assert!(check_place(&Place::Dated(&dir.join("reports"))), "a new folder is taken");
        assert_eq!(std::fs::read_to_string(&user).expect("still there"), "{}", "left untouched");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
