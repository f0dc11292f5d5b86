//! The JSON form of a sweep, as written to `reports/sim/latest.json`.
//!
//! Shape: `{"runs": [{"scenario", "topology", "seed", "trace_hash", "events",
//! "sim_ms", "invariants": [{"name", "verdict", "violations", "first"}], "expected",
//! "as_expected"}]}`, plus `error` and `repro` where they apply.

use serde_json::{Value, json};

use super::RunReport;
use crate::plan::Expect;

pub fn expected_text(expect: &Expect) -> String {
    match expect {
        Expect::Pass => "pass".to_owned(),
        Expect::Violated(names) => format!("violated: {}", names.join(", ")),
    }
}

fn run_json(r: &RunReport) -> Value {
    let invariants: Vec<Value> = r
        .invariants
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "verdict": o.verdict.to_string(),
                "violations": o.violations.len(),
                "first": o.violations.first().map(|v| v.text.clone()),
                "note": o.note,
            })
        })
        .collect();
    let mut v = json!({
        "scenario": r.scenario,
        "topology": r.topology,
        "file": r.file.display().to_string(),
        "seed": r.seed,
        "trace_hash": format!("{:016x}", r.trace_hash),
        "events": r.events,
        "sim_ms": r.sim_ms,
        "wall_ms": r.wall_ms,
        "invariants": invariants,
        "expected": expected_text(&r.expected),
        "as_expected": r.as_expected,
    });
    if let Some(e) = &r.error {
        v["error"] = json!(e.to_string());
    }
    if !r.as_expected {
        v["repro"] = json!(r.repro());
    }
    v
}

pub fn to_json(reports: &[RunReport]) -> Value {
    json!({ "runs": reports.iter().map(run_json).collect::<Vec<_>>() })
}
