//! One request or connection must not take the service down. Sent to
//! tiny_http directly, a huge declared Content-Length aborts the process,
//! each HTTP/2.0 request line leaks a thread and two descriptors, upgrade
//! requests and trickled bodies hold the REST workers, and a trickle keeps
//! a graceful stop from finishing. Through the front none of these reach
//! the service: nginx answers or cuts them off itself.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::nginx::Front;
use super::{assert_json_error, instance, STOP_LIMIT};
use crate::helpers::child::Server;
use crate::helpers::http::{self, Answer, Connection};
use crate::helpers::lock::serial;
use crate::helpers::wait::{assert_eventually, wait_until};

/// Connections with an HTTP/2.0 or 3.0 request line (each leaked a thread
/// and two descriptors when sent directly).
const VERSION_CONNECTIONS: usize = 200;
/// More than the service's REST workers (4 on two cores in hop mode).
const UPGRADES: usize = 8;
/// Threads or descriptors the service may gain for reasons of its own
/// (tiny_http's pool, the acceptor's heartbeat connection).
const SLACK: usize = 4;

#[test]
fn a_huge_content_length_is_refused_and_the_process_stays_up() {
    let mut service = instance(&["--auth-token", "s3cret"]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    for (method, path) in [("POST", "/entities"), ("GET", "/healthz")] {
        let bytes = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000\r\n\r\nabc"
        );
        let answer = http::exchange_one(front.addr, path, bytes.as_bytes())
            .unwrap_or_else(|| panic!("{method} {path}: closed without an answer"));
        assert_json_error(&answer, 413);
    }
    // The cap is the service's own (--max-body-bytes, 64 KiB by default).
    let over = vec![b' '; 64 * 1024 + 1];
    let answer = http::request(front.addr, "POST", "/entities", &[], &over);
    assert_json_error(&answer, 413);
    assert!(answer.text().contains("65536"), "{}", answer.text());
    assert!(service.alive(), "{}", service.stderr_tail());
    let health = http::get(front.addr, "/healthz");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(http::get(service.http_addr, "/healthz").status, 200);
}

#[test]
fn http2_request_lines_leave_no_thread_or_descriptor_behind() {
    let _serial = serial();
    let service = instance(&[]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    assert_eq!(http::get(front.addr, "/healthz").status, 200);
    let (threads_before, fds_before) = (threads(&service), open_fds(&service));
    for n in 0..VERSION_CONNECTIONS {
        let version = if n % 2 == 0 { "2.0" } else { "3.0" };
        let bytes = format!("GET /healthz HTTP/{version}\r\nHost: x\r\n\r\n");
        let answer = http::exchange_one(front.addr, "HTTP/2.0 line", bytes.as_bytes())
            .unwrap_or_else(|| panic!("HTTP/{version} line {n}: closed without an answer"));
        assert_json_error(&answer, 505);
    }
    assert_eventually(
        STOP_LIMIT,
        || threads(&service) <= threads_before + SLACK && open_fds(&service) <= fds_before + SLACK,
        || {
            format!(
                "threads {threads_before} -> {}, descriptors {fds_before} -> {}",
                threads(&service),
                open_fds(&service)
            )
        },
    );
    assert_eq!(http::get(front.addr, "/healthz").status, 200);
}

#[test]
fn upgrade_requests_are_ordinary_requests_and_hold_no_worker() {
    let service = instance(&[]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    let headers = [("Connection", "upgrade"), ("Upgrade", "websocket")];
    let body = br#"{"name":"up","description":"grade"}"#;
    let mut held: Vec<Connection> = (0..UPGRADES)
        .map(|n| {
            let mut connection = Connection::open(front.addr).named(format!("upgrade {n}"));
            let created = connection.request("POST", "/entities", &headers, body);
            assert_eq!(created.status, 201, "{}", created.text());
            connection
        })
        .collect();
    // All of them still open, and the service answers someone else at once.
    let health = http::get_within(front.addr, "/healthz", Duration::from_secs(5))
        .expect("/healthz answered while the upgrade connections are open");
    assert_eq!(health.status, 200);
    for connection in &mut held {
        assert_eq!(
            connection.request("GET", "/entities/1", &[], b"").status,
            200
        );
    }
    let stored = http::get(service.http_addr, "/entities");
    assert_eq!(stored.json().as_array().map(Vec::len), Some(UPGRADES));
}

#[test]
fn a_stalled_head_or_body_is_cut_off_by_the_front() {
    let service = instance(&[]);
    let flags = ["--header-timeout", "1", "--body-timeout", "1"];
    let Some(front) = Front::start_with(&[service.http_addr], &flags) else {
        return;
    };
    let stalls: [&[u8]; 2] = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
        b"POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\r\n{\"name\"",
    ];
    for bytes in stalls {
        let mut connection = Connection::open(front.addr).with_timeout(Duration::from_secs(5));
        connection.send_raw(bytes);
        assert!(
            matches!(connection.answer(), Answer::Closed),
            "{:?}: the front should close the connection after its 1 s timeout",
            String::from_utf8_lossy(bytes)
        );
    }
    assert_eq!(
        http::get(service.http_addr, "/entities").json(),
        serde_json::json!([])
    );
}

#[test]
fn a_trickled_oversized_body_holds_no_worker_and_does_not_block_a_stop() {
    let mut service = instance(&[]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    let stream = TcpStream::connect(front.addr).expect("connect to the front");
    let writer = stream.try_clone().expect("a second handle on the socket");
    let mut connection = Connection::from_stream(stream, "trickled chunked body");
    connection
        .send_raw(b"POST /entities HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    let trickle = std::thread::spawn(move || trickle(writer, &counter));

    assert!(wait_until(STOP_LIMIT, || sent.load(Ordering::SeqCst) >= 4));
    let started = threads(&service);
    service.signal(libc::SIGTERM);
    let status = service.wait_with_timeout(STOP_LIMIT);
    assert!(
        status.is_some_and(|s| s.success()),
        "the service should stop at once while a body trickles into the front \
         (it had {started} threads): {status:?}\n{}",
        service.stderr_tail()
    );
    // The body never reached the service; the front ends it at the cap.
    let answer = connection.read_response();
    assert_json_error(&answer, 413);
    let _ = trickle.join();
}

/// 1 KiB chunks every 20 ms until the front stops reading (past 64 KiB it
/// answers 413); counts the chunks sent.
fn trickle(mut stream: TcpStream, sent: &AtomicUsize) {
    let chunk = [b'a'; 1024];
    for _ in 0..200 {
        let mut bytes = b"400\r\n".to_vec();
        bytes.extend_from_slice(&chunk);
        bytes.extend_from_slice(b"\r\n");
        if stream.write_all(&bytes).is_err() {
            return;
        }
        sent.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The service's thread count, from /proc.
#[track_caller]
fn threads(service: &Server) -> usize {
    service.threads().expect("/proc/PID/status")
}

/// The service's open descriptors, from /proc.
#[track_caller]
fn open_fds(service: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", service.pid()))
        .expect("/proc/PID/fd")
        .count()
}
