//! Request parameters as HTTP clients send them: the query string decoded
//! the way browsers, curl and every HTTP library encode it
//! (`application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte), and
//! path parameters percent-decoded (RFC 3986: `%31` is `1`). Decoding is
//! strict where the encoders' lenient decoders guess: a `%` without two hex
//! digits, bytes that are not UTF-8, and a parameter given twice are errors.
//! Integer parameters have one grammar, written once: [`integer`].

use std::borrow::Cow;

/// Why a query or a path parameter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("invalid percent escape in {0:?}: `%` must be followed by two hex digits")]
    BadEscape(String),
    #[error("{0:?} does not decode to UTF-8")]
    NotUtf8(String),
    #[error("query parameter {0} is given more than once")]
    Repeated(String),
}

/// The decoded `name=value` pairs of a query string, in order. A pair
/// without `=` has an empty value; empty pairs (`a=1&&b=2`) are skipped.
/// A name given twice is an error, so no request means two things.
pub fn pairs(query: &str) -> Result<Vec<(String, String)>, ParameterError> {
    let mut decoded: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name, true)?.into_owned();
        let value = decode(value, true)?.into_owned();
        if decoded.iter().any(|(seen, _)| *seen == name) {
            return Err(ParameterError::Repeated(name));
        }
        decoded.push((name, value));
    }
    Ok(decoded)
}

/// A path segment with its percent escapes decoded (`+` stays a `+`).
pub fn path_segment(segment: &str) -> Result<Cow<'_, str>, ParameterError> {
    decode(segment, false)
}

/// An integer parameter: an optional `-` and decimal digits, without
/// leading zeros or a `+`, within `i64`: the form every client writes an
/// integer in, so no two spellings name the same value.
pub fn integer(value: &str) -> Option<i64> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let canonical = match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    canonical.then(|| value.parse().ok()).flatten()
}

/// Percent-decodes `raw`; with `plus_is_space`, a `+` is a space too.
fn decode(raw: &str, plus_is_space: bool) -> Result<Cow<'_, str>, ParameterError> {
    let escaped = raw.contains('%') || (plus_is_space && raw.contains('+'));
    if !escaped {
        return Ok(Cow::Borrowed(raw));
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        match byte {
            b'%' => {
                let escape = rest
                    .get(..2)
                    .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                let Some(decoded) = escape else {
                    return Err(ParameterError::BadEscape(raw.to_string()));
                };
                bytes.push(decoded);
                rest = &rest[2..];
            }
            b'+' if plus_is_space => bytes.push(b' '),
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| ParameterError::NotUtf8(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn queries_decode_escapes_and_plus_in_names_and_values() {
        let cases: [(&str, &[(&str, &str)]); 6] = [
            ("", &[]),
            ("start_id=%31&limit=2", &[("start_id", "1"), ("limit", "2")]),
            ("start%5Fid=7", &[("start_id", "7")]),
            ("a=x+y&&b", &[("a", "x y"), ("b", "")]),
            ("a=%2B1", &[("a", "+1")]),
            ("a=caf%C3%A9%20%e2%98%95", &[("a", "café ☕")]),
        ];
        for (query, expected) in cases {
            assert_eq!(pairs(query), Ok(owned(expected)), "{query}");
        }
    }

    #[test]
    fn bad_escapes_invalid_utf8_and_repeated_names_are_errors() {
        for query in ["a=%", "a=%3", "a=%zz", "a=%+1", "a=%-1", "%g0=1"] {
            assert!(
                matches!(pairs(query), Err(ParameterError::BadEscape(_))),
                "{query}"
            );
        }
        assert!(matches!(pairs("a=%ff"), Err(ParameterError::NotUtf8(_))));
        assert_eq!(
            pairs("limit=1&limit=2"),
            Err(ParameterError::Repeated("limit".into()))
        );
        assert_eq!(
            pairs("limit=1&li%6Dit=2"),
            Err(ParameterError::Repeated("limit".into()))
        );
    }

    #[test]
    fn path_segments_keep_plus() {
        assert_eq!(path_segment("%31").as_deref(), Ok("1"));
        assert_eq!(path_segment("+1").as_deref(), Ok("+1"));
        assert!(path_segment("%3").is_err());
    }

    #[test]
    fn integers_have_one_spelling() {
        for (value, expected) in [
            ("0", Some(0)),
            ("1", Some(1)),
            ("-5", Some(-5)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("01", None),
            ("-01", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("-", None),
            ("1.0", None),
            ("1e3", None),
            ("0x1", None),
        ] {
            assert_eq!(integer(value), expected, "{value:?}");
        }
    }
}
