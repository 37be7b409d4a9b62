//! Where one request ends and the next begins. Sent to tiny_http directly,
//! an unparseable Content-Length, a chunked body nobody reads or a body
//! sent after an early answer to `Expect: 100-continue` ran as requests of
//! their own, and a bare `\n` in the method forged an access-log line.
//! Through the front, each is refused (400 as JSON, connection closed) or
//! read in full, so a body never reaches the service as a request.

use super::nginx::Front;
use super::{assert_json_error, instance};
use crate::helpers::child::{Binary, Server};
use crate::helpers::http::{self, chunked_post, Connection};
use crate::helpers::wait::assert_eventually;

/// A whole create request, hidden in a body: it must never be run.
const SMUGGLED: &[u8] =
    b"POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\n{\"name\":\"smuggled\",\"description\":\"\"}";
const TOKEN: &str = "Bearer s3cret";

/// A request's path, its headers and the status it gets.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);

#[test]
fn malformed_or_ambiguous_content_lengths_are_refused_and_their_bodies_never_run() {
    let service = instance(&[]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    let heads: [&[u8]; 7] = [
        b"Content-Length: 4e\r\n",
        b"Content-Length: 1x2\r\n",
        b"Content-Length: -12\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n",
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
        // Whitespace before the colon; a folded line (obs-fold).
        b"Content-Length : 0\r\n",
        b"X-Folded: a\r\n b\r\nContent-Length: 0\r\n",
    ];
    for head in heads {
        let mut bytes = b"POST /entities HTTP/1.1\r\nHost: x\r\n".to_vec();
        bytes.extend_from_slice(head);
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(SMUGGLED);
        refused_and_closed(&front, &bytes, 400);
    }
    assert_nothing_stored(&service, &[]);
}

#[test]
fn chunked_bodies_that_no_handler_reads_do_not_become_requests() {
    let service = instance(&["--auth-token", "s3cret"]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    // 401 (no token), 404 (no such route), 405 (POST on an entity).
    let cases: [Case; 3] = [
        ("/entities", &[], 401),
        ("/no/such/route", &[("Authorization", TOKEN)], 404),
        ("/entities/1", &[("Authorization", TOKEN)], 405),
    ];
    for (path, headers, status) in cases {
        let mut connection = Connection::open(front.addr).named(format!("chunked POST {path}"));
        connection.send_raw(&chunked_post(path, headers, &[SMUGGLED]));
        connection.send("GET", "/healthz", &[("Connection", "close")], b"");
        let answers = connection.responses_until_close();
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [status, 200],
            "POST {path}: one answer per request"
        );
        assert_json_error(&answers[0], status);
    }
    assert_nothing_stored(&service, &[("Authorization", TOKEN)]);
}

#[test]
fn a_body_after_100_continue_is_read_and_the_next_request_still_answered() {
    let service = instance(&[]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    let mut connection = Connection::open(front.addr).named("Expect: 100-continue");
    let head = format!(
        "POST /no/such/route HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        SMUGGLED.len()
    );
    connection.send_raw(head.as_bytes());
    let interim = connection.read_head().expect("an answer to the head");
    assert_eq!(interim.status, 100, "the front asks for the body");
    connection.send_raw(SMUGGLED);
    connection.send("GET", "/healthz", &[("Connection", "close")], b"");
    let answers = connection.responses_until_close();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 200]);
    assert_nothing_stored(&service, &[]);
}

#[test]
fn control_bytes_in_the_method_are_refused_and_never_logged() {
    let mut service = Binary::server(&[]).env("RUST_LOG", "info").serve();
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    // Sent directly, the first writes a second access line starting
    // `T_forged_access_line`, the second an ANSI escape.
    let forged: [&[u8]; 2] = [
        b"GE\nT_forged_access_line /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x1b[31mGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for bytes in forged {
        refused_and_closed(&front, bytes, 400);
    }
    // A request after them, seen in the service's log: lines are in order,
    // so anything forged would be there by now.
    let marker = "after-the-forgeries";
    let health = http::request(
        front.addr,
        "GET",
        "/healthz",
        &[("X-Request-Id", marker)],
        b"",
    );
    assert_eq!(health.status, 200);
    assert_eventually(
        super::STOP_LIMIT,
        || service.stderr_text().contains(marker),
        || format!("no access line for {marker}: {}", service.stderr_tail()),
    );
    let log = service.stderr_text();
    assert!(
        !log.contains("forged") && !log.contains('\x1b'),
        "a forged line or an escape reached the log: {log}"
    );
    assert!(service.alive());
}

/// Sends `bytes` to the front on a fresh connection: the answer is a JSON
/// error of this status and the connection is closed after it.
#[track_caller]
fn refused_and_closed(front: &Front, bytes: &[u8], status: u16) {
    let what = String::from_utf8_lossy(bytes).into_owned();
    let mut connection = Connection::open(front.addr).named(what.clone());
    let _ = connection.try_send_raw(bytes);
    let answer = connection
        .try_read_response()
        .unwrap_or_else(|| panic!("{what:?}: closed without an answer"));
    assert_json_error(&answer, status);
    assert!(
        answer.header("X-Request-Id").is_some(),
        "{what:?}: the front's answer carries its request id"
    );
    assert!(
        connection.try_read_response().is_none(),
        "{what:?}: a second answer on a connection that should be closed"
    );
}

/// The instance stored nothing (asked directly, not through the front).
#[track_caller]
fn assert_nothing_stored(service: &Server, headers: &[(&str, &str)]) {
    let stored = http::request(service.http_addr, "GET", "/entities", headers, b"");
    assert_eq!(stored.status, 200, "{}", stored.text());
    assert_eq!(
        stored.json(),
        serde_json::json!([]),
        "a body ran as a request"
    );
}
