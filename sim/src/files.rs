//! Where the shipped topology and scenario files live, listed in a stable order.

use std::path::{Path, PathBuf};

/// Folders under the workspace root that hold shipped files.
pub const SHIPPED_DIRS: [&str; 2] = ["topologies", "scenarios"];

/// Every `.yaml` file directly under `topologies/` and `scenarios/` of `root`,
/// topologies first, each folder sorted by name.
pub fn shipped_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in SHIPPED_DIRS {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        out.extend(files);
    }
    Ok(out)
}
