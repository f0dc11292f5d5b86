//! Where the shipped topology and scenario files live, listed in a stable order.

use std::path::{Path, PathBuf};

/// Folders under the workspace root that hold shipped files.
pub(crate) const SHIPPED_DIRS: [&str; 2] = ["topologies", "scenarios"];

/// Every `.yaml` file under `topologies/` and `scenarios/` of `root` and their
/// subfolders one level down (`scenarios/broken/`), topologies first, each folder's
/// own files before its subfolders', all sorted by name.
pub fn shipped_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in SHIPPED_DIRS {
        let (files, subdirs) = list(&root.join(dir))?;
        out.extend(files);
        for sub in subdirs {
            out.extend(list(&sub)?.0);
        }
    }
    Ok(out)
}

/// The YAML files and the subfolders of `dir`, each sorted.
fn list(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            dirs.push(path);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            files.push(path);
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}
