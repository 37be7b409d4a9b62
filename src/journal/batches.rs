//! Replaying a format-2 journal: framed batches after the file header, and
//! the batch as the unit of recovery.
//!
//! A batch is written with one write and acknowledged only once synced, and
//! the next batch is written only after that. So a crash can leave damage in
//! the last batch alone, and nothing of it was acknowledged: a batch that
//! does not check out (its frame, or any record in it, even with whole
//! records after the damaged one) with no whole batch anywhere after it is
//! the torn last batch, dropped entire. A damaged batch with a whole batch
//! after it is corruption: the service refuses to start, naming the offset.
//! Zeros after the last batch are space the writer filled ahead, not damage.

use std::io::Read;
use std::sync::Arc;

use super::frame::{decode_frame, decode_records, FrameDecoded, BATCH_HEADER_LEN};
use super::outcome::{into_entity, unexpected_id, Corruption, ReplayError, Replayed};
use super::window::{scan, Probe, Window};
use crate::entity::Entity;

/// A batch that does not check out.
struct Damage {
    /// Where the damaged record (or the batch's frame) starts.
    offset: u64,
    reason: &'static str,
    /// Where a whole batch after it may start: its end when its frame is
    /// good (what lies inside is its own records), else the next byte.
    scan_from: u64,
}

impl Damage {
    /// A batch whose frame does not check out.
    fn frame(batch: u64, reason: &'static str) -> Self {
        Self {
            offset: batch,
            reason,
            scan_from: batch + 1,
        }
    }
}

/// Reads every batch of a format-2 journal from the window's offset on
/// (just after the file header).
pub fn replay(mut window: Window<impl Read>) -> Result<Replayed, ReplayError> {
    let mut entities = Vec::new();
    loop {
        let batch = window.offset;
        let frame = match decode_frame(window.bytes()) {
            FrameDecoded::Frame(frame) => frame,
            FrameDecoded::Incomplete if window.fill()? => continue,
            FrameDecoded::Incomplete if window.bytes().is_empty() => {
                return Ok(replayed(entities, batch, 0));
            }
            FrameDecoded::Incomplete => {
                let damage = Damage::frame(batch, "batch frame cut short");
                return torn_or_corrupt(window, entities, damage);
            }
            FrameDecoded::Bad(reason) => {
                return torn_or_corrupt(window, entities, Damage::frame(batch, reason));
            }
        };
        let end = batch + frame.size() as u64;
        if !window.fill_to(frame.size())? {
            let damage = Damage {
                offset: batch,
                reason: "batch cut short",
                scan_from: end,
            };
            return torn_or_corrupt(window, entities, damage);
        }
        match decode_records(&frame, &window.bytes()[BATCH_HEADER_LEN..]) {
            Ok(records) => {
                let mut offset = batch + BATCH_HEADER_LEN as u64;
                for record in records {
                    let expected = entities.len() as i64 + 1;
                    if record.id != expected {
                        // A good checksum on a wrong id is no crash's doing.
                        return Err(unexpected_id(offset, record.id, expected).into());
                    }
                    offset += record.size as u64;
                    entities.push(into_entity(record));
                }
                window.advance(frame.size());
            }
            Err(bad) => {
                let damage = Damage {
                    offset: batch + (BATCH_HEADER_LEN + bad.at) as u64,
                    reason: bad.reason,
                    scan_from: end,
                };
                return torn_or_corrupt(window, entities, damage);
            }
        }
    }
}

/// The batch at the window's offset does not check out: the torn last batch,
/// dropped, unless a whole batch follows it.
fn torn_or_corrupt(
    mut window: Window<impl Read>,
    entities: Vec<Arc<Entity>>,
    damage: Damage,
) -> Result<Replayed, ReplayError> {
    let batch = window.offset;
    let found = scan(&mut window, damage.scan_from, whole_batch)?;
    if let Some(at) = found.whole_at {
        return Err(Corruption {
            offset: damage.offset,
            reason: format!(
                "{} in the batch at byte offset {batch}, and a whole batch follows at byte \
                 offset {at}",
                damage.reason
            ),
        }
        .into());
    }
    Ok(replayed(entities, batch, found.damage_end - batch))
}

/// Whether `bytes` start with a batch that checks out.
fn whole_batch(bytes: &[u8]) -> Probe {
    match decode_frame(bytes) {
        FrameDecoded::Frame(frame) => match bytes.get(BATCH_HEADER_LEN..frame.size()) {
            None => Probe::NeedMore,
            Some(records) if decode_records(&frame, records).is_ok() => Probe::Whole,
            Some(_) => Probe::Nothing,
        },
        FrameDecoded::Incomplete => Probe::NeedMore,
        FrameDecoded::Bad(_) => Probe::Nothing,
    }
}

fn replayed(entities: Vec<Arc<Entity>>, records_end: u64, torn_bytes: u64) -> Replayed {
    Replayed {
        version: 2,
        entities,
        records_end,
        torn_bytes,
    }
}
