//! The journal's record format, written once: how an entity becomes bytes on
//! disk and how bytes become an entity again.
//!
//! A record is `[u32 LE payload length][u32 LE CRC-32C of the payload][payload]`
//! and its payload is `[i64 LE id][u32 LE name length][name][u32 LE description
//! length][description]`, both strings UTF-8. An entity therefore costs
//! [`RECORD_OVERHEAD`] (24) bytes plus the bytes of its name and description.
//! The length comes first so a reader knows where the next record starts; the
//! checksum covers the payload so a torn or damaged record is never taken for
//! a good one. In the file, records are grouped in batches behind a frame
//! ([`super::frame`]); a format-1 file holds records alone.

use crate::validation::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};

/// Bytes of a record's frame: payload length and checksum.
pub const HEADER_LEN: usize = 8;
/// Bytes of a payload without its two strings: id and the two lengths.
const FIXED_PAYLOAD: usize = 8 + 4 + 4;
/// Bytes a record adds to its name and description.
pub const RECORD_OVERHEAD: usize = HEADER_LEN + FIXED_PAYLOAD;
/// The largest payload a valid entity can have (4 bytes per UTF-8 character
/// at most): anything longer is not a record, whatever its checksum.
pub const MAX_PAYLOAD: usize = FIXED_PAYLOAD + 4 * (MAX_NAME_CHARS + MAX_DESCRIPTION_CHARS);

/// A record read back from the journal.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Bytes the record takes in the file, frame included.
    pub size: usize,
}

/// What the bytes at some offset of the journal hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole record with a good checksum.
    Record(Record),
    /// The start of a record whose end lies beyond the bytes given.
    Incomplete,
    /// Not a record: the reason.
    Bad(&'static str),
}

/// Appends the record of one entity to `out`.
pub fn encode(id: i64, name: &str, description: &str, out: &mut Vec<u8>) {
    let payload_len = FIXED_PAYLOAD + name.len() + description.len();
    let start = out.len();
    out.reserve(HEADER_LEN + payload_len);
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]); // the checksum, once the payload is in
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&(description.len() as u32).to_le_bytes());
    out.extend_from_slice(description.as_bytes());
    let crc = crc32c::crc32c(&out[start + HEADER_LEN..]);
    out[start + 4..start + HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// Reads the record at the start of `bytes`.
pub fn decode(bytes: &[u8]) -> Decoded {
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Decoded::Incomplete;
    };
    let payload_len = u32_at(header, 0) as usize;
    if !(FIXED_PAYLOAD..=MAX_PAYLOAD).contains(&payload_len) {
        return Decoded::Bad("impossible record length");
    }
    let Some(payload) = bytes.get(HEADER_LEN..HEADER_LEN + payload_len) else {
        return Decoded::Incomplete;
    };
    if crc32c::crc32c(payload) != u32_at(header, 4) {
        return Decoded::Bad("checksum mismatch");
    }
    match parse_payload(payload) {
        Some((id, name, description)) => Decoded::Record(Record {
            id,
            name,
            description,
            size: HEADER_LEN + payload_len,
        }),
        None => Decoded::Bad("malformed payload"),
    }
}

/// The id, name and description of a payload whose checksum matched.
fn parse_payload(payload: &[u8]) -> Option<(i64, String, String)> {
    let id = i64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let (name, rest) = string_at(&payload[8..])?;
    let (description, rest) = string_at(rest)?;
    rest.is_empty().then_some((id, name, description))
}

/// A length-prefixed UTF-8 string and the bytes after it.
fn string_at(bytes: &[u8]) -> Option<(String, &[u8])> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let text = bytes.get(4..4usize.checked_add(len)?)?;
    let text = String::from_utf8(text.to_vec()).ok()?;
    Some((text, &bytes[4 + len..]))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(id: i64, name: &str, description: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(id, name, description, &mut out);
        out
    }

    #[test]
    fn round_trips_and_costs_the_documented_overhead() {
        let bytes = encoded(7, "Ada", "wrote the first program ✓");
        assert_eq!(
            bytes.len(),
            RECORD_OVERHEAD + "Ada".len() + "wrote the first program ✓".len()
        );
        assert_eq!(
            decode(&bytes),
            Decoded::Record(Record {
                id: 7,
                name: "Ada".into(),
                description: "wrote the first program ✓".into(),
                size: bytes.len(),
            })
        );
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        let bytes = encoded(1, "name", "description");
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Decoded::Incomplete, "cut at {cut}");
        }
    }

    #[test]
    fn any_flipped_payload_bit_is_caught() {
        let bytes = encoded(1, "name", "description");
        for at in HEADER_LEN..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                assert_eq!(decode(&damaged), Decoded::Bad("checksum mismatch"));
            }
        }
    }

    #[test]
    fn zeros_and_huge_lengths_are_not_records() {
        assert_eq!(decode(&[0; 64]), Decoded::Bad("impossible record length"));
        let mut huge = encoded(1, "n", "");
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge), Decoded::Bad("impossible record length"));
    }

    #[test]
    fn the_largest_valid_entity_fits() {
        let name = "🦀".repeat(MAX_NAME_CHARS);
        let description = "🦀".repeat(MAX_DESCRIPTION_CHARS);
        let bytes = encoded(1, &name, &description);
        assert!(matches!(decode(&bytes), Decoded::Record(_)));
    }
}
