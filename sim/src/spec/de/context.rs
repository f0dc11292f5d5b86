//! What one deserialization pass shares: the issues recorded so far, the values an earlier
//! pass gave up on, and where this pass gave up.

use std::collections::BTreeSet;

use super::error::DeError;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;

/// How deep values may nest. serde_yaml stops at 128; stopping at half that keeps the
/// recursion of derived visitors well inside a 2 MiB thread stack even in debug builds.
pub(super) const NESTING_MAX_LEVELS: usize = 64;

/// One problem found while deserializing, not yet located in the text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Issue {
    pub(crate) path: YamlPath,
    pub(crate) target: Target,
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

/// What one pass over the document shares: the issues so far and the values to leave out.
#[derive(Debug, Default)]
pub(crate) struct Context {
    pub(crate) issues: Vec<Issue>,
    /// Values a previous pass gave up on; list elements and mapping entries with these paths
    /// are skipped as if absent.
    pub(crate) excluded: BTreeSet<YamlPath>,
    /// The deepest value this pass gave up on, so the next pass can leave it out.
    pub(crate) failed_at: Option<YamlPath>,
    /// Whether the file has nothing but blanks and comments, to word that case plainly.
    pub(crate) blank_source: bool,
}

impl Context {
    pub(super) fn record(
        &mut self,
        path: &YamlPath,
        target: Target,
        code: Code,
        message: String,
    ) -> &mut Issue {
        let issue = Issue { path: path.clone(), target, code, message, hint: None };
        self.issues.push(issue);
        let last = self.issues.len() - 1;
        &mut self.issues[last]
    }

    /// Gives up on the value at `path` for this pass; the first (deepest) call wins.
    pub(super) fn give_up(&mut self, path: &YamlPath) -> DeError {
        if self.failed_at.is_none() {
            self.failed_at = Some(path.clone());
        }
        DeError::Reported
    }

    /// Refuses a child value nested deeper than [`NESTING_MAX_LEVELS`].
    pub(super) fn check_depth(&mut self, path: &YamlPath, target: Target) -> Result<(), DeError> {
        if path.segs().len() <= NESTING_MAX_LEVELS {
            return Ok(());
        }
        let message = format!(
            "the document is nested too deeply here (more than {NESTING_MAX_LEVELS} levels)"
        );
        self.record(path, target, Code::TooDeep, message);
        Err(self.give_up(path))
    }

    /// Records a raised error at `path` unless `quiet`, and gives up on that value.
    pub(super) fn settle(
        &mut self,
        err: DeError,
        path: &YamlPath,
        target: Target,
        quiet: bool,
    ) -> DeError {
        let DeError::Raised(raised) = err else { return DeError::Reported };
        if !quiet {
            self.record(path, target, raised.code, raised.message).hint = raised.hint;
        }
        self.give_up(path)
    }
}
