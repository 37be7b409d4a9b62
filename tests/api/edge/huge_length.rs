//! A declared Content-Length far beyond the body limit: tiny_http 0.12
//! drains an unread body into a buffer of the declared size when the
//! request is dropped, which for 100 TB aborts the process. The service
//! answers such a request and closes its connection without that drain.
//! (That answer's body ends where the connection does: tiny_http writes its
//! head, see `src/rest/closing.rs`.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::helpers::child::Binary;
use crate::helpers::http;

const HUGE: &str = "100000000000000";
const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn a_huge_declared_length_is_answered_and_the_process_survives() {
    let mut server = Binary::server(&["--auth-token", "t"]).serve();
    let cases = [
        ("POST /entities", "POST", "/entities", 413),
        ("GET /healthz", "GET", "/healthz", 200),
        ("POST /entities without a token", "POST", "/entities", 401),
    ];
    for (what, method, path, status) in cases {
        let headers: Vec<(&str, &str)> = if status == 401 {
            vec![("Content-Length", HUGE)]
        } else {
            vec![("Content-Length", HUGE), ("Authorization", "Bearer t")]
        };
        let bytes = http::request_bytes(method, path, &headers, br#"{"name":"x"}"#);
        let answer = until_close(server.http_addr, &bytes);
        let status_line = format!("HTTP/1.1 {status} ");
        assert!(answer.starts_with(&status_line), "{what}: {answer:?}");
        assert!(answer.contains("X-Request-Id: "), "{what}: {answer:?}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{what}: {answer:?}");
        assert!(
            server.alive(),
            "{what}: the process died: {}",
            server.stderr_tail()
        );
        let health = http::get_within(server.http_addr, "/healthz", Duration::from_secs(5));
        assert_eq!(
            health.map(|r| r.status),
            Some(200),
            "{what}: /healthz afterwards"
        );
    }
    server.signal(libc::SIGTERM);
    let status = server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}: {}", server.stderr_tail());
}

/// Everything the server sends on a connection after `bytes`, until it closes.
fn until_close(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream.write_all(bytes).expect("send");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server closes the connection after its answer");
    String::from_utf8_lossy(&answer).into_owned()
}
