//! What every answer carries: a JSON body with one `Content-Type`, and an
//! `X-Request-Id` that is the client's when safe, else a fresh one.

use super::{error_steps, Step, GOOD_AUTH, SMALL_BODY_LIMIT, TOKEN};
use crate::helpers::http;
use crate::helpers::TestService;

#[test]
fn every_response_success_or_error_is_json_with_request_id() {
    let service = TestService::start_with(|c| c.max_body_bytes = SMALL_BODY_LIMIT);
    let successes = [
        r#"POST /entities {"name":"a"} -> 201"#,
        "GET /entities/1 -> 200",
        "GET /1 -> 200",
        "GET /entities -> 200",
    ];
    let errors = error_steps();
    for line in successes
        .into_iter()
        .chain(errors.iter().map(String::as_str))
    {
        let step = Step::parse(line);
        step.check(&step.send(service.http_addr, &[]), "fresh connection");
    }
}

#[test]
fn a_safe_client_request_id_is_echoed_on_success_and_errors() {
    let service = TestService::start();
    let addr = service.http_addr;
    let long = "r".repeat(128);
    for id in ["abc-123", "req.42_x:y/z=1@host", &long] {
        let headers = [("X-Request-Id", id)];
        let created = http::request(addr, "POST", "/entities", &headers, b"{\"name\":\"x\"}");
        assert_eq!(created.status, 201, "{id}");
        assert_eq!(created.header("X-Request-Id"), Some(id));
        let missing = http::request(addr, "GET", "/entities/999", &headers, b"");
        assert_eq!(missing.status, 404, "{id}");
        assert_eq!(missing.header("X-Request-Id"), Some(id));
    }
    // The header name is case-insensitive.
    let headers = [("x-request-id", "lower-1")];
    let lower = http::request(addr, "GET", "/entities/1", &headers, b"");
    assert_eq!(lower.header("X-Request-Id"), Some("lower-1"));
}

#[test]
fn a_missing_request_id_is_generated_fresh_for_each_request() {
    let service = TestService::start();
    let generated: Vec<String> = (0..2)
        .map(|_| {
            let response = http::get(service.http_addr, "/entities");
            let id = response.header("X-Request-Id").expect("a generated id");
            assert!(!id.is_empty());
            id.to_string()
        })
        .collect();
    assert_ne!(
        generated[0], generated[1],
        "two requests got the same generated id"
    );
}

#[test]
fn an_unsafe_request_id_is_replaced() {
    let service = TestService::start();
    let too_long = "r".repeat(129);
    for id in ["has space", &too_long, "<script>", "semi;colon", "quote\"d"] {
        let headers = [("X-Request-Id", id)];
        let response = http::request(service.http_addr, "GET", "/entities", &headers, b"");
        assert_eq!(response.status, 200, "{id:?}");
        let echoed = response.header("X-Request-Id").expect("an id");
        assert_ne!(echoed, id, "unsafe id echoed");
        assert!(
            !echoed.is_empty()
                && echoed.len() <= 128
                && echoed.bytes().all(|b| b.is_ascii_alphanumeric()),
            "replacement {echoed:?} for {id:?}"
        );
    }
}

#[test]
fn request_id_is_on_404_405_400_413_and_401_responses() {
    let service = TestService::start_with(|c| {
        c.max_body_bytes = SMALL_BODY_LIMIT;
        c.auth_token = Some(TOKEN.into());
    });
    let with_token = error_steps();
    let cases = with_token
        .iter()
        .map(|line| (line.as_str(), &[GOOD_AUTH][..]))
        .chain([("GET /entities/1 -> 401", &[][..])]);
    for (i, (line, headers)) in cases.enumerate() {
        let step = Step::parse(line);
        let id = format!("err-{i}");
        let mut with_id = headers.to_vec();
        with_id.push(("X-Request-Id", &id));
        let response = step.send(service.http_addr, &with_id);
        step.check(&response, "with an X-Request-Id");
        let echoed = response.header("X-Request-Id");
        assert_eq!(echoed, Some(id.as_str()), "{}", step.request);
        // And a generated one without the header (`check` asserts it).
        let response = step.send(service.http_addr, headers);
        step.check(&response, "without an X-Request-Id");
    }
}
