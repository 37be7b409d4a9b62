//! Access lines cannot be forged: every value a client chose (method, URL,
//! request id) is logged with control characters escaped, so a bare `\n`
//! (tiny_http ends a request line only at CRLF) or an ANSI escape in it
//! stays inside one line.

use std::time::Duration;

use crate::helpers::child::Binary;
use crate::helpers::http;
use crate::helpers::wait::wait_until;

const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn control_characters_from_a_client_never_reach_the_log_raw() {
    let mut server = Binary::server(&[]).env("RUST_LOG", "info").serve();
    let hostile: [&[u8]; 3] = [
        b"GET\nforged-access-line /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"G\x1b[2JET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /entities/1\x1b[31m\x08 HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for bytes in hostile {
        let _ = http::exchange_until_close(server.http_addr, "hostile request line", bytes);
    }
    server.signal(libc::SIGTERM);
    server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGTERM");
    // The last line of a stop, once stderr has been read that far.
    wait_until(EXIT_LIMIT, || server.stderr_text().contains("] stopped"));
    let log = server.stderr_text();
    assert!(
        !log.contains('\x1b') && !log.contains('\x08'),
        "raw control characters in the log:\n{log}"
    );
    for line in log.lines() {
        assert!(
            line.starts_with('['),
            "a line that is not a log record (forged?): {line:?}\n{log}"
        );
    }
    let access: Vec<&str> = log.lines().filter(|l| l.contains(" access] ")).collect();
    assert!(
        access
            .iter()
            .any(|l| l.contains("method=GET\\nforged-access-line")),
        "the forged text should appear escaped inside one access line:\n{log}"
    );
}
