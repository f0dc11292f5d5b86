//! A run's events kept in memory in the compact form, read back as a stream.
//!
//! A simulated run keeps every event until its invariants are checked. As structs they
//! cost about 80 bytes each (2.4 KB a subscriber in a comet run, 2.4 GB at a million
//! users); in the compact form (`compact.rs`) a typical event takes about 20. The bytes
//! live in chunks of [`CHUNK_BYTES`] so growing the log never copies it nor reserves
//! twice what it holds. Events are read back in order by [`CompactEvents::iter`],
//! decoded one at a time: checkers and the trace hash walk the stream, and nothing
//! holds the expanded trace whole unless a caller asks for it.

use super::TraceEvent;
use super::compact::{Decoder, Encoder};

/// Bytes per chunk: large enough that the chunk list is short, small enough that the
/// last, partly filled chunk is a rounding error beside a large run's trace.
const CHUNK_BYTES: usize = 1 << 20;

/// Events in the compact form, appended in order.
#[derive(Clone, Debug, Default)]
pub struct CompactEvents {
    /// Full chunks, then the one being filled; an event never spans two chunks.
    chunks: Vec<Vec<u8>>,
    /// Carries the previous event's time, which the next one is written against.
    encoder: Encoder,
    /// Events appended.
    len: usize,
    /// The last event's time.
    last_at: Option<std::time::Duration>,
}

impl CompactEvents {
    /// Appends `event`.
    pub fn push(&mut self, event: &TraceEvent) {
        if self.chunks.last().is_none_or(|c| c.len() >= CHUNK_BYTES) {
            // Room for the chunk and one event past it, so a chunk rarely regrows.
            self.chunks.push(Vec::with_capacity(CHUNK_BYTES + 256));
        }
        let chunk = self.chunks.last_mut().expect("a chunk was just made");
        self.encoder.encode(event, chunk);
        self.len += 1;
        self.last_at = Some(event.at);
    }

    /// Events appended.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The last event's time, if there is one.
    pub fn last_at(&self) -> Option<std::time::Duration> {
        self.last_at
    }

    /// Bytes the events take (the chunks' lengths, not their capacity).
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// [`trace_hash`](super::trace_hash) of the events, taken from the bytes held: they
    /// are the stream a fresh encoder writes, as no event spans two chunks.
    pub fn hash(&self) -> u64 {
        let mut h = super::hash::Fnv::default();
        for chunk in &self.chunks {
            h.write(chunk);
        }
        h.finish()
    }

    /// Every event, in the order appended, decoded one at a time.
    pub fn iter(&self) -> CompactIter<'_> {
        CompactIter { chunks: &self.chunks, chunk: 0, rest: &[], decoder: Decoder::default() }
    }
}

/// The events of a [`CompactEvents`], in order.
#[derive(Debug)]
pub struct CompactIter<'a> {
    chunks: &'a [Vec<u8>],
    /// The next chunk to read once `rest` is empty.
    chunk: usize,
    rest: &'a [u8],
    decoder: Decoder,
}

impl Iterator for CompactIter<'_> {
    type Item = TraceEvent;

    fn next(&mut self) -> Option<TraceEvent> {
        while self.rest.is_empty() {
            self.rest = self.chunks.get(self.chunk)?;
            self.chunk += 1;
        }
        // The bytes were written by this process's encoder a moment ago: failing to
        // read them back is a bug in patchbay, not something a run can cause.
        let event = self.decoder.decode(&mut self.rest);
        Some(event.unwrap_or_else(|e| panic!("a trace kept in memory did not decode: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::{EventKind, MsgInfo, trace_hash};

    fn event(i: u64, note: bool) -> TraceEvent {
        let kind = if note {
            EventKind::App(crate::trace::AppEvent::Note { text: "x".repeat(i as usize % 300) })
        } else {
            let msg = MsgInfo { id: Some(i), request_id: None, len: 20 };
            EventKind::Receive { msg }
        };
        // Times go back now and then (a real run's events from several threads may).
        TraceEvent { at: Duration::from_micros(i * 7 % 1_000_003), node: None, socket: None, kind }
    }

    #[test]
    fn events_across_many_chunks_come_back_in_order_and_hash_alike() {
        let events: Vec<TraceEvent> = (0..200_000).map(|i| event(i, i % 10 == 0)).collect();
        let mut log = CompactEvents::default();
        for e in &events {
            log.push(e);
        }
        assert!(log.chunks.len() >= 3, "{} chunks: the test must cross chunks", log.chunks.len());
        assert_eq!(log.len(), events.len());
        let back: Vec<TraceEvent> = log.iter().collect();
        assert!(back == events, "the compact log changed the events");
        assert_eq!(trace_hash(&back), trace_hash(&events));
        assert_eq!(log.hash(), trace_hash(&events), "hashing the bytes held is not trace_hash");
        assert!(log.bytes() * 3 < events.len() * std::mem::size_of::<TraceEvent>());
    }

    #[test]
    fn a_clone_goes_on_appending_where_the_original_left_off() {
        let mut log = CompactEvents::default();
        log.push(&event(5, false));
        let mut copy = log.clone();
        copy.push(&event(9, false));
        let back: Vec<TraceEvent> = copy.iter().collect();
        assert_eq!(back, vec![event(5, false), event(9, false)]);
        assert_eq!(log.iter().count(), 1);
    }
}
