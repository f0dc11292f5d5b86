//! The sharding recipes in docs/recipes/ (docs/sharding.md) parse as YAML, through
//! patchbay's own YAML front end (`spec::edit::parse_tree`; serde_yaml stays inside
//! `spec/`), and say what the docs promise: each reads its engine's own shard index,
//! and the number of shards the engine starts is the number patchbay is told.

use std::path::PathBuf;

use patchbay::spec::Diagnostics;
use patchbay::spec::SourceFile;
use patchbay::spec::edit::{Tree, parse_tree};

fn recipe(name: &str) -> Tree {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/recipes").join(name);
    let src = SourceFile::read(&path).unwrap_or_else(|d| panic!("{name}: {d:?}"));
    let mut diags = Diagnostics::new(&src);
    let tree = parse_tree(&src, &mut diags);
    let problems = diags.into_vec();
    assert!(problems.is_empty(), "{name} is not valid YAML: {problems:?}");
    tree.unwrap_or_else(|| panic!("{name} parses"))
}

fn at<'a>(tree: &'a Tree, path: &[&str]) -> &'a Tree {
    path.iter().fold(tree, |t, k| t.get(k).unwrap_or_else(|| panic!("no `{k}` in {path:?}")))
}

/// The N of `--shard-from-env N` in a command.
fn shards_told(command: &str) -> i64 {
    let after = command.split("--shard-from-env").nth(1).expect("--shard-from-env in the command");
    after.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a count after it")
}

/// Every string in a tree, depth first.
fn strings(tree: &Tree) -> Vec<&str> {
    match tree {
        Tree::Str(s) => vec![s.as_str()],
        Tree::Seq(items) => items.iter().flat_map(strings).collect(),
        Tree::Map(entries) => entries.iter().flat_map(|(_, v)| strings(v)).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_github_actions_recipe_passes_its_matrix_index_and_merges_every_shard() {
    let wf = recipe("github-actions-sweep.yml");
    let Tree::Seq(matrix) = at(&wf, &["jobs", "shard", "strategy", "matrix", "shard"]) else {
        panic!("the matrix lists shard indices")
    };
    let indices: Vec<i64> = matrix.iter().filter_map(Tree::as_i64).collect();
    assert_eq!(indices, (0..matrix.len() as i64).collect::<Vec<_>>(), "0-based, every index");
    let Tree::Seq(steps) = at(&wf, &["jobs", "shard", "steps"]) else { panic!("steps") };
    let run = steps.iter().find_map(|s| s.get("run")).and_then(Tree::as_str).expect("a run step");
    assert_eq!(shards_told(run), matrix.len() as i64, "--shard-from-env matches the matrix");
    let index_env =
        steps.iter().find_map(|s| s.get("env")).and_then(|e| e.get("PATCHBAY_SHARD_INDEX"));
    assert_eq!(index_env.and_then(Tree::as_str), Some("${{ matrix.shard }}"));
    assert_eq!(at(&wf, &["jobs", "shard", "strategy", "fail-fast"]), &Tree::Bool(false));
    assert_eq!(at(&wf, &["jobs", "merge", "needs"]).as_str(), Some("shard"));
    let merge = strings(at(&wf, &["jobs", "merge", "steps"]));
    assert!(merge.iter().any(|s| s.contains("cargo xtask report merge")), "{merge:?}");
}

#[test]
fn the_kubernetes_recipe_is_an_indexed_job_whose_completions_are_the_shards() {
    let job = recipe("k8s-indexed-job.yaml");
    assert_eq!(at(&job, &["kind"]).as_str(), Some("Job"));
    assert_eq!(at(&job, &["spec", "completionMode"]).as_str(), Some("Indexed"));
    let completions = at(&job, &["spec", "completions"]).as_i64().expect("completions");
    let args = strings(at(&job, &["spec", "template", "spec", "containers"])).join(" ");
    assert_eq!(shards_told(&args), completions, "--shard-from-env matches completions");
    assert!(args.contains("$JOB_COMPLETION_INDEX"), "each shard's report is named by index");
    let merge = recipe("k8s-merge-job.yaml");
    let merge_args = strings(at(&merge, &["spec", "template", "spec", "containers"])).join(" ");
    assert!(merge_args.contains("report merge /reports/sweep.json /reports/shard-*.json"));
}
