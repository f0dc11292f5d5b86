//! Draws a [`SeqDiagram`] as SVG: lanes across, events down, one row per event.
//!
//! Rows are spaced by event, not by time (a burst of a hundred events in a
//! millisecond would otherwise be one smear); the left margin prints each row's
//! simulated time whenever it changes.

use std::fmt::Write as _;

use super::chart::{duration_text, esc};
use super::seqdiag::{Mark, SeqDiagram};

const LEFT: f64 = 96.0;
const LANE: f64 = 130.0;
const HEADER: f64 = 40.0;
const ROW: f64 = 17.0;
/// Room right of the last lane for its labels.
const TAIL: f64 = 200.0;

fn lane_x(lane: u32) -> f64 {
    LEFT + LANE * f64::from(lane) + LANE / 2.0
}

fn row_y(row: u32) -> f64 {
    HEADER + ROW * f64::from(row) + ROW / 2.0
}

/// The diagram as one `<svg>`; `id` makes its marker ids unique in the page.
pub fn render(d: &SeqDiagram, id: &str) -> String {
    let width = LEFT + LANE * d.lanes.len() as f64 + TAIL;
    let height = HEADER + ROW * d.rows.len() as f64 + 12.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="seq" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="sequence diagram of {} seed {}">"#,
        esc(&d.invariant),
        d.seed
    );
    let _ = write!(
        out,
        r##"<defs><marker id="{id}-a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#3b6db3"/></marker><marker id="{id}-r" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#d98c00"/></marker><marker id="{id}-d" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#c0392b"/></marker></defs>"##
    );
    faults(&mut out, d, width);
    for (r, row) in d.rows.iter().enumerate() {
        if row.violating {
            let _ = write!(
                out,
                r##"<rect class="violating" x="2" y="{:.1}" width="{:.0}" height="{ROW}" fill="#ffe066" stroke="#c98a00"/>"##,
                row_y(r as u32) - ROW / 2.0,
                width - 4.0
            );
        }
    }
    for (l, name) in d.lanes.iter().enumerate() {
        let x = lane_x(l as u32);
        let _ = write!(
            out,
            r##"<text x="{x:.0}" y="18" text-anchor="middle" class="lane">{}</text><line x1="{x:.0}" y1="26" x2="{x:.0}" y2="{:.0}" stroke="#999" stroke-dasharray="3,3"/>"##,
            esc(name),
            height - 6.0
        );
    }
    let mut last_time = None;
    for (r, row) in d.rows.iter().enumerate() {
        if last_time != Some(row.at_us) {
            let _ = write!(
                out,
                r#"<text x="{:.0}" y="{:.1}" text-anchor="end" class="time">{}</text>"#,
                LEFT - 8.0,
                row_y(r as u32) + 4.0,
                esc(&duration_text(row.at_us))
            );
            last_time = Some(row.at_us);
        }
    }
    arrows(&mut out, d, id);
    for (r, row) in d.rows.iter().enumerate() {
        mark(&mut out, row, r as u32, width);
    }
    out.push_str("</svg>");
    out
}

/// Shaded bands for the faults, labelled at their top right.
fn faults(out: &mut String, d: &SeqDiagram, width: f64) {
    for f in &d.faults {
        let (y0, y1) = (row_y(f.from_row) - ROW / 2.0, row_y(f.to_row) + ROW / 2.0);
        let open = match (f.open_before, f.open_after) {
            (true, true) => " (throughout)",
            (true, false) => " (began earlier)",
            (false, true) => " (continues)",
            (false, false) => "",
        };
        let _ = write!(
            out,
            r##"<rect class="fault" x="{LEFT}" y="{y0:.1}" width="{:.0}" height="{:.1}" fill="#f6c9c4" fill-opacity="0.45"/><text x="{:.0}" y="{:.1}" text-anchor="end" class="faultlabel">{}{open}</text>"##,
            width - LEFT,
            y1 - y0,
            width - 6.0,
            y0 + 11.0,
            esc(&f.label)
        );
    }
}

/// One arrow per message, coloured as sent, resent or dropped.
fn arrows(out: &mut String, d: &SeqDiagram, id: &str) {
    for a in &d.arrows {
        let from_lane = a.from_lane.or(d.rows[a.from_row as usize].lane);
        let (x1, y1) = (lane_x(from_lane.unwrap_or(0)), row_y(a.from_row));
        let (class, marker) = match (a.dropped, a.resend) {
            (true, _) => ("arrow dropped", "d"),
            (false, true) => ("arrow resend", "r"),
            (false, false) => ("arrow", "a"),
        };
        let to = a.to_row.map(|t| (t, a.to_lane.or(d.rows[t as usize].lane)));
        let (x2, y2) = match to {
            Some((t, to_lane)) if to_lane != from_lane => (lane_x(to_lane.unwrap_or(0)), row_y(t)),
            // Within one (folded) lane or not arrived: a short stub.
            Some((t, _)) => (x1 + 24.0, row_y(t)),
            None => (x1 + 24.0, y1 + 6.0),
        };
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" marker-end="url(#{id}-{marker})"/>"#
        );
    }
}

fn mark(out: &mut String, row: &super::seqdiag::Row, r: u32, width: f64) {
    let y = row_y(r);
    let weight = if row.violating { r#" font-weight="bold""# } else { "" };
    let tag = if row.violating { "  ◀ violation" } else { "" };
    let Some(lane) = row.lane else {
        let class = if row.mark == Mark::Healed { "heal" } else { "runlevel" };
        let _ = write!(
            out,
            r#"<text x="{:.0}" y="{:.1}" class="{class}"{weight}>{}{tag}</text>"#,
            LEFT + 4.0,
            y + 4.0,
            esc(&row.label)
        );
        return;
    };
    let x = lane_x(lane);
    let glyph = match row.mark {
        Mark::Send => format!(r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#3b6db3"/>"##),
        Mark::Deliver => {
            format!(r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#fff" stroke="#3b6db3"/>"##)
        }
        Mark::Drop => format!(
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" class="drop">✕</text>"#,
            y + 5.0
        ),
        Mark::Resend => format!(
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" class="resend">↻</text>"#,
            y + 5.0
        ),
        Mark::App => format!(
            r##"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="#3a9d5d" transform="rotate(45 {x:.1} {y:.1})"/>"##,
            x - 3.5,
            y - 3.5
        ),
        _ => format!(
            r##"<rect x="{:.1}" y="{:.1}" width="6" height="6" fill="#888"/>"##,
            x - 3.0,
            y - 3.0
        ),
    };
    out.push_str(&glyph);
    let label = format!("{}{tag}", row.label);
    // Labels go right of the mark; the last lane's may use the tail.
    let room = ((width - x - 12.0) / 5.6).max(8.0) as usize;
    let shown: String = if label.chars().count() > room {
        label.chars().take(room.saturating_sub(1)).chain(['…']).collect()
    } else {
        label.clone()
    };
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="label {}"{weight}><title>{}</title>{}</text>"#,
        x + 7.0,
        y + 4.0,
        mark_class(row.mark),
        esc(&label),
        esc(&shown)
    );
}

fn mark_class(m: Mark) -> &'static str {
    match m {
        Mark::Send => "send",
        Mark::Deliver => "deliver",
        Mark::Drop => "drop",
        Mark::Resend => "resend",
        Mark::App => "app",
        Mark::Connect | Mark::Disconnect => "conn",
        Mark::Fault => "runlevel",
        Mark::Healed => "heal",
        Mark::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::seqdiag::{Arrow, Row};

    /// An arrow that names its lanes is drawn between them, not from its rows' own
    /// lanes: what an outside program sent starts at the outside lane, at the row of
    /// its arrival.
    #[test]
    fn an_arrow_naming_its_lanes_is_drawn_between_them() {
        let row = Row {
            index: 0,
            at_us: 2_000,
            lane: Some(0),
            mark: Mark::Deliver,
            label: "arrive".into(),
            violating: false,
        };
        let arrow = |from_lane, to_lane| Arrow {
            from_row: 0,
            to_row: Some(0),
            resend: false,
            dropped: false,
            from_lane,
            to_lane,
        };
        let diagram = |a: Arrow| SeqDiagram {
            invariant: "x".into(),
            seed: 1,
            repro: "r".into(),
            violation: "v".into(),
            lanes: vec!["worker.0".into(), "outside".into()],
            rows: vec![row.clone()],
            arrows: vec![a],
            faults: Vec::new(),
            total_events: 1,
            note: None,
        };
        let line = |a: Arrow| {
            let svg = render(&diagram(a), "t");
            let start = svg.find("<line class=\"arrow\"").expect("an arrow is drawn");
            svg[start..start + svg[start..].find("/>").expect("closed")].to_owned()
        };
        let (worker, outside) = (lane_x(0), lane_x(1));
        let inward = line(arrow(Some(1), None));
        assert!(inward.contains(&format!("x1=\"{outside:.1}\"")), "{inward}");
        assert!(inward.contains(&format!("x2=\"{worker:.1}\"")), "{inward}");
        let outward = line(arrow(None, Some(1)));
        assert!(outward.contains(&format!("x1=\"{worker:.1}\"")), "{outward}");
        assert!(outward.contains(&format!("x2=\"{outside:.1}\"")), "{outward}");
        // Without lanes of its own, an arrow within one row's lane is a stub.
        let stub = line(arrow(None, None));
        assert!(stub.contains(&format!("x2=\"{:.1}\"", worker + 24.0)), "{stub}");
    }
}
