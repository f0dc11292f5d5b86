//! `sim --shard K/N` and `report merge` as a user runs them: three shards as separate
//! processes of the xtask binary, merged, against one unsharded run of the same sweep
//! (issue 16 item 4; docs/sharding.md). Also the merge's refusals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{TempDir, root};

fn xtask(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).current_dir(root());
    cmd
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The last line a command printed on stdout: a sweep's summary.
fn last_line(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().unwrap_or_default().to_owned()
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("a report is JSON")
}

/// A run's row without what differs between two runs of one seed (wall time).
fn comparable(row: &Value) -> Value {
    let mut row = row.clone();
    let row_fields = row.as_object_mut().expect("a row is an object");
    // Both measure the machine, not the run: they differ from process to process.
    row_fields.remove("wall_ms");
    row_fields.remove("memory");
    row
}

/// The sweep: a scenario that passes and one whose broken design fails some seeds,
/// so failing seeds, repro lines and diagrams are compared, not only passes.
const SWEEP: [&str; 4] =
    ["sim", "scenarios/pair-relay.yaml", "scenarios/broken/lossy-worker.yaml", "--seeds"];
const SEEDS: &str = "4";

#[test]
fn three_shards_run_as_processes_merge_into_the_unsharded_report() {
    let dir = TempDir::new("shard-merge");
    let at = |name: &str| dir.at(name);
    let mut args: Vec<String> = SWEEP.iter().map(|s| (*s).to_owned()).collect();
    args.push(SEEDS.to_owned());
    let with = |more: &[String]| -> Vec<String> { args.iter().chain(more).cloned().collect() };
    // The three shards and the unsharded run go at once, as on separate machines.
    let mut children: Vec<(String, std::process::Child)> = (0..3)
        .map(|k| {
            let more = [format!("--shard={k}/3"), "--json".into(), at(&format!("shard-{k}.json"))];
            let argv = with(&more);
            let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
            (
                format!("shard {k}"),
                xtask(&refs)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn xtask"),
            )
        })
        .collect();
    let whole = with(&["--json".into(), at("whole.json"), "--jobs".into(), "1".into()]);
    let refs: Vec<&str> = whole.iter().map(String::as_str).collect();
    let unsharded = xtask(&refs).output().expect("run xtask");
    for (name, child) in children.drain(..) {
        let out = child.wait_with_output().expect("a shard ends");
        // Exit 2: the broken design's failures are what the scenario expects, but the
        // shards' exit codes follow their own verdict tables, checked through the merge.
        assert!(matches!(out.status.code(), Some(0 | 2)), "{name}:\n{}", text(&out));
    }
    let shards: Vec<String> = (0..3).map(|k| at(&format!("shard-{k}.json"))).collect();
    // Given out of order: the merge orders them by index.
    let mut argv = vec!["report".to_owned(), "merge".into(), at("merged.json")];
    argv.extend([shards[2].clone(), shards[0].clone(), shards[1].clone()]);
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let merged_out = xtask(&refs).output().expect("run the merge");
    assert_eq!(merged_out.status.code(), unsharded.status.code(), "{}", text(&merged_out));
    assert!(dir.0.join("merged.html").is_file(), "the page is written beside the JSON");
    // It ends with the line the unsharded run ends with (it ended with the report's path).
    assert_eq!(last_line(&merged_out), last_line(&unsharded), "{}", text(&merged_out));

    let (merged, whole) = (read(&dir.0.join("merged.json")), read(&dir.0.join("whole.json")));
    let runs =
        |r: &Value| r["runs"].as_array().expect("runs").iter().map(comparable).collect::<Vec<_>>();
    assert_eq!(runs(&merged).len(), 8, "two scenarios, four seeds each");
    // Seeds, trace hashes, verdicts, repro lines, in the unsharded order.
    assert_eq!(runs(&merged), runs(&whole));
    assert_eq!(merged["sections"], whole["sections"], "verdicts, failing seeds, diagrams, figures");
    assert_eq!(merged["notes"][0], whole["notes"][0], "the totals line");
    assert!(merged.get("shard").is_none(), "the merged report is not a shard's");
    let command = merged["command"].as_str().expect("a command");
    assert_eq!(command, format!("cargo xtask {} {SEEDS}", SWEEP.join(" ")));
    // The comparison is not vacuous: the broken design failed seeds, listed with repros.
    let lossy = &merged["sections"][1]["verdicts"];
    let failures: Vec<&Value> = lossy
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| r["failures"].as_array().expect("list"))
        .collect();
    assert!(!failures.is_empty(), "lossy-worker's failing seeds are listed: {lossy}");
    assert!(failures.iter().all(|f| f["repro"].as_str().is_some_and(|r| r.contains("--seed"))));
}

/// From the CLI probe (C2): more shards than runs, as a CI matrix of fixed size has.
/// Two scenarios of one seed each in three shards: shard 0 holds no run of the second,
/// shard 1 none of the first, shard 2 none at all. A shard judges only what it ran
/// (an empty one said "UNEXPECTED: shown in none of 0 seeds" and exited 2), and the
/// merge, whose first shard's section of the second scenario is empty, still equals
/// the unsharded report.
#[test]
fn shards_without_runs_exit_0_and_merge_into_the_unsharded_report() {
    let dir = TempDir::new("shard-empty");
    let at = |name: &str| dir.at(name);
    let sweep = ["sim", "scenarios/pair-relay.yaml", "scenarios/streamer.yaml", "--seed", "1"];
    let with = |more: &[&str]| -> Vec<String> {
        sweep.iter().chain(more).map(|s| (*s).to_owned()).collect()
    };
    let mut children: Vec<(u64, std::process::Child)> = (0..3)
        .map(|k| {
            let (shard, json) = (format!("{k}/3"), at(&format!("shard-{k}.json")));
            let argv = with(&["--shard", &shard, "--json", &json]);
            let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
            let child = xtask(&refs)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn xtask");
            (k, child)
        })
        .collect();
    let argv = with(&["--json", &at("whole.json")]);
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let unsharded = xtask(&refs).output().expect("run xtask");
    assert_eq!(unsharded.status.code(), Some(0), "{}", text(&unsharded));
    for (k, child) in children.drain(..) {
        let out = child.wait_with_output().expect("a shard ends");
        let said = text(&out);
        assert_eq!(out.status.code(), Some(0), "shard {k}:\n{said}");
        let empty = said.lines().filter(|l| l.ends_with("no runs in this shard")).count();
        assert_eq!(empty, [1, 1, 2][k as usize], "shard {k}:\n{said}");
        assert!(!said.contains("UNEXPECTED"), "shard {k}:\n{said}");
    }
    let mut argv = vec!["report".to_owned(), "merge".into(), at("merged.json")];
    argv.extend((0..3).map(|k| at(&format!("shard-{k}.json"))));
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let merged_out = xtask(&refs).output().expect("run the merge");
    assert_eq!(merged_out.status.code(), Some(0), "{}", text(&merged_out));
    assert_eq!(last_line(&merged_out), "every scenario ended as expected", "{}", text(&merged_out));
    let (merged, whole) = (read(&dir.0.join("merged.json")), read(&dir.0.join("whole.json")));
    let runs =
        |r: &Value| r["runs"].as_array().expect("runs").iter().map(comparable).collect::<Vec<_>>();
    assert_eq!(runs(&merged).len(), 2);
    assert_eq!(runs(&merged), runs(&whole));
    assert_eq!(merged["sections"], whole["sections"]);
}

#[test]
fn a_missing_duplicated_or_foreign_shard_is_refused_naming_the_file() {
    let dir = TempDir::new("shard-refuse");
    let at = |name: &str| dir.at(name);
    let run = |args: &[&str]| {
        let out = xtask(args).output().expect("run xtask");
        (out.status.code(), text(&out))
    };
    for k in 0..2 {
        let (shard, json) = (format!("{k}/2"), at(&format!("s{k}.json")));
        let (code, out) = run(&[
            "sim",
            "scenarios/pair-relay.yaml",
            "--seeds",
            "2",
            "--shard",
            &shard,
            "--json",
            &json,
        ]);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains(&format!("shard {shard}: 1 of the sweep's 2 run(s)")), "{out}");
    }
    let (code, out) = run(&[
        "sim",
        "scenarios/pair-relay.yaml",
        "--seeds",
        "3",
        "--shard",
        "1/2",
        "--json",
        &at("other.json"),
    ]);
    assert_eq!(code, Some(0), "{out}");
    let merge = |files: &[&str]| {
        let mut argv = vec!["report", "merge"];
        let out = at("m.json");
        argv.push(&out);
        argv.extend(files);
        run(&argv)
    };
    let (s0, s1, other) = (at("s0.json"), at("s1.json"), at("other.json"));
    let (code, out) = merge(&[&s0]);
    assert_eq!(code, Some(2));
    assert!(out.contains("shard(s) 1/2 missing"), "{out}");
    let (code, out) = merge(&[&s0, &s0]);
    assert_eq!(code, Some(2));
    assert!(out.contains(&format!("{s0} and {s0} are both shard 0/2")), "{out}");
    let (code, out) = merge(&[&s0, &other]);
    assert_eq!(code, Some(2));
    assert!(out.contains(&format!("{other} is not a shard of the same sweep as {s0}")), "{out}");
    assert!(out.contains("--seeds 3"), "the differing command is shown: {out}");
    let (code, out) = merge(&[&s0, &s1]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("merged 2 shard report(s)"), "{out}");
    assert_eq!(read(&dir.0.join("m.json"))["runs"].as_array().map(Vec::len), Some(2));
    // Edited shards (the CLI probe's C3): a run moved to a seed of another shard, and a
    // verdict flipped under the section's unchanged counts, were merged.
    let edited = at("edited.json");
    let edit = |change: &dyn Fn(&mut Value)| {
        let mut report = read(Path::new(&s1));
        change(&mut report);
        std::fs::write(&edited, report.to_string()).expect("written");
    };
    edit(&|r| r["runs"][0]["seed"] = 1.into());
    let (code, out) = merge(&[&s0, &edited]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "error: {edited}: its run 1 is seed 1 of scenarios/pair-relay.yaml, and shard 1/2's \
             run 1 of this sweep is seed 2 of scenarios/pair-relay.yaml (an edited file?)"
        )),
        "{out}"
    );
    edit(&|r| r["runs"][0]["invariants"][0]["verdict"] = "fail".into());
    let (code, out) = merge(&[&s0, &edited]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "error: {edited}: `pair-relay` counts 1 `pass` verdict(s) of no_duplicate_delivery, \
             and its runs give 0 (an edited file?)"
        )),
        "{out}"
    );
    let (code, out) = run(&["sim", "scenarios/pair-relay.yaml", "--shard", "2/2"]);
    assert_eq!(code, Some(2), "a shard that does not exist is a usage error");
    assert!(out.contains("shard 2 does not exist among 2 (0 to 1)"), "{out}");
}

#[test]
fn explore_shards_merge_into_the_finding_of_the_unsharded_search() {
    let dir = TempDir::new("shard-explore");
    let out = |name: &str| dir.0.join(name).display().to_string();
    let explore = |more: &[&str]| {
        let mut argv = vec!["explore", "scenarios/broken/lossy-worker.yaml", "--cases", "4"];
        argv.extend(more);
        let out = xtask(&argv).output().expect("run xtask");
        (out.status.code(), text(&out))
    };
    // Each shard finds its own first failing case (the lossy worker fails often); the
    // merge must pick the one the unsharded search finds.
    // Every search writes to the same folder, as shards on separate machines would,
    // moved aside afterwards, so the cases' paths in the reports are alike.
    let folder = out("explore");
    let (code, whole) = explore(&["--out", &folder, "--jobs", "1"]);
    assert_eq!(code, Some(2), "{whole}");
    std::fs::rename(&folder, dir.0.join("whole")).expect("moved aside");
    for k in 0..2 {
        let (code, text) = explore(&["--out", &folder, "--shard", &format!("{k}/2")]);
        assert_eq!(code, Some(2), "{text}");
        std::fs::rename(&folder, dir.0.join(format!("s{k}"))).expect("moved aside");
    }
    let find = |sub: &str| -> PathBuf {
        let mut jsons: Vec<PathBuf> = std::fs::read_dir(dir.0.join(sub))
            .expect("the case folder")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        jsons.sort();
        assert_eq!(jsons.len(), 1, "one report in {sub}: {jsons:?}");
        jsons.remove(0)
    };
    let (s0, s1) = (find("s0"), find("s1"));
    let argv = [
        "report",
        "merge",
        &out("merged.json"),
        s1.to_str().expect("utf-8"),
        s0.to_str().expect("utf-8"),
    ];
    let merged_out = xtask(&argv).output().expect("run the merge");
    // Exit 2, as the unsharded search: it found a case that fails.
    assert_eq!(merged_out.status.code(), Some(2), "{}", text(&merged_out));
    let (merged, whole) = (read(&dir.0.join("merged.json")), read(&find("whole")));
    assert_eq!(merged["tables"][1], whole["tables"][1], "the original and shrunk case");
    // The search's figures that do not depend on wall time or on the cases a shard
    // skipped.
    let search = |r: &Value| -> Vec<Value> {
        let same = ["cases to find the failure", "shrink steps kept", "shrink runs"];
        let rows = r["tables"][0]["rows"].as_array().expect("the search table").clone();
        rows.into_iter().filter(|row| same.iter().any(|s| row[0] == *s)).collect()
    };
    assert_eq!(search(&merged).len(), 3);
    assert_eq!(search(&merged), search(&whole));
    assert_eq!(merged["sections"], whole["sections"], "the shrunk case's run, drawn");
    assert_eq!(merged["command"], whole["command"]);
    // The case the unsharded search found first, and the shard that runs it.
    let to_find = search(&whole)[0][1].as_str().and_then(|n| n.parse::<u64>().ok());
    let to_find = to_find.expect("cases to find the failure");
    let notes = merged["notes"].to_string();
    let says = format!(
        "case={} (counting from 0, as regression files do) is the first that fails, found and \
         shrunk by shard {}/2",
        to_find - 1,
        (to_find - 1) % 2
    );
    assert!(notes.contains(&says), "{notes}");
}
