//! Operability through real clients: health Check/Watch, reflection,
//! /healthz, /metrics, message size limits and gzip.

use std::time::Duration;

use entity_service::proto::health::health_check_response::ServingStatus;
use entity_service::proto::health::HealthCheckResponse;
use entity_service::proto::{reflection_v1, reflection_v1alpha};
use futures_executor::block_on;
use futures_util::{SinkExt, TryStreamExt};
use grpcio::{ClientSStreamReceiver, CompressionAlgorithms, RpcStatusCode, WriteFlags};
use protobuf::descriptor::FileDescriptorProto;
use protobuf::Message;
use serde_json::json;

use crate::helpers::grpc::{
    self, call_options, create_request, expect_code, get_request, health_request, watch_request,
};
use crate::helpers::metrics::{sample, scrape, Labels};
use crate::helpers::net::closed_port;
use crate::helpers::wait::assert_eventually;
use crate::helpers::{http, TestService};

/// How long the watcher gauge may take to follow a cancel.
const GAUGE_LIMIT: Duration = Duration::from_secs(5);

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

#[test]
fn an_oversized_message_is_resource_exhausted_and_the_server_lives_on() {
    let service = TestService::start_with(|c| c.grpc_max_message_bytes = 64 * 1024);
    let client = grpc::entity_client(service.grpc_addr);
    let big = create_request("big", &"d".repeat(100 * 1024));
    expect_code(
        client.create_entity_opt(&big, call_options()),
        RpcStatusCode::RESOURCE_EXHAUSTED,
    );
    assert_eq!(service.store().len(), 0);
    let created = client
        .create_entity_opt(&create_request("small", ""), call_options())
        .unwrap();
    assert_eq!(created.id, 1);
}

#[test]
fn gzip_compressed_requests_are_accepted() {
    let service = TestService::start();
    let channel = grpc::channel_with(service.grpc_addr, |builder| {
        builder.default_compression_algorithm(CompressionAlgorithms::GRPC_COMPRESS_GZIP)
    });
    let client = entity_service::proto::entities_grpc::EntityServiceClient::new(channel);
    let description = "compressible ".repeat(100);
    let created = client
        .create_entity_opt(&create_request("zipped", &description), call_options())
        .unwrap();
    assert_eq!(created.description, description);
    let got = client
        .get_entity_opt(&get_request(created.id), call_options())
        .unwrap();
    assert_eq!(got.name, "zipped");
}

/// Asks one reflection question per request on a v1 stream.
fn reflect_v1(
    service: &TestService,
    requests: Vec<reflection_v1::ServerReflectionRequest>,
) -> Vec<reflection_v1::ServerReflectionResponse> {
    let client = grpc::reflection_v1_client(service.grpc_addr);
    let (mut sink, mut receiver) = client.server_reflection_info_opt(call_options()).unwrap();
    block_on(async {
        let mut answers = Vec::new();
        for request in requests {
            sink.send((request, WriteFlags::default())).await.unwrap();
            answers.push(receiver.try_next().await.unwrap().expect("an answer"));
        }
        let _ = sink.close().await;
        answers
    })
}

fn files_of(response: &reflection_v1::ServerReflectionResponse) -> Vec<FileDescriptorProto> {
    response
        .file_descriptor_response()
        .file_descriptor_proto
        .iter()
        .map(|bytes| FileDescriptorProto::parse_from_bytes(bytes).unwrap())
        .collect()
}

fn v1_request(
    set: impl FnOnce(&mut reflection_v1::ServerReflectionRequest),
) -> reflection_v1::ServerReflectionRequest {
    let mut request = reflection_v1::ServerReflectionRequest::new();
    set(&mut request);
    request
}

#[test]
fn reflection_v1_lists_services_and_describes_the_six_methods() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    let answers = reflect_v1(
        &service,
        vec![
            v1_request(|r| r.set_list_services(String::new())),
            v1_request(|r| r.set_file_containing_symbol("entities.v1.EntityService".into())),
            v1_request(|r| r.set_file_containing_symbol("no.such.Symbol".into())),
            v1_request(|r| r.set_file_by_filename("health.proto".into())),
            v1_request(|r| r.set_file_containing_symbol("entities.v1.LookupEntityResponse".into())),
        ],
    );

    let names: Vec<&str> = answers[0]
        .list_services_response()
        .service
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for expected in [
        "entities.v1.EntityService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }

    let files = files_of(&answers[1]);
    let entities = files
        .iter()
        .find(|f| f.package() == "entities.v1")
        .expect("entities.proto");
    let described = &entities.service[0];
    assert_eq!(described.name(), "EntityService");
    let kinds: Vec<(&str, bool, bool)> = described
        .method
        .iter()
        .map(|m| (m.name(), m.client_streaming(), m.server_streaming()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("GetEntity", false, false),
            ("CreateEntity", false, false),
            ("ListEntities", false, true),
            ("WatchEntities", false, true),
            ("CreateEntities", true, false),
            ("LookupEntities", true, true),
        ]
    );
    assert_eq!(
        described.method[5].input_type(),
        ".entities.v1.GetEntityRequest"
    );

    assert!(answers[2].has_error_response());
    assert_eq!(answers[2].error_response().error_code, 5); // NOT_FOUND

    assert_eq!(files_of(&answers[3])[0].package(), "grpc.health.v1");
    assert_eq!(files_of(&answers[4])[0].package(), "entities.v1");
    assert!(answers[1].original_request.has_file_containing_symbol());
}

#[test]
fn reflection_v1alpha_answers_too() {
    let service = TestService::start();
    let client = grpc::reflection_v1alpha_client(service.grpc_addr);
    let (mut sink, mut receiver) = client.server_reflection_info_opt(call_options()).unwrap();
    let mut request = reflection_v1alpha::ServerReflectionRequest::new();
    request.set_list_services("*".into());
    let answer = block_on(async {
        sink.send((request, WriteFlags::default())).await.unwrap();
        let answer = receiver.try_next().await.unwrap().expect("an answer");
        let _ = sink.close().await;
        answer
    });
    let names: Vec<&str> = answer
        .list_services_response()
        .service
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert!(names.contains(&"entities.v1.EntityService"), "{names:?}");
    assert!(
        names.contains(&"grpc.reflection.v1alpha.ServerReflection"),
        "{names:?}"
    );
}
