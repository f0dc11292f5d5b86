//! The layering of `sim/src`, checked from its `use` lines (rust-analyzer's tidy habit).
//!
//! Every module of the library sits in one layer, and a module may import only from
//! layers strictly below its own (never sideways, never up):
//!
//! ```text
//!  11  prelude                      (re-exports for design authors)
//!  10  cli       testing
//!   9  report
//!   8  explore   explain   fuzz
//!   7  run
//!   6  resolve                      (raw structs to a checked plan; knows the registry)
//!   5  registry                     (designs and invariants, by name)
//!   4  design    invariant   graph
//!   3  net       vocab              (roles, parameter kinds, socket roles)
//!   2  wire      trace
//!   1  plan                         (resolved types and their small methods)
//!   0  spec      socket      files
//! ```
//!
//! The test reads every `sim/src/**/*.rs`, collects the paths each names through
//! `crate::` (in `use` lines and in code), and `super::`, `self::` or a child module's
//! name in `use` lines, maps the path to its module's layer, and fails naming file,
//! line and forbidden edge for every import against the rule. `lib.rs`, which declares
//! the modules, is the root and exempt. Test modules (`#[cfg(test)]`) are NOT exempt: a
//! test that reaches up a layer ties the layers together at test time just as surely,
//! so shared test fixtures live in the lowest layer that can build them.

use std::path::{Path, PathBuf};

use crate::util::root;

/// Each module path (`::`-separated, relative to the crate), the layer it belongs to
/// and that layer's rank. The longest matching prefix decides, so a file can sit in a
/// layer above the folder that holds it.
const LAYERS: &[(&str, &str, usize)] = &[
    ("spec", "spec", 0),
    ("socket", "socket", 0),
    ("files", "files", 0),
    ("plan", "plan", 1),
    ("wire", "wire", 2),
    ("trace", "trace", 2),
    ("net", "net", 3),
    ("vocab", "vocab", 3),
    ("design", "design", 4),
    ("invariant", "invariant", 4),
    ("graph", "graph", 4),
    ("registry", "registry", 5),
    ("resolve", "resolve", 6),
    ("run", "run", 7),
    ("explore", "explore", 8),
    ("explain", "explain", 8),
    ("fuzz", "fuzz", 8),
    ("report", "report", 9),
    ("cli", "cli", 10),
    ("testing", "testing", 10),
    ("prelude", "prelude", 11),
];

/// Edges known to be wrong and being removed, each with the file that has it and the
/// layer it reaches. The test fails when one is no longer found, so the list can only
/// shrink. Empty: the layering holds everywhere.
const PENDING: &[(&str, &str)] = &[];

/// The layer (name and rank) of a module path, by its longest listed prefix; `None`
/// for the crate root or a module nobody has placed (which the test reports too).
fn layer_of(module: &[String]) -> Option<(&'static str, usize)> {
    LAYERS
        .iter()
        .filter(|(prefix, _, _)| {
            let parts: Vec<&str> = prefix.split("::").collect();
            parts.len() <= module.len() && parts.iter().zip(module).all(|(a, b)| a == b)
        })
        .max_by_key(|(prefix, _, _)| prefix.split("::").count())
        .map(|(_, name, rank)| (*name, *rank))
}

/// The module path of a file below `sim/src` (`plan/mod.rs` is `plan`).
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> =
        relative.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// Flattens a use tree (`crate::{a::b, c::{d, e}}`) into its paths.
fn flatten(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else { return vec![tree] };
    let (prefix, rest) = (&tree[..open], &tree[open + 1..tree.len().saturating_sub(1)]);
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in rest.char_indices().chain([(rest.len(), ',')]) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let item = &rest[start..i];
                if !item.is_empty() {
                    out.extend(flatten(&format!("{prefix}{item}")));
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

/// One import of a file: its line and the module path it names.
struct Import {
    line: usize,
    path: Vec<String>,
}

/// Resolves a written path against the module it is written in.
fn absolute(path: &str, module: &[String], children: &[String]) -> Option<Vec<String>> {
    let mut parts = path.split("::").map(str::to_owned);
    let first = parts.next()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        name if children.iter().any(|c| c == name) => {
            [module, std::slice::from_ref(&first)].concat()
        }
        _ => return None,
    };
    for part in parts {
        if part == "super" {
            base.pop();
        } else {
            base.push(part);
        }
    }
    Some(base)
}

/// Every import of a file's text: `use` statements (which may span lines) and any
/// `crate::` path written in code. Comments are skipped; inside an inline `mod x {`
/// block, `self` and `super` are taken one level down.
fn imports(text: &str, module: &[String]) -> Vec<Import> {
    let children: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("pub ").strip_prefix("mod "))
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    let mut inline: Vec<(usize, Vec<String>)> = Vec::new();
    let mut statement: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let (line, code) = (index + 1, raw.split("//").next().unwrap_or(""));
        let indent = raw.len() - raw.trim_start().len();
        if inline.last().is_some_and(|(i, _)| *i == indent && raw.trim() == "}") {
            inline.pop();
        }
        let here = inline.last().map_or(module.to_vec(), |(_, m)| m.clone());
        if let Some(name) = inline_mod(raw) {
            inline.push((indent, [here.as_slice(), &[name]].concat()));
        }
        let trimmed = code.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
        if let Some(rest) = trimmed.strip_prefix("use ") {
            statement = Some((line, String::new()));
            statement.as_mut().expect("just set").1.push_str(rest);
        } else if let Some((_, text)) = statement.as_mut() {
            text.push_str(code);
        } else {
            for at in code.match_indices("crate::").map(|(i, _)| i) {
                let path: String = code[at..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let path = path.trim_end_matches(':');
                out.extend(absolute(path, &here, &[]).map(|path| Import { line, path }));
            }
        }
        if statement.as_ref().is_some_and(|(_, t)| t.contains(';')) {
            let (at, text) = statement.take().expect("checked");
            let tree = text.split(';').next().unwrap_or("").split(" as ").next().unwrap_or("");
            for path in flatten(tree) {
                let kids = if inline.is_empty() { &children[..] } else { &[] };
                out.extend(absolute(&path, &here, kids).map(|path| Import { line: at, path }));
            }
        }
    }
    out
}

/// `mod name {` opening an inline module, with its name.
fn inline_mod(line: &str) -> Option<String> {
    let t = line.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
    let name = t.strip_prefix("mod ")?.strip_suffix(" {")?;
    Some(name.to_owned())
}

/// Every import in `text` (the file `shown`, of module `module`) against the rule.
fn violations(shown: &str, module: &[String], text: &str) -> Vec<String> {
    edges_against_rule(shown, module, text).into_iter().map(|(_, message)| message).collect()
}

/// Every import against the rule, as the layer it reaches and the message saying so.
fn edges_against_rule(shown: &str, module: &[String], text: &str) -> Vec<(&'static str, String)> {
    let Some((from, from_layer)) = layer_of(module) else {
        return if module.is_empty() {
            Vec::new()
        } else {
            let message = format!("{shown}: module `{}` has no layer in LAYERS", module.join("::"));
            vec![("", message)]
        };
    };
    let mut out = Vec::new();
    for import in imports(text, module) {
        let Some((to, to_layer)) = layer_of(&import.path) else { continue };
        if to == from || to_layer < from_layer {
            continue;
        }
        let message = format!(
            "{shown}:{}: `{from}` (layer {from_layer}) imports `{to}` (layer {to_layer}) through \
             `crate::{}`; a module may import only layers below its own",
            import.line,
            import.path.join("::"),
        );
        out.push((to, message));
    }
    out
}

/// Every `.rs` file under `dir`, in order.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("readable").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_from_its_own_layer_or_above() {
    let src = root().join("sim/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 100, "the walk found the sources");
    let (mut found, mut pending_seen) = (Vec::new(), Vec::new());
    for file in &files {
        let relative = file.strip_prefix(&src).expect("below src");
        let text = std::fs::read_to_string(file).expect("readable");
        let shown = format!("sim/src/{}", relative.display());
        for (to, message) in edges_against_rule(&shown, &module_of(relative), &text) {
            match PENDING.iter().find(|(file, layer)| *file == shown && *layer == to) {
                Some(pending) => pending_seen.push(*pending),
                None => found.push(message),
            }
        }
    }
    assert!(found.is_empty(), "imports against the layering:\n{}", found.join("\n"));
    let stale: Vec<_> = PENDING.iter().filter(|p| !pending_seen.contains(p)).collect();
    assert!(stale.is_empty(), "these PENDING edges are gone; remove them: {stale:?}");
}

#[test]
fn an_upward_import_is_reported_with_file_line_and_edge() {
    let text = "//! A plan type.\n\nuse crate::socket::SocketType;\nuse crate::{\n    \
                spec::diag::Diagnostics,\n    design::Registry,\n};\n";
    let module = module_of(Path::new("plan/topology.rs"));
    assert_eq!(
        violations("sim/src/plan/topology.rs", &module, text),
        ["sim/src/plan/topology.rs:4: `plan` (layer 1) imports `design` (layer 4) through \
          `crate::design::Registry`; a module may import only layers below its own"]
    );
}

#[test]
fn sideways_relative_and_test_module_imports_are_reported_too() {
    let text = "//! The plan.\n\nuse super::report::Page;\n\n#[cfg(test)]\nmod tests {\n    \
                use super::*;\n    use crate::invariant::testing::plan;\n}\n";
    let found = violations("sim/src/plan/mod.rs", &module_of(Path::new("plan/mod.rs")), text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with(
            "sim/src/plan/mod.rs:3: `plan` (layer 1) imports `report` (layer 9) through \
         `crate::report::Page`"
        ),
        "{found:#?}"
    );
    assert!(found[1].starts_with("sim/src/plan/mod.rs:8: `plan` (layer 1) imports `invariant`"));
    let sideways = "use crate::invariant::Verdict;\n";
    let found = violations("d.rs", &module_of(Path::new("design/ctx.rs")), sideways);
    assert_eq!(found.len(), 1, "design and invariant share a layer: {found:?}");
    let unplaced = violations("sim/src/nowhere.rs", &module_of(Path::new("nowhere.rs")), "");
    assert_eq!(unplaced, ["sim/src/nowhere.rs: module `nowhere` has no layer in LAYERS"]);
}
