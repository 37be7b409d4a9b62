//! The append-only journal behind `--data-dir`: what the store's `Vec` is
//! rebuilt from at start-up, so every acknowledged entity survives a crash or
//! a restart.
//!
//! - [`format`]: a record's bytes (length, CRC-32C, payload).
//! - [`replay`]: reading the records back; torn tail or corruption.
//! - [`writer`]: the one writer thread and its group commit.
//!
//! The directory holds `entities.journal` and `LOCK`, on which the process
//! holds an exclusive `flock` for as long as it runs, so two processes never
//! append to one journal. A create is acknowledged, and becomes visible to any
//! reader, only once its record is synced (`fdatasync`).

pub mod format;
pub mod replay;
mod writer;

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use futures_channel::oneshot;

use crate::store::Entity;
use crate::validation::NewEntity;
pub use writer::{Answer, Publish};
use writer::{Request, Writer};

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
}

/// Why a create was not acknowledged: nothing of it is visible, and its id
/// goes to a later create.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the entity could not be made durable: journal write failed: {0}")]
    WriteFailed(String),
    #[error("the journal needs a restart of the service: {0}")]
    NeedsRestart(String),
    #[error("the service is stopping")]
    Stopped,
}

/// Figures of the journal for `/metrics`, kept by the writer.
pub struct JournalStats {
    bytes: AtomicU64,
    records: AtomicU64,
    sync_seconds: prometheus::Histogram,
}

impl JournalStats {
    fn new(bytes: u64, records: u64) -> Self {
        Self {
            bytes: AtomicU64::new(bytes),
            records: AtomicU64::new(records),
            sync_seconds: crate::metrics::journal_sync_histogram(),
        }
    }

    /// The journal's size in bytes (its good records).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Records in the journal (= entities stored).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// The latency of each `fdatasync`; its count is the number of syncs.
    pub fn sync_seconds(&self) -> &prometheus::Histogram {
        &self.sync_seconds
    }

    fn set(&self, bytes: u64, records: i64) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.records.store(records as u64, Ordering::Relaxed);
    }

    fn observe_sync(&self, elapsed: Duration) {
        self.sync_seconds.observe(elapsed.as_secs_f64());
    }
}

/// A journal opened and replayed, its writer not started yet.
pub struct Opened {
    /// The replayed entities, ids 1..=n (the store takes them).
    pub entities: Vec<Arc<Entity>>,
    /// The id the first create gets.
    next_id: i64,
    path: PathBuf,
    file: File,
    lock: File,
    /// Bytes of good records.
    len: u64,
    /// The file's length (zeros after the records, if longer).
    file_len: u64,
    stats: Arc<JournalStats>,
}

/// Locks `dir` (creating it if missing), replays its journal and cuts off a
/// torn tail. The writer starts with [`Opened::start`].
pub fn open(dir: &Path) -> Result<Opened, OpenError> {
    let in_dir = |source| OpenError::Directory {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(in_dir)?;
    let lock = lock_dir(dir)?;
    let path = dir.join(JOURNAL_FILE);
    let read_error = |source| OpenError::Read {
        path: path.clone(),
        source,
    };
    let created = !path.exists();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(read_error)?;
    if created {
        // The new file's directory entry must be durable before any record.
        File::open(dir).and_then(|d| d.sync_all()).map_err(in_dir)?;
    }
    let started = Instant::now();
    let replayed = match replay::replay(&file) {
        Ok(replayed) => replayed,
        Err(replay::ReplayError::Io(source)) => return Err(read_error(source)),
        Err(replay::ReplayError::Corrupt(corruption)) => {
            return Err(OpenError::Corrupt { path, corruption })
        }
    };
    let file_len = if replayed.torn_bytes > 0 {
        log::warn!(
            "journal {}: dropped a torn tail of {} bytes at byte offset {} (a write \
             cut short by a crash; it held no acknowledged entity)",
            path.display(),
            replayed.torn_bytes,
            replayed.good_len
        );
        file.set_len(replayed.good_len)
            .and_then(|()| file.sync_all())
            .map_err(read_error)?;
        replayed.good_len
    } else {
        // Longer when the last run crashed before trimming its zeros.
        file.metadata().map_err(read_error)?.len()
    };
    let count = replayed.entities.len();
    log::info!(
        "journal {}: replayed {count} entities ({} bytes) in {} ms",
        path.display(),
        replayed.good_len,
        started.elapsed().as_millis()
    );
    let stats = Arc::new(JournalStats::new(replayed.good_len, count as u64));
    Ok(Opened {
        entities: replayed.entities,
        next_id: count as i64 + 1,
        path,
        file,
        lock,
        len: replayed.good_len,
        file_len,
        stats,
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
    /// Starts the writer thread; `publish` makes each synced batch visible.
    pub fn start(self, publish: Publish) -> io::Result<Journal> {
        let stats = Arc::clone(&self.stats);
        let writer = Writer {
            next_id: self.next_id,
            path: self.path,
            file: self.file,
            lock: self.lock,
            len: self.len,
            file_len: self.file_len,
            publish,
            stats: self.stats,
        };
        let (requests, receiver) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(receiver))?;
        Ok(Journal {
            requests,
            thread: Mutex::new(Some(thread)),
            stats,
        })
    }
}

/// The running journal: where creates are sent to be made durable.
pub struct Journal {
    requests: Sender<Request>,
    /// The writer thread, joined by [`Journal::close`].
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<JournalStats>,
}

impl Journal {
    /// Queues a create for the next batch; the receiver is answered once
    /// its record is synced and visible, or with why it is not.
    pub fn submit(&self, new: NewEntity) -> oneshot::Receiver<Answer> {
        let (done, answer) = oneshot::channel();
        // A send fails only once the writer has stopped; `done` then drops
        // with the request and the receiver reports the stop.
        let _ = self.requests.send(Request::Create { new, done });
        answer
    }

    /// The journal's figures.
    pub fn stats(&self) -> &Arc<JournalStats> {
        &self.stats
    }

    /// Graceful end: what was queued is written and synced, the file closed
    /// and the lock released; later creates are answered
    /// [`CommitError::Stopped`].
    pub fn close(&self) {
        let thread = crate::sync::lock(&self.thread).take();
        if let Some(thread) = thread {
            let _ = self.requests.send(Request::Stop);
            if thread.join().is_err() {
                log::error!("the journal writer panicked");
            }
        }
    }
}
