//! `fuzz`: the SP and ZMTP decoders and the YAML front end under millions of
//! generated and mutated inputs (`patchbay::fuzz`), on the stable toolchain. Prints
//! each target's rate, outcomes, slowest input and largest buffer; writes every kept
//! failing input under `reports/fuzz/` and exits 2 when any input failed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use patchbay::fuzz::{self, Report};

pub fn fuzz(args: crate::FuzzArgs) -> anyhow::Result<ExitCode> {
    let (iterations, seed) = (args.iterations, args.seed);
    let targets: Vec<&str> = match args.target.as_deref() {
        None => fuzz::TARGETS.to_vec(),
        Some(t) => vec![t],
    };
    // A caught panic is reported with its input; the default hook would also print
    // each one as it happens, burying the summary.
    std::panic::set_hook(Box::new(|_| {}));
    let root = crate::root();
    let mut failed = false;
    for target in targets {
        outln!("fuzz {target}: {iterations} inputs, seed {seed}");
        let mut progress = |done: u64| err!("\r  {done}/{iterations}");
        let report = fuzz::run_named(target, &root, seed, iterations, &mut progress)
            .map_err(anyhow::Error::msg)?;
        err!("\r");
        print_report(&report);
        failed |= report.failures_total > 0;
        save_failures(&root, &report)?;
    }
    let _ = std::panic::take_hook();
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn print_report(report: &Report) {
    outln!(
        "  {} inputs ({} bytes) in {:.1} s: {:.0} inputs/s; failures: {}",
        report.iterations,
        report.input_bytes,
        report.elapsed.as_secs_f64(),
        report.per_second(),
        report.failures_total,
    );
    if let Some((iteration, took, size)) = report.slowest {
        outln!("  slowest input: #{iteration}, {size} bytes, {} µs", took.as_micros());
    }
    outln!("  most bytes buffered at once: {}", report.buffered_bytes_max);
    let outcomes: Vec<String> = report.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
    outln!("  outcomes: {}", outcomes.join(", "));
    for failure in &report.failures {
        outln!(
            "  FAILED #{}: {}\n    repro: cargo xtask fuzz --target {} --seed {} --iterations {}",
            failure.iteration,
            failure.what,
            report.target,
            report.seed,
            failure.iteration + 1,
        );
    }
}

/// Writes each kept failing input to `reports/fuzz/TARGET-SEED-ITERATION.bin`.
fn save_failures(root: &Path, report: &Report) -> anyhow::Result<()> {
    if report.failures.is_empty() {
        return Ok(());
    }
    let dir = root.join("reports/fuzz");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for failure in &report.failures {
        let name = format!("{}-{}-{}.bin", report.target, report.seed, failure.iteration);
        let path = dir.join(name);
        std::fs::write(&path, &failure.input)
            .with_context(|| format!("writing {}", path.display()))?;
        outln!("    input: {}", path.display());
    }
    Ok(())
}
