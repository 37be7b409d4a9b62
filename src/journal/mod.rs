//! The append-only journal behind `--data-dir`: what the store's `Vec` is
//! rebuilt from at start-up, so every acknowledged entity survives a crash or
//! a restart.
//!
//! - [`format`]: a record's bytes (length, CRC-32C, payload).
//! - [`frame`]: the file header (format version) and each batch's frame.
//! - [`replay`]: reading the file back by its format's rules: [`batches`]
//!   (torn last batch or corruption), [`legacy`] (format 1, records alone).
//! - [`rewrite`]: a new journal, or a format-1 one, written whole in format 2.
//! - [`writer`]: each batch written and synced by the group-commit writer
//!   thread ([`crate::group_commit`]).
//!
//! The directory holds `entities.journal` and `LOCK`, on which the process
//! holds an exclusive `flock` for as long as it runs, so two processes never
//! append to one journal. A create is acknowledged, and becomes visible to any
//! reader, only once its batch is synced (`fdatasync`).

mod batches;
pub mod format;
pub mod frame;
mod legacy;
mod outcome;
pub mod replay;
mod rewrite;
mod stats;
mod window;
mod writer;

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_channel::oneshot;
use prometheus::core::Collector;

use crate::backing::{Answer, Backing, Index};
use crate::entity::Entity;
use crate::group_commit::Writer;
use crate::validation::NewEntity;
pub use stats::JournalStats;
use writer::{JournalFile, JournalLog};

/// The journal's file name inside the data directory.
pub const JOURNAL_FILE: &str = "entities.journal";
/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// Why the journal could not be opened; the service does not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot use data directory {}: {source}", dir.display())]
    Directory { dir: PathBuf, source: io::Error },
    #[error(
        "data directory {} is in use by another process (it holds the lock on {})",
        dir.display(),
        dir.join(LOCK_FILE).display()
    )]
    Locked { dir: PathBuf },
    #[error("cannot read journal {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "journal {} is corrupt: {corruption}; refusing to start rather than drop good records",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        corruption: replay::Corruption,
    },
    #[error(
        "journal {} is in format {version}, newer than this build's format {}; refusing \
         to start (run a build that reads it)",
        path.display(),
        frame::FORMAT_VERSION
    )]
    NewerFormat { path: PathBuf, version: u32 },
    #[error("cannot write journal {} in format {}: {source}", path.display(), frame::FORMAT_VERSION)]
    Rewrite { path: PathBuf, source: io::Error },
}

/// A journal opened and replayed, its writer not started yet.
pub struct Opened {
    /// The replayed entities, ids 1..=n (the store takes them).
    pub entities: Vec<Arc<Entity>>,
    /// The id the first create gets (kept apart: the store takes `entities`).
    next_id: i64,
    file: JournalFile,
    stats: Arc<JournalStats>,
}

/// Locks `dir` (creating it if missing), replays its journal and cuts off a
/// torn last batch. A missing journal, or one in format 1, is first written
/// anew in the current format. The writer starts with [`Opened::start`].
pub fn open(dir: &Path) -> Result<Opened, OpenError> {
    create_dir(dir)?;
    let lock = lock_dir(dir)?;
    let started = Instant::now();
    let (entities, file) = replay_and_trim(dir, lock)?;
    log::info!(
        "journal {}: replayed {} entities ({} bytes) in {} ms",
        file.path.display(),
        entities.len(),
        file.records_end,
        started.elapsed().as_millis()
    );
    let stats = Arc::new(JournalStats::new(file.records_end, entities.len() as u64));
    Ok(Opened {
        next_id: entities.len() as i64 + 1,
        entities,
        file,
        stats,
    })
}

fn create_dir(dir: &Path) -> Result<(), OpenError> {
    std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
        dir: dir.to_path_buf(),
        source,
    })
}

/// Replays `dir`'s journal (writing it anew in the current format when it
/// is missing or older) and cuts off a torn last batch: the entities, and
/// the file ready for the writer.
fn replay_and_trim(dir: &Path, lock: File) -> Result<(Vec<Arc<Entity>>, JournalFile), OpenError> {
    let path = dir.join(JOURNAL_FILE);
    let read_error = |source| OpenError::Read {
        path: path.clone(),
        source,
    };
    let replayed = match File::open(&path) {
        Ok(file) => Some(replay_file(&path, &file)?),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(read_error(error)),
    };
    if let Some(torn) = replayed.as_ref().filter(|r| r.torn_bytes > 0) {
        log::warn!(
            "journal {}: dropped a torn last write of {} bytes at byte offset {} (cut short \
             by a crash; none of it was acknowledged)",
            path.display(),
            torn.torn_bytes,
            torn.records_end
        );
    }
    let torn_bytes = replayed.as_ref().map_or(0, |r| r.torn_bytes);
    let current = replayed
        .as_ref()
        .is_some_and(|r| r.version == frame::FORMAT_VERSION);
    let (entities, records_end) = match replayed {
        Some(replayed) if current => (replayed.entities, replayed.records_end),
        replayed => {
            let old_format = replayed.as_ref().map(|r| r.version);
            let entities = replayed.map(|r| r.entities).unwrap_or_default();
            let records_end =
                rewrite::rewrite(dir, &path, &entities).map_err(|source| OpenError::Rewrite {
                    path: path.clone(),
                    source,
                })?;
            if let Some(version) = old_format {
                log::info!(
                    "journal {}: rewrote its {} entities from format {version} into format {}",
                    path.display(),
                    entities.len(),
                    frame::FORMAT_VERSION
                );
            }
            (entities, records_end)
        }
    };
    let handle = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(read_error)?;
    let len = if torn_bytes > 0 && current {
        // The torn last batch goes (with the zeros after it).
        handle
            .set_len(records_end)
            .and_then(|()| handle.sync_all())
            .map_err(read_error)?;
        records_end
    } else {
        // Longer when the last run crashed before trimming its zeros.
        handle.metadata().map_err(read_error)?.len()
    };
    let file = JournalFile {
        path,
        handle,
        lock,
        records_end,
        len,
    };
    Ok((entities, file))
}

/// Replays the journal at `path` by its format's rules.
fn replay_file(path: &Path, file: &File) -> Result<replay::Replayed, OpenError> {
    replay::replay(file).map_err(|error| match error {
        replay::ReplayError::Io(source) => OpenError::Read {
            path: path.to_path_buf(),
            source,
        },
        replay::ReplayError::Corrupt(corruption) => OpenError::Corrupt {
            path: path.to_path_buf(),
            corruption,
        },
        replay::ReplayError::NewerFormat(version) => OpenError::NewerFormat {
            path: path.to_path_buf(),
            version,
        },
    })
}

/// Takes the exclusive lock on `dir/LOCK` (`flock` through std's `File::try_lock`).
fn lock_dir(dir: &Path) -> Result<File, OpenError> {
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
        .map_err(|source| OpenError::Directory {
            dir: dir.to_path_buf(),
            source,
        })?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(TryLockError::WouldBlock) => Err(OpenError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(source)) => Err(OpenError::Directory {
            dir: dir.to_path_buf(),
            source,
        }),
    }
}

impl Opened {
    /// Starts the writer thread, which extends `index` with each synced batch.
    pub fn start(self, index: Arc<dyn Index>) -> io::Result<Journal> {
        let stats = Arc::clone(&self.stats);
        let log = JournalLog::new(self.file, self.next_id, self.stats);
        let writer = Writer::start("journal-writer", log, frame::MAX_BATCH, index)?;
        Ok(Journal { writer, stats })
    }
}

/// The running journal: where creates are sent to be made durable.
pub struct Journal {
    writer: Writer,
    stats: Arc<JournalStats>,
}

impl Journal {
    /// The journal's figures.
    pub fn stats(&self) -> &Arc<JournalStats> {
        &self.stats
    }
}

impl Backing for Journal {
    /// Queues a create for the next batch; answered once its record is
    /// synced and visible, or with why it is not.
    fn submit(&self, new: NewEntity) -> oneshot::Receiver<Answer> {
        self.writer.submit(new)
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        self.stats.collectors()
    }

    /// Graceful end: what was queued is written and synced, the file closed
    /// and the lock released.
    fn close(&self) {
        self.writer.close();
    }
}
