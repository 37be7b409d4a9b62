//! Whether this process is serving or stopping. The gRPC health service,
//! `GET /healthz` (direct backend) and the stop sequence share it, so it
//! belongs to neither protocol.

use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::sync::lock;

/// The serving state of this process and who wants to hear of its changes.
#[derive(Default)]
pub struct Readiness {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    stopping: bool,
    closed: bool,
    subscribers: Vec<Sender<()>>,
}

impl Readiness {
    /// Whether the process is serving (no stop has begun).
    pub fn is_serving(&self) -> bool {
        !lock(&self.inner).stopping
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
        inner.subscribers.clear();
    }

    /// A channel that signals each change and disconnects on [`close`](Self::close);
    /// None once closed.
    pub fn subscribe(&self) -> Option<Receiver<()>> {
        let mut inner = lock(&self.inner);
        if inner.closed {
            return None;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        notify(&mut inner.subscribers);
        inner.subscribers.push(tx);
        Some(rx)
    }
}

/// Signals every subscriber and drops the ones whose receiver is gone (a full
/// channel already holds a pending signal and counts as live).
fn notify(subscribers: &mut Vec<Sender<()>>) {
    subscribers.retain(|s| !matches!(s.try_send(()), Err(TrySendError::Disconnected(_))));
}
