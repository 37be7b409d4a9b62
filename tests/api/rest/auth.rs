//! `--auth-token`: every entity route, aliases included, needs
//! `Authorization: Bearer <token>`, checked before anything else.

use serde_json::json;

use super::{
    assert_error, assert_json_response, created_id, error_steps, Step, BACKENDS, GOOD_AUTH,
    SMALL_BODY_LIMIT, TOKEN,
};
use crate::helpers::http::{self, entity_json};
use crate::helpers::TestService;

#[test]
fn without_a_valid_token_every_entity_route_is_401_with_www_authenticate() {
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
    for backend in BACKENDS {
        let service = TestService::start_with(|c| {
            c.backend = backend;
            c.auth_token = Some(TOKEN.into());
        });
        for headers in bad_headers {
            for (method, path, body) in routes {
                let context = format!("{backend:?} {method} {path} with {headers:?}");
                let response = http::request(service.http_addr, method, path, headers, body);
                assert_error(&response, 401, &context);
                assert_eq!(
                    response.header("WWW-Authenticate"),
                    Some("Bearer"),
                    "{context}"
                );
            }
        }
        assert_eq!(service.store().len(), 0, "{backend:?}: a 401 created");
    }
}

#[test]
fn auth_is_checked_before_404_400_405_and_413() {
    let service = TestService::start_with(|c| {
        c.auth_token = Some(TOKEN.into());
        c.max_body_bytes = SMALL_BODY_LIMIT;
    });
    let addr = service.http_addr;
    // Each gets its error with the token, and 401 without.
    for line in error_steps() {
        let step = Step::parse(&line);
        let context = format!("{} without token", step.request);
        let response = step.send(addr, &[]);
        assert_error(&response, 401, &context);
        assert_eq!(
            response.header("WWW-Authenticate"),
            Some("Bearer"),
            "{context}"
        );
        step.check(&step.send(addr, &[GOOD_AUTH]), "with the token");
    }
    // A chunked over-limit body too.
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(SMALL_BODY_LIMIT));
    let chunked = http::chunked_post("/entities", &[], &[big.as_bytes()]);
    let response = http::exchange_one(addr, "chunked big without token", &chunked)
        .expect("an answer to the chunked body");
    assert_error(&response, 401, "chunked big without token");
}

#[test]
fn the_correct_token_works_on_every_route_in_both_backends() {
    for backend in BACKENDS {
        let service = TestService::start_with(|c| {
            c.backend = backend;
            c.auth_token = Some(TOKEN.into());
        });
        let addr = service.http_addr;
        let auth = [GOOD_AUTH];
        for (id, path, body) in [
            (1, "/entities", b"{\"name\":\"a\"}"),
            (2, "/", b"{\"name\":\"b\"}"),
        ] {
            let created = http::request(addr, "POST", path, &auth, body);
            assert_eq!(
                created_id(&created, &format!("{backend:?} POST {path}")),
                id
            );
        }
        for (path, expected) in [
            ("/entities/1", entity_json(1, "a", "")),
            ("/2", entity_json(2, "b", "")),
            (
                "/entities?limit=10",
                json!([entity_json(1, "a", ""), entity_json(2, "b", "")]),
            ),
        ] {
            let response = http::request(addr, "GET", path, &auth, b"");
            assert_eq!(response.status, 200, "{backend:?} GET {path}");
            assert_eq!(assert_json_response(&response, path), expected);
        }
        // The scheme is case-insensitive.
        let lower = [("Authorization", "bearer s3cret")];
        let response = http::request(addr, "GET", "/entities/1", &lower, b"");
        assert_eq!(response.status, 200, "{backend:?} lowercase scheme");
    }
}
