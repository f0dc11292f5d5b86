//! Tidy checks over the repository's own files (rust-analyzer's habit): every Rust
//! file opens with a `//!` paragraph saying what it is for, and no file cites a
//! path outside the repository, which a user's clone would not have.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under the workspace's source folders with one of `exts`, in order.
fn files(exts: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | "reports" | ".git" | "proptest-regressions") {
                    walk(&path, exts, out);
                }
            } else if exts.iter().any(|e| name.ends_with(e)) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    let root = root();
    for top in ["sim", "xtask", "benches", "docs", "scenarios", "topologies", ".ci"] {
        walk(&root.join(top), exts, &mut out);
    }
    for file in ["README.md", "ARCHITECTURE.md", "Cargo.toml"] {
        if exts.iter().any(|e| file.ends_with(e)) {
            out.push(root.join(file));
        }
    }
    out
}

/// The ways a citation of the shared folder beside a checkout was written.
const OUTSIDE: [&str; 3] = ["shared/reference", "shared/seeds", "messaging-semantics.md"];

/// Whether `text` cites a file outside the repository; the matched marker.
fn cites_outside(text: &str) -> Option<&'static str> {
    OUTSIDE.into_iter().find(|m| text.contains(m))
}

#[test]
fn no_file_cites_a_path_outside_the_repository() {
    let exts = [".rs", ".md", ".yaml", ".toml", ".py", "run"];
    let this = Path::new(file!()).file_name().unwrap();
    let offenders: Vec<String> = files(&exts)
        .into_iter()
        .filter(|p| p.file_name() != Some(this))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            cites_outside(&text).map(|m| format!("{} cites {m}", p.display()))
        })
        .collect();
    assert!(offenders.is_empty(), "facts belong in docs/: {offenders:#?}");
}

#[test]
fn the_citation_check_finds_what_it_looks_for() {
    assert_eq!(
        cites_outside("see ../shared/reference/turmoil.md"),
        Some("shared/reference"),
        "a citation is found"
    );
    assert_eq!(
        cites_outside("(messaging-semantics.md, \"Routing\")"),
        Some("messaging-semantics.md")
    );
    assert_eq!(cites_outside("see docs/turmoil.md"), None);
}

#[test]
fn every_rust_file_opens_with_a_doc_paragraph() {
    let missing: Vec<String> = files(&[".rs"])
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(files(&[".rs"]).len() > 100, "the walk found the sources");
    assert!(missing.is_empty(), "files without a //! paragraph: {missing:#?}");
}
