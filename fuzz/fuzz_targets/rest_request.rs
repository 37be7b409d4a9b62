//! Fuzzes the REST request path: routing, auth, query parsing, JSON body
//! parsing and validation, down to the store, through the direct backend.
//!
//! Input: `METHOD URL\n` then optional header lines (`Authorization: …`),
//! a blank line, and the body. The checks: every answer has a status the
//! contract allows and a JSON body (`{"error": …}` for errors), and the
//! store only ever grows by one per 201.

#![no_main]

use std::cell::RefCell;
use std::sync::Arc;

use entity_service::auth::Auth;
use entity_service::entities::Entities;
use entity_service::metrics::Metrics;
use entity_service::readiness::Readiness;
use entity_service::rest::routes::{Gateway, Incoming};
use entity_service::rest::{openapi, DirectBackend};
use entity_service::store::Store;
use libfuzzer_sys::fuzz_target;

const ALLOWED: &[u16] = &[200, 201, 400, 401, 404, 405, 408, 413, 503];

/// The store is started afresh once it holds this many entities, so a long
/// run does not grow without bound.
const STORE_RESET: usize = 10_000;

fn new_gateway() -> (Gateway, Arc<Store>) {
    let store = Arc::new(Store::new());
    let backend = DirectBackend::new(Entities::new(Arc::clone(&store)), Arc::new(Readiness::default()));
    let openapi = openapi::document_json(&openapi::Settings {
        auth_required: true,
        max_body_bytes: 1024,
        body_timeout: std::time::Duration::from_secs(10),
    });
    let gateway = Gateway::new(
        Arc::new(backend),
        Auth::new(Some("fuzz-token".into())),
        1024,
        Arc::new(Metrics::new(Arc::clone(&store))),
        openapi.into(),
    );
    (gateway, store)
}

thread_local! {
    static GATEWAY: RefCell<(Gateway, Arc<Store>)> = RefCell::new(new_gateway());
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let (method, url) = first.split_once(' ').unwrap_or((first, "/"));
    let authorization = lines.find_map(|line| line.strip_prefix("Authorization: "));
    GATEWAY.with(|cell| {
        if cell.borrow().1.len() >= STORE_RESET {
            *cell.borrow_mut() = new_gateway();
        }
        check(&cell.borrow(), method, url, authorization, body);
    });
});

fn check(
    (gateway, store): &(Gateway, Arc<Store>),
    method: &str,
    url: &str,
    authorization: Option<&str>,
    body: &str,
) {
    let incoming = Incoming {
        method,
        url,
        authorization,
        request_id: "fuzz",
    };
    let before = store.len();
    let mut body_source = body.as_bytes();
    let reply = gateway.handle(&incoming, &mut body_source);
    let after = store.len();

    assert!(ALLOWED.contains(&reply.status), "status {} for {method} {url}", reply.status);
    if reply.content_type == "application/json" {
        let value: serde_json::Value =
            serde_json::from_slice(&reply.body).expect("every JSON answer parses");
        if reply.status >= 400 {
            assert!(value["error"].as_str().is_some_and(|e| !e.is_empty()), "{value}");
        }
    }
    let created = usize::from(reply.status == 201);
    assert_eq!(after, before + created, "the store grows by one per 201, never otherwise");
}
