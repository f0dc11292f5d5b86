//! Tidy checks over the repository's own files (rust-analyzer's habit): every Rust
//! file opens with a `//!` paragraph saying what it is for, and every Markdown file a
//! file cites is in the repository, which is all a user's clone has.

use std::path::{Path, PathBuf};

use crate::util::root;

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

/// The Markdown files `text` names (`docs/limits.md`, `README.md`, …) that are not in
/// the repository: neither beside `dir` nor from the root, or reached only by
/// climbing out of it. Facts a file relies on belong in `docs/`.
fn missing_citations(text: &str, dir: &Path, root: &Path) -> Vec<String> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut missing = Vec::new();
    for (end, _) in text.match_indices(".md") {
        let after = text[end + 3..].chars().next();
        if after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let start = text[..end].rfind(|c: char| !is_path_char(c)).map_or(0, |i| i + 1);
        let cited = text[start..end + 3].trim_start_matches("./");
        // Too short to be a name, or a fragment built at run time (`/README.md`).
        if cited.len() <= 3
            || cited.starts_with('/')
            || cited.starts_with('.') && !cited.starts_with("..")
        {
            continue;
        }
        // What runs write (`reports/bench/latest.md`) is named before it exists.
        if cited.starts_with("reports/") || cited.starts_with("latest.") {
            continue;
        }
        let inside = |base: &Path| {
            let path = base.join(cited);
            path.canonicalize().is_ok_and(|p| p.starts_with(root))
        };
        if !inside(dir) && !inside(root) && !inside(&root.join("docs")) {
            missing.push(cited.to_owned());
        }
    }
    missing
}

#[test]
fn no_file_cites_a_path_outside_the_repository() {
    let root = root().canonicalize().expect("the root exists");
    // This file's own examples name missing files on purpose.
    let this = Path::new(file!()).file_name().expect("a file");
    let offenders: Vec<String> = files(&[".rs", ".md", ".yaml", ".toml", ".py", "run"])
        .into_iter()
        .filter(|p| p.file_name() != Some(this))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let missing = missing_citations(&text, p.parent()?, &root);
            (!missing.is_empty()).then(|| format!("{} cites {missing:?}", p.display()))
        })
        .collect();
    assert!(offenders.is_empty(), "facts belong in docs/: {offenders:#?}");
}

#[test]
fn the_citation_check_finds_what_it_looks_for() {
    let root = root().canonicalize().expect("the root exists");
    let docs = root.join("docs");
    assert_eq!(missing_citations("see docs/turmoil.md and README.md", &root, &root), [""; 0]);
    assert_eq!(missing_citations("(turmoil.md, \"Scheduling\")", &docs, &root), [""; 0]);
    assert_eq!(
        missing_citations("see ../../elsewhere/notes.md, (facts.md)", &docs, &root),
        ["../../elsewhere/notes.md", "facts.md"]
    );
    // Climbing out and back in is still outside if it leaves the repository.
    let outside = format!("../{}/README.md", "not-this-repo");
    assert_eq!(missing_citations(&outside, &root, &root), [outside.as_str()]);
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
