//! A small layered SVG drawing of a topology graph, with no Graphviz needed.
//!
//! Groups are placed in columns by their distance from the groups nothing connects
//! to (clients and producers end up on the left, workers on the right), stacked
//! within a column in declaration order. Edges are straight lines labelled with the
//! socket types at each end.

use std::fmt::Write as _;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::TopologyGraph;

const BOX_W: f64 = 170.0;
const BOX_H: f64 = 54.0;
const COL_GAP: f64 = 130.0;
const ROW_GAP: f64 = 36.0;
const MARGIN: f64 = 24.0;

/// Column of each group: longest path from a group with no incoming connect, over
/// edges seen from the connecting side; cycles are cut by the visit order.
fn layers(g: &TopologyGraph) -> Vec<usize> {
    let n = g.graph.node_count();
    let mut layer = vec![0usize; n];
    // Bellman-Ford style relaxation, bounded by n rounds so cycles terminate.
    for _ in 0..n {
        let mut changed = false;
        for e in g.graph.edge_references() {
            let (s, t) = (e.source().index(), e.target().index());
            if s != t && layer[t] < layer[s] + 1 && layer[s] + 1 < n {
                layer[t] = layer[s] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

pub(super) fn render(g: &TopologyGraph, title: &str) -> String {
    let layer = layers(g);
    let columns = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut rows = vec![0usize; columns.max(1)];
    let mut pos = vec![(0.0, 0.0); g.graph.node_count()];
    for n in g.graph.node_indices() {
        let col = layer[n.index()];
        let row = rows[col];
        rows[col] += 1;
        pos[n.index()] = (
            MARGIN + col as f64 * (BOX_W + COL_GAP),
            MARGIN + 28.0 + row as f64 * (BOX_H + ROW_GAP),
        );
    }
    let width = MARGIN * 2.0 + columns as f64 * BOX_W + columns.saturating_sub(1) as f64 * COL_GAP;
    let height =
        MARGIN * 2.0 + 28.0 + rows.iter().max().copied().unwrap_or(1) as f64 * (BOX_H + ROW_GAP);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    out.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##);
    let _ = write!(
        out,
        r#"<text x="{MARGIN}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        MARGIN + 8.0,
        xml(title)
    );
    for e in g.graph.edge_references() {
        edge(&mut out, g, &pos, e.source(), e.target(), e.weight());
    }
    for n in g.graph.node_indices() {
        let (x, y) = pos[n.index()];
        let node = &g.graph[n];
        let count = if node.count > 1 { format!(" ×{}", node.count) } else { String::new() };
        let _ = write!(
            out,
            r##"<g><rect x="{x:.0}" y="{y:.0}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#eef3fb" stroke="#3b6db3"/><text x="{:.0}" y="{:.0}" text-anchor="middle" font-weight="bold">{}{}</text><text x="{:.0}" y="{:.0}" text-anchor="middle" fill="#444">{}</text></g>"##,
            x + BOX_W / 2.0,
            y + 22.0,
            xml(&node.name),
            count,
            x + BOX_W / 2.0,
            y + 40.0,
            xml(&node.design)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn edge(
    out: &mut String,
    g: &TopologyGraph,
    pos: &[(f64, f64)],
    s: NodeIndex,
    t: NodeIndex,
    link: &super::Link,
) {
    let (sx, sy) = pos[s.index()];
    let (tx, ty) = pos[t.index()];
    let (x1, y1) = (sx + BOX_W, sy + BOX_H / 2.0);
    let (x2, y2) = if s == t { (tx + BOX_W / 2.0, ty + BOX_H) } else { (tx, ty + BOX_H / 2.0) };
    let path = if s == t {
        format!(
            "M{x1:.0},{y1:.0} C{:.0},{:.0} {:.0},{:.0} {x2:.0},{y2:.0}",
            x1 + 40.0,
            y1,
            x2,
            y2 + 40.0
        )
    } else if x2 <= x1 {
        // Backward or same-column edge: bend below.
        format!(
            "M{x1:.0},{y1:.0} C{:.0},{:.0} {:.0},{:.0} {x2:.0},{y2:.0}",
            x1 + 60.0,
            y1 + 80.0,
            x2 - 60.0,
            y2 + 80.0
        )
    } else {
        format!("M{x1:.0},{y1:.0} L{x2:.0},{y2:.0}")
    };
    let _ = write!(
        out,
        r##"<path d="{path}" fill="none" stroke="#555" marker-end="url(#arrow)"><title>{}.{} → {}.{} ({} pipes)</title></path>"##,
        xml(&g.graph[s].name),
        xml(&link.from_socket),
        xml(&g.graph[t].name),
        xml(&link.to_socket),
        link.pipes
    );
    let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0 - 6.0);
    let _ = write!(
        out,
        r##"<text x="{mx:.0}" y="{my:.0}" text-anchor="middle" fill="#b3403b">{} → {}</text>"##,
        link.from_type, link.to_type
    );
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
