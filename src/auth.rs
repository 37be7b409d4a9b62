//! Bearer-token authentication, shared by the gRPC service and the REST
//! gateway, and what the gateway passes on to its gRPC upstream.

use std::borrow::Cow;

/// The configured token, if any; checks `Authorization: Bearer <token>` values.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself.
        f.debug_struct("Auth")
            .field("enabled", &self.token.is_some())
            .finish()
    }
}

impl Auth {
    /// No token configured: every request is allowed. An empty token counts as none.
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// Whether an `authorization` header value grants access. Compares in constant
    /// time for a given length, so timing does not reveal how much of a guess matched.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let Some(value) = authorization else {
            return false;
        };
        let Some(presented) = strip_bearer(value) else {
            return false;
        };
        constant_time_eq(presented, token.as_bytes())
    }
}

/// What the REST gateway passes on to its gRPC upstream of the caller's
/// `Authorization` value: what the upstream's check reads, the bearer
/// credentials, as `Bearer <credentials>`, when gRPC metadata can carry them
/// (printable ASCII); nothing otherwise. Nothing is lost: the gateway has
/// checked the value against its own token, if it has one, and a value of
/// another scheme, or with credentials metadata cannot carry, matches no
/// token the upstream can check. A value already in that form (the usual
/// case) is passed on as it is.
pub fn forwarded(authorization: Option<&str>) -> Option<Cow<'_, str>> {
    let value = authorization?;
    let credentials = strip_bearer(value.as_bytes())?;
    if !credentials.iter().all(|byte| (b' '..=b'~').contains(byte)) {
        return None;
    }
    let credentials = std::str::from_utf8(credentials).ok()?;
    if value.len() == BEARER.len() + credentials.len() && value.starts_with(BEARER) {
        Some(Cow::Borrowed(value))
    } else {
        Some(Cow::Owned(format!("{BEARER}{credentials}")))
    }
}

/// The scheme of a bearer token's `Authorization` value, as sent.
const BEARER: &str = "Bearer ";

/// The credentials of a `Bearer <credentials>` value (scheme case-insensitive).
fn strip_bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(BEARER.len())?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_bearer_tokens() {
        let auth = Auth::new(Some("s3cret".into()));
        assert!(auth.allows(Some(b"Bearer s3cret")));
        assert!(auth.allows(Some(b"bearer s3cret")));
        assert!(!auth.allows(Some(b"Bearer s3cre")));
        assert!(!auth.allows(Some(b"Basic s3cret")));
        assert!(!auth.allows(None));
        assert!(Auth::new(None).allows(None));
        assert!(Auth::new(Some(String::new())).allows(None));
    }

    #[test]
    fn forwards_bearer_credentials_that_metadata_can_carry() {
        let cases = [
            (None, None),
            (Some("Bearer s3cret"), Some("Bearer s3cret")),
            (Some("bearer  s3cret\t"), Some("Bearer s3cret")),
            (Some("Bearer \ts3 cret"), Some("Bearer s3 cret")),
            (Some("Basic a\u{1}b"), None),
            (Some("Basic YTpi"), None),
            (Some("Bearer s3cret\u{7f}"), None),
            (Some("Bearer sécret"), None),
            (Some("Bearer"), None),
        ];
        for (value, expected) in cases {
            assert_eq!(forwarded(value).as_deref(), expected, "{value:?}");
        }
        let usual = "Bearer s3cret";
        assert!(matches!(forwarded(Some(usual)), Some(Cow::Borrowed(_))));
    }
}
