//! Protocol upgrades: tiny_http hands the socket over as the body of a
//! `Connection: upgrade` request, so a handler reading it would wait for
//! the client to hang up. Such requests are refused before any handler.

use std::time::Duration;

use super::assert_closing_error;
use crate::helpers::http::{self, Connection};
use crate::helpers::metrics::sample;
use crate::helpers::TestService;

/// How long a refusal may take to come: a hang bound, far below the idle timeout.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);

#[test]
fn connection_upgrade_is_refused_at_once_and_workers_stay_free() {
    let service = TestService::start_with(|c| c.http_threads = Some(2));
    // More held connections than workers: none may pin one.
    let held: Vec<Connection> = (0..4)
        .map(|i| {
            let what = format!("upgrade {i}");
            let mut connection = Connection::open(service.http_addr)
                .named(what.clone())
                .with_timeout(ANSWER_LIMIT);
            connection.send(
                "POST",
                "/entities",
                &[("Connection", "upgrade"), ("Upgrade", "websocket")],
                br#"{"name":"upgraded"}"#,
            );
            let response = connection.read_response();
            assert_closing_error(&response, 400, &what);
            connection
        })
        .collect();
    let health = http::get_within(service.http_addr, "/healthz", ANSWER_LIMIT);
    assert_eq!(
        health.map(|r| r.status),
        Some(200),
        "/healthz beside held upgrades"
    );
    assert!(
        service.store().is_empty(),
        "an upgrade request ran its handler"
    );
    let text = service.metrics_text();
    let refused = sample(
        &text,
        "http_requests_total",
        &[("method", "POST"), ("route", "/entities"), ("code", "400")],
    );
    assert_eq!(refused, Some(4.0), "refusals are counted:\n{text}");
    drop(held);
}

#[test]
fn an_upgrade_header_alone_is_refused_too() {
    let service = TestService::start();
    let mut connection = Connection::open(service.http_addr)
        .named("Upgrade: h2c")
        .with_timeout(ANSWER_LIMIT);
    let response = connection.request("GET", "/healthz", &[("Upgrade", "h2c")], b"");
    assert_closing_error(&response, 400, "Upgrade: h2c");
    assert!(connection.responses_until_close().is_empty());
}
