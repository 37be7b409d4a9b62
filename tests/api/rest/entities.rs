//! Creating and reading one entity: the answers' shapes, ids, the JSON a
//! create accepts, validation and the body limit.

use serde_json::json;

use super::{assert_error, create, created_id, get_json};
use crate::helpers::http::{self, entity_json};
use crate::helpers::TestService;

#[test]
fn create_answers_201_with_id_and_location_and_ids_count_up_from_one() {
    let service = TestService::start();
    let first = http::post(
        service.http_addr,
        "/entities",
        r#"{"name":"alpha","description":"first"}"#,
    );
    assert_eq!(created_id(&first, "first create"), 1);
    let second = http::post(service.http_addr, "/entities", r#"{"name":"beta"}"#);
    assert_eq!(created_id(&second, "second create"), 2);
    assert_eq!(service.store().len(), 2);
}

#[test]
fn get_returns_exactly_id_name_and_description_with_description_defaulting_to_empty() {
    let service = TestService::start();
    let addr = service.http_addr;
    service.seed("alpha", "first one");
    let no_description = http::post(addr, "/entities", r#"{"name":"beta"}"#);
    assert_eq!(created_id(&no_description, "no description"), 2);
    let first = entity_json(1, "alpha", "first one");
    assert_eq!(get_json(addr, "/entities/1"), first);
    assert_eq!(get_json(addr, "/entities/2"), entity_json(2, "beta", ""));
}

#[test]
fn get_of_an_absent_entity_is_404_naming_the_id() {
    let service = TestService::start();
    service.seed("only", "");
    for path in ["/entities/7", "/7"] {
        let response = http::get(service.http_addr, path);
        assert_eq!(
            assert_error(&response, 404, path),
            "entity 7 not found",
            "GET {path}"
        );
    }
}

#[test]
fn get_with_an_id_that_is_not_an_integer_of_at_least_one_is_400() {
    let service = TestService::start();
    let addr = service.http_addr;
    service.seed("one", "");
    let ids = [
        "abc",
        "0",
        "-1",
        "1.5",
        "99999999999999999999",
        "1e3",
        "0x1",
        "+1",
        "01",
        "%2B1",
        "%30%31",
        "%3",
        "%ff",
    ];
    let entity_paths = ids.iter().map(|id| format!("/entities/{id}"));
    // The alias takes numeric-looking segments only; those are checked the same way.
    let alias_paths = ["0", "-1", "+1", "01", "99999999999999999999"]
        .iter()
        .map(|id| format!("/{id}"));
    for path in entity_paths.chain(alias_paths) {
        assert_error(&http::get(addr, &path), 400, &path);
    }
}

#[test]
fn an_id_is_percent_decoded_like_any_path_parameter() {
    let service = TestService::start();
    let addr = service.http_addr;
    service.seed("one", "");
    service.seed("two", "");
    assert_eq!(get_json(addr, "/entities/%31"), entity_json(1, "one", ""));
    assert_eq!(get_json(addr, "/entities/%32"), entity_json(2, "two", ""));
}

#[test]
fn create_parses_json_whatever_the_content_type_like_curl_dash_d() {
    let service = TestService::start();
    let addr = service.http_addr;
    let content_types = [
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=utf-8",
    ];
    for (id, content_type) in (1..).zip(content_types) {
        let body = format!(r#"{{"name":"via {content_type}"}}"#);
        let headers = [("Content-Type", content_type)];
        let response = http::request(addr, "POST", "/entities", &headers, body.as_bytes());
        assert_eq!(created_id(&response, content_type), id);
    }
    // `curl -d @file.json` keeps the file's trailing newline.
    let response = http::post(addr, "/entities", "{\"name\":\"from file\"}\n");
    assert_eq!(created_id(&response, "trailing newline"), 4);
    let got = get_json(addr, "/entities/1");
    assert_eq!(got["name"], "via application/x-www-form-urlencoded");
}

#[test]
fn unicode_and_escaped_characters_round_trip_and_name_limit_counts_characters() {
    let service = TestService::start();
    let addr = service.http_addr;
    let name = "café ☕ \"quoted\" \\ back\nslash 日本";
    let description = "emoji 🦀 and tab\t";
    assert_eq!(create(addr, name, description), 1);
    let got = get_json(addr, "/entities/1");
    assert_eq!(got, entity_json(1, name, description));
    // 256 × "é" (512 bytes) is 256 characters: allowed; 257 are rejected.
    assert_eq!(create(addr, &"é".repeat(256), ""), 2);
    let too_long = json!({ "name": "é".repeat(257) }).to_string();
    let message = assert_error(
        &http::post(addr, "/entities", &too_long),
        400,
        "257-character name",
    );
    assert!(message.contains("257 characters"), "{message}");
}

#[test]
fn rejected_create_bodies_are_400_and_use_no_id() {
    let service = TestService::start();
    let addr = service.http_addr;
    assert_eq!(create(addr, "first", ""), 1);
    let long_name = json!({ "name": "n".repeat(257) }).to_string();
    let longer_name = json!({ "name": "x".repeat(300) }).to_string();
    let long_description = json!({ "name": "x", "description": "d".repeat(4097) }).to_string();
    let bodies: &[(&str, &[u8])] = &[
        ("empty body", b""),
        ("truncated", b"{\"name\":"),
        ("lone brace", b"{"),
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
        ("empty name", b"{\"name\":\"\"}"),
        ("blank name", b"{\"name\":\" \\t\\n \"}"),
        ("257-character name", long_name.as_bytes()),
        ("300-character name", longer_name.as_bytes()),
        ("4097-character description", long_description.as_bytes()),
    ];
    for (what, body) in bodies {
        let response = http::request(addr, "POST", "/entities", &[], body);
        assert_error(&response, 400, what);
    }
    assert_eq!(
        service.store().len(),
        1,
        "a rejected body created something"
    );
    assert_eq!(create(addr, "second", ""), 2, "the next id after rejects");
    assert_error(&http::get(addr, "/entities/3"), 404, "no id 3");
}

#[test]
fn limits_are_inclusive_and_names_are_kept_as_given() {
    let service = TestService::start();
    let addr = service.http_addr;
    assert_eq!(create(addr, &"n".repeat(256), ""), 1);
    assert_eq!(create(addr, "x", &"d".repeat(4096)), 2);
    // Surrounding spaces are part of the name.
    assert_eq!(create(addr, "  padded  ", ""), 3);
    assert_eq!(get_json(addr, "/entities/3")["name"], "  padded  ");
}

#[test]
fn bodies_over_max_body_bytes_are_413_whether_sized_or_chunked() {
    let service = TestService::start_with(|c| c.max_body_bytes = 64);
    let addr = service.http_addr;
    let named = |length: usize| format!(r#"{{"name":"{}"}}"#, "a".repeat(length));
    let (exact, over, chunked_over) = (named(64 - 11), named(65 - 11), named(100));
    assert_eq!((exact.len(), over.len()), (64, 65));
    let big = format!(r#"{{"name":"x","description":"{}"}}"#, "d".repeat(100_000));
    let sized = |body: &str| http::request_bytes("POST", "/entities", &[], body.as_bytes());
    let small_chunks: Vec<&[u8]> = chunked_over.as_bytes().chunks(10).collect();
    // (what, request, status: 201 means the next id is created)
    let cases: [(&str, Vec<u8>, u16); 6] = [
        ("64 bytes with Content-Length", sized(&exact), 201),
        ("65 bytes with Content-Length", sized(&over), 413),
        ("100 kB with Content-Length", sized(&big), 413),
        (
            "chunked within the limit",
            http::chunked_post("/entities", &[], &[b"{\"name\":", b"\"chunky\"}"]),
            201,
        ),
        (
            "one chunk over the limit",
            http::chunked_post("/entities", &[], &[chunked_over.as_bytes()]),
            413,
        ),
        (
            "many small chunks over the limit",
            http::chunked_post("/entities", &[], &small_chunks),
            413,
        ),
    ];
    let mut created = Vec::new();
    for (what, request, status) in &cases {
        let response = http::exchange_one(addr, what, request)
            .unwrap_or_else(|| panic!("{what}: closed without an answer"));
        if *status == 201 {
            created.push(created_id(&response, what));
        } else {
            assert_error(&response, *status, what);
        }
    }
    assert_eq!(created, vec![1, 2]);
    assert_eq!(service.store().len(), 2);
    assert_eq!(get_json(addr, "/entities/2")["name"], "chunky");
}
