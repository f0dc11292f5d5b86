//! `report`: render reports' HTML again from their JSON, or check a page in a browser.
//!
//! `cargo xtask report JSON...` writes each page beside its JSON (a CI artifact can be
//! rendered long after the run); `--browser-check HTML...` opens pages in headless
//! Chromium (see `browser.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

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
