//! A trace kept on disk as it is recorded, so a long run's memory levels off.
//!
//! A real run of ten minutes records millions of events; kept as structs they cost
//! about 80 bytes each for the whole run. A spilling [`Recorder`](super::Recorder)
//! keeps only its latest events in memory and writes each full batch to a file in the
//! compact form (`compact.rs`, about a quarter of the size), framed by its byte
//! length. [`Spill::events`] streams the batches back one at a time, so a reader (a
//! checker, later) needs no more than a batch in memory.
//!
//! The file is made new under a name no one can guess (never a file or a link already
//! there: a name made of the process id alone let a planted link truncate its
//! target), readable by its owner only, and its name is removed at once: the open
//! file is the spill, and nothing is left behind however the process ends (a signal,
//! a panic), where a named file stayed in the temporary folder.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::TraceEvent;
use super::compact::{Decoder, Encoder};

/// Spill files made by this process so far, so each has its own name.
static SPILLS: AtomicU64 = AtomicU64::new(0);
/// How many names [`Spill::create`] tries when each is taken.
const NAME_TRIES: usize = 16;

/// An open spill file and the encoder state of its stream.
#[derive(Debug)]
pub struct Spill {
    path: PathBuf,
    /// Whether `path` still names the file (its removal at creation failed), for
    /// `drop` to remove; once removed, the name may be someone else's.
    named: bool,
    file: BufWriter<File>,
    encoder: Encoder,
    /// One batch's bytes, reused from batch to batch.
    buf: Vec<u8>,
    /// Events written so far.
    len: usize,
}

impl Spill {
    /// A new, empty spill file in `dir`: a file made new, under an unguessable name,
    /// which is removed from `dir` at once (see the module's notes).
    pub fn create(dir: &Path) -> io::Result<Spill> {
        let mut taken = None;
        for _ in 0..NAME_TRIES {
            let n = SPILLS.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                "patchbay-trace-{}-{n}-{:016x}.spill",
                std::process::id(),
                unguessable()
            ));
            let opened =
                OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path);
            match opened {
                Ok(file) => {
                    let named = std::fs::remove_file(&path).is_err();
                    let file = BufWriter::new(file);
                    let (encoder, buf) = (Encoder::default(), Vec::new());
                    return Ok(Spill { path, named, file, encoder, buf, len: 0 });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => taken = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(taken.expect("tried at least once"))
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

    /// Where the file was made; its name is removed from there as it is made (where
    /// the file system allows), and the open file lives on until the spill is dropped.
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
        // The same open file, read at offsets of its own: its name is gone.
        let file = BufReader::new(ReadAt { file: self.file.get_ref().try_clone()?, at: 0 });
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
        if self.named {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A number no other process can tell beforehand: std's hash keys are drawn from the
/// operating system's randomness.
fn unguessable() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(SPILLS.load(Ordering::Relaxed))
}

/// A file read from its start at offsets of its own, leaving the writer's alone.
#[derive(Debug)]
struct ReadAt {
    file: File,
    at: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// A stream of spilled events; an error ends it.
#[derive(Debug)]
pub struct SpilledEvents {
    file: BufReader<ReadAt>,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::EventKind;

    /// F13 of the real-run probe: a spill was a file named by the process id alone,
    /// opened with `File::create` (a link planted at the name had its target
    /// truncated), and it stayed in the temporary folder whenever the process ended
    /// without dropping it (a signal). It is now made new, and nameless at once.
    #[test]
    fn a_spill_leaves_no_file_in_its_folder_even_when_never_dropped_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("patchbay-spill-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder");
        let event = |i: u64| TraceEvent {
            at: Duration::from_millis(i),
            node: None,
            socket: None,
            kind: EventKind::Healed,
        };
        let mut spill = Spill::create(&dir).expect("a spill");
        spill.write(&[event(1), event(2)]).expect("written");
        spill.write(&[event(3)]).expect("written");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("the folder").collect();
        assert!(left.is_empty(), "named files in the spill's folder: {left:?}");
        let read: Vec<TraceEvent> =
            spill.events().expect("read back").map(Result::unwrap).collect();
        assert_eq!(read, [event(1), event(2), event(3)]);
        // As a signal ends a process: no destructor runs.
        std::mem::forget(spill);
        assert_eq!(std::fs::read_dir(&dir).expect("the folder").count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
