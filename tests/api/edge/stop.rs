//! A graceful stop with requests already sent: each gets a real answer
//! (JSON and an X-Request-Id), never tiny_http's empty 500 for a dropped
//! request nor a close in its place.

use std::time::Duration;

use super::create_bytes;
use crate::helpers::child::Binary;
use crate::helpers::http::{self, Answer, Connection};

/// Requests sent, each on its own connection, before the stop signal.
const REQUESTS: usize = 200;
/// How long the child may take to exit: a hang bound.
const EXIT_LIMIT: Duration = Duration::from_secs(20);

#[test]
fn sigterm_answers_every_request_sent_before_it() {
    let mut server = Binary::server(&["--http-threads", "2"]).serve();
    // Connections the service is already serving (one answer each), so
    // that the requests then go out back to back.
    let mut connections: Vec<Connection> = (0..REQUESTS)
        .map(|i| {
            let mut connection = Connection::open(server.http_addr).named(format!("request {i}"));
            assert_eq!(connection.request("GET", "/healthz", &[], b"").status, 200);
            connection
        })
        .collect();
    for (i, connection) in connections.iter_mut().enumerate() {
        let bytes = if i % 2 == 0 {
            create_bytes(&format!("before-stop-{i}"), None)
        } else {
            http::request_bytes("GET", "/entities?limit=5", &[], b"")
        };
        connection.send_raw(&bytes);
    }
    server.signal(libc::SIGTERM);
    for (i, connection) in connections.iter_mut().enumerate() {
        match connection.answer() {
            Answer::Response(response) => {
                assert!(
                    matches!(response.status, 200 | 201),
                    "request {i}: {} {:?}",
                    response.status,
                    response.text()
                );
                let _ = response.json();
                assert!(
                    response.header("X-Request-Id").is_some(),
                    "request {i}: no X-Request-Id"
                );
            }
            other => panic!("request {i}, sent before the stop: {other:?}"),
        }
    }
    let status = server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}
