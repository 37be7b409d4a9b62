//! Whether the service is up, as a load balancer or orchestrator asks it:
//! `grpc.health.v1.Health` Check and Watch (open without a token), and REST
//! `/healthz`, which follows the gRPC upstream the gateway uses.

use std::time::Duration;

use entity_service::proto::health::health_check_response::ServingStatus;
use entity_service::proto::health::HealthCheckResponse;
use grpcio::{ClientSStreamReceiver, RpcStatusCode};
use serde_json::json;

use crate::helpers::grpc::{self, call_options, expect_code, get_request, health_request};
use crate::helpers::net::closed_port;
use crate::helpers::{http, TestService};

/// The serving status of the next message of a health watch.
#[track_caller]
fn next_status(watch: &mut ClientSStreamReceiver<HealthCheckResponse>) -> ServingStatus {
    grpc::next_message(watch)
        .status
        .enum_value()
        .expect("a known serving status")
}

/// The serving status a health Check reports for `name`.
#[track_caller]
fn check(service: &TestService, name: &str) -> ServingStatus {
    grpc::health_client(service.grpc_addr)
        .check_opt(&health_request(name), call_options())
        .unwrap_or_else(|e| panic!("Check({name:?}): {e:?}"))
        .status
        .enum_value()
        .expect("a known serving status")
}

#[test]
fn health_check_serves_known_names_and_rejects_unknown_ones() {
    let service = TestService::start();
    for name in ["", "entities.v1.EntityService"] {
        assert_eq!(check(&service, name), ServingStatus::SERVING, "{name:?}");
    }
    let health = grpc::health_client(service.grpc_addr);
    let unknown = health.check_opt(&health_request("nope.Service"), call_options());
    expect_code(unknown, RpcStatusCode::NOT_FOUND);
}

#[test]
fn health_is_open_without_a_token_while_entities_need_one() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    assert_eq!(check(&service, ""), ServingStatus::SERVING);
    let client = grpc::entity_client(service.grpc_addr);
    expect_code(
        client.get_entity_opt(&get_request(1), call_options()),
        RpcStatusCode::UNAUTHENTICATED,
    );
    for (path, status) in [("/healthz", 200), ("/metrics", 200), ("/entities/1", 401)] {
        assert_eq!(http::get(service.http_addr, path).status, status, "{path}");
    }
}

#[test]
fn health_watch_streams_serving_then_not_serving_when_a_stop_begins() {
    let service = TestService::start();
    let health = grpc::health_client(service.grpc_addr);
    let mut watch = health
        .watch_opt(&health_request(""), call_options())
        .unwrap();
    assert_eq!(next_status(&mut watch), ServingStatus::SERVING);
    service.begin_stop();
    assert_eq!(next_status(&mut watch), ServingStatus::NOT_SERVING);
    assert_eq!(check(&service, ""), ServingStatus::NOT_SERVING);
    assert_eq!(http::get(service.http_addr, "/healthz").status, 503);
    service.stop();
    let end = grpc::next_outcome(&mut watch);
    assert!(matches!(end, Ok(None)), "the watch ends cleanly: {end:?}");
}

#[test]
fn health_watch_of_an_unknown_service_reports_service_unknown() {
    let service = TestService::start();
    let health = grpc::health_client(service.grpc_addr);
    let mut watch = health
        .watch_opt(&health_request("nope.Service"), call_options())
        .unwrap();
    assert_eq!(next_status(&mut watch), ServingStatus::SERVICE_UNKNOWN);
}

#[test]
fn healthz_answers_serving_and_503_for_a_closed_upstream() {
    let service = TestService::start();
    let response = http::get(service.http_addr, "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"status": "SERVING"}));

    let closed = closed_port();
    let gateway = TestService::start_with(|c| c.grpc_upstream = Some(closed.to_string()));
    // The answer comes within the gateway's 1 s deadline: a read timeout of
    // 2 s turns waiting past it into a failure.
    let response = http::Connection::open(gateway.http_addr)
        .with_timeout(Duration::from_secs(2))
        .request("GET", "/healthz", &[], b"");
    assert_eq!(response.status, 503);
    let body = response.json();
    assert_eq!(body["status"], "NOT_SERVING");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
}

#[test]
fn healthz_follows_the_upstream_through_a_second_instance() {
    let upstream = TestService::start();
    let gateway =
        TestService::start_with(|c| c.grpc_upstream = Some(upstream.grpc_addr.to_string()));
    assert_eq!(http::get(gateway.http_addr, "/healthz").status, 200);
    upstream.begin_stop();
    assert_eq!(http::get(gateway.http_addr, "/healthz").status, 503);
}
