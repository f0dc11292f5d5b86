//! patchbay's command line as a library function: `check`, `graph`, `sim`,
//! `explore`, `real`, `compare`, `report` and `cat`, run with the caller's design
//! registry.
//!
//! This repository's `cargo xtask` calls [`run`] with the built-in registry; a user's
//! crate calls it with a registry holding their own designs too, and names the
//! command its users type (`cargo xtask`, `my-tool`), which every repro line, report
//! header, explored case's header and hint then repeats. Arguments are parsed with
//! clap (`args.rs`); one file per command does the parsing-and-printing around the
//! library calls. Exit codes: 0 when everything is as it should be, 2 when the
//! user's input or a scenario's outcome is wrong (usage errors, diagnostics,
//! unexpected verdicts), 1 for internal errors; `cat` adds 3 and 4 for a receive and
//! a send that timed out (`cat.rs`).
//!
//! Relative paths are taken from where the command was typed; the command then runs
//! from the project root (the nearest folder at or above the current one holding
//! `scenarios/` or `topologies/`), so paths in scenario files and diagnostics resolve
//! the same way wherever it was started. The paths it prints (diagnostics, repro
//! lines, reports) are the root's too, so a command typed in a folder below the root
//! ends with a note naming the root and the way up to it.

// Every line the commands print goes through these: stdout or stderr may be a pipe
// whose reader has gone (`sim | head -1`) or a full device, and `println!` panics
// there, which lost the sweep's report. A line that cannot be written is dropped; the
// command goes on, writes its report and exits as it would have.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod cat;
mod check;
mod compare;
mod error;
mod explore;
mod progress;
mod real;
mod report;
mod sim;
mod table;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use crate::registry::Registry;
pub use args::Cli;
use args::Command;
pub use error::Error;

/// Runs the command line (`std::env::args`) with these designs and invariants, as
/// `cargo xtask`.
pub fn main(registry: Registry) -> ExitCode {
    run(registry, crate::run::DEFAULT_TOOL, std::env::args_os())
}

/// Runs the command line `args` (`args[0]` is the program name) with `registry`.
/// `command` is what the user types to reach this program (`cargo xtask`), used in
/// repro lines, headers, usage and hints.
pub fn run<I, T>(registry: Registry, command: &str, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The arguments after the subcommand, as typed, for the reports' command lines.
    let rest = args.iter().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
    let cli = match parse(command, args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return clap_exit(&e);
        }
    };
    let ctx = Ctx { registry, tool: command.to_owned(), root: project_root(), rest };
    let here = std::env::current_dir().ok();
    let shows_paths = !matches!(cli.command, Command::Cat(_));
    let code = dispatch(&ctx, cli.command).unwrap_or_else(|e| {
        errln!("internal error: {e}");
        ExitCode::from(1)
    });
    if let Some(up) = here.as_deref().filter(|_| shows_paths).and_then(|h| ctx.up_to_root(h)) {
        errln!(
            "note: paths are shown from the project root, {}: run repro lines there (cd {})",
            ctx.root.display(),
            up.display()
        );
    }
    code
}

/// Parses `args` as the command line of `command`; nothing runs. A help request or a
/// usage error comes back as clap's error, to be printed.
fn parse(command: &str, args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let matches = Cli::command().bin_name(command).try_get_matches_from(args);
    matches.and_then(|m| Cli::from_arg_matches(&m))
}

/// The exit code of a help request or usage error, in clap's conventions: help exits
/// 0, a usage error 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    ExitCode::from(e.exit_code().clamp(0, 255) as u8)
}

fn dispatch(ctx: &Ctx, command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Check(a) => check::check(ctx, a),
        Command::Graph(a) => check::graph(ctx, a),
        Command::Sim(a) => sim::sim(ctx, a),
        Command::Explore(a) => explore::explore(ctx, a),
        Command::Real(a) => real::real(ctx, a),
        Command::Compare(a) => compare::compare(ctx, a),
        Command::Report(a) => report::report(ctx, a),
        Command::Cat(a) => cat::cat(ctx, a),
    }
}

/// What every command is handed: the designs, how the user reached the tool, and
/// the project root it runs from.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub registry: Registry,
    /// What the user types to reach the tool (`cargo xtask`).
    pub tool: String,
    /// The project root (see the module comment).
    pub root: PathBuf,
    /// The arguments after the subcommand, as typed.
    pub rest: Vec<String>,
}

impl Ctx {
    /// The command as the user would type it again: `cargo xtask sim
    /// scenarios/x.yaml --seeds 4`, quoting arguments a shell would split.
    pub fn command_line(&self, sub: &str) -> crate::run::Invocation {
        self.command_line_with(sub, &self.rest)
    }

    /// [`Ctx::command_line`] with these arguments after the subcommand.
    pub fn command_line_with(&self, sub: &str, rest: &[String]) -> crate::run::Invocation {
        let mut line = format!("{} {sub}", self.tool);
        for a in rest {
            let plain = !a.is_empty()
                && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c));
            if plain {
                line.push(' ');
                line.push_str(a);
            } else {
                line.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
            }
        }
        crate::run::Invocation::new(self.tool.clone(), line)
    }

    /// Prints a usage error for subcommand `sub` in clap's style and returns exit code 2.
    pub fn usage_error(&self, sub: &str, message: &str) -> Result<ExitCode, Error> {
        let mut cmd = Cli::command().bin_name(&self.tool);
        cmd.build();
        let mut sub_cmd = cmd.find_subcommand_mut(sub).cloned().unwrap_or(cmd);
        let _ = sub_cmd.error(clap::error::ErrorKind::ValueValidation, message).print();
        Ok(ExitCode::from(2))
    }

    /// The way up from `here` to the root (`..`, `../..`) when the command was typed
    /// in a folder below it: the paths it prints (repro lines, reports) are the
    /// root's, and pasted there they would not be found. `None` at the root itself.
    pub fn up_to_root(&self, here: &Path) -> Option<PathBuf> {
        let below = here.strip_prefix(&self.root).ok()?;
        let depth = below.components().count();
        (depth > 0).then(|| std::iter::repeat_n("..", depth).collect())
    }

    /// `path` relative to the root when it is under it, as the user reads it; the root
    /// itself is `.`, never the empty path, which names nothing that can be opened.
    pub fn shown(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
            Ok(relative) => relative.to_path_buf(),
            Err(_) => path.to_path_buf(),
        }
    }
}

/// The nearest folder at or above the current one holding `scenarios/` or
/// `topologies/`, else the current folder.
fn project_root() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    here.ancestors()
        .find(|d| d.join("scenarios").is_dir() || d.join("topologies").is_dir())
        .map_or_else(|| here.clone(), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(rest: &[&str]) -> Ctx {
        let rest = rest.iter().map(|s| (*s).to_owned()).collect();
        Ctx { registry: Registry::builtin(), tool: "my-tool".into(), root: PathBuf::new(), rest }
    }

    #[test]
    fn a_path_is_shown_from_the_root_and_the_root_itself_as_dot() {
        let mut at = ctx(&[]);
        at.root = PathBuf::from("/work/project");
        assert_eq!(
            at.shown(Path::new("/work/project/scenarios/x.yaml")),
            Path::new("scenarios/x.yaml")
        );
        // `sim DIR` run inside DIR read the empty path: "cannot read ``".
        assert_eq!(at.shown(Path::new("/work/project")), Path::new("."));
        assert_eq!(at.shown(Path::new("/elsewhere/x.yaml")), Path::new("/elsewhere/x.yaml"));
    }

    #[test]
    fn the_way_up_to_the_root_is_given_only_below_it() {
        let mut at = ctx(&[]);
        at.root = PathBuf::from("/work/project");
        assert_eq!(at.up_to_root(Path::new("/work/project")), None);
        assert_eq!(at.up_to_root(Path::new("/work/project/scenarios")), Some("..".into()));
        assert_eq!(
            at.up_to_root(Path::new("/work/project/scenarios/broken")),
            Some(PathBuf::from("../.."))
        );
        assert_eq!(at.up_to_root(Path::new("/elsewhere")), None);
    }

    #[test]
    fn the_command_line_names_the_users_tool_and_quotes_what_a_shell_would_split() {
        let line = ctx(&["scenarios/x.yaml", "--json", "my report.json"]).command_line("sim");
        assert_eq!(line.tool, "my-tool");
        assert_eq!(line.line, "my-tool sim scenarios/x.yaml --json 'my report.json'");
    }

    #[test]
    fn usage_errors_and_help_end_in_clap_exit_codes_before_any_work() {
        // Parsing fails before the project root is entered or anything runs; `run`
        // prints clap's error and exits with this code (parsed here, so that the
        // test's output stays quiet).
        let code = |args: &[&str]| {
            let args = args.iter().map(OsString::from).collect();
            parse("my-tool", args).err().map(|e| clap_exit(&e))
        };
        assert_eq!(code(&["my-tool", "sim", "--seedz", "3"]), Some(ExitCode::from(2)));
        assert_eq!(
            code(&["my-tool", "sim", "--seed", "1", "--seeds", "2"]),
            Some(ExitCode::from(2))
        );
        assert_eq!(
            code(&["my-tool", "compare", "x.yaml", "--time-scale", "0.5"]),
            Some(ExitCode::from(2))
        );
        assert_eq!(code(&["my-tool", "real", "--time-scale", "-1"]), Some(ExitCode::from(2)));
        // No seed at all would run nothing and report it as a verdict.
        assert_eq!(code(&["my-tool", "sim", "--seeds", "0"]), Some(ExitCode::from(2)));
        assert_eq!(code(&["my-tool", "real", "--seeds", "0"]), Some(ExitCode::from(2)));
        // Nor may a count past a file's limit: the seed list, made before the first
        // run, once asked the allocator for 800 GB and aborted.
        assert_eq!(code(&["my-tool", "sim", "--seeds", "1000000"]), None);
        assert_eq!(code(&["my-tool", "sim", "--seeds", "1000001"]), Some(ExitCode::from(2)));
        assert_eq!(
            code(&["my-tool", "compare", "x.yaml", "--seeds", "99999999999"]),
            Some(ExitCode::from(2))
        );
        // Nor would no case, which passed a CI step without exploring anything.
        assert_eq!(
            code(&["my-tool", "explore", "x.yaml", "--cases", "0"]),
            Some(ExitCode::from(2))
        );
        assert_eq!(code(&["my-tool", "sim", "--help"]), Some(ExitCode::SUCCESS));
    }
}
