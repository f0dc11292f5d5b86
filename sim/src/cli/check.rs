//! `check` and `graph`: validate files (or list what files may name: `check --list`)
//! and draw topologies; and the path handling every command shares (the user's
//! paths, then the project root).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Ctx;
use super::args::{CheckArgs, GraphArgs};
use super::error::{Context as _, Error};
use crate::graph::TopologyGraph;
use crate::plan::Plan;
use crate::registry::Registry;
use crate::resolve;
use crate::spec::diag::render;
use crate::vocab::{Param, ParamKind};

/// Paths as the user typed them, or every shipped file relative to the root. The
/// inner error is a usage error for subcommand `sub`: no file was named and the root
/// lacks a folder the shipped files are listed from.
pub fn files_or_shipped(
    ctx: &Ctx,
    sub: &str,
    files: Vec<PathBuf>,
) -> Result<Result<Vec<PathBuf>, String>, Error> {
    if !files.is_empty() {
        return Ok(Ok(files));
    }
    if let Some(why) = no_shipped_files(ctx, sub) {
        return Ok(Err(why));
    }
    let shipped =
        crate::files::shipped_files(&ctx.root).context(|| "listing shipped files".to_owned())?;
    Ok(Ok(shipped.into_iter().map(|p| ctx.shown(&p)).collect()))
}

/// Why every shipped file cannot be listed: the root (the nearest folder at or above
/// the current one holding `scenarios/` or `topologies/`, else the current one) lacks
/// a folder they are listed from. Says what was looked for and where, with the hint.
fn no_shipped_files(ctx: &Ctx, sub: &str) -> Option<String> {
    let dirs = crate::files::SHIPPED_DIRS;
    let missing: Vec<&str> = dirs.iter().copied().filter(|d| !ctx.root.join(d).is_dir()).collect();
    let named = |ds: &[&str]| ds.iter().map(|d| format!("`{d}/`")).collect::<Vec<_>>();
    let root = ctx.root.display();
    let place = match missing.len() {
        0 => return None,
        // Neither: no folder above held one either, and the root is where it was typed.
        n if n == dirs.len() => {
            format!("no {} folder in {root} or any folder above it", named(&missing).join(" or "))
        }
        _ => format!("the project root {root} has no {} folder", named(&missing).join(" or ")),
    };
    let all = named(&dirs).join(" and ");
    Some(format!(
        "no files named, and {place}; without files, `{sub}` takes every shipped file from \
         {all} of the project root, the nearest folder at or above the current one holding \
         either\n\nhint: name the files (`{} {sub} FILE...`), or run it from a project's root \
         (or a folder below it) holding {all}",
        ctx.tool
    ))
}

pub fn check(ctx: &Ctx, args: CheckArgs) -> Result<ExitCode, Error> {
    if args.list {
        if !args.files.is_empty() {
            let why = format!(
                "--list lists the designs and invariants files may name, and checks no file; \
                 run `{tool} check --list` alone, and `{tool} check FILE...` to check files",
                tool = ctx.tool
            );
            return ctx.usage_error("check", &why);
        }
        out!("{}", listing(&ctx.registry));
        return Ok(ExitCode::SUCCESS);
    }
    let files = absolute_then_enter(ctx, &args.files)?;
    let files = match files_or_shipped(ctx, "check", files)? {
        Ok(files) => files,
        Err(why) => return ctx.usage_error("check", &why),
    };
    let (mut errors, mut warnings) = (0, 0);
    for file in &files {
        let loaded = resolve::load(file, &ctx.registry);
        // A path from the command line may hold anything: printed escaped, as diagnostics are.
        let shown = crate::spec::printable(&file.display().to_string());
        let n_err = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        errors += n_err;
        warnings += loaded.diagnostics.len() - n_err;
        if !loaded.diagnostics.is_empty() {
            err!("{}", render(&loaded.diagnostics));
        }
        match &loaded.plan {
            Some(p) if args.explain => outln!("{}", crate::explain::explain(p)),
            Some(Plan::Topology(t)) => outln!(
                "ok  {}  topology `{}`: {} nodes, {} replicas",
                shown,
                t.name,
                t.groups.len(),
                t.replica_count()
            ),
            Some(Plan::Scenario(s)) => {
                outln!("ok  {shown}  scenario `{}` on `{}`", s.name, s.topology.name)
            }
            None => outln!("bad {shown}  {n_err} error(s)"),
        }
    }
    outln!("checked {} file(s): {errors} error(s), {warnings} warning(s)", files.len());
    Ok(if errors > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// What `check --list` prints: every design in the registry, then every invariant,
/// each sorted by name, with its summary on its line and its parameters under it
/// (name, kind, default or `required`, what it does), the columns aligned across the
/// whole listing.
pub(crate) fn listing(registry: &Registry) -> String {
    let designs: Vec<(&str, &str, &[Param])> =
        registry.iter().map(|d| (d.name(), d.summary_text(), d.params())).collect();
    let mut invariants: Vec<(&str, &str, &[Param])> =
        registry.invariants().map(|i| (i.name(), i.summary(), i.params())).collect();
    invariants.sort_by_key(|(name, ..)| *name);
    let entries = designs.iter().chain(&invariants);
    let name_width = entries.clone().map(|(name, ..)| name.len()).max().unwrap_or(0);
    let params: Vec<[String; 3]> = entries
        .flat_map(|(_, _, ps)| ps.iter())
        .map(|p| [p.name.to_owned(), kind_word(p.kind), p.default.describe()])
        .collect();
    let width = |i: usize| params.iter().map(|p| p[i].len()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    let sections = [
        ("designs", "a topology's nodes name one in `design:`", &designs),
        (
            "invariants",
            "a scenario names them under `invariants:`; each checks that …",
            &invariants,
        ),
    ];
    for (i, (title, how, entries)) in sections.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} {title} ({how}):", entries.len());
        for (name, summary, ps) in entries.iter() {
            let summary = if summary.is_empty() { "(no summary)" } else { summary };
            let _ = writeln!(out, "  {name:name_width$}  {summary}");
            for p in ps.iter() {
                let (kind, default) = (kind_word(p.kind), p.default.describe());
                let _ = writeln!(
                    out,
                    "      {:w0$}  {kind:w1$}  {default:w2$}  {}",
                    p.name,
                    p.doc,
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2]
                );
            }
        }
    }
    out
}

/// A parameter's kind in a word, for the listing's column: `duration`, `one of
/// allowed|violation`.
fn kind_word(kind: ParamKind) -> String {
    match kind {
        ParamKind::Count => "count".to_owned(),
        ParamKind::Duration => "duration".to_owned(),
        ParamKind::Size => "size".to_owned(),
        ParamKind::Number => "number".to_owned(),
        ParamKind::Bool => "bool".to_owned(),
        ParamKind::Text => "text".to_owned(),
        ParamKind::OneOf(words) => format!("one of {}", words.join("|")),
    }
}

pub fn graph(ctx: &Ctx, args: GraphArgs) -> Result<ExitCode, Error> {
    let out_dir = args.out.as_deref().map(absolute).transpose()?;
    let files = absolute_then_enter(ctx, &args.files)?;
    if let Some(message) = same_stem(&files) {
        return ctx.usage_error("graph", &message);
    }
    let out_dir = out_dir.unwrap_or_else(|| PathBuf::from("reports/graph"));
    // Every drawing's place is checked before any is drawn, and before a folder is made.
    if let Err(e) = crate::report::check_dir(&out_dir) {
        let why = format!("--out {}: {e}; name a folder for the drawings", out_dir.display());
        return ctx.usage_error("graph", &why);
    }
    let taken: Vec<String> = files
        .iter()
        .flat_map(|f| ["dot", "svg"].map(|ext| out_dir.join(format!("{}.{ext}", stem_of(f)))))
        .filter_map(|drawing| not_a_drawing(&drawing))
        .collect();
    if !taken.is_empty() {
        return ctx.usage_error("graph", &taken.join("\n"));
    }
    std::fs::create_dir_all(&out_dir).context(|| format!("creating {}", out_dir.display()))?;
    let mut failed = false;
    for file in &files {
        let loaded = resolve::load(file, &ctx.registry);
        if !loaded.diagnostics.is_empty() {
            err!("{}", render(&loaded.diagnostics));
        }
        let Some(p) = loaded.plan else {
            failed = true;
            continue;
        };
        let t = p.topology();
        let g = TopologyGraph::new(t);
        let stem = stem_of(file);
        let dot = out_dir.join(format!("{stem}.dot"));
        let svg = out_dir.join(format!("{stem}.svg"));
        std::fs::write(&dot, g.dot_file(&t.name))
            .context(|| format!("writing {}", dot.display()))?;
        std::fs::write(&svg, g.svg_file(&t.name))
            .context(|| format!("writing {}", svg.display()))?;
        outln!("wrote {} and {}", dot.display(), svg.display());
    }
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// The name a topology file's drawings take: its file stem.
fn stem_of(file: &Path) -> String {
    file.file_stem().map_or("topology".into(), |s| s.to_string_lossy().into_owned())
}

/// Why `graph` must not write its drawing at `path`: something holds the name that
/// patchbay did not draw (the user's own file, a folder, a device, a symbolic link
/// that leads nowhere). Only a regular file whose first line carries patchbay's
/// mark ([`crate::graph::DRAWN_BY`]) is replaced; drawings from before the mark are
/// refused once, like any other file.
fn not_a_drawing(path: &Path) -> Option<String> {
    use std::io::Read as _;
    std::fs::symlink_metadata(path).ok()?;
    let Ok(meta) = std::fs::metadata(path) else {
        let hint = "remove it, or choose another --out";
        return Some(format!(
            "{} is a symbolic link that cannot be followed; {hint}",
            path.display()
        ));
    };
    let mut head = Vec::new();
    // Its metadata first: opening a FIFO would wait for a writer.
    let read = meta.is_file()
        && std::fs::File::open(path).and_then(|f| f.take(1024).read_to_end(&mut head)).is_ok();
    if read && crate::graph::is_drawing(&String::from_utf8_lossy(&head)) {
        return None;
    }
    Some(format!(
        "{} exists and was not drawn by patchbay; refusing to overwrite it (move it, or choose \
         another --out)",
        path.display()
    ))
}

/// Why `files` cannot be drawn in one run: two of them share a file stem, so the
/// second's drawing would replace the first's.
fn same_stem(files: &[PathBuf]) -> Option<String> {
    let mut seen = std::collections::BTreeMap::new();
    for file in files {
        let stem = file.file_stem().unwrap_or_default();
        if let Some(first) = seen.insert(stem, file) {
            return Some(format!(
                "{} and {} would both be drawn as {}.dot and .svg, the second over the first; \
                 draw them in two runs with different --out folders",
                first.display(),
                file.display(),
                stem.to_string_lossy()
            ));
        }
    }
    None
}

pub fn absolute(p: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(p).context(|| format!("reading the path {}", p.display()))
}

/// Makes the user's paths absolute (they were relative to where they typed), then
/// moves to the project root and shows them relative to it where possible.
pub fn absolute_then_enter(ctx: &Ctx, files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let abs: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect::<Result<_, _>>()?;
    enter_root(ctx)?;
    Ok(abs.iter().map(|p| ctx.shown(p)).collect())
}

/// Runs from the project root so relative paths in diagnostics and in scenario files
/// resolve the same way wherever the command was started.
pub fn enter_root(ctx: &Ctx) -> Result<(), Error> {
    std::env::set_current_dir(&ctx.root)
        .context(|| format!("entering the project root {}", ctx.root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::{Invariant, Outcome};
    use crate::vocab::ParamDefault;

    /// The list is the registry the tool was started with: a user's own invariant is
    /// in it, in name order among the built-ins, with its parameters.
    #[test]
    fn the_list_holds_the_users_own_invariants_among_the_builtins() {
        let mut registry = Registry::builtin();
        let must = Param {
            name: "must",
            kind: ParamKind::OneOf(&["this", "that"]),
            default: ParamDefault::Required,
            doc: "which one",
        };
        let mine = Invariant::new("mine_holds", "my property holds", |_| {
            Outcome::from_violations("mine_holds", Vec::new())
        });
        registry.invariant(mine.param(must));
        let listed = listing(&registry);
        let lines: Vec<&str> = listed.lines().collect();
        // Entries are indented by two spaces, their parameters by more.
        let at = |name: &str| lines.iter().position(|l| l.starts_with(&format!("  {name} ")));
        let mine = at("mine_holds").expect("listed");
        assert!(lines[mine].ends_with("  my property holds"), "{}", lines[mine]);
        let param: Vec<&str> = lines[mine + 1].split_whitespace().collect();
        assert_eq!(param, ["must", "one", "of", "this|that", "required", "which", "one"]);
        assert!(at("liveness") < Some(mine) && Some(mine) < at("multipart_atomicity"));
        assert!(listed.starts_with(&format!("{} designs", registry.names().count())));
    }
}
