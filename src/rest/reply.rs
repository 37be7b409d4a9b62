//! REST responses: always JSON, errors always `{"error": …}`, and the one
//! place a [`Status`] becomes an HTTP answer, and the bytes it goes out as.
//!
//! An answer is written in one piece ([`Reply::send`]): tiny_http would
//! format it a fragment at a time, each through its connection's writer
//! lock, which cost a tenth of a hop request's instructions. The bytes are
//! those tiny_http writes; what they cannot express without it (HEAD,
//! HTTP/1.0, a `TE` request, a body tiny_http would chunk, a status without
//! a body) is still answered by tiny_http.

use std::cell::RefCell;
use std::io::{self, Write};
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::bodies::{CreatedBody, EntityBody, ErrorBody};
use crate::entity::Entity;
use crate::second_text::SecondText;
use crate::status::{http_status, Status};

/// An HTTP answer before it is written: status, extra headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// `application/json` for everything but `/metrics`.
    pub content_type: &'static str,
}

impl Reply {
    /// A JSON body with this status.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
            content_type: "application/json",
        }
    }

    /// A body of another media type (the Prometheus text format, the docs page).
    pub fn bytes(status: u16, body: Vec<u8>, content_type: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            content_type,
        }
    }

    /// `{"error": message}` with this status.
    pub fn error(status: u16, message: impl AsRef<str>) -> Self {
        Self::json(
            status,
            &ErrorBody {
                error: message.as_ref(),
            },
        )
    }

    /// A failed operation, its gRPC code mapped to HTTP.
    pub fn from_status(status: &Status) -> Self {
        match http_status(status.code) {
            401 => Self::unauthorized(&status.message),
            code => Self::error(code, &status.message),
        }
    }

    /// 401 with the `WWW-Authenticate: Bearer` challenge every 401 carries.
    pub fn unauthorized(message: impl AsRef<str>) -> Self {
        Self::error(401, message).with_header("WWW-Authenticate", "Bearer".to_string())
    }

    /// One entity.
    pub fn entity(entity: &Entity) -> Self {
        Self::json(200, &EntityBody::from(entity))
    }

    /// A list of entities.
    pub fn entities(entities: &[Entity]) -> Self {
        let list: Vec<EntityBody> = entities.iter().map(EntityBody::from).collect();
        Self::json(200, &list)
    }

    /// 201 `{"id": n}` with `Location: /entities/n`.
    pub fn created(entity: &Entity) -> Self {
        Self::json(201, &CreatedBody { id: entity.id })
            .with_header("Location", format!("/entities/{}", entity.id))
    }

    /// 405 with the allowed methods.
    pub fn method_not_allowed(allow: String) -> Self {
        Self::error(405, format!("method not allowed; allowed: {allow}"))
            .with_header("Allow", allow)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The headers of this answer, besides its length: the media type, the
    /// request id, then its own.
    pub fn header_lines<'r>(&'r self, request_id: &'r str) -> Vec<(&'r str, &'r str)> {
        let mut headers = vec![
            ("Content-Type", self.content_type),
            ("X-Request-Id", request_id),
        ];
        headers.extend(self.headers.iter().map(|(n, v)| (*n, v.as_str())));
        headers
    }

    /// Sends this answer to `request` on its keep-alive connection.
    pub fn send(self, request: tiny_http::Request, request_id: &str) -> io::Result<()> {
        if !self.fits_one_piece(&request) {
            return request.respond(self.into_response(request_id));
        }
        let bytes = self.wire_bytes(request_id, false, false);
        let mut writer = request.into_writer();
        match writer.write_all(&bytes).and_then(|()| writer.flush()) {
            Err(error) if !closed_by_client(&error) => Err(error),
            _ => Ok(()),
        }
    }

    /// Whether tiny_http would write this answer to `request` with a
    /// `Content-Length` and the whole body, as [`Self::wire_bytes`] does.
    fn fits_one_piece(&self, request: &tiny_http::Request) -> bool {
        let has_body = self.status >= 200 && self.status != 204 && self.status != 304;
        request.http_version() == &tiny_http::HTTPVersion(1, 1)
            && request.method() != &tiny_http::Method::Head
            && has_body
            && self.body.len() < TINY_HTTP_CHUNKED_FROM
            && !request.headers().iter().any(|h| h.field.equiv("TE"))
    }

    /// The whole HTTP/1.1 answer: the status line, `Server` and `Date` as
    /// tiny_http writes them, the headers (those with a byte tiny_http would
    /// refuse left out), `Content-Length`, `Connection: close` if `closes`,
    /// then the body unless `head_only`.
    pub fn wire_bytes(&self, request_id: &str, closes: bool, head_only: bool) -> Vec<u8> {
        let reason = tiny_http::StatusCode(self.status).default_reason_phrase();
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(&mut out, self.status.into());
        for piece in [" ", reason, "\r\nServer: ", TINY_HTTP_SERVER, "\r\n"] {
            out.extend_from_slice(piece.as_bytes());
        }
        HTTP_DATE.with(|date| {
            let mut date = date.borrow_mut();
            let line = date.now(|second| {
                let now = UNIX_EPOCH + Duration::from_secs(second);
                format!("Date: {}\r\n", httpdate::fmt_http_date(now))
            });
            out.extend_from_slice(line.as_bytes());
        });
        for (name, value) in self.header_lines(request_id) {
            if value
                .bytes()
                .all(|b| b == b'\t' || (b' '..0x7f).contains(&b))
            {
                for piece in [name, ": ", value, "\r\n"] {
                    out.extend_from_slice(piece.as_bytes());
                }
            }
        }
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(&mut out, self.body.len());
        out.extend_from_slice(b"\r\n");
        if closes {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }

    /// The tiny_http response that writes this answer.
    pub fn into_response(self, request_id: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut response = tiny_http::Response::from_data(Vec::new()).with_status_code(self.status);
        for (name, value) in self.header_lines(request_id) {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        let length = self.body.len();
        response.with_data(std::io::Cursor::new(self.body), Some(length))
    }
}

/// Appends `n` in decimal (the standard formatter costs more than the rest
/// of an answer's head).
fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// tiny_http sends a body of this length or more in chunks (its default).
const TINY_HTTP_CHUNKED_FROM: usize = 32_768;

/// The `Server` value tiny_http adds to every answer.
const TINY_HTTP_SERVER: &str = "tiny-http (Rust)";

/// An error tiny_http does not report: the client went away.
fn closed_by_client(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    )
}

thread_local! {
    /// The `Date` header line.
    static HTTP_DATE: RefCell<SecondText> = RefCell::new(SecondText::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What tiny_http writes for `reply` (given the same `Date`).
    fn tiny_http_bytes(reply: &Reply, request_id: &str, date: &str) -> Vec<u8> {
        let mut response = reply.clone().into_response(request_id);
        let date = tiny_http::Header::from_bytes("Date", date).expect("a valid header");
        // tiny_http puts a `Date` it adds first; one given stays in place.
        let mut headers = vec![date];
        headers.extend(response.headers().iter().cloned());
        let mut ordered = tiny_http::Response::from_data(Vec::new()).with_status_code(reply.status);
        for header in headers {
            ordered.add_header(header);
        }
        response = ordered.with_data(io::Cursor::new(reply.body.clone()), Some(reply.body.len()));
        let mut out = Vec::new();
        response
            .raw_print(&mut out, tiny_http::HTTPVersion(1, 1), &[], false, None)
            .expect("written to memory");
        out
    }

    #[test]
    fn an_answer_in_one_piece_is_what_tiny_http_writes() {
        let entity = Entity {
            id: 7,
            name: "Ada ☕".into(),
            description: "d".repeat(1000),
        };
        let replies = [
            Reply::entity(&entity),
            Reply::created(&entity),
            Reply::error(404, "entity 8 not found"),
            Reply::unauthorized("missing token"),
            Reply::method_not_allowed("GET, POST".into()),
            Reply::error(400, "bad").with_header("X-Odd", "a\tb ~".into()),
            Reply::bytes(200, b"# metrics\n".to_vec(), "text/plain; version=0.0.4"),
        ];
        for reply in replies {
            let ours = reply.wire_bytes("req-1", false, false);
            let text = String::from_utf8(ours.clone()).expect("ASCII head, UTF-8 body");
            let date = text
                .lines()
                .find_map(|line| line.strip_prefix("Date: "))
                .expect("a Date line");
            assert_eq!(
                text,
                String::from_utf8(tiny_http_bytes(&reply, "req-1", date)).expect("UTF-8"),
                "status {}",
                reply.status
            );
        }
    }

    #[test]
    fn a_closing_answer_says_so_and_a_head_answer_has_no_body() {
        let reply = Reply::error(413, "too large");
        let closing = String::from_utf8(reply.wire_bytes("r", true, false)).expect("UTF-8");
        let (head, body) = closing.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.ends_with("\r\nConnection: close"), "{head}");
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert_eq!(body.as_bytes(), reply.body.as_slice());
        let head_only = reply.wire_bytes("r", true, true);
        assert!(head_only.ends_with(b"Connection: close\r\n\r\n"));
        // Unlike tiny_http, a header value with a control byte is left out.
        let split = Reply::error(400, "bad").with_header("X-Split", "a\r\nSet-Cookie: x".into());
        let text = String::from_utf8(split.wire_bytes("r", false, false)).expect("UTF-8");
        assert!(
            !text.contains("X-Split") && !text.contains("Set-Cookie"),
            "{text}"
        );
    }
}
