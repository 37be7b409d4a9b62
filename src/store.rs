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
//! With a backing ([`crate::backing`]: the journal of `--data-dir`, or the
//! database of `--database-url`) a create goes to the backing's writer
//! instead, which gives it its id, makes it durable and only then extends
//! the `Vec` (and feeds the watchers), so readers only ever see durable
//! entities. With a database, other processes create too: the `Vec` is then
//! a replicated prefix of the table, and a read that reaches past its end
//! first waits for a [`Store::catch_up`]. Without a backing, a create is
//! stored at once: no thread hop, no extra lock or allocation.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_channel::oneshot;
use futures_util::task::AtomicWaker;

use prometheus::core::Collector;

use crate::backing::{Answer, Backing, CommitError, Index};
use crate::entity::Entity;
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
    /// Shared with the backing, which extends it with durable entities.
    shared: Arc<Shared>,
    /// Present with `--data-dir` or `--database-url`: creates go through it.
    backing: Option<Box<dyn Backing>>,
}

/// The index and its watchers, behind the store lock.
#[derive(Default)]
struct Shared(Mutex<Inner>);

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

    /// A store whose index starts with `entities` (ids 1..=n) and whose
    /// creates go to the backing that `start` builds over that index.
    pub fn backed<E>(
        entities: Vec<Arc<Entity>>,
        start: impl FnOnce(Arc<dyn Index>) -> Result<Box<dyn Backing>, E>,
    ) -> Result<Self, E> {
        let shared = Arc::new(Shared(Mutex::new(Inner {
            entities,
            ..Inner::default()
        })));
        let backing = start(Arc::clone(&shared) as Arc<dyn Index>)?;
        Ok(Self {
            shared,
            backing: Some(backing),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.lock()
    }

    /// Stores a validated entity under the next id and tells the watchers:
    /// at once in memory, or once the backing made it durable.
    pub fn create(&self, new: NewEntity) -> Creation {
        if let Some(backing) = &self.backing {
            return Creation(Pending::Backed(backing.submit(new)));
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

    /// Completes once the index holds everything committed, by any process,
    /// before this call: at once unless other processes write to the same
    /// database. Reads that reach past the index's end await it.
    pub fn catch_up(&self) -> CatchUp {
        CatchUp(self.backing.as_ref().and_then(|b| b.catch_up()))
    }

    /// The backing's metrics (none in memory).
    pub fn backing_collectors(&self) -> Vec<Box<dyn Collector>> {
        self.backing.as_ref().map_or(Vec::new(), |b| b.collectors())
    }

    /// Graceful end of the backing (if any): what was queued is made durable
    /// and answered, then its file or connections are let go; later creates
    /// fail.
    pub fn close_backing(&self) {
        if let Some(backing) = &self.backing {
            backing.close();
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
        let replay_to = inner.entities.len() as i64;
        drop(inner);
        // A watch that reaches the end of the index hears of what other
        // processes committed without waiting for their notification.
        if let Some(backing) = &self.backing {
            backing.nudge();
        }
        Ok(Watch {
            replay_from: after_id.max(0).saturating_add(1),
            replay_to,
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::sync::lock(&self.0)
    }
}

impl Index for Shared {
    fn len(&self) -> i64 {
        self.lock().entities.len() as i64
    }

    fn extend(&self, entities: &[Arc<Entity>]) {
        let mut inner = self.lock();
        let next = inner.entities.len() as i64 + 1;
        // Skip what the index holds already (another thread published it).
        let fresh = entities.partition_point(|entity| entity.id < next);
        let entities = &entities[fresh..];
        // Keep only the run that continues the index, id after id.
        let run = entities
            .iter()
            .zip(next..)
            .take_while(|(entity, id)| entity.id == *id)
            .count();
        if run < entities.len() {
            log::debug!(
                "index at {}: entities from {} wait for a catch-up",
                next - 1 + run as i64,
                entities[run].id
            );
        }
        if run == 0 {
            return;
        }
        let to_wake = inner.append(&entities[..run]);
        drop(inner);
        wake_all(to_wake);
    }
}

fn wake_all(wakers: Vec<Arc<AtomicWaker>>) {
    for waker in wakers {
        waker.wake();
    }
}

/// A create under way. In memory it is done at once; with a backing it
/// completes when the writer has made it durable (or failed to). Await it
/// on an async task (a gRPC handler: no thread waits for the disk or the
/// database), or
/// [`wait`](Creation::wait) for it on a thread that may block.
#[must_use = "a create is acknowledged only once its Creation completes"]
pub struct Creation(Pending);

/// How a [`Creation`] ends: the stored entity, or why it was not stored.
pub type Created = Result<Arc<Entity>, CommitError>;

enum Pending {
    Stored(Option<Arc<Entity>>),
    Backed(oneshot::Receiver<Answer>),
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
            Pending::Backed(answer) => Pin::new(answer)
                .poll(cx)
                .map(|answer| answer.unwrap_or(Err(CommitError::Stopped))),
        }
    }
}

/// A [`Store::catch_up`] under way: `None` when there is nothing to catch
/// up with (this process is the only writer).
#[must_use = "a read may look past the index only once its catch-up completed"]
pub struct CatchUp(Option<oneshot::Receiver<Result<(), CommitError>>>);

impl CatchUp {
    /// Whether it completed already (always, without a database).
    pub fn is_done(&self) -> bool {
        self.0.is_none()
    }

    /// Blocks this thread until it completes (REST worker threads).
    pub fn wait(self) -> Result<(), CommitError> {
        match self.0 {
            None => Ok(()),
            pending => futures_executor::block_on(CatchUp(pending)),
        }
    }
}

impl Future for CatchUp {
    type Output = Result<(), CommitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            None => Poll::Ready(Ok(())),
            // A dropped sender means the follower stopped before answering.
            Some(done) => Pin::new(done)
                .poll(cx)
                .map(|done| done.unwrap_or(Err(CommitError::Stopped))),
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
