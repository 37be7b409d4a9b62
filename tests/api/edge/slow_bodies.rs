//! Bodies that stop, trickle, or trickle past the size limit: each gets
//! its answer once the body timeout has passed (a short one here), not the
//! socket's idle timeout, and none holds a worker or a graceful stop longer.
//! (Bodies of at most 1 KiB are read by tiny_http before the service sees
//! the request, bounded only per read by the idle timeout: not tested here.)

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::assert_closing_error;
use crate::helpers::background::Background;
use crate::helpers::http::{self, Connection};
use crate::helpers::wait::wait_until;
use crate::helpers::TestService;

/// The body timeout of these tests' services.
const BODY_TIMEOUT_MS: u64 = 1000;
/// How long an answer may take: a hang bound well below the 30 s idle timeout.
const ANSWER_LIMIT: Duration = Duration::from_secs(8);
/// Pause between two trickled pieces.
const TRICKLE_PAUSE: Duration = Duration::from_millis(100);
/// The most pieces a trickler sends: it outlasts every bound here.
const TRICKLE_PIECES: usize = 150;

fn service() -> TestService {
    TestService::start_with(|c| {
        c.http_body_timeout_ms = BODY_TIMEOUT_MS;
        c.max_body_bytes = 4096;
    })
}

/// Sends pieces on its own clone of a connection until told to stop, the
/// server closes, or it has sent them all.
struct Trickler {
    sent: Arc<AtomicUsize>,
    /// The sending thread, stopped on drop.
    _sending: Background,
}

impl Trickler {
    fn start(stream: TcpStream, pieces: Vec<Vec<u8>>) -> Self {
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&sent);
        let sending = Background::spawn(move |stop| {
            let mut stream = stream;
            for piece in pieces {
                if stop.load(Ordering::SeqCst) || stream.write_all(&piece).is_err() {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(TRICKLE_PAUSE);
            }
        });
        Self {
            sent,
            _sending: sending,
        }
    }
}

/// A connection that has sent `head`, and a trickler sending `pieces` on it.
fn trickle(
    service: &TestService,
    what: &str,
    head: &[u8],
    pieces: Vec<Vec<u8>>,
) -> (Connection, Trickler) {
    let stream = TcpStream::connect(service.http_addr).expect("connect");
    let writer = stream.try_clone().expect("clone the stream");
    let mut connection = Connection::from_stream(stream, what).with_timeout(ANSWER_LIMIT);
    connection.send_raw(head);
    (connection, Trickler::start(writer, pieces))
}

#[test]
fn a_body_that_stops_arriving_gets_408_after_the_body_timeout() {
    let service = service();
    let mut connection = Connection::open(service.http_addr)
        .named("stalled body")
        .with_timeout(ANSWER_LIMIT);
    connection
        .send_raw(b"POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n{\"name\":");
    let response = connection.read_response();
    assert_closing_error(&response, 408, "stalled body");
    assert!(service.store().is_empty());
}

#[test]
fn a_trickled_body_is_refused_after_the_body_timeout() {
    let service = service();
    let mut body = br#"{"name":"trickled"}"#.to_vec();
    body.resize(3000, b' ');
    let head = http::request_bytes("POST", "/entities", &[("Content-Length", "3000")], b"");
    let pieces = body.chunks(50).map(<[u8]>::to_vec).collect();
    let (mut connection, _trickler) = trickle(&service, "trickled body", &head, pieces);
    let response = connection.read_response();
    assert_closing_error(&response, 408, "trickled body");
    assert!(service.store().is_empty(), "a trickled body was accepted");
}

/// The head of a chunked create whose first chunk is over the 4 KiB limit.
fn oversized_chunked_head() -> Vec<u8> {
    let mut bytes = http::request_bytes(
        "POST",
        "/entities",
        &[("Transfer-Encoding", "chunked")],
        b"",
    );
    bytes.extend_from_slice(b"1400\r\n");
    bytes.extend_from_slice(&[b' '; 0x1400]);
    bytes.extend_from_slice(b"\r\nffff\r\n");
    bytes
}

#[test]
fn an_oversized_chunked_body_trickled_forever_gets_its_413_and_a_close() {
    let service = service();
    let pieces = vec![b" ".to_vec(); TRICKLE_PIECES];
    let (mut connection, _trickler) =
        trickle(&service, "trickled 413", &oversized_chunked_head(), pieces);
    let response = connection.read_response();
    assert_closing_error(&response, 413, "trickled 413");
}

#[test]
fn a_graceful_stop_is_not_held_up_by_a_trickling_client() {
    let service = service();
    let pieces = vec![b" ".to_vec(); TRICKLE_PIECES];
    let (_connection, trickler) = trickle(
        &service,
        "trickle during stop",
        &oversized_chunked_head(),
        pieces,
    );
    // The request is being read once the trickle is under way.
    wait_until(ANSWER_LIMIT, || trickler.sent.load(Ordering::SeqCst) >= 5);
    service.stop_within(Duration::from_secs(6), "stop beside a trickling client");
}
