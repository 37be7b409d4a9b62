//! The tests' one HTTP/1.1 client. It speaks over a plain socket so a test
//! can send anything (pipelined, chunked, malformed, cut short) and see
//! exactly what came back: a response, a close, or silence.
//!
//! [`Connection`] is a keep-alive connection; the free functions here are
//! one-shot requests on a fresh connection and builders of raw request bytes.

mod connection;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

pub use connection::Connection;

/// How long a read waits for the server unless the connection is given its
/// own timeout: generous for a loaded machine, and a hang fails the test.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One response: status, headers, body, and the head as received.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every header in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty when only the head was read, as for HEAD or `100 Continue`).
    pub body: Vec<u8>,
    /// The status line and header lines as received, for checks on what a
    /// head must not contain.
    pub raw_head: Vec<u8>,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    /// Every value of the headers with this name (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (invalid UTF-8 replaced), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; anything else fails the test.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of a {} is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }
}

/// What came back on a connection.
#[derive(Debug)]
pub enum Answer {
    /// A whole response.
    Response(Response),
    /// EOF or reset before any byte of a response.
    Closed,
    /// Nothing at all within the read timeout.
    Silent,
}

/// One request on a fresh connection.
#[track_caller]
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    Connection::open(addr).request(method, path, headers, body)
}

/// GET on a fresh connection.
#[track_caller]
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"")
}

/// POST of a (JSON) body on a fresh connection.
#[track_caller]
pub fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    request(addr, "POST", path, &[], body.as_bytes())
}

/// GET on a fresh connection where every step has `timeout`: the response,
/// or None if the connect failed, the server closed, or it stayed silent.
pub fn get_within(addr: SocketAddr, path: &str, timeout: Duration) -> Option<Response> {
    let mut connection = Connection::try_open(addr, timeout)
        .ok()?
        .named(format!("GET {path}"))
        .with_timeout(timeout);
    let bytes = request_bytes("GET", path, &[("Connection", "close")], b"");
    connection.try_send_raw(&bytes).ok()?;
    match connection.answer() {
        Answer::Response(response) => Some(response),
        Answer::Closed | Answer::Silent => None,
    }
}

/// Sends `bytes` on a fresh connection and reads one response (None when
/// the server closed instead; silence fails the test).
#[track_caller]
pub fn exchange_one(addr: SocketAddr, what: &str, bytes: &[u8]) -> Option<Response> {
    let mut connection = Connection::open(addr).named(what);
    // The server may close before reading everything: that is allowed.
    let _ = connection.try_send_raw(bytes);
    connection.try_read_response()
}

/// Sends `bytes` on a fresh connection, half-closes, and returns every
/// response until the server closes (silence fails the test).
#[track_caller]
pub fn exchange_until_close(addr: SocketAddr, what: &str, bytes: &[u8]) -> Vec<Response> {
    let mut connection = Connection::open(addr).named(what);
    let _ = connection.try_send_raw(bytes);
    connection.half_close();
    connection.responses_until_close()
}

/// The bytes of a request with these headers and body. A Content-Length
/// is added for a body or a POST unless the headers already frame the body.
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let framed = headers.iter().any(|(name, _)| {
        name.eq_ignore_ascii_case("Content-Length")
            || name.eq_ignore_ascii_case("Transfer-Encoding")
    });
    if !framed && (!body.is_empty() || method == "POST") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The bytes of a POST whose body is sent chunked, in these chunks.
pub fn chunked_post(path: &str, headers: &[(&str, &str)], chunks: &[&[u8]]) -> Vec<u8> {
    let mut all = vec![("Transfer-Encoding", "chunked")];
    all.extend_from_slice(headers);
    let mut bytes = request_bytes("POST", path, &all, b"");
    for chunk in chunks {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

/// An entity as the REST API shows it (keys in the contract's order).
pub fn entity_json(id: i64, name: &str, description: &str) -> Value {
    json!({ "id": id, "name": name, "description": description })
}
