//! PostgreSQL behind `--database-url`: the entities' source of truth,
//! shared by every instance that points at the same database.
//!
//! Each instance keeps the store's index as a replicated, gap-free prefix
//! of the table (ids 1..k), so reads stay in memory, and runs three threads,
//! each with its own connection (no completion-queue thread ever waits on
//! the database):
//! - the writer ([`log`], on [`crate::group_commit`]): one transaction per
//!   batch of creates; ids come from a counter row updated in the batch's
//!   own statement, so commit order is id order and no id is skipped;
//! - the follower ([`follower`]): catch-up queries in id order, asked for
//!   by reads that reach the end of the index, by the listener, and by a
//!   periodic poll;
//! - the listener: `LISTEN`, one notification per committed batch.
//!
//! - [`connection`]: the URL, timeouts and keepalives, backoff.
//! - [`schema`]: tables created or checked at start, under an advisory lock.
//! - [`session`]: a connection's prepared statements; [`rows`]: rows read back.
//! - [`stats`]: the metrics.

mod connection;
mod follower;
mod log;
mod rows;
mod schema;
mod session;
mod stats;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use futures_channel::oneshot;
use prometheus::core::Collector;

use crate::backing::{Answer, Backing, CommitError, Index};
use crate::group_commit::Writer;
use crate::readiness::Readiness;
use crate::validation::NewEntity;
use connection::Settings;
pub use connection::UrlError;
use follower::{Follower, Signal};
pub use schema::{SchemaError, SCHEMA_VERSION};
use session::Session;
use stats::DatabaseStats;

/// Most creates in one transaction.
const MAX_BATCH: usize = 512;

/// Why the service cannot start on this database.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Schema(SchemaError),
    #[error("cannot start a database thread: {0}")]
    Thread(#[from] io::Error),
}

/// What the database's threads share.
pub struct Shared {
    index: Arc<dyn Index>,
    stats: DatabaseStats,
    /// Set once the schema is known to exist in this build's version.
    schema_ready: AtomicBool,
    follower: Sender<Signal>,
}

impl Shared {
    fn schema_ready(&self) -> bool {
        self.schema_ready.load(Ordering::SeqCst)
    }

    fn set_schema_ready(&self) {
        self.schema_ready.store(true, Ordering::SeqCst);
    }

    fn nudge_follower(&self) {
        let _ = self.follower.send(Signal::Wake);
    }
}

/// The running database backing.
pub struct Database {
    writer: Writer,
    shared: Arc<Shared>,
    stopping: Arc<AtomicBool>,
    /// The follower and listener threads, joined by `close`.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Connects to the database at `url` and starts the writer, follower and
/// listener over `index` (empty: it fills from the table). When the
/// database answers now, its schema is created or checked before this
/// returns (a newer schema refuses the start); when it does not, the
/// follower keeps trying with backoff. `readiness` turns serving after the
/// first catch-up.
pub fn start(
    url: &str,
    index: Arc<dyn Index>,
    readiness: Arc<Readiness>,
) -> Result<Database, StartError> {
    let settings = Settings::parse(url)?;
    let (signals, receiver) = crossbeam_channel::unbounded();
    let shared = Arc::new(Shared {
        index,
        stats: DatabaseStats::new(),
        schema_ready: AtomicBool::new(false),
        follower: signals,
    });
    let session = match settings.connect() {
        Ok(mut client) => match schema::migrate(&mut client) {
            Ok(()) => {
                shared.set_schema_ready();
                Session::prepare(client).ok()
            }
            Err(error @ SchemaError::Newer(_)) => return Err(StartError::Schema(error)),
            Err(error) => {
                ::log::warn!("database {}: {error}; retrying", settings.describe());
                None
            }
        },
        Err(error) => {
            ::log::warn!(
                "database {}: cannot connect ({error}); retrying with backoff, not serving \
                 until it answers",
                settings.describe()
            );
            None
        }
    };
    let stopping = Arc::new(AtomicBool::new(false));
    let follower = Follower::new(settings.clone(), session, Arc::clone(&shared), readiness);
    let mut threads = vec![std::thread::Builder::new()
        .name("database-follower".into())
        .spawn(move || follower.run(&receiver))?];
    let listener = {
        let (settings, shared, stopping) =
            (settings.clone(), Arc::clone(&shared), Arc::clone(&stopping));
        std::thread::Builder::new()
            .name("database-listener".into())
            .spawn(move || follower::listen(&settings, &shared.follower, &shared, &stopping))
    };
    match listener {
        Ok(thread) => threads.push(thread),
        Err(error) => {
            let _ = shared.follower.send(Signal::Stop);
            return Err(error.into());
        }
    }
    shared.nudge_follower();
    let log = log::DatabaseLog::new(settings, Arc::clone(&shared));
    let index = Arc::clone(&shared.index);
    let writer = match Writer::start("database-writer", log, MAX_BATCH, index) {
        Ok(writer) => writer,
        Err(error) => {
            stopping.store(true, Ordering::SeqCst);
            let _ = shared.follower.send(Signal::Stop);
            return Err(error.into());
        }
    };
    Ok(Database {
        writer,
        shared,
        stopping,
        threads: Mutex::new(threads),
    })
}

impl Backing for Database {
    /// Queues a create for the writer's next transaction; answered once it
    /// committed and is in the index.
    fn submit(&self, new: NewEntity) -> oneshot::Receiver<Answer> {
        self.writer.submit(new)
    }

    fn catch_up(&self) -> Option<oneshot::Receiver<Result<(), CommitError>>> {
        let (done, answer) = oneshot::channel();
        // A failed send drops `done`: the receiver reports the stop.
        let _ = self.shared.follower.send(Signal::Wait(done));
        Some(answer)
    }

    fn nudge(&self) {
        self.shared.nudge_follower();
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        self.shared.stats.collectors()
    }

    /// Graceful end: queued creates are committed and answered, then the
    /// follower and listener end and every connection closes.
    fn close(&self) {
        self.writer.close();
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.shared.follower.send(Signal::Stop);
        let threads = std::mem::take(&mut *crate::sync::lock(&self.threads));
        for thread in threads {
            if thread.join().is_err() {
                ::log::error!("a database thread panicked");
            }
        }
    }
}
