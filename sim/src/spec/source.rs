//! One input file held in memory: the path to print in diagnostics and its text.
//!
//! Reading is the first place user input can be wrong (missing file, not UTF-8), so
//! [`SourceFile::read`] already answers with a [`Diagnostic`] rather than an I/O error.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::diag::{Code, Diagnostic, Location, Severity};

/// A YAML file's path (as the user should see it) and its whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Printed as is in diagnostics, so callers pass it relative to the repository root.
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A source that did not come from disk, e.g. in tests.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self { path: path.into(), text: text.into() }
    }

    /// Line `line` (counted from 1) without its line break; one past the last line is the
    /// empty line where an error at the very end of the file points.
    pub fn line(&self, line: usize) -> Option<&str> {
        let index = line.checked_sub(1)?;
        match self.text.lines().nth(index) {
            Some(found) => Some(found.strip_suffix('\r').unwrap_or(found)),
            None if index == self.text.lines().count() => Some(""),
            None => None,
        }
    }

    /// The file name without its extension (`lru-broker` for `topologies/lru-broker.yaml`),
    /// the default name of what the file describes.
    pub fn stem(&self) -> String {
        self.path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Reads a file; an unreadable file, one that is not a regular file, one larger than
    /// [`FILE_SIZE_MAX_BYTES`] or one that is not UTF-8 becomes a diagnostic. The read
    /// is `read_regular`'s: a FIFO or a device is refused before it is opened.
    #[allow(
        clippy::result_large_err,
        reason = "called once per input file; boxing would only make callers unwrap a box"
    )]
    pub fn read(path: impl AsRef<Path>) -> Result<Self, Diagnostic> {
        let path = path.as_ref();
        let bytes = read_regular(path, FILE_SIZE_MAX_BYTES).map_err(|err| match err {
            ReadError::Io(err) => {
                let message = format!("cannot read `{}`: {err}", path.display());
                Diagnostic::new(Severity::Error, Code::Io, message, path)
            }
            ReadError::NotAFile(what) => {
                let message = format!("`{}` is {what}, not a regular file", path.display());
                let mut diag = Diagnostic::new(Severity::Error, Code::NotAFile, message, path);
                diag.hint("name a YAML file; patchbay does not read directories, pipes or devices");
                diag
            }
            ReadError::TooLarge(len) => too_large(path, len),
        })?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Self::new(path, text)),
            Err(err) => Err(not_utf8(path, err.as_bytes(), err.utf8_error().valid_up_to())),
        }
    }
}

/// Why [`read_regular`] read nothing.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    /// Not a regular file: what it is, in words (`a device`, `a named pipe (FIFO)`).
    NotAFile(&'static str),
    /// Larger than the cap; its length when the metadata told it (a read stops just
    /// past the cap, so it cannot).
    TooLarge(Option<u64>),
}

/// The bytes of the regular file at `path`, at most `max` of them: what every file a
/// user names is read with (an input file here, `cat --file`).
///
/// The metadata is checked before the file is opened, so a FIFO or a device
/// (`/dev/zero`) is refused without a blocking open or an endless read; the read
/// itself is bounded too, in case the file grows or is swapped in between.
pub(crate) fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let shape = |meta: &std::fs::Metadata| match meta {
        m if !m.is_file() => Err(ReadError::NotAFile(kind_of(m.file_type()))),
        m if m.len() > max => Err(ReadError::TooLarge(Some(m.len()))),
        _ => Ok(()),
    };
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    shape(&meta)?;
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    shape(&file.metadata().map_err(ReadError::Io)?)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(None));
    }
    Ok(bytes)
}

/// The largest input file read: far above any real topology or scenario (a million
/// replicas is one group of one line), and small enough that a file that is not one
/// (a log, a dump) is refused at once instead of being parsed for seconds.
pub const FILE_SIZE_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// What a file that is not a regular file is, in words.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() { "a directory" } else { "not a file patchbay can read" }
}

/// The diagnostic for a file over the cap; `len` when the metadata told it (a read
/// stops just past the cap, so it cannot).
fn too_large(path: &Path, len: Option<u64>) -> Diagnostic {
    let size = len.map_or_else(String::new, |len| format!(" ({len} bytes)"));
    let message = format!(
        "`{}` is larger than the {FILE_SIZE_MAX_BYTES} bytes (4 MiB) patchbay reads{size}",
        path.display()
    );
    let mut diag = Diagnostic::new(Severity::Error, Code::TooLarge, message, path);
    diag.hint("a topology or scenario is a few kilobytes; check that this is the file you meant");
    diag
}

/// The diagnostic for a file whose bytes stop being UTF-8 at `valid_up_to`.
fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let message = format!("`{}` is not valid UTF-8 text", path.display());
    let mut diag = Diagnostic::new(Severity::Error, Code::Encoding, message, path);
    // The prefix is valid by definition, so it can be counted in characters like libyaml does.
    let (valid, rest) = bytes.split_at(valid_up_to.min(bytes.len()));
    let valid = String::from_utf8_lossy(valid);
    let line = valid.matches('\n').count() + 1;
    let line_start = valid.rsplit('\n').next().unwrap_or("");
    let column = line_start.chars().count() + 1;
    diag.location = Some(Location { line, column });
    let line_end = rest.split(|&b| b == b'\n').next().unwrap_or(&[]);
    diag.excerpt = Some(format!("{line_start}{}", String::from_utf8_lossy(line_end)));
    diag.hint("save the file as UTF-8");
    diag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("patchbay-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("temp file is writable");
        path
    }

    #[test]
    fn reads_utf8_text() {
        let path = scratch_file("ok.yaml", b"a: 1\n");
        let src = SourceFile::read(&path).expect("readable");
        assert_eq!(src.text, "a: 1\n");
        assert_eq!(src.path, path);
    }

    #[test]
    fn lines_are_counted_from_one_up_to_the_end_of_file() {
        let src = SourceFile::new("t.yaml", "a\r\nb\n");
        assert_eq!(src.line(1), Some("a"));
        assert_eq!(src.line(2), Some("b"));
        assert_eq!(src.line(3), Some(""));
        assert_eq!(src.line(4), None);
        assert_eq!(src.line(0), None);
    }

    #[test]
    fn stem_drops_folders_and_extension() {
        assert_eq!(SourceFile::new("topologies/lru-broker.yaml", "").stem(), "lru-broker");
        assert_eq!(SourceFile::new("", "").stem(), "");
    }

    #[test]
    fn missing_file_is_a_diagnostic_without_location() {
        let diag = SourceFile::read("/nonexistent/patchbay/x.yaml").expect_err("missing");
        assert_eq!(diag.code, "io");
        assert!(diag.message.starts_with("cannot read `/nonexistent/patchbay/x.yaml`: "));
        assert_eq!(diag.location, None);
    }

    #[test]
    fn invalid_utf8_is_located_at_the_first_bad_byte() {
        let path = scratch_file("bad.yaml", b"a: 1\nbb: \xc3\x28\n");
        let diag = SourceFile::read(&path).expect_err("not utf-8");
        assert_eq!(diag.code, "encoding");
        assert_eq!(diag.location, Some(Location { line: 2, column: 5 }));
        assert_eq!(diag.excerpt.as_deref(), Some("bb: \u{fffd}("));
    }
}
