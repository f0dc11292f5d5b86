//! A stable hash of a trace, the same on every machine and every run of one build.
//!
//! FNV-1a over the events' `Debug` text: `Debug` of our own types is stable within a
//! build, ordered, and covers every field, so two traces hash alike exactly when they
//! print alike. `std::hash::Hash` is not used because `DefaultHasher` is seeded per
//! process.

use std::borrow::Borrow;
use std::fmt::Write as _;

use super::TraceEvent;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// Streams text into an FNV-1a state without building the whole string.
struct Fnv(u64);

impl std::fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        Ok(())
    }
}

/// FNV-1a over the events' canonical encoding: equal traces hash alike on every machine.
pub fn trace_hash(events: &[TraceEvent]) -> u64 {
    trace_hash_of(events)
}

/// [`trace_hash`] over events read as a stream (a compact trace's, decoded in turn).
pub fn trace_hash_of<E: Borrow<TraceEvent>>(events: impl IntoIterator<Item = E>) -> u64 {
    let mut h = Fnv(FNV_OFFSET);
    for e in events {
        let _ = writeln!(h, "{:?}", e.borrow());
    }
    h.0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::{EventKind, TraceEvent};

    fn ev(ms: u64) -> TraceEvent {
        TraceEvent {
            at: Duration::from_millis(ms),
            node: None,
            socket: None,
            kind: EventKind::Healed,
        }
    }

    #[test]
    fn equal_traces_hash_equal_and_a_changed_one_does_not() {
        let a = vec![ev(1), ev(2)];
        assert_eq!(trace_hash(&a), trace_hash(&a.clone()));
        assert_ne!(trace_hash(&a), trace_hash(&[ev(1), ev(3)]));
        assert_ne!(trace_hash(&a), trace_hash(&[ev(2), ev(1)]));
    }
}
