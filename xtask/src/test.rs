//! `test`: the README's test command. Installs what the tests need that cargo does
//! not (pynng and pyzmq, the real NNG and libzmq peers of the interop tests; Debian's
//! nanomsg-utils, whose nanocat is the real nanomsg peer), then runs the workspace
//! tests.

use std::process::{Command, ExitCode};

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
    println!("installing {pin} for {why}");
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
    println!("installing Debian's nanomsg-utils (nanocat) for the nanomsg interop tests");
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
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(crate::root())
        .args(["test", "--workspace"])
        .args(&argv)
        .status()
        .context("running cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8)
    })
}
