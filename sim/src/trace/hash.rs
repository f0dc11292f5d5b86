//! A stable hash of a trace, the same on every machine and every run of one build.
//!
//! FNV-1a over the events' compact encoding (`compact.rs`), written from its start by a
//! fresh encoder: the encoding covers every field and decodes back to exactly the
//! events encoded (a unit test round-trips every kind), so two traces hash alike
//! exactly when their events are equal. A compact trace is hashed straight from the
//! bytes it holds; an expanded one is encoded event by event into a small buffer.
//! `std::hash::Hash` is not used because `DefaultHasher` is seeded per process.
//!
//! Until 2026-12 the hash was FNV-1a over the events' `Debug` text, which cost about a
//! third of a busy run's instructions; every trace hash changed once with the switch.

use std::borrow::Borrow;

use super::TraceEvent;
use super::compact::Encoder;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// An FNV-1a state fed bytes in order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(FNV_OFFSET)
    }
}

impl Fnv {
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// FNV-1a over the events' canonical encoding: equal traces hash alike on every machine.
pub fn trace_hash(events: &[TraceEvent]) -> u64 {
    trace_hash_of(events)
}

/// [`trace_hash`] over events read as a stream (a compact trace's, decoded in turn).
pub fn trace_hash_of<E: Borrow<TraceEvent>>(events: impl IntoIterator<Item = E>) -> u64 {
    let (mut h, mut encoder, mut buf) = (Fnv::default(), Encoder::default(), Vec::new());
    for e in events {
        buf.clear();
        encoder.encode(e.borrow(), &mut buf);
        h.write(&buf);
    }
    h.finish()
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
