//! The page: one self-contained HTML file, a pure function of a [`Report`].
//!
//! Inline CSS and SVG, and one small script that checks the page itself: every
//! section the report promises (`data-section` on its element) must be there and
//! hold a drawing or a table, and no script error may have happened. It writes its
//! finding to `<body data-selfcheck>`, which the CI browser test reads.

use std::fmt::Write as _;

use super::chart::{self, Line, duration_short, duration_text, esc, number_text};
use super::metrics::{Metrics, TimeSeries, bucket_low_us};
use super::{Kind, Report, Section, Table, seqsvg};
use crate::run::memory::bytes_text;

/// The sections every scenario's part of a page has, in page order; `compare`
/// reports add `compare`, reports with tables `summary`.
pub const SECTIONS: [&str; 7] =
    ["graph", "verdicts", "sequence", "latency", "throughput", "depth", "drops"];

const STYLE: &str = "
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1500px;color:#1d1d1f;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:19px;margin-top:40px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:22px 0 6px}code,.cmd{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.cmd{background:#f4f4f4;padding:2px 6px;border-radius:4px;user-select:all}
table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1f7a3a;font-weight:600}.bad{color:#b3261e;font-weight:600}.muted{color:#777}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;margin-left:8px;vertical-align:middle}
.badge.ok{background:#dff3e4}.badge.bad{background:#fbe0dd}
.scroll{overflow-x:auto;border:1px solid #eee;padding:4px}
.note{background:#fff8db;border-left:3px solid #e0b000;padding:4px 8px;font-size:13px}
svg text{font-family:inherit}svg .tick{font-size:11px;fill:#555}svg .legend{font-size:11px;fill:#333}
svg .lane{font-size:12px;font-weight:bold}svg .time{font-size:10px;fill:#555;font-family:ui-monospace,Menlo,monospace}
svg .label{font-size:10px;fill:#333}svg .label.drop{fill:#b3261e}svg .label.resend{fill:#a86a00}svg .label.app{fill:#23693c}
svg .drop{font-size:13px;fill:#c0392b;font-weight:bold}svg .resend{font-size:13px;fill:#d98c00;font-weight:bold}
svg .runlevel{font-size:11px;fill:#b3261e;font-weight:bold}svg .heal{font-size:11px;fill:#1f7a3a;font-weight:bold}
svg .faultlabel{font-size:11px;fill:#a33}svg .arrow{stroke:#3b6db3;stroke-width:1.2}
svg .arrow.resend{stroke:#d98c00;stroke-dasharray:4,2}svg .arrow.dropped{stroke:#c0392b}
nav a{margin-right:12px}#selfcheck{font-size:12px;color:#777;margin-top:40px}
";

/// The self-check: marks `<body data-selfcheck>` with `ok`, or with what is wrong.
const SCRIPT: &str = "
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message));});
  var oldError=console.error;
  console.error=function(){errors.push(Array.prototype.join.call(arguments,' '));oldError.apply(console,arguments);};
  var required=(document.body.getAttribute('data-required')||'').split(' ').filter(Boolean);
  var missing=[];
  required.forEach(function(name){
    var found=Array.prototype.some.call(document.querySelectorAll('[data-section=\"'+name+'\"]'),function(el){
      var drawn=Array.prototype.some.call(el.querySelectorAll('svg'),function(s){
        var box=s.getBoundingClientRect();return s.childElementCount>0&&box.width>0&&box.height>0;});
      return drawn||el.querySelectorAll('table td').length>0;
    });
    if(!found){missing.push(name);}
  });
  var verdict=missing.length===0&&errors.length===0?'ok':
    ('missing: '+missing.join(',')+(errors.length?' errors: '+errors.join(' | '):''));
  document.body.setAttribute('data-selfcheck',verdict);
  var line=document.getElementById('selfcheck');
  if(line){line.textContent='page self-check: '+verdict;}
})();
";

/// The sections the page must show drawn or tabled, for its self-check: each one
/// the model has something for. A section with nothing to draw says so in a
/// sentence (no failure, no latency pairs, no queueing), which the check cannot
/// tell from a section gone missing, so it is required only when there is content.
pub fn required(report: &Report) -> Vec<&'static str> {
    let s = &report.sections;
    let any = |has: &dyn Fn(&Section) -> bool| s.iter().any(has);
    let has = [
        any(&|s| !s.graph.groups.is_empty()),
        !s.is_empty(),
        any(&|s| s.verdicts.iter().any(|v| v.fail > 0)),
        any(&|s| s.metrics.latency.is_some()),
        !s.is_empty(),
        any(&|s| !s.metrics.depth.series.is_empty()),
        !s.is_empty(),
    ];
    let mut required: Vec<&str> =
        SECTIONS.iter().zip(has).filter(|(_, has)| *has).map(|(name, _)| *name).collect();
    if report.kind == Kind::Compare && !s.is_empty() {
        required.push("compare");
    }
    if !report.tables.is_empty() {
        required.push("summary");
    }
    required
}

/// What the time axes measure: simulated time, or the wall clock of real runs.
fn clock(kind: Kind) -> &'static str {
    match kind {
        Kind::Sim | Kind::Explore => "simulated time",
        Kind::Real => "real time",
        Kind::Compare => "time (simulated; real for real runs)",
    }
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let required = required(report);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"generator\" content=\"{}\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head>\n<body data-required=\"{}\">\n",
        super::GENERATOR,
        esc(&report.title),
        required.join(" ")
    );
    header(&mut out, report);
    tables(&mut out, &report.tables);
    let clock = clock(report.kind);
    if report.kind == Kind::Compare {
        compare(&mut out, &report.sections, clock);
    }
    for (i, s) in report.sections.iter().enumerate() {
        section(&mut out, s, i, clock, &report.runs);
    }
    let _ = write!(
        out,
        "<p id=\"selfcheck\">page self-check did not run</p>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    out
}

fn header(out: &mut String, r: &Report) {
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"muted\">patchbay {} report · {}</p><p><span class=\"cmd\">{}</span></p>",
        esc(&r.title),
        r.kind.name(),
        esc(&r.created),
        esc(&r.command)
    );
    for n in &r.notes {
        let _ = write!(out, "<p>{}</p>", esc(n));
    }
    out.push_str("<nav>");
    for (i, s) in r.sections.iter().enumerate() {
        let mark = if s.ended_as_expected() { "ok" } else { "bad" };
        let _ = write!(out, "<a href=\"#s{i}\" class=\"{mark}\">{}</a>", esc(label(s)));
    }
    out.push_str("</nav>\n");
    files(out, &r.files);
}

/// Links to the files kept beside the report (external programs' output).
fn files(out: &mut String, files: &[super::FileLink]) {
    if files.is_empty() {
        return;
    }
    out.push_str("<h3>Programs' output</h3><p class=\"files\">");
    for (i, f) in files.iter().enumerate() {
        let sep = if i == 0 { "" } else { " · " };
        let _ = write!(out, "{sep}<a href=\"{}\">{}</a>", esc(&f.href), esc(&f.label));
    }
    out.push_str("</p>\n");
}

fn tables(out: &mut String, tables: &[Table]) {
    if tables.is_empty() {
        return;
    }
    out.push_str("<div data-section=\"summary\">");
    for t in tables {
        let _ = write!(out, "<h3>{}</h3><table>", esc(&t.title));
        if t.columns.iter().any(|c| !c.is_empty()) {
            out.push_str("<tr>");
            for c in &t.columns {
                let _ = write!(out, "<th>{}</th>", esc(c));
            }
            out.push_str("</tr>");
        }
        for row in &t.rows {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", esc(cell));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</div>\n");
}

fn label(s: &Section) -> &str {
    s.design.as_deref().unwrap_or(&s.name)
}

fn section(out: &mut String, s: &Section, i: usize, clock: &str, runs: &[serde_json::Value]) {
    let badge = if s.ran_nothing() {
        format!("<span class=\"badge\">{}</span>", super::table::NO_RUNS)
    } else if s.ended_as_expected() {
        "<span class=\"badge ok\">as expected</span>".to_owned()
    } else if s.as_expected == s.seeds && s.errors == 0 {
        // Every seed was consistent, but none showed an `in: any` outcome.
        "<span class=\"badge bad\">expected outcome shown in no seed</span>".to_owned()
    } else {
        format!(
            "<span class=\"badge bad\">unexpected in {} of {} seeds</span>",
            s.seeds - s.as_expected,
            s.seeds
        )
    };
    let _ = write!(
        out,
        "<section id=\"s{i}\"><h2>{}{badge}</h2><p class=\"muted\">{} · topology {} · {} seed(s) · expects {}</p>",
        esc(label(s)),
        esc(&s.file),
        esc(&s.topology),
        s.seeds,
        esc(&s.expected)
    );
    // Drawn now from the model, never pasted from the JSON. Every drawing of a topology
    // names its arrow marker `arrow`; each gets its own id in the page.
    let graph = match s.graph.to_svg() {
        _ if s.graph.groups.is_empty() => {
            "<p class=\"muted\">This report holds no topology to draw.</p>".to_owned()
        }
        Some(svg) => svg
            .replace("id=\"arrow\"", &format!("id=\"g{i}-arrow\""))
            .replace("url(#arrow)", &format!("url(#g{i}-arrow)")),
        None => "<p class=\"bad\">The topology cannot be drawn: a connect names a group or socket type this report does not hold.</p>".to_owned(),
    };
    let _ = write!(
        out,
        "<div data-section=\"graph\"><h3>Topology</h3><div class=\"scroll\">{graph}</div></div>"
    );
    memory(out, s, runs);
    verdicts(out, s);
    sequences(out, s, i);
    metrics(out, &s.metrics, clock);
    out.push_str("</section>\n");
}

/// The largest peak memory of the section's runs, per replica too, from the runs'
/// `memory` (`run/memory.rs`); nothing for runs that did not measure it.
fn memory(out: &mut String, s: &Section, runs: &[serde_json::Value]) {
    let measured = runs.iter().filter(|r| r.get("file").and_then(|f| f.as_str()) == Some(&s.file));
    let figures = measured.filter_map(|r| {
        let m = r.get("memory")?;
        let field = |name: &str| m.get(name).and_then(serde_json::Value::as_u64);
        let shared = m.get("shared").and_then(serde_json::Value::as_bool)?;
        Some((field("peak_rss_bytes")?, field("per_replica_bytes")?, field("replicas")?, shared))
    });
    let figures: Vec<(u64, u64, u64, bool)> = figures.collect();
    let Some(&(peak, per, replicas, _)) = figures.iter().max() else { return };
    let how = if figures.iter().any(|f| f.3) {
        "runs shared the process, so this is an upper bound on one run's"
    } else {
        "one run at a time, its own peak"
    };
    let _ = writeln!(
        out,
        "<p class=\"muted\">Peak memory {} ({} per replica, {} replicas): the process's peak resident set over a run and its checks, the largest of {} run(s); {how}.</p>",
        bytes_text(peak),
        bytes_text(per),
        replicas,
        figures.len()
    );
}

fn verdicts(out: &mut String, s: &Section) {
    out.push_str("<div data-section=\"verdicts\"><h3>Verdicts</h3><table><tr><th>invariant</th><th>expected</th><th>pass</th><th>fail</th><th>unknown</th><th>failing seeds (repro)</th></tr>");
    for v in &s.verdicts {
        let matches = v.as_expected();
        let _ = write!(
            out,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>",
            if matches { "ok" } else { "bad" },
            esc(&v.invariant),
            esc(&v.expected),
            v.pass,
            v.fail,
            v.unknown
        );
        for f in &v.failures {
            let note =
                f.note.as_deref().map(|n| format!("<br><span class=\"muted\">{}</span>", esc(n)));
            let _ = write!(
                out,
                "<div>seed {} ({} events): {}{}<br><span class=\"cmd\">{}</span></div>",
                f.seed,
                f.events,
                esc(&f.first),
                note.unwrap_or_default(),
                esc(&f.repro)
            );
        }
        if v.more_failures > 0 {
            let _ = write!(
                out,
                "<div class=\"muted\">and {} more failing seed(s), listed in the JSON's runs</div>",
                v.more_failures
            );
        }
        if let Some(note) = v.unknown_note.as_deref().filter(|_| v.unknown > 0) {
            let _ = write!(out, "<div>unknown: {}</div>", esc(note));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</table>");
    if s.errors > 0 {
        let _ = write!(out, "<p class=\"bad\">{} run(s) could not run</p>", s.errors);
    }
    out.push_str("</div>\n");
}

fn sequences(out: &mut String, s: &Section, i: usize) {
    out.push_str(
        "<div data-section=\"sequence\"><h3>Shortest failing trace per failing invariant</h3>",
    );
    if s.sequences.is_empty() {
        out.push_str("<p class=\"muted\">No invariant failed in any seed: there is no failing trace to draw.</p>");
    }
    for (k, d) in s.sequences.iter().enumerate() {
        let _ = write!(
            out,
            "<h3>{} · seed {} ({} events)</h3><p class=\"bad\">{}</p><p><span class=\"cmd\">{}</span></p>",
            esc(&d.invariant),
            d.seed,
            d.total_events,
            esc(&d.violation),
            esc(&d.repro)
        );
        if let Some(note) = &d.note {
            let _ = write!(out, "<p class=\"note\">{}</p>", esc(note));
        }
        out.push_str("<p class=\"muted\">● send ○ arrival ✕ drop ↻ resend ◆ application marker ■ connection; shaded bands are faults; the highlighted row is the violating event.</p>");
        let _ =
            write!(out, "<div class=\"scroll\">{}</div>", seqsvg::render(d, &format!("q{i}-{k}")));
    }
    out.push_str("</div>\n");
}

/// `(x seconds, y)` points of one series, each at its bucket's middle, `y` the value
/// divided by `per`.
fn points(ts: &TimeSeries, values: &[u64], per: f64) -> Vec<(f64, f64)> {
    let width = ts.bucket_us as f64 / 1e6;
    values.iter().enumerate().map(|(i, &v)| ((i as f64 + 0.5) * width, v as f64 / per)).collect()
}

/// Every series of `ts` as lines over `clock`, each value divided by `per`.
fn time_lines(ts: &TimeSeries, per: f64, label: &str, clock: &str) -> String {
    let lines: Vec<Line<'_>> = ts
        .series
        .iter()
        .map(|s| Line { name: &s.name, points: points(ts, &s.values, per) })
        .collect();
    chart::lines(label, &format!("{clock} (s)"), &number_text, &lines)
}

/// What divides a throughput bucket's count to make a mean rate per second.
fn rate_divisor(m: &Metrics) -> f64 {
    m.runs.max(1) as f64 * (m.throughput.bucket_us.max(1) as f64 / 1e6)
}

fn metrics(out: &mut String, m: &Metrics, clock: &str) {
    latency(out, m);
    over_time(out, m, clock);
    drops(out, m);
}

fn latency(out: &mut String, m: &Metrics) {
    out.push_str("<div data-section=\"latency\"><h3>Latency</h3>");
    match &m.latency {
        Some(l) => {
            let p = &l.percentiles;
            let _ = write!(
                out,
                "<p class=\"muted\">{} · {} samples over {} run(s)</p><table><tr><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr><tr>",
                esc(&l.what),
                l.histogram.count,
                m.runs
            );
            for us in [p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us, p.mean_us] {
                let _ = write!(out, "<td class=\"n\">{}</td>", duration_text(us));
            }
            out.push_str("</tr></table>");
            let _ = write!(out, "<p class=\"muted\">{}</p>", precision_text(p.significant_digits));
            let h = &l.histogram;
            let (lo, hi) = (h.buckets.first().map_or(0, |b| b.0), h.buckets.last().map_or(0, |b| b.0));
            let groups: Vec<String> = (lo..=hi).map(|b| duration_short(bucket_low_us(b))).collect();
            let mut counts = vec![0.0; groups.len()];
            for &(b, n) in &h.buckets {
                counts[(b - lo) as usize] = n as f64;
            }
            let svg = chart::bars("latency histogram", &groups, &[("samples".to_owned(), counts)], &number_text);
            let _ = write!(out, "<p class=\"muted\">samples per bucket (each bucket starts at its label; eight per doubling)</p>{svg}");
        }
        None => out.push_str("<p class=\"muted\">Nothing to pair: no run issued requests, tasks or messages that arrived elsewhere.</p>"),
    }
    out.push_str("</div>\n");
}

/// How exact the percentiles are: what the report says it kept, in words.
fn precision_text(significant_digits: u8) -> String {
    match significant_digits {
        0 => "percentiles are the tops of the chart's buckets, within an eighth (a report from before exact percentiles)".to_owned(),
        d => format!("percentiles by nearest rank, to {d} significant digits"),
    }
}

fn over_time(out: &mut String, m: &Metrics, clock: &str) {
    out.push_str("<div data-section=\"throughput\"><h3>Throughput over time</h3>");
    let _ = write!(
        out,
        "<p class=\"muted\">completed (the latency pairs' ends) and received by applications, per second of {clock}, mean over runs, {} buckets</p>{}",
        duration_text(m.throughput.bucket_us),
        time_lines(&m.throughput, rate_divisor(m), "throughput", clock)
    );
    out.push_str("</div>\n<div data-section=\"depth\"><h3>Queue depth per socket</h3>");
    if m.depth.series.is_empty() {
        out.push_str("<p class=\"muted\">No socket queued anything.</p>");
    } else {
        let _ = write!(
            out,
            "<p class=\"muted\">deepest queue seen per socket (any replica, pipe or seed) in each {} bucket, at enqueue and arrival</p>{}",
            duration_text(m.depth.bucket_us),
            time_lines(&m.depth, 1.0, "queue depth", clock)
        );
    }
    out.push_str("</div>\n");
}

fn drops(out: &mut String, m: &Metrics) {
    out.push_str("<div data-section=\"drops\"><h3>Drops by reason</h3>");
    if m.drops.is_empty() {
        let _ = write!(
            out,
            "<p class=\"muted\">No message was dropped in {} run(s).</p><table><tr><th>reason</th><th>total</th></tr><tr><td>none</td><td class=\"n\">0</td></tr></table>",
            m.runs
        );
    } else {
        out.push_str("<table><tr><th>reason</th><th>total</th><th>runs with any</th><th>mean per run</th></tr>");
        for d in &m.drops {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&d.reason),
                d.total,
                d.runs,
                number_text(d.total as f64 / m.runs.max(1) as f64)
            );
        }
        out.push_str("</table>");
        let groups: Vec<String> = m.drops.iter().map(|d| d.reason.clone()).collect();
        let totals = m.drops.iter().map(|d| d.total as f64).collect();
        out.push_str(&chart::bars(
            "drops by reason",
            &groups,
            &[("drops".to_owned(), totals)],
            &number_text,
        ));
    }
    out.push_str("</div>\n");
}

/// `compare`: every design on the same axes, before each one's own section.
fn compare(out: &mut String, sections: &[Section], clock: &str) {
    out.push_str("<section data-section=\"compare\"><h2>Designs side by side</h2>");
    compare_table(out, sections);
    compare_charts(out, sections, clock);
    out.push_str("</section>\n");
}

/// One row per design: runs, requests (as the terminal prints them), percentiles and
/// each invariant's verdicts.
fn compare_table(out: &mut String, sections: &[Section]) {
    out.push_str("<table><tr><th>design</th><th>runs</th><th>as expected</th><th>served / issued</th><th>req/s (busy span)</th><th>messages per request</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>invariants (pass / fail / unknown)</th></tr>");
    for s in sections {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            esc(label(s)),
            s.seeds,
            s.as_expected
        );
        let cells = match &s.requests {
            Some(r) => [
                format!("{} / {}", r.served, r.issued),
                if r.busy_us == 0 {
                    "-".to_owned()
                } else {
                    number_text(r.served as f64 * 1e6 / r.busy_us as f64)
                },
                if r.served == 0 {
                    "-".to_owned()
                } else {
                    number_text(r.sends as f64 / r.served as f64)
                },
            ],
            None => ["-", "-", "-"].map(str::to_owned),
        };
        for c in cells {
            let _ = write!(out, "<td class=\"n\">{c}</td>");
        }
        let p = s.metrics.latency.as_ref().map(|l| l.percentiles.clone()).unwrap_or_default();
        for us in [p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us] {
            let _ = write!(out, "<td class=\"n\">{}</td>", duration_text(us));
        }
        // Green for a design that broke nothing: the scenario's `expect` was written for
        // one design, and the question here is which designs survive it.
        out.push_str("<td>");
        for v in &s.verdicts {
            let good = v.fail + v.unknown == 0;
            let _ = write!(
                out,
                "<div class=\"{}\">{} {} / {} / {}</div>",
                if good { "ok" } else { "bad" },
                esc(&v.invariant),
                v.pass,
                v.fail,
                v.unknown
            );
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</table>");
}

/// Latency percentiles and completions over time, every design on the same axes.
fn compare_charts(out: &mut String, sections: &[Section], clock: &str) {
    let groups: Vec<String> = ["p50", "p90", "p99", "p99.9", "max"].map(str::to_owned).to_vec();
    let series: Vec<(String, Vec<f64>)> = sections
        .iter()
        .map(|s| {
            let p = s.metrics.latency.as_ref().map(|l| l.percentiles.clone()).unwrap_or_default();
            let ms =
                [p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us].map(|us| us as f64 / 1000.0);
            (label(s).to_owned(), ms.to_vec())
        })
        .collect();
    let _ = write!(
        out,
        "<h3>Latency percentiles (ms)</h3>{}",
        chart::bars("latency percentiles", &groups, &series, &number_text)
    );
    let lines: Vec<Line<'_>> = sections
        .iter()
        .filter_map(|s| {
            let l = s.metrics.throughput.series.first()?;
            Some(Line {
                name: label(s),
                points: points(&s.metrics.throughput, &l.values, rate_divisor(&s.metrics)),
            })
        })
        .collect();
    let _ = write!(
        out,
        "<h3>Completed per second</h3>{}",
        chart::lines("throughput compared", &format!("{clock} (s)"), &number_text, &lines)
    );
}
