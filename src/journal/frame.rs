//! The journal's framing around its records (format 2): a file header that
//! names the format, and a frame in front of each batch, so that replay can
//! tell a whole batch from one that a crash cut short.
//!
//! - File header, [`FILE_HEADER_LEN`] (16) bytes: `["entities"][u32 LE format
//!   version][u32 LE CRC-32C of the 12 bytes before]`.
//! - Batch frame, [`BATCH_HEADER_LEN`] (16) bytes: `["batc"][u32 LE record
//!   count][u32 LE byte length of the records][u32 LE CRC-32C of the 12 bytes
//!   before]`, then the records ([`super::format`]).
//!
//! A batch is written with one write and is whole when its frame and every
//! record in it check out. A file without the header is format 1: records
//! alone. The header's first four bytes, read as a format-1 record length,
//! are far above any record's, so a format-1 reader never takes a header for
//! a record, and no format-1 file starts with the header.

use super::format::{decode, Decoded, Record, HEADER_LEN, MAX_PAYLOAD, RECORD_OVERHEAD};

/// The format this build writes.
pub const FORMAT_VERSION: u32 = 2;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 16;
/// Bytes of a batch's frame.
pub const BATCH_HEADER_LEN: usize = 16;
/// The most records one batch holds.
pub const MAX_BATCH: usize = 1024;

const FILE_MAGIC: [u8; 8] = *b"entities";
const BATCH_MAGIC: [u8; 4] = *b"batc";

/// The file header of a journal in format `version`.
pub fn file_header(version: u32) -> [u8; FILE_HEADER_LEN] {
    let mut header = [0; FILE_HEADER_LEN];
    header[..8].copy_from_slice(&FILE_MAGIC);
    header[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32c::crc32c(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// What the start of a journal file says about its format.
#[derive(Debug, PartialEq, Eq)]
pub enum FileHeader {
    /// A header naming this format version.
    Version(u32),
    /// No header: a format-1 journal (or an empty file).
    Absent,
    /// The header's magic with a wrong checksum or cut short.
    Damaged,
}

/// Reads the file header at the start of `bytes` (the file's first bytes).
pub fn read_file_header(bytes: &[u8]) -> FileHeader {
    if !bytes.starts_with(&FILE_MAGIC) {
        return FileHeader::Absent;
    }
    let Some(header) = bytes.get(..FILE_HEADER_LEN) else {
        return FileHeader::Damaged;
    };
    if crc32c::crc32c(&header[..12]) != u32_at(header, 12) {
        return FileHeader::Damaged;
    }
    FileHeader::Version(u32_at(header, 8))
}

/// Opens a batch in `out`: room for its frame, filled by [`finish_batch`]
/// once the records are in. Returns where the batch starts.
pub fn start_batch(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; BATCH_HEADER_LEN]);
    start
}

/// Writes the frame of the batch started at `start` with [`start_batch`],
/// whose `count` records follow it up to the end of `out`.
pub fn finish_batch(out: &mut [u8], start: usize, count: usize) {
    let len = out.len() - start - BATCH_HEADER_LEN;
    let frame = &mut out[start..start + BATCH_HEADER_LEN];
    frame[..4].copy_from_slice(&BATCH_MAGIC);
    frame[4..8].copy_from_slice(&(count as u32).to_le_bytes());
    frame[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    let crc = crc32c::crc32c(&frame[..12]);
    frame[12..].copy_from_slice(&crc.to_le_bytes());
}

/// A batch's frame that checked out.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// Records in the batch.
    pub count: usize,
    /// Bytes of the records after the frame.
    pub len: usize,
}

impl Frame {
    /// Bytes of the whole batch, frame included.
    pub fn size(&self) -> usize {
        BATCH_HEADER_LEN + self.len
    }
}

/// What the bytes at some offset of a format-2 journal hold.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameDecoded {
    Frame(Frame),
    /// The start of a frame whose end lies beyond the bytes given.
    Incomplete,
    /// Not a batch frame: the reason.
    Bad(&'static str),
}

/// Reads the batch frame at the start of `bytes`.
pub fn decode_frame(bytes: &[u8]) -> FrameDecoded {
    let magic = bytes.len().min(BATCH_MAGIC.len());
    if bytes[..magic] != BATCH_MAGIC[..magic] {
        return FrameDecoded::Bad("no batch frame");
    }
    let Some(frame) = bytes.get(..BATCH_HEADER_LEN) else {
        return FrameDecoded::Incomplete;
    };
    if crc32c::crc32c(&frame[..12]) != u32_at(frame, 12) {
        return FrameDecoded::Bad("batch frame checksum mismatch");
    }
    let count = u32_at(frame, 4) as usize;
    let len = u32_at(frame, 8) as usize;
    let fits =
        count.saturating_mul(RECORD_OVERHEAD)..=count.saturating_mul(HEADER_LEN + MAX_PAYLOAD);
    if !(1..=MAX_BATCH).contains(&count) || !fits.contains(&len) {
        return FrameDecoded::Bad("impossible batch size");
    }
    FrameDecoded::Frame(Frame { count, len })
}

/// A damaged record inside a batch: where it starts (counted from the start
/// of the records) and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRecord {
    pub at: usize,
    pub reason: &'static str,
}

/// The records of a batch with frame `frame`, from `records` (the `frame.len`
/// bytes after the frame): all of them, or the first that does not check out.
pub fn decode_records(frame: &Frame, records: &[u8]) -> Result<Vec<Record>, BadRecord> {
    let records = &records[..frame.len.min(records.len())];
    let mut decoded = Vec::with_capacity(frame.count);
    let mut at = 0;
    while at < records.len() {
        let bad = |reason| BadRecord { at, reason };
        match decode(&records[at..]) {
            Decoded::Record(record) => {
                at += record.size;
                decoded.push(record);
            }
            Decoded::Incomplete => return Err(bad("record runs past the end of its batch")),
            Decoded::Bad(reason) => return Err(bad(reason)),
        }
    }
    if decoded.len() != frame.count {
        return Err(BadRecord {
            at: 0,
            reason: "the batch frame's record count does not match its records",
        });
    }
    Ok(decoded)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::super::format::encode;
    use super::*;

    fn batch(ids: std::ops::RangeInclusive<i64>) -> Vec<u8> {
        let mut out = Vec::new();
        let start = start_batch(&mut out);
        let count = ids.clone().count();
        for id in ids {
            encode(id, &format!("entity {id}"), "d", &mut out);
        }
        finish_batch(&mut out, start, count);
        out
    }

    #[test]
    fn a_batch_round_trips() {
        let bytes = batch(1..=3);
        let FrameDecoded::Frame(frame) = decode_frame(&bytes) else {
            panic!("no frame");
        };
        assert_eq!((frame.count, frame.size()), (3, bytes.len()));
        let records = decode_records(&frame, &bytes[BATCH_HEADER_LEN..]).expect("records");
        let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2, 3]);
    }

    #[test]
    fn every_strict_prefix_of_a_frame_is_incomplete() {
        let bytes = batch(1..=1);
        for cut in 0..BATCH_HEADER_LEN {
            assert_eq!(decode_frame(&bytes[..cut]), FrameDecoded::Incomplete);
        }
    }

    #[test]
    fn a_flipped_frame_bit_is_caught() {
        let bytes = batch(1..=2);
        for at in 0..BATCH_HEADER_LEN {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                assert!(
                    matches!(decode_frame(&damaged), FrameDecoded::Bad(_)),
                    "byte {at} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn zeros_and_records_are_not_frames() {
        assert_eq!(decode_frame(&[0; 64]), FrameDecoded::Bad("no batch frame"));
        let mut record = Vec::new();
        encode(1, "n", "d", &mut record);
        assert!(matches!(decode_frame(&record), FrameDecoded::Bad(_)));
    }

    #[test]
    fn a_damaged_record_is_named_by_its_place_in_the_batch() {
        let mut bytes = batch(1..=3);
        let second = RECORD_OVERHEAD + "entity 1d".len();
        bytes[BATCH_HEADER_LEN + second + 12] ^= 1;
        let FrameDecoded::Frame(frame) = decode_frame(&bytes) else {
            panic!("no frame");
        };
        let bad = decode_records(&frame, &bytes[BATCH_HEADER_LEN..]).unwrap_err();
        assert_eq!(
            bad,
            BadRecord {
                at: second,
                reason: "checksum mismatch"
            }
        );
    }

    #[test]
    fn the_file_header_names_its_version_and_a_format_1_file_has_none() {
        let header = file_header(FORMAT_VERSION);
        assert_eq!(read_file_header(&header), FileHeader::Version(2));
        assert_eq!(read_file_header(&file_header(9)), FileHeader::Version(9));
        assert_eq!(read_file_header(&header[..10]), FileHeader::Damaged);
        let mut damaged = header;
        damaged[9] ^= 1;
        assert_eq!(read_file_header(&damaged), FileHeader::Damaged);
        let mut record = Vec::new();
        encode(1, "n", "d", &mut record);
        assert_eq!(read_file_header(&record), FileHeader::Absent);
        assert_eq!(read_file_header(&[]), FileHeader::Absent);
        // Read as a format-1 record, the header has an impossible length.
        assert!(matches!(decode(&header), Decoded::Bad(_)));
    }
}
