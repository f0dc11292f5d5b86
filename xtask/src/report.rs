//! `report`: render reports' HTML again from their JSON, or check a page in a browser;
//! and [`save`], how `sim`, `real`, `compare` and `explore` write theirs.
//!
//! `cargo xtask report JSON...` writes each page beside its JSON (a CI artifact can be
//! rendered long after the run); `--browser-check HTML...` opens pages in headless
//! Chromium (see `browser.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use patchbay::report::Report;

use crate::args;
use crate::check::{absolute, usage_error};

pub fn report(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let args = match args::parse(argv, &["screenshot"], &["browser-check"]) {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    if args.files.is_empty() {
        return usage_error("report needs JSON files (or, with --browser-check, HTML files)");
    }
    if args.flag("browser-check") {
        let screenshot = args.value("screenshot").map(PathBuf::from);
        if screenshot.is_some() && args.files.len() > 1 {
            return usage_error("--screenshot names one file; check one page at a time with it");
        }
        let mut bad = false;
        for page in &args.files {
            let shot = screenshot.clone().unwrap_or_else(|| page.with_extension("png"));
            match crate::browser::check(&absolute(page)?, &shot) {
                Ok(()) => {
                    println!("browser check: {} ok (screenshot {})", page.display(), shot.display())
                }
                Err(e) => {
                    eprintln!("browser check: {} FAILED: {e:#}", page.display());
                    bad = true;
                }
            }
        }
        return Ok(if bad { ExitCode::from(2) } else { ExitCode::SUCCESS });
    }
    if let Some(opt) = args.value("screenshot").map(|_| "--screenshot") {
        return usage_error(&format!("{opt} goes with --browser-check"));
    }
    // Every page's path is checked before any is rendered, as the sweeps check theirs.
    let refused = args.files.iter().filter(|json| !check_place(&Place::At(json))).count();
    if refused > 0 {
        return Ok(ExitCode::from(2));
    }
    let mut bad = false;
    for json in &args.files {
        if let Err(e) = render_one(json) {
            eprintln!("error: {}: {e}", json.display());
            bad = true;
        }
    }
    Ok(if bad { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn render_one(json: &Path) -> Result<(), String> {
    let started = Instant::now();
    let report = patchbay::report::read(json).map_err(|e| e.to_string())?;
    let html = patchbay::report::write_html(json, &report).map_err(|e| e.to_string())?;
    println!("wrote {} ({} ms)", html.display(), started.elapsed().as_millis());
    Ok(())
}

/// The command as the user would type it again: `cargo xtask sim scenarios/x.yaml
/// --seeds 4`, quoting arguments a shell would split.
pub fn command_line(sub: &str, argv: &[String]) -> String {
    let mut line = format!("cargo xtask {sub}");
    for a in argv {
        let plain = !a.is_empty()
            && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c));
        if plain {
            line.push(' ');
            line.push_str(a);
        } else {
            line.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
        }
    }
    line
}

/// Where [`save`] puts a report.
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
        Place::At(json) => patchbay::report::check_pair_path(json),
        Place::Dated(dir) => patchbay::report::check_dir(dir),
    };
    match checked {
        Ok(()) => true,
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

/// Stamps `report` with the time and writes it, printing where. Returns false when a
/// file patchbay did not write is in the way: that is the user's, so the error is
/// printed and the command should exit 2, not 1.
pub fn save(report: &mut Report, place: Place<'_>) -> anyhow::Result<bool> {
    report.created = patchbay::report::now_utc();
    let written = match place {
        Place::At(json) => patchbay::report::write_pair(json, report).map(|html| {
            println!("wrote {}", json.display());
            println!("report: {}", html.display());
        }),
        Place::Dated(dir) => patchbay::report::write(dir, report).map(|w| {
            println!("wrote {}", w.json.display());
            match &w.latest {
                Some(latest) => {
                    println!("report: {} (also {})", w.html.display(), latest.display())
                }
                None => println!(
                    "report: {} (latest.json or latest.html in {} is not patchbay's; left alone)",
                    w.html.display(),
                    dir.display()
                ),
            }
        }),
    };
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("error: {e}");
            Ok(false)
        }
        Err(e) => Err(e).context("writing the report"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_path_the_user_owns_is_refused_before_any_run() {
        // From issue 17: `--json` over a file patchbay did not write was refused only
        // after every run had finished; the commands call this first now.
        let dir = std::env::temp_dir().join(format!("patchbay-xtask-place-{}", std::process::id()));
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
