//! What a request's head says about its body, checked before any handler
//! runs (RFC 9112 §6): where tiny_http 0.12 would guess (it reads an
//! unparseable Content-Length as "no body", takes the first of two, and
//! hands over the socket itself as the body of an upgrade), the request is
//! refused and its connection closed, so no byte of a body can ever be read
//! as the next request.

use super::reply::Reply;

/// Bodies up to this length are read by tiny_http before the request is
/// handed over; longer ones (and chunked ones, and any after
/// `Expect: 100-continue`) are read from the socket by whoever reads them.
pub const PREREAD_BODY_BYTES: usize = 1024;

/// How the body of an acceptable request is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body, or one tiny_http has already read in full.
    InHand,
    /// `length` bytes still on the connection, unless read.
    Pending { length: usize },
    /// A chunked body still on the connection, unless read to its end.
    Chunked,
}

impl Body {
    /// Whether bytes of the body may still be on the connection.
    pub fn on_the_wire(self) -> bool {
        self != Body::InHand
    }
}

/// The framing of a request's body, or the answer refusing the request
/// (which then closes its connection).
pub fn check(method: &str, headers: &[tiny_http::Header]) -> Result<Body, Reply> {
    if !is_token(method) {
        return Err(Reply::error(400, "the method is not a valid token"));
    }
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.field.equiv(name))
            .map(|h| h.value.as_str())
    };
    let upgrade = values("Connection").any(|v| has_token(v, "upgrade"));
    if upgrade || values("Upgrade").next().is_some() {
        return Err(Reply::error(400, "protocol upgrades are not supported"));
    }
    let length = content_length(values("Content-Length"))?;
    let chunked = match values("Transfer-Encoding").collect::<Vec<_>>().as_slice() {
        [] => false,
        [only] if only.trim().eq_ignore_ascii_case("chunked") => true,
        _ => {
            return Err(Reply::error(
                400,
                "only Transfer-Encoding: chunked is supported",
            ))
        }
    };
    let expects_continue = values("Expect").next().is_some();
    Ok(match (length, chunked) {
        (Some(_), true) => {
            return Err(Reply::error(
                400,
                "Content-Length and Transfer-Encoding together",
            ))
        }
        (None, true) => Body::Chunked,
        (Some(length), false)
            if length > PREREAD_BODY_BYTES || (expects_continue && length > 0) =>
        {
            Body::Pending { length }
        }
        _ => Body::InHand,
    })
}

/// The one length all Content-Length headers agree on (each only decimal
/// digits, as tiny_http reads the first of them), None without any.
fn content_length<'a>(values: impl Iterator<Item = &'a str>) -> Result<Option<usize>, Reply> {
    let mut agreed = None;
    for value in values {
        let digits = value.trim();
        let parsed = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<usize>().ok())
            .flatten();
        let Some(length) = parsed else {
            return Err(Reply::error(400, "invalid Content-Length"));
        };
        if agreed.is_some_and(|seen| seen != length) {
            return Err(Reply::error(400, "conflicting Content-Length headers"));
        }
        agreed = Some(length);
    }
    Ok(agreed)
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// RFC 9110 `token`: one or more tchar.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<tiny_http::Header> {
        list.iter()
            .map(|(n, v)| tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()).unwrap())
            .collect()
    }

    fn status(method: &str, list: &[(&str, &str)]) -> Result<Body, u16> {
        check(method, &headers(list)).map_err(|reply| reply.status)
    }

    #[test]
    fn lengths_must_be_digits_and_agree() {
        for bad in ["4e", "1x2", "-12", "", "+5", "0x10", "1 2"] {
            assert_eq!(
                status("POST", &[("Content-Length", bad)]),
                Err(400),
                "{bad:?}"
            );
        }
        let twice = [("Content-Length", "2000"), ("Content-Length", "2000")];
        assert_eq!(status("POST", &twice), Ok(Body::Pending { length: 2000 }));
        assert_eq!(status("POST", &[("Content-Length", "5, 5")]), Err(400));
        assert_eq!(
            status("POST", &[("Content-Length", " 7 ")]),
            Ok(Body::InHand)
        );
        let differ = [("Content-Length", "5"), ("Content-Length", "6")];
        assert_eq!(status("POST", &differ), Err(400));
        let both = [("Content-Length", "5"), ("Transfer-Encoding", "chunked")];
        assert_eq!(status("POST", &both), Err(400));
    }

    #[test]
    fn bodies_on_the_wire_are_told_apart_from_bodies_in_hand() {
        assert_eq!(status("GET", &[]), Ok(Body::InHand));
        assert_eq!(
            status("POST", &[("Content-Length", "1024")]),
            Ok(Body::InHand)
        );
        let expect = [("Content-Length", "10"), ("Expect", "100-continue")];
        assert_eq!(status("POST", &expect), Ok(Body::Pending { length: 10 }));
        assert_eq!(
            status("POST", &[("Transfer-Encoding", "Chunked")]),
            Ok(Body::Chunked)
        );
        assert_eq!(status("POST", &[("Transfer-Encoding", "gzip")]), Err(400));
    }

    #[test]
    fn upgrades_and_odd_methods_are_refused() {
        assert_eq!(
            status("GET", &[("Connection", "keep-alive, Upgrade")]),
            Err(400)
        );
        assert_eq!(status("GET", &[("Upgrade", "h2c")]), Err(400));
        assert_eq!(status("GET\nforged", &[]), Err(400));
        assert_eq!(status("G\u{1b}[2JET", &[]), Err(400));
    }
}
