//! The typed error for user input: a [`Diagnostic`] names the file, the line and column,
//! the YAML path, and carries a hint when one can be given.
//!
//! [`Diagnostics`] collects them for one source file so that a reader or resolver can report
//! every problem it finds instead of stopping at the first. A diagnostic's position is
//! computed when it is recorded, from its YAML path (see [`locate`]), so callers only ever
//! say *where in the document* something is wrong, never *where in the text*.

use std::fmt;
use std::path::PathBuf;

pub use super::code::Code;
use super::locate::{locate, locate_exact};
use super::path::YamlPath;
use super::source::SourceFile;

// Rendering has its own file; it is re-exported here because it is what one does with a
// list of diagnostics.
pub use super::render::{printable, render};

/// How bad a diagnostic is: errors stop a run, warnings are printed and the run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Stops the run.
    Error,
    /// Printed; the run goes on.
    Warning,
}

impl Severity {
    /// The word printed before the code: `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A position in a source file, both counted from 1; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Which part of a mapping entry a diagnostic points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// The key itself, e.g. a misspelt field name.
    Key,
    /// The value under the key (or a list element, or the whole document).
    Value,
}

/// One problem found in user input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The kind of problem, printed in brackets by its stable kebab-case name (such as
    /// `unknown-field`) so that tests and users can refer to it without matching the
    /// prose; every code is listed in `docs/diagnostics.md`.
    pub code: Code,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The file as the caller named it, usually relative to the repository root.
    pub file: PathBuf,
    /// `None` when no position applies (an unreadable file) or none could be found.
    pub location: Option<Location>,
    /// How to put it right, when there is a likely fix.
    pub hint: Option<String>,
    /// Where in the document the problem is, when it concerns one value.
    pub yaml_path: Option<YamlPath>,
    /// The source line at `location`, captured when the diagnostic is recorded so that
    /// rendering needs neither the file nor its text.
    pub excerpt: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with no position, path or hint yet.
    pub fn new(
        severity: Severity,
        code: Code,
        message: impl Into<String>,
        file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            severity,
            code,
            message: message.into(),
            file: file.into(),
            location: None,
            hint: None,
            yaml_path: None,
            excerpt: None,
        }
    }

    /// Sets the hint printed under the excerpt.
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this diagnostic stops a run.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// The one-line form, `file:line:column: error[code]: message`, for logs and panics in
    /// tests; [`render`] gives the full form with the excerpt.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shown escaped and shortened as `render` shows them: it is user input.
        write!(f, "{}", printable(&self.file.display().to_string()))?;
        if let Some(at) = self.location {
            write!(f, ":{}:{}", at.line, at.column)?;
        }
        write!(f, ": {}[{}]: {}", self.severity.as_str(), self.code, printable(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {})", printable(hint))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// How much text may be parsed again to locate the diagnostics of one file. Each
/// location costs one parse of the whole file, so without a bound a large file with
/// many errors would take time proportional to their product; past it, a diagnostic
/// names its YAML path instead of a line (a small file never gets there: 16 MiB is
/// thousands of locations of a typical topology).
pub(crate) const LOCATE_BUDGET_BYTES: usize = 16 * 1024 * 1024;

/// Collects the diagnostics about one source file, locating each as it is recorded.
#[derive(Debug)]
pub struct Diagnostics<'a> {
    source: &'a SourceFile,
    items: Vec<Diagnostic>,
    /// Text parsed so far to locate diagnostics, held under [`LOCATE_BUDGET_BYTES`].
    located_bytes: usize,
}

impl<'a> Diagnostics<'a> {
    /// An empty collector for `source`.
    pub fn new(source: &'a SourceFile) -> Self {
        Self { source, items: Vec::new(), located_bytes: 0 }
    }

    /// The file these diagnostics are about.
    pub fn source(&self) -> &'a SourceFile {
        self.source
    }

    /// Records an error about the value (or key) at `path`; add a hint with `.hint(..)`.
    pub fn error(
        &mut self,
        path: &YamlPath,
        target: Target,
        code: Code,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.at_path(Severity::Error, path, target, code, message.into())
    }

    /// Records that the mapping at `mapping` lacks the required `field`, worded as the
    /// parser words it, for fields the resolver checks so that a file's other mistakes
    /// are still reported beside it.
    pub(crate) fn missing_field(&mut self, mapping: &YamlPath, field: &str) -> &mut Diagnostic {
        let message = format!("missing field `{field}`");
        self.error(mapping, Target::Key, Code::MissingField, message)
    }

    /// Records a warning about the value (or key) at `path`.
    pub fn warning(
        &mut self,
        path: &YamlPath,
        target: Target,
        code: Code,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.at_path(Severity::Warning, path, target, code, message.into())
    }

    /// Records an error at a known text position (or none), for problems that have no YAML
    /// path, such as a syntax error.
    pub(crate) fn error_at(
        &mut self,
        location: Option<Location>,
        code: Code,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let mut diag = Diagnostic::new(Severity::Error, code, message, &self.source.path);
        diag.location = location;
        self.push(diag)
    }

    /// Records a diagnostic built elsewhere, adding the excerpt if it is about this file.
    pub fn push(&mut self, mut diag: Diagnostic) -> &mut Diagnostic {
        if let (Some(at), None) = (diag.location, &diag.excerpt)
            && diag.file == self.source.path
        {
            diag.excerpt = self.source.line(at.line).map(str::to_owned);
        }
        self.items.push(diag);
        let last = self.items.len() - 1;
        &mut self.items[last]
    }

    /// Where exactly `path` is in the file, for a message that names another place
    /// than the one it is about (`the first is at line 7`) or asks whether a field is
    /// written; located within the same budget as the diagnostics themselves, so
    /// `None` past it as well as for a path the file does not have.
    pub(crate) fn locate(&mut self, path: &YamlPath, target: Target) -> Option<Location> {
        let cost = self.source.text.len().max(1);
        if self.located_bytes + cost > LOCATE_BUDGET_BYTES {
            return None;
        }
        self.located_bytes += cost;
        locate_exact(self.source, path, target)
    }

    /// Whether any error (not warning) has been recorded.
    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// How many errors (not warnings) have been recorded.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// The diagnostics recorded so far, in the order they were recorded.
    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.items
    }

    /// The diagnostics recorded since the first `from`, to amend: a caller that
    /// rewrote a value before it was checked says so in what the check reported.
    pub(crate) fn since_mut(&mut self, from: usize) -> &mut [Diagnostic] {
        let from = from.min(self.items.len());
        &mut self.items[from..]
    }

    /// Hands the diagnostics over, in the order they were recorded.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    fn at_path(
        &mut self,
        severity: Severity,
        path: &YamlPath,
        target: Target,
        code: Code,
        message: String,
    ) -> &mut Diagnostic {
        let mut diag = Diagnostic::new(severity, code, message, &self.source.path);
        let cost = self.source.text.len().max(1);
        if self.located_bytes + cost <= LOCATE_BUDGET_BYTES {
            self.located_bytes += cost;
            diag.location = locate(self.source, path, target);
        } else {
            // Over budget: the path still says where, in the document's own terms.
            diag.message = format!("{} (at {})", diag.message, path.describe());
        }
        diag.yaml_path = Some(path.clone());
        self.push(diag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceFile {
        SourceFile::new("t.yaml", "nodes:\n  - name: a\n    bnd: x\n")
    }

    #[test]
    fn error_is_located_from_its_path() {
        let src = source();
        let mut diags = Diagnostics::new(&src);
        let path = YamlPath::root().key("nodes").index(0).key("bnd");
        diags.error(&path, Target::Key, Code::UnknownField, "unknown field").hint("did you mean?");
        let all = diags.into_vec();
        assert_eq!(all[0].location, Some(Location { line: 3, column: 5 }));
        assert_eq!(all[0].hint.as_deref(), Some("did you mean?"));
        assert_eq!(all[0].yaml_path, Some(path));
        assert_eq!(all[0].file, PathBuf::from("t.yaml"));
        assert_eq!(all[0].excerpt.as_deref(), Some("    bnd: x"));
    }

    #[test]
    fn warnings_are_not_errors() {
        let src = source();
        let mut diags = Diagnostics::new(&src);
        diags.warning(&YamlPath::root(), Target::Value, Code::BadValue, "odd but allowed");
        assert!(!diags.has_errors());
        diags.error_at(None, Code::Io, "broken");
        assert!(diags.has_errors());
        assert_eq!(diags.error_count(), 1);
        assert_eq!(diags.as_slice().len(), 2);
    }

    #[test]
    fn one_line_form_names_file_position_and_code() {
        let src = source();
        let mut diags = Diagnostics::new(&src);
        diags.error_at(Some(Location { line: 2, column: 3 }), Code::Syntax, "bad").hint("fix it");
        let text = diags.as_slice()[0].to_string();
        assert_eq!(text, "t.yaml:2:3: error[syntax]: bad (hint: fix it)");
    }

    #[test]
    fn locating_stops_at_its_budget_and_names_the_path_instead() {
        // A large file with many errors: each location parses the whole file again.
        let padding = format!("# {}\n", "x".repeat(LOCATE_BUDGET_BYTES / 4));
        let src = SourceFile::new("big.yaml", format!("{padding}a: 1\n"));
        let mut diags = Diagnostics::new(&src);
        let path = YamlPath::root().key("a");
        for _ in 0..5 {
            diags.error(&path, Target::Value, Code::BadValue, "odd value");
        }
        let all = diags.into_vec();
        let located: Vec<_> = all.iter().map(|d| d.location.map(|at| at.line)).collect();
        assert_eq!(located, [Some(2), Some(2), Some(2), None, None], "three fit in the budget");
        assert_eq!(all[2].message, "odd value");
        assert_eq!(all[3].message, "odd value (at `a`)");
    }
}
