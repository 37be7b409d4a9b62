//! Which request reaches which route: the seed's aliases (`POST /`,
//! `GET /{id}`), 405 with `Allow` for a wrong method, 404 for an unknown
//! path, HEAD, and HTTP/1.0 clients.

use super::{assert_error, assert_json_response, create, created_id, get_json};
use crate::helpers::http::{self, entity_json};
use crate::helpers::TestService;

#[test]
fn seed_aliases_post_root_creates_and_get_numeric_root_reads() {
    let service = TestService::start();
    let addr = service.http_addr;
    let response = http::post(addr, "/", r#"{"name":"via root","description":"alias"}"#);
    assert_eq!(created_id(&response, "POST /"), 1);
    assert_eq!(create(addr, "via entities", ""), 2);
    assert_eq!(get_json(addr, "/1"), entity_json(1, "via root", "alias"));
    assert_eq!(get_json(addr, "/2"), entity_json(2, "via entities", ""));
    assert_error(
        &http::post(addr, "/", r#"{"name":""}"#),
        400,
        "POST / blank",
    );
}

#[test]
fn wrong_methods_on_known_paths_are_405_with_allow() {
    let service = TestService::start();
    let addr = service.http_addr;
    service.seed("x", "");
    // (path, its Allow, the methods it does not allow)
    let cases: [(&str, &str, &[&str]); 4] = [
        ("/", "POST", &["GET", "PUT", "DELETE"]),
        ("/entities", "GET, POST", &["PUT", "DELETE", "PATCH"]),
        ("/entities/1", "GET", &["POST", "PUT", "DELETE", "PATCH"]),
        ("/1", "GET", &["POST", "PUT", "DELETE"]),
    ];
    for (path, allow, methods) in cases {
        for method in methods {
            let context = format!("{method} {path}");
            let response = http::request(addr, method, path, &[], b"{\"name\":\"y\"}");
            assert_error(&response, 405, &context);
            assert_eq!(response.header("Allow"), Some(allow), "{context}");
        }
    }
    assert_eq!(service.store().len(), 1, "no 405 changed the store");
}

#[test]
fn unknown_paths_are_404() {
    let service = TestService::start();
    let addr = service.http_addr;
    service.seed("x", "");
    for path in [
        "/nope",
        "/entities/1/x",
        "/entities/",
        "/entity/1",
        "/favicon.ico",
        "/1/2",
        "/entitiesx",
    ] {
        assert_error(&http::get(addr, path), 404, path);
    }
    assert_error(
        &http::post(addr, "/nope", r#"{"name":"x"}"#),
        404,
        "POST /nope",
    );
    assert_eq!(service.store().len(), 1);
}

#[test]
fn head_requests_get_headers_without_a_body_and_keep_the_connection_usable() {
    let service = TestService::start();
    service.seed("x", "");
    for path in ["/entities/1", "/entities", "/1"] {
        let mut connection =
            http::Connection::open(service.http_addr).named(format!("HEAD {path}"));
        // HEAD then GET, pipelined: if the HEAD answer carried a body, the
        // next status line would not be where the GET's answer starts.
        let mut bytes = http::request_bytes("HEAD", path, &[], b"");
        bytes.extend(http::request_bytes("GET", "/entities/1", &[], b""));
        connection.send_raw(&bytes);
        let head = connection.read_head().expect("HEAD answered");
        assert!(
            head.status == 200 || (head.status == 405 && head.header("Allow").is_some()),
            "HEAD {path}: {} {:?}",
            head.status,
            head.headers
        );
        assert_eq!(head.header("Content-Type"), Some("application/json"));
        assert!(head.header("X-Request-Id").is_some_and(|v| !v.is_empty()));
        let get = connection.read_response();
        assert_eq!(get.status, 200, "GET after HEAD {path}");
        assert_eq!(get.json(), entity_json(1, "x", ""));
    }
}

#[test]
fn http_1_0_requests_are_answered() {
    let service = TestService::start();
    service.seed("old client", "");
    let mut connection = http::Connection::open(service.http_addr).named("HTTP/1.0");
    connection.send_raw(b"GET /entities/1 HTTP/1.0\r\n\r\n");
    let response = connection.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(
        assert_json_response(&response, "HTTP/1.0"),
        entity_json(1, "old client", "")
    );
}
