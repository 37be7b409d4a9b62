//! The REST/JSON contract through real HTTP against the whole service on
//! port 0 (or the binary, where a handler must panic).
//!
//! - `entities`: create and get, validation, body limits.
//! - `bodies`: a create accepts exactly the JSON its schema describes.
//! - `list`: `GET /entities` windows and their parameters, decoded as clients encode them.
//! - `routes`: the seed's aliases, methods, unknown paths, HEAD, HTTP/1.0.
//! - `headers`: JSON on every answer, request ids.
//! - `auth`: the bearer token on every entity route, checked first.
//! - `connections`: keep-alive, pipelining, `Expect: 100-continue`,
//!   concurrent clients.
//! - `backends`: the gRPC and direct backends, upstreams, a panicking create.
//!
//! The shapes every REST answer must have (JSON with one Content-Type and
//! an `X-Request-Id`, errors as `{"error": …}`, creates as 201 with a
//! Location) are asserted here, once.

mod auth;
mod backends;
mod bodies;
mod connections;
mod entities;
mod headers;
mod list;
mod routes;

use std::net::SocketAddr;

use entity_service::BackendKind;
use serde_json::{json, Value};

use crate::helpers::http::{self, Response};

/// Both ways a REST handler reaches the store.
const BACKENDS: [BackendKind; 2] = [BackendKind::Grpc, BackendKind::Direct];
/// The token of the services started with auth.
const TOKEN: &str = "s3cret";
/// The header that carries [`TOKEN`].
const GOOD_AUTH: (&str, &str) = ("Authorization", "Bearer s3cret");
/// The body limit of the services that get [`error_steps`].
const SMALL_BODY_LIMIT: usize = 64;

/// Every answer: a JSON body, exactly one `Content-Type: application/json`
/// and a non-empty `X-Request-Id`. The parsed body.
#[track_caller]
fn assert_json_response(response: &Response, context: &str) -> Value {
    assert_eq!(
        response.header_values("Content-Type"),
        vec!["application/json"],
        "{context}: Content-Type headers of {} {:?}",
        response.status,
        response.text()
    );
    assert!(
        response
            .header("X-Request-Id")
            .is_some_and(|id| !id.is_empty()),
        "{context}: no X-Request-Id on {} {:?}",
        response.status,
        response.headers
    );
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "{context}: body of {} is not JSON ({e}): {:?}",
            response.status,
            response.text()
        )
    })
}

/// An error answer: this status and `{"error": non-empty string}`. The message.
#[track_caller]
fn assert_error(response: &Response, status: u16, context: &str) -> String {
    assert_eq!(
        response.status,
        status,
        "{context}: status (body {:?})",
        response.text()
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

/// A create's answer: 201 `{"id": n}` with `Location: /entities/n`. The id.
#[track_caller]
fn created_id(response: &Response, context: &str) -> i64 {
    assert_eq!(
        response.status,
        201,
        "{context}: status (body {:?})",
        response.text()
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

/// `POST /entities` of this entity; asserts the 201 and returns the id.
#[track_caller]
fn create(addr: SocketAddr, name: &str, description: &str) -> i64 {
    let body = json!({ "name": name, "description": description }).to_string();
    created_id(&http::post(addr, "/entities", &body), "create")
}

/// A request and the status it must get, as a test table writes it:
/// `METHOD PATH[ BODY] -> STATUS`, e.g. `POST /entities {"name":"a"} -> 201`.
struct Step<'a> {
    /// `METHOD PATH[ BODY]`: names the step in messages and look-ups.
    request: &'a str,
    method: &'a str,
    path: &'a str,
    body: &'a str,
    status: u16,
}

impl<'a> Step<'a> {
    #[track_caller]
    fn parse(line: &'a str) -> Self {
        let step = line.rsplit_once(" -> ").and_then(|(request, status)| {
            let (method, rest) = request.split_once(' ')?;
            let (path, body) = rest.split_once(' ').unwrap_or((rest, ""));
            Some(Self {
                request,
                method,
                path,
                body,
                status: status.parse().ok()?,
            })
        });
        step.unwrap_or_else(|| panic!("step {line:?} is not `METHOD PATH[ BODY] -> STATUS`"))
    }

    /// Sends the request with these headers on a fresh connection.
    #[track_caller]
    fn send(&self, addr: SocketAddr, headers: &[(&str, &str)]) -> Response {
        self.send_on(&mut http::Connection::open(addr), headers)
    }

    /// Sends the request with these headers on a keep-alive connection.
    #[track_caller]
    fn send_on(&self, connection: &mut http::Connection, headers: &[(&str, &str)]) -> Response {
        connection.request(self.method, self.path, headers, self.body.as_bytes())
    }

    /// Checks an answer to this request: its status, JSON with a request
    /// id, and for a 4xx or 5xx the error shape. The parsed body.
    #[track_caller]
    fn check(&self, response: &Response, context: &str) -> Value {
        let context = format!("{context}: {}", self.request);
        if self.status >= 400 {
            assert_error(response, self.status, &context);
        } else {
            let text = response.text();
            assert_eq!(response.status, self.status, "{context}: {text}");
        }
        assert_json_response(response, &context)
    }
}

/// `GET path` on a fresh connection: a 200 JSON answer
/// ([`assert_json_response`]). The body.
#[track_caller]
fn get_json(addr: SocketAddr, path: &str) -> Value {
    let response = http::get(addr, path);
    assert_eq!(response.status, 200, "GET {path}: {}", response.text());
    assert_json_response(&response, &format!("GET {path}"))
}

/// The ids of a JSON array of entities, in order.
#[track_caller]
fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|e| e["id"].as_i64().expect("integer id"))
        .collect()
}

/// One request for each way a request can fail (404, 400, 413, 405) on a
/// service without entity 7 and with [`SMALL_BODY_LIMIT`], as [`Step`] lines.
fn error_steps() -> Vec<String> {
    let over_limit = json!({ "name": "x".repeat(SMALL_BODY_LIMIT) });
    [
        "GET /entities/7 -> 404",
        "GET /7 -> 404",
        "GET /nope -> 404",
        "GET /entities/0 -> 400",
        "GET /entities/abc -> 400",
        "GET /entities?limit=0 -> 400",
        "POST /entities { -> 400",
        "POST /entities [] -> 400",
        &format!("POST /entities {over_limit} -> 413"),
        "PUT /entities -> 405",
        "DELETE /entities/1 -> 405",
        "GET / -> 405",
    ]
    .map(String::from)
    .to_vec()
}
