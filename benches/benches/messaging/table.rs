//! The ratio table: criterion's estimates and the open-loop histograms of this run,
//! patchbay against each peer, with the targets beside them. Printed, and
//! written to `reports/bench/latest.json` and `latest.md`.
//!
//! Targets are reported, never asserted: a shared 2-core machine moves absolute
//! figures by 15–30 %, so only ratios taken in the same run mean anything.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hdrhistogram::Histogram;
use patchbay_benches::{sched, workspace_root};
use serde_json::{Value, json};

use crate::{OPEN_LOOP_RATE, Peer, Run};

/// Marks a report file as ours; any other file at that path is left alone.
const GENERATOR: &str = "patchbay-benches messaging";
const PERCENTILES: [f64; 4] = [50.0, 99.0, 99.9, 99.99];

/// Criterion's directory, found as criterion finds it when nothing overrides it.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    target.join("criterion")
}

/// Criterion's median time per iteration (ns) for `id` from this run.
fn median_ns(id: &str, run: &Run, started: SystemTime) -> Option<f64> {
    if !run.ran.iter().any(|r| r == id) {
        return None;
    }
    let file = criterion_dir().join(id).join("new").join("estimates.json");
    let fresh = std::fs::metadata(&file).and_then(|m| m.modified()).is_ok_and(|m| m >= started);
    if !fresh {
        eprintln!("warning: {id} ran but {} is not from this run: no row for it", file.display());
        return None;
    }
    let value: Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    value["median"]["point_estimate"].as_f64()
}

/// A target: the ratio must be at least or at most `bound`.
#[derive(Clone, Copy, Debug)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(bound) => value >= bound,
            Target::AtMost(bound) => value <= bound,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Target::AtLeast(bound) => format!(">= {bound}{unit}"),
            Target::AtMost(bound) => format!("<= {bound}{unit}"),
        }
    }
}

/// One line of the table.
#[derive(Debug)]
struct Row {
    what: String,
    patchbay: String,
    peer: String,
    /// patchbay / peer (or, for the device's hop, the added microseconds).
    value: Option<f64>,
    value_unit: &'static str,
    target: Option<Target>,
}

impl Row {
    fn verdict(&self) -> &'static str {
        match (self.value, self.target) {
            (Some(v), Some(t)) if t.met(v) => "met",
            (Some(_), Some(_)) => "NOT met",
            (None, Some(_)) if cfg!(feature = "peers") => "not measured",
            (None, Some(_)) => "not measured (needs --features peers)",
            _ => "",
        }
    }
}

fn rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else {
        format!("{:.1} k/s", per_sec / 1e3)
    }
}

fn bandwidth(bytes_per_sec: f64) -> String {
    format!("{:.0} MB/s", bytes_per_sec / 1e6)
}

fn micros(ns: f64) -> String {
    format!("{:.1} µs", ns / 1e3)
}

fn push_pull_rows(run: &Run, started: SystemTime, rows: &mut Vec<Row>) {
    for (size, label) in crate::SIZES {
        let per_sec = |peer: Peer| {
            median_ns(&format!("push_pull/{}/{label}", peer.name()), run, started)
                .map(|ns| 1e9 / ns)
        };
        let show = |per_sec: f64| {
            if size >= 64 * 1024 { bandwidth(per_sec * size as f64) } else { rate(per_sec) }
        };
        let Some(ours) = per_sec(Peer::Patchbay) else { continue };
        for peer in &Peer::PEERS {
            let target = match (*peer, size) {
                // Issue 16, item 3: 64 B PUSH/PULL at least 1.5x libzmq's throughput.
                (Peer::Libzmq, 64) => Some(Target::AtLeast(1.5)),
                (Peer::Libzmq, s) if s == 64 * 1024 => Some(Target::AtLeast(1.0)),
                _ => None,
            };
            let theirs = per_sec(*peer);
            if theirs.is_none() && target.is_none() {
                continue;
            }
            rows.push(Row {
                what: format!("PUSH/PULL {label} throughput"),
                patchbay: show(ours),
                peer: theirs.map_or("-".into(), |t| format!("{} {}", peer.name(), show(t))),
                value: theirs.map(|t| ours / t),
                value_unit: "x",
                target,
            });
        }
    }
}

fn percentile_ns(histogram: &Histogram<u64>, p: f64) -> f64 {
    histogram.value_at_quantile(p / 100.0) as f64
}

fn req_rep_rows(run: &Run, started: SystemTime, rows: &mut Vec<Row>) {
    let open = |peer: Peer| run.latencies.get(&format!("req_rep/{}", peer.name()));
    let closed = |peer: Peer| median_ns(&format!("req_rep/{}", peer.name()), run, started);
    let Some(ours) = open(Peer::Patchbay) else { return };
    for (p, label) in [(50.0, "p50"), (99.0, "p99")] {
        for peer in &Peer::PEERS {
            let target = match (*peer, label) {
                (Peer::Libzmq, "p50") => Some(Target::AtMost(1.0)),
                (Peer::Tokio, "p99") => Some(Target::AtMost(1.5)),
                _ => None,
            };
            let theirs = open(*peer).map(|h| percentile_ns(h, p));
            if theirs.is_none() && target.is_none() {
                continue;
            }
            rows.push(Row {
                what: format!("REQ/REP round trip {label} (open loop)"),
                patchbay: micros(percentile_ns(ours, p)),
                peer: theirs.map_or("-".into(), |t| format!("{} {}", peer.name(), micros(t))),
                value: theirs.map(|t| percentile_ns(ours, p) / t),
                value_unit: "x",
                target,
            });
        }
    }
    let Some(ours) = closed(Peer::Patchbay) else { return };
    for peer in &Peer::PEERS {
        let Some(theirs) = closed(*peer) else { continue };
        rows.push(Row {
            what: "REQ/REP round trip (closed loop, criterion median)".into(),
            patchbay: micros(ours),
            peer: format!("{} {}", peer.name(), micros(theirs)),
            value: Some(ours / theirs),
            value_unit: "x",
            target: None,
        });
    }
}

fn queue_rows(run: &Run, rows: &mut Vec<Row>) {
    let hop = |peer: Peer| {
        let device = run.latencies.get(&format!("queue_device/{}", peer.name()))?;
        let direct = run.latencies.get(&format!("req_rep/{}", peer.name()))?;
        Some((percentile_ns(device, 50.0), percentile_ns(direct, 50.0)))
    };
    let Some((through, without)) = hop(Peer::Patchbay) else { return };
    let theirs = hop(Peer::Libzmq);
    rows.push(Row {
        what: "QUEUE device added hop, p50 (open loop)".into(),
        patchbay: format!(
            "{} ({} through the device, {} direct)",
            micros(through - without),
            micros(through),
            micros(without)
        ),
        peer: theirs.map_or("-".into(), |(t, w)| {
            format!(
                "libzmq {} ({} through zmq_proxy, {} direct)",
                micros(t - w),
                micros(t),
                micros(w)
            )
        }),
        value: Some((through - without) / 1e3),
        value_unit: " µs",
        target: Some(Target::AtMost(20.0)),
    });
    // The floor: two more loopback transfers and two more thread wake-ups, with no
    // sockets' semantics at all. patchbay's own share of its hop is what lies above it.
    if let Some((t, w)) = hop(Peer::Tokio) {
        rows.push(Row {
            what: "QUEUE device added hop beside a bare tokio forwarder's, p50".into(),
            patchbay: micros(through - without),
            peer: format!(
                "tokio {} ({} through the forwarder, {} direct)",
                micros(t - w),
                micros(t),
                micros(w)
            ),
            value: Some((through - without) / (t - w)),
            value_unit: "x",
            target: None,
        });
    }
}

fn absolute_rows(run: &Run, started: SystemTime, rows: &mut Vec<Row>) {
    for workers in crate::LRU_WORKERS {
        let id = format!("lru_broker/patchbay/{workers}_workers");
        if let Some(ns) = median_ns(&id, run, started) {
            rows.push(Row {
                what: format!(
                    "LRU broker, {workers} worker(s), {} clients",
                    crate::patchbay_rigs::LRU_CLIENTS
                ),
                patchbay: format!("{} requests", rate(1e9 / ns)),
                peer: String::new(),
                value: None,
                value_unit: "",
                target: None,
            });
        }
    }
    for subscribers in crate::SUBSCRIBERS {
        let id = format!("pub_sub/patchbay/{subscribers}_subscribers");
        if let Some(ns) = median_ns(&id, run, started) {
            let dropped = run.dropped.get(&id).copied().unwrap_or(0);
            rows.push(Row {
                what: format!("PUB/SUB fan-out to {subscribers}"),
                patchbay: format!("{} deliveries", rate(1e9 / ns * f64::from(subscribers))),
                peer: format!("{dropped} copies dropped at the HWM"),
                value: None,
                value_unit: "",
                target: None,
            });
        }
    }
}

fn render(rows: &[Row], run: &Run) -> String {
    let mut out = String::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = writeln!(
        out,
        "patchbay / peer, measured in one run on {cores} core(s) (a shared machine varies 15-30%: \
         compare ratios, not absolute figures). Throughput ratios > 1 and latency ratios < 1 \
         favour patchbay. Where a peer is compared, patchbay's sockets are `library: zeromq` \
         ones, speaking ZMTP 3.1 on the wire as libzmq does.\n"
    );
    let _ = writeln!(
        out,
        "| benchmark | patchbay | peer | patchbay/peer | target | verdict |\n| --- | --- | --- | --- | --- | --- |"
    );
    for row in rows {
        let value = row.value.map_or("-".into(), |v| format!("{v:.2}{}", row.value_unit));
        let target = row.target.map_or(String::new(), |t| t.describe(row.value_unit));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {value} | {target} | {} |",
            row.what,
            row.patchbay,
            row.peer,
            row.verdict()
        );
    }
    if !run.latencies.is_empty() {
        let _ = writeln!(
            out,
            "\nOpen-loop latency at {OPEN_LOOP_RATE}/s offered, corrected for coordinated \
             omission (µs):\n\n| id | count | p50 | p99 | p99.9 | p99.99 | max |\n| --- | --- | --- | --- | --- | --- | --- |"
        );
        for (id, h) in &run.latencies {
            let ps: Vec<String> =
                PERCENTILES.iter().map(|p| format!("{:.1}", percentile_ns(h, *p) / 1e3)).collect();
            let _ = writeln!(
                out,
                "| {id} | {} | {} | {:.1} |",
                h.len(),
                ps.join(" | "),
                h.max() as f64 / 1e3
            );
        }
    }
    if !run.thread_costs.is_empty() {
        let _ = writeln!(
            out,
            "\nEach rig's threads in its open-loop run, a round trip: time on a CPU (user and \
             kernel) + time runnable but waiting for one, and the moves between CPUs the \
             scheduler made in all. On two cores a wake-up that crosses to the other core \
             costs the waker far more than its work (docs/peers.md).\n\n| id | threads |\n| --- | --- |"
        );
        for (id, costs) in &run.thread_costs {
            let _ = writeln!(out, "| {id} | {} |", sched::describe(costs));
        }
    }
    out
}

fn to_json(rows: &[Row], run: &Run) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "benchmark": r.what, "patchbay": r.patchbay, "peer": r.peer,
                "ratio": r.value, "unit": r.value_unit.trim(),
                "target": r.target.map(|t| t.describe(r.value_unit)), "verdict": r.verdict(),
            })
        })
        .collect();
    let latencies: serde_json::Map<String, Value> = run
        .latencies
        .iter()
        .map(|(id, h)| {
            let mut v = json!({"count": h.len(), "max_ns": h.max()});
            for p in PERCENTILES {
                v[format!("p{p}_ns")] = json!(h.value_at_quantile(p / 100.0));
            }
            (id.clone(), v)
        })
        .collect();
    let thread_costs: serde_json::Map<String, Value> = run
        .thread_costs
        .iter()
        .map(|(id, costs)| {
            let threads = costs.iter().map(|c| {
                json!({"name": c.name, "cpu_us": c.cpu_us, "wait_us": c.wait_us,
                       "migrations": c.migrations})
            });
            (id.clone(), Value::Array(threads.collect()))
        })
        .collect();
    json!({
        "generator": GENERATOR,
        "open_loop_rate_per_sec": OPEN_LOOP_RATE,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "rows": rows,
        "latencies": latencies,
        "dropped": run.dropped,
        "thread_costs": thread_costs,
    })
}

/// Writes `text` unless a file that is not ours is already there.
fn write_report(path: &Path, text: &str) -> Result<(), String> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && !existing.contains(GENERATOR)
    {
        return Err(format!(
            "{} exists and was not written by {GENERATOR}; not overwriting it",
            path.display()
        ));
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn report(run: &Run, started: SystemTime) -> Result<(), String> {
    let mut rows = Vec::new();
    push_pull_rows(run, started, &mut rows);
    req_rep_rows(run, started, &mut rows);
    queue_rows(run, &mut rows);
    absolute_rows(run, started, &mut rows);
    if rows.is_empty() && run.latencies.is_empty() {
        println!("messaging: no benchmark ran, no table");
        return Ok(());
    }
    let table = render(&rows, run);
    println!("\n{table}");
    let dir = workspace_root().join("reports").join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(&to_json(&rows, run)).expect("JSON values");
    write_report(&dir.join("latest.json"), &json)?;
    write_report(&dir.join("latest.md"), &format!("<!-- {GENERATOR} -->\n{table}"))?;
    println!("wrote reports/bench/latest.json and reports/bench/latest.md");
    Ok(())
}
