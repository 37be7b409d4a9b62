//! `--grpc-max-message-bytes` limits what the server receives, never what it
//! sends: a create whose request fits is stored once and answered, however
//! close to the limit it was, and List, Lookup and `GET /entities` go on
//! serving it; a request over the limit is refused before anything is stored.

use entity_service::proto::entities::CreateEntityRequest;
use grpcio::RpcStatusCode;
use protobuf::Message;
use serde_json::json;

use super::{create, get, ids, list_ids};
use crate::helpers::grpc::{self, call_options, create_many, create_request, expect_code};
use crate::helpers::{http, TestService};

/// The limit under test: small enough for a valid entity to reach it.
const LIMIT: usize = 8192;

/// A create request named `name` (ASCII, under 128 bytes) whose encoding is
/// exactly `size` bytes: a description of two-byte characters, padded.
fn request_of_size(name: &str, size: usize) -> CreateEntityRequest {
    // Field keys and lengths: 1 + 1 for the name, 1 + 2 for the description.
    let description_bytes = size - name.len() - 5;
    let description = "é".repeat(description_bytes / 2) + &"x".repeat(description_bytes % 2);
    let request = create_request(name, &description);
    let encoded = request.compute_size() as usize;
    assert_eq!(encoded, size, "the request is built to size");
    request
}

#[test]
fn a_create_right_at_the_limit_is_stored_once_answered_and_listed() {
    let service = TestService::start_with(|c| c.grpc_max_message_bytes = LIMIT);
    let client = grpc::entity_client(service.grpc_addr);

    // Its reply (the same fields and an id) is larger than the limit.
    let near = request_of_size("near", LIMIT);
    let created = client
        .create_entity_opt(&near, call_options())
        .unwrap_or_else(|e| panic!("a request that fits is answered: {e:?}"));
    assert_eq!(created.id, 1);
    assert_eq!(created.description, near.description);
    assert!(created.compute_size() as usize > LIMIT, "the reply is over");

    // The same through the REST gateway's hop.
    let body = json!({ "name": "rest", "description": near.description }).to_string();
    let response = http::post(service.http_addr, "/entities", &body);
    assert_eq!(response.status, 201, "REST create: {}", response.text());
    assert_eq!(response.json()["id"], 2);
    assert_eq!(service.store().len(), 2, "each create stored once");

    // One over the limit is refused before anything is stored.
    let over = request_of_size("over", LIMIT + 1);
    expect_code(
        client.create_entity_opt(&over, call_options()),
        RpcStatusCode::RESOURCE_EXHAUSTED,
    );
    assert_eq!(
        service.store().len(),
        2,
        "nothing stored for the refused one"
    );

    // Everyone can still read them.
    assert_eq!(list_ids(&client, 0, 0), [1, 2]);
    assert_eq!(get(&client, 2).expect("GetEntity 2").name, "rest");
    let found: Vec<_> = grpc::lookup_each(&client, &[1, 2])
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(ids(&found), [1, 2]);
    let listed = http::get(service.http_addr, "/entities");
    assert_eq!(listed.status, 200, "GET /entities: {}", listed.text());
    let listed = listed.json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, ["near", "rest"]);
    let one = http::get(service.http_addr, "/entities/1");
    assert_eq!(one.status, 200, "GET /entities/1: {}", one.text());
    assert_eq!(one.json()["description"], near.description.as_str());
}

#[test]
fn a_create_entities_reply_with_more_ids_than_the_limit_holds_is_sent() {
    let service = TestService::start_with(|c| c.grpc_max_message_bytes = LIMIT);
    let client = grpc::entity_client(service.grpc_addr);
    // 5000 ids take 127 one-byte and 4873 two-byte varints: over 8 KiB.
    let count = 5000;
    let requests = (1..=count)
        .map(|n| create_request(&format!("e{n}"), ""))
        .collect();
    let response = create_many(&client, call_options(), requests)
        .unwrap_or_else(|e| panic!("CreateEntities of {count}: {e:?}"));
    assert!(
        response.compute_size() as usize > LIMIT,
        "the reply is over"
    );
    assert_eq!(response.created, count);
    assert_eq!(response.ids, (1..=i64::from(count)).collect::<Vec<_>>());
    assert_eq!(service.store().len(), count as usize, "each stored once");
    assert_eq!(create(&client, "next", "").id, i64::from(count) + 1);
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
