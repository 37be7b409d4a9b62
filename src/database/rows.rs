//! Entities read back from the table's rows.

use std::sync::Arc;

use postgres::Row;

use crate::entity::Entity;

/// Rows read per query.
pub const PAGE: i64 = 1000;

/// Why rows could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}", super::stats::reason(.0))]
    Database(#[from] postgres::Error),
    #[error("entity {id}'s {field} is not UTF-8; the table was written by something else")]
    NotUtf8 { id: i64, field: &'static str },
}

/// The entities of rows `(id, name, description)`, the strings as UTF-8 bytes.
pub fn entities(rows: Vec<Row>) -> Result<Vec<Arc<Entity>>, ReadError> {
    rows.into_iter()
        .map(|row| {
            let id: i64 = row.get(0);
            let text = |column: usize, field: &'static str| {
                String::from_utf8(row.get(column)).map_err(|_| ReadError::NotUtf8 { id, field })
            };
            Ok(Arc::new(Entity {
                id,
                name: text(1, "name")?,
                description: text(2, "description")?,
            }))
        })
        .collect()
}
