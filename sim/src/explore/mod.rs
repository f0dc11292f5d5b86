//! Exploration: generated variants of a scenario, run until one breaks an invariant,
//! then shrunk to the smallest variant that still breaks it.
//!
//! Swarm testing (`swarm:` in a scenario, `run/swarm.rs`) draws faults from each
//! seed; exploration goes further. It draws whole cases from a proptest strategy over
//! what the scenario can vary (`space.rs`: faults, counts, workload sizes, options,
//! duration, seed), runs them in the simulator `jobs` at a time, and when one fails it
//! walks proptest's shrinking tree (`ValueTree::simplify`/`complicate`), keeping each
//! simpler case that still fails the same invariant. The case is written as an edit of
//! the user's own scenario file (`case_file.rs`), so the minimal case is a scenario
//! like any other: `cargo xtask sim` on it runs the same plan with the same seed and
//! shows the same violation.
//!
//! Everything is deterministic for a given `--seed`: cases come from a seeded proptest
//! runner, each simulation is deterministic, and the first failure is the lowest case
//! index that fails whatever the number of threads.

mod case_file;
mod regressions;
mod space;

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::invariant::Verdict;
use crate::plan::ScenarioPlan;
use crate::registry::Registry;
use crate::resolve::DRAWN_FAULTS_MAX;
use crate::run::Invocation;
use crate::run::shard::Shard;
use crate::spec::edit::{Tree, parse_tree};
use crate::spec::{Diagnostic, Diagnostics, SourceFile};

pub use case_file::relative;
pub use regressions::{
    CaseRef, REGRESSIONS_EXTENSION, append_regression, read_regressions, regressions_path,
};
pub use space::{Case, CountKnob, DEFAULT_KINDS, DEFAULT_MAX_FAULTS, FaultGene, OptionKnob, Space};

/// How many shrinking steps (simulations) a finding may take at most.
pub(crate) const SHRINK_RUNS_MAX: u32 = 500;

/// How an exploration runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cases to try before concluding that nothing breaks.
    pub cases: u64,
    /// Seeds the case generator (not the simulations: each case carries its own).
    pub seed: u64,
    /// Simulations at a time.
    pub jobs: usize,
    /// Overrides the most faults a case may hold.
    pub max_faults: Option<usize>,
    /// Vary only faults and the seed: the topology, workload, options and duration
    /// stay as written (the question "does this design survive faults?").
    pub faults_only: bool,
    /// Where cases are written (and, while running, where their topology paths are
    /// relative to).
    pub out_dir: PathBuf,
    /// Run only this shard's cases (case `i` is shard `i mod N`'s), drawn as the
    /// unsharded search draws them, so the shard owning the lowest failing case finds
    /// and shrinks exactly what the unsharded search would (docs/sharding.md).
    pub shard: Option<Shard>,
}

/// The scenario being explored, read and resolved once.
#[derive(Debug)]
pub struct Base {
    /// The scenario file as the user named it.
    pub path: PathBuf,
    pub plan: ScenarioPlan,
    pub space: Space,
    doc: Tree,
    topology: PathBuf,
}

impl Base {
    /// Reads and resolves the scenario, or returns its diagnostics.
    pub fn load(
        path: &Path,
        registry: &Registry,
        max_faults: Option<usize>,
        faults_only: bool,
    ) -> Result<Base, Vec<Diagnostic>> {
        let src = SourceFile::read(path).map_err(|d| vec![d])?;
        Base::load_source(&src, registry, max_faults, faults_only)
    }

    /// [`Base::load`] of a scenario already read (or given as text by a test): `src`
    /// names its file, which anchors its relative paths and need not exist.
    pub fn load_source(
        src: &SourceFile,
        registry: &Registry,
        max_faults: Option<usize>,
        faults_only: bool,
    ) -> Result<Base, Vec<Diagnostic>> {
        let path = src.path.as_path();
        // The command line's `--max-faults` holds the same bound; a library caller's
        // count is checked here, before proptest allocates a case at its longest.
        if let Some(max) = max_faults.filter(|&m| m as u64 > DRAWN_FAULTS_MAX) {
            let message = format!("a case holds at most {DRAWN_FAULTS_MAX} faults, not {max}");
            let mut d = Diagnostic::new(
                crate::spec::Severity::Error,
                crate::spec::diag::Code::OutOfRange,
                message,
                path,
            );
            d.hint(format!("ask for at most {DRAWN_FAULTS_MAX} (docs/limits.md)"));
            return Err(vec![d]);
        }
        let loaded = crate::resolve::load_scenario_source(src, registry);
        let plan = match loaded.plan {
            Some(plan) => plan,
            None => return Err(loaded.diagnostics),
        };
        // Absolute, like the output folder, so a case names it relative to where the
        // case is written wherever the user started.
        let topology = std::path::absolute(&plan.topology.file).map_err(|e| {
            let message = format!("cannot resolve {}: {e}", plan.topology.file.display());
            vec![Diagnostic::new(
                crate::spec::Severity::Error,
                crate::spec::diag::Code::MissingFile,
                message,
                path,
            )]
        })?;
        let topology_src = SourceFile::read(&topology).map_err(|d| vec![d])?;
        let (doc, topology_doc) = {
            let mut diags = Diagnostics::new(src);
            let doc = parse_tree(src, &mut diags);
            let mut topology_diags = Diagnostics::new(&topology_src);
            let topology_doc = parse_tree(&topology_src, &mut topology_diags);
            match (doc, topology_doc) {
                (Some(d), Some(t)) => (d, t),
                _ => {
                    let mut all = diags.into_vec();
                    all.extend(topology_diags.into_vec());
                    return Err(all);
                }
            }
        };
        let mut space = Space::of(&plan, &doc, &topology_doc, max_faults);
        if faults_only {
            space = space.faults_only();
        }
        Ok(Base { path: path.to_path_buf(), plan, space, doc, topology })
    }

    fn name(&self) -> &str {
        &self.plan.name
    }
}

/// A case that broke something, as run.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The invariants that failed, in the scenario's order; `internal-error` when the
    /// run itself failed.
    pub violated: Vec<&'static str>,
    /// The first violation of the first failed invariant.
    pub first: String,
    /// The scenario file's text (without the header [`write_finding`] adds).
    pub text: String,
    /// Faults in the file, the scenario's own included.
    pub faults: usize,
    /// Events in the run's trace.
    pub events: usize,
}

/// What running one case showed.
#[derive(Clone, Debug)]
pub enum Eval {
    /// The case does not make a valid scenario (a count a design refuses, say): it
    /// neither passes nor fails, and shrinking treats it as not failing.
    Invalid(String),
    Pass,
    Fail(Failure),
}

impl Eval {
    fn fails_like(&self, original: &Failure) -> bool {
        matches!(self, Eval::Fail(f) if f.violated.contains(&original.violated[0]))
    }
}

/// A failing case and its shrunk form.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Cases generated up to and including the first failing one.
    pub cases_to_find: u64,
    /// The failing case as its search drew it, which a regression file keeps.
    pub drawn: CaseRef,
    pub original: Case,
    pub original_failure: Failure,
    pub shrunk: Case,
    pub failure: Failure,
    /// Simplifications kept, and simulations run while shrinking.
    pub shrink_steps: u32,
    pub shrink_runs: u32,
}

/// What an exploration did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Cases run before the finding (or all of them).
    pub cases_run: u64,
    /// Cases that were not valid scenarios, and why the first of them was not.
    pub invalid: u64,
    pub first_invalid: Option<String>,
    pub finding: Option<Finding>,
    /// Wall time of the search, and of the shrinking.
    pub search_wall: Duration,
    pub shrink_wall: Duration,
}

/// Runs up to `opts.cases` cases of `base`; on the first failure, shrinks it.
/// `progress(done, total)` is called after each batch.
pub fn explore(
    base: &Base,
    registry: &Registry,
    opts: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Outcome {
    let started = Instant::now();
    let mut runner = runner(opts.seed);
    let strategy = base.space.strategy();
    let jobs = opts.jobs.max(1);
    let batch_len = (jobs * 2) as u64;
    let (mut done, mut invalid) = (0u64, 0u64);
    let mut first_invalid = None;
    while done < opts.cases {
        let n = batch_len.min(opts.cases - done);
        let mut trees: Vec<_> = (0..n)
            .map(|_| strategy.new_tree(&mut runner).expect("case strategies never reject"))
            .collect();
        let cases: Vec<Case> = trees.iter().map(|t| t.current()).collect();
        // Every case is drawn (the runner's sequence is the unsharded one); only this
        // shard's are run.
        let mine: Vec<usize> = (0..cases.len())
            .filter(|i| opts.shard.is_none_or(|s| s.owns(done + *i as u64)))
            .collect();
        let picked: Vec<Case> = mine.iter().map(|&i| cases[i].clone()).collect();
        let results = evaluate_all(base, registry, &picked, &opts.out_dir, jobs);
        for r in &results {
            if let Eval::Invalid(why) = r {
                invalid += 1;
                first_invalid.get_or_insert_with(|| why.clone());
            }
        }
        let failed = results.iter().position(|r| matches!(r, Eval::Fail(_)));
        if let Some(j) = failed {
            let i = mine[j];
            let Eval::Fail(original_failure) = results[j].clone() else { unreachable!() };
            let drawn = CaseRef { seed: opts.seed, case: done + i as u64 };
            let found = Found { drawn, case: cases[i].clone(), failure: original_failure };
            let mut outcome = shrink_finding(base, registry, opts, trees[i].as_mut(), found);
            outcome.invalid = invalid;
            outcome.first_invalid = first_invalid;
            outcome.search_wall = started.elapsed() - outcome.shrink_wall;
            return outcome;
        }
        done += n;
        progress(done, opts.cases);
    }
    Outcome {
        cases_run: done,
        invalid,
        first_invalid,
        finding: None,
        search_wall: started.elapsed(),
        shrink_wall: Duration::ZERO,
    }
}

/// A case that failed, before shrinking.
struct Found {
    drawn: CaseRef,
    case: Case,
    failure: Failure,
}

/// Shrinks a found case into an outcome whose search ran up to it.
fn shrink_finding(
    base: &Base,
    registry: &Registry,
    opts: &Options,
    tree: &mut dyn ValueTree<Value = Case>,
    found: Found,
) -> Outcome {
    let started = Instant::now();
    let (shrunk, failure, steps, runs) =
        shrink(base, registry, &opts.out_dir, tree, &found.failure);
    Outcome {
        cases_run: found.drawn.case + 1,
        invalid: 0,
        first_invalid: None,
        finding: Some(Finding {
            cases_to_find: found.drawn.case + 1,
            drawn: found.drawn,
            original: found.case,
            original_failure: found.failure,
            shrunk,
            failure,
            shrink_steps: steps,
            shrink_runs: runs,
        }),
        search_wall: Duration::ZERO,
        shrink_wall: started.elapsed(),
    }
}

/// Runs one case a search drew (a regression file's line) again, and shrinks it if it
/// still fails. The outcome counts the one case run; its finding, if any, names
/// `drawn`. The case is drawn as that search drew it: the same tree, so the same
/// shrinking, as long as the scenario's space is unchanged.
pub(crate) fn replay(base: &Base, registry: &Registry, opts: &Options, drawn: CaseRef) -> Outcome {
    let started = Instant::now();
    let mut runner = runner(drawn.seed);
    let strategy = base.space.strategy();
    let mut tree = strategy.new_tree(&mut runner).expect("case strategies never reject");
    for _ in 0..drawn.case {
        tree = strategy.new_tree(&mut runner).expect("case strategies never reject");
    }
    let case = tree.current();
    let eval = evaluate(base, registry, &case, &opts.out_dir);
    let mut outcome = Outcome {
        cases_run: 1,
        invalid: 0,
        first_invalid: None,
        finding: None,
        search_wall: started.elapsed(),
        shrink_wall: Duration::ZERO,
    };
    match eval {
        Eval::Pass => {}
        Eval::Invalid(why) => (outcome.invalid, outcome.first_invalid) = (1, Some(why)),
        Eval::Fail(failure) => {
            let found = Found { drawn, case, failure };
            let shrunk = shrink_finding(base, registry, opts, tree.as_mut(), found);
            outcome.finding = shrunk.finding;
            outcome.shrink_wall = shrunk.shrink_wall;
        }
    }
    outcome
}

/// A proptest runner whose every draw follows from `seed`.
fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// proptest's shrinking loop over one failing tree: simplify while the case still
/// fails like the original, step back (`complicate`) when a simplification passes.
fn shrink(
    base: &Base,
    registry: &Registry,
    dir: &Path,
    tree: &mut dyn ValueTree<Value = Case>,
    original: &Failure,
) -> (Case, Failure, u32, u32) {
    let mut best = (tree.current(), original.clone());
    let (mut steps, mut runs) = (0, 0);
    if !tree.simplify() {
        return (best.0, best.1, steps, runs);
    }
    while runs < SHRINK_RUNS_MAX {
        let case = tree.current();
        let eval = evaluate(base, registry, &case, dir);
        runs += 1;
        if eval.fails_like(original) {
            let Eval::Fail(f) = eval else { unreachable!() };
            best = (case, f);
            steps += 1;
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    (best.0, best.1, steps, runs)
}

/// Runs cases `jobs` at a time; results in case order.
fn evaluate_all(
    base: &Base,
    registry: &Registry,
    cases: &[Case],
    dir: &Path,
    jobs: usize,
) -> Vec<Eval> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Eval>>> = Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(cases.len()).max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let eval = evaluate(base, registry, case, dir);
                    results.lock().expect("no panics while held")[i] = Some(eval);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("threads joined")
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
}

/// The scenario text of `case`, as it would be written into `dir`, or why the case
/// is not a valid scenario.
pub fn case_text(
    base: &Base,
    registry: &Registry,
    case: &Case,
    dir: &Path,
) -> Result<(String, ScenarioPlan), String> {
    let name = format!("{}-explored", base.name());
    let at = dir.join("case.yaml");
    let doc =
        case_file::without_drawn_faults(&base.doc, &base.space, case, &name, &base.topology, dir);
    let sized =
        resolve(&case_file::without_idle_fault_checks(doc.clone(), registry), &at, registry)?;
    let doc = case_file::with_faults(&doc, &base.space, case, &sized, registry);
    let text = doc.to_yaml();
    let plan = resolve_text(&text, &at, registry)?;
    Ok((text, plan))
}

fn resolve(doc: &Tree, at: &Path, registry: &Registry) -> Result<ScenarioPlan, String> {
    resolve_text(&doc.to_yaml(), at, registry)
}

fn resolve_text(text: &str, at: &Path, registry: &Registry) -> Result<ScenarioPlan, String> {
    let src = SourceFile::new(at, text);
    let loaded = crate::resolve::load_scenario_source(&src, registry);
    loaded.plan.ok_or_else(|| {
        let first = loaded.diagnostics.iter().find(|d| d.is_error());
        first.map_or_else(|| "does not resolve".to_owned(), |d| d.message.clone())
    })
}

/// Runs one case.
pub(crate) fn evaluate(base: &Base, registry: &Registry, case: &Case, dir: &Path) -> Eval {
    let (text, plan) = match case_text(base, registry, case, dir) {
        Ok(x) => x,
        Err(why) => return Eval::Invalid(why),
    };
    if let Err(why) = crate::run::runnable(&plan, registry) {
        return Eval::Invalid(why.to_string());
    }
    let report = crate::run::run_seed(&plan, registry, case.seed, false);
    let faults = plan.faults.len();
    if let Some(err) = &report.error {
        return Eval::Fail(Failure {
            violated: vec!["internal-error"],
            first: err.to_string(),
            text,
            faults,
            events: report.events,
        });
    }
    // `faults_fired` checks that a written fault did something; a drawn fault that
    // happens to touch nothing is no finding about the design (shrinking removes it).
    let failed: Vec<_> = report
        .invariants
        .iter()
        .filter(|o| o.verdict == Verdict::Fail && o.name != "faults_fired")
        .collect();
    match failed.first() {
        None => Eval::Pass,
        Some(first) => Eval::Fail(Failure {
            violated: failed.iter().map(|o| o.name).collect(),
            first: first.violations.first().map(|v| v.text.clone()).unwrap_or_default(),
            text,
            faults,
            events: report.events,
        }),
    }
}

/// Writes the finding's minimal case into `dir` as `<scenario>-<n>.yaml`, with the
/// first `n` for which neither that file nor its report's (`.json`, `.html`) exists
/// yet: an existing file is never replaced, and the report written beside the case
/// later is not refused for a name another file holds.
pub fn write_finding(
    base: &Base,
    finding: &Finding,
    opts: &Options,
    command: impl Into<Invocation>,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(&opts.out_dir)?;
    let header = header(base, finding, &command.into());
    for n in 1.. {
        let path = opts.out_dir.join(format!("{}-{n}.yaml", base.name()));
        let report_taken = ["json", "html"]
            .iter()
            .any(|ext| std::fs::symlink_metadata(path.with_extension(ext)).is_ok());
        if report_taken {
            continue;
        }
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(header.as_bytes())?;
                file.write_all(finding.failure.text.as_bytes())?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("some number is free")
}

fn header(base: &Base, finding: &Finding, command: &Invocation) -> String {
    let f = &finding.failure;
    format!(
        "# Found by `{}`\n\
         # exploring {} (`{}`, found after {} case(s)), then shrunk in {} steps ({} runs).\n\
         # Violated: {}\n\
         # First violation: {}\n\
         # This file keeps the claim `expect: pass` that the case refutes, so\n\
         # `{} sim` on it reports the run as not as expected, with the\n\
         # violation; it runs the same plan on the same seed every time.\n",
        command.line,
        base.path.display(),
        finding.drawn,
        finding.cases_to_find,
        finding.shrink_steps,
        finding.shrink_runs,
        f.violated.join(", "),
        f.first.replace('\n', " "),
        command.tool,
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Base;
    use crate::registry::Registry;

    #[test]
    fn a_max_faults_past_what_a_run_may_draw_is_refused_before_any_case() {
        // `testing::Exploration::max_faults` reaches here without the command line's
        // bound; proptest would reserve a case at its longest.
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/broken/no-resend-queue.yaml");
        let registry = Registry::builtin();
        let refused = Base::load(&path, &registry, Some(4_294_967_295), false).unwrap_err();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].code, "out-of-range");
        assert_eq!(refused[0].message, "a case holds at most 100 faults, not 4294967295");
        assert_eq!(refused[0].hint.as_deref(), Some("ask for at most 100 (docs/limits.md)"));
        let base = Base::load(&path, &registry, Some(100), false).expect("100 is allowed");
        assert_eq!(base.space.max_faults, 100);
    }
}
