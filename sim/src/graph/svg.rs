//! A small layered SVG drawing of a topology graph, with no Graphviz needed.
//!
//! Groups are placed in columns by their distance from the groups nothing connects
//! to (clients and producers end up on the left, workers on the right), stacked
//! within a column in declaration order. Edges are straight lines labelled with the
//! socket types at each end. Connects between the same two groups are drawn apart,
//! and each label is moved along the vertical, in steps of its height, off every
//! label placed before it, so no two labels overlap; labels are drawn last, on a pale
//! backing, so a long one crossing a group box stays readable.

use std::fmt::Write as _;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::TopologyGraph;

const BOX_W: f64 = 170.0;
const BOX_H: f64 = 54.0;
const COL_GAP: f64 = 130.0;
const ROW_GAP: f64 = 36.0;
const MARGIN: f64 = 24.0;
/// A label's height, and the widest a character of it is drawn (12px Helvetica's
/// capitals, which socket type names are, are about 8.5px; the arrow is narrower).
const LABEL_H: f64 = 14.0;
const LABEL_CHAR_W: f64 = 8.5;
/// How far apart connects between the same two groups are drawn.
const PARALLEL_GAP: f64 = 12.0;

/// A rectangle on the drawing: left, top, width, height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    /// Whether the two share any area (touching edges do not).
    pub(crate) fn intersects(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
}

/// One edge as drawn: its path, and its label's text and box (the text is centred
/// in the box, its baseline 3px above the bottom).
#[derive(Clone, Debug)]
pub(super) struct EdgeLayout {
    pub path: String,
    pub label: String,
    pub label_box: Rect,
}

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

/// Where each group's box goes: its column from [`layers`], stacked in the column.
fn positions(g: &TopologyGraph) -> (Vec<(f64, f64)>, usize, usize) {
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
    (pos, columns, rows.iter().max().copied().unwrap_or(1))
}

pub(super) fn render(g: &TopologyGraph, title: &str) -> String {
    let (pos, columns, max_rows) = positions(g);
    let edges = edge_layouts(g, &pos);
    let width = MARGIN * 2.0 + columns as f64 * BOX_W + columns.saturating_sub(1) as f64 * COL_GAP;
    let labels_bottom = edges.iter().map(|e| e.label_box.y + e.label_box.h).fold(0.0, f64::max);
    let height =
        (MARGIN * 2.0 + 28.0 + max_rows as f64 * (BOX_H + ROW_GAP)).max(labels_bottom + MARGIN);
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
    for (e, layout) in g.graph.edge_references().zip(&edges) {
        edge(&mut out, g, e.source(), e.target(), e.weight(), layout);
    }
    let labels_after_nodes = edges.iter().map(label).collect::<String>();
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
    out.push_str(&labels_after_nodes);
    out.push_str("</svg>\n");
    out
}

/// Every edge's path and label, in edge order: connects between the same two groups
/// spread [`PARALLEL_GAP`] apart, labels moved off each other.
pub(super) fn edge_layouts(g: &TopologyGraph, pos: &[(f64, f64)]) -> Vec<EdgeLayout> {
    let pair = |s: NodeIndex, t: NodeIndex| (s.index().min(t.index()), s.index().max(t.index()));
    let mut placed: Vec<Rect> = Vec::new();
    let mut out = Vec::new();
    for e in g.graph.edge_references() {
        let (s, t) = (e.source(), e.target());
        let siblings: Vec<usize> = g
            .graph
            .edge_references()
            .filter(|o| pair(o.source(), o.target()) == pair(s, t))
            .map(|o| o.id().index())
            .collect();
        let k = siblings.iter().position(|&i| i == e.id().index()).unwrap_or(0);
        let dy = (k as f64 - (siblings.len() - 1) as f64 / 2.0) * PARALLEL_GAP;
        let (path, (mx, my)) = edge_path(pos, s, t, dy);
        let l = e.weight();
        let label = format!("{} → {}", l.from_type, l.to_type);
        let w = label.chars().count() as f64 * LABEL_CHAR_W;
        let at = |step: i64| Rect {
            x: mx - w / 2.0,
            y: my - 6.0 - (LABEL_H - 3.0) + step as f64 * LABEL_H,
            w,
            h: LABEL_H,
        };
        // 0, +1, -1, +2, -2, ...: the nearest free place; finitely many labels, so
        // one is free.
        let label_box = (0i64..)
            .map(|i| if i % 2 == 0 { -(i / 2) } else { i / 2 + 1 })
            .map(at)
            .find(|b| b.y >= 0.0 && !placed.iter().any(|o| o.intersects(b)))
            .expect("a free place below every label");
        placed.push(label_box);
        out.push(EdgeLayout { path, label, label_box });
    }
    out
}

/// An edge's path, its ends moved `dy` down (to draw parallel connects apart), and
/// the middle its label goes by.
fn edge_path(pos: &[(f64, f64)], s: NodeIndex, t: NodeIndex, dy: f64) -> (String, (f64, f64)) {
    let (sx, sy) = pos[s.index()];
    let (tx, ty) = pos[t.index()];
    let (x1, y1) = (sx + BOX_W, sy + BOX_H / 2.0 + dy);
    let (x2, y2) =
        if s == t { (tx + BOX_W / 2.0 + dy, ty + BOX_H) } else { (tx, ty + BOX_H / 2.0 + dy) };
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
    (path, ((x1 + x2) / 2.0, (y1 + y2) / 2.0))
}

fn edge(
    out: &mut String,
    g: &TopologyGraph,
    s: NodeIndex,
    t: NodeIndex,
    link: &super::Link,
    layout: &EdgeLayout,
) {
    let _ = write!(
        out,
        r##"<path d="{}" fill="none" stroke="#555" marker-end="url(#arrow)"><title>{}.{} → {}.{} ({} pipes)</title></path>"##,
        layout.path,
        xml(&g.graph[s].name),
        xml(&link.from_socket),
        xml(&g.graph[t].name),
        xml(&link.to_socket),
        link.pipes
    );
}

/// An edge's label on a pale backing the size of its box.
fn label(layout: &EdgeLayout) -> String {
    let b = &layout.label_box;
    format!(
        r##"<rect x="{:.0}" y="{:.0}" width="{:.0}" height="{:.0}" fill="#ffffff" fill-opacity="0.85"/><text x="{:.0}" y="{:.0}" text-anchor="middle" fill="#b3403b">{}</text>"##,
        b.x,
        b.y,
        b.w,
        b.h,
        b.x + b.w / 2.0,
        b.y + b.h - 3.0,
        xml(&layout.label)
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use petgraph::graph::DiGraph;

    use super::*;
    use crate::graph::{GroupNode, Link};
    use crate::plan::GroupId;
    use crate::socket::SocketType;

    fn node(i: u32, name: &str) -> GroupNode {
        GroupNode { group: GroupId(i), name: name.into(), design: "d".into(), count: 1 }
    }

    fn link(from: SocketType, to: SocketType) -> Link {
        Link {
            from_socket: "s".into(),
            from_type: from,
            to_socket: "t".into(),
            to_type: to,
            pipes: 1,
        }
    }

    /// Labels were drawn at their edge's middle, so connects between the same two
    /// groups (and edges crossing near each other) printed their labels on top of
    /// one another.
    #[test]
    fn edge_labels_never_overlap_with_parallel_and_converging_connects() {
        use SocketType::{Dealer, Pair, Rep, Req, Router};
        let mut graph = DiGraph::new();
        let a = graph.add_node(node(0, "client"));
        let b = graph.add_node(node(1, "broker"));
        let c = graph.add_node(node(2, "other"));
        let d = graph.add_node(node(3, "worker"));
        // Three connects from one group to another, one back, one to itself, two
        // groups converging on the same target and a long label across a column.
        for _ in 0..3 {
            graph.add_edge(a, b, link(Req, Router));
        }
        graph.add_edge(b, a, link(Dealer, Router));
        graph.add_edge(b, b, link(Pair, Pair));
        graph.add_edge(c, b, link(Req, Router));
        graph.add_edge(a, d, link(Dealer, Rep));
        graph.add_edge(b, d, link(Dealer, Rep));
        let g = TopologyGraph { graph };
        let (pos, _, _) = positions(&g);
        let edges = edge_layouts(&g, &pos);
        assert_eq!(edges.len(), 8);
        for (i, e) in edges.iter().enumerate() {
            for f in &edges[i + 1..] {
                assert!(
                    !e.label_box.intersects(&f.label_box),
                    "`{}` at {:?} overlaps `{}` at {:?}",
                    e.label,
                    e.label_box,
                    f.label,
                    f.label_box
                );
            }
        }
        // The three parallel connects are drawn apart, not on one line.
        let paths: std::collections::BTreeSet<&str> =
            edges[..3].iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths.len(), 3, "{paths:?}");
        // The drawing puts each label where its box is, inside the canvas.
        let svg = render(&g, "t");
        for e in &edges {
            let rect = format!(
                r#"<rect x="{:.0}" y="{:.0}" width="{:.0}""#,
                e.label_box.x, e.label_box.y, e.label_box.w
            );
            assert!(svg.contains(&rect), "{rect} not in the drawing");
        }
    }

    #[test]
    fn rectangles_intersect_only_when_they_share_area() {
        let r = Rect { x: 0.0, y: 0.0, w: 10.0, h: 10.0 };
        assert!(r.intersects(&Rect { x: 9.0, y: 9.0, w: 5.0, h: 5.0 }));
        assert!(
            !r.intersects(&Rect { x: 10.0, y: 0.0, w: 5.0, h: 5.0 }),
            "touching is not overlapping"
        );
        assert!(!r.intersects(&Rect { x: 0.0, y: 11.0, w: 5.0, h: 5.0 }));
    }
}
