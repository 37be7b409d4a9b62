//! What the REST gateway passes on to its gRPC upstream as credentials: the
//! hop answers every `Authorization` value exactly as `--backend direct`
//! does, with a token and without, including values HTTP allows and gRPC
//! metadata cannot carry; an upstream that checks a token the gateway does
//! not have sees the caller's bearer credentials.

use entity_service::BackendKind;

use crate::helpers::{http, TestService};

const TOKEN: &str = "s3cret";

/// `Authorization` values (None: no header) and whether each one presents
/// the token.
const PRESENTED: [(Option<&str>, bool); 7] = [
    (None, false),
    (Some("Basic a\x01b"), false),
    (Some("Bearer s3cret"), true),
    // Whitespace the token check trims, which metadata cannot carry.
    (Some("Bearer \ts3cret"), true),
    (Some("bearer s3cret"), true),
    (Some("Bearer wrong"), false),
    (Some("Bearer s3cret\x7f"), false),
];

/// Requests that reach the backend: read, list, create and health.
const REQUESTS: [(&str, &str, &str); 4] = [
    ("GET", "/entities/1", ""),
    ("GET", "/entities", ""),
    ("POST", "/entities", r#"{"name":"n"}"#),
    ("GET", "/healthz", ""),
];

/// The status of each request with each header value, on a new service.
fn statuses(backend: BackendKind, token: Option<&str>) -> Vec<(String, u16)> {
    let service = TestService::start_with(|c| {
        c.backend = backend;
        c.auth_token = token.map(str::to_string);
    });
    service.seed("one", "");
    let mut seen = Vec::new();
    for (value, _) in PRESENTED {
        let headers: Vec<(&str, &str)> = value.map(|v| ("Authorization", v)).into_iter().collect();
        for (method, path, body) in REQUESTS {
            let response =
                http::request(service.http_addr, method, path, &headers, body.as_bytes());
            let what = format!("{method} {path} with {value:?}");
            seen.push((what, response.status));
        }
    }
    seen
}

#[test]
fn the_hop_answers_every_authorization_value_as_the_direct_backend_does() {
    for token in [None, Some(TOKEN)] {
        let hop = statuses(BackendKind::Grpc, token);
        let direct = statuses(BackendKind::Direct, token);
        for ((what, hop), (_, direct)) in hop.iter().zip(&direct) {
            assert_eq!(
                hop, direct,
                "token {token:?}: {what}: hop (left), direct (right)"
            );
        }
        let mut statuses = hop.iter();
        for (value, presents_token) in PRESENTED {
            for (method, path, _) in REQUESTS {
                let (what, status) = statuses.next().expect("one status per request");
                let refused = token.is_some() && !presents_token && path != "/healthz";
                let wanted = match (refused, method) {
                    (true, _) => 401,
                    (false, "POST") => 201,
                    (false, _) => 200,
                };
                assert_eq!(*status, wanted, "token {token:?}: {what} ({value:?})");
            }
        }
    }
}

#[test]
fn a_gateway_without_a_token_passes_the_callers_credentials_to_an_upstream_that_checks() {
    let upstream = TestService::start_with(|c| c.auth_token = Some(TOKEN.into()));
    upstream.seed("one", "");
    let upstream_addr = upstream.grpc_addr.to_string();
    let gateway = TestService::start_with(|c| c.grpc_upstream = Some(upstream_addr));
    for (value, presents_token) in PRESENTED {
        let headers: Vec<(&str, &str)> = value.map(|v| ("Authorization", v)).into_iter().collect();
        let response = http::request(gateway.http_addr, "GET", "/entities/1", &headers, b"");
        let wanted = if presents_token { 200 } else { 401 };
        assert_eq!(response.status, wanted, "{value:?}: {}", response.text());
    }
}
