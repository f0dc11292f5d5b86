//! How the user reached patchbay's command line, for the lines it prints back.
//!
//! Repro lines, report headers, explored cases' file headers and hints name a command
//! to type. In this repository that is `cargo xtask`; in a user's crate that calls
//! `patchbay::cli::run` it is whatever the user types to reach their own tool. The
//! name travels in this value, handed down by the caller, never read from a global.

/// The command a user types to reach the tool, and the whole line of this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// What reaches the tool, before any subcommand: `cargo xtask`, `my-tool`.
    pub tool: String,
    /// The whole command as the user would type it again, subcommand and arguments
    /// included (`cargo xtask sim scenarios/x.yaml --seeds 4`).
    pub line: String,
}

/// The tool this repository's own command line is reached by; the default where a
/// caller names none (tests, benches).
pub const DEFAULT_TOOL: &str = "cargo xtask";

impl Invocation {
    /// The run `line` of `tool`.
    pub fn new(tool: impl Into<String>, line: impl Into<String>) -> Invocation {
        Invocation { tool: tool.into(), line: line.into() }
    }
}

/// A bare command line is taken as this repository's own (`cargo xtask`).
impl From<String> for Invocation {
    fn from(line: String) -> Invocation {
        Invocation::new(DEFAULT_TOOL, line)
    }
}

impl From<&str> for Invocation {
    fn from(line: &str) -> Invocation {
        Invocation::from(line.to_owned())
    }
}
