//! What reading a journal back finds: its entities and where they end, or
//! why the service must not start on it.

use std::io;
use std::sync::Arc;

use super::format::Record;
use crate::entity::Entity;

/// What a journal holds.
#[derive(Debug)]
pub struct Replayed {
    /// The format the file is in (1: records alone; 2: framed batches).
    pub version: u32,
    /// The entities of the good records, ids 1, 2, 3, … in order.
    pub entities: Vec<Arc<Entity>>,
    /// Where the good records end: the offset of the first byte not kept.
    pub records_end: u64,
    /// Bytes after `records_end` up to the last non-zero one (the torn last
    /// write), to be cut off; 0 when only zeros follow the good records.
    pub torn_bytes: u64,
}

/// Damage no crash can leave: a bad record or batch with a whole one after
/// it, or a good checksum on an id out of order.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("damage at byte offset {offset}: {reason}")]
pub struct Corruption {
    /// Where the damaged record (or batch frame) starts.
    pub offset: u64,
    /// What is wrong, and where the whole record or batch after it starts.
    pub reason: String,
}

/// Why a journal could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    #[error("it is in format {0}, newer than this build reads")]
    NewerFormat(u32),
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// The entity of a good record.
pub fn into_entity(record: Record) -> Arc<Entity> {
    Arc::new(Entity {
        id: record.id,
        name: record.name,
        description: record.description,
    })
}

/// The corruption of a good record whose id is not the one due.
pub fn unexpected_id(offset: u64, found: i64, expected: i64) -> Corruption {
    Corruption {
        offset,
        reason: format!(
            "its checksum is good but it holds entity {found} where {expected} was due"
        ),
    }
}
