//! `/metrics`: the Prometheus text a scraper reads, with counters that
//! follow the traffic, exact gauges, routes (never raw paths) as labels.

use std::time::Duration;

use crate::helpers::grpc::{self, call_options, watch_request};
use crate::helpers::metrics::{sample, scrape, Labels};
use crate::helpers::wait::assert_eventually;
use crate::helpers::{http, TestService};

/// How long the watcher gauge may take to follow a cancel.
const GAUGE_LIMIT: Duration = Duration::from_secs(5);

#[test]
fn metrics_counters_rise_and_gauges_are_exact() {
    let service = TestService::start();
    let addr = service.http_addr;
    for i in 0..3 {
        let body = format!(r#"{{"name":"e{i}"}}"#);
        assert_eq!(http::post(addr, "/entities", &body).status, 201);
    }
    assert_eq!(http::get(addr, "/entities/2").status, 200);
    assert_eq!(http::get(addr, "/entities/99").status, 404);
    let text = scrape(service.http_addr);
    let created = [("method", "POST"), ("route", "/entities"), ("code", "201")];
    let not_found = [
        ("method", "GET"),
        ("route", "/entities/{id}"),
        ("code", "404"),
    ];
    let grpc_not_found = [
        ("grpc_method", "GetEntity"),
        ("grpc_code", "NOT_FOUND"),
        ("grpc_type", "unary"),
    ];
    let duration = [("method", "POST"), ("route", "/entities")];
    let expected: [(&str, Labels, f64); 6] = [
        ("entities", &[], 3.0),
        ("entity_watchers", &[], 0.0),
        ("http_requests_total", &created, 3.0),
        ("http_requests_total", &not_found, 1.0),
        ("grpc_server_handled_total", &grpc_not_found, 1.0),
        ("http_request_duration_seconds_count", &duration, 3.0),
    ];
    for (name, labels, value) in expected {
        assert_eq!(
            sample(&text, name, labels),
            Some(value),
            "{name} {labels:?}"
        );
    }
    assert!(
        !text.contains("/entities/2"),
        "raw paths must never become labels"
    );

    assert_eq!(
        http::post(addr, "/entities", r#"{"name":"e3"}"#).status,
        201
    );
    let text = scrape(service.http_addr);
    assert_eq!(sample(&text, "http_requests_total", &created), Some(4.0));
    assert_eq!(sample(&text, "entities", &[]), Some(4.0));
}

#[test]
fn metrics_watcher_gauge_returns_to_zero_after_a_cancel() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let mut watches: Vec<_> = (0..2)
        .map(|_| {
            client
                .watch_entities_opt(&watch_request(0), call_options())
                .unwrap()
        })
        .collect();
    let gauge = || sample(&service.metrics_text(), "entity_watchers", &[]);
    let gauge_is = |value: f64| {
        assert_eventually(
            GAUGE_LIMIT,
            || gauge() == Some(value),
            || format!("entity_watchers {:?}, expected {value}", gauge()),
        )
    };
    gauge_is(2.0);
    watches[0].cancel();
    gauge_is(1.0);
    drop(watches);
    gauge_is(0.0);
    assert_eq!(
        sample(&scrape(service.http_addr), "entity_watchers", &[]),
        Some(0.0)
    );
}

#[test]
fn metrics_use_the_prometheus_text_content_type() {
    let service = TestService::start();
    assert_eq!(http::get(service.http_addr, "/entities/1").status, 404);
    let response = http::get(service.http_addr, "/metrics");
    let content_type = response.header("Content-Type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type:?}");
    assert!(response
        .text()
        .contains("# TYPE http_requests_total counter"));
}
