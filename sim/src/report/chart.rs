//! Small SVG charts for the page: lines over time and grouped bars, with axes.
//!
//! Hand-written rather than a charting library so the page needs nothing from the
//! network and the bytes depend only on the numbers (every float is printed with a
//! fixed number of decimals).

use std::fmt::Write as _;

const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;
/// The gutter right of the plot that holds a legend, so it never covers data.
const LEGEND_W: f64 = 200.0;

/// Line and bar colours, in series order.
pub(crate) const PALETTE: [&str; 10] = [
    "#3b6db3", "#d1603d", "#3a9d5d", "#8a5fbf", "#c9a227", "#2aa3b8", "#b8477a", "#6d7d8c",
    "#8c6d31", "#4f4fa8",
];

pub(crate) fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for HTML and SVG alike.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `850 µs`, `12.3 ms`, `4.56 s`: a duration a reader takes in at a glance (to the
/// microsecond, trailing zeros dropped).
pub(crate) fn duration_text(us: u64) -> String {
    let trimmed = |x: f64, unit: &str| {
        let digits = format!("{x:.3}");
        format!("{} {unit}", digits.trim_end_matches('0').trim_end_matches('.'))
    };
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => trimmed(us as f64 / 1e3, "ms"),
        _ => trimmed(us as f64 / 1e6, "s"),
    }
}

/// `850µs`, `1.2ms`, `147ms`, `12s`: three figures at most, for axis labels.
pub(crate) fn duration_short(us: u64) -> String {
    let three = |x: f64, unit: &str| {
        if x >= 100.0 {
            format!("{x:.0}{unit}")
        } else if x >= 10.0 {
            format!("{x:.1}{unit}")
        } else {
            format!("{x:.2}{unit}")
        }
    };
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..1_000_000 => three(us as f64 / 1e3, "ms"),
        _ => three(us as f64 / 1e6, "s"),
    }
}

/// A number for an axis or a table: integers as such, others with up to two decimals.
pub(crate) fn number_text(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}").trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A round step that cuts `0..max` into about five ticks.
fn step_for(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Opens a chart's SVG: the plot, and a gutter for its legend if it has one.
fn open(out: &mut String, label: &str, with_legend: bool) {
    let width = if with_legend { W + LEGEND_W } else { W };
    let _ = write!(
        out,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H}" viewBox="0 0 {width} {H}" role="img" aria-label="{}">"#,
        esc(label)
    );
}

/// The y axis with gridlines up to `y_max`, returning the scale's top.
fn y_axis(out: &mut String, y_max: f64, fmt: &dyn Fn(f64) -> String) -> f64 {
    let step = step_for(y_max);
    let top = (y_max / step).ceil().max(1.0) * step;
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = TOP + (H - TOP - BOTTOM) * (1.0 - v / top);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&fmt(v))
        );
        v += step;
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#888"/>"##,
        H - BOTTOM
    );
    top
}

/// A named line of `(x, y)` points.
pub struct Line<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// Lines over a shared x axis (seconds of simulated time), with a legend.
pub fn lines(
    label: &str,
    x_title: &str,
    y_fmt: &dyn Fn(f64) -> String,
    lines: &[Line<'_>],
) -> String {
    let mut out = String::new();
    open(&mut out, label, true);
    let x_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(0.0, f64::max);
    let y_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let y_top = y_axis(&mut out, y_max, y_fmt);
    let x_step = step_for(x_max);
    let x_top = (x_max / x_step).ceil().max(1.0) * x_step;
    let sx = |x: f64| LEFT + (W - LEFT - RIGHT) * x / x_top;
    let sy = |y: f64| TOP + (H - TOP - BOTTOM) * (1.0 - y / y_top);
    let mut x = 0.0;
    while x <= x_top + x_step / 2.0 {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
            sx(x),
            H - BOTTOM + 16.0,
            number_text(x)
        );
        x += x_step;
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        (LEFT + W - RIGHT) / 2.0,
        H - 6.0,
        esc(x_title)
    );
    for (i, line) in lines.iter().enumerate() {
        let mut d = String::new();
        for (k, &(x, y)) in line.points.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if k == 0 { "M" } else { " L" }, sx(x), sy(y));
        }
        let _ = write!(
            out,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.8"><title>{}</title></path>"#,
            colour(i),
            esc(line.name)
        );
    }
    legend(&mut out, lines.iter().map(|l| l.name));
    out.push_str("</svg>");
    out
}

fn legend<'a>(out: &mut String, names: impl Iterator<Item = &'a str>) {
    let names: Vec<&str> = names.take(12).collect();
    for (i, name) in names.into_iter().enumerate() {
        let (x, y) = (W + 4.0, TOP + 4.0 + i as f64 * 14.0);
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}" class="legend">{}</text>"#,
            colour(i),
            x + 14.0,
            y + 9.0,
            esc(name)
        );
    }
}

/// Bars in groups: `groups` along the x axis, one bar per series in each. Labels
/// are thinned so no more than about ten are printed.
pub(crate) fn bars(
    label: &str,
    groups: &[String],
    series: &[(String, Vec<f64>)],
    y_fmt: &dyn Fn(f64) -> String,
) -> String {
    let mut out = String::new();
    open(&mut out, label, series.len() > 1);
    let y_max = series.iter().flat_map(|s| s.1.iter().copied()).fold(0.0, f64::max);
    let y_top = y_axis(&mut out, y_max, y_fmt);
    let slot = (W - LEFT - RIGHT) / groups.len().max(1) as f64;
    let bar = (slot * 0.8 / series.len().max(1) as f64).max(1.0);
    let every = groups.len().div_ceil(10).max(1);
    for (g, name) in groups.iter().enumerate() {
        let x0 = LEFT + g as f64 * slot + slot * 0.1;
        for (s, (sname, values)) in series.iter().enumerate() {
            let v = values.get(g).copied().unwrap_or(0.0);
            let h = (H - TOP - BOTTOM) * v / y_top;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                x0 + s as f64 * bar,
                H - BOTTOM - h,
                bar,
                colour(s),
                esc(sname),
                esc(name),
                esc(&y_fmt(v))
            );
        }
        if g % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                x0 + slot * 0.4,
                H - BOTTOM + 16.0,
                esc(name)
            );
        }
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888"/>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    if series.len() > 1 {
        legend(&mut out, series.iter().map(|s| s.0.as_str()));
    }
    out.push_str("</svg>");
    out
}
