//! Request ids tie a REST request to the gRPC call it makes and to the log
//! lines of both. A client's id is kept only when it is safe to echo into a
//! header and a log line; anything else is replaced by a generated one.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest client-supplied request id kept, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The client's id when it is 1..=128 printable token characters, else a new one.
pub fn accept_or_generate(client_value: Option<&[u8]>) -> String {
    match client_value {
        Some(value) if is_safe(value) => String::from_utf8_lossy(value).into_owned(),
        _ => generate(),
    }
}

/// Whether a value is 1..=128 bytes of RFC 7230 token characters (plus a few
/// harmless separators), so it cannot split a header or a log line.
pub fn is_safe(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_BYTES
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/=@".contains(&b))
}

/// A new random id: 32 lowercase hex digits.
pub fn generate() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        // RandomState is seeded from the OS once per process and varied per instance.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_usize(i);
        *word = hasher.finish();
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for word in words {
        for shift in (0..16).rev() {
            id.push(char::from(DIGITS[(word >> (shift * 4)) as usize & 0xf]));
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_safe_ids_and_replaces_the_rest() {
        assert_eq!(accept_or_generate(Some(b"abc-123")), "abc-123");
        for bad in [&b""[..], b"a b", b"a\r\nX-Evil: 1", b"\xff", &[b'a'; 129]] {
            let id = accept_or_generate(Some(bad));
            assert_eq!(id.len(), 32);
            assert!(is_safe(id.as_bytes()));
        }
        assert_ne!(generate(), generate());
    }

    #[test]
    fn a_new_id_is_32_lowercase_hex_digits_spread_over_all_of_them() {
        let ids: Vec<String> = (0..64).map(|_| generate()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{id}"
            );
        }
        // Every position takes more than one digit across 64 ids.
        for at in 0..32 {
            let first = ids[0].as_bytes()[at];
            assert!(
                ids.iter().any(|id| id.as_bytes()[at] != first),
                "position {at}"
            );
        }
    }
}
