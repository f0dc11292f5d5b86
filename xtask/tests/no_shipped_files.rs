//! The commands that take every shipped file when none is named (`check`, `sim`,
//! `real`), run where there are none: outside any project, or in a project with one
//! of its two folders. Each was an internal error, "listing shipped files: No such
//! file or directory (os error 2)", exit 1; it is a usage error (exit 2) saying what
//! was looked for and where, with the hint to name files or run from a project.

mod common;

use common::{TempDir, xtask_in as xtask};

#[test]
fn outside_any_project_a_command_without_files_says_where_it_looked() {
    let dir = TempDir::new("no-project");
    // The tool looks in the folder and every one above it: none may hold either.
    let found =
        dir.0.ancestors().find(|d| d.join("scenarios").is_dir() || d.join("topologies").is_dir());
    assert_eq!(found, None, "the test needs a temporary folder outside any project");
    for args in [&["check"][..], &["check", "--explain"], &["sim"], &["real"]] {
        let out = xtask(&dir.0, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("internal error"), "{args:?}: {stderr}");
        let looked = format!(
            "no `topologies/` or `scenarios/` folder in {} or any folder above it",
            dir.0.display()
        );
        assert!(stderr.contains(&looked), "{args:?}: {stderr}");
        let hint = format!("hint: name the files (`cargo xtask {} FILE...`)", args[0]);
        assert!(stderr.contains(&hint), "{args:?}: {stderr}");
        assert!(stderr.contains("or run it from a project's root"), "{args:?}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{args:?}: nothing ran");
    }
}

#[test]
fn a_project_without_one_of_its_folders_is_named_with_the_missing_folder() {
    let dir = TempDir::new("half-project");
    std::fs::create_dir_all(dir.0.join("topologies")).expect("a topologies folder");
    let below = dir.0.join("topologies");
    for args in [&["check"][..], &["sim"], &["real"]] {
        // From a folder below the root too: the root is the nearest folder holding one.
        for from in [&dir.0, &below] {
            let out = xtask(from, args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            let missing =
                format!("the project root {} has no `scenarios/` folder", dir.0.display());
            assert!(stderr.contains(&missing), "{args:?} from {}: {stderr}", from.display());
            assert!(stderr.contains("hint: name the files"), "{args:?}: {stderr}");
        }
    }
}
