//! A trace kept on disk as it is recorded, so a long run's memory levels off.
//!
//! A real run of ten minutes records millions of events; kept as structs they cost
//! about 80 bytes each for the whole run. A spilling [`Recorder`](super::Recorder)
//! keeps only its latest events in memory and writes each full batch to a file in the
//! compact form (`compact.rs`, about a quarter of the size), framed by its byte
//! length. [`Spill::events`] streams the batches back one at a time, so a reader (a
//! checker, later) needs no more than a batch in memory; the file is removed when the
//! spill is dropped.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::TraceEvent;
use super::compact::{Decoder, Encoder};

/// Spill files made by this process so far, so each has its own name.
static SPILLS: AtomicU64 = AtomicU64::new(0);

/// An open spill file and the encoder state of its stream.
#[derive(Debug)]
pub struct Spill {
    path: PathBuf,
    file: BufWriter<File>,
    encoder: Encoder,
    /// One batch's bytes, reused from batch to batch.
    buf: Vec<u8>,
    /// Events written so far.
    len: usize,
}

impl Spill {
    /// A new, empty spill file in `dir`.
    pub fn create(dir: &Path) -> io::Result<Spill> {
        let n = SPILLS.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("patchbay-trace-{}-{n}.spill", std::process::id()));
        let file = BufWriter::new(File::create(&path)?);
        Ok(Spill { path, file, encoder: Encoder::default(), buf: Vec::new(), len: 0 })
    }

    /// Appends a batch of events.
    pub fn write(&mut self, events: &[TraceEvent]) -> io::Result<()> {
        self.buf.clear();
        for e in events {
            self.encoder.encode(e, &mut self.buf);
        }
        self.file.write_all(&(self.buf.len() as u64).to_le_bytes())?;
        self.file.write_all(&self.buf)?;
        self.len += events.len();
        Ok(())
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been spilled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every event written, in order, read back a batch at a time.
    pub fn events(&mut self) -> io::Result<SpilledEvents> {
        self.file.flush()?;
        let file = BufReader::new(File::open(&self.path)?);
        Ok(SpilledEvents {
            file,
            decoder: Decoder::default(),
            batch: Vec::new(),
            at: 0,
            ended: false,
        })
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        // Best effort: a file left in the temporary directory harms nothing.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A stream of spilled events; an error ends it.
#[derive(Debug)]
pub struct SpilledEvents {
    file: BufReader<File>,
    decoder: Decoder,
    /// The batch being read and the offset of its next event.
    batch: Vec<u8>,
    at: usize,
    /// After an error: nothing after a bad event can be trusted.
    ended: bool,
}

impl SpilledEvents {
    /// Reads the next batch; false at the end of the file.
    fn next_batch(&mut self) -> io::Result<bool> {
        let mut len = [0u8; 8];
        match self.file.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        let len = usize::try_from(u64::from_le_bytes(len))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "batch too long"))?;
        self.batch.resize(len, 0);
        self.file.read_exact(&mut self.batch)?;
        self.at = 0;
        Ok(true)
    }
}

impl Iterator for SpilledEvents {
    type Item = io::Result<TraceEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.ended && self.at >= self.batch.len() {
            match self.next_batch() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.ended = true;
                    return Some(Err(e));
                }
            }
        }
        if self.ended {
            return None;
        }
        let mut rest = &self.batch[self.at..];
        let before = rest.len();
        let decoded = self.decoder.decode(&mut rest);
        self.at += before - rest.len();
        self.ended = decoded.is_err();
        Some(decoded.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)))
    }
}
