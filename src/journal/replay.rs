//! Reading the journal back at start-up: every good record, in order, and
//! where the good records end.
//!
//! A crash can only ever leave damage behind the last good record: records
//! are appended, and a batch is acknowledged only once it is synced. So a bad
//! or partial record with nothing good after it is a torn tail, cut off with a
//! warning; a bad record with a good one anywhere after it is corruption, and
//! the service refuses to start rather than drop the good record. Zeros after
//! the last good record are space the writer filled ahead of its records
//! (see [`super::writer`]), not damage: only the bytes up to the last
//! non-zero one count as torn.

use std::io::{self, Read};
use std::sync::Arc;

use super::format::{decode, Decoded, Record, MAX_PAYLOAD};
use crate::store::Entity;

/// Bytes read from the file at a time (at least one record of the largest size).
const CHUNK: usize = 1 << 20;

/// What a journal holds.
#[derive(Debug)]
pub struct Replayed {
    /// The entities of the good records, ids 1, 2, 3, … in order.
    pub entities: Vec<Arc<Entity>>,
    /// Where the good records end: the offset of the first byte not kept.
    pub good_len: u64,
    /// Bytes after `good_len` up to the last non-zero one (a torn tail), to
    /// be cut off; 0 when only zeros follow the good records.
    pub torn_bytes: u64,
}

/// Damage no crash can leave: a bad record with a good one after it, or a
/// good checksum on an id out of order.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("damaged record at byte offset {offset}: {reason}")]
pub struct Corruption {
    /// Where the damaged record starts.
    pub offset: u64,
    /// What is wrong, and where the good record after it starts.
    pub reason: String,
}

/// Why a journal could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// Reads every record of `journal`.
pub fn replay(journal: impl Read) -> Result<Replayed, ReplayError> {
    let mut window = Window::new(journal);
    let mut entities: Vec<Arc<Entity>> = Vec::new();
    loop {
        match decode(window.bytes()) {
            Decoded::Record(record) => {
                let expected = entities.len() as i64 + 1;
                if record.id != expected {
                    // A good checksum on a wrong id is no crash's doing.
                    return Err(Corruption {
                        offset: window.offset,
                        reason: format!(
                            "its checksum is good but it holds entity {} where {expected} \
                             was due",
                            record.id
                        ),
                    }
                    .into());
                }
                window.advance(record.size);
                entities.push(Arc::new(into_entity(record)));
            }
            Decoded::Incomplete if window.fill()? => {}
            Decoded::Incomplete if window.bytes().is_empty() => {
                return Ok(Replayed {
                    entities,
                    good_len: window.offset,
                    torn_bytes: 0,
                });
            }
            Decoded::Incomplete => return end_at_bad_record(window, entities, "partial record"),
            Decoded::Bad(reason) => return end_at_bad_record(window, entities, reason),
        }
    }
}

/// The journal has a bad record where `window` stands: a torn tail unless a
/// good record follows somewhere after it.
fn end_at_bad_record(
    mut window: Window<impl Read>,
    entities: Vec<Arc<Entity>>,
    reason: &str,
) -> Result<Replayed, ReplayError> {
    let bad = window.offset;
    // Just past the last non-zero byte seen from `bad` on.
    let mut damage_end = bad;
    loop {
        let found = match window.offset {
            at if at == bad => Decoded::Bad(""), // the bad record itself
            _ => decode(window.bytes()),
        };
        match found {
            Decoded::Record(_) => {
                return Err(Corruption {
                    offset: bad,
                    reason: format!(
                        "{reason}, and a good record follows at byte offset {}",
                        window.offset
                    ),
                }
                .into())
            }
            Decoded::Incomplete if window.fill()? => {}
            Decoded::Incomplete if window.bytes().is_empty() => break,
            Decoded::Incomplete | Decoded::Bad(_) => {
                if window.bytes()[0] != 0 {
                    damage_end = window.offset + 1;
                }
                window.advance(1);
            }
        }
    }
    Ok(Replayed {
        entities,
        good_len: bad,
        torn_bytes: damage_end - bad,
    })
}

fn into_entity(record: Record) -> Entity {
    Entity {
        id: record.id,
        name: record.name,
        description: record.description,
    }
}

/// A sliding window over the file: the bytes from `offset` on that have
/// been read so far.
struct Window<R> {
    reader: R,
    buffer: Vec<u8>,
    /// Where the window starts inside `buffer`.
    start: usize,
    /// The file offset of the window's first byte.
    offset: u64,
    /// Whether the whole file has been read.
    at_end: bool,
}

impl<R: Read> Window<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buffer: Vec::with_capacity(CHUNK.max(2 * MAX_PAYLOAD)),
            start: 0,
            offset: 0,
            at_end: false,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    /// Moves the window `n` bytes on (at most to the end of what was read).
    fn advance(&mut self, n: usize) {
        let n = n.min(self.buffer.len() - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Reads more of the file into the window; false at the end of the file.
    fn fill(&mut self) -> io::Result<bool> {
        if self.at_end {
            return Ok(false);
        }
        self.buffer.drain(..self.start);
        self.start = 0;
        let had = self.buffer.len();
        let room = self.buffer.capacity().saturating_sub(had).max(CHUNK);
        let read = (&mut self.reader)
            .take(room as u64)
            .read_to_end(&mut self.buffer)?;
        self.at_end = read == 0;
        Ok(read > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::encode;
    use super::*;

    fn journal(count: i64) -> Vec<u8> {
        let mut bytes = Vec::new();
        for id in 1..=count {
            encode(id, &format!("entity {id}"), "d", &mut bytes);
        }
        bytes
    }

    #[test]
    fn replays_every_record_in_order() {
        let bytes = journal(1000);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(replayed.entities.len(), 1000);
        assert_eq!(replayed.entities[999].name, "entity 1000");
        assert_eq!(replayed.good_len, bytes.len() as u64);
        assert_eq!(replayed.torn_bytes, 0);
    }

    #[test]
    fn reads_records_across_chunk_boundaries() {
        let mut bytes = Vec::new();
        let description = "x".repeat(4000);
        for id in 1..=600 {
            encode(id, "n", &description, &mut bytes);
        }
        assert!(bytes.len() > 2 * CHUNK);
        assert_eq!(replay(&bytes[..]).unwrap().entities.len(), 600);
    }

    #[test]
    fn a_partial_last_record_is_a_torn_tail() {
        let bytes = journal(3);
        let whole = journal(2).len();
        for cut in whole + 1..bytes.len() {
            let replayed = replay(&bytes[..cut]).unwrap();
            assert_eq!(replayed.entities.len(), 2, "cut at {cut}");
            assert_eq!(replayed.good_len, whole as u64);
            // Up to the last non-zero byte: zeros alone are no damage.
            let written = &bytes[whole..cut];
            let damaged = written.iter().rposition(|&b| b != 0).map_or(0, |at| at + 1);
            assert_eq!(replayed.torn_bytes, damaged as u64, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_after_the_last_record_is_a_torn_tail() {
        let mut bytes = journal(5);
        let good = bytes.len();
        bytes.extend_from_slice(&[0xAB; 1000]);
        bytes.extend_from_slice(&[0; 100]);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(replayed.entities.len(), 5);
        assert_eq!(replayed.good_len, good as u64);
        assert_eq!(
            replayed.torn_bytes, 1000,
            "the zeros after the garbage do not count"
        );
    }

    #[test]
    fn zeros_after_the_last_record_are_not_a_torn_tail() {
        let mut bytes = journal(4);
        let good = bytes.len();
        bytes.resize(good + CHUNK + 100, 0);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(replayed.entities.len(), 4);
        assert_eq!((replayed.good_len, replayed.torn_bytes), (good as u64, 0));
    }

    #[test]
    fn a_torn_record_in_the_zeros_counts_up_to_its_last_non_zero_byte() {
        let mut bytes = journal(4);
        let good = bytes.len();
        bytes.extend_from_slice(&journal(5)[good..good + 17]);
        bytes.resize(good + 4096, 0);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(replayed.entities.len(), 4);
        assert_eq!(replayed.good_len, good as u64);
        let torn = &bytes[good..good + 17];
        let last_non_zero = torn.iter().rposition(|&b| b != 0).unwrap() + 1;
        assert_eq!(replayed.torn_bytes, last_non_zero as u64);
    }

    #[test]
    fn zeros_before_a_good_record_are_corruption() {
        let mut bytes = journal(1);
        let first = bytes.len();
        bytes.extend_from_slice(&[0; 64]);
        encode(2, "after the hole", "", &mut bytes);
        let error = replay(&bytes[..]).unwrap_err();
        assert!(
            matches!(&error, ReplayError::Corrupt(c) if c.offset == first as u64
                && c.reason.ends_with(&format!("byte offset {}", first + 64))),
            "{error:?}"
        );
    }

    #[test]
    fn a_bad_record_before_a_good_one_is_corruption() {
        let mut bytes = journal(5);
        let second = journal(1).len();
        bytes[second + 12] ^= 0x01;
        match replay(&bytes[..]) {
            Err(ReplayError::Corrupt(corruption)) => {
                assert_eq!(corruption.offset, second as u64);
                assert_eq!(
                    corruption.reason,
                    format!(
                        "checksum mismatch, and a good record follows at byte offset {}",
                        journal(2).len()
                    )
                );
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn a_record_with_an_unexpected_id_is_corruption() {
        let mut bytes = journal(2);
        encode(7, "out of order", "", &mut bytes);
        let error = replay(&bytes[..]).unwrap_err();
        assert!(
            matches!(&error, ReplayError::Corrupt(c) if c.offset == journal(2).len() as u64),
            "{error:?}"
        );
    }

    #[test]
    fn an_empty_journal_holds_nothing() {
        let replayed = replay(&[][..]).unwrap();
        assert!(replayed.entities.is_empty());
        assert_eq!((replayed.good_len, replayed.torn_bytes), (0, 0));
    }
}
