//! The boundary between the store's in-memory index and what keeps its
//! entities: the journal (`--data-dir`) or PostgreSQL (`--database-url`).
//!
//! The store sees one small trait, [`Backing`]: hand over a validated
//! create and be answered once it is durable and visible; catch up with
//! what other processes committed; close. A backing sees the index through
//! [`Index`]: how many entities it holds, and extend it. Neither knows the
//! other's types, so `store` and the backings never import each other.

use std::sync::Arc;

use futures_channel::oneshot;
use prometheus::core::Collector;

use crate::entity::Entity;
use crate::validation::NewEntity;

/// What keeps the entities behind the store.
pub trait Backing: Send + Sync {
    /// Queues a validated create; the receiver is answered once the entity
    /// is durable and in the index, or with why it is not stored.
    fn submit(&self, new: NewEntity) -> oneshot::Receiver<Answer>;

    /// Brings the index up to what was committed before this call, by any
    /// process: the receiver is answered once a catch-up that began after
    /// the call has ended. `None` when this process is the only writer, so
    /// its index is always up to date.
    fn catch_up(&self) -> Option<oneshot::Receiver<Result<(), CommitError>>> {
        None
    }

    /// Asks for a catch-up without waiting for it (a watch reaching the
    /// tail); nothing to do for a sole writer.
    fn nudge(&self) {}

    /// The backing's metrics, for the service's registry.
    fn collectors(&self) -> Vec<Box<dyn Collector>>;

    /// Graceful end: what was queued is made durable or answered, then the
    /// backing lets go of its file or connections; later creates fail with
    /// [`CommitError::Stopped`].
    fn close(&self);
}

/// The store's index as a backing sees it: entities 1..=len, in id order.
pub trait Index: Send + Sync {
    /// How many entities it holds (= the highest id).
    fn len(&self) -> i64;

    /// Whether it holds none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the entities that continue it (id = len + 1, len + 2, …) and
    /// tells the watchers; ids it already holds are skipped, and entities
    /// after a gap are left for a later catch-up.
    fn extend(&self, entities: &[Arc<Entity>]);
}

/// What a waiting create is answered with.
pub type Answer = Result<Arc<Entity>, CommitError>;

/// Why a create was not acknowledged (or a catch-up did not happen). A
/// create refused this way used no id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the entity could not be made durable: journal write failed: {0}")]
    WriteFailed(String),
    #[error("the journal needs a restart of the service: {0}")]
    NeedsRestart(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(
        "the connection to the database was lost while committing ({0}); the create may or \
         may not be stored: read the entities back before retrying"
    )]
    OutcomeUnknown(String),
    #[error("the service is stopping")]
    Stopped,
}
