//! The one place where a create request is checked, for REST and gRPC alike.

/// Longest accepted `name`, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest accepted `description`, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// What is wrong with a create request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("name must not be empty")]
    EmptyName,
    #[error("name is {0} bytes; at most {MAX_NAME_BYTES} allowed")]
    NameTooLong(usize),
    #[error("description is {0} bytes; at most {MAX_DESCRIPTION_BYTES} allowed")]
    DescriptionTooLong(usize),
}

/// A create request that passed validation; only this type can be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntity {
    name: String,
    description: String,
}

impl NewEntity {
    /// Checks `name` (non-empty after trimming, at most 256 bytes) and
    /// `description` (at most 4096 bytes). Values are kept as given.
    pub fn validate(name: String, description: String) -> Result<Self, ValidationError> {
        if name.trim().is_empty() {
            return Err(ValidationError::EmptyName);
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(ValidationError::NameTooLong(name.len()));
        }
        if description.len() > MAX_DESCRIPTION_BYTES {
            return Err(ValidationError::DescriptionTooLong(description.len()));
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
}
