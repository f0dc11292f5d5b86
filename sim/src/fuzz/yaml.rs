//! The YAML target: shipped topology and scenario files, mutated line by line or
//! byte by byte, loaded through the public API (`resolve::resolve_topology_source`,
//! `resolve::load_scenario_source`) and their diagnostics rendered.
//!
//! A mutated file may say anything; the property is only that loading and rendering
//! never panic and end. A scenario's topology is read from disk relative to the
//! scenario's real path, so scenarios are resolved against their real topologies.

use std::path::{Path, PathBuf};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::mutate::{mutate_bytes, mutate_lines};
use super::{Checked, Target};
use crate::registry::Registry;
use crate::resolve;
use crate::spec::{SourceFile, render};

/// Largest input: well above the largest shipped file, so the time one input takes
/// stays bounded.
const INPUT_BYTES_MAX: usize = 64 * 1024;

/// The shipped files and the registry they resolve against.
#[derive(Debug)]
pub struct YamlTarget {
    files: Vec<(PathBuf, bool)>,
    texts: Vec<String>,
    registry: Registry,
}

/// A YAML input: which corpus file it came from (for its path and kind) and its text.
#[derive(Clone, Debug)]
pub struct YamlInput {
    pub entry: usize,
    pub text: String,
}

impl YamlTarget {
    /// Reads every shipped file under `root` (`topologies/`, `scenarios/`).
    pub(crate) fn from_shipped(root: &Path) -> std::io::Result<YamlTarget> {
        let mut files = Vec::new();
        let mut texts = Vec::new();
        for path in crate::files::shipped_files(root)? {
            let is_scenario = path.strip_prefix(root).is_ok_and(|p| p.starts_with("scenarios"));
            texts.push(std::fs::read_to_string(&path)?);
            files.push((path, is_scenario));
        }
        if files.is_empty() {
            return Err(std::io::Error::other("no shipped YAML files found"));
        }
        Ok(YamlTarget { files, texts, registry: Registry::builtin() })
    }
}

impl Target for YamlTarget {
    type Input = YamlInput;

    fn name(&self) -> &'static str {
        "yaml"
    }

    fn input(&self, rng: &mut ChaCha8Rng) -> YamlInput {
        let entry = rng.random_range(0..self.files.len());
        let original = &self.texts[entry];
        let text = if rng.random_bool(0.9) {
            mutate_lines(rng, original, &self.texts, INPUT_BYTES_MAX)
        } else {
            let corpus: Vec<Vec<u8>> = vec![original.as_bytes().to_vec()];
            let mut bytes = original.as_bytes().to_vec();
            mutate_bytes(rng, &mut bytes, &corpus, INPUT_BYTES_MAX);
            String::from_utf8_lossy(&bytes).into_owned()
        };
        YamlInput { entry, text }
    }

    fn check(&self, input: &YamlInput, _rng: &mut ChaCha8Rng) -> Result<Checked, String> {
        let (path, is_scenario) = &self.files[input.entry];
        let src = SourceFile::new(path.clone(), input.text.clone());
        let (resolved, diagnostics) = if *is_scenario {
            let loaded = resolve::load_scenario_source(&src, &self.registry);
            (loaded.plan.is_some(), loaded.diagnostics)
        } else {
            let loaded =
                resolve::resolve_topology_source(&src, &self.registry, &Default::default());
            (loaded.plan.is_some(), loaded.diagnostics)
        };
        let rendered = render(&diagnostics);
        if !resolved && !diagnostics.iter().any(|d| d.is_error()) {
            return Err("silent failure: no plan and no error".to_owned());
        }
        if !diagnostics.is_empty() && rendered.is_empty() {
            return Err("diagnostics rendered as nothing".to_owned());
        }
        let label = match diagnostics.iter().find(|d| d.is_error()) {
            Some(first) => first.code.to_string(),
            None if resolved => "ok".to_owned(),
            None => "no-plan".to_owned(),
        };
        Ok(Checked { label, buffered_bytes: 0 })
    }

    fn bytes(&self, input: &YamlInput) -> Vec<u8> {
        input.text.as_bytes().to_vec()
    }
}
