//! One connection with the statements this service runs on it, prepared
//! once: the batch insert (the writer) and the read in id order (both).

use std::sync::Arc;

use postgres::{Client, Statement};

use super::connection::Settings;
use super::rows::{self, ReadError, PAGE};
use crate::entity::Entity;

/// A batch's insert. The counter row's update gives the batch its ids and
/// holds the row's lock until the transaction ends, so batches commit in id
/// order and a failed one gives its ids back: the ids are gap-free and
/// every committed id below the last is committed too. The notification
/// goes out at commit, carrying the batch's last id.
const INSERT_BATCH: &str = "
    WITH counter AS (
        UPDATE entity_counter SET last_id = last_id + $3 RETURNING last_id
    ), stored AS (
        INSERT INTO entities (id, name, description)
        SELECT counter.last_id - $3 + item.ord, item.name, item.description
        FROM counter, unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY
            AS item(name, description, ord)
    )
    SELECT last_id, pg_notify('entity_created', last_id::text) IS NULL FROM counter";

/// Entities after an id and before another, in id order, a page at a time.
const READ_RANGE: &str = "
    SELECT id, name, description FROM entities
    WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3";

/// A connection and its prepared statements.
pub struct Session {
    pub client: Client,
    insert: Statement,
    read: Statement,
}

impl Session {
    /// Connects and prepares; the schema must exist.
    pub fn open(settings: &Settings) -> Result<Self, postgres::Error> {
        Self::prepare(settings.connect()?)
    }

    /// Prepares the statements on a connection.
    pub fn prepare(mut client: Client) -> Result<Self, postgres::Error> {
        let insert = client.prepare(INSERT_BATCH)?;
        let read = client.prepare(READ_RANGE)?;
        Ok(Self {
            client,
            insert,
            read,
        })
    }

    /// Inserts a batch in one transaction; its last id once committed.
    pub fn insert(&mut self, names: &[&[u8]], descriptions: &[&[u8]]) -> Result<i64, Failure> {
        let count = names.len() as i64;
        let mut transaction = self.client.transaction().map_err(Failure::NotStored)?;
        let row = transaction
            .query_one(&self.insert, &[&names, &descriptions, &count])
            .map_err(Failure::NotStored)?;
        let last_id: i64 = row.get(0);
        transaction.commit().map_err(|error| {
            // The server answered the COMMIT with an error (a deferred
            // constraint, say): it rolled back. No answer at all: unknown.
            if error.as_db_error().is_some() {
                Failure::NotStored(error)
            } else {
                Failure::Unknown(error)
            }
        })?;
        Ok(last_id)
    }

    /// Up to [`PAGE`] entities with `after < id < before`, in id order.
    pub fn read(&mut self, after: i64, before: i64) -> Result<Vec<Arc<Entity>>, ReadError> {
        let found = self.client.query(&self.read, &[&after, &before, &PAGE])?;
        rows::entities(found)
    }

    /// Whether the connection is known to be broken.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// How a batch's transaction failed.
#[derive(Debug)]
pub enum Failure {
    /// Nothing of the batch is stored: a statement failed, or the server
    /// refused the COMMIT.
    NotStored(postgres::Error),
    /// The connection broke during COMMIT: the batch is stored whole or not
    /// at all, unknown which.
    Unknown(postgres::Error),
}
