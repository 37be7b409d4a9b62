//! Operability through real clients: health Check/Watch, reflection,
//! /healthz, /metrics, message size limits and gzip.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use entity_service::proto::entities::{GetEntityRequest, WatchEntitiesRequest};
use entity_service::proto::health::health_check_response::ServingStatus;
use entity_service::proto::health::HealthCheckRequest;
use entity_service::proto::health_grpc::HealthClient;
use entity_service::proto::{
    reflection_v1, reflection_v1_grpc, reflection_v1alpha, reflection_v1alpha_grpc,
};
use futures_util::{SinkExt, TryStreamExt};
use grpcio::{ChannelBuilder, EnvBuilder, RpcStatusCode, WriteFlags};
use protobuf::descriptor::FileDescriptorProto;
use protobuf::Message;

fn channel(addr: std::net::SocketAddr) -> grpcio::Channel {
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    ChannelBuilder::new(env).connect(&addr.to_string())
}

fn health_request(service: &str) -> HealthCheckRequest {
    let mut request = HealthCheckRequest::new();
    request.service = service.to_string();
    request
}

fn status_code(error: grpcio::Error) -> RpcStatusCode {
    match error {
        grpcio::Error::RpcFailure(status) => status.code(),
        other => panic!("expected an RPC status, got {other:?}"),
    }
}

#[test]
fn health_check_serves_known_names_and_rejects_unknown_ones() {
    let service = common::spawn();
    let health = HealthClient::new(channel(service.grpc_addr));
    for name in ["", "entities.v1.EntityService"] {
        let reply = health.check(&health_request(name)).unwrap();
        assert_eq!(
            reply.status.enum_value(),
            Ok(ServingStatus::SERVING),
            "{name:?}"
        );
    }
    let unknown = health.check(&health_request("nope.Service")).unwrap_err();
    assert_eq!(status_code(unknown), RpcStatusCode::NOT_FOUND);
    service.stop();
}

#[test]
fn health_is_open_without_a_token_while_entities_need_one() {
    let service = common::spawn_with(|c| c.auth_token = Some("s3cret".into()));
    let health = HealthClient::new(channel(service.grpc_addr));
    assert!(health.check(&health_request("")).is_ok());
    let client = common::grpc_client(service.grpc_addr);
    let mut request = GetEntityRequest::new();
    request.id = 1;
    assert_eq!(
        status_code(client.get_entity(&request).unwrap_err()),
        RpcStatusCode::UNAUTHENTICATED
    );
    assert_eq!(common::get(service.http_addr, "/healthz").status, 200);
    assert_eq!(common::get(service.http_addr, "/metrics").status, 200);
    assert_eq!(common::get(service.http_addr, "/entities/1").status, 401);
    service.stop();
}

#[test]
fn health_watch_streams_serving_then_not_serving_when_a_stop_begins() {
    let service = common::spawn();
    let health = HealthClient::new(channel(service.grpc_addr));
    let mut watch = health.watch(&health_request("")).unwrap();
    let first = futures_executor::block_on(watch.try_next())
        .unwrap()
        .unwrap();
    assert_eq!(first.status.enum_value(), Ok(ServingStatus::SERVING));
    service.begin_stop();
    let second = futures_executor::block_on(watch.try_next())
        .unwrap()
        .unwrap();
    assert_eq!(second.status.enum_value(), Ok(ServingStatus::NOT_SERVING));
    let check = health.check(&health_request("")).unwrap();
    assert_eq!(check.status.enum_value(), Ok(ServingStatus::NOT_SERVING));
    assert_eq!(common::get(service.http_addr, "/healthz").status, 503);
    service.stop();
    assert!(matches!(
        futures_executor::block_on(watch.try_next()),
        Ok(None)
    ));
}

#[test]
fn health_watch_of_an_unknown_service_reports_service_unknown() {
    let service = common::spawn();
    let health = HealthClient::new(channel(service.grpc_addr));
    let mut watch = health.watch(&health_request("nope.Service")).unwrap();
    let first = futures_executor::block_on(watch.try_next())
        .unwrap()
        .unwrap();
    assert_eq!(
        first.status.enum_value(),
        Ok(ServingStatus::SERVICE_UNKNOWN)
    );
    service.stop();
}

#[test]
fn healthz_answers_serving_and_503_for_a_closed_upstream() {
    let service = common::spawn();
    let response = common::get(service.http_addr, "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), serde_json::json!({"status": "SERVING"}));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let gateway =
        common::spawn_with(|c| c.grpc_upstream = Some(format!("127.0.0.1:{closed_port}")));
    let started = Instant::now();
    let response = common::get(gateway.http_addr, "/healthz");
    assert_eq!(response.status, 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    let body = response.json();
    assert_eq!(body["status"], "NOT_SERVING");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    gateway.stop();
    service.stop();
}

#[test]
fn healthz_follows_the_upstream_through_a_second_instance() {
    let upstream = common::spawn();
    let gateway = common::spawn_with(|c| c.grpc_upstream = Some(upstream.grpc_addr.to_string()));
    assert_eq!(common::get(gateway.http_addr, "/healthz").status, 200);
    upstream.begin_stop();
    assert_eq!(common::get(gateway.http_addr, "/healthz").status, 503);
    gateway.stop();
    upstream.stop();
}

/// Parses Prometheus text into (series with labels, value) pairs.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series value");
            (series.to_string(), value.parse().expect("numeric value"))
        })
        .collect()
}

/// The value of the first series whose name is `name` and that has all `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text).into_iter().find_map(|(series, value)| {
        let (series_name, rest) = series.split_once('{').unwrap_or((&series, ""));
        let matches = series_name == name
            && labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        matches.then_some(value)
    })
}

#[test]
fn metrics_counters_rise_and_gauges_are_exact() {
    let service = common::spawn();
    let addr = service.http_addr;
    for i in 0..3 {
        assert_eq!(
            common::post(addr, "/entities", &format!(r#"{{"name":"e{i}"}}"#)).status,
            201
        );
    }
    assert_eq!(common::get(addr, "/entities/2").status, 200);
    assert_eq!(common::get(addr, "/entities/99").status, 404);
    let text = String::from_utf8(common::get(addr, "/metrics").body).unwrap();
    assert_eq!(sample(&text, "entities", &[]), Some(3.0));
    assert_eq!(sample(&text, "entity_watchers", &[]), Some(0.0));
    let created = [("method", "POST"), ("route", "/entities"), ("code", "201")];
    assert_eq!(sample(&text, "http_requests_total", &created), Some(3.0));
    let not_found = [
        ("method", "GET"),
        ("route", "/entities/{id}"),
        ("code", "404"),
    ];
    assert_eq!(sample(&text, "http_requests_total", &not_found), Some(1.0));
    let grpc_not_found = [
        ("grpc_method", "GetEntity"),
        ("grpc_code", "NOT_FOUND"),
        ("grpc_type", "unary"),
    ];
    assert_eq!(
        sample(&text, "grpc_server_handled_total", &grpc_not_found),
        Some(1.0)
    );
    let duration = [("method", "POST"), ("route", "/entities")];
    assert_eq!(
        sample(&text, "http_request_duration_seconds_count", &duration),
        Some(3.0)
    );
    assert!(
        !text.contains("/entities/2"),
        "raw paths must never become labels"
    );

    common::post(addr, "/entities", r#"{"name":"e3"}"#);
    let text = String::from_utf8(common::get(addr, "/metrics").body).unwrap();
    assert_eq!(sample(&text, "http_requests_total", &created), Some(4.0));
    assert_eq!(sample(&text, "entities", &[]), Some(4.0));
    service.stop();
}

#[test]
fn metrics_watcher_gauge_returns_to_zero_after_a_cancel() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    let mut watches: Vec<_> = (0..2)
        .map(|_| client.watch_entities(&WatchEntitiesRequest::new()).unwrap())
        .collect();
    let gauge = || sample(&service.metrics_text(), "entity_watchers", &[]);
    assert!(
        common::wait_until(Duration::from_secs(5), || gauge() == Some(2.0)),
        "gauge {:?}",
        gauge()
    );
    watches[0].cancel();
    assert!(
        common::wait_until(Duration::from_secs(3), || gauge() == Some(1.0)),
        "gauge {:?}",
        gauge()
    );
    drop(watches);
    assert!(
        common::wait_until(Duration::from_secs(3), || gauge() == Some(0.0)),
        "gauge {:?}",
        gauge()
    );
    let text = String::from_utf8(common::get(service.http_addr, "/metrics").body).unwrap();
    assert_eq!(sample(&text, "entity_watchers", &[]), Some(0.0));
    service.stop();
}

#[test]
fn metrics_use_the_prometheus_text_content_type() {
    let service = common::spawn();
    assert_eq!(common::get(service.http_addr, "/entities/1").status, 404);
    let response = common::get(service.http_addr, "/metrics");
    assert!(response
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(String::from_utf8(response.body)
        .unwrap()
        .contains("# TYPE http_requests_total counter"));
    service.stop();
}

#[test]
fn an_oversized_message_is_resource_exhausted_and_the_server_lives_on() {
    let service = common::spawn_with(|c| c.grpc_max_message_bytes = 64 * 1024);
    let client = common::grpc_client(service.grpc_addr);
    let big = common::create_request("big", &"d".repeat(100 * 1024));
    let error = client.create_entity(&big).unwrap_err();
    assert_eq!(status_code(error), RpcStatusCode::RESOURCE_EXHAUSTED);
    assert_eq!(service.store().len(), 0);
    let created = client
        .create_entity(&common::create_request("small", ""))
        .unwrap();
    assert_eq!(created.id, 1);
    service.stop();
}

#[test]
fn gzip_compressed_requests_are_accepted() {
    let service = common::spawn();
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    let channel = ChannelBuilder::new(env)
        .default_compression_algorithm(grpcio::CompressionAlgorithms::GRPC_COMPRESS_GZIP)
        .connect(&service.grpc_addr.to_string());
    let client = entity_service::proto::entities_grpc::EntityServiceClient::new(channel);
    let description = "compressible ".repeat(100);
    let created = client
        .create_entity(&common::create_request("zipped", &description))
        .unwrap();
    assert_eq!(created.description, description);
    let mut request = GetEntityRequest::new();
    request.id = created.id;
    assert_eq!(client.get_entity(&request).unwrap().name, "zipped");
    service.stop();
}

/// Asks one reflection question per request on a v1 stream.
fn reflect_v1(
    client: &reflection_v1_grpc::ServerReflectionClient,
    requests: Vec<reflection_v1::ServerReflectionRequest>,
) -> Vec<reflection_v1::ServerReflectionResponse> {
    let (mut sink, mut receiver) = client.server_reflection_info().unwrap();
    futures_executor::block_on(async {
        let mut answers = Vec::new();
        for request in requests {
            sink.send((request, WriteFlags::default())).await.unwrap();
            answers.push(receiver.try_next().await.unwrap().unwrap());
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

#[test]
fn reflection_v1_lists_services_and_describes_the_six_methods() {
    let service = common::spawn_with(|c| c.auth_token = Some("s3cret".into()));
    let client = reflection_v1_grpc::ServerReflectionClient::new(channel(service.grpc_addr));
    let mut list = reflection_v1::ServerReflectionRequest::new();
    list.set_list_services(String::new());
    let mut symbol = reflection_v1::ServerReflectionRequest::new();
    symbol.set_file_containing_symbol("entities.v1.EntityService".into());
    let mut missing = reflection_v1::ServerReflectionRequest::new();
    missing.set_file_containing_symbol("no.such.Symbol".into());
    let mut by_name = reflection_v1::ServerReflectionRequest::new();
    by_name.set_file_by_filename("health.proto".into());
    let mut message = reflection_v1::ServerReflectionRequest::new();
    message.set_file_containing_symbol("entities.v1.LookupEntityResponse".into());
    let answers = reflect_v1(&client, vec![list, symbol, missing, by_name, message]);

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

    let health_files = files_of(&answers[3]);
    assert_eq!(health_files[0].package(), "grpc.health.v1");
    assert_eq!(files_of(&answers[4])[0].package(), "entities.v1");
    assert!(answers[1].original_request.has_file_containing_symbol());
    service.stop();
}

#[test]
fn reflection_v1alpha_answers_too() {
    let service = common::spawn();
    let client = reflection_v1alpha_grpc::ServerReflectionClient::new(channel(service.grpc_addr));
    let (mut sink, mut receiver) = client.server_reflection_info().unwrap();
    let mut request = reflection_v1alpha::ServerReflectionRequest::new();
    request.set_list_services("*".into());
    let answer = futures_executor::block_on(async {
        sink.send((request, WriteFlags::default())).await.unwrap();
        let answer = receiver.try_next().await.unwrap().unwrap();
        let _ = sink.close().await;
        answer
    });
    let names: Vec<&str> = answer
        .list_services_response()
        .service
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert!(names.contains(&"entities.v1.EntityService"));
    assert!(names.contains(&"grpc.reflection.v1alpha.ServerReflection"));
    service.stop();
}
