//! Hostile HTTP: garbage, oversized heads, bodies that are not JSON, and
//! broken framing. The service answers or closes each connection, never
//! hangs, stores nothing, and serves on.

use std::net::SocketAddr;

use serde_json::Value;

use crate::helpers::grpc::{self, call_options, get_request};
use crate::helpers::http::{self, entity_json, exchange_one, exchange_until_close, request_bytes};
use crate::helpers::TestService;

/// The entities stored before the battery; it must leave them unchanged.
const SEEDED: [(&str, &str); 3] = [("alpha", "first"), ("beta", "second"), ("gamma", "third")];

/// Every response is one of `allowed` (the server may also just close).
#[track_caller]
fn assert_statuses_within(what: &str, responses: &[http::Response], allowed: &[u16]) {
    for response in responses {
        assert!(
            allowed.contains(&response.status),
            "{what}: got {} (allowed: {allowed:?} or a closed connection); body {:?}",
            response.status,
            response.text()
        );
    }
}

/// The first `count` seeded entities as the REST API lists them.
fn seeded_json(count: usize) -> Value {
    SEEDED
        .iter()
        .take(count)
        .zip(1..)
        .map(|((name, description), id)| entity_json(id, name, description))
        .collect()
}

#[test]
fn a_battery_of_malformed_requests_leaves_the_service_answering_and_the_data_unchanged() {
    // Room for a 200 KB nested-JSON body; the chunked body is larger still.
    let service = TestService::start_with(|c| c.max_body_bytes = 256 * 1024);
    for (name, description) in SEEDED {
        service.seed(name, description);
    }
    let addr = service.http_addr;

    send_garbage(addr);
    send_broken_heads_and_framing(addr);
    send_ids_beyond_i64(addr);
    send_bodies_that_are_not_json(addr);
    send_a_chunked_body_over_the_limit(addr);
    send_pipelined_requests(addr);
    send_gets_with_bodies(addr);

    // The service answers normally and the data is exactly what it was.
    assert_eq!(http::get(addr, "/healthz").status, 200);
    let list = http::get(addr, "/entities");
    assert_eq!(list.status, 200);
    assert_eq!(list.json(), seeded_json(3));
    assert_eq!(service.store().len(), 3);
    let entity = grpc::entity_client(service.grpc_addr)
        .get_entity_opt(&get_request(3), call_options())
        .expect("gRPC still answers");
    assert_eq!(entity.name, "gamma");
}

/// Random bytes, and random bytes that look a bit like HTTP: any answer
/// (some are valid GETs) or a close, never a hang; none can be a create.
fn send_garbage(addr: SocketAddr) {
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    for n in 0..12 {
        let len = 1 + rng.usize(..4096);
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let what = format!("random bytes #{n} ({len} bytes)");
        for response in exchange_until_close(addr, &what, &bytes) {
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
        for _ in 0..1 + rng.usize(..60) {
            bytes.extend_from_slice(fragments[rng.usize(..fragments.len())]);
        }
        let what = format!(
            "HTTP-like garbage #{n}: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        exchange_until_close(addr, &what, &bytes);
    }
}

/// Heads that are cut off, too large or not HTTP, and bodies whose framing
/// is broken: each gets one of the statuses listed, or a close.
fn send_broken_heads_and_framing(addr: SocketAddr) {
    // A request head without its final CRLF, then EOF.
    let truncated: &[u8] = b"POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n";
    let post_with = |header: &str| {
        format!("POST /entities HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n{{\"name\":\"absurd\"}}")
            .into_bytes()
    };
    let chunked = |size: &str| {
        let head = "POST /entities HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        format!("{head}{size}\r\n{{}}\r\n0\r\n\r\n").into_bytes()
    };
    let until_close: [(&str, Vec<u8>, &[u16]); 10] = [
        ("truncated head", truncated.to_vec(), &[400, 408]),
        ("chunk size not hex", chunked("zz"), &[400, 413]),
        (
            "chunk size over 64 bits",
            chunked("fffffffffffffffffffff"),
            &[400, 413],
        ),
        (
            "header without a colon",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "non-ASCII header name",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Caf\xc3\xa9: v\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "header name with a space",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX Bad: v\r\n\r\n".to_vec(),
            &[400],
        ),
        // obs-text in a value is legal HTTP: any answer but a 5xx, or a close.
        (
            "non-ASCII header value",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n".to_vec(),
            &[200, 400],
        ),
        (
            "absurd Content-Length",
            post_with("Content-Length: 99999999999999999999"),
            &[400, 413],
        ),
        (
            "negative Content-Length",
            post_with("Content-Length: -1"),
            &[400, 413],
        ),
        (
            "two Content-Lengths",
            post_with("Content-Length: 5\r\nContent-Length: 17"),
            &[400, 413],
        ),
    ];
    for (what, bytes, allowed) in until_close {
        let responses = exchange_until_close(addr, what, &bytes);
        assert_statuses_within(what, &responses, allowed);
    }
    // The truncated head again, and then the client just goes away.
    http::Connection::open(addr).send_raw(truncated);

    let big = "b".repeat(100_000);
    let many: Vec<(String, String)> = (0..2000)
        .map(|n| (format!("X-Many-{n}"), format!("{n:040}")))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    let oversized: [(&str, Vec<u8>, &[u16]); 3] = [
        (
            "100 KB request line",
            request_bytes("GET", &format!("/{}", "a".repeat(100_000)), &[], b""),
            &[400, 414, 431],
        ),
        (
            "100 KB header",
            request_bytes("GET", "/healthz", &[("X-Big", big.as_str())], b""),
            &[431],
        ),
        (
            "2000 headers",
            request_bytes("GET", "/healthz", &many, b""),
            &[431],
        ),
    ];
    for (what, bytes, allowed) in oversized {
        let response = exchange_one(addr, what, &bytes);
        assert_statuses_within(what, response.as_slice(), allowed);
    }
}

/// Ids beyond i64: a 400 each.
fn send_ids_beyond_i64(addr: SocketAddr) {
    for path in [
        "/entities/99999999999999999999999",
        "/entities/-99999999999999999999999",
        "/entities/9223372036854775808",
        "/99999999999999999999999",
    ] {
        let response = exchange_one(addr, path, &request_bytes("GET", path, &[], b""))
            .unwrap_or_else(|| panic!("GET {path}: closed without an answer"));
        assert_eq!(response.status, 400, "GET {path}");
    }
}

/// Bodies that are not acceptable JSON: a 400 each, on a connection that
/// stays usable.
fn send_bodies_that_are_not_json(addr: SocketAddr) {
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bad_bodies: [(&str, &[u8]); 5] = [
        ("invalid UTF-8", b"{\"name\":\"\xff\xfe\xfd\"}"),
        ("lone surrogate", br#"{"name":"\ud800"}"#),
        ("lone low surrogate", br#"{"name":"a\udc00b"}"#),
        ("truncated JSON", br#"{"name":"x""#),
        ("JSON nested 100,000 deep", nested.as_bytes()),
    ];
    for (what, body) in bad_bodies {
        let mut connection = http::Connection::open(addr).named(what);
        let response = connection.request("POST", "/entities", &[], body);
        assert_eq!(response.status, 400, "{what}: {:?}", response.text());
        assert!(response.json()["error"].is_string(), "{what}");
        let next = connection.request("GET", "/healthz", &[], b"");
        assert_eq!(
            next.status, 200,
            "{what}: the next request on the connection"
        );
    }
}

/// A chunked body over the limit: 413, and the connection is not left
/// mid-body.
fn send_a_chunked_body_over_the_limit(addr: SocketAddr) {
    let big = vec![b'x'; 400_000];
    let chunks: Vec<&[u8]> = big.chunks(16 * 1024).collect();
    let mut connection = http::Connection::open(addr).named("chunked 400 KB");
    connection.send_raw(&http::chunked_post("/entities", &[], &chunks));
    let response = connection.read_response();
    assert_eq!(response.status, 413, "chunked body over max_body_bytes");
    let next = connection.request("GET", "/entities/2", &[], b"");
    assert_eq!(next.status, 200, "the request after a chunked 413");
    assert_eq!(next.json()["name"], "beta");
}

/// Several requests in one write, one of them a bad create: answered in order.
fn send_pipelined_requests(addr: SocketAddr) {
    let requests = [
        ("GET", "/entities/1", &b""[..]),
        ("GET", "/entities/2", b""),
        ("POST", "/entities", b"{not json"),
        ("GET", "/entities/3", b""),
        ("GET", "/entities/4", b""),
        ("GET", "/entities?limit=2", b""),
    ];
    let mut pipelined: Vec<u8> = requests
        .iter()
        .flat_map(|(method, path, body)| request_bytes(method, path, &[], body))
        .collect();
    pipelined.extend(request_bytes(
        "GET",
        "/healthz",
        &[("Connection", "close")],
        b"",
    ));
    let responses = exchange_until_close(addr, "pipelined", &pipelined);
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 400, 200, 404, 200, 200], "pipelined");
    assert_eq!(responses[0].json()["name"], "alpha");
    assert_eq!(responses[1].json()["name"], "beta");
    assert_eq!(responses[3].json()["name"], "gamma");
    assert_eq!(responses[5].json(), seeded_json(2));
}

/// A GET's body is skipped, never read as a request, even when it holds
/// requests.
fn send_gets_with_bodies(addr: SocketAddr) {
    let mut smuggled = request_bytes("GET", "/entities/3", &[], b"").repeat(100);
    smuggled.truncate(3000);
    let cases: [(&str, &[u8]); 2] = [
        ("GET with a 5-byte body", b"hello"),
        ("GET whose 3000-byte body holds requests", &smuggled),
    ];
    for (what, body) in cases {
        let mut bytes = request_bytes("GET", "/entities/1", &[], body);
        bytes.extend(request_bytes(
            "GET",
            "/entities/2",
            &[("Connection", "close")],
            b"",
        ));
        let names: Vec<(u16, Value)> = exchange_until_close(addr, what, &bytes)
            .iter()
            .map(|r| (r.status, r.json()["name"].clone()))
            .collect();
        assert_eq!(
            names,
            [(200, "alpha".into()), (200, "beta".into())],
            "{what}, then a GET: the body must not be executed"
        );
    }
}

#[test]
fn a_body_cut_short_of_its_content_length_is_not_stored() {
    let service = TestService::start();
    // tiny_http buffers a body of up to 1 KiB and streams a larger one; the
    // client sends a complete-looking JSON object and then EOF.
    for declared in [500, 1025, 4096, 60_000] {
        let what = format!("Content-Length {declared} with a 20-byte body, then EOF");
        let bytes = format!(
            "POST /entities HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n{{\"name\":\"truncated\"}}"
        );
        let responses = exchange_until_close(service.http_addr, &what, bytes.as_bytes());
        assert_statuses_within(&what, &responses, &[400, 408]);
        assert_eq!(
            service.store().len(),
            0,
            "{what}: the cut-off body was stored as an entity"
        );
    }
}
