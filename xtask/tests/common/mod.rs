//! What the binary-level tests share: the workspace root they run the xtask binary
//! from, and a scratch folder removed when the test ends. Each test file that needs
//! them says `mod common;`; not every file uses every item.

#![allow(dead_code, reason = "each test binary uses its own part of this module")]

use std::path::PathBuf;

/// The workspace root: xtask lives one level below it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A fresh folder under the system's temporary one, removed at the end.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("patchbay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        TempDir(dir)
    }

    /// `name` in the folder, as an argument.
    pub fn at(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
