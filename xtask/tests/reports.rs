//! Where reports, drawings and cases go, as a user meets it (the CLI probe's findings
//! B1 to B5, C1, D1, D5 to D7): nothing the user wrote, and no shard, is overwritten;
//! a path that cannot work is refused before any run, exit 2, naming it.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{TempDir, root};

/// Runs the xtask binary from the project root.
fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(root())
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("PATCHBAY_SHARD_INDEX")
        .output()
        .expect("the xtask binary runs")
}

/// Exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = xtask(args);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Two shards of `pair-relay --seeds 2` in `dir`, `s0.json` and `s1.json`.
fn two_shards(dir: &TempDir) -> (String, String) {
    for k in 0..2 {
        let (shard, json) = (format!("{k}/2"), dir.at(&format!("s{k}.json")));
        let args = ["sim", "scenarios/pair-relay.yaml", "--seeds", "2", "--shard", &shard];
        let (code, err) = run(&[&args[..], &["--json", &json]].concat());
        assert_eq!(code, Some(0), "{err}");
    }
    (dir.at("s0.json"), dir.at("s1.json"))
}

/// B1: `report merge OUT SHARD...` with OUT one of the shards (or a link to one)
/// wrote the merged report over that shard.
#[test]
#[cfg(unix)]
fn report_merge_refuses_an_out_that_is_one_of_its_shards() {
    let dir = TempDir::new("merge-over-shard");
    let (s0, s1) = two_shards(&dir);
    let (before0, before1) = (read(Path::new(&s0)), read(Path::new(&s1)));
    let (code, err) = run(&["report", "merge", &s0, &s0, &s1]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: {s0} is also given as a shard report: writing the merged report there would \
             lose that shard; name another OUT"
        )),
        "{err}"
    );
    std::os::unix::fs::symlink(&s1, dir.0.join("link.json")).expect("a link");
    let link = dir.at("link.json");
    let (code, err) = run(&["report", "merge", &link, &s0, &s1]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("{link} is the shard report {s1} (the same file)")), "{err}");
    assert_eq!((read(Path::new(&s0)), read(Path::new(&s1))), (before0, before1), "untouched");
}

/// B2: `--json X.html` wrote the JSON, then its page at the same path over it.
#[test]
fn a_json_path_with_the_pages_extension_is_refused_before_any_run() {
    let dir = TempDir::new("json-html");
    let same = dir.at("same.html");
    let (code, err) = run(&["sim", "scenarios/pair-relay.yaml", "--seed", "1", "--json", &same]);
    assert_eq!(code, Some(2), "{err}");
    let says = format!(
        "error: {same} would be replaced by its own page: the page is written beside the JSON, \
         named as it is with the extension .html; name the JSON {}",
        dir.at("same.json")
    );
    assert!(err.contains(&says), "{err}");
    assert!(!dir.0.join("same.html").exists(), "nothing ran, nothing was written");
    let (s0, s1) = two_shards(&dir);
    let out = dir.at("merged.html");
    let (code, err) = run(&["report", "merge", &out, &s0, &s1]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("{out} would be replaced by its own page")), "{err}");
}

/// D5: a `--json` path that is a dangling link or a loop of links was found only when
/// the report was written, after every run, as an internal error (exit 1).
#[test]
#[cfg(unix)]
fn a_json_path_through_a_broken_link_is_refused_before_any_run() {
    let dir = TempDir::new("json-links");
    std::os::unix::fs::symlink("nowhere/dangling.json", dir.0.join("dang.json")).expect("link");
    std::os::unix::fs::symlink("loop2", dir.0.join("loop1")).expect("link");
    std::os::unix::fs::symlink("loop1", dir.0.join("loop2")).expect("link");
    for (json, link) in [("dang.json", "dang.json"), ("loop1", "loop1"), ("loop1/r.json", "loop1")]
    {
        let json = dir.at(json);
        let (code, err) =
            run(&["sim", "scenarios/pair-relay.yaml", "--seed", "1", "--json", &json]);
        assert_eq!(code, Some(2), "{json}: {err}");
        let says = format!("error: {} is a symbolic link that cannot be followed", dir.at(link));
        assert!(err.contains(&says), "{json}: {err}");
        assert!(err.contains("remove it, or name another path"), "{json}: {err}");
        assert!(!err.contains("internal error"), "{json}: {err}");
    }
}

/// D1: `report FILE.json` on a file that is not a report said it refused to
/// overwrite it, though `report` only reads it.
#[test]
fn report_says_what_is_wrong_with_a_json_it_reads() {
    let dir = TempDir::new("report-read");
    let (s0, _) = two_shards(&dir);
    std::fs::write(dir.0.join("cut.json"), &read(Path::new(&s0)).as_bytes()[..500])
        .expect("written");
    std::fs::write(dir.0.join("empty.json"), "").expect("written");
    for (name, says) in [
        ("cut.json", "it is not JSON: EOF while parsing a"),
        ("empty.json", "it is not JSON: EOF while parsing a value at line 1 column 0"),
    ] {
        let json = dir.at(name);
        let (code, err) = run(&["report", &json]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains(&format!("error: {json}: {says}")), "{name}: {err}");
        assert!(!err.contains("overwrite"), "{name}: {err}");
    }
    // A report is rendered again, and a user's page beside one is still refused.
    let (code, err) = run(&["report", &s0]);
    assert_eq!(code, Some(0), "{err}");
    std::fs::write(dir.0.join("s1.html"), "mine").expect("written");
    let (code, err) = run(&["report", &dir.at("s1.json")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("s1.html exists and is not a patchbay report"), "{err}");
}

/// C1: a scenario named twice ran twice, and each of its rows counted every run twice.
#[test]
fn a_scenario_named_twice_is_a_usage_error_naming_it() {
    for (args, says) in [
        (
            ["sim", "scenarios/pair-relay.yaml", "scenarios/pair-relay.yaml"],
            "scenarios/pair-relay.yaml is named twice",
        ),
        (
            ["sim", "scenarios/pair-relay.yaml", "scenarios/../scenarios/pair-relay.yaml"],
            "scenarios/pair-relay.yaml and scenarios/../scenarios/pair-relay.yaml are the same file",
        ),
        (
            ["real", "scenarios/pair-relay.yaml", "scenarios/pair-relay.yaml"],
            "scenarios/pair-relay.yaml is named twice",
        ),
    ] {
        let (code, err) = run(&[&args[..], &["--seed", "1"]].concat());
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("error: {says}: each scenario runs once")), "{err}");
    }
}

/// B3 and D6: `graph --out DIR` replaced the user's own DIR/NAME.dot and .svg; `--out
/// FILE` was an internal error.
#[test]
fn graph_never_overwrites_a_file_it_did_not_draw_and_refuses_a_file_as_out() {
    let dir = TempDir::new("graph-out");
    let out = dir.at("drawn");
    std::fs::create_dir_all(&out).expect("a folder");
    std::fs::write(dir.0.join("drawn/pair-relay.svg"), "mine").expect("written");
    std::fs::write(dir.0.join("drawn/pair-relay.dot"), "mine too").expect("written");
    let (code, err) = run(&["graph", "topologies/pair-relay.yaml", "--out", &out]);
    assert_eq!(code, Some(2), "{err}");
    for ext in ["dot", "svg"] {
        let says = format!(
            "{}/pair-relay.{ext} exists and was not drawn by patchbay; refusing to overwrite it",
            out
        );
        assert!(err.contains(&says), "{err}");
    }
    assert_eq!(read(&dir.0.join("drawn/pair-relay.svg")), "mine");
    assert_eq!(read(&dir.0.join("drawn/pair-relay.dot")), "mine too");
    // Patchbay's own drawings are marked, and drawn again over.
    std::fs::remove_file(dir.0.join("drawn/pair-relay.svg")).expect("removed");
    std::fs::remove_file(dir.0.join("drawn/pair-relay.dot")).expect("removed");
    for _ in 0..2 {
        let (code, err) = run(&["graph", "topologies/pair-relay.yaml", "--out", &out]);
        assert_eq!(code, Some(0), "{err}");
    }
    assert!(read(&dir.0.join("drawn/pair-relay.dot")).starts_with("// drawn by patchbay"));
    assert!(read(&dir.0.join("drawn/pair-relay.svg")).starts_with("<!-- drawn by patchbay"));
    std::fs::write(dir.0.join("file"), "mine").expect("written");
    let file = dir.at("file");
    let (code, err) = run(&["graph", "topologies/pair-relay.yaml", "--out", &file]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("error: --out {file}: {file} is a file, so nothing can be written")),
        "{err}"
    );
    assert!(!err.contains("internal error"), "{err}");
    assert_eq!(read(&dir.0.join("file")), "mine");
}

/// B4: `explore --out DIR` chose the case's number from the `.yaml` names alone, and
/// after the whole search refused to write its report over the user's `NAME-1.json`.
#[test]
fn explore_chooses_a_case_number_whose_report_names_are_free_too() {
    let dir = TempDir::new("explore-number");
    let out = dir.at("cases");
    std::fs::create_dir_all(&out).expect("a folder");
    std::fs::write(dir.0.join("cases/no-resend-queue-1.json"), "mine").expect("written");
    let args = ["explore", "scenarios/broken/no-resend-queue.yaml", "--cases", "50"];
    let (code, err) = run(&[&args[..], &["--jobs", "1", "--out", &out]].concat());
    assert_eq!(code, Some(2), "a case was found: {err}");
    assert!(!err.contains("error"), "{err}");
    assert_eq!(read(&dir.0.join("cases/no-resend-queue-1.json")), "mine");
    assert!(!dir.0.join("cases/no-resend-queue-1.yaml").exists(), "no stray case");
    for ext in ["yaml", "json", "html"] {
        assert!(dir.0.join(format!("cases/no-resend-queue-2.{ext}")).is_file(), "{ext}");
    }
}

/// B5: a shard of an exploration that finds nothing writes its report under a fixed
/// name; a run of another search replaced it. The same search's is replaced (it says
/// the same), another's is refused before the search.
#[test]
fn an_explore_shard_replaces_only_its_own_searchs_report() {
    let dir = TempDir::new("explore-shard-again");
    let out = dir.at("ex");
    let explore = |cases: &str, more: &[&str]| {
        let args = ["explore", "scenarios/pair-relay.yaml", "--cases", cases, "--jobs", "1"];
        run(&[&args[..], more, &["--shard", "1/2", "--out", &out]].concat())
    };
    let (code, err) = explore("4", &[]);
    assert_eq!(code, Some(0), "{err}");
    let json = dir.0.join("ex/pair-relay-shard-1-of-2.json");
    let first = read(&json);
    let (code, err) = explore("4", &[]);
    assert_eq!(code, Some(0), "the same search again: {err}");
    // Other cases, or the same count drawn otherwise, are another search.
    for more in [&["--max-faults", "2"][..], &["--faults-only"][..]] {
        let (code, err) = explore("4", more);
        assert_eq!(code, Some(2), "{more:?}: {err}");
        assert!(err.contains("holds shard 1/2 of another search"), "{more:?}: {err}");
    }
    let (code, err) = explore("6", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: {} holds shard 1/2 of another search (`cargo xtask explore \
             scenarios/pair-relay.yaml --cases 4 --seed 1`); refusing to replace it",
            json.display()
        )),
        "{err}"
    );
    let kept = read(&json);
    let created = |t: &str| t.lines().find(|l| l.contains("\"created\"")).map(str::to_owned);
    assert_eq!(
        kept.replace(&created(&kept).unwrap(), ""),
        first.replace(&created(&first).unwrap(), "")
    );
}

/// D7: an index from the environment too large for `--shard-from-env N` did not name
/// the variable it came from.
#[test]
fn a_shard_index_from_the_environment_past_the_count_names_its_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sim", "scenarios/pair-relay.yaml", "--seeds", "2", "--shard-from-env", "2"])
        .current_dir(root())
        .env_remove("JOB_COMPLETION_INDEX")
        .env("PATCHBAY_SHARD_INDEX", "5")
        .output()
        .expect("the xtask binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "PATCHBAY_SHARD_INDEX=5: shard 5 does not exist among 2 (0 to 1); \
             --shard-from-env 2 takes an index below 2"
        ),
        "{err}"
    );
}
