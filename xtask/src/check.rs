//! `check` and `graph`: validate files and draw topologies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use patchbay::graph::TopologyGraph;
use patchbay::plan::Plan;
use patchbay::registry::Registry;
use patchbay::resolve;
use patchbay::spec::diag::render;

use crate::args;

/// Paths as the user typed them, or every shipped file relative to the root.
pub fn files_or_shipped(files: Vec<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    if !files.is_empty() {
        return Ok(files);
    }
    let root = crate::root();
    let shipped = patchbay::files::shipped_files(&root).context("listing shipped files")?;
    Ok(shipped
        .into_iter()
        .map(|p| p.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(p))
        .collect())
}

/// Runs from the workspace root so relative paths in diagnostics and in scenario
/// files resolve the same way wherever `cargo xtask` was started.
pub fn enter_root() -> anyhow::Result<()> {
    std::env::set_current_dir(crate::root()).context("entering the workspace root")
}

pub fn check(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let args = match args::parse(argv, &[], &["explain"]) {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    let files = absolute_then_enter(args.files.clone())?;
    let files = files_or_shipped(files)?;
    let registry = Registry::builtin();
    let (mut errors, mut warnings) = (0, 0);
    for file in &files {
        let loaded = resolve::load(file, &registry);
        // A path from the command line may hold anything: printed escaped, as diagnostics are.
        let shown = patchbay::spec::printable(&file.display().to_string());
        let n_err = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        errors += n_err;
        warnings += loaded.diagnostics.len() - n_err;
        if !loaded.diagnostics.is_empty() {
            eprint!("{}", render(&loaded.diagnostics));
        }
        match &loaded.plan {
            Some(p) if args.flag("explain") => println!("{}", patchbay::explain::explain(p)),
            Some(Plan::Topology(t)) => println!(
                "ok  {}  topology `{}`: {} nodes, {} replicas",
                shown,
                t.name,
                t.groups.len(),
                t.replica_count()
            ),
            Some(Plan::Scenario(s)) => {
                println!("ok  {shown}  scenario `{}` on `{}`", s.name, s.topology.name)
            }
            None => println!("bad {shown}  {n_err} error(s)"),
        }
    }
    println!("checked {} file(s): {errors} error(s), {warnings} warning(s)", files.len());
    Ok(if errors > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

pub fn graph(argv: Vec<String>) -> anyhow::Result<ExitCode> {
    let args = match args::parse(argv, &["out"], &[]) {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    if args.files.is_empty() {
        return usage_error("graph needs a topology or scenario file");
    }
    let out_dir = args.value("out").map(|o| absolute(Path::new(o))).transpose()?;
    let files = absolute_then_enter(args.files.clone())?;
    let out_dir = out_dir.unwrap_or_else(|| PathBuf::from("reports/graph"));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let registry = Registry::builtin();
    let mut failed = false;
    for file in &files {
        let loaded = resolve::load(file, &registry);
        if !loaded.diagnostics.is_empty() {
            eprint!("{}", render(&loaded.diagnostics));
        }
        let Some(p) = loaded.plan else {
            failed = true;
            continue;
        };
        let t = p.topology();
        let g = TopologyGraph::new(t);
        let stem = file.file_stem().map_or("topology".into(), |s| s.to_string_lossy().into_owned());
        let dot = out_dir.join(format!("{stem}.dot"));
        let svg = out_dir.join(format!("{stem}.svg"));
        std::fs::write(&dot, g.to_dot(&t.name))
            .with_context(|| format!("writing {}", dot.display()))?;
        std::fs::write(&svg, g.to_svg(&t.name))
            .with_context(|| format!("writing {}", svg.display()))?;
        println!("wrote {} and {}", dot.display(), svg.display());
    }
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

pub fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) })
}

/// Makes the user's paths absolute (they were relative to where they typed), then
/// moves to the workspace root and shows them relative to it where possible.
pub fn absolute_then_enter(files: Vec<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    let abs: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect::<anyhow::Result<_>>()?;
    enter_root()?;
    let root = crate::root();
    Ok(abs.into_iter().map(|p| p.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(p)).collect())
}

pub fn usage_error(message: &str) -> anyhow::Result<ExitCode> {
    eprintln!("error: {message}\n(see `cargo xtask help`)");
    Ok(ExitCode::from(2))
}
