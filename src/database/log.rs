//! The database as a [`BatchLog`]: what the group-commit writer thread does
//! with each batch. One transaction inserts the whole batch under the next
//! ids (see [`super::session`]); once it committed, this instance's index is
//! brought up to the batch's first id, so the batch extends it at once and
//! its creates can be acknowledged.
//!
//! Without a connection, a batch is answered UNAVAILABLE at once; a new
//! connection is tried no more often than the backoff allows.

use std::sync::Arc;
use std::time::Instant;

use super::connection::{Backoff, Settings};
use super::session::{Failure, Session};
use super::stats::{reason, ErrorKind};
use super::Shared;
use crate::backing::CommitError;
use crate::entity::Entity;
use crate::group_commit::BatchLog;
use crate::validation::NewEntity;

/// The writer thread's side of the database.
pub struct DatabaseLog {
    settings: Settings,
    session: Option<Session>,
    backoff: Backoff,
    /// The last connection error, told to creates while the backoff runs.
    last_error: String,
    shared: Arc<Shared>,
}

impl DatabaseLog {
    pub fn new(settings: Settings, shared: Arc<Shared>) -> Self {
        Self {
            settings,
            session: None,
            backoff: Backoff::new(),
            last_error: "not connected yet".into(),
            shared,
        }
    }

    /// The connection, made now if there is none and the backoff allows.
    fn session(&mut self) -> Result<&mut Session, CommitError> {
        if self.session.as_ref().is_some_and(Session::is_closed) {
            self.session = None;
        }
        if self.session.is_none() {
            if !self.shared.schema_ready() {
                return Err(CommitError::Unavailable(
                    "the database has not been reached yet".into(),
                ));
            }
            if !self.backoff.due() {
                return Err(CommitError::Unavailable(self.last_error.clone()));
            }
            match Session::open(&self.settings) {
                Ok(session) => {
                    self.backoff.succeeded();
                    self.session = Some(session);
                }
                Err(error) => {
                    self.shared.stats.error(ErrorKind::Connect);
                    self.backoff.failed();
                    self.last_error = error.to_string();
                    log::warn!("database writer: cannot connect: {error}");
                    return Err(CommitError::Unavailable(self.last_error.clone()));
                }
            }
        }
        Ok(self.session.as_mut().expect("connected above"))
    }

    /// One try of the batch's transaction.
    fn try_insert(&mut self, names: &[&[u8]], descriptions: &[&[u8]]) -> Result<i64, Attempt> {
        let session = self.session().map_err(Attempt::Refused)?;
        session.insert(names, descriptions).map_err(Attempt::Failed)
    }

    /// Brings the index up to `first_id - 1` with what other instances
    /// committed before this batch, so the batch continues it. Best effort:
    /// what is not read here the follower reads.
    fn fill_gap(&mut self, first_id: i64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        loop {
            let len = self.shared.index.len();
            if len >= first_id - 1 {
                return;
            }
            match session.read(len, first_id) {
                Ok(entities) if !entities.is_empty() => self.shared.index.extend(&entities),
                Ok(_) => return,
                Err(error) => {
                    log::debug!("database writer: cannot read entities before {first_id}: {error}");
                    self.shared.nudge_follower();
                    return;
                }
            }
        }
    }
}

/// How one try of a batch went wrong.
enum Attempt {
    /// No connection to try on.
    Refused(CommitError),
    Failed(Failure),
}

impl BatchLog for DatabaseLog {
    fn append(&mut self, batch: Vec<NewEntity>) -> Result<Vec<Arc<Entity>>, CommitError> {
        let parts: Vec<(String, String)> = batch.into_iter().map(NewEntity::into_parts).collect();
        let names: Vec<&[u8]> = parts.iter().map(|(name, _)| name.as_bytes()).collect();
        let descriptions: Vec<&[u8]> = parts.iter().map(|(_, d)| d.as_bytes()).collect();
        let started = Instant::now();
        let mut outcome = self.try_insert(&names, &descriptions);
        // A connection found broken before the batch was stored stored
        // nothing: one more try on a new one (the server was restarted, say).
        if let Err(Attempt::Failed(Failure::NotStored(error))) = &outcome {
            if error.is_closed() {
                self.shared.stats.error(ErrorKind::ConnectionLost);
                self.session = None;
                outcome = self.try_insert(&names, &descriptions);
            }
        }
        let last_id = match outcome {
            Ok(last_id) => last_id,
            Err(Attempt::Refused(error)) => return Err(error),
            Err(Attempt::Failed(Failure::NotStored(error))) => {
                let kind = ErrorKind::of(&error);
                self.shared.stats.error(kind);
                if kind != ErrorKind::Statement {
                    self.session = None;
                }
                let reason = reason(&error);
                log::warn!(
                    "database writer: a batch of {} failed: {reason}",
                    parts.len()
                );
                return Err(CommitError::Unavailable(reason));
            }
            Err(Attempt::Failed(Failure::Unknown(error))) => {
                self.shared.stats.error(ErrorKind::CommitOutcomeUnknown);
                self.session = None;
                log::error!(
                    "database writer: the connection broke during the COMMIT of {} creates \
                     ({error}); they are stored whole or not at all",
                    parts.len()
                );
                // Whichever it is, the follower makes the index say so.
                self.shared.nudge_follower();
                return Err(CommitError::OutcomeUnknown(error.to_string()));
            }
        };
        let first_id = last_id - parts.len() as i64 + 1;
        self.shared
            .stats
            .committed(parts.len(), started.elapsed(), last_id);
        self.fill_gap(first_id);
        Ok(parts
            .into_iter()
            .zip(first_id..)
            .map(|((name, description), id)| {
                Arc::new(Entity {
                    id,
                    name,
                    description,
                })
            })
            .collect())
    }

    fn close(self) {
        if let Some(session) = self.session {
            let _ = session.client.close();
        }
    }
}
