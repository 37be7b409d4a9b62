//! One connection, many requests: keep-alive across errors, pipelining,
//! `Expect: 100-continue`, and clients posting from several threads.

use std::collections::BTreeMap;

use serde_json::json;

use super::{
    assert_error, assert_json_response, created_id, error_steps, get_json, ids_of, Step,
    SMALL_BODY_LIMIT,
};
use crate::helpers::http::{self, entity_json};
use crate::helpers::TestService;

#[test]
fn keep_alive_answers_several_requests_in_order() {
    let service = TestService::start();
    let mut connection = http::Connection::open(service.http_addr);
    for i in 1..=5i64 {
        let id = format!("ka-post-{i}");
        let body = json!({ "name": format!("k{i}") }).to_string();
        let headers = [("X-Request-Id", id.as_str())];
        let response = connection.request("POST", "/entities", &headers, body.as_bytes());
        assert_eq!(created_id(&response, &id), i);
        assert_eq!(response.header("X-Request-Id"), Some(id.as_str()));
        let id = format!("ka-get-{i}");
        let headers = [("X-Request-Id", id.as_str())];
        let response = connection.request("GET", &format!("/entities/{i}"), &headers, b"");
        assert_eq!(response.status, 200, "{id}");
        assert_eq!(response.header("X-Request-Id"), Some(id.as_str()));
        assert_eq!(response.json(), entity_json(i, &format!("k{i}"), ""));
    }
}

#[test]
fn keep_alive_connection_survives_error_responses() {
    let service = TestService::start_with(|c| c.max_body_bytes = SMALL_BODY_LIMIT);
    let mut connection = http::Connection::open(service.http_addr);
    for line in error_steps() {
        let step = Step::parse(&line);
        step.check(&step.send_on(&mut connection, &[]), "keep-alive");
    }
    let created = connection.request("POST", "/entities", &[], b"{\"name\":\"after\"}");
    assert_eq!(created_id(&created, "create after errors"), 1);
}

#[test]
fn after_a_chunked_413_the_connection_is_not_left_mid_body() {
    // A keep-alive client that sends an over-limit chunked body and then
    // another request must get a proper answer to it (or a clean close),
    // never a response to the rest of the rejected body.
    let service = TestService::start_with(|c| c.max_body_bytes = 64);
    let mut connection = http::Connection::open(service.http_addr);
    let over = format!(r#"{{"name":"{}"}}"#, "a".repeat(100));
    let mut bytes = http::chunked_post("/entities", &[], &[over.as_bytes(), b"  "]);
    bytes.extend(http::request_bytes("GET", "/entities", &[], b""));
    connection.send_raw(&bytes);
    assert_error(&connection.read_response(), 413, "chunked 413");
    if let Some(next) = connection.try_read_response() {
        assert_eq!(next.status, 200, "next request: {:?}", next.text());
        assert_eq!(assert_json_response(&next, "list after 413"), json!([]));
    }
}

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let service = TestService::start();
    let addr = service.http_addr;
    service.seed("one", "");
    service.seed("two", "");
    let mut connection = http::Connection::open(addr);
    let gets = [
        ("p-1", "/entities/2"),
        ("p-2", "/entities/9"),
        ("p-3", "/entities/1"),
    ];
    let mut bytes = Vec::new();
    for (id, path) in gets {
        bytes.extend(http::request_bytes(
            "GET",
            path,
            &[("X-Request-Id", id)],
            b"",
        ));
    }
    connection.send_raw(&bytes);
    let first = connection.read_response();
    assert_eq!(first.status, 200);
    assert_eq!(first.json(), entity_json(2, "two", ""));
    let second = connection.read_response();
    assert_eq!(
        assert_error(&second, 404, "pipelined 404"),
        "entity 9 not found"
    );
    let third = connection.read_response();
    assert_eq!(third.status, 200);
    assert_eq!(third.json(), entity_json(1, "one", ""));
    for ((id, _), response) in gets.iter().zip([first, second, third]) {
        assert_eq!(response.header("X-Request-Id"), Some(*id));
    }

    // Two pipelined creates: each answer's Location names its own entity.
    let mut bytes = Vec::new();
    for name in ["p-a", "p-b"] {
        let body = json!({ "name": name }).to_string();
        bytes.extend(http::request_bytes(
            "POST",
            "/entities",
            &[],
            body.as_bytes(),
        ));
    }
    connection.send_raw(&bytes);
    for name in ["p-a", "p-b"] {
        let id = created_id(&connection.read_response(), name);
        assert!(id == 3 || id == 4, "{name}: id {id}");
        let got = get_json(addr, &format!("/entities/{id}"));
        assert_eq!(got["name"], name);
    }
}

#[test]
fn expect_100_continue_gets_continue_then_the_created_answer() {
    let service = TestService::start();
    let addr = service.http_addr;
    let body = br#"{"name":"patient client"}"#;
    let length = body.len().to_string();
    let head = |extra: &[(&'static str, &'static str)]| {
        let mut headers = vec![("Expect", "100-continue"), ("Content-Length", &length)];
        headers.extend_from_slice(extra);
        http::request_bytes("POST", "/entities", &headers, b"")
    };

    let mut patient = http::Connection::open(addr).named("waits for 100 Continue");
    patient.send_raw(&head(&[(
        "Content-Type",
        "application/x-www-form-urlencoded",
    )]));
    let interim = patient
        .read_head()
        .expect("an interim answer before the body");
    assert_eq!(interim.status, 100, "100 Continue before sending the body");
    patient.send_raw(body);
    assert_eq!(
        created_id(&patient.read_response(), "after 100-continue"),
        1
    );

    // A client that sends the body without waiting (as curl does after its
    // wait times out) gets the created answer too, after any interim 100.
    let mut eager = http::Connection::open(addr).named("sends the body at once");
    let mut bytes = head(&[]);
    bytes.extend_from_slice(body);
    eager.send_raw(&bytes);
    let mut response = eager.read_response();
    if response.status == 100 {
        response = eager.read_response();
    }
    assert_eq!(created_id(&response, "eager 100-continue"), 2);
}

#[test]
fn expect_100_continue_with_an_oversized_length_is_413_without_the_body() {
    let service = TestService::start_with(|c| c.max_body_bytes = 1024);
    let mut connection = http::Connection::open(service.http_addr).named("oversized Expect");
    let headers = [("Expect", "100-continue"), ("Content-Length", "1000000")];
    // The body never comes: a server waiting for it would stay silent (a
    // failed read after the read timeout) or answer 408, never 413.
    connection.send_raw(&http::request_bytes("POST", "/entities", &headers, b""));
    assert_error(&connection.read_response(), 413, "oversized Expect");
    drop(connection);
    assert_eq!(service.store().len(), 0);
}

#[test]
fn concurrent_posts_from_four_threads_get_ids_1_to_400_all_readable() {
    let service = TestService::start();
    let addr = service.http_addr;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut connection = http::Connection::open(addr);
                (0..100)
                    .map(|i| {
                        let name = format!("t{t}-{i}");
                        let body = json!({ "name": name }).to_string();
                        let response =
                            connection.request("POST", "/entities", &[], body.as_bytes());
                        (created_id(&response, &name), name)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut by_id = BTreeMap::new();
    for thread in threads {
        for (id, name) in thread.join().expect("poster thread") {
            assert!(by_id.insert(id, name).is_none(), "id {id} given twice");
        }
    }
    let all: Vec<i64> = (1..=400).collect();
    assert_eq!(by_id.keys().copied().collect::<Vec<_>>(), all);
    let list = get_json(addr, "/entities?limit=1000");
    assert_eq!(ids_of(&list), all);
    for entity in list.as_array().expect("an array") {
        let id = entity["id"].as_i64().expect("integer id");
        assert_eq!(entity["name"], by_id[&id], "entity {id}");
    }
    let mut connection = http::Connection::open(addr);
    for id in [1, 137, 400] {
        let got = connection.request("GET", &format!("/entities/{id}"), &[], b"");
        assert_eq!(got.status, 200, "GET /entities/{id}");
        assert_eq!(got.json()["name"], by_id[&id]);
    }
}
