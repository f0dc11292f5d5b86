//! `test`: the README's test command. Installs what the tests need that cargo does
//! not (pynng, the real NNG peer of the interop tests), then runs the workspace tests.

use std::process::{Command, ExitCode};

use anyhow::Context as _;

/// pynng bundles NNG; pinned because NNG's defaults changed across versions
/// (messaging-semantics.md: the receive limit differs between 1.1, 1.11 and later).
const PYNNG: &str = "pynng==0.9.0";

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn has_pynng() -> bool {
    Command::new(python()).args(["-c", "import pynng"]).output().is_ok_and(|o| o.status.success())
}

pub fn test(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    if !has_pynng() {
        println!("installing {PYNNG} for the NNG interop tests");
        let status = Command::new(python())
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", PYNNG])
            .status()
            .context("running pip (is python3 with pip installed?)")?;
        anyhow::ensure!(
            status.success() && has_pynng(),
            "could not install {PYNNG}; the interop tests need it"
        );
    }
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
