//! `check --explain` and `graph` work on every shipped topology: each group, socket
//! and option source shows in the explanation, and each group and connect is drawn.

use std::path::Path;

use patchbay::explain::explain;
use patchbay::files::shipped_files;
use patchbay::graph::TopologyGraph;
use patchbay::registry::Registry;
use patchbay::resolve::load;

#[test]
fn every_shipped_file_explains_and_draws() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = shipped_files(&root).expect("shipped files are listed");
    assert!(files.len() >= 30, "only {} shipped files", files.len());
    let registry = Registry::builtin();
    for file in files {
        let plan =
            load(&file, &registry).plan.unwrap_or_else(|| panic!("{} resolves", file.display()));
        let text = explain(&plan);
        let t = plan.topology();
        let graph = TopologyGraph::new(t);
        let (dot, svg) = (graph.to_dot(&t.name), graph.to_svg(&t.name));
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{}",
            file.display()
        );
        for g in &t.groups {
            assert!(
                text.contains(&format!("node `{}`", g.name)),
                "{}: {} unexplained",
                file.display(),
                g.name
            );
            assert!(
                dot.contains(&format!("\"{}", g.name)),
                "{}: {} not in DOT",
                file.display(),
                g.name
            );
            assert!(svg.contains(&g.name), "{}: {} not in SVG", file.display(), g.name);
            for s in &g.sockets {
                assert!(
                    text.contains(&format!("socket `{}` {}", s.name, s.socket_type)),
                    "{}: {}.{}",
                    file.display(),
                    g.name,
                    s.name
                );
            }
        }
        assert_eq!(graph.graph.edge_count(), t.connections.len(), "{}", file.display());
        assert_eq!(dot.matches(" -> ").count(), t.connections.len(), "{}", file.display());
        assert!(text.contains("    default: "), "{}: no option provenance", file.display());
        // What a user wrote comes back in the file's spelling, never as Rust's Debug.
        for debug in ["Some(", "None", "Plan {", "Uniform {"] {
            assert!(!text.contains(debug), "{}: `{debug}` in\n{text}", file.display());
        }
    }
}

/// A scenario's workload is explained as the file spells it: the fields it sets,
/// sizes and durations in units, distributions as `{uniform: [a, b]}`.
#[test]
fn a_workload_is_explained_in_the_file_s_own_spelling() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let registry = Registry::builtin();
    let plan = load(&root.join("scenarios/lru-steady.yaml"), &registry).plan.expect("resolves");
    let text = explain(&plan);
    assert!(
        text.contains("  workload client: requests: 20, size: {uniform: [1KiB, 64KiB]}\n"),
        "{text}"
    );
    assert!(text.contains("  workload worker: service_time: {uniform: [5ms, 50ms]}\n"), "{text}");
}
