//! The browser test: open a report in headless Chromium, screenshot it, and fail on
//! console output or on a section the page's own self-check found missing or empty.
//!
//! Chromium is Debian's `chromium` package (`.ci/run` installs it), or whatever
//! `$CHROMIUM` names. It runs twice on a fresh profile: once with `--dump-dom` to
//! read `<body data-selfcheck>` (set by the page's script: `ok`, or what is wrong)
//! with console logging on stderr, once with `--screenshot`. Chromium logs every
//! console message at the same level, and the page prints none, so any console line
//! fails the check: an uncaught exception, a refused resource, a `console.error`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Each Chromium run gets this long before it is killed.
const TIMEOUT: Duration = Duration::from_secs(90);

/// Flags for a quiet, isolated headless run that touches no network.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// Checks the page at `page` (an absolute path) and writes its screenshot to `shot`.
pub fn check(page: &Path, shot: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(page.is_file(), "{} is not a file", page.display());
    let chromium = find_chromium()?;
    let url = format!("file://{}", page.display());
    let profile = std::env::temp_dir().join(format!("patchbay-chromium-{}", std::process::id()));
    let result = (|| {
        let (dom, log) =
            run(&chromium, &profile, &["--enable-logging=stderr", "--v=0", "--dump-dom", &url])?;
        let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
        if !console.is_empty() {
            bail!("the page wrote to the browser console:\n  {}", console.join("\n  "));
        }
        let verdict = selfcheck(&dom).context("the page's self-check did not run")?;
        if verdict != "ok" {
            bail!("the page's self-check says: {verdict}");
        }
        let shot_arg = format!("--screenshot={}", std::path::absolute(shot)?.display());
        run(&chromium, &profile, &[&shot_arg, "--window-size=1400,4000", &url])?;
        anyhow::ensure!(shot.is_file(), "Chromium wrote no screenshot at {}", shot.display());
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&profile);
    result
}

/// The value of `data-selfcheck` on the dumped DOM's `<body>`.
fn selfcheck(dom: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let tag = &body[..body.find('>')?];
    let start = tag.find("data-selfcheck=\"")? + "data-selfcheck=\"".len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].replace("&amp;", "&"))
}

fn find_chromium() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(found) =
            std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
        {
            return Ok(found);
        }
    }
    bail!("no Chromium found (install Debian's `chromium`, as `.ci/run` does, or set $CHROMIUM)")
}

/// Runs Chromium with `args` on the profile `profile`, returning stdout and stderr.
fn run(chromium: &Path, profile: &Path, args: &[&str]) -> anyhow::Result<(String, String)> {
    let _ = std::fs::remove_dir_all(profile);
    std::fs::create_dir_all(profile)?;
    let (out_path, err_path) = (profile.join("stdout.txt"), profile.join("stderr.txt"));
    let mut child = Command::new(chromium)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.join("data").display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::fs::File::create(&err_path)?)
        .spawn()
        .with_context(|| format!("starting {}", chromium.display()))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("Chromium did not finish within {} s", TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    anyhow::ensure!(status.success(), "Chromium exited with {status}:\n{stderr}");
    Ok((stdout, stderr))
}
