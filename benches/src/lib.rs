//! Benchmarks live in `benches/benches/`; this library holds what they share.
//!
//! The workspace's shipped topologies are found relative to this crate, so a benchmark
//! is built from the same files `cargo xtask sim` runs.

use std::path::PathBuf;

/// The workspace root (this crate sits one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}
