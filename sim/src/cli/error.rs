//! The command line's internal error: something patchbay could not do that is not
//! the user's input (a report it could not write, a folder it could not create). It
//! ends the command with exit code 1; the user's own mistakes are printed where they
//! are found and end it with 2, never through this type.

use std::fmt;

/// What went wrong, with what patchbay was doing at the time.
#[derive(Debug)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error saying `message`.
    pub fn msg(message: impl Into<String>) -> Error {
        Error { message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Adds what was being done to an I/O error, as `anyhow::Context` would.
pub(crate) trait Context<T> {
    fn context(self, doing: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn context(self, doing: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::msg(format!("{}: {e}", doing())))
    }
}
