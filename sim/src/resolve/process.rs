//! A node's `process:`: an external program run in the node's place by `real`. Its
//! command, environment and working directory may name the node's sockets' endpoints
//! (`{frontend}`, `{frontend.bind}`, `{frontend.port}`, `{backend.connect}`); every
//! placeholder is checked here against the sockets the node declares, so a typo is a
//! diagnostic with its place in the file, never a literal brace handed to the program.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plan::{EndpointPart, Piece, ProcessPlan, Ready, Template};
use crate::spec::diag::{Code, Target};
use crate::spec::format_duration;
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawNode, RawProcess, RawSocket};
use crate::spec::suggest::did_you_mean;
use crate::spec::units::parse_duration;

use super::scalars::unit_error;
use super::topology::TopologyResolver;

/// How long a started program has to become ready when `ready.timeout` is absent.
pub const READY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// The longest `ready.timeout`: 10 minutes, the longest a real run may last
/// (`REAL_TIME_MAX` in `run/real.rs`, which `run/process.rs` checks it against). A
/// program not ready by then could not be run anyway; `18446744073709551615s` once
/// passed `check` and overflowed the supervisor's deadline (docs/limits.md).
pub const READY_TIMEOUT_MAX: Duration = Duration::from_secs(10 * 60);

/// A placeholder's problem, said to the user with the node's socket names as a hint.
struct PlaceholderError {
    message: String,
    hint: String,
}

impl TopologyResolver<'_, '_, '_> {
    /// Whether the node names exactly one of `design:` and `process:`; reported if not.
    pub(super) fn check_behaviour(&mut self, node: &RawNode, path: &YamlPath) -> bool {
        let (message, at) = match (&node.design, &node.process) {
            (Some(_), None) | (None, Some(_)) => return true,
            (Some(_), Some(_)) => {
                (format!("{} has both `design:` and `process:`", node.label()), path.key("process"))
            }
            (None, None) => {
                (format!("{} has neither `design:` nor `process:`", node.label()), path.clone())
            }
        };
        self.diags.error(&at, Target::Key, Code::BadProcess, message).hint(
            "give it a `design: NAME`, or `process: {command: [...]}` to run your own program under `real`",
        );
        false
    }

    /// The process of a node, checked against its sockets as written.
    pub(super) fn process(
        &mut self,
        node: &RawNode,
        raw: &RawProcess,
        node_path: &YamlPath,
    ) -> Option<ProcessPlan> {
        let path = &node_path.key("process");
        if !node.params.is_empty() {
            self.diags
                .error(
                    &node_path.key("params"),
                    Target::Key,
                    Code::BadProcess,
                    format!("{} runs a process, which takes no design parameters", node.label()),
                )
                .hint("pass settings to the program in its `command` or `env`");
        }
        if raw.command.is_empty() {
            self.diags
                .error(&path.key("command"), Target::Value, Code::BadProcess, "`command` is empty")
                .hint("name the program and its arguments: `[python3, broker.py, \"{frontend}\"]`");
        } else if raw.command[0].is_empty() {
            // No program has an empty name: it passed `check` and failed only under
            // `real`, as "cannot start ` tcp://...`".
            self.diags
                .error(
                    &path.key("command").index(0),
                    Target::Value,
                    Code::BadProcess,
                    "the program's name (the first item of `command`) is empty",
                )
                .hint("put the program first: `[python3, broker.py, \"{frontend}\"]`");
        }
        let sockets = &node.sockets;
        let mut command = Vec::new();
        for (i, arg) in raw.command.iter().enumerate() {
            command.push(self.template(arg, sockets, &path.key("command").index(i)));
        }
        let mut env = BTreeMap::new();
        for (name, value) in &raw.env {
            env.insert(name.clone(), self.template(value, sockets, &path.key("env").key(name)));
        }
        let cwd = raw.cwd.as_ref().map(|c| self.template(c, sockets, &path.key("cwd")));
        let ready = self.ready(raw, sockets, &path.key("ready"));
        let timeout = self.ready_timeout(raw, &path.key("ready").key("timeout"));
        let dir = folder_of(&self.diags.source().path);
        // A working directory with endpoints in it would be odd but harmless: it is
        // checked like the rest and taken literally once rendered without them.
        let cwd = match cwd {
            Some(t) => dir.join(t?.render(&|_, _| String::new())),
            None => dir,
        };
        let command = command.into_iter().collect::<Option<Vec<_>>>()?;
        let env = env.into_iter().map(|(k, v)| v.map(|v| (k, v))).collect::<Option<_>>()?;
        Some(ProcessPlan { command, env, cwd, ready: ready?, ready_timeout: timeout? })
    }

    fn template(&mut self, text: &str, sockets: &[RawSocket], path: &YamlPath) -> Option<Template> {
        match parse_template(text, sockets) {
            Ok(t) => Some(t),
            Err(e) => {
                self.diags
                    .error(path, Target::Value, Code::UnknownPlaceholder, e.message)
                    .hint(e.hint);
                None
            }
        }
    }

    fn ready(&mut self, raw: &RawProcess, sockets: &[RawSocket], path: &YamlPath) -> Option<Ready> {
        let Some(ready) = &raw.ready else { return Some(Ready::Ports) };
        match (&ready.port, &ready.line) {
            (Some(_), Some(_)) | (None, None) => {
                self.diags
                    .error(path, Target::Value, Code::BadProcess, "`ready` needs one of `port` and `line`")
                    .hint("write `ready: {port: frontend}` (its bound socket accepts) or `ready: {line: \"ready\"}` (text on its standard output)");
                None
            }
            (None, Some(line)) if line.is_empty() => {
                self.diags
                    .error(
                        &path.key("line"),
                        Target::Value,
                        Code::BadProcess,
                        "`ready.line` is empty",
                    )
                    .hint("give text the program prints once it is ready, such as `listening`");
                None
            }
            (None, Some(line)) => Some(Ready::Line(line.clone())),
            (Some(name), None) => {
                let found = sockets.iter().position(|s| &s.name == name && s.bind.is_some());
                if found.is_none() {
                    let bound =
                        sockets.iter().filter(|s| s.bind.is_some()).map(|s| s.name.as_str());
                    let bound: Vec<&str> = bound.collect();
                    self.diags
                        .error(&path.key("port"), Target::Value, Code::UnknownSocket, format!(
                            "`ready.port` names `{name}`, which is not a bound socket of this node"
                        ))
                        .hint(match bound.is_empty() {
                            true => "this node binds no socket: wait for a `line` instead".to_owned(),
                            false => format!("its bound sockets: {}", bound.join(", ")),
                        });
                }
                found.map(Ready::Port)
            }
        }
    }

    /// `ready.timeout`, at most [`READY_TIMEOUT_MAX`].
    fn ready_timeout(&mut self, raw: &RawProcess, path: &YamlPath) -> Option<Duration> {
        let Some(s) = raw.ready.as_ref().and_then(|r| r.timeout.as_ref()) else {
            return Some(READY_TIMEOUT_DEFAULT);
        };
        let naming = super::scalars::Naming::Field;
        let timeout =
            parse_duration(&s.text).map_err(|e| unit_error(self.diags, path, e, naming)).ok()?;
        if timeout > READY_TIMEOUT_MAX {
            let message = format!(
                "`ready.timeout` is {}, longer than a real run may last ({})",
                format_duration(timeout),
                format_duration(READY_TIMEOUT_MAX)
            );
            self.diags.error(path, Target::Value, Code::OutOfRange, message).hint(format!(
                "a program has at most {} to become ready, the longest a real run lasts (docs/limits.md)",
                format_duration(READY_TIMEOUT_MAX)
            ));
            return None;
        }
        Some(timeout)
    }
}

/// Splits `text` into literal text and checked placeholders; `{{` and `}}` are braces.
fn parse_template(text: &str, sockets: &[RawSocket]) -> Result<Template, PlaceholderError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            literal.push(tail.as_bytes()[0] as char);
            rest = &tail[2..];
            continue;
        }
        let Some(end) = tail.find('}').filter(|_| tail.starts_with('{')) else {
            return Err(PlaceholderError {
                message: format!("`{text}` has an unmatched brace"),
                hint: "write `{{` or `}}` for a literal brace".to_owned(),
            });
        };
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut literal)));
        }
        let (socket, part) = placeholder(&tail[1..end], sockets)?;
        pieces.push(Piece::Endpoint { socket, part });
        rest = &tail[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(Template(pieces))
}

/// One placeholder's socket and part: `name` is the bind if the socket binds, else
/// its connect; `name.bind`, `name.port` and `name.connect` say which.
fn placeholder(
    inner: &str,
    sockets: &[RawSocket],
) -> Result<(usize, EndpointPart), PlaceholderError> {
    let names: Vec<&str> = sockets.iter().map(|s| s.name.as_str()).collect();
    let (name, part) = inner.split_once('.').map_or((inner, None), |(n, p)| (n, Some(p)));
    let Some(index) = sockets.iter().position(|s| s.name == name) else {
        let hint = match did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{{{s}}}`?"),
            None if names.is_empty() => "declare the node's `sockets:` first".to_owned(),
            None => format!("its sockets: {}", names.join(", ")),
        };
        return Err(PlaceholderError {
            message: format!("`{{{inner}}}` names no socket of this node"),
            hint,
        });
    };
    let s = &sockets[index];
    let binds = s.bind.is_some();
    let connects = s.connect.as_ref().is_some_and(|c| !c.is_empty());
    let part = match part {
        None if binds => EndpointPart::Bind,
        None => EndpointPart::Connect,
        Some("bind") => EndpointPart::Bind,
        Some("port") => EndpointPart::Port,
        Some("connect") => EndpointPart::Connect,
        Some(other) => {
            return Err(PlaceholderError {
                message: format!("`{{{inner}}}`: a socket has no endpoint `{other}`"),
                hint: format!(
                    "write `{{{name}}}`, `{{{name}.bind}}`, `{{{name}.port}}` or `{{{name}.connect}}`"
                ),
            });
        }
    };
    let missing = match part {
        EndpointPart::Bind | EndpointPart::Port if !binds => Some("binds"),
        EndpointPart::Connect if !connects => Some("connects"),
        _ => None,
    };
    if let Some(what) = missing {
        return Err(PlaceholderError {
            message: format!("`{{{inner}}}`: socket `{name}` never {what}"),
            hint: format!(
                "give `{name}` a `{}`, or name another endpoint",
                &what[..what.len() - 1]
            ),
        });
    }
    Ok((index, part))
}

/// The folder holding `file`. A file named without one (`t.yaml`, as a scenario run
/// from its own folder names its topology) has the empty path as its parent, in which
/// no program can start: that is the current folder.
fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_starts_in_its_topology_s_folder_and_a_bare_file_s_is_the_current_one() {
        assert_eq!(folder_of(Path::new("t.yaml")), PathBuf::from("."));
        assert_eq!(
            folder_of(Path::new("topologies/external/t.yaml")),
            Path::new("topologies/external")
        );
        assert_eq!(folder_of(Path::new("/t.yaml")), PathBuf::from("/"));
    }
}
