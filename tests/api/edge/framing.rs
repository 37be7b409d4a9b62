//! Message boundaries (RFC 9112): a length the server cannot trust, or a
//! body the handler never read, ends the connection after our answer, so
//! no byte of a body is ever run as the next request.

use std::time::Duration;

use super::{assert_closing_error, create_bytes};
use crate::helpers::http::{self, Connection};
use crate::helpers::wait::wait_until;
use crate::helpers::TestService;

const TOKEN: &str = "edge-token";

/// Sends `head` followed by a whole create of "smuggled", half-closes, and
/// returns every response until the server closes.
fn with_smuggled_create(service: &TestService, what: &str, head: &str) -> Vec<http::Response> {
    let mut bytes = head.as_bytes().to_vec();
    bytes.extend_from_slice(&create_bytes("smuggled", Some(TOKEN)));
    http::exchange_until_close(service.http_addr, what, &bytes)
}

/// Nothing named "smuggled" was stored.
#[track_caller]
fn assert_nothing_smuggled(service: &TestService, what: &str) {
    let stored = service.store().list(0, 1000);
    assert!(
        stored.iter().all(|e| e.name != "smuggled"),
        "{what}: a body was run as a request: {stored:?}"
    );
}

#[test]
fn an_unparseable_content_length_is_400_and_the_body_never_runs() {
    let service = TestService::start_with(|c| c.auth_token = Some(TOKEN.into()));
    for value in ["4e", "1x2", "-12", "", "+5", "0x10"] {
        let what = format!("Content-Length {value:?}");
        let head = format!(
            "POST /entities HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: {value}\r\n\r\n"
        );
        let responses = with_smuggled_create(&service, &what, &head);
        assert_eq!(responses.len(), 1, "{what}: {responses:?}");
        assert_closing_error(&responses[0], 400, &what);
    }
    assert_nothing_smuggled(&service, "unparseable Content-Length");
}

#[test]
fn conflicting_lengths_are_400_and_close() {
    let service = TestService::start_with(|c| c.auth_token = Some(TOKEN.into()));
    let cases = [
        (
            "two different Content-Lengths",
            "Content-Length: 0\r\nContent-Length: 98\r\n",
        ),
        (
            "Content-Length and Transfer-Encoding",
            "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
        ),
        (
            "a Transfer-Encoding other than chunked",
            "Transfer-Encoding: gzip\r\n",
        ),
    ];
    for (what, framing) in cases {
        let head = format!(
            "POST /entities HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n{framing}\r\n"
        );
        let responses = with_smuggled_create(&service, what, &head);
        assert!(!responses.is_empty(), "{what}: closed without an answer");
        assert_closing_error(&responses[0], 400, what);
        assert_eq!(responses.len(), 1, "{what}: {responses:?}");
    }
    assert_nothing_smuggled(&service, "conflicting lengths");
}

#[test]
fn the_same_content_length_twice_is_one_length() {
    let service = TestService::start();
    let body = br#"{"name":"twice"}"#;
    let length = body.len().to_string();
    let headers = [
        ("Content-Length", length.as_str()),
        ("Content-Length", length.as_str()),
    ];
    let response = http::request(service.http_addr, "POST", "/entities", &headers, body);
    assert_eq!(response.status, 201, "{}", response.text());
}

#[test]
fn a_chunked_body_the_handler_never_reads_is_not_run_as_a_request() {
    let service = TestService::start_with(|c| c.auth_token = Some(TOKEN.into()));
    let cases = [
        ("401 (no token)", "POST /entities", 401),
        ("404", "POST /no-such-route", 404),
        ("405", "DELETE /entities", 405),
    ];
    for (what, request_line, status) in cases {
        let auth = if status == 401 {
            String::new()
        } else {
            format!("Authorization: Bearer {TOKEN}\r\n")
        };
        let head = format!(
            "{request_line} HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
        );
        let responses = with_smuggled_create(&service, what, &head);
        assert_eq!(responses.len(), 1, "{what}: {responses:?}");
        assert_closing_error(&responses[0], status, what);
    }
    assert_nothing_smuggled(&service, "unread chunked bodies");
}

#[test]
fn expect_continue_refused_before_the_body_does_not_swallow_the_next_request() {
    let service = TestService::start_with(|c| c.auth_token = Some(TOKEN.into()));
    let mut connection = Connection::open(service.http_addr).named("Expect without token");
    // The client takes the 401 as final and never sends the 40-byte body;
    // its next request must not be read as that body.
    connection.send_raw(
        b"POST /entities HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 40\r\n\r\n",
    );
    let refused = connection.read_response();
    assert_closing_error(&refused, 401, "Expect without token");
    let _ = connection.try_send_raw(&create_bytes("smuggled", Some(TOKEN)));
    connection.half_close();
    let rest = connection.responses_until_close();
    assert!(rest.is_empty(), "answers after the close: {rest:?}");
    assert_nothing_smuggled(&service, "Expect");
}

#[test]
fn a_body_read_in_full_keeps_the_connection_open() {
    let service = TestService::start();
    let mut connection = Connection::open(service.http_addr).named("keep-alive");
    let chunked = http::chunked_post("/entities", &[], &[br#"{"name":"#, br#""kept"}"#]);
    connection.send_raw(&chunked);
    let created = connection.read_response();
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        created.header("Connection"),
        None,
        "a complete body keeps the connection"
    );
    let next = connection.request("GET", "/entities/1", &[], b"");
    assert_eq!(next.status, 200, "{}", next.text());
}

/// A connection from `port` on loopback (the port reusable at once).
fn connect_from(port: u16, to: std::net::SocketAddr) -> std::io::Result<std::net::TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())?;
    socket.connect(&to.into())?;
    Ok(socket.into())
}

#[test]
fn a_new_connection_from_the_address_of_a_closed_one_is_served() {
    let service = TestService::start();
    let port = crate::helpers::net::free_port();
    let first = connect_from(port, service.http_addr).expect("first connection");
    let mut first = Connection::from_stream(first, "refused connection");
    first.send_raw(b"POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: 4e\r\n\r\n");
    assert_closing_error(&first.read_response(), 400, "refused connection");
    assert!(first.responses_until_close().is_empty());
    drop(first);
    // The same address again (the server's side of the old one may still
    // be in TIME_WAIT; the kernel lets a new connection take its place).
    let mut second = None;
    wait_until(Duration::from_secs(5), || {
        second = connect_from(port, service.http_addr).ok();
        second.is_some()
    });
    let second = second.expect("a new connection from the same address");
    let mut second = Connection::from_stream(second, "same address, new connection");
    let response = second.request("GET", "/healthz", &[], b"");
    assert_eq!(response.status, 200, "{}", response.text());
}
