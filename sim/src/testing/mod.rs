//! Testing a topology from `cargo test`: run a scenario over its seeds and assert it
//! ended as its `expect` says, and explore it, failing the test with the shrunk case
//! written beside the scenario and its seed kept to be replayed first next time.
//!
//! This is the API a user's CI calls (docs/testing.md walks through it); patchbay's
//! own catalogue tests are written on it. A failing assertion panics with what a
//! reader needs: the verdict table, the first failure in words and the lines that
//! run it again.
//!
//! Running a shipped scenario over two seeds (this example runs with the crate's
//! doctests): a server killed mid-request loses its client's reply, which the
//! scenario expects, so the sweep ends as expected and the assertion returns it.
//!
//! ```
//! use patchbay::invariant::Verdict;
//! use patchbay::registry::Registry;
//! use patchbay::testing::Scenario;
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/req-rep-server-killed.yaml");
//! let sweep = Scenario::load(path)
//!     .registry(Registry::builtin())
//!     .seeds([1, 2])
//!     .assert_as_expected();
//!
//! assert_eq!(sweep.plan.name, "req-rep-server-killed");
//! assert_eq!(sweep.runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [1, 2]);
//! for run in &sweep.runs {
//!     let lost = run.invariants.iter().find(|o| o.name == "no_lost_replies").unwrap();
//!     assert_eq!(lost.verdict, Verdict::Fail, "seed {}: the reply in flight is lost", run.seed);
//! }
//! assert!(sweep.failure_message().is_none());
//! assert!(sweep.verdict_table().contains("no_lost_replies              fail ×2"));
//! ```
//!
//! In a user's crate, one `#[test]` per scenario, and an exploration:
//!
//! ```no_run
//! use patchbay::registry::Registry;
//! use patchbay::testing::Scenario;
//!
//! #[test]
//! fn the_broker_survives_a_worker_crash() {
//!     // A user registers their own designs beside the built-in ones.
//!     let registry = Registry::builtin();
//!     Scenario::load("scenarios/worker-crash.yaml")
//!         .registry(registry)
//!         .seeds(1..=8)
//!         .assert_as_expected();
//! }
//!
//! #[test]
//! fn no_fault_schedule_breaks_the_broker() {
//!     // Fails with the shrunk case written as `scenarios/<name>-1.yaml`, and keeps
//!     // its seed in `scenarios/worker-crash.explore-regressions`.
//!     Scenario::load("scenarios/worker-crash.yaml").explore().cases(64).assert_survives();
//! }
//! ```

mod exploration;
mod table;

use std::path::{Path, PathBuf};

use crate::plan::ScenarioPlan;
use crate::registry::Registry;
use crate::resolve::{load_scenario, load_scenario_source};
use crate::run::{Job, RunReport, run_many, sweep_as_expected};
use crate::spec::render;
use crate::spec::source::SourceFile;

pub use exploration::{Exploration, Explored, Step};
use table::{first_failure, result_text, verdict_table};

/// A scenario file to test, with the registry its designs come from and the seeds to
/// run. The file is read and resolved when it runs, with the registry given by then.
#[derive(Clone, Debug)]
pub struct Scenario {
    path: PathBuf,
    /// The scenario's text when a test gave it ([`Scenario::from_text`]); `None`
    /// reads the file at `path`.
    text: Option<String>,
    registry: Registry,
    /// `None`: the scenario's own `seeds`.
    seeds: Option<Vec<u64>>,
    /// Simulations at a time.
    jobs: usize,
}

/// What a sweep of a scenario's seeds showed.
#[derive(Debug)]
pub struct Sweep {
    /// The scenario as resolved.
    pub plan: ScenarioPlan,
    /// One report per seed, in the order the seeds were given.
    pub runs: Vec<RunReport>,
    /// Whether the scenario resolved against a registry holding more than the
    /// built-ins, which the repro line for a test must then pass.
    own_registry: bool,
    /// The scenario's text when the test gave it rather than a file: the repro lines
    /// run it only once it is saved under the scenario's path.
    text: Option<String>,
}

impl Sweep {
    /// Whether the sweep ended as the scenario's `expect` says.
    pub fn as_expected(&self) -> bool {
        sweep_as_expected(&self.plan, &self.runs.iter().collect::<Vec<_>>())
    }

    /// The verdict table, as `cargo xtask sim` prints it for this scenario.
    pub fn verdict_table(&self) -> String {
        verdict_table(&self.plan, &self.runs)
    }

    /// The message a failed assertion panics with: which scenario, the table, the
    /// first failure in words and its repro; `None` when the sweep was as expected.
    pub fn failure_message(&self) -> Option<String> {
        if self.as_expected() {
            return None;
        }
        let given = self.text.as_ref().map_or_else(String::new, |text| {
            format!(
                "\n  the scenario was given as text (Scenario::from_text), not read from {}: \
                 save this there to run the lines above\n{text}",
                self.plan.file.display()
            )
        });
        Some(format!(
            "scenario `{}` ({}) did not end as expected: {}\n\n{}\n{}{given}",
            self.plan.name,
            self.plan.file.display(),
            result_text(&self.plan, &self.runs),
            self.verdict_table(),
            first_failure(&self.plan, &self.runs, self.own_registry)
        ))
    }
}

impl Scenario {
    /// The scenario file at `path` (relative paths are from the current directory,
    /// which `cargo test` sets to the package's root), with the built-in designs.
    pub fn load(path: impl AsRef<Path>) -> Scenario {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        Scenario {
            path: path.as_ref().to_path_buf(),
            text: None,
            registry: Registry::builtin(),
            seeds: None,
            jobs,
        }
    }

    /// A scenario given as `text` rather than read from a file, as a property test
    /// builds one per case: it is read as if it were the file at `path`, which names
    /// it in diagnostics and repro lines and anchors its relative paths (its
    /// `topology:`); the file need not exist. A failed assertion prints the text
    /// after its repro lines, to be saved at `path` to run them; nothing is written.
    pub fn from_text(path: impl AsRef<Path>, text: impl Into<String>) -> Scenario {
        Scenario { text: Some(text.into()), ..Scenario::load(path) }
    }

    /// The designs the scenario's topology may name (a user's registry holds the
    /// built-in ones and their own).
    pub fn registry(mut self, registry: Registry) -> Scenario {
        self.registry = registry;
        self
    }

    /// Runs these seeds instead of the scenario's own.
    ///
    /// # Panics
    /// With no seed at all: a sweep of nothing would pass without testing anything.
    #[track_caller]
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = u64>) -> Scenario {
        let seeds: Vec<u64> = seeds.into_iter().collect();
        assert!(!seeds.is_empty(), "Scenario::seeds: no seeds given for {}", self.path.display());
        self.seeds = Some(seeds);
        self
    }

    /// Runs at most `jobs` simulations at a time (by default, one per core).
    ///
    /// # Panics
    /// With `0`: nothing would run.
    #[track_caller]
    pub fn jobs(mut self, jobs: usize) -> Scenario {
        assert!(jobs > 0, "Scenario::jobs: at least one simulation at a time");
        self.jobs = jobs;
        self
    }

    /// The file this tests.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The registry its designs come from.
    pub fn registry_ref(&self) -> &Registry {
        &self.registry
    }

    /// The resolved scenario, or its diagnostics rendered (file, line, column, hint).
    pub fn plan(&self) -> Result<ScenarioPlan, String> {
        let loaded = match &self.text {
            Some(text) => {
                let src = SourceFile::new(self.path.clone(), text.clone());
                load_scenario_source(&src, &self.registry)
            }
            None => load_scenario(&self.path, &self.registry),
        };
        loaded.plan.ok_or_else(|| render(&loaded.diagnostics))
    }

    /// Runs the seeds; an error is the scenario's diagnostics, or why it cannot run.
    pub fn run(&self) -> Result<Sweep, String> {
        let plan = self.plan()?;
        crate::run::runnable(&plan, &self.registry).map_err(|e| e.to_string())?;
        let seeds = self.seeds.clone().unwrap_or_else(|| plan.seeds.clone());
        let jobs: Vec<Job<'_>> = seeds.iter().map(|&seed| Job { plan: &plan, seed }).collect();
        let runs = run_many(&jobs, &self.registry, self.jobs, false, &|_| {});
        let own_registry = !self.registry.is_builtin();
        Ok(Sweep { plan, runs, own_registry, text: self.text.clone() })
    }

    /// Runs the seeds and panics unless the sweep ended as the scenario's `expect`
    /// says, with the verdict table, the first failure and its repro. Returns the
    /// sweep for further assertions. The panic names the caller's line, as
    /// `assert!` does.
    #[track_caller]
    pub fn assert_as_expected(&self) -> Sweep {
        // A `panic!` in a closure would name the closure's line, here.
        let sweep = match self.run() {
            Ok(sweep) => sweep,
            Err(e) => panic!("{}: {e}", self.path.display()),
        };
        if let Some(message) = sweep.failure_message() {
            panic!("{message}");
        }
        sweep
    }

    /// An exploration of this scenario (see [`Exploration`]).
    pub fn explore(&self) -> Exploration {
        Exploration::new(self.clone())
    }
}
