//! `GET /entities`: entities in id order from `max(start_id, 1)`, at most
//! `limit` (default 100, 1–1000); any other parameter value is a 400.

use serde_json::json;

use super::{assert_error, created_id, get_json, ids_of};
use crate::helpers::http::{self, entity_json};
use crate::helpers::TestService;

/// Stores entities `e1`…`e{count}` (ids 1…count) straight into the store.
fn seed_numbered(service: &TestService, count: i64) {
    for i in 1..=count {
        assert_eq!(service.seed(&format!("e{i}"), ""), i);
    }
}

#[test]
fn list_on_an_empty_store_is_an_empty_array() {
    let service = TestService::start();
    assert_eq!(get_json(service.http_addr, "/entities"), json!([]));
}

#[test]
fn list_returns_full_entities_in_id_order_with_a_default_limit_of_100() {
    let service = TestService::start();
    let addr = service.http_addr;
    let mut connection = http::Connection::open(addr);
    for i in 1..=105 {
        let body = json!({ "name": format!("n{i}"), "description": format!("d{i}") }).to_string();
        let response = connection.request("POST", "/entities", &[], body.as_bytes());
        assert_eq!(created_id(&response, "seed"), i);
    }
    for path in ["/entities", "/entities?", "/entities?start_id=&limit="] {
        let list = get_json(addr, path);
        assert_eq!(ids_of(&list), (1..=100).collect::<Vec<_>>(), "{path}");
        assert_eq!(list[0], entity_json(1, "n1", "d1"), "{path}");
        assert_eq!(list[99], entity_json(100, "n100", "d100"), "{path}");
    }
}

#[test]
fn list_start_id_and_limit_select_a_window_of_at_most_1000() {
    let service = TestService::start();
    let addr = service.http_addr;
    seed_numbered(&service, 1002);
    // (the window's first id and length, the queries that select it)
    let cases: [(i64, i64, &[&str]); 7] = [
        (5, 3, &["start_id=5&limit=3", "limit=3&start_id=5"]),
        (1000, 3, &["start_id=1000", "start_id=1000&limit=10"]),
        (1001, 2, &["start_id=1001&limit="]),
        (1003, 0, &["start_id=1003", "start_id=9223372036854775807"]),
        (
            1,
            2,
            &[
                "start_id=0&limit=2",
                "start_id=-5&limit=2",
                "start_id=&limit=2",
                "unrelated=x&limit=2",
            ],
        ),
        (1, 1, &["limit=1"]),
        (1, 1000, &["limit=1000"]),
    ];
    for (first, length, queries) in cases {
        let expected: Vec<i64> = (first..first + length).collect();
        for query in queries {
            let path = format!("/entities?{query}");
            let list = get_json(addr, &path);
            assert_eq!(ids_of(&list), expected, "{path}");
        }
    }
    let window = get_json(addr, "/entities?start_id=5&limit=1");
    assert_eq!(window, json!([entity_json(5, "e5", "")]));
}

#[test]
fn list_with_zero_too_large_negative_or_non_numeric_parameters_is_400() {
    let service = TestService::start();
    let addr = service.http_addr;
    seed_numbered(&service, 3);
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
        assert_error(&http::get(addr, &path), 400, &path);
    }
}

#[test]
fn list_parameters_are_decoded_as_clients_encode_them() {
    let service = TestService::start();
    let addr = service.http_addr;
    seed_numbered(&service, 6);
    // (query, the window's ids)
    let cases: [(&str, &[i64]); 6] = [
        ("start_id=%31&limit=%32", &[1, 2]),
        ("start_id=%35", &[5, 6]),
        ("start%5Fid=4&%6Cimit=1", &[4]),
        ("limit=%31%30&start_id=6", &[6]),
        ("start_id=%2D3&limit=1", &[1]),
        ("unrelated=a+b%20c&limit=2", &[1, 2]),
    ];
    for (query, expected) in cases {
        let path = format!("/entities?{query}");
        assert_eq!(ids_of(&get_json(addr, &path)), expected.to_vec(), "{path}");
    }
}

#[test]
fn list_parameters_with_bad_escapes_plus_signs_or_repeats_are_a_clear_400() {
    let service = TestService::start();
    let addr = service.http_addr;
    seed_numbered(&service, 3);
    // (query, words the message must contain)
    let cases = [
        ("start_id=%3", "percent escape"),
        ("limit=%zz", "percent escape"),
        ("limit=1%", "percent escape"),
        ("start_id=%ff", "UTF-8"),
        // `+` is a space in a query; `%2B` a plus sign, which no integer has.
        ("start_id=+2", "start_id must be an integer"),
        ("start_id=%2B2", "start_id must be an integer"),
        ("limit=01", "limit must be an integer"),
        ("limit=2&limit=3", "more than once"),
        ("start_id=1&start%5Fid=2", "more than once"),
    ];
    for (query, words) in cases {
        let path = format!("/entities?{query}");
        let message = assert_error(&http::get(addr, &path), 400, &path);
        assert!(message.contains(words), "{path}: {message}");
    }
}
