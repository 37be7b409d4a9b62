//! The REST/JSON contract, through real HTTP against the whole service
//! started in-process on port 0: routes and aliases, validation, limits,
//! request ids, auth, keep-alive, both backends, and upstream failures.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{HttpConnection, HttpResponse};
use entity_service::validation::NewEntity;
use entity_service::{BackendKind, Running};
use serde_json::{json, Value};

const BACKENDS: [BackendKind; 2] = [BackendKind::Grpc, BackendKind::Direct];
const TOKEN: &str = "s3cret";
const GOOD_AUTH: (&str, &str) = ("Authorization", "Bearer s3cret");

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn spawn_backend(backend: BackendKind) -> Running {
    common::spawn_with(|c| c.backend = backend)
}

fn body_text(response: &HttpResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// Every response: JSON body, exactly one `Content-Type: application/json`,
/// and a non-empty `X-Request-Id`.
fn assert_json_response(response: &HttpResponse, context: &str) -> Value {
    let content_types: Vec<&str> = response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Type"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        content_types,
        vec!["application/json"],
        "{context}: Content-Type headers of {} {:?}",
        response.status,
        body_text(response)
    );
    let request_id = response.header("X-Request-Id").unwrap_or("");
    assert!(
        !request_id.is_empty(),
        "{context}: no X-Request-Id on {} {:?}",
        response.status,
        response.headers
    );
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "{context}: body of {} is not JSON ({e}): {:?}",
            response.status,
            body_text(response)
        )
    })
}

/// An error response: this status, JSON `{"error": non-empty string}`.
fn assert_error(response: &HttpResponse, status: u16, context: &str) -> String {
    assert_eq!(
        response.status,
        status,
        "{context}: status (body {:?})",
        body_text(response)
    );
    let body = assert_json_response(response, context);
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("{context}: error body is not an object: {body}"));
    assert_eq!(object.len(), 1, "{context}: error body {body}");
    let message = object
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{context}: no string \"error\" in {body}"));
    assert!(!message.trim().is_empty(), "{context}: empty error message");
    message.to_string()
}

/// POST /entities with a JSON body; asserts 201 and returns the id.
fn create(addr: SocketAddr, name: &str, description: &str) -> i64 {
    let body = json!({ "name": name, "description": description }).to_string();
    let response = common::post(addr, "/entities", &body);
    created_id(&response, "create")
}

/// Asserts a 201 `{"id": n}` with `Location: /entities/n`, returns n.
fn created_id(response: &HttpResponse, context: &str) -> i64 {
    assert_eq!(
        response.status,
        201,
        "{context}: status (body {:?})",
        body_text(response)
    );
    let body = assert_json_response(response, context);
    let id = body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{context}: no integer id in {body}"));
    assert_eq!(body, json!({ "id": id }), "{context}: created body");
    assert_eq!(
        response.header("Location"),
        Some(format!("/entities/{id}").as_str()),
        "{context}: Location"
    );
    id
}

fn entity_json(id: i64, name: &str, description: &str) -> Value {
    json!({ "id": id, "name": name, "description": description })
}

/// Adds entities straight to the store (fast setup for list tests).
fn seed_store(running: &Running, count: usize) {
    for i in 1..=count {
        let new = NewEntity::validate(format!("e{i}"), String::new()).unwrap();
        running.store().create(new);
    }
}

fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|e| e["id"].as_i64().expect("integer id"))
        .collect()
}

/// A raw request with a chunked body, split into these chunks.
fn chunked_request(path: &str, headers: &[(&str, &str)], chunks: &[&[u8]]) -> Vec<u8> {
    let mut bytes = format!("POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n")
        .into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    for chunk in chunks {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

/// A raw connection reading response heads and bodies on our own terms
/// (HEAD responses, `100 Continue` interim responses).
struct RawConnection {
    reader: BufReader<TcpStream>,
}

impl RawConnection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Status line and headers, or None when the connection closed or timed out.
    fn read_head(&mut self) -> Option<(u16, Vec<(String, String)>)> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                return Some((status, headers));
            }
            let (name, value) = line.split_once(':')?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }

    /// A full response with a Content-Length body.
    fn read_response(&mut self) -> Option<HttpResponse> {
        let (status, headers) = self.read_head()?;
        let mut response = HttpResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(length) = response.header("Content-Length") {
            let mut body = vec![0; length.parse().ok()?];
            self.reader.read_exact(&mut body).ok()?;
            response.body = body;
        }
        Some(response)
    }
}

/// A TCP listener that accepts connections and never says a word.
struct SilentUpstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentUpstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Create and get
// ---------------------------------------------------------------------------

#[test]
fn create_answers_201_with_id_and_location_and_ids_count_up_from_one() {
    let running = common::spawn();
    let first = common::post(
        running.http_addr,
        "/entities",
        r#"{"name":"alpha","description":"first"}"#,
    );
    assert_eq!(created_id(&first, "first create"), 1);
    let second = common::post(running.http_addr, "/entities", r#"{"name":"beta"}"#);
    assert_eq!(created_id(&second, "second create"), 2);
    assert_eq!(running.store().len(), 2);
    running.stop();
}

#[test]
fn get_returns_exactly_id_name_and_description_with_description_defaulting_to_empty() {
    let running = common::spawn();
    let addr = running.http_addr;
    create(addr, "alpha", "first one");
    assert_eq!(
        created_id(
            &common::post(addr, "/entities", r#"{"name":"beta"}"#),
            "no description"
        ),
        2
    );
    let one = common::get(addr, "/entities/1");
    assert_eq!(one.status, 200);
    assert_eq!(
        assert_json_response(&one, "get 1"),
        entity_json(1, "alpha", "first one")
    );
    let two = common::get(addr, "/entities/2");
    assert_eq!(two.status, 200);
    assert_eq!(
        assert_json_response(&two, "get 2"),
        entity_json(2, "beta", "")
    );
    running.stop();
}

#[test]
fn get_of_an_absent_entity_is_404_naming_the_id() {
    let running = common::spawn();
    create(running.http_addr, "only", "");
    let response = common::get(running.http_addr, "/entities/7");
    let message = assert_error(&response, 404, "GET /entities/7");
    assert_eq!(message, "entity 7 not found");
    let alias = common::get(running.http_addr, "/7");
    assert_eq!(assert_error(&alias, 404, "GET /7"), "entity 7 not found");
    running.stop();
}

#[test]
fn get_with_an_id_that_is_not_an_integer_of_at_least_one_is_400() {
    let running = common::spawn();
    let addr = running.http_addr;
    create(addr, "one", "");
    for id in [
        "abc",
        "0",
        "-1",
        "1.5",
        "99999999999999999999",
        "1e3",
        "0x1",
    ] {
        let path = format!("/entities/{id}");
        assert_error(&common::get(addr, &path), 400, &path);
    }
    // The alias takes numeric-looking segments only; those are checked the same way.
    for id in ["0", "-1", "99999999999999999999"] {
        let path = format!("/{id}");
        assert_error(&common::get(addr, &path), 400, &path);
    }
    running.stop();
}

#[test]
fn create_parses_json_whatever_the_content_type_like_curl_dash_d() {
    let running = common::spawn();
    let addr = running.http_addr;
    for (i, content_type) in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=utf-8",
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(r#"{{"name":"via {content_type}"}}"#);
        let response = common::http(
            addr,
            "POST",
            "/entities",
            &[("Content-Type", content_type)],
            body.as_bytes(),
        );
        assert_eq!(created_id(&response, content_type), i as i64 + 1);
    }
    // `curl -d @file.json` keeps the file's trailing newline.
    let response = common::post(addr, "/entities", "{\"name\":\"from file\"}\n");
    assert_eq!(created_id(&response, "trailing newline"), 4);
    let got = common::get(addr, "/entities/1");
    assert_eq!(
        assert_json_response(&got, "get 1")["name"],
        "via application/x-www-form-urlencoded"
    );
    running.stop();
}

#[test]
fn unicode_and_escaped_characters_round_trip_and_name_limit_counts_characters() {
    let running = common::spawn();
    let addr = running.http_addr;
    let name = "café ☕ \"quoted\" \\ back\nslash 日本";
    let description = "emoji 🦀 and tab\t";
    assert_eq!(create(addr, name, description), 1);
    let got = common::get(addr, "/entities/1");
    assert_eq!(
        assert_json_response(&got, "unicode get"),
        entity_json(1, name, description)
    );
    // 256 × "é" (512 bytes) is 256 characters: allowed; 257 are rejected.
    assert_eq!(create(addr, &"é".repeat(256), ""), 2);
    let too_long = json!({ "name": "é".repeat(257) }).to_string();
    let message = assert_error(
        &common::post(addr, "/entities", &too_long),
        400,
        "257-character name",
    );
    assert!(message.contains("257 characters"), "{message}");
    running.stop();
}

// ---------------------------------------------------------------------------
// Bad bodies and validation
// ---------------------------------------------------------------------------

#[test]
fn malformed_or_mistyped_create_bodies_are_400() {
    let running = common::spawn();
    let addr = running.http_addr;
    let bodies: &[(&str, &[u8])] = &[
        ("empty body", b""),
        ("truncated", b"{\"name\":"),
        ("not json", b"name=x"),
        ("trailing garbage", b"{\"name\":\"x\"} extra"),
        ("array", b"[{\"name\":\"x\"}]"),
        ("string", b"\"x\""),
        ("number", b"42"),
        ("null", b"null"),
        ("empty object", b"{}"),
        ("description only", b"{\"description\":\"d\"}"),
        ("name null", b"{\"name\":null}"),
        ("name number", b"{\"name\":1}"),
        ("name array", b"{\"name\":[\"x\"]}"),
        ("description bool", b"{\"name\":\"x\",\"description\":true}"),
        ("description number", b"{\"name\":\"x\",\"description\":3}"),
        ("invalid utf-8", b"{\"name\":\"\xff\xfe\"}"),
    ];
    for (what, body) in bodies {
        let response = common::http(addr, "POST", "/entities", &[], body);
        assert_error(&response, 400, what);
    }
    assert_eq!(
        running.store().len(),
        0,
        "no rejected body created anything"
    );
    running.stop();
}

#[test]
fn validation_failures_are_400_and_limits_are_inclusive() {
    let running = common::spawn();
    let addr = running.http_addr;
    let rejected = [
        ("empty name", json!({ "name": "" })),
        ("blank name", json!({ "name": " \t\n " })),
        ("257-character name", json!({ "name": "n".repeat(257) })),
        (
            "4097-character description",
            json!({ "name": "x", "description": "d".repeat(4097) }),
        ),
    ];
    for (what, body) in &rejected {
        let response = common::post(addr, "/entities", &body.to_string());
        assert_error(&response, 400, what);
    }
    assert_eq!(create(addr, &"n".repeat(256), ""), 1);
    assert_eq!(create(addr, "x", &"d".repeat(4096)), 2);
    // Names are kept as given, surrounding spaces included.
    assert_eq!(create(addr, "  padded  ", ""), 3);
    let got = common::get(addr, "/entities/3");
    assert_eq!(assert_json_response(&got, "padded")["name"], "  padded  ");
    running.stop();
}

#[test]
fn rejected_creates_use_no_id() {
    let running = common::spawn();
    let addr = running.http_addr;
    assert_eq!(create(addr, "first", ""), 1);
    assert_error(
        &common::post(addr, "/entities", r#"{"name":"  "}"#),
        400,
        "blank",
    );
    assert_error(&common::post(addr, "/entities", "{"), 400, "malformed");
    assert_error(
        &common::post(addr, "/entities", r#"{"name":7}"#),
        400,
        "wrong type",
    );
    let long = json!({ "name": "x".repeat(300) }).to_string();
    assert_error(&common::post(addr, "/entities", &long), 400, "too long");
    assert_eq!(create(addr, "second", ""), 2);
    assert_error(&common::get(addr, "/entities/3"), 404, "no id 3");
    running.stop();
}

#[test]
fn body_over_max_body_bytes_with_content_length_is_413_and_at_the_limit_is_accepted() {
    let running = common::spawn_with(|c| c.max_body_bytes = 64);
    let addr = running.http_addr;
    let exact = format!(r#"{{"name":"{}"}}"#, "a".repeat(64 - 11));
    assert_eq!(exact.len(), 64);
    assert_eq!(
        created_id(&common::post(addr, "/entities", &exact), "64 bytes"),
        1
    );
    let over = format!(r#"{{"name":"{}"}}"#, "a".repeat(65 - 11));
    assert_eq!(over.len(), 65);
    assert_error(&common::post(addr, "/entities", &over), 413, "65 bytes");
    let big = format!(r#"{{"name":"x","description":"{}"}}"#, "d".repeat(100_000));
    assert_error(&common::post(addr, "/entities", &big), 413, "100 kB");
    assert_eq!(running.store().len(), 1);
    running.stop();
}

#[test]
fn chunked_body_over_max_body_bytes_is_413_and_within_it_is_accepted() {
    let running = common::spawn_with(|c| c.max_body_bytes = 64);
    let addr = running.http_addr;

    let mut ok = HttpConnection::open(addr);
    ok.send_raw(&chunked_request(
        "/entities",
        &[],
        &[b"{\"name\":", b"\"chunky\"}"],
    ));
    assert_eq!(created_id(&ok.read_response(), "chunked within limit"), 1);

    let over = format!(r#"{{"name":"{}"}}"#, "a".repeat(100));
    let mut one_chunk = HttpConnection::open(addr);
    one_chunk.send_raw(&chunked_request("/entities", &[], &[over.as_bytes()]));
    assert_error(&one_chunk.read_response(), 413, "one large chunk");

    let pieces: Vec<&[u8]> = over.as_bytes().chunks(10).collect();
    let mut many_chunks = HttpConnection::open(addr);
    many_chunks.send_raw(&chunked_request("/entities", &[], &pieces));
    assert_error(&many_chunks.read_response(), 413, "many small chunks");

    assert_eq!(running.store().len(), 1);
    let got = common::get(addr, "/entities/1");
    assert_eq!(assert_json_response(&got, "get")["name"], "chunky");
    running.stop();
}

// ---------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------

#[test]
fn list_on_an_empty_store_is_an_empty_array() {
    let running = common::spawn();
    let response = common::get(running.http_addr, "/entities");
    assert_eq!(response.status, 200);
    assert_eq!(assert_json_response(&response, "empty list"), json!([]));
    running.stop();
}

#[test]
fn list_returns_full_entities_in_id_order_with_a_default_limit_of_100() {
    let running = common::spawn();
    let addr = running.http_addr;
    let mut connection = HttpConnection::open(addr);
    for i in 1..=105 {
        let body = json!({ "name": format!("n{i}"), "description": format!("d{i}") }).to_string();
        let response = connection.request("POST", "/entities", &[], body.as_bytes());
        assert_eq!(created_id(&response, "seed"), i);
    }
    for path in ["/entities", "/entities?", "/entities?start_id=&limit="] {
        let response = common::get(addr, path);
        assert_eq!(response.status, 200, "{path}");
        let list = assert_json_response(&response, path);
        assert_eq!(ids_of(&list), (1..=100).collect::<Vec<_>>(), "{path}");
        assert_eq!(list[0], entity_json(1, "n1", "d1"), "{path}");
        assert_eq!(list[99], entity_json(100, "n100", "d100"), "{path}");
    }
    running.stop();
}

#[test]
fn list_start_id_and_limit_select_a_window() {
    let running = common::spawn();
    let addr = running.http_addr;
    seed_store(&running, 20);
    let cases: &[(&str, Vec<i64>)] = &[
        ("/entities?start_id=5&limit=3", vec![5, 6, 7]),
        ("/entities?limit=3&start_id=5", vec![5, 6, 7]),
        ("/entities?start_id=18", vec![18, 19, 20]),
        ("/entities?start_id=18&limit=10", vec![18, 19, 20]),
        ("/entities?start_id=21", vec![]),
        ("/entities?start_id=9223372036854775807", vec![]),
        ("/entities?start_id=0&limit=2", vec![1, 2]),
        ("/entities?start_id=-5&limit=2", vec![1, 2]),
        ("/entities?start_id=&limit=2", vec![1, 2]),
        ("/entities?start_id=19&limit=", vec![19, 20]),
        ("/entities?limit=1", vec![1]),
        ("/entities?unrelated=x&limit=2", vec![1, 2]),
    ];
    for (path, expected) in cases {
        let response = common::get(addr, path);
        assert_eq!(response.status, 200, "{path}: {}", body_text(&response));
        let list = assert_json_response(&response, path);
        assert_eq!(&ids_of(&list), expected, "{path}");
    }
    let window = assert_json_response(&common::get(addr, "/entities?start_id=5&limit=1"), "w");
    assert_eq!(window, json!([entity_json(5, "e5", "")]));
    running.stop();
}

#[test]
fn list_limit_of_1000_is_the_largest_accepted() {
    let running = common::spawn();
    let addr = running.http_addr;
    seed_store(&running, 1002);
    let response = common::get(addr, "/entities?limit=1000");
    assert_eq!(response.status, 200, "{}", body_text(&response));
    let list = assert_json_response(&response, "limit=1000");
    assert_eq!(ids_of(&list), (1..=1000).collect::<Vec<_>>());
    running.stop();
}

#[test]
fn list_with_zero_too_large_negative_or_non_numeric_parameters_is_400() {
    let running = common::spawn();
    let addr = running.http_addr;
    seed_store(&running, 3);
    for query in [
        "limit=0",
        "limit=1001",
        "limit=5000",
        "limit=4294967295",
        "limit=4294967296",
        "limit=99999999999999999999",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=10x",
        "start_id=abc",
        "start_id=1.5",
        "start_id=2&limit=0",
    ] {
        let path = format!("/entities?{query}");
        assert_error(&common::get(addr, &path), 400, &path);
    }
    running.stop();
}

// ---------------------------------------------------------------------------
// Routes, aliases and methods
// ---------------------------------------------------------------------------

#[test]
fn seed_aliases_post_root_creates_and_get_numeric_root_reads() {
    let running = common::spawn();
    let addr = running.http_addr;
    let response = common::post(addr, "/", r#"{"name":"via root","description":"alias"}"#);
    assert_eq!(created_id(&response, "POST /"), 1);
    assert_eq!(create(addr, "via entities", ""), 2);
    let got = common::get(addr, "/1");
    assert_eq!(got.status, 200);
    assert_eq!(
        assert_json_response(&got, "GET /1"),
        entity_json(1, "via root", "alias")
    );
    let got = common::get(addr, "/2");
    assert_eq!(got.status, 200);
    assert_eq!(
        assert_json_response(&got, "GET /2"),
        entity_json(2, "via entities", "")
    );
    assert_error(
        &common::post(addr, "/", r#"{"name":""}"#),
        400,
        "POST / blank",
    );
    running.stop();
}

#[test]
fn get_root_is_405_allowing_post() {
    let running = common::spawn();
    let response = common::get(running.http_addr, "/");
    assert_error(&response, 405, "GET /");
    assert_eq!(response.header("Allow"), Some("POST"));
    running.stop();
}

#[test]
fn wrong_methods_on_known_paths_are_405_with_allow() {
    let running = common::spawn();
    let addr = running.http_addr;
    create(addr, "x", "");
    let cases = [
        ("PUT", "/entities", "GET, POST"),
        ("DELETE", "/entities", "GET, POST"),
        ("PATCH", "/entities", "GET, POST"),
        ("POST", "/entities/1", "GET"),
        ("PUT", "/entities/1", "GET"),
        ("DELETE", "/entities/1", "GET"),
        ("PATCH", "/entities/1", "GET"),
        ("POST", "/1", "GET"),
        ("PUT", "/1", "GET"),
        ("DELETE", "/1", "GET"),
        ("PUT", "/", "POST"),
        ("DELETE", "/", "POST"),
    ];
    for (method, path, allow) in cases {
        let context = format!("{method} {path}");
        let response = common::http(addr, method, path, &[], b"{\"name\":\"y\"}");
        assert_error(&response, 405, &context);
        assert_eq!(response.header("Allow"), Some(allow), "{context}");
    }
    assert_eq!(running.store().len(), 1, "no 405 changed the store");
    running.stop();
}

#[test]
fn unknown_paths_are_404() {
    let running = common::spawn();
    let addr = running.http_addr;
    create(addr, "x", "");
    for path in [
        "/nope",
        "/entities/1/x",
        "/entities/",
        "/entity/1",
        "/favicon.ico",
        "/1/2",
        "/entitiesx",
    ] {
        assert_error(&common::get(addr, path), 404, path);
    }
    assert_error(
        &common::post(addr, "/nope", r#"{"name":"x"}"#),
        404,
        "POST /nope",
    );
    assert_eq!(running.store().len(), 1);
    running.stop();
}

#[test]
fn head_requests_get_headers_without_a_body_and_keep_the_connection_usable() {
    let running = common::spawn();
    let addr = running.http_addr;
    create(addr, "x", "");
    for path in ["/entities/1", "/entities", "/1"] {
        let mut raw = RawConnection::open(addr);
        // HEAD then GET, pipelined: if the HEAD response carried a body, the
        // next status line would not be where the GET's answer starts.
        raw.write(
            format!(
                "HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\nGET /entities/1 HTTP/1.1\r\nHost: t\r\n\r\n"
            )
            .as_bytes(),
        );
        let (status, headers) = raw.read_head().expect("HEAD answered");
        let head = HttpResponse {
            status,
            headers,
            body: Vec::new(),
        };
        assert!(
            status == 200 || (status == 405 && head.header("Allow").is_some()),
            "HEAD {path}: {status} {:?}",
            head.headers
        );
        assert_eq!(head.header("Content-Type"), Some("application/json"));
        assert!(head.header("X-Request-Id").is_some_and(|v| !v.is_empty()));
        let get = raw.read_response().expect("GET after HEAD answered");
        assert_eq!(get.status, 200, "GET after HEAD {path}");
        assert_eq!(get.json(), entity_json(1, "x", ""));
    }
    running.stop();
}

#[test]
fn http_1_0_requests_are_answered() {
    let running = common::spawn();
    let addr = running.http_addr;
    create(addr, "old client", "");
    let mut raw = RawConnection::open(addr);
    raw.write(b"GET /entities/1 HTTP/1.0\r\n\r\n");
    let response = raw.read_response().expect("HTTP/1.0 answered");
    assert_eq!(response.status, 200);
    assert_eq!(
        assert_json_response(&response, "HTTP/1.0"),
        entity_json(1, "old client", "")
    );
    running.stop();
}

// ---------------------------------------------------------------------------
// Response format and request ids
// ---------------------------------------------------------------------------

#[test]
fn every_response_success_or_error_is_json_with_request_id() {
    let running = common::spawn_with(|c| c.max_body_bytes = 128);
    let addr = running.http_addr;
    let big = vec![b'x'; 200];
    let requests: Vec<(&str, &str, &[u8], u16)> = vec![
        ("POST", "/entities", b"{\"name\":\"a\"}", 201),
        ("GET", "/entities/1", b"", 200),
        ("GET", "/1", b"", 200),
        ("GET", "/entities", b"", 200),
        ("GET", "/entities/2", b"", 404),
        ("GET", "/nope", b"", 404),
        ("GET", "/entities/abc", b"", 400),
        ("GET", "/entities?limit=0", b"", 400),
        ("POST", "/entities", b"{", 400),
        ("POST", "/entities", &big, 413),
        ("DELETE", "/entities/1", b"", 405),
        ("GET", "/", b"", 405),
    ];
    for (method, path, body, status) in requests {
        let context = format!("{method} {path}");
        let response = common::http(addr, method, path, &[], body);
        if status >= 400 {
            assert_error(&response, status, &context);
        } else {
            assert_eq!(response.status, status, "{context}");
            assert_json_response(&response, &context);
        }
    }
    running.stop();
}

#[test]
fn a_safe_client_request_id_is_echoed_on_success_and_errors() {
    let running = common::spawn();
    let addr = running.http_addr;
    let ids = ["abc-123", "req.42_x:y/z=1@host", &"r".repeat(128)];
    for id in ids {
        let created = common::http(
            addr,
            "POST",
            "/entities",
            &[("X-Request-Id", id)],
            b"{\"name\":\"x\"}",
        );
        assert_eq!(created.status, 201);
        assert_eq!(created.header("X-Request-Id"), Some(id));
        let missing = common::http(addr, "GET", "/entities/999", &[("X-Request-Id", id)], b"");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.header("X-Request-Id"), Some(id));
    }
    // The header name is case-insensitive.
    let lower = common::http(
        addr,
        "GET",
        "/entities/1",
        &[("x-request-id", "lower-1")],
        b"",
    );
    assert_eq!(lower.header("X-Request-Id"), Some("lower-1"));
    running.stop();
}

#[test]
fn a_missing_request_id_is_generated_fresh_for_each_request() {
    let running = common::spawn();
    let addr = running.http_addr;
    let first = common::get(addr, "/entities");
    let second = common::get(addr, "/entities");
    let a = first
        .header("X-Request-Id")
        .expect("generated id")
        .to_string();
    let b = second
        .header("X-Request-Id")
        .expect("generated id")
        .to_string();
    assert!(!a.is_empty() && !b.is_empty());
    assert_ne!(a, b, "two requests got the same generated id");
    running.stop();
}

#[test]
fn an_unsafe_request_id_is_replaced() {
    let running = common::spawn();
    let addr = running.http_addr;
    let unsafe_ids = [
        "has space".to_string(),
        "r".repeat(129),
        "<script>".to_string(),
        "semi;colon".to_string(),
        "quote\"d".to_string(),
    ];
    for id in &unsafe_ids {
        let response = common::http(addr, "GET", "/entities", &[("X-Request-Id", id)], b"");
        assert_eq!(response.status, 200, "{id:?}");
        let echoed = response.header("X-Request-Id").expect("an id");
        assert_ne!(echoed, id, "unsafe id echoed");
        assert!(!echoed.is_empty());
        assert!(
            echoed.len() <= 128 && echoed.bytes().all(|b| b.is_ascii_alphanumeric()),
            "replacement {echoed:?} for {id:?}"
        );
    }
    running.stop();
}

#[test]
fn request_id_is_on_404_405_400_413_and_401_responses() {
    let running = common::spawn_with(|c| {
        c.max_body_bytes = 32;
        c.auth_token = Some(TOKEN.into());
    });
    let addr = running.http_addr;
    let big = vec![b'x'; 100];
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8], u16);
    let cases: Vec<Case> = vec![
        ("GET", "/entities/5", &[GOOD_AUTH], b"", 404),
        ("GET", "/nope", &[GOOD_AUTH], b"", 404),
        ("PUT", "/entities", &[GOOD_AUTH], b"", 405),
        ("GET", "/entities/0", &[GOOD_AUTH], b"", 400),
        ("POST", "/entities", &[GOOD_AUTH], b"[]", 400),
        ("POST", "/entities", &[GOOD_AUTH], &big, 413),
        ("GET", "/entities/1", &[], b"", 401),
    ];
    for (i, (method, path, headers, body, status)) in cases.into_iter().enumerate() {
        let id = format!("err-{i}");
        let context = format!("{method} {path} -> {status}");
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("X-Request-Id", &id));
        let response = common::http(addr, method, path, &all, body);
        assert_error(&response, status, &context);
        assert_eq!(
            response.header("X-Request-Id"),
            Some(id.as_str()),
            "{context}"
        );
        // And a generated one without the header.
        let response = common::http(addr, method, path, headers, body);
        assert_error(&response, status, &context);
    }
    running.stop();
}

// ---------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------

#[test]
fn without_a_valid_token_every_entity_route_is_401_with_www_authenticate() {
    for backend in BACKENDS {
        let running = common::spawn_with(|c| {
            c.backend = backend;
            c.auth_token = Some(TOKEN.into());
        });
        let addr = running.http_addr;
        let bad_headers: [&[(&str, &str)]; 7] = [
            &[],
            &[("Authorization", "Bearer wrong")],
            &[("Authorization", "Bearer s3cre")],
            &[("Authorization", "Bearer s3cret2")],
            &[("Authorization", "Basic s3cret")],
            &[("Authorization", "s3cret")],
            &[("Authorization", "Bearer")],
        ];
        let routes: [(&str, &str, &[u8]); 5] = [
            ("POST", "/entities", b"{\"name\":\"x\"}"),
            ("POST", "/", b"{\"name\":\"x\"}"),
            ("GET", "/entities", b""),
            ("GET", "/entities/1", b""),
            ("GET", "/1", b""),
        ];
        for headers in bad_headers {
            for (method, path, body) in routes {
                let context = format!("{backend:?} {method} {path} with {headers:?}");
                let response = common::http(addr, method, path, headers, body);
                assert_error(&response, 401, &context);
                assert_eq!(
                    response.header("WWW-Authenticate"),
                    Some("Bearer"),
                    "{context}"
                );
            }
        }
        assert_eq!(running.store().len(), 0, "{backend:?}: a 401 created");
        running.stop();
    }
}

#[test]
fn auth_is_checked_before_404_400_405_and_413() {
    let running = common::spawn_with(|c| {
        c.auth_token = Some(TOKEN.into());
        c.max_body_bytes = 32;
    });
    let addr = running.http_addr;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(100));
    // (method, path, body, the answer it gets with the token)
    let cases: [(&str, &str, &[u8], u16); 8] = [
        ("GET", "/entities/7", b"", 404),
        ("GET", "/7", b"", 404),
        ("GET", "/entities/abc", b"", 400),
        ("GET", "/entities?limit=0", b"", 400),
        ("POST", "/entities", b"{not json", 400),
        ("POST", "/entities", big.as_bytes(), 413),
        ("DELETE", "/entities/1", b"", 405),
        ("GET", "/", b"", 405),
    ];
    for (method, path, body, with_token) in cases {
        let context = format!("{method} {path} without token");
        let response = common::http(addr, method, path, &[], body);
        assert_error(&response, 401, &context);
        assert_eq!(response.header("WWW-Authenticate"), Some("Bearer"));
        // With the token, the request gets its real answer.
        let response = common::http(addr, method, path, &[GOOD_AUTH], body);
        assert_error(
            &response,
            with_token,
            &format!("{method} {path} with token"),
        );
    }
    // Chunked over-limit bodies too.
    let mut connection = HttpConnection::open(addr);
    connection.send_raw(&chunked_request("/entities", &[], &[big.as_bytes()]));
    assert_error(
        &connection.read_response(),
        401,
        "chunked big without token",
    );
    running.stop();
}

#[test]
fn the_correct_token_works_on_every_route_in_both_backends() {
    for backend in BACKENDS {
        let running = common::spawn_with(|c| {
            c.backend = backend;
            c.auth_token = Some(TOKEN.into());
        });
        let addr = running.http_addr;
        let auth = [GOOD_AUTH];
        let created = common::http(addr, "POST", "/entities", &auth, b"{\"name\":\"a\"}");
        assert_eq!(
            created_id(&created, &format!("{backend:?} POST /entities")),
            1
        );
        let created = common::http(addr, "POST", "/", &auth, b"{\"name\":\"b\"}");
        assert_eq!(created_id(&created, &format!("{backend:?} POST /")), 2);
        for (path, expected) in [
            ("/entities/1", entity_json(1, "a", "")),
            ("/2", entity_json(2, "b", "")),
            (
                "/entities?limit=10",
                json!([entity_json(1, "a", ""), entity_json(2, "b", "")]),
            ),
        ] {
            let response = common::http(addr, "GET", path, &auth, b"");
            assert_eq!(response.status, 200, "{backend:?} GET {path}");
            assert_eq!(assert_json_response(&response, path), expected);
        }
        // The scheme is case-insensitive.
        let lower = common::http(
            addr,
            "GET",
            "/entities/1",
            &[("Authorization", "bearer s3cret")],
            b"",
        );
        assert_eq!(lower.status, 200, "{backend:?} lowercase scheme");
        running.stop();
    }
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

#[test]
fn keep_alive_answers_several_requests_in_order() {
    let running = common::spawn();
    let mut connection = HttpConnection::open(running.http_addr);
    for i in 1..=5i64 {
        let id = format!("ka-post-{i}");
        let body = json!({ "name": format!("k{i}") }).to_string();
        let response = connection.request(
            "POST",
            "/entities",
            &[("X-Request-Id", &id)],
            body.as_bytes(),
        );
        assert_eq!(created_id(&response, &id), i);
        assert_eq!(response.header("X-Request-Id"), Some(id.as_str()));
        let id = format!("ka-get-{i}");
        let response = connection.request(
            "GET",
            &format!("/entities/{i}"),
            &[("X-Request-Id", &id)],
            b"",
        );
        assert_eq!(response.status, 200);
        assert_eq!(response.header("X-Request-Id"), Some(id.as_str()));
        assert_eq!(response.json(), entity_json(i, &format!("k{i}"), ""));
    }
    running.stop();
}

#[test]
fn keep_alive_connection_survives_error_responses() {
    let running = common::spawn_with(|c| c.max_body_bytes = 64);
    let mut connection = HttpConnection::open(running.http_addr);
    let big = vec![b'x'; 1000];
    assert_error(&connection.request("GET", "/nope", &[], b""), 404, "404");
    assert_error(
        &connection.request("DELETE", "/entities", &[], b""),
        405,
        "405",
    );
    assert_error(
        &connection.request("POST", "/entities", &[], b"{"),
        400,
        "400",
    );
    assert_error(
        &connection.request("POST", "/entities", &[], &big),
        413,
        "413",
    );
    assert_error(
        &connection.request("GET", "/entities/1", &[], b""),
        404,
        "404 id",
    );
    let created = connection.request("POST", "/entities", &[], b"{\"name\":\"after\"}");
    assert_eq!(created_id(&created, "create after errors"), 1);
    running.stop();
}

#[test]
fn after_a_chunked_413_the_connection_is_not_left_mid_body() {
    // A keep-alive client that sends an over-limit chunked body and then
    // another request must get a proper answer to it (or a clean close),
    // never a response to the rest of the rejected body.
    let running = common::spawn_with(|c| c.max_body_bytes = 64);
    let mut connection = HttpConnection::open(running.http_addr);
    let over = format!(r#"{{"name":"{}"}}"#, "a".repeat(100));
    let mut bytes = chunked_request("/entities", &[], &[over.as_bytes(), b"  "]);
    bytes.extend_from_slice(b"GET /entities HTTP/1.1\r\nHost: t\r\n\r\n");
    connection.send_raw(&bytes);
    assert_error(&connection.read_response(), 413, "chunked 413");
    if let Some(next) = connection.try_read_response() {
        assert_eq!(next.status, 200, "next request: {:?}", body_text(&next));
        assert_eq!(assert_json_response(&next, "list after 413"), json!([]));
    }
    running.stop();
}

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let running = common::spawn();
    let addr = running.http_addr;
    create(addr, "one", "");
    create(addr, "two", "");
    let mut connection = HttpConnection::open(addr);
    let requests = "GET /entities/2 HTTP/1.1\r\nHost: t\r\nX-Request-Id: p-1\r\n\r\n\
                    GET /entities/9 HTTP/1.1\r\nHost: t\r\nX-Request-Id: p-2\r\n\r\n\
                    GET /entities/1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: p-3\r\n\r\n";
    connection.send_raw(requests.as_bytes());
    let first = connection.read_response();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("X-Request-Id"), Some("p-1"));
    assert_eq!(first.json(), entity_json(2, "two", ""));
    let second = connection.read_response();
    assert_eq!(
        assert_error(&second, 404, "pipelined 404"),
        "entity 9 not found"
    );
    assert_eq!(second.header("X-Request-Id"), Some("p-2"));
    let third = connection.read_response();
    assert_eq!(third.status, 200);
    assert_eq!(third.header("X-Request-Id"), Some("p-3"));
    assert_eq!(third.json(), entity_json(1, "one", ""));

    // Two pipelined creates: each answer's Location names its own entity.
    let mut bytes = Vec::new();
    for name in ["p-a", "p-b"] {
        let body = json!({ "name": name }).to_string();
        bytes.extend_from_slice(
            format!(
                "POST /entities HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    connection.send_raw(&bytes);
    for name in ["p-a", "p-b"] {
        let id = created_id(&connection.read_response(), name);
        assert!(id == 3 || id == 4, "{name}: id {id}");
        let got = common::get(addr, &format!("/entities/{id}"));
        assert_eq!(got.json()["name"], name);
    }
    running.stop();
}

#[test]
fn expect_100_continue_gets_continue_then_the_created_answer() {
    let running = common::spawn();
    let addr = running.http_addr;
    let body = br#"{"name":"patient client"}"#;
    let mut raw = RawConnection::open(addr);
    raw.write(
        format!(
            "POST /entities HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let (status, _) = raw.read_head().expect("an interim answer before the body");
    assert_eq!(status, 100, "expected 100 Continue before sending the body");
    raw.write(body);
    let response = raw.read_response().expect("final answer");
    assert_eq!(created_id(&response, "after 100-continue"), 1);

    // A client that sends the body without waiting (as curl does after its
    // wait times out) gets the created answer too, after any interim 100.
    let mut raw = RawConnection::open(addr);
    raw.write(
        format!(
            "POST /entities HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    raw.write(body);
    let mut response = raw.read_response().expect("answer");
    if response.status == 100 {
        response = raw.read_response().expect("final answer");
    }
    assert_eq!(created_id(&response, "eager 100-continue"), 2);
    running.stop();
}

#[test]
fn expect_100_continue_with_an_oversized_length_is_413_without_the_body() {
    let running = common::spawn_with(|c| c.max_body_bytes = 1024);
    let mut raw = RawConnection::open(running.http_addr);
    let started = Instant::now();
    raw.write(
        b"POST /entities HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
    );
    let response = raw.read_response().expect("an answer without the body");
    assert_error(&response, 413, "oversized Expect");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(raw);
    assert_eq!(running.store().len(), 0);
    running.stop();
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

#[test]
fn concurrent_posts_from_four_threads_get_ids_1_to_400_all_readable() {
    let running = common::spawn();
    let addr = running.http_addr;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut connection = HttpConnection::open(addr);
                let mut mine = Vec::new();
                for i in 0..100 {
                    let name = format!("t{t}-{i}");
                    let body = json!({ "name": name }).to_string();
                    let response = connection.request("POST", "/entities", &[], body.as_bytes());
                    mine.push((created_id(&response, &name), name));
                }
                mine
            })
        })
        .collect();
    let mut by_id = BTreeMap::new();
    for thread in threads {
        for (id, name) in thread.join().expect("poster thread") {
            assert!(by_id.insert(id, name).is_none(), "id {id} given twice");
        }
    }
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        (1..=400).collect::<Vec<_>>()
    );
    let list = common::get(addr, "/entities?limit=1000");
    assert_eq!(list.status, 200);
    let list = assert_json_response(&list, "list all");
    assert_eq!(ids_of(&list), (1..=400).collect::<Vec<_>>());
    for entity in list.as_array().unwrap() {
        let id = entity["id"].as_i64().unwrap();
        assert_eq!(entity["name"], by_id[&id], "entity {id}");
    }
    let mut connection = HttpConnection::open(addr);
    for id in [1, 137, 400] {
        let got = connection.request("GET", &format!("/entities/{id}"), &[], b"");
        assert_eq!(got.status, 200);
        assert_eq!(got.json()["name"], by_id[&id]);
    }
    running.stop();
}

// ---------------------------------------------------------------------------
// Backends and upstreams
// ---------------------------------------------------------------------------

#[test]
fn both_backends_give_the_same_answers_to_the_same_requests() {
    let over_limit = format!(r#"{{"name":"{}"}}"#, "x".repeat(10_000));
    let long_name = json!({ "name": "n".repeat(257) }).to_string();
    let long_description = json!({ "name": "x", "description": "d".repeat(4097) }).to_string();
    let unicode = json!({ "name": "ünïcødé ☕", "description": "日本" }).to_string();
    // (method, path, body, expected status)
    let script: Vec<(&str, &str, &[u8], u16)> = vec![
        ("GET", "/entities", b"", 200),
        ("GET", "/entities/1", b"", 404),
        ("GET", "/1", b"", 404),
        ("POST", "/entities", b"{\"name\":\"a\"}", 201),
        ("POST", "/", b"{\"name\":\"b\",\"description\":\"d\"}", 201),
        ("POST", "/entities", b"{\"name\":\"\"}", 400),
        ("POST", "/entities", b"{\"name\":\"   \"}", 400),
        ("POST", "/entities", long_name.as_bytes(), 400),
        ("POST", "/entities", long_description.as_bytes(), 400),
        ("POST", "/entities", b"{", 400),
        ("POST", "/entities", b"[]", 400),
        ("POST", "/entities", b"{\"name\":1}", 400),
        (
            "POST",
            "/entities",
            b"{\"name\":\"x\",\"description\":false}",
            400,
        ),
        ("POST", "/entities", over_limit.as_bytes(), 413),
        ("POST", "/entities", unicode.as_bytes(), 201),
        ("GET", "/entities/3", b"", 200),
        ("GET", "/3", b"", 200),
        ("GET", "/entities/4", b"", 404),
        ("GET", "/entities/0", b"", 400),
        ("GET", "/entities/-1", b"", 400),
        ("GET", "/entities/abc", b"", 400),
        ("GET", "/entities/99999999999999999999", b"", 400),
        ("GET", "/entities", b"", 200),
        ("GET", "/entities?start_id=2&limit=1", b"", 200),
        ("GET", "/entities?start_id=-3&limit=1000", b"", 200),
        ("GET", "/entities?start_id=-3&limit=5000", b"", 400),
        ("GET", "/entities?start_id=&limit=", b"", 200),
        ("GET", "/entities?start_id=10", b"", 200),
        ("GET", "/entities?limit=0", b"", 400),
        ("GET", "/entities?limit=x", b"", 400),
        ("GET", "/entities?start_id=x", b"", 400),
        ("PUT", "/entities", b"", 405),
        ("DELETE", "/entities/1", b"", 405),
        ("POST", "/1", b"{\"name\":\"x\"}", 405),
        ("GET", "/", b"", 405),
        ("GET", "/nope", b"", 404),
        ("GET", "/entities/1/x", b"", 404),
        ("POST", "/entities", b"{\"name\":\"last\"}", 201),
    ];
    let mut transcripts = Vec::new();
    for backend in BACKENDS {
        let running = common::spawn_with(|c| {
            c.backend = backend;
            c.max_body_bytes = 8192;
        });
        let mut connection = HttpConnection::open(running.http_addr);
        let mut transcript = Vec::new();
        for (method, path, body, status) in &script {
            let context = format!("{backend:?} {method} {path}");
            let response = connection.request(method, path, &[], body);
            assert_eq!(
                response.status,
                *status,
                "{context}: {}",
                body_text(&response)
            );
            let json = assert_json_response(&response, &context);
            transcript.push((
                format!("{method} {path}"),
                response.status,
                json,
                response.header("Location").map(str::to_string),
                response.header("Allow").map(str::to_string),
            ));
        }
        running.stop();
        transcripts.push(transcript);
    }
    let (grpc, direct) = (&transcripts[0], &transcripts[1]);
    for (g, d) in grpc.iter().zip(direct) {
        assert_eq!(g, d, "grpc (left) and direct (right) differ");
    }
    // Spot-check the shared answers are the right ones.
    assert_eq!(grpc[15].2, entity_json(3, "ünïcødé ☕", "日本"));
    assert_eq!(grpc[37].2, json!({ "id": 4 }));
}

#[test]
fn grpc_upstream_sends_rest_creates_to_the_other_instances_store() {
    let upstream = common::spawn();
    let gateway = common::spawn_with(|c| c.grpc_upstream = Some(upstream.grpc_addr.to_string()));
    let created = common::post(
        gateway.http_addr,
        "/entities",
        r#"{"name":"remote","description":"lives upstream"}"#,
    );
    assert_eq!(created_id(&created, "create via gateway"), 1);
    assert_eq!(upstream.store().len(), 1, "upstream store");
    assert_eq!(gateway.store().len(), 0, "gateway's own store");

    let expected = entity_json(1, "remote", "lives upstream");
    let via_upstream_rest = common::get(upstream.http_addr, "/entities/1");
    assert_eq!(via_upstream_rest.status, 200);
    assert_eq!(via_upstream_rest.json(), expected);
    let via_gateway_rest = common::get(gateway.http_addr, "/entities/1");
    assert_eq!(via_gateway_rest.status, 200);
    assert_eq!(via_gateway_rest.json(), expected);

    let client = common::grpc_client(upstream.grpc_addr);
    let mut request = entity_service::proto::entities::GetEntityRequest::new();
    request.id = 1;
    let entity = client.get_entity(&request).expect("upstream gRPC get");
    assert_eq!((entity.id, entity.name.as_str()), (1, "remote"));

    // Entities created upstream directly are what the gateway lists.
    create(upstream.http_addr, "second", "");
    let list = common::get(gateway.http_addr, "/entities");
    assert_eq!(ids_of(&list.json()), vec![1, 2]);
    assert_eq!(gateway.store().len(), 0);
    gateway.stop();
    upstream.stop();
}

#[test]
fn an_upstream_that_never_answers_gives_504_after_the_deadline() {
    let silent = SilentUpstream::start();
    let running = common::spawn_with(|c| {
        c.grpc_upstream = Some(silent.addr.to_string());
        c.deadline_ms = 300;
    });
    let addr = running.http_addr;
    for (method, path, body) in [
        ("POST", "/entities", &b"{\"name\":\"x\"}"[..]),
        ("GET", "/entities/1", b""),
    ] {
        let started = Instant::now();
        let response = common::http(addr, method, path, &[], body);
        let elapsed = started.elapsed();
        assert_error(
            &response,
            504,
            &format!("{method} {path} (answered after {elapsed:?})"),
        );
        assert!(
            elapsed >= Duration::from_millis(250),
            "{method} {path} answered before the deadline: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "{method} {path} took {elapsed:?}"
        );
    }
    running.stop();
    drop(silent);
}

#[test]
fn a_closed_upstream_port_gives_503_quickly() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let running = common::spawn_with(|c| {
        c.grpc_upstream = Some(format!("127.0.0.1:{port}"));
        c.deadline_ms = 5000;
    });
    let addr = running.http_addr;
    for (method, path, body) in [
        ("POST", "/entities", &b"{\"name\":\"x\"}"[..]),
        ("GET", "/entities/1", b""),
        ("GET", "/entities", b""),
    ] {
        let started = Instant::now();
        let response = common::http(addr, method, path, &[], body);
        let elapsed = started.elapsed();
        assert_error(&response, 503, &format!("{method} {path}"));
        assert!(
            elapsed < Duration::from_secs(2),
            "{method} {path} took {elapsed:?}"
        );
    }
    running.stop();
}

#[test]
fn direct_backend_reads_the_store_the_grpc_server_writes() {
    let running = spawn_backend(BackendKind::Direct);
    let addr = running.http_addr;
    assert_eq!(create(addr, "direct", "d"), 1);
    let client = common::grpc_client(running.grpc_addr);
    let entity = client
        .create_entity(&common::create_request("via grpc", ""))
        .expect("gRPC create");
    assert_eq!(entity.id, 2);
    let list = common::get(addr, "/entities");
    assert_eq!(
        list.json(),
        json!([
            entity_json(1, "direct", "d"),
            entity_json(2, "via grpc", "")
        ])
    );
    running.stop();
}
