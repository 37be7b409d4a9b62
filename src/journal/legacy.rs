//! Replaying a format-1 journal: records alone, written before batches had
//! frames. Such a file is read once at start-up and then rewritten in the
//! current format (see [`super::rewrite`]).
//!
//! Without frames the unit of recovery is the record: a bad or partial
//! record with nothing good after it is a torn tail, cut off with a warning;
//! a bad record with a good one anywhere after it is corruption, and the
//! service refuses to start rather than drop the good record. Zeros after
//! the last good record are space the writer filled ahead, not damage.

use std::io::Read;

use super::format::{decode, Decoded};
use super::outcome::{into_entity, unexpected_id, Corruption, ReplayError, Replayed};
use super::window::{scan, Probe, Window};

/// Reads every record of a format-1 journal from the window's offset on.
pub fn replay(mut window: Window<impl Read>) -> Result<Replayed, ReplayError> {
    let mut entities = Vec::new();
    let damage = loop {
        match decode(window.bytes()) {
            Decoded::Record(record) => {
                let expected = entities.len() as i64 + 1;
                if record.id != expected {
                    // A good checksum on a wrong id is no crash's doing.
                    return Err(unexpected_id(window.offset, record.id, expected).into());
                }
                window.advance(record.size);
                entities.push(into_entity(record));
            }
            Decoded::Incomplete if window.fill()? => {}
            Decoded::Incomplete if window.bytes().is_empty() => break None,
            Decoded::Incomplete => break Some("partial record"),
            Decoded::Bad(reason) => break Some(reason),
        }
    };
    let records_end = window.offset;
    let mut torn_bytes = 0;
    if let Some(reason) = damage {
        let found = scan(&mut window, records_end + 1, |bytes| match decode(bytes) {
            Decoded::Record(_) => Probe::Whole,
            Decoded::Incomplete => Probe::NeedMore,
            Decoded::Bad(_) => Probe::Nothing,
        })?;
        if let Some(at) = found.whole_at {
            return Err(Corruption {
                offset: records_end,
                reason: format!("{reason}, and a good record follows at byte offset {at}"),
            }
            .into());
        }
        torn_bytes = found.damage_end - records_end;
    }
    Ok(Replayed {
        version: 1,
        entities,
        records_end,
        torn_bytes,
    })
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

    fn replay_bytes(bytes: &[u8]) -> Result<Replayed, ReplayError> {
        replay(Window::new(bytes))
    }

    #[test]
    fn replays_every_record_in_order() {
        let bytes = journal(1000);
        let replayed = replay_bytes(&bytes).unwrap();
        assert_eq!(replayed.entities.len(), 1000);
        assert_eq!(replayed.entities[999].name, "entity 1000");
        assert_eq!(replayed.records_end, bytes.len() as u64);
        assert_eq!(replayed.torn_bytes, 0);
    }

    #[test]
    fn reads_records_across_chunk_boundaries() {
        let mut bytes = Vec::new();
        let description = "x".repeat(4000);
        for id in 1..=600 {
            encode(id, "n", &description, &mut bytes);
        }
        assert!(bytes.len() > 2 << 20);
        assert_eq!(replay_bytes(&bytes).unwrap().entities.len(), 600);
    }

    #[test]
    fn a_partial_last_record_is_a_torn_tail() {
        let bytes = journal(3);
        let whole = journal(2).len();
        for cut in whole + 1..bytes.len() {
            let replayed = replay_bytes(&bytes[..cut]).unwrap();
            assert_eq!(replayed.entities.len(), 2, "cut at {cut}");
            assert_eq!(replayed.records_end, whole as u64);
            // Up to the last non-zero byte: zeros alone are no damage.
            let written = &bytes[whole..cut];
            let damaged = written.iter().rposition(|&b| b != 0).map_or(0, |at| at + 1);
            assert_eq!(replayed.torn_bytes, damaged as u64, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_then_zeros_after_the_last_record_is_a_torn_tail() {
        let mut bytes = journal(5);
        let good = bytes.len();
        bytes.extend_from_slice(&[0xAB; 1000]);
        bytes.resize(bytes.len() + (1 << 20) + 100, 0);
        let replayed = replay_bytes(&bytes).unwrap();
        assert_eq!(replayed.entities.len(), 5);
        assert_eq!(
            (replayed.records_end, replayed.torn_bytes),
            (good as u64, 1000)
        );
    }

    #[test]
    fn zeros_before_a_good_record_are_corruption() {
        let mut bytes = journal(1);
        let first = bytes.len();
        bytes.extend_from_slice(&[0; 64]);
        encode(2, "after the hole", "", &mut bytes);
        let error = replay_bytes(&bytes).unwrap_err();
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
        match replay_bytes(&bytes) {
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
        let error = replay_bytes(&bytes).unwrap_err();
        assert!(
            matches!(&error, ReplayError::Corrupt(c) if c.offset == journal(2).len() as u64),
            "{error:?}"
        );
    }

    #[test]
    fn an_empty_journal_holds_nothing() {
        let replayed = replay_bytes(&[]).unwrap();
        assert!(replayed.entities.is_empty());
        assert_eq!((replayed.records_end, replayed.torn_bytes), (0, 0));
    }
}
