//! Whether this process is serving, still waiting for its database, or
//! stopping. The gRPC health service, `GET /healthz` (direct backend), the
//! database's first catch-up and the stop sequence share it, so it belongs
//! to neither protocol.

use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_util::task::AtomicWaker;

use crate::sync::lock;

/// The serving state of this process and who wants to hear of its changes.
#[derive(Default)]
pub struct Readiness {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Not serving yet: the database has not been caught up with.
    waiting: bool,
    stopping: bool,
    closed: bool,
    subscribers: Vec<Subscriber>,
}

/// The sending side of a [`Subscription`].
struct Subscriber {
    changes: Sender<()>,
    waker: Arc<AtomicWaker>,
}

/// Hears of each change of the serving state: `changes` holds a signal when
/// one happened and disconnects when the process goes away; `waker` is
/// woken after either, so an async task can wait on the channel.
pub struct Subscription {
    pub changes: Receiver<()>,
    pub waker: Arc<AtomicWaker>,
}

impl Readiness {
    /// Not serving until [`mark_ready`](Self::mark_ready): for a store that
    /// must first catch up with its database.
    pub fn waiting() -> Self {
        let readiness = Self::default();
        lock(&readiness.inner).waiting = true;
        readiness
    }

    /// Whether the process is serving (ready, and no stop has begun).
    pub fn is_serving(&self) -> bool {
        let inner = lock(&self.inner);
        !inner.waiting && !inner.stopping
    }

    /// Whether it is no longer waiting for its database.
    pub fn is_ready(&self) -> bool {
        !lock(&self.inner).waiting
    }

    /// The database was caught up with: serving from now on (unless stopping).
    pub fn mark_ready(&self) {
        let mut inner = lock(&self.inner);
        inner.waiting = false;
        notify(&mut inner.subscribers);
    }

    /// A graceful stop began: report not serving and tell the subscribers.
    pub fn begin_stop(&self) {
        let mut inner = lock(&self.inner);
        inner.stopping = true;
        notify(&mut inner.subscribers);
    }

    /// The process is going away: end every subscription.
    pub fn close(&self) {
        let mut inner = lock(&self.inner);
        inner.closed = true;
        let closed = std::mem::take(&mut inner.subscribers);
        drop(inner);
        for subscriber in closed {
            let waker = subscriber.waker;
            drop(subscriber.changes); // disconnects before the wake-up
            waker.wake();
        }
    }

    /// A subscription that signals each change and ends on [`close`](Self::close);
    /// None once closed.
    pub fn subscribe(&self) -> Option<Subscription> {
        let mut inner = lock(&self.inner);
        if inner.closed {
            return None;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waker = Arc::new(AtomicWaker::new());
        notify(&mut inner.subscribers);
        inner.subscribers.push(Subscriber {
            changes: tx,
            waker: Arc::clone(&waker),
        });
        Some(Subscription { changes: rx, waker })
    }
}

/// Signals and wakes every subscriber and drops the ones whose receiver is
/// gone (a full channel already holds a pending signal and counts as live).
fn notify(subscribers: &mut Vec<Subscriber>) {
    subscribers.retain(|s| {
        let gone = matches!(s.changes.try_send(()), Err(TrySendError::Disconnected(_)));
        s.waker.wake();
        !gone
    });
}
