//! The one entity store both protocols share, and the watch feed that tells
//! open WatchEntities streams about each new entity.
//!
//! Lock discipline: the store lock guards a `Vec` and the list of watchers and
//! nothing else. While it is held we only index, push an `Arc`, and
//! `try_send` an `Arc` to each watcher: no I/O, no blocking send, no
//! serialization, no string building; watchers' tasks are woken after it is
//! released. Validation happens before the lock is taken, so a rejected
//! create never uses up an id.
//!
//! With a journal (`--data-dir`) a create goes to the journal's writer
//! instead, which gives it its id, syncs its record and only then publishes
//! it into the `Vec` (and to the watchers), so readers only ever see durable
//! entities. Without one, a create is stored at once, as before: no thread
//! hop, no extra lock or allocation.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_channel::oneshot;
use futures_util::task::AtomicWaker;

use crate::entity::Entity;
use crate::journal::{self, Answer, CommitError, Journal, JournalStats};
use crate::validation::NewEntity;

/// How many new entities a watcher may fall behind before it is cut off.
pub const WATCH_BUFFER: usize = 1024;

/// How many WatchEntities streams may be open at once.
pub const MAX_WATCHERS: usize = 1024;

/// The shared store: `Mutex<Vec<Arc<Entity>>>` where the entity with id `n`
/// sits at index `n - 1`, so lookup by id is O(1). Entities are behind `Arc`
/// so that readers and watchers copy a pointer, not strings, under the lock.
#[derive(Default)]
pub struct Store {
    /// Shared with the journal's writer, which publishes synced batches into it.
    inner: Arc<Mutex<Inner>>,
    /// Present with `--data-dir`: creates go through it.
    journal: Option<Journal>,
}

#[derive(Default)]
struct Inner {
    entities: Vec<Arc<Entity>>,
    watchers: Vec<WatchSender>,
    /// Set once the service stops: no new watchers, feeds closed.
    closed: bool,
}

struct WatchSender {
    feed: Sender<Arc<Entity>>,
    overflowed: Arc<AtomicBool>,
    /// Wakes the watch's task when something is offered or the feed ends.
    waker: Arc<AtomicWaker>,
}

/// Why a watch could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WatchError {
    #[error("too many open watches (at most {MAX_WATCHERS})")]
    TooManyWatchers,
    #[error("the service is stopping")]
    Closed,
}

/// An open watch: the ids to replay from the store, then the live feed.
pub struct Watch {
    /// Stored entities with `replay_from <= id <= replay_to` are replayed first.
    pub replay_from: i64,
    pub replay_to: i64,
    /// New entities, in id order, created after the watch was opened.
    pub feed: Receiver<Arc<Entity>>,
    /// Set when this watcher fell more than [`WATCH_BUFFER`] entities behind
    /// and was cut off (its feed then reports disconnection).
    pub overflowed: Arc<AtomicBool>,
    /// Woken whenever the feed gets an entity, overflows or ends, so an
    /// async task can wait on the (blocking) crossbeam feed.
    pub waker: Arc<AtomicWaker>,
}

impl Store {
    /// An empty store that lives in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store kept in the journal in `dir` (created if missing): locks the
    /// directory, replays the journal, then starts its writer.
    pub fn open(dir: &Path) -> Result<Self, journal::OpenError> {
        let mut opened = journal::open(dir)?;
        let inner = Arc::new(Mutex::new(Inner {
            entities: std::mem::take(&mut opened.entities),
            ..Inner::default()
        }));
        let visible = Arc::clone(&inner);
        let journal = opened
            .start(Box::new(move |batch| publish(&visible, batch)))
            .map_err(|source| journal::OpenError::Directory {
                dir: dir.to_path_buf(),
                source,
            })?;
        Ok(Self {
            inner,
            journal: Some(journal),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::sync::lock(&self.inner)
    }

    /// Stores a validated entity under the next id and tells the watchers:
    /// at once in memory, or once its journal record is synced.
    pub fn create(&self, new: NewEntity) -> Creation {
        if let Some(journal) = &self.journal {
            return Creation(Pending::Journaled(journal.submit(new)));
        }
        let (name, description) = new.into_parts();
        let mut inner = self.lock();
        let entity = Arc::new(Entity {
            id: inner.entities.len() as i64 + 1,
            name,
            description,
        });
        let to_wake = inner.append(std::slice::from_ref(&entity));
        drop(inner);
        wake_all(to_wake);
        Creation(Pending::Stored(Some(entity)))
    }

    /// The journal's figures, when the store has one.
    pub fn journal_stats(&self) -> Option<&Arc<JournalStats>> {
        self.journal.as_ref().map(Journal::stats)
    }

    /// Graceful end of the journal (if any): what was queued is synced, the
    /// file closed and the directory unlocked; later creates fail.
    pub fn close_journal(&self) {
        if let Some(journal) = &self.journal {
            journal.close();
        }
    }

    /// The entity with this id, if stored.
    pub fn get(&self, id: i64) -> Option<Arc<Entity>> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.lock().entities.get(index).cloned()
    }

    /// Up to `limit` entities (0 = no limit) in id order from `max(start_id, 1)`.
    pub fn list(&self, start_id: i64, limit: usize) -> Vec<Arc<Entity>> {
        let start = usize::try_from(start_id.max(1) - 1).unwrap_or(usize::MAX);
        let inner = self.lock();
        let available = inner.entities.len().saturating_sub(start);
        let count = if limit == 0 {
            available
        } else {
            available.min(limit)
        };
        inner.entities[start.min(inner.entities.len())..][..count].to_vec()
    }

    /// How many entities are stored.
    pub fn len(&self) -> usize {
        self.lock().entities.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many watches are open (closed ones are counted until noticed, which
    /// the watch thread does as soon as its call ends).
    pub fn watcher_count(&self) -> usize {
        let mut inner = self.lock();
        inner.watchers.retain(WatchSender::is_open);
        inner.watchers.len()
    }

    /// Opens a watch for entities with id > `after_id`. The replay range and
    /// the live feed are fixed under one lock, so no entity is missed or sent twice.
    pub fn watch(&self, after_id: i64) -> Result<Watch, WatchError> {
        let (feed_tx, feed_rx) = crossbeam_channel::bounded(WATCH_BUFFER);
        let overflowed = Arc::new(AtomicBool::new(false));
        let waker = Arc::new(AtomicWaker::new());
        let mut inner = self.lock();
        if inner.closed {
            return Err(WatchError::Closed);
        }
        inner.watchers.retain(WatchSender::is_open);
        if inner.watchers.len() >= MAX_WATCHERS {
            return Err(WatchError::TooManyWatchers);
        }
        inner.watchers.push(WatchSender {
            feed: feed_tx,
            overflowed: Arc::clone(&overflowed),
            waker: Arc::clone(&waker),
        });
        Ok(Watch {
            replay_from: after_id.max(0).saturating_add(1),
            replay_to: inner.entities.len() as i64,
            feed: feed_rx,
            overflowed,
            waker,
        })
    }

    /// Ends every watch feed and refuses new watches: used when the service stops.
    pub fn close_watches(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        let closed: Vec<WatchSender> = inner.watchers.drain(..).collect();
        drop(inner);
        for watcher in closed {
            let waker = Arc::clone(&watcher.waker);
            drop(watcher); // disconnects the feed before the wake-up
            waker.wake();
        }
    }
}

impl Inner {
    /// Appends entities that carry the next ids and offers each to every
    /// watcher; returns the wakers to wake once the lock is released (waking
    /// a task is a call into the gRPC core).
    fn append(&mut self, batch: &[Arc<Entity>]) -> Vec<Arc<AtomicWaker>> {
        debug_assert_eq!(
            batch.first().map(|e| e.id),
            Some(self.entities.len() as i64 + 1)
        );
        self.entities.extend(batch.iter().cloned());
        let mut to_wake = Vec::with_capacity(self.watchers.len());
        self.watchers.retain(|watcher| {
            to_wake.push(Arc::clone(&watcher.waker));
            batch.iter().all(|entity| watcher.offer(entity))
        });
        to_wake
    }
}

/// Makes a synced batch visible: the journal writer's way into the store.
fn publish(inner: &Mutex<Inner>, batch: &[Arc<Entity>]) {
    let to_wake = crate::sync::lock(inner).append(batch);
    wake_all(to_wake);
}

fn wake_all(wakers: Vec<Arc<AtomicWaker>>) {
    for waker in wakers {
        waker.wake();
    }
}

/// A create under way. In memory it is done at once; with a journal it
/// completes when the writer has synced its record (or failed to). Await it
/// on an async task (a gRPC handler: no thread waits for the disk), or
/// [`wait`](Creation::wait) for it on a thread that may block.
#[must_use = "a create is acknowledged only once its Creation completes"]
pub struct Creation(Pending);

/// How a [`Creation`] ends: the stored entity, or why it was not stored.
pub type Created = Result<Arc<Entity>, CommitError>;

enum Pending {
    Stored(Option<Arc<Entity>>),
    Journaled(oneshot::Receiver<Answer>),
}

impl Creation {
    /// Blocks this thread until the entity is stored (REST worker threads).
    pub fn wait(self) -> Created {
        match self.0 {
            Pending::Stored(Some(entity)) => Ok(entity),
            pending => futures_executor::block_on(Creation(pending)),
        }
    }
}

impl Future for Creation {
    type Output = Created;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            // (Taken by the first poll; a future is not polled after Ready.)
            Pending::Stored(entity) => Poll::Ready(entity.take().ok_or(CommitError::Stopped)),
            // A dropped sender means the writer stopped before answering.
            Pending::Journaled(answer) => Pin::new(answer)
                .poll(cx)
                .map(|answer| answer.unwrap_or(Err(CommitError::Stopped))),
        }
    }
}

impl WatchSender {
    /// Whether the watch is still held open (the `Watch` shares the flag).
    fn is_open(&self) -> bool {
        Arc::strong_count(&self.overflowed) > 1
    }

    /// Offers a new entity; false when this watcher is gone or overflowed and
    /// must be dropped from the list.
    fn offer(&self, entity: &Arc<Entity>) -> bool {
        match self.feed.try_send(Arc::clone(entity)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::SeqCst);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}
