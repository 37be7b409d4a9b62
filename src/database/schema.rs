//! The tables, created or migrated at start: idempotent, and safe when
//! several instances start at once (a transaction-scoped advisory lock
//! serialises them), with the schema's version recorded in its own table.
//!
//! - `entities (id bigint primary key, name bytea, description bytea)`: the
//!   strings' exact UTF-8 bytes, since `text` cannot hold U+0000 and every
//!   string the service accepts must come back as it was sent.
//! - `entity_counter (last_id bigint)`, one row: the highest id given out.
//!   A batch's insert updates it in the same statement, so the row's lock
//!   orders commits by id (see [`super::log`]).
//! - `entity_service_schema (version integer)`: which version made them.

use postgres::Client;

/// The schema version this build creates and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key held while the schema is checked or created
/// (the ASCII of "entities" as a number).
const MIGRATION_LOCK: i64 = 0x656e_7469_7469_6573;

/// The channel each committed batch is announced on; the payload is the
/// batch's last id.
pub const CHANNEL: &str = "entity_created";

/// Why the schema cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database holds entity-service schema version {0}, newer than this build's \
         version {SCHEMA_VERSION}; refusing to use it (run a build that knows it)"
    )]
    Newer(i32),
    #[error("cannot create or check the schema: {}", super::stats::reason(.0))]
    Database(#[from] postgres::Error),
}

/// Creates the tables if this database has none yet, or checks that their
/// version is one this build reads.
pub fn migrate(client: &mut Client) -> Result<(), SchemaError> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction.batch_execute(
        "CREATE TABLE IF NOT EXISTS entity_service_schema (version integer NOT NULL)",
    )?;
    let version: Option<i32> = transaction
        .query_one("SELECT max(version) FROM entity_service_schema", &[])?
        .get(0);
    match version {
        Some(version) if version > SCHEMA_VERSION => return Err(SchemaError::Newer(version)),
        Some(_) => {}
        None => {
            transaction.batch_execute(
                "CREATE TABLE entities (
                     id bigint PRIMARY KEY,
                     name bytea NOT NULL,
                     description bytea NOT NULL
                 );
                 CREATE TABLE entity_counter (
                     only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                     last_id bigint NOT NULL
                 );
                 INSERT INTO entity_counter (last_id) VALUES (0);",
            )?;
            transaction.execute(
                "INSERT INTO entity_service_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )?;
            log::info!("database schema version {SCHEMA_VERSION} created");
        }
    }
    transaction.commit()?;
    Ok(())
}
