//! The one place where a create request is checked, for REST and gRPC alike.

/// Longest accepted `name`, in characters (Unicode scalar values), as JSON
/// Schema's `maxLength` counts.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest accepted `description`, in characters (Unicode scalar values).
pub const MAX_DESCRIPTION_CHARS: usize = 4096;

/// The characters a blank name consists of: exactly those of Unicode's
/// White_Space property, which `str::trim` removes (checked against
/// `char::is_whitespace` in the tests below).
pub const WHITESPACE: [(char, char); 10] = [
    ('\u{9}', '\u{d}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// The blank check as a regular expression (ECMA-262 and Python alike): a
/// name must contain a character outside [`WHITESPACE`]. For the `pattern`
/// of the name in the OpenAPI document.
pub fn name_pattern() -> String {
    let ranges: String = WHITESPACE
        .iter()
        .map(|&(first, last)| {
            if first == last {
                format!("\\u{:04x}", u32::from(first))
            } else {
                format!("\\u{:04x}-\\u{:04x}", u32::from(first), u32::from(last))
            }
        })
        .collect();
    format!("[^{ranges}]")
}

/// What is wrong with a create request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("name must not be empty")]
    EmptyName,
    #[error("name is {0} characters long; at most {MAX_NAME_CHARS} allowed")]
    NameTooLong(usize),
    #[error("description is {0} characters long; at most {MAX_DESCRIPTION_CHARS} allowed")]
    DescriptionTooLong(usize),
}

/// A create request that passed validation; only this type can be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntity {
    name: String,
    description: String,
}

impl NewEntity {
    /// Checks `name` (not blank, at most 256 characters) and `description`
    /// (at most 4096 characters). Values are kept as given.
    pub fn validate(name: String, description: String) -> Result<Self, ValidationError> {
        if name.trim().is_empty() {
            return Err(ValidationError::EmptyName);
        }
        if let Some(chars) = chars_beyond(&name, MAX_NAME_CHARS) {
            return Err(ValidationError::NameTooLong(chars));
        }
        if let Some(chars) = chars_beyond(&description, MAX_DESCRIPTION_CHARS) {
            return Err(ValidationError::DescriptionTooLong(chars));
        }
        Ok(Self { name, description })
    }

    /// The validated name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The validated description.
    pub fn description(&self) -> &str {
        &self.description
    }

    pub(crate) fn into_parts(self) -> (String, String) {
        (self.name, self.description)
    }
}

/// The number of characters in `value` when it has more than `limit`.
/// Counts only when the byte length allows it (a character is at least one byte).
fn chars_beyond(value: &str, limit: usize) -> Option<usize> {
    if value.len() <= limit {
        return None;
    }
    let chars = value.chars().count();
    (chars > limit).then_some(chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_blank_and_oversized_values() {
        assert_eq!(
            NewEntity::validate(" \t\n".into(), String::new()),
            Err(ValidationError::EmptyName)
        );
        assert_eq!(
            NewEntity::validate("x".repeat(257), String::new()),
            Err(ValidationError::NameTooLong(257))
        );
        assert_eq!(
            NewEntity::validate("x".into(), "d".repeat(4097)),
            Err(ValidationError::DescriptionTooLong(4097))
        );
    }

    #[test]
    fn keeps_values_as_given_at_the_limits() {
        let new = NewEntity::validate(" a ".repeat(85) + "b", "d".repeat(4096)).unwrap();
        assert_eq!(new.name().len(), 256);
        assert!(new.name().starts_with(' '));
    }

    #[test]
    fn whitespace_table_is_what_trim_removes() {
        let in_table = |c: char| WHITESPACE.iter().any(|&(a, b)| (a..=b).contains(&c));
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(in_table(c), c.is_whitespace(), "U+{:04X}", u32::from(c));
        }
        assert_eq!(
            name_pattern(),
            "[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000]"
        );
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let wide = NewEntity::validate("é".repeat(256), "ж".repeat(4096)).unwrap();
        assert_eq!(wide.name().chars().count(), 256);
        assert_eq!(
            NewEntity::validate("🦀".repeat(257), String::new()),
            Err(ValidationError::NameTooLong(257))
        );
        assert_eq!(
            NewEntity::validate("x".into(), "ж".repeat(4097)),
            Err(ValidationError::DescriptionTooLong(4097))
        );
    }
}
