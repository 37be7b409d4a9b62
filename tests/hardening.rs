//! Hardening tests: idle and silent REST connections, the listener's accept
//! timeout, malformed and hostile HTTP, file-descriptor exhaustion, slow
//! watchers under load, an upstream that goes away and comes back, and
//! request ids that try to inject headers.
//!
//! Every network call goes to 127.0.0.1 and has a timeout, every loop is
//! bounded in count and time. The tests take a shared lock so that their
//! timing assertions do not compete with each other for the two cores.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use entity_service::proto::entities::{GetEntityRequest, WatchEntitiesRequest};
use entity_service::proto::entities_grpc::EntityServiceClient;
use entity_service::Running;
use futures_executor::block_on;
use futures_util::StreamExt;
use grpcio::{CallOption, ChannelBuilder, EnvBuilder, RpcStatusCode};

use common::create_request;

const BINARY: &str = env!("CARGO_BIN_EXE_entity-service");

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// One test at a time: several assert on timing, and the box has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Raises this process's soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    limit.rlim_cur
}

/// Stops a service, failing the test if that takes longer than `limit`
/// (the stop then goes on in a leaked thread).
#[track_caller]
fn stop_within(running: Running, limit: Duration, what: &str) {
    let stopper = std::thread::spawn(move || running.stop());
    let started = Instant::now();
    while !stopper.is_finished() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        stopper.is_finished(),
        "{what}: Running::stop did not return within {limit:?}"
    );
    stopper.join().expect("stop does not panic");
}

/// Stops a service in a detached thread: for tests whose subject is not the
/// stop itself (a hanging stop has a test of its own).
fn stop_in_background(running: Running) {
    std::thread::spawn(move || running.stop());
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .unwrap()
        .port()
}

/// A deterministic xorshift64* generator: reproducible garbage, no extra crates.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A parsed response, with its raw head kept for "is this header absent" checks.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    raw_head: Vec<u8>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of a {} is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// What came back on a connection.
#[derive(Debug)]
enum Answer {
    Response(RawResponse),
    /// EOF or reset before any byte of a response.
    Closed,
    /// Nothing at all within the read timeout.
    Silent,
}

/// A raw HTTP/1.1 connection: sends any bytes, reads responses with a
/// timeout, and tells a closed connection from a silent (hung) one.
struct RawConn {
    reader: BufReader<TcpStream>,
    what: String,
    timeout: Duration,
}

impl RawConn {
    fn open(addr: SocketAddr, what: impl Into<String>, timeout: Duration) -> Self {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        Self::from_stream(stream, what, timeout)
    }

    fn from_stream(stream: TcpStream, what: impl Into<String>, timeout: Duration) -> Self {
        stream.set_read_timeout(Some(timeout)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Self {
            reader: BufReader::new(stream),
            what: what.into(),
            timeout,
        }
    }

    /// Writes everything; the error when the server closed first.
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Ends our sending side: the server reads EOF.
    fn half_close(&mut self) {
        let _ = self.reader.get_ref().shutdown(Shutdown::Write);
    }

    /// One line (with its CRLF); Err(true) on EOF/reset, Err(false) on timeout.
    fn line(&mut self) -> Result<Vec<u8>, bool> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => Err(true),
            Ok(_) => Ok(line),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(false),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                Err(true)
            }
            Err(e) => panic!("{}: read failed: {e}", self.what),
        }
    }

    /// The next response, or why there is none.
    fn answer(&mut self) -> Answer {
        let status_line = match self.line() {
            Ok(line) => line,
            Err(true) => return Answer::Closed,
            Err(false) => return Answer::Silent,
        };
        let mut raw_head = status_line.clone();
        let text = String::from_utf8_lossy(&status_line).into_owned();
        let mut parts = text.split_whitespace();
        let version = parts.next().unwrap_or("");
        let status = parts.next().and_then(|s| s.parse::<u16>().ok());
        let status = match status {
            Some(status) if version.starts_with("HTTP/1.") => status,
            _ => panic!("{}: malformed status line {text:?}", self.what),
        };
        let mut headers = Vec::new();
        loop {
            let line = self.line().unwrap_or_else(|eof| {
                panic!(
                    "{}: response head cut off ({})",
                    self.what,
                    if eof { "closed" } else { "timed out" }
                )
            });
            raw_head.extend_from_slice(&line);
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: malformed header line {line:?}", self.what));
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let mut response = RawResponse {
            status,
            raw_head,
            headers,
            body: Vec::new(),
        };
        if let Some(length) = response.header("Content-Length") {
            let length: usize = length.parse().expect("numeric Content-Length");
            let mut body = vec![0; length];
            self.reader
                .read_exact(&mut body)
                .unwrap_or_else(|e| panic!("{}: body cut off: {e}", self.what));
            response.body = body;
        } else if response
            .header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size = self.line().expect("chunk size line");
                let size = String::from_utf8_lossy(&size).trim().to_string();
                let size = usize::from_str_radix(&size, 16).expect("hex chunk size");
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).expect("chunk");
                if size == 0 {
                    break;
                }
                response.body.extend_from_slice(&chunk[..size]);
            }
        }
        Answer::Response(response)
    }

    /// The next response, None when the server closed the connection
    /// instead; a hang (no byte within the timeout) fails the test.
    fn response(&mut self) -> Option<RawResponse> {
        match self.answer() {
            Answer::Response(response) => Some(response),
            Answer::Closed => None,
            Answer::Silent => panic!(
                "{}: the server neither answered nor closed the connection within {:?}",
                self.what, self.timeout
            ),
        }
    }

    /// Every response until the server closes; a hang fails the test.
    fn responses_until_close(&mut self) -> Vec<RawResponse> {
        let mut responses = Vec::new();
        while let Some(response) = self.response() {
            responses.push(response);
            assert!(
                responses.len() <= 64,
                "{}: more than 64 responses",
                self.what
            );
        }
        responses
    }

    /// Whether the server has closed the connection (EOF or reset is
    /// waiting), without blocking. Any data before the EOF is skipped.
    fn closed_by_server(&mut self) -> bool {
        self.reader.get_ref().set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 4096];
        let closed = loop {
            match self.reader.read(&mut buffer) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        self.reader.get_ref().set_nonblocking(false).unwrap();
        closed
    }
}

/// A request with a Host header and these extra header lines.
fn request(method: &str, path: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n").into_bytes();
    for header in headers {
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" {
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// A POST with a chunked body cut into chunks of `chunk` bytes.
fn chunked_post(path: &str, body: &[u8], chunk: usize) -> Vec<u8> {
    let mut bytes =
        format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .into_bytes();
    for piece in body.chunks(chunk) {
        bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        bytes.extend_from_slice(piece);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

/// Sends `bytes` on a fresh connection, half-closes, and returns every
/// response until the server closes (a hang fails the test).
fn exchange_until_close(addr: SocketAddr, what: &str, bytes: &[u8]) -> Vec<RawResponse> {
    let mut conn = RawConn::open(addr, what, Duration::from_secs(5));
    // The server may close before reading everything: that is allowed.
    let _ = conn.send(bytes);
    conn.half_close();
    conn.responses_until_close()
}

/// Sends `bytes` on a fresh connection and reads one response (None when the
/// server closed instead). The connection stays open on our side.
fn exchange_one(addr: SocketAddr, what: &str, bytes: &[u8]) -> Option<RawResponse> {
    let mut conn = RawConn::open(addr, what, Duration::from_secs(5));
    let _ = conn.send(bytes);
    conn.response()
}

/// Every response is one of `allowed` (the server may also just close).
#[track_caller]
fn assert_statuses_within(what: &str, responses: &[RawResponse], allowed: &[u16]) {
    for response in responses {
        assert!(
            allowed.contains(&response.status),
            "{what}: got {} (allowed: {allowed:?} or a closed connection); body {:?}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
}

fn grpc_opt() -> CallOption {
    CallOption::default().timeout(Duration::from_secs(5))
}

/// A client on a connection of its own (not shared through grpc's global
/// subchannel pool with other clients of the same address).
fn separate_grpc_client(addr: SocketAddr) -> EntityServiceClient {
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    let channel = ChannelBuilder::new(env)
        .use_local_subchannel_pool(true)
        .connect(&addr.to_string());
    EntityServiceClient::new(channel)
}

fn watch_request(after_id: i64) -> WatchEntitiesRequest {
    let mut request = WatchEntitiesRequest::new();
    request.after_id = after_id;
    request
}

fn get_request(id: i64) -> GetEntityRequest {
    let mut request = GetEntityRequest::new();
    request.id = id;
    request
}

fn is_generated_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// ---------------------------------------------------------------------------
// 1. Idle connections
// ---------------------------------------------------------------------------

#[test]
fn a_thousand_idle_connections_do_not_block_fresh_requests_and_all_close_after_the_idle_timeout() {
    let _serial = serial();
    let limit = raise_open_file_limit();
    // Ours, the server's two per connection, and slack.
    assert!(limit >= 4000, "RLIMIT_NOFILE hard limit {limit} is too low");
    let running = common::spawn_with(|c| c.http_idle_timeout_ms = 1500);
    let addr = running.http_addr;

    let started = Instant::now();
    // (connection, whether it got a request, when it went idle)
    let mut idle: Vec<(RawConn, bool, Instant)> = Vec::with_capacity(1000);
    let mut fresh_ok = 0;
    let mut created = Vec::new();
    let mut slowest = Duration::ZERO;
    for n in 0..1000 {
        let iteration = Instant::now();
        let answered = n % 2 == 1;
        let mut conn = RawConn::open(addr, format!("idle connection {n}"), Duration::from_secs(5));
        if answered {
            conn.send(&request("GET", "/healthz", &[], b"")).unwrap();
            let response = conn
                .response()
                .unwrap_or_else(|| panic!("idle connection {n}: closed before its answer"));
            assert_eq!(response.status, 200, "idle connection {n}");
        }
        idle.push((conn, answered, Instant::now()));

        // A normal request on a fresh connection after every fifth idle one.
        if n % 5 == 4 {
            if created.len() <= fresh_ok / 2 {
                let response =
                    common::post(addr, "/entities", &format!(r#"{{"name":"fresh {n}"}}"#));
                assert_eq!(response.status, 201, "fresh POST after {} idle", n + 1);
                created.push(response.json()["id"].as_i64().expect("id"));
            } else {
                let id = created[created.len() - 1];
                let response = common::get(addr, &format!("/entities/{id}"));
                assert_eq!(response.status, 200, "fresh GET after {} idle", n + 1);
                assert_eq!(response.json()["name"], format!("fresh {}", n - 5));
            }
            fresh_ok += 1;
        }
        slowest = slowest.max(iteration.elapsed());
    }
    let opened_in = started.elapsed();
    let all_open_at = Instant::now();
    eprintln!(
        "1000 idle connections and {fresh_ok} fresh requests in {opened_in:?} \
         (slowest step {slowest:?})"
    );
    assert_eq!(fresh_ok, 200);
    assert_eq!(running.store().len(), 100);

    // The ones idle for less than half the timeout are still open.
    let mut recent = 0;
    for (n, (conn, _, since)) in idle.iter_mut().enumerate().rev() {
        if since.elapsed() > Duration::from_millis(500) {
            break;
        }
        assert!(
            !conn.closed_by_server(),
            "idle connection {n} was closed after only {:?} idle",
            since.elapsed()
        );
        recent += 1;
    }
    assert!(
        recent > 0,
        "no connection left to check before the idle timeout"
    );

    // 2.5 s after the last one: all closed by the server.
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(all_open_at.elapsed()));
    let still_open: Vec<(usize, bool)> = idle
        .iter_mut()
        .enumerate()
        .filter_map(|(n, (conn, answered, _))| (!conn.closed_by_server()).then_some((n, *answered)))
        .collect();
    assert!(
        still_open.is_empty(),
        "{} of 1000 idle connections still open 2.5 s after the last one (idle timeout 1.5 s): \
         {} silent, {} after an answer; first: {:?}",
        still_open.len(),
        still_open.iter().filter(|(_, answered)| !answered).count(),
        still_open.iter().filter(|(_, answered)| *answered).count(),
        &still_open[..still_open.len().min(10)]
    );
    drop(idle);

    // And the service still answers.
    assert_eq!(common::get(addr, "/healthz").status, 200);
    stop_in_background(running);
}

// ---------------------------------------------------------------------------
// 2. The listener's accept timeout
// ---------------------------------------------------------------------------

#[test]
fn requests_succeed_after_quiet_periods_longer_than_the_accept_timeout() {
    let _serial = serial();
    let running = common::spawn_with(|c| c.http_idle_timeout_ms = 300);
    let addr = running.http_addr;
    assert_eq!(common::get(addr, "/healthz").status, 200);

    for round in 1..=4 {
        // No traffic: the listener's 300 ms SO_RCVTIMEO ends accept() ~3 times.
        std::thread::sleep(Duration::from_secs(1));
        let started = Instant::now();
        let created = common::post(addr, "/entities", &format!(r#"{{"name":"round {round}"}}"#));
        let latency = started.elapsed();
        assert_eq!(
            created.status, 201,
            "round {round}: create after a quiet second"
        );
        assert_eq!(created.json()["id"], round);
        assert!(
            latency < Duration::from_secs(1),
            "round {round}: the first request after a quiet second took {latency:?}"
        );
        let read = common::get(addr, &format!("/entities/{round}"));
        assert_eq!(read.status, 200, "round {round}");
        assert_eq!(read.json()["name"], format!("round {round}"));
    }
    assert_eq!(running.store().len(), 4);
    stop_in_background(running);
}

/// tiny_http 0.12's connection thread pool counts a thread it has just
/// woken as still idle, so a connection accepted right behind another, while
/// no other pool thread is free, is queued behind busy connections; the
/// listener's heartbeat frees a pool thread for it within ~100 ms.
#[test]
fn a_request_is_answered_promptly_when_its_connection_arrives_right_after_an_idle_one() {
    let _serial = serial();
    let running = common::spawn_with(|c| c.http_idle_timeout_ms = 10_000);
    let addr = running.http_addr;

    // Each round: a connection that stays silent, then at once a fresh one
    // with a request. The request must not wait for the silent one to time out.
    let mut silent = Vec::new();
    for round in 0..40 {
        silent.push(TcpStream::connect(addr).expect("connect"));
        let started = Instant::now();
        let mut conn = RawConn::open(
            addr,
            format!("request after idle connection {round}"),
            Duration::from_secs(3),
        );
        conn.send(&request("GET", "/healthz", &["Connection: close"], b""))
            .unwrap();
        let answer = conn.answer();
        let latency = started.elapsed();
        assert!(
            matches!(&answer, Answer::Response(r) if r.status == 200)
                && latency < Duration::from_secs(1),
            "round {round}: a GET on a fresh connection opened right after an idle one \
             ({} idle connections open) got {answer:?} after {latency:?}",
            silent.len()
        );
    }
    drop(silent);
    stop_in_background(running);
}

#[test]
fn stop_returns_promptly_after_the_acceptor_was_replaced_many_times() {
    let _serial = serial();
    // Control: the same traffic without quiet periods, so no replacement.
    let control = common::spawn_with(|c| c.http_threads = Some(8));
    for round in 0..20 {
        assert_eq!(
            quick_get(control.http_addr, "/healthz", Duration::from_secs(3)),
            Some(200),
            "control round {round}"
        );
    }
    stop_within(control, Duration::from_secs(5), "control, no replacement");

    let running = common::spawn_with(|c| {
        c.http_idle_timeout_ms = 50;
        c.http_threads = Some(8);
    });
    let addr = running.http_addr;
    for round in 0..20 {
        // About two accept timeouts, so two acceptor replacements, per round.
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(
            quick_get(addr, "/healthz", Duration::from_secs(3)),
            Some(200),
            "round {round}"
        );
    }
    stop_within(
        running,
        Duration::from_secs(5),
        "after ~40 acceptor replacements",
    );
}

// ---------------------------------------------------------------------------
// 3. Garbage
// ---------------------------------------------------------------------------

#[test]
fn a_battery_of_malformed_requests_leaves_the_service_answering_and_the_data_unchanged() {
    let _serial = serial();
    // Room for a 200 KB nested-JSON body; the chunked body below is larger still.
    let running = common::spawn_with(|c| c.max_body_bytes = 256 * 1024);
    let addr = running.http_addr;
    let seeded = [("alpha", "first"), ("beta", "second"), ("gamma", "third")];
    for (n, (name, description)) in seeded.iter().enumerate() {
        let response = common::post(
            addr,
            "/entities",
            &serde_json::json!({ "name": name, "description": description }).to_string(),
        );
        assert_eq!(response.status, 201);
        assert_eq!(response.json()["id"], n as i64 + 1);
    }

    // Random bytes, and random bytes that look a bit like HTTP.
    let mut prng = Prng(0x9e37_79b9_7f4a_7c15);
    for n in 0..12 {
        let len = 1 + prng.below(4096);
        let bytes: Vec<u8> = (0..len).map(|_| prng.next() as u8).collect();
        let what = format!("random bytes #{n} ({len} bytes)");
        let responses = exchange_until_close(addr, &what, &bytes);
        for response in &responses {
            assert!(response.status >= 400, "{what}: got {}", response.status);
        }
    }
    let fragments: &[&[u8]] = &[
        b"GET",
        b"POST",
        b"PUT",
        b" ",
        b" ",
        b"/",
        b"/entities",
        b"/healthz",
        b"?limit=",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/9.9",
        b"\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b":",
        b": ",
        b"Host",
        b"Content-Length",
        b"Transfer-Encoding: chunked",
        b"0",
        b"99999",
        b"-1",
        b"\r\n\r\n",
        b"{",
        b"}",
        b"\"",
        b"\0",
        b"\xff",
        b"%00",
        b"Connection: close",
    ];
    for n in 0..12 {
        let mut bytes = Vec::new();
        for _ in 0..1 + prng.below(60) {
            bytes.extend_from_slice(fragments[prng.below(fragments.len())]);
        }
        let what = format!(
            "HTTP-like garbage #{n}: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        // Any status, as long as the server answers or closes: some of these
        // happen to be valid GETs. Nothing can be a valid create.
        exchange_until_close(addr, &what, &bytes);
    }

    // A request head without its final CRLF, then EOF; and then a plain close.
    let truncated = b"POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n";
    let responses = exchange_until_close(addr, "truncated head", truncated);
    assert_statuses_within("truncated head", &responses, &[400, 408]);
    {
        let mut conn = RawConn::open(addr, "truncated head, closed", Duration::from_secs(5));
        conn.send(truncated).unwrap();
    }

    // A 100 KB request line, a 100 KB header, 2,000 small headers.
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let response = exchange_one(addr, "100 KB request line", long_line.as_bytes());
    assert_statuses_within("100 KB request line", response.as_slice(), &[400, 414, 431]);
    let long_header = request(
        "GET",
        "/healthz",
        &[&format!("X-Big: {}", "b".repeat(100_000))],
        b"",
    );
    let response = exchange_one(addr, "100 KB header", &long_header);
    assert_statuses_within("100 KB header", response.as_slice(), &[431]);
    let many: Vec<String> = (0..2000).map(|n| format!("X-Many-{n}: {n:040}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let response = exchange_one(
        addr,
        "2000 headers",
        &request("GET", "/healthz", &many, b""),
    );
    assert_statuses_within("2000 headers", response.as_slice(), &[431]);

    // Bodies that are not acceptable JSON: 400 each, on a connection that stays usable.
    let nested = {
        let mut body = "[".repeat(100_000);
        body.push_str(&"]".repeat(100_000));
        body.into_bytes()
    };
    let bad_bodies: [(&str, &[u8]); 5] = [
        ("invalid UTF-8", b"{\"name\":\"\xff\xfe\xfd\"}"),
        ("lone surrogate", br#"{"name":"\ud800"}"#),
        ("lone low surrogate", br#"{"name":"a\udc00b"}"#),
        ("truncated JSON", br#"{"name":"x""#),
        ("JSON nested 100,000 deep", &nested),
    ];
    for (what, body) in bad_bodies {
        let mut conn = RawConn::open(addr, what, Duration::from_secs(10));
        conn.send(&request("POST", "/entities", &[], body)).unwrap();
        let response = conn
            .response()
            .unwrap_or_else(|| panic!("{what}: closed without an answer"));
        assert_eq!(response.status, 400, "{what}: {:?}", response.json());
        assert!(response.json()["error"].is_string(), "{what}");
        conn.send(&request("GET", "/healthz", &[], b"")).unwrap();
        let next = conn.response().expect("the connection is still usable");
        assert_eq!(
            next.status, 200,
            "{what}: the next request on the connection"
        );
    }

    // Ids beyond i64.
    for path in [
        "/entities/99999999999999999999999",
        "/entities/-99999999999999999999999",
        "/entities/9223372036854775808",
        "/99999999999999999999999",
    ] {
        let response = exchange_one(addr, path, &request("GET", path, &[], b""))
            .unwrap_or_else(|| panic!("GET {path}: closed without an answer"));
        assert_eq!(response.status, 400, "GET {path}");
    }

    // A Content-Length larger than the body (tiny_http buffers up to 1 KiB), then EOF.
    let responses = exchange_until_close(
        addr,
        "short body",
        b"POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"name\":\"short\"}",
    );
    assert_statuses_within(
        "Content-Length 500 with a 16-byte body",
        &responses,
        &[400, 408],
    );

    // A chunked body over the limit: 413, and the connection is not left mid-body.
    let big = vec![b'x'; 400_000];
    let mut conn = RawConn::open(addr, "chunked 400 KB", Duration::from_secs(10));
    conn.send(&chunked_post("/entities", &big, 16 * 1024))
        .unwrap();
    let response = conn
        .response()
        .expect("an answer to the oversized chunked body");
    assert_eq!(response.status, 413, "chunked body over max_body_bytes");
    conn.send(&request("GET", "/entities/2", &[], b"")).unwrap();
    let next = conn.response().expect("an answer after the 413");
    assert_eq!(next.status, 200, "the request after a chunked 413");
    assert_eq!(next.json()["name"], "beta");
    drop(conn);

    // Chunk sizes that are not hex or do not fit in 64 bits.
    for (what, bytes) in [
        (
            "chunk size not hex",
            &b"POST /entities HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"[..],
        ),
        (
            "chunk size over 64 bits",
            &b"POST /entities HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n{}\r\n0\r\n\r\n"[..],
        ),
    ] {
        let responses = exchange_until_close(addr, what, bytes);
        assert_statuses_within(what, &responses, &[400, 413]);
    }

    // Pipelined: several requests in one write, answered in order.
    let mut pipelined = Vec::new();
    pipelined.extend(request("GET", "/entities/1", &[], b""));
    pipelined.extend(request("GET", "/entities/2", &[], b""));
    pipelined.extend(request("POST", "/entities", &[], b"{not json"));
    pipelined.extend(request("GET", "/entities/3", &[], b""));
    pipelined.extend(request("GET", "/entities/4", &[], b""));
    pipelined.extend(request("GET", "/entities?limit=2", &[], b""));
    pipelined.extend(request("GET", "/healthz", &["Connection: close"], b""));
    let responses = exchange_until_close(addr, "pipelined", &pipelined);
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 400, 200, 404, 200, 200], "pipelined");
    assert_eq!(responses[0].json()["name"], "alpha");
    assert_eq!(responses[1].json()["name"], "beta");
    assert_eq!(responses[3].json()["name"], "gamma");
    assert_eq!(
        responses[5].json(),
        serde_json::json!([
            {"id": 1, "name": "alpha", "description": "first"},
            {"id": 2, "name": "beta", "description": "second"},
        ])
    );

    // Header lines that are not headers.
    for (what, bytes) in [
        (
            "header without a colon",
            &b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"[..],
        ),
        (
            "non-ASCII header name",
            &b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Caf\xc3\xa9: v\r\n\r\n"[..],
        ),
        (
            "header name with a space",
            &b"GET /healthz HTTP/1.1\r\nHost: x\r\nX Bad: v\r\n\r\n"[..],
        ),
    ] {
        let responses = exchange_until_close(addr, what, bytes);
        assert_statuses_within(what, &responses, &[400]);
    }
    // obs-text in a value is legal HTTP: any answer but a 5xx, or a close.
    let responses = exchange_until_close(
        addr,
        "non-ASCII header value",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n",
    );
    assert_statuses_within("non-ASCII header value", &responses, &[200, 400]);

    // GET with a body: the body is skipped, never read as a request.
    let mut bytes =
        b"GET /entities/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".to_vec();
    bytes.extend(request("GET", "/entities/2", &["Connection: close"], b""));
    let responses = exchange_until_close(addr, "GET with a small body", &bytes);
    let names: Vec<(u16, serde_json::Value)> = responses
        .iter()
        .map(|r| (r.status, r.json()["name"].clone()))
        .collect();
    assert_eq!(
        names,
        [(200, "alpha".into()), (200, "beta".into())],
        "GET with a 5-byte body, then a GET"
    );
    let mut smuggled = request("GET", "/entities/3", &[], b"").repeat(100);
    smuggled.truncate(3000);
    let mut bytes = format!(
        "GET /entities/1 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        smuggled.len()
    )
    .into_bytes();
    bytes.extend(&smuggled);
    bytes.extend(request("GET", "/entities/2", &["Connection: close"], b""));
    let responses = exchange_until_close(addr, "GET with a 3000-byte body", &bytes);
    let names: Vec<(u16, serde_json::Value)> = responses
        .iter()
        .map(|r| (r.status, r.json()["name"].clone()))
        .collect();
    assert_eq!(
        names,
        [(200, "alpha".into()), (200, "beta".into())],
        "GET whose 3000-byte body holds requests, then a GET: the body must not be executed"
    );

    // Absurd, negative and conflicting Content-Lengths.
    for (what, header) in [
        (
            "absurd Content-Length",
            "Content-Length: 99999999999999999999",
        ),
        ("negative Content-Length", "Content-Length: -1"),
        (
            "two Content-Lengths",
            "Content-Length: 5\r\nContent-Length: 17",
        ),
    ] {
        let bytes = format!(
            "POST /entities HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n{{\"name\":\"absurd\"}}"
        );
        let responses = exchange_until_close(addr, what, bytes.as_bytes());
        assert_statuses_within(what, &responses, &[400, 413]);
    }

    // The service answers normally and the data is exactly what it was.
    assert_eq!(common::get(addr, "/healthz").status, 200);
    let list = common::get(addr, "/entities");
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json(),
        serde_json::json!([
            {"id": 1, "name": "alpha", "description": "first"},
            {"id": 2, "name": "beta", "description": "second"},
            {"id": 3, "name": "gamma", "description": "third"},
        ])
    );
    assert_eq!(running.store().len(), 3);
    let client = common::grpc_client(running.grpc_addr);
    let entity = client
        .get_entity_opt(&get_request(3), grpc_opt())
        .expect("gRPC still answers");
    assert_eq!(entity.name, "gamma");
    stop_in_background(running);
}

#[test]
fn a_body_cut_short_of_its_content_length_is_not_stored() {
    let _serial = serial();
    let running = common::spawn();
    let addr = running.http_addr;

    // Over 1 KiB declared, so tiny_http streams the body instead of buffering
    // it; the client sends a complete-looking JSON object and then EOF.
    for declared in [1025, 4096, 60_000] {
        let what = format!("Content-Length {declared} with a 20-byte body, then EOF");
        let bytes = format!(
            "POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n{{\"name\":\"truncated\"}}"
        );
        let responses = exchange_until_close(addr, &what, bytes.as_bytes());
        assert_statuses_within(&what, &responses, &[400, 408]);
        assert_eq!(
            running.store().len(),
            0,
            "{what}: the cut-off body was stored as an entity"
        );
    }
    stop_in_background(running);
}

// ---------------------------------------------------------------------------
// 4. File-descriptor exhaustion
// ---------------------------------------------------------------------------

/// The binary, killed when dropped.
struct ChildGuard {
    child: Child,
    log: std::path::PathBuf,
}

impl ChildGuard {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// User + system CPU time of the process so far.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/PID/stat");
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / per_second)
    }

    fn threads(&self) -> Option<usize> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Starts the binary with RLIMIT_NOFILE = `nofile` (soft and hard).
fn start_binary_with_nofile(nofile: u64, extra: &[&str]) -> (ChildGuard, SocketAddr, SocketAddr) {
    let log = std::env::temp_dir().join(format!(
        "entity-service-hardening-{}-{nofile}.log",
        std::process::id()
    ));
    let mut command = Command::new(BINARY);
    command
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"));
    let limit = nofile as libc::rlim_t;
    // SAFETY: only setrlimit (async-signal-safe) runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = command.spawn().expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut guard = ChildGuard { child, log };
    let mut lines = BufReader::new(stdout).lines();
    let (http, grpc) = common::read_announced_addrs(&mut lines);
    assert!(guard.alive());
    (guard, http, grpc)
}

/// One GET on a fresh connection with a short timeout: the status, or None.
fn quick_get(addr: SocketAddr, path: &str, timeout: Duration) -> Option<u16> {
    let stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    let mut conn = RawConn::from_stream(stream, format!("GET {path}"), timeout);
    conn.send(&request("GET", path, &["Connection: close"], b""))
        .ok()?;
    match conn.answer() {
        Answer::Response(response) => Some(response.status),
        _ => None,
    }
}

/// Keep-alive connections, each answered once and then left idle.
struct Flood {
    held: Vec<RawConn>,
    /// The first connection that was not served (None if connect failed).
    last: Option<RawConn>,
    served: usize,
    /// What happened to the first connection that was not served.
    how: String,
}

/// Opens connections until one is not served (at most 200).
fn flood_until_unserved(child: &mut ChildGuard, http: SocketAddr, nofile: u64) -> Flood {
    let mut held = Vec::new();
    for n in 0..200 {
        let stream = match TcpStream::connect_timeout(&http, Duration::from_secs(2)) {
            Ok(stream) => stream,
            Err(error) => {
                return Flood {
                    held,
                    last: None,
                    served: n,
                    how: format!("connect failed: {error}"),
                }
            }
        };
        let mut conn = RawConn::from_stream(
            stream,
            format!("held connection {n}"),
            Duration::from_millis(1500),
        );
        conn.send(&request("GET", "/healthz", &[], b"")).unwrap();
        match conn.answer() {
            Answer::Response(response) if response.status == 200 => held.push(conn),
            other => {
                return Flood {
                    held,
                    last: Some(conn),
                    served: n,
                    how: format!("{other:?}"),
                }
            }
        }
    }
    panic!(
        "200 connections were all served under RLIMIT_NOFILE={nofile}: the limit did not \
         apply; log:\n{}",
        child.log_tail()
    );
}

/// Where the server ran out of descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exhaustion {
    /// accept() itself failed with EMFILE: the connection waits in the backlog.
    InAccept,
    /// accept() took the last descriptor and tiny_http's dup of the accepted
    /// socket failed: the connection is closed.
    AfterAccept,
}

fn rest_and_grpc_recover_after_the_server_runs_out_of_file_descriptors(wanted: Exhaustion) {
    let _serial = serial();
    // Which limit gives which case depends on the parity of the descriptors
    // in use at start-up: try both.
    let mut tried = Vec::new();
    let (mut child, http, grpc, client, nofile, flood) = loop {
        let nofile = match tried.len() {
            0 => 96,
            1 => 97,
            _ => panic!("neither RLIMIT_NOFILE 96 nor 97 gave {wanted:?}: {tried:?}"),
        };
        let (mut child, http, grpc) =
            start_binary_with_nofile(nofile, &["--http-idle-timeout-ms", "30000"]);

        // Warm up: the REST gateway's gRPC hop and one gRPC connection of ours.
        assert_eq!(
            quick_get(http, "/healthz", Duration::from_secs(5)),
            Some(200),
            "healthz before the flood; log:\n{}",
            child.log_tail()
        );
        let client = separate_grpc_client(grpc);
        let first = client
            .create_entity_opt(&create_request("before", "the flood"), grpc_opt())
            .expect("gRPC create before the flood");
        assert_eq!(first.id, 1);

        let flood = flood_until_unserved(&mut child, http, nofile);
        let got = match flood.how.as_str() {
            "Silent" => Exhaustion::InAccept,
            "Closed" => Exhaustion::AfterAccept,
            other => panic!("nofile={nofile}: unexpected outcome {other}"),
        };
        eprintln!(
            "nofile={nofile}: {} connections served, then one {got:?}; server threads: {:?}",
            flood.served,
            child.threads()
        );
        if got == wanted {
            break (child, http, grpc, client, nofile, flood);
        }
        tried.push((nofile, got));
    };
    let Flood {
        held, last, served, ..
    } = flood;
    assert!(served > 0, "not a single connection was served");
    assert!(
        child.alive(),
        "the service died when it ran out of file descriptors; log:\n{}",
        child.log_tail()
    );

    // Give it a moment in the exhausted state, then free everything.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.alive(),
        "the service died while out of file descriptors; log:\n{}",
        child.log_tail()
    );
    let threads_while_exhausted = child.threads();
    drop(held);
    drop(last);

    // Fresh REST requests succeed again within a few seconds.
    let freed_at = Instant::now();
    let mut last_status = None;
    let recovered = common::wait_until(Duration::from_secs(5), || {
        last_status = quick_get(http, "/healthz", Duration::from_millis(1000));
        last_status == Some(200)
    });
    assert!(
        recovered,
        "REST did not recover within 5 s after the connections were closed \
         (nofile={nofile}, last answer {last_status:?}, threads while exhausted \
         {threads_while_exhausted:?}, now {:?}); log:\n{}",
        child.threads(),
        child.log_tail()
    );
    eprintln!(
        "nofile={nofile}: REST recovered {:?} after the connections were closed",
        freed_at.elapsed()
    );
    let mut conn = RawConn::open(http, "create after recovery", Duration::from_secs(5));
    conn.send(&request("POST", "/entities", &[], br#"{"name":"after"}"#))
        .unwrap();
    let created = conn.response().expect("an answer to the create");
    assert_eq!(created.status, 201, "REST create after recovery");
    assert_eq!(created.json()["id"], 2);

    // The gRPC side answers: on the old connection and on a new one.
    let entity = client
        .get_entity_opt(&get_request(2), grpc_opt())
        .expect("gRPC on the connection opened before the flood");
    assert_eq!(entity.name, "after");
    let fresh = separate_grpc_client(grpc);
    let mut answered = None;
    let grpc_recovered = common::wait_until(Duration::from_secs(5), || {
        answered = Some(fresh.get_entity_opt(&get_request(1), grpc_opt()));
        matches!(answered, Some(Ok(_)))
    });
    assert!(
        grpc_recovered,
        "a new gRPC connection is not served after recovery: {answered:?}"
    );
    assert!(child.alive());
}

#[test]
fn rest_and_grpc_recover_after_accept_fails_with_emfile() {
    rest_and_grpc_recover_after_the_server_runs_out_of_file_descriptors(Exhaustion::InAccept);
}

#[test]
fn rest_and_grpc_recover_after_the_descriptor_after_accept_runs_out() {
    rest_and_grpc_recover_after_the_server_runs_out_of_file_descriptors(Exhaustion::AfterAccept);
}

#[test]
fn while_out_of_file_descriptors_the_rest_acceptor_neither_spins_nor_piles_up_threads() {
    let _serial = serial();
    // Which limit makes accept() itself fail with EMFILE (rather than the
    // descriptor tiny_http dups right after it) depends on the start-up
    // descriptor count's parity: try both.
    for nofile in [96, 97] {
        let (mut child, http, _grpc) =
            start_binary_with_nofile(nofile, &["--http-idle-timeout-ms", "30000"]);
        assert_eq!(
            quick_get(http, "/healthz", Duration::from_secs(5)),
            Some(200)
        );
        let threads_before = child.threads().expect("thread count");
        let flood = flood_until_unserved(&mut child, http, nofile);
        if flood.how != "Silent" {
            eprintln!(
                "nofile={nofile}: not an accept() EMFILE ({}); next limit",
                flood.how
            );
            continue;
        }
        let threads_flooded = child.threads().expect("thread count");
        let cpu_before = child.cpu_time();
        let window = Instant::now();
        std::thread::sleep(Duration::from_secs(2));
        let cpu = child.cpu_time().saturating_sub(cpu_before);
        let wall = window.elapsed();
        let threads_after = child.threads().expect("thread count");
        eprintln!(
            "nofile={nofile}: threads {threads_before} before, {threads_flooded} with {} \
             connections, {threads_after} after {wall:?} out of descriptors; CPU {cpu:?}",
            flood.served
        );
        assert!(
            child.alive(),
            "the service died; log:\n{}",
            child.log_tail()
        );
        // One thread per open connection is expected; more than that is not.
        let allowed = threads_before + flood.served + 50;
        assert!(
            threads_after <= allowed,
            "{threads_after} threads after {wall:?} out of descriptors (had {threads_before} \
             before the flood, {} connections open; allowed {allowed}): the acceptor is being \
             replaced in a loop, each replacement leaving threads behind",
            flood.served
        );
        assert!(
            cpu < wall / 2,
            "the service burnt {cpu:?} of CPU in {wall:?} while out of descriptors and idle"
        );
        return;
    }
    panic!("neither RLIMIT_NOFILE 96 nor 97 made accept() fail with EMFILE");
}

// ---------------------------------------------------------------------------
// 5. A slow watcher under 10k creates
// ---------------------------------------------------------------------------

/// Large enough that the unread stream fills the transport's flow-control
/// windows well before 10k entities, so the watcher's own buffer overflows.
const WATCH_DESCRIPTION_BYTES: usize = 2048;

fn long_call() -> CallOption {
    CallOption::default().timeout(Duration::from_secs(60))
}

/// Opens a watch from the start on a connection of its own.
fn open_watch(
    running: &Running,
) -> (
    EntityServiceClient,
    grpcio::ClientSStreamReceiver<entity_service::proto::entities::Entity>,
) {
    let client = separate_grpc_client(running.grpc_addr);
    let stream = client
        .watch_entities_opt(&watch_request(0), long_call())
        .expect("watch starts");
    (client, stream)
}

/// 10,000 unary creates from 4 threads, each on its own connection; returns how long they took.
fn create_10k_from_4_threads(running: &Running) -> Duration {
    let description = "d".repeat(WATCH_DESCRIPTION_BYTES);
    let started = Instant::now();
    let creators: Vec<_> = (0..4)
        .map(|t| {
            let client = separate_grpc_client(running.grpc_addr);
            let description = description.clone();
            std::thread::spawn(move || {
                for n in 0..2500 {
                    client
                        .create_entity_opt(
                            &create_request(&format!("t{t} n{n}"), &description),
                            grpc_opt(),
                        )
                        .unwrap_or_else(|e| panic!("create t{t} n{n}: {e:?}"));
                }
            })
        })
        .collect();
    for creator in creators {
        creator.join().expect("creator thread");
    }
    started.elapsed()
}

#[test]
fn a_watcher_that_does_not_read_does_not_slow_10k_creates_and_is_cut_off_with_resource_exhausted() {
    let _serial = serial();
    let running = common::spawn();
    let (_slow_client, mut slow) = open_watch(&running);
    assert!(
        common::wait_until(Duration::from_secs(3), || running.store().watcher_count()
            == 1),
        "the watch did not register"
    );

    let took = create_10k_from_4_threads(&running);
    eprintln!("10,000 creates with a stuck watcher took {took:?}");
    assert_eq!(running.store().len(), 10_000);
    assert!(
        took < Duration::from_secs(15),
        "10,000 creates took {took:?} with a watcher that does not read"
    );

    // Dropped from the feed as soon as it fell behind.
    assert!(
        common::wait_until(Duration::from_secs(2), || running.store().watcher_count()
            == 0),
        "the stuck watcher is still registered: {} watchers",
        running.store().watcher_count()
    );

    // Reading it now: a gap-free prefix, then RESOURCE_EXHAUSTED.
    let mut expected: i64 = 1;
    let end = loop {
        assert!(expected <= 10_001, "more entities than were created");
        match block_on(slow.next()) {
            Some(Ok(entity)) => {
                assert_eq!(entity.id, expected, "the stuck watcher's prefix has a gap");
                expected += 1;
            }
            other => break other,
        }
    };
    match end {
        Some(Err(grpcio::Error::RpcFailure(status))) => assert_eq!(
            status.code(),
            RpcStatusCode::RESOURCE_EXHAUSTED,
            "{status:?}"
        ),
        other => panic!(
            "the stuck watcher's stream should end RESOURCE_EXHAUSTED after {} entities, \
             got {other:?}",
            expected - 1
        ),
    }
    assert!(
        expected - 1 < 10_000,
        "a cut-off watcher cannot have received all 10,000"
    );
    eprintln!(
        "stuck watcher: {} entities, then RESOURCE_EXHAUSTED",
        expected - 1
    );
    drop(slow);
    assert_eq!(running.store().watcher_count(), 0);
    stop_in_background(running);
}

#[test]
fn a_reading_watcher_receives_all_10k_concurrent_creates_in_order_beside_a_stuck_one() {
    let _serial = serial();
    let running = common::spawn();
    let (_slow_client, slow) = open_watch(&running);
    let (_reading_client, reading) = open_watch(&running);
    assert!(
        common::wait_until(Duration::from_secs(3), || running.store().watcher_count()
            == 2),
        "expected 2 open watchers, have {}",
        running.store().watcher_count()
    );

    // The reading watcher: every entity, in order, as fast as it can.
    let reader = std::thread::spawn(move || {
        block_on(async move {
            let mut reading = reading;
            let mut ids = Vec::with_capacity(10_000);
            while ids.len() < 10_000 {
                match reading.next().await {
                    Some(Ok(entity)) => ids.push(entity.id),
                    Some(Err(e)) => return (ids, Some(format!("{e:?}")), reading),
                    None => return (ids, Some("stream ended".to_string()), reading),
                }
            }
            (ids, None, reading)
        })
    });

    let took = create_10k_from_4_threads(&running);
    let (ids, error, reading) = reader.join().expect("reader thread");
    eprintln!(
        "10,000 creates took {took:?}; the reading watcher got {} entities",
        ids.len()
    );
    assert_eq!(
        error,
        None,
        "the reading watcher's stream failed after {} of 10,000 entities \
         (creates took {took:?})",
        ids.len()
    );
    assert!(
        ids.iter().copied().eq(1..=10_000),
        "the reading watcher did not get ids 1..=10000 in order"
    );

    // Both streams gone: no watcher left behind.
    drop(reading);
    drop(slow);
    assert!(
        common::wait_until(Duration::from_secs(5), || running.store().watcher_count()
            == 0),
        "{} watcher(s) still registered after both streams ended",
        running.store().watcher_count()
    );
    stop_in_background(running);
}

// ---------------------------------------------------------------------------
// 6. Upstream down, then back
// ---------------------------------------------------------------------------

fn start_upstream_on(port: u16) -> Running {
    let mut last_error = None;
    for _ in 0..30 {
        let started = std::panic::catch_unwind(|| {
            common::spawn_with(|c| c.grpc_addr = format!("127.0.0.1:{port}"))
        });
        match started {
            Ok(running) => return running,
            Err(error) => last_error = Some(error),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("cannot start an upstream on port {port}: {last_error:?}");
}

#[test]
fn the_gateway_answers_503_quickly_while_its_upstream_is_down_and_recovers_when_it_returns() {
    let _serial = serial();
    let port = free_port();
    let upstream = start_upstream_on(port);
    assert_eq!(upstream.grpc_addr.port(), port);
    let gateway = common::spawn_with(|c| c.grpc_upstream = Some(format!("127.0.0.1:{port}")));
    let addr = gateway.http_addr;

    let created = common::post(addr, "/entities", r#"{"name":"first life"}"#);
    assert_eq!(created.status, 201);
    assert_eq!(upstream.store().len(), 1);
    assert_eq!(
        gateway.store().len(),
        0,
        "the gateway's own store is not used"
    );

    stop_within(upstream, Duration::from_secs(10), "the upstream");

    // Down: 503 on every route, well before the 1 s deadline (no 504).
    let down_since = Instant::now();
    let mut rounds = 0;
    while down_since.elapsed() < Duration::from_millis(1500) && rounds < 20 {
        rounds += 1;
        for (method, path, body) in [
            ("POST", "/entities", &br#"{"name":"while down"}"#[..]),
            ("GET", "/entities/1", b""),
            ("GET", "/entities", b""),
            ("GET", "/healthz", b""),
        ] {
            let started = Instant::now();
            let response = common::http(addr, method, path, &[], body);
            let latency = started.elapsed();
            assert_eq!(
                response.status, 503,
                "{method} {path} with the upstream down (round {rounds})"
            );
            assert!(
                latency < Duration::from_millis(900),
                "{method} {path} with the upstream down took {latency:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Back on the same port, without restarting the gateway.
    let upstream = start_upstream_on(port);
    let back_at = Instant::now();
    let mut last = None;
    let recovered = common::wait_until(Duration::from_secs(5), || {
        let response = common::post(addr, "/entities", r#"{"name":"second life"}"#);
        let ok = response.status == 201;
        last = Some(response);
        if !ok {
            std::thread::sleep(Duration::from_millis(90));
        }
        ok
    });
    assert!(
        recovered,
        "the gateway still fails 5 s after the upstream came back: {last:?}"
    );
    eprintln!(
        "gateway recovered {:?} after the upstream came back",
        back_at.elapsed()
    );
    let created = last.unwrap();
    assert_eq!(created.json()["id"], 1, "the new upstream starts empty");
    assert_eq!(upstream.store().len(), 1);
    let read = common::get(addr, "/entities/1");
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["name"], "second life");
    assert_eq!(common::get(addr, "/healthz").status, 200);

    stop_in_background(gateway);
    stop_in_background(upstream);
}

// ---------------------------------------------------------------------------
// 7. Request ids
// ---------------------------------------------------------------------------

#[test]
fn unsafe_request_ids_are_replaced_by_generated_ones_and_cannot_inject_headers() {
    let _serial = serial();
    let running = common::spawn();
    let addr = running.http_addr;

    // Boundaries of the kept length: 128 is kept, 129 and 200 are not.
    let kept = "k".repeat(128);
    let response = exchange_one(
        addr,
        "128-byte id",
        &request("GET", "/healthz", &[&format!("X-Request-Id: {kept}")], b""),
    )
    .expect("an answer");
    assert_eq!(response.header("X-Request-Id"), Some(kept.as_str()));

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "129-byte id",
            format!("X-Request-Id: {}", "a".repeat(129)).into_bytes(),
        ),
        (
            "200-byte id",
            format!("X-Request-Id: {}", "a".repeat(200)).into_bytes(),
        ),
        (
            "bare CR then a header",
            b"X-Request-Id: abc\rX-Injected: evil".to_vec(),
        ),
        (
            "bare LF then a header",
            b"X-Request-Id: abc\nX-Injected: evil".to_vec(),
        ),
        (
            "CR LF CR then a header",
            b"X-Request-Id: abc\r\rX-Injected: evil".to_vec(),
        ),
        ("space", b"X-Request-Id: has space".to_vec()),
        ("semicolon", b"X-Request-Id: semi;colon".to_vec()),
        ("comma", b"X-Request-Id: a,b".to_vec()),
        ("double quote", b"X-Request-Id: quo\"te".to_vec()),
        ("angle brackets", b"X-Request-Id: <script>".to_vec()),
        ("braces", b"X-Request-Id: {x}".to_vec()),
        ("backslash", b"X-Request-Id: back\\slash".to_vec()),
        ("tab", b"X-Request-Id: tab\there".to_vec()),
        ("NUL", b"X-Request-Id: nul\0byte".to_vec()),
        ("DEL", b"X-Request-Id: del\x7fbyte".to_vec()),
    ];
    for (what, header) in cases {
        for path in ["/healthz", "/entities/999"] {
            let mut bytes = format!("GET {path} HTTP/1.1\r\nHost: x\r\n").into_bytes();
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
            let what = format!("{what} on {path}");
            let response = exchange_one(addr, &what, &bytes)
                .unwrap_or_else(|| panic!("{what}: closed without an answer"));
            let expected_status = if path == "/healthz" { 200 } else { 404 };
            assert_eq!(response.status, expected_status, "{what}");
            assert_eq!(
                response.header_count("X-Request-Id"),
                1,
                "{what}: exactly one X-Request-Id"
            );
            let id = response.header("X-Request-Id").unwrap();
            assert!(
                is_generated_id(id),
                "{what}: X-Request-Id {id:?} is not a generated 32-hex-digit id"
            );
            let head = String::from_utf8_lossy(&response.raw_head).to_ascii_lowercase();
            assert!(
                !head.contains("x-injected") && !head.contains("evil"),
                "{what}: injected text in the response head: {head:?}"
            );
        }
    }
    stop_in_background(running);
}
