//! The journal's one writer thread: group commit.
//!
//! Creates queue up while a sync is running; the writer takes everything
//! queued as one batch, gives each its id (the writer alone counts ids),
//! appends the batch's records, syncs once, then publishes the batch into the
//! visible store and answers each waiting create. A failed write or sync
//! answers the whole batch with an error, cuts the file back to the last good
//! record and gives the batch's ids again to later creates, so what is
//! visible or acknowledged never has a hole.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use futures_channel::oneshot;

use super::format::encode;
use super::{CommitError, JournalStats};
use crate::store::Entity;
use crate::validation::NewEntity;

/// The most creates one batch takes (bounds the write buffer and the time a
/// create waits behind others).
const MAX_BATCH: usize = 1024;

/// How the writer makes a synced batch visible: appends it to the store's
/// `Vec` and feeds the watchers, under the store lock.
pub type Publish = Box<dyn Fn(&[Arc<Entity>]) + Send>;

/// What a waiting create is answered with.
pub type Answer = Result<Arc<Entity>, CommitError>;

/// A message to the writer thread.
pub enum Request {
    /// Journal this entity, then answer on `done`.
    Create {
        new: NewEntity,
        done: oneshot::Sender<Answer>,
    },
    /// Finish what was queued before, sync and close.
    Stop,
}

/// The writer thread's state.
pub struct Writer {
    pub path: PathBuf,
    pub file: File,
    /// The journal directory's lock, held as long as the writer runs.
    pub lock: File,
    /// Bytes of good records: where the next batch goes, and where a failed
    /// batch is cut back to.
    pub len: u64,
    /// The id the next create gets.
    pub next_id: i64,
    pub publish: Publish,
    pub stats: Arc<JournalStats>,
}

impl Writer {
    /// Serves requests until [`Request::Stop`] or until every sender is gone.
    pub fn run(self, requests: Receiver<Request>) {
        let mut state = Running {
            writer: self,
            broken: None,
            buffer: Vec::new(),
        };
        let mut batch = Vec::new();
        let mut stopping = false;
        while !stopping {
            let Ok(first) = requests.recv() else { break };
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Create { new, done } => batch.push((new, done)),
                    Request::Stop => stopping = true,
                }
                if !stopping && batch.len() < MAX_BATCH {
                    next = requests.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                state.commit(&mut batch);
            }
        }
        state.close();
    }
}

struct Running {
    writer: Writer,
    /// Set when a failed batch could not be cut off: the file's end is
    /// unknown, so nothing more is written until a restart.
    broken: Option<String>,
    /// The records of the batch being written (kept to reuse its memory).
    buffer: Vec<u8>,
}

impl Running {
    /// Writes, syncs, publishes and answers one batch, emptying it.
    fn commit(&mut self, batch: &mut Vec<(NewEntity, oneshot::Sender<Answer>)>) {
        if let Some(reason) = &self.broken {
            for (_, done) in batch.drain(..) {
                let _ = done.send(Err(CommitError::NeedsRestart(reason.clone())));
            }
            return;
        }
        let first_id = self.writer.next_id;
        self.buffer.clear();
        let mut entities = Vec::with_capacity(batch.len());
        let mut waiting = Vec::with_capacity(batch.len());
        for (offset, (new, done)) in batch.drain(..).enumerate() {
            let (name, description) = new.into_parts();
            let id = first_id + offset as i64;
            encode(id, &name, &description, &mut self.buffer);
            entities.push(Arc::new(Entity {
                id,
                name,
                description,
            }));
            waiting.push(done);
        }
        match self.write_and_sync() {
            Ok(()) => {
                self.writer.len += self.buffer.len() as u64;
                self.writer.next_id += entities.len() as i64;
                self.writer
                    .stats
                    .set(self.writer.len, self.writer.next_id - 1);
                (self.writer.publish)(&entities);
                for (done, entity) in waiting.into_iter().zip(entities) {
                    let _ = done.send(Ok(entity));
                }
            }
            Err(error) => {
                let failure = self.cut_back(&error, entities.len());
                for done in waiting {
                    let _ = done.send(Err(failure.clone()));
                }
            }
        }
    }

    /// Appends the buffer after the good records and syncs it.
    ///
    /// Fail points `journal::write` and `journal::sync` (feature
    /// `failpoints`) make either step fail, for tests that need a disk
    /// error at an exact moment.
    fn write_and_sync(&self) -> io::Result<()> {
        fail::fail_point!("journal::write", |_| Err(io::Error::other(
            "journal::write fail point"
        )));
        self.writer
            .file
            .write_all_at(&self.buffer, self.writer.len)?;
        fail::fail_point!("journal::sync", |_| Err(io::Error::other(
            "journal::sync fail point"
        )));
        let started = Instant::now();
        let synced = self.writer.file.sync_data();
        self.writer.stats.observe_sync(started.elapsed());
        synced
    }

    /// After a failed write or sync: cuts the file back to its good records
    /// (and syncs that), or marks the journal broken if even that fails.
    fn cut_back(&mut self, error: &io::Error, failed: usize) -> CommitError {
        let len = self.writer.len;
        let cut = self.cut_to(len);
        match cut {
            Ok(()) => {
                log::error!(
                    "journal {}: write failed ({error}); {failed} create(s) answered \
                     UNAVAILABLE, journal cut back to {len} bytes",
                    self.writer.path.display()
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
                    self.writer.path.display()
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
    fn cut_to(&self, len: u64) -> io::Result<()> {
        fail::fail_point!("journal::cut", |_| Err(io::Error::other(
            "journal::cut fail point"
        )));
        self.writer.file.set_len(len)?;
        self.writer.file.sync_data()
    }

    /// The graceful end: a last sync, then the file and the lock are closed.
    /// A journal left broken gets one more try at cutting off the records
    /// that were answered with an error, so a restart does not bring them back.
    fn close(self) {
        let path = self.writer.path.display();
        if self.broken.is_some() {
            if let Err(error) = self.cut_to(self.writer.len) {
                log::error!(
                    "journal {path}: cannot cut off the unacknowledged tail ({error}); \
                     a restart will replay it"
                );
            }
        }
        match self.writer.file.sync_all() {
            Ok(()) => log::info!(
                "journal {path} closed: {} entities, {} bytes",
                self.writer.next_id - 1,
                self.writer.len
            ),
            Err(error) => log::error!("journal {path}: final sync failed: {error}"),
        }
        drop(self.writer.lock);
    }
}
