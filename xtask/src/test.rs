//! `test`: the README's test command. Installs what the tests need that cargo does
//! not (pynng and pyzmq, the real NNG and libzmq peers of the interop tests; Debian's
//! nanomsg-utils, whose nanocat is the real nanomsg peer), then runs the workspace
//! tests, passing their output through as it comes, and ends with what a newcomer
//! needs at the bottom of a thousand lines: how many passed and failed, each failure by
//! name, and the command that runs it again.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context as _;

/// pynng bundles NNG; pinned because NNG's defaults changed across versions
/// (docs/library-semantics.md, "Option defaults": the receive limit differs between NNG 1.1, 1.11 and later).
const PYNNG: &str = "pynng==0.9.0";

/// pyzmq bundles libzmq 4.3.5, the ZMTP 3.1 peer of `tests/zmtp_interop.rs`; pinned so
/// the libzmq version the tests assert stays the one they were written against.
const PYZMQ: &str = "pyzmq==26.2.0";

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn has_module(module: &str) -> bool {
    let import = format!("import {module}");
    Command::new(python()).args(["-c", &import]).output().is_ok_and(|o| o.status.success())
}

/// Installs `pin` with pip unless `module` already imports.
fn ensure_installed(module: &str, pin: &str, why: &str) -> anyhow::Result<()> {
    if has_module(module) {
        return Ok(());
    }
    outln!("installing {pin} for {why}");
    let status = Command::new(python())
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", pin])
        .status()
        .context("running pip (is python3 with pip installed?)")?;
    anyhow::ensure!(
        status.success() && has_module(module),
        "could not install {pin}; {why} need it"
    );
    Ok(())
}

/// Installs Debian's nanomsg-utils (nanocat 1.1.5, nanomsg's own command-line tool)
/// unless `nanocat` is on the PATH: the nanomsg peer of `sim/tests/sp_matrix.rs` and
/// `xtask/tests/cat.rs`. Through apt-get, with sudo unless run as root.
fn ensure_nanocat() -> anyhow::Result<()> {
    let on_path = || {
        Command::new("sh")
            .args(["-c", "command -v nanocat"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if on_path() {
        return Ok(());
    }
    outln!("installing Debian's nanomsg-utils (nanocat) for the nanomsg interop tests");
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| {
        let mut command = Command::new(if root { "env" } else { "sudo" });
        if !root {
            command.arg("env");
        }
        command.arg("DEBIAN_FRONTEND=noninteractive").arg("apt-get").args(args);
        command.status().context("running apt-get (is this Debian or Ubuntu?)")
    };
    apt(&["update", "-qq"])?;
    let status = apt(&["install", "-y", "-qq", "nanomsg-utils"])?;
    anyhow::ensure!(
        status.success() && on_path(),
        "could not install nanomsg-utils; the nanomsg interop tests need its nanocat \
         (install it with `apt-get install nanomsg-utils`)"
    );
    Ok(())
}

pub fn test(argv: Vec<std::ffi::OsString>) -> anyhow::Result<ExitCode> {
    ensure_installed("pynng", PYNNG, "the NNG interop tests")?;
    ensure_installed("zmq", PYZMQ, "the ZMTP interop tests")?;
    ensure_nanocat()?;
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(crate::root())
        .args(["test", "--workspace"])
        .args(&argv)
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo test")?;
    let mut tally = Tally::default();
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(cargo.stdout.take().expect("piped")).split(b'\n') {
        let line = line.context("reading cargo test's output")?;
        // Output nobody reads any more is dropped; the tests run on to their end.
        let _ = out.write_all(&line).and_then(|()| out.write_all(b"\n"));
        tally.read(&String::from_utf8_lossy(&line));
    }
    let status = cargo.wait().context("waiting for cargo test")?;
    let _ = writeln!(out, "{}", tally.summary(status.success()));
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8)
    })
}

/// What the test harnesses printed, summed over every test binary and doc-test run.
#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    runs: u64,
    /// The failed tests by name, as the harness printed them.
    failures: Vec<String>,
}

impl Tally {
    /// Takes one line of `cargo test`'s output into account.
    fn read(&mut self, line: &str) {
        if let Some(result) = line.strip_prefix("test result: ") {
            let count = |what: &str| {
                let (before, _) = result.split_once(&format!(" {what}"))?;
                before.rsplit([' ', ';', '.']).next()?.parse::<u64>().ok()
            };
            self.passed += count("passed").unwrap_or(0);
            self.failed += count("failed").unwrap_or(0);
            self.runs += 1;
        } else if let Some(name) =
            line.strip_prefix("test ").and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            self.failures.push(name.to_owned());
        }
    }

    /// The closing lines; `succeeded` is cargo's own verdict, which also fails on a
    /// build error, where no test ran.
    fn summary(&self, succeeded: bool) -> String {
        let mut text = format!(
            "\ncargo xtask test: {} passed, {} failed, in {} test runs",
            self.passed, self.failed, self.runs
        );
        for name in &self.failures {
            text.push_str(&format!("\n  FAILED {name}\n    rerun: cargo xtask test {name}"));
        }
        if !succeeded && self.failures.is_empty() {
            text.push_str("\n  cargo test failed before a test did (a build error?): see above");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_sums_every_run_and_names_each_failure_with_its_rerun() {
        let mut tally = Tally::default();
        for line in [
            "test spec::yaml::tests::loads ... ok",
            "test conformance::rows::router_full ... FAILED",
            "test result: FAILED. 281 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 190.66s",
            "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 270 filtered out; finished in 0.52s",
            "    conformance::rows::router_full",
        ] {
            tally.read(line);
        }
        assert_eq!(
            tally.summary(false),
            "\ncargo xtask test: 293 passed, 1 failed, in 2 test runs\n  \
             FAILED conformance::rows::router_full\n    \
             rerun: cargo xtask test conformance::rows::router_full"
        );
        let mut built_nothing = Tally::default();
        assert!(built_nothing.summary(false).ends_with("(a build error?): see above"));
        built_nothing.read("test result: ok. 3 passed; 0 failed; 0 ignored");
        assert_eq!(
            built_nothing.summary(true),
            "\ncargo xtask test: 3 passed, 0 failed, in 1 test runs"
        );
    }
}
