//! The journal as a [`BatchLog`]: what the group-commit writer thread
//! ([`crate::group_commit`]) does with each batch.
//!
//! Each batch gets the next ids (the writer alone counts ids) and is
//! appended as its frame and records in one write, then synced once. A
//! failed write or sync cuts the file back to the last whole batch and
//! gives the batch's ids again to later creates, so what is visible or
//! acknowledged never has a hole.
//!
//! The file is grown [`GROW_BYTES`] at a time with zeros written ahead of the
//! records. A sync of records written over zeros the file already holds
//! writes data alone, never the file's size or block map, so it needs no
//! commit of the file system's own journal, which on a busy disk waits for
//! every other process's data (ext4, data=ordered). A graceful stop trims
//! the zeros; after a crash, replay tells them from a torn tail.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::format::encode;
use super::frame::{finish_batch, start_batch};
use super::JournalStats;
use crate::backing::CommitError;
use crate::entity::Entity;
use crate::group_commit::BatchLog;
use crate::validation::NewEntity;

/// How much the file grows at a time, zero-filled.
pub const GROW_BYTES: u64 = 1 << 20;

/// The zeros written ahead, a piece at a time.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The journal file as the writer holds it.
pub struct JournalFile {
    pub path: PathBuf,
    pub handle: File,
    /// The journal directory's lock, held as long as the writer runs.
    pub lock: File,
    /// Bytes of the file header and the whole batches: where the next batch
    /// goes, and where a failed batch is cut back to.
    pub records_end: u64,
    /// The file's length: from `records_end` to here it holds zeros written ahead.
    pub len: u64,
}

/// The journal as the writer thread holds it: the file and the ids.
pub struct JournalLog {
    file: JournalFile,
    /// The id the next create gets.
    next_id: i64,
    stats: Arc<JournalStats>,
    /// Set when a failed batch could not be cut off: the file's end is
    /// unknown, so nothing more is written until a restart.
    broken: Option<String>,
    /// The batch being written, frame and records (kept to reuse its memory).
    buffer: Vec<u8>,
}

impl BatchLog for JournalLog {
    /// Writes and syncs one batch under the next ids.
    fn append(&mut self, batch: Vec<NewEntity>) -> Result<Vec<Arc<Entity>>, CommitError> {
        if let Some(reason) = &self.broken {
            return Err(CommitError::NeedsRestart(reason.clone()));
        }
        let first_id = self.next_id;
        self.buffer.clear();
        let start = start_batch(&mut self.buffer);
        let mut entities = Vec::with_capacity(batch.len());
        for (offset, new) in batch.into_iter().enumerate() {
            let (name, description) = new.into_parts();
            let id = first_id + offset as i64;
            encode(id, &name, &description, &mut self.buffer);
            entities.push(Arc::new(Entity {
                id,
                name,
                description,
            }));
        }
        finish_batch(&mut self.buffer, start, entities.len());
        match self.write_and_sync() {
            Ok(()) => {
                self.file.records_end += self.buffer.len() as u64;
                self.file.len = self.file.len.max(self.file.records_end);
                self.next_id += entities.len() as i64;
                self.stats.set(self.file.records_end, self.next_id - 1);
                Ok(entities)
            }
            Err(error) => Err(self.cut_back(&error, entities.len())),
        }
    }

    /// The graceful end: the zeros written ahead are trimmed, a last sync,
    /// then the file and the lock are closed. A journal left broken gets one
    /// more try at cutting off the records that were answered with an error,
    /// so a restart does not bring them back.
    fn close(mut self) {
        let len = self.file.records_end;
        if self.broken.is_some() || self.file.len > len {
            if let Err(error) = self.cut_to(len) {
                log::error!(
                    "journal {}: cannot cut the file back to its {len} bytes of records \
                     ({error}); a restart replays what lies after them",
                    self.file.path.display()
                );
            }
        }
        let path = self.file.path.display();
        match self.file.handle.sync_all() {
            Ok(()) => log::info!(
                "journal {path} closed: {} entities, {} bytes",
                self.next_id - 1,
                self.file.records_end
            ),
            Err(error) => log::error!("journal {path}: final sync failed: {error}"),
        }
        drop(self.file.lock);
    }
}

impl JournalLog {
    pub fn new(file: JournalFile, next_id: i64, stats: Arc<JournalStats>) -> Self {
        Self {
            file,
            next_id,
            stats,
            broken: None,
            buffer: Vec::new(),
        }
    }

    /// Appends the batch after the whole batches and syncs it.
    ///
    /// Fail points `journal::write` and `journal::sync` (feature
    /// `failpoints`) make either step fail, for tests that need a disk
    /// error at an exact moment.
    fn write_and_sync(&mut self) -> io::Result<()> {
        fail::fail_point!("journal::write", |_| Err(io::Error::other(
            "journal::write fail point"
        )));
        self.reserve(self.buffer.len() as u64);
        self.file
            .handle
            .write_all_at(&self.buffer, self.file.records_end)?;
        fail::fail_point!("journal::sync", |_| Err(io::Error::other(
            "journal::sync fail point"
        )));
        let started = Instant::now();
        let synced = self.file.handle.sync_data();
        self.stats.observe_sync(started.elapsed());
        synced
    }

    /// Makes sure zeros already lie where `bytes` more bytes of records go,
    /// growing the file by whole [`GROW_BYTES`] steps. A failure (full disk,
    /// file-size limit) is no error here: the records then go past the
    /// zeros, and their own write reports it.
    fn reserve(&mut self, bytes: u64) {
        let end = self.file.records_end + bytes;
        if end <= self.file.len {
            return;
        }
        let target = end.div_ceil(GROW_BYTES) * GROW_BYTES;
        while self.file.len < target {
            let piece = (target - self.file.len).min(ZEROS.len() as u64) as usize;
            let written = self
                .file
                .handle
                .write_all_at(&ZEROS[..piece], self.file.len);
            if let Err(error) = written {
                log::debug!("journal: cannot grow the file ahead: {error}");
                // Part of the piece may be written: know where the file ends.
                if let Ok(metadata) = self.file.handle.metadata() {
                    self.file.len = self.file.len.max(metadata.len());
                }
                return;
            }
            self.file.len += piece as u64;
        }
    }

    /// After a failed write or sync: cuts the file back to its whole batches
    /// (and syncs that), or marks the journal broken if even that fails.
    fn cut_back(&mut self, error: &io::Error, failed: usize) -> CommitError {
        let len = self.file.records_end;
        let cut = self.cut_to(len);
        match cut {
            Ok(()) => {
                log::error!(
                    "journal {}: write failed ({error}); {failed} create(s) answered \
                     UNAVAILABLE, journal cut back to {len} bytes",
                    self.file.path.display()
                );
                CommitError::WriteFailed(error.to_string())
            }
            Err(cut_error) => {
                let reason = format!(
                    "write failed ({error}) and cutting the journal back to {len} bytes \
                     failed too ({cut_error})"
                );
                log::error!(
                    "journal {}: {reason}; creates are refused until a restart",
                    self.file.path.display()
                );
                self.broken = Some(reason.clone());
                CommitError::NeedsRestart(reason)
            }
        }
    }

    /// Truncates the file to `len` bytes and syncs that.
    ///
    /// Fail point `journal::cut` (feature `failpoints`) makes it fail, for
    /// the test of a journal that needs a restart.
    fn cut_to(&mut self, len: u64) -> io::Result<()> {
        fail::fail_point!("journal::cut", |_| Err(io::Error::other(
            "journal::cut fail point"
        )));
        self.file.handle.set_len(len)?;
        self.file.len = len;
        self.file.handle.sync_data()
    }
}
