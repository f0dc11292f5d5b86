//! A run's memory: the process's peak resident set, and that peak per replica.
//!
//! The figure is the kernel's own high-water mark of the process's resident memory
//! (`VmHWM` in `/proc/self/status`), read when a run and its checks are done. When
//! runs go one at a time (`--jobs 1`), the mark is reset before each run (writing `5`
//! to `/proc/self/clear_refs`), so it is that run's own peak, the process's fixed cost
//! (code, registry, plans) included. When runs share the process, the mark is the
//! process's peak so far, every run beside it included: an upper bound, and the report
//! says so. Divided by the topology's replicas it is the figure to set beside a seed's
//! own "bytes per connection" (in `comet`, a replica is a subscriber). Only Linux
//! exposes the mark without a system call; elsewhere the figure is absent, never
//! guessed. docs/memory.md says what it does and does not count.

use std::fs;

/// A run's peak memory and what it is divided by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunMemory {
    /// The process's peak resident set, in bytes.
    pub peak_rss_bytes: u64,
    /// The topology's replicas (every group's count, summed).
    pub replicas: u64,
    /// Whether other runs shared the process (more than one job at a time): the peak
    /// is then theirs too, an upper bound on this run's.
    pub shared: bool,
}

impl RunMemory {
    /// The peak per replica, in bytes (the whole peak for a topology of none).
    pub fn per_replica_bytes(&self) -> u64 {
        self.peak_rss_bytes / self.replicas.max(1)
    }

    /// "381 MB peak, 38.1 KB per replica" for a run that had the process to itself.
    /// When runs shared it, the peak is every run's beside this one, and divided by
    /// this run's replicas it would read as a per-subscriber figure it is not (a
    /// small topology beside a large one shows hundreds of MB a replica): the text
    /// gives the process's peak only and says how to get the run's own.
    pub fn text(&self) -> String {
        if self.shared {
            return format!(
                "{} process peak (runs shared the process; --jobs 1 gives each run's own)",
                bytes_text(self.peak_rss_bytes)
            );
        }
        format!(
            "{} peak, {} per replica",
            bytes_text(self.peak_rss_bytes),
            bytes_text(self.per_replica_bytes())
        )
    }
}

/// Bytes in decimal units with three significant digits: `381 MB`, `38.1 KB`, `912 B`.
pub fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else if value >= 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.2} {unit}")
    }
}

/// Resets the process's peak to its current resident set, so the next reading is the
/// peak from now on. False where the kernel does not offer it.
pub(crate) fn reset_peak() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak resident set so far, in bytes, if the platform says.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_bytes(&status)
}

/// The `VmHWM:` line of a `/proc/<pid>/status` text, in bytes.
fn vm_hwm_bytes(status: &str) -> Option<u64> {
    kb_line(status, "VmHWM:")
}

/// The line starting with `key` in a `/proc` text whose figures are in kB, in bytes.
fn kb_line(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix(key))?;
    let kb = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    kb.checked_mul(1024)
}

/// The least memory a simulated replica has been measured to hold: a comet
/// subscriber at a million users, 6.57 KB (docs/memory.md), the leanest replica
/// patchbay runs; a REQ client behind a device holds more. A run is refused before
/// it starts only when even this much for each replica would not fit in the memory
/// the machine has free: then it would certainly have been killed, or aborted, part
/// way (5,000,000 clients passed `check` and aborted at the allocator), and no run
/// that fits is ever refused.
pub const REPLICA_BYTES_LEAST: u64 = 6_500;

/// The memory the machine has free for new work (`MemAvailable` in
/// `/proc/meminfo`), if the platform says.
pub fn available_bytes() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    kb_line(&meminfo, "MemAvailable:")
}

/// Why a simulated run of `replicas` cannot fit in `available` bytes, if it
/// certainly cannot ([`REPLICA_BYTES_LEAST`] a replica).
pub fn does_not_fit(replicas: u64, available: u64) -> Option<String> {
    let least = replicas.saturating_mul(REPLICA_BYTES_LEAST);
    (least > available).then(|| {
        format!(
            "its {replicas} replicas need at least {} ({} each, the least a replica has been \
             measured to hold: docs/memory.md), and this machine has {} free; lower the \
             counts, or run it where more memory is free",
            bytes_text(least),
            bytes_text(REPLICA_BYTES_LEAST),
            bytes_text(available)
        )
    })
}

/// This run's memory, read now, for a topology of `replicas`.
pub(crate) fn measure(replicas: u64, shared: bool) -> Option<RunMemory> {
    Some(RunMemory { peak_rss_bytes: peak_rss_bytes()?, replicas, shared })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_read_from_the_status_lines_kernel_units() {
        let status = "Name:\txtask\nVmPeak:\t 2000 kB\nVmHWM:\t  426448 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(426_448 * 1024));
        assert_eq!(vm_hwm_bytes("VmRSS:\t1 kB\n"), None, "no VmHWM line");
        assert_eq!(vm_hwm_bytes("VmHWM:\tlots kB\n"), None, "not a number");
    }

    #[test]
    fn per_replica_divides_and_the_text_says_when_runs_shared_the_process() {
        let alone = RunMemory { peak_rss_bytes: 381_488 * 1024, replicas: 10_002, shared: false };
        assert_eq!(alone.per_replica_bytes(), 39_056);
        assert_eq!(alone.text(), "391 MB peak, 39.1 KB per replica");
        let shared = RunMemory { shared: true, replicas: 0, ..alone };
        assert_eq!(shared.per_replica_bytes(), shared.peak_rss_bytes);
        assert_eq!(
            shared.text(),
            "391 MB process peak (runs shared the process; --jobs 1 gives each run's own)"
        );
        assert_eq!(bytes_text(912), "912 B");
        assert_eq!(bytes_text(2_048), "2.05 KB");
        assert_eq!(bytes_text(8_972_000_000), "8.97 GB");
    }

    #[test]
    fn a_run_is_refused_only_when_its_least_memory_cannot_fit() {
        // The hostile probe's 5,000,000 clients on a machine with 20 GB free: at least
        // 32.5 GB.
        let why = does_not_fit(5_000_004, 20_000_000_000).expect("cannot fit");
        assert!(why.starts_with("its 5000004 replicas need at least 32.5 GB (6.50 KB each"));
        assert!(why.contains("this machine has 20.0 GB free"), "{why}");
        // comet-1m at 6.57 KB a subscriber fits in 6.6 GB: never refused where it fits.
        assert_eq!(does_not_fit(1_000_002, 6_600_000_000), None);
        assert!(does_not_fit(u64::MAX, u64::MAX - 1).is_some(), "no overflow");
        let meminfo = "MemTotal:       24000000 kB\nMemAvailable:   19000000 kB\n";
        assert_eq!(kb_line(meminfo, "MemAvailable:"), Some(19_000_000 * 1024));
    }

    #[test]
    fn this_process_has_a_peak_on_linux() {
        // Where /proc is there, the peak is at least this test's own memory.
        if std::path::Path::new("/proc/self/status").exists() {
            let peak = peak_rss_bytes().expect("VmHWM on Linux");
            assert!(peak > 1 << 20, "{peak} bytes: a process holds more than 1 MiB");
        }
    }
}
