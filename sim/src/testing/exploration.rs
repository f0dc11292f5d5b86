//! An exploration from `cargo test`: replay the scenario's regression file, then draw
//! new cases; on a failure, shrink it, write the shrunk case beside the scenario and
//! keep its seed in the regression file, so the next run replays it first.
//!
//! The search itself is `explore/` (`cargo xtask explore`'s); this adds the regression
//! file (`explore/regressions.rs`) and the words a failing test prints.

use std::path::{Path, PathBuf};

use crate::explore::{
    self, Base, CaseRef, Finding, Options, append_regression, read_regressions, regressions_path,
};
use crate::spec::render;
use crate::spec::source::SourceFile;

use super::Scenario;
use super::table::test_repro;

/// What the header of a written case says found it.
const FOUND_BY: &str = "patchbay::testing (cargo test)";

/// Generator seed and cases of an exploration unless told otherwise.
const DEFAULT_SEED: u64 = 1;
const DEFAULT_CASES: u64 = 32;

/// An exploration of a scenario, built from [`Scenario::explore`].
#[derive(Clone, Debug)]
pub struct Exploration {
    scenario: Scenario,
    cases: u64,
    seed: u64,
    max_faults: Option<usize>,
    faults_only: bool,
    /// Where cases and the regression file go; `None`: beside the scenario.
    out_dir: Option<PathBuf>,
}

/// One thing an exploration did, in the order it did them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A case from the regression file, run again; `failed` if it still fails.
    Replayed {
        /// The case, as the regression file names it.
        drawn: CaseRef,
        /// Whether it still fails.
        failed: bool,
    },
    /// New cases drawn by the search with this generator seed.
    Searched {
        /// The generator's seed.
        seed: u64,
        /// Cases drawn and run.
        cases_run: u64,
        /// Whether one failed (the search stops at the first).
        failed: bool,
    },
}

/// What an exploration did and found.
#[derive(Debug)]
pub struct Explored {
    /// What it did, in order: the regressions replayed, then the search.
    pub steps: Vec<Step>,
    /// The failure, shrunk; `None` when every case survived.
    pub finding: Option<Finding>,
    /// Where the shrunk case was written.
    pub written: Option<PathBuf>,
    /// The regression file (which exists only once something failed).
    pub regressions: PathBuf,
    /// Cases that were not valid scenarios, over every step, and why the first was not.
    pub invalid: u64,
    /// Why the first invalid case was not valid.
    pub first_invalid: Option<String>,
    /// The scenario's name, for messages.
    name: String,
    /// Whether the scenario resolved against a registry holding more than the
    /// built-ins, which the shrunk case's line for a test must then pass.
    own_registry: bool,
}

impl Explored {
    /// The message a failed exploration panics with; `None` when nothing failed.
    pub fn failure_message(&self) -> Option<String> {
        let f = self.finding.as_ref()?;
        let written = self.written.as_deref().unwrap_or(Path::new("?"));
        let how = match self.steps.last() {
            Some(Step::Replayed { .. }) => format!("replaying `{}` from", f.drawn),
            _ => format!("found as `{}` after {} case(s), kept in", f.drawn, f.cases_to_find),
        };
        let in_a_test = test_repro(written, None, self.own_registry);
        Some(format!(
            "exploring `{}` broke {} ({how} {}), shrunk in {} steps to {} fault(s):\n  {}\n\
             the shrunk case is written to {}: run it with `cargo xtask sim {}` or\n  {in_a_test}\n\n{}",
            self.name,
            f.failure.violated.join(", "),
            self.regressions.display(),
            f.shrink_steps,
            f.failure.faults,
            f.failure.first.replace('\n', " "),
            written.display(),
            written.display(),
            f.failure.text
        ))
    }
}

impl Exploration {
    pub(super) fn new(scenario: Scenario) -> Exploration {
        Exploration {
            scenario,
            cases: DEFAULT_CASES,
            seed: DEFAULT_SEED,
            max_faults: None,
            faults_only: false,
            out_dir: None,
        }
    }

    /// New cases to draw after the regression file's (default 32).
    pub fn cases(mut self, cases: u64) -> Exploration {
        self.cases = cases;
        self
    }

    /// The search's generator seed (default 1): the same seed draws the same cases.
    pub fn seed(mut self, seed: u64) -> Exploration {
        self.seed = seed;
        self
    }

    /// The most faults a case may hold (default: the scenario's own, or explore's).
    pub fn max_faults(mut self, max_faults: usize) -> Exploration {
        self.max_faults = Some(max_faults);
        self
    }

    /// Varies only faults and the seed: the question "does this design survive
    /// faults?", with the topology, workload, options and duration as written.
    pub fn faults_only(mut self) -> Exploration {
        self.faults_only = true;
        self
    }

    /// Writes cases and the regression file into `dir` instead of beside the scenario.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Exploration {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The folder cases and the regression file go to.
    pub fn dir(&self) -> PathBuf {
        self.out_dir.clone().unwrap_or_else(|| {
            let parent = self.scenario.path.parent().unwrap_or(Path::new("."));
            if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent.to_path_buf() }
        })
    }

    /// Replays the regression file's cases in order, then draws new ones, stopping at
    /// the first failure; that one is shrunk, written and kept. An error is the
    /// scenario's (or the regression file's) diagnostics, or a file not written.
    pub fn run(&self) -> Result<Explored, String> {
        let registry = &self.scenario.registry;
        let path = &self.scenario.path;
        let (max_faults, faults_only) = (self.max_faults, self.faults_only);
        let base = match &self.scenario.text {
            Some(text) => {
                let src = SourceFile::new(path.clone(), text.clone());
                Base::load_source(&src, registry, max_faults, faults_only)
            }
            None => Base::load(path, registry, max_faults, faults_only),
        }
        .map_err(|d| render(&d))?;
        let dir = self.dir();
        // Absolute, as `cargo xtask explore` makes it: cases name their topology
        // relative to where they are written.
        let out_dir = std::path::absolute(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let opts = Options {
            cases: self.cases,
            seed: self.seed,
            jobs: self.scenario.jobs,
            max_faults: self.max_faults,
            faults_only: self.faults_only,
            out_dir,
            shard: None,
        };
        let regressions = regressions_path(&dir, path);
        let kept = read_regressions(&regressions).map_err(|d| render(&[d]))?;
        let mut done = Explored {
            steps: Vec::new(),
            finding: None,
            written: None,
            regressions,
            invalid: 0,
            first_invalid: None,
            name: base.plan.name.clone(),
            own_registry: !registry.is_builtin(),
        };
        for drawn in kept {
            let outcome = explore::replay(&base, registry, &opts, drawn);
            done.invalid += outcome.invalid;
            done.first_invalid = done.first_invalid.or(outcome.first_invalid);
            let failed = outcome.finding.is_some();
            done.steps.push(Step::Replayed { drawn, failed });
            if let Some(finding) = outcome.finding {
                return self.keep(&base, &opts, finding, done);
            }
        }
        let outcome = explore::explore(&base, registry, &opts, &|_, _| {});
        done.invalid += outcome.invalid;
        done.first_invalid = done.first_invalid.or(outcome.first_invalid);
        let failed = outcome.finding.is_some();
        done.steps.push(Step::Searched { seed: self.seed, cases_run: outcome.cases_run, failed });
        match outcome.finding {
            Some(finding) => self.keep(&base, &opts, finding, done),
            None => Ok(done),
        }
    }

    /// Writes the shrunk case (under a new name) and keeps its seed.
    fn keep(
        &self,
        base: &Base,
        opts: &Options,
        finding: Finding,
        mut done: Explored,
    ) -> Result<Explored, String> {
        let dir = &opts.out_dir;
        let written = explore::write_finding(base, &finding, opts, FOUND_BY)
            .map_err(|e| format!("writing a case into {}: {e}", dir.display()))?;
        let name = written.file_name().map_or_else(String::new, |n| n.to_string_lossy().into());
        let comment = format!(
            "{}: {} (shrunk case first written as {name})",
            finding.failure.violated.join(", "),
            finding.failure.first
        );
        append_regression(&done.regressions, &self.scenario.path, finding.drawn, &comment)
            .map_err(|e| format!("keeping the case in {}: {e}", done.regressions.display()))?;
        done.finding = Some(finding);
        done.written = Some(written);
        Ok(done)
    }

    /// Runs the exploration and panics if a case broke an invariant (with what broke,
    /// where the shrunk case was written, the regression file and the case itself), or
    /// if the scenario cannot be explored. Returns what it did. The panic names the
    /// caller's line, as `assert!` does.
    #[track_caller]
    pub fn assert_survives(&self) -> Explored {
        // A `panic!` in a closure would name the closure's line, here.
        let done = match self.run() {
            Ok(done) => done,
            Err(e) => panic!("{}: {e}", self.scenario.path.display()),
        };
        if let Some(message) = done.failure_message() {
            panic!("{message}");
        }
        done
    }
}
