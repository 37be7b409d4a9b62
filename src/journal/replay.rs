//! Reading the journal back at start-up: the file header says which format
//! the file is in, and the records are read by that format's rules
//! ([`super::batches`] for format 2, [`super::legacy`] for format 1). A file
//! from a newer build is refused, never guessed at.

use std::io::Read;

use super::frame::{read_file_header, FileHeader, FILE_HEADER_LEN, FORMAT_VERSION};
pub use super::outcome::{Corruption, ReplayError, Replayed};
use super::window::Window;
use super::{batches, legacy};

/// Reads every entity of `journal`, whatever format it is in.
pub fn replay(journal: impl Read) -> Result<Replayed, ReplayError> {
    let mut window = Window::new(journal);
    window.fill_to(FILE_HEADER_LEN)?;
    match read_file_header(window.bytes()) {
        FileHeader::Absent => legacy::replay(window),
        FileHeader::Version(FORMAT_VERSION) => {
            window.advance(FILE_HEADER_LEN);
            batches::replay(window)
        }
        FileHeader::Version(newer) if newer > FORMAT_VERSION => {
            Err(ReplayError::NewerFormat(newer))
        }
        FileHeader::Version(_) | FileHeader::Damaged => Err(Corruption {
            offset: 0,
            reason: "the file header does not check out".into(),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::{encode, RECORD_OVERHEAD};
    use super::super::frame::{file_header, finish_batch, start_batch, BATCH_HEADER_LEN};
    use super::*;

    /// A format-2 journal: one batch per count, ids from 1 on; the offset
    /// of each batch.
    fn journal(batches: &[usize]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = file_header(FORMAT_VERSION).to_vec();
        let mut starts = Vec::new();
        let mut id = 1;
        for &count in batches {
            let start = start_batch(&mut bytes);
            starts.push(start);
            for _ in 0..count {
                encode(id, &format!("entity {id}"), "some description", &mut bytes);
                id += 1;
            }
            finish_batch(&mut bytes, start, count);
        }
        (bytes, starts)
    }

    fn record_len(id: i64) -> usize {
        RECORD_OVERHEAD + format!("entity {id}").len() + "some description".len()
    }

    fn names(replayed: &Replayed) -> Vec<i64> {
        replayed.entities.iter().map(|e| e.id).collect()
    }

    #[test]
    fn replays_every_batch_in_order() {
        let (bytes, _) = journal(&[1, 3, 1024, 2]);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(replayed.version, 2);
        assert_eq!(replayed.entities.len(), 1030);
        assert_eq!(replayed.entities[1029].name, "entity 1030");
        assert_eq!(
            (replayed.records_end, replayed.torn_bytes),
            (bytes.len() as u64, 0)
        );
    }

    #[test]
    fn a_damaged_record_inside_the_last_batch_drops_the_whole_batch() {
        let (mut bytes, starts) = journal(&[2, 4]);
        // The second record of the last batch: whole records before and after it.
        let damaged = starts[1] + BATCH_HEADER_LEN + record_len(3) + 10;
        bytes[damaged] ^= 0x20;
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(names(&replayed), [1, 2]);
        assert_eq!(replayed.records_end, starts[1] as u64);
        assert_eq!(replayed.torn_bytes, (bytes.len() - starts[1]) as u64);
    }

    #[test]
    fn every_cut_of_the_last_batch_drops_it_and_counts_its_non_zero_bytes() {
        let (bytes, starts) = journal(&[1, 3]);
        for cut in starts[1] + 1..bytes.len() {
            let mut torn = bytes[..cut].to_vec();
            torn.resize(bytes.len() + 4096, 0);
            let replayed = replay(&torn[..]).unwrap();
            assert_eq!(names(&replayed), [1], "cut at {cut}");
            let written = &bytes[starts[1]..cut];
            let non_zero = written.iter().rposition(|&b| b != 0).map_or(0, |at| at + 1);
            assert_eq!(replayed.torn_bytes, non_zero as u64, "cut at {cut}");
        }
    }

    #[test]
    fn a_lost_stretch_inside_the_last_batch_drops_it() {
        let (mut bytes, starts) = journal(&[1, 5]);
        // A stretch in the middle never reached the disk: zeros.
        let from = starts[1] + BATCH_HEADER_LEN + record_len(2) + 3;
        bytes[from..from + 40].fill(0);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(names(&replayed), [1]);
        assert_eq!(replayed.torn_bytes, (bytes.len() - starts[1]) as u64);
    }

    #[test]
    fn garbage_and_zeros_after_the_last_batch_are_dropped() {
        let (mut bytes, _) = journal(&[2, 2]);
        let good = bytes.len();
        bytes.extend_from_slice(&[0xAB; 300]);
        bytes.resize(good + (1 << 20) + 7, 0);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(names(&replayed), [1, 2, 3, 4]);
        assert_eq!(
            (replayed.records_end, replayed.torn_bytes),
            (good as u64, 300)
        );
    }

    #[test]
    fn zeros_after_the_last_batch_are_no_damage() {
        let (mut bytes, _) = journal(&[3]);
        let good = bytes.len();
        bytes.resize(good + (1 << 20), 0);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!(replayed.entities.len(), 3);
        assert_eq!(
            (replayed.records_end, replayed.torn_bytes),
            (good as u64, 0)
        );
    }

    #[test]
    fn a_damaged_record_with_a_whole_batch_after_it_is_corruption() {
        let (mut bytes, starts) = journal(&[1, 3, 1]);
        let record = starts[1] + BATCH_HEADER_LEN + record_len(2);
        bytes[record + 12] ^= 1;
        let Err(ReplayError::Corrupt(corruption)) = replay(&bytes[..]) else {
            panic!("not refused");
        };
        assert_eq!(corruption.offset, record as u64);
        assert_eq!(
            corruption.reason,
            format!(
                "checksum mismatch in the batch at byte offset {}, and a whole batch follows \
                 at byte offset {}",
                starts[1], starts[2]
            )
        );
    }

    #[test]
    fn a_damaged_frame_with_a_whole_batch_after_it_is_corruption() {
        let (mut bytes, starts) = journal(&[2, 2, 2]);
        bytes[starts[1] + 5] ^= 1;
        let Err(ReplayError::Corrupt(corruption)) = replay(&bytes[..]) else {
            panic!("not refused");
        };
        assert_eq!(corruption.offset, starts[1] as u64);
        assert!(
            corruption
                .reason
                .ends_with(&format!("byte offset {}", starts[2])),
            "{corruption}"
        );
    }

    #[test]
    fn a_whole_batch_with_an_unexpected_id_is_corruption() {
        let (mut bytes, starts) = journal(&[2]);
        let start = start_batch(&mut bytes);
        encode(9, "out of order", "", &mut bytes);
        finish_batch(&mut bytes, start, 1);
        let Err(ReplayError::Corrupt(corruption)) = replay(&bytes[..]) else {
            panic!("not refused");
        };
        assert_eq!(corruption.offset, (start + BATCH_HEADER_LEN) as u64);
        assert!(starts[0] < start);
    }

    #[test]
    fn any_flipped_bit_drops_exactly_the_last_batch_or_is_refused() {
        let (bytes, starts) = journal(&[2, 3, 2]);
        let last = starts[2];
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                match replay(&damaged[..]) {
                    Ok(replayed) => {
                        assert!(
                            at >= last,
                            "byte {at} bit {bit}: damage before the last batch"
                        );
                        assert_eq!(names(&replayed), [1, 2, 3, 4, 5]);
                        assert_eq!(replayed.records_end, last as u64);
                        assert_eq!(replayed.torn_bytes, (bytes.len() - last) as u64);
                    }
                    Err(ReplayError::Corrupt(_)) => {
                        assert!(at < last, "byte {at} bit {bit}: the last batch refused");
                    }
                    Err(error) => panic!("byte {at} bit {bit}: {error}"),
                }
            }
        }
    }

    #[test]
    fn a_header_alone_holds_nothing_and_a_file_without_one_is_format_1() {
        let (bytes, _) = journal(&[]);
        let replayed = replay(&bytes[..]).unwrap();
        assert_eq!((replayed.version, replayed.entities.len()), (2, 0));
        assert_eq!(replayed.records_end, FILE_HEADER_LEN as u64);
        let mut format_1 = Vec::new();
        encode(1, "old", "record", &mut format_1);
        let replayed = replay(&format_1[..]).unwrap();
        assert_eq!((replayed.version, replayed.entities.len()), (1, 1));
        assert_eq!(replay(&[][..]).unwrap().version, 1);
    }

    #[test]
    fn a_newer_format_or_a_damaged_header_is_refused() {
        let newer = file_header(FORMAT_VERSION + 1);
        assert!(matches!(
            replay(&newer[..]),
            Err(ReplayError::NewerFormat(v)) if v == FORMAT_VERSION + 1
        ));
        let mut damaged = file_header(FORMAT_VERSION);
        damaged[13] ^= 1;
        assert!(matches!(
            replay(&damaged[..]),
            Err(ReplayError::Corrupt(c)) if c.offset == 0
        ));
    }
}
