//! The CI slice of the fuzz targets (a few thousand inputs each, the same code as
//! `cargo xtask fuzz`), their determinism, and proof that the harness catches a panic
//! and a broken property.

use std::path::PathBuf;

use super::*;

/// Inputs per target in the CI slice.
const SLICE: u64 = 3000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("sim is inside the workspace").into()
}

fn assert_clean(report: &Report, reached: &[&str]) {
    assert_eq!(report.failures, vec![], "{} failures", report.failures_total);
    assert_eq!(report.iterations, SLICE);
    for label in reached {
        assert!(
            report.outcomes.contains_key(*label),
            "{label} never reached: {:?}",
            report.outcomes
        );
    }
}

#[test]
fn sp_decoder_slice_has_no_panic_hang_or_growth() {
    let report = run(&SpTarget::new(), 1, SLICE, &mut |_| {});
    assert_clean(&report, &["ok", "BadMagic", "ProtocolMismatch", "TooLong", "Truncated"]);
}

#[test]
fn zmtp_decoder_slice_has_no_panic_hang_or_growth() {
    let report = run(&ZmtpTarget::new(), 1, SLICE, &mut |_| {});
    let reached = ["ok", "BadSignature", "TooLong", "BadCommand", "UnknownCommand", "Truncated"];
    assert_clean(&report, &reached);
}

#[test]
fn yaml_front_end_slice_has_no_panic_or_silent_failure() {
    let target = YamlTarget::from_shipped(&root()).expect("shipped files");
    let report = run(&target, 1, SLICE, &mut |_| {});
    assert_clean(&report, &["ok", "syntax", "missing-field", "wrong-type", "unknown-field"]);
}

#[test]
fn same_seed_same_inputs_other_seed_others() {
    let first = run(&ZmtpTarget::new(), 7, 500, &mut |_| {});
    let again = run(&ZmtpTarget::new(), 7, 500, &mut |_| {});
    let other = run(&ZmtpTarget::new(), 8, 500, &mut |_| {});
    assert_eq!(first.outcomes, again.outcomes);
    assert_eq!(first.input_bytes, again.input_bytes);
    assert_ne!(first.input_bytes, other.input_bytes);
}

/// A target that panics on a few inputs in a hundred and breaks a property on others.
#[derive(Debug)]
struct Broken;

impl Target for Broken {
    type Input = u8;
    fn name(&self) -> &'static str {
        "broken"
    }
    fn input(&self, rng: &mut ChaCha8Rng) -> u8 {
        rand::Rng::random(rng)
    }
    fn check(&self, input: &u8, _rng: &mut ChaCha8Rng) -> Result<Checked, String> {
        match input {
            0..=7 => panic!("byte {input} is low"),
            8..=11 => Err("growth: too much".to_owned()),
            _ => Ok(Checked { label: "ok".to_owned(), buffered_bytes: u64::from(*input) }),
        }
    }
    fn bytes(&self, input: &u8) -> Vec<u8> {
        vec![*input]
    }
}

#[test]
fn harness_catches_panics_and_broken_properties() {
    let report = run(&Broken, 3, 400, &mut |_| {});
    let panics = report.failures.iter().filter(|f| f.what.starts_with("panic: byte ")).count();
    let growth = report.failures.iter().filter(|f| f.what == "growth: too much").count();
    assert!(panics > 0 && growth > 0, "{:?}", report.failures);
    assert_eq!((panics + growth) as u64, report.failures_total, "all kept below the cap");
    let ok = report.outcomes.get("ok").copied().unwrap_or(0);
    assert_eq!(report.failures_total + ok, 400);
    assert!(report.buffered_bytes_max >= 200);
    for failure in &report.failures {
        let expected = if failure.input[0] < 8 { "panic" } else { "growth" };
        assert!(failure.what.starts_with(expected), "{failure:?}");
    }
    let many = run(&Broken, 3, 4000, &mut |_| {});
    assert_eq!(many.failures.len(), FAILURES_KEPT);
    assert!(many.failures_total > FAILURES_KEPT as u64);
}
