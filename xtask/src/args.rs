//! A small argument parser: positional files and `--flag [value]` options.
//!
//! Every option is declared by the command that reads it; anything else is an error
//! that names the option, so a typo never silently changes what runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default)]
pub struct Args {
    pub files: Vec<PathBuf>,
    values: BTreeMap<String, String>,
    flags: Vec<String>,
}

/// `takes_value` lists options followed by a value; `flags` those that stand alone.
pub fn parse(argv: Vec<String>, takes_value: &[&str], flags: &[&str]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        if let Some(name) = arg.strip_prefix("--") {
            if takes_value.contains(&name) {
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                out.values.insert(name.to_owned(), value);
            } else if flags.contains(&name) {
                out.flags.push(name.to_owned());
            } else {
                let mut known: Vec<&str> = takes_value.iter().chain(flags).copied().collect();
                known.sort();
                return Err(format!(
                    "unknown option --{name}; this command takes: --{}",
                    known.join(", --")
                ));
            }
        } else {
            out.files.push(PathBuf::from(arg));
        }
    }
    Ok(out)
}

impl Args {
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A numeric option, with a message that names it when it does not parse.
    pub fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.value(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| format!("--{name} takes a whole number, not `{v}`"))
            })
            .transpose()
    }
}
