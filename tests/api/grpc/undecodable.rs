//! Request messages that cannot be decoded (invalid UTF-8 in a string,
//! truncated protobuf, an invalid wire type), sent as raw bytes: every
//! service answers INVALID_ARGUMENT naming the field, counts the call and
//! logs it, and a stream names the index of the message; what a
//! CreateEntities stream created before it stays.

use std::time::Duration;

use futures_executor::block_on;
use futures_util::{SinkExt, TryStreamExt};
use grpcio::{MethodType, RpcStatus, RpcStatusCode, WriteFlags};
use protobuf::Message;

use super::{create, get};
use crate::helpers::child::Binary;
use crate::helpers::grpc::{
    self, bearer, call_options, call_options_with, create_request, get_request, raw_client,
    raw_method,
};
use crate::helpers::metrics::sample;
use crate::helpers::wait::assert_eventually;
use crate::helpers::TestService;

/// How long the server may take to log a finished call: a hang bound.
const LOG_LIMIT: Duration = Duration::from_secs(5);

/// `name` (field 1, length 2) holding bytes that are not UTF-8.
const NAME_NOT_UTF8: &[u8] = &[0x0a, 0x02, 0xff, 0xfe];
/// Field 1 declares 5 bytes; 1 follows.
const TRUNCATED_STRING: &[u8] = &[0x0a, 0x05, b'a'];
/// Field 1 as a varint whose continuation bit promises more bytes than come.
const TRUNCATED_VARINT: &[u8] = &[0x08, 0xff];
/// Field 1 with wire type 7, which does not exist.
const INVALID_WIRE_TYPE: &[u8] = &[0x0f, 0x01];

/// The status of a failed call; success fails the test.
#[track_caller]
fn failed<T: std::fmt::Debug>(result: grpcio::Result<T>, what: &str) -> RpcStatus {
    match result {
        Ok(value) => panic!("{what}: expected a failure, got Ok({value:?})"),
        Err(error) => grpc::rpc_status(error),
    }
}

/// Asserts an INVALID_ARGUMENT whose message contains each of `words`.
#[track_caller]
fn assert_invalid(status: &RpcStatus, words: &[&str], what: &str) {
    assert_eq!(
        status.code(),
        RpcStatusCode::INVALID_ARGUMENT,
        "{what}: {status:?}"
    );
    for word in words {
        assert!(
            status.message().contains(word),
            "{what}: {word:?} missing from {:?}",
            status.message()
        );
    }
}

/// How many calls of `method` ended with `code`, per the metrics.
fn handled(service: &TestService, method: &str, code: &str) -> Option<f64> {
    let labels = [("grpc_method", method), ("grpc_code", code)];
    sample(
        &service.metrics_text(),
        "grpc_server_handled_total",
        &labels,
    )
}

#[test]
fn unary_and_server_stream_requests_that_cannot_be_decoded_are_invalid_arguments() {
    let service = TestService::start();
    let client = raw_client(service.grpc_addr);
    // (method, kind, bytes, words the message must contain)
    let cases: [(&str, MethodType, &[u8], &[&str]); 6] = [
        (
            "CreateEntity",
            MethodType::Unary,
            NAME_NOT_UTF8,
            &["`name`", "UTF-8", "byte 2"],
        ),
        (
            "CreateEntity",
            MethodType::Unary,
            TRUNCATED_STRING,
            &["`name`", "byte 0", "truncated"],
        ),
        (
            "GetEntity",
            MethodType::Unary,
            TRUNCATED_VARINT,
            &["`id`", "byte 0", "truncated"],
        ),
        (
            "ListEntities",
            MethodType::ServerStreaming,
            &[0x08],
            &["`start_id`", "truncated"],
        ),
        (
            "WatchEntities",
            MethodType::ServerStreaming,
            INVALID_WIRE_TYPE,
            &["wire type 7", "byte 0"],
        ),
        (
            "ListEntities",
            MethodType::ServerStreaming,
            // A valid start_id, then a string field cut short.
            &[0x08, 0x01, 0x12, 0x09],
            &["byte 2", "truncated"],
        ),
    ];
    for (method, kind, bytes, words) in cases {
        let what = format!("{method} {bytes:02x?}");
        let path = match method {
            "CreateEntity" => "/entities.v1.EntityService/CreateEntity",
            "GetEntity" => "/entities.v1.EntityService/GetEntity",
            "ListEntities" => "/entities.v1.EntityService/ListEntities",
            _ => "/entities.v1.EntityService/WatchEntities",
        };
        let method_def = raw_method(kind, path);
        let status = match kind {
            MethodType::Unary => failed(
                client.unary_call(&method_def, &bytes.to_vec(), call_options()),
                &what,
            ),
            _ => {
                let stream = client
                    .server_streaming(&method_def, &bytes.to_vec(), call_options())
                    .expect("call starts");
                failed(block_on(stream.try_collect::<Vec<_>>()), &what)
            }
        };
        assert_invalid(&status, words, &what);
    }
    // Counted like every call, by the status it ended with.
    for (method, count) in [
        ("CreateEntity", 2.0),
        ("GetEntity", 1.0),
        ("ListEntities", 2.0),
        ("WatchEntities", 1.0),
    ] {
        let counted = handled(&service, method, "INVALID_ARGUMENT");
        assert_eq!(counted, Some(count), "{method}");
    }
    assert_eq!(service.store().len(), 0, "nothing undecodable is stored");
    let client = grpc::entity_client(service.grpc_addr);
    assert_eq!(create(&client, "after", "").id, 1);
}

#[test]
fn a_create_entities_message_that_cannot_be_decoded_ends_the_stream_naming_its_index() {
    let service = TestService::start();
    let client = raw_client(service.grpc_addr);
    let method = raw_method(
        MethodType::ClientStreaming,
        "/entities.v1.EntityService/CreateEntities",
    );
    let valid = |name: &str| create_request(name, "").write_to_bytes().expect("encodes");
    let messages = [valid("first"), NAME_NOT_UTF8.to_vec(), valid("never")];
    let (mut sink, receiver) = client
        .client_streaming(&method, call_options())
        .expect("call starts");
    let result = block_on(async move {
        for message in messages {
            // The server may end the call before the last send.
            if sink.send((message, WriteFlags::default())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
        receiver.await
    });
    let status = failed(result, "CreateEntities");
    assert_invalid(&status, &["index 1", "`name`", "UTF-8"], "CreateEntities");
    assert!(!status.message().contains("index 2"), "{status:?}");
    // What came before the undecodable message stays created.
    assert_eq!(service.store().len(), 1);
    let client = grpc::entity_client(service.grpc_addr);
    assert_eq!(get(&client, 1).expect("entity 1").name, "first");
    let counted = handled(&service, "CreateEntities", "INVALID_ARGUMENT");
    assert_eq!(counted, Some(1.0));
}

#[test]
fn a_bidi_stream_message_that_cannot_be_decoded_ends_the_stream_naming_its_index() {
    let service = TestService::start();
    service.seed("one", "");
    let client = raw_client(service.grpc_addr);
    let paths = [
        "/entities.v1.EntityService/LookupEntities",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ];
    for path in paths {
        // Lookup of id 1, or a reflection list_services (field 7).
        let first = if path.contains("Lookup") {
            get_request(1).write_to_bytes().expect("encodes")
        } else {
            vec![0x3a, 0x00]
        };
        let (mut sink, mut receiver) = client
            .duplex_streaming(&raw_method(MethodType::Duplex, path), call_options())
            .expect("call starts");
        let status = block_on(async {
            sink.send((first, WriteFlags::default()))
                .await
                .expect("send");
            let answer = receiver.try_next().await.expect("first answer");
            assert!(answer.is_some(), "{path}: the valid message is answered");
            let _ = sink
                .send((TRUNCATED_STRING.to_vec(), WriteFlags::default()))
                .await;
            failed(receiver.try_next().await, path)
        });
        let expected_field = if path.contains("Lookup") {
            "`id`"
        } else {
            "`host`"
        };
        let words = ["index 1", expected_field, "truncated"];
        assert_invalid(&status, &words, path);
    }
    assert_eq!(
        handled(&service, "LookupEntities", "INVALID_ARGUMENT"),
        Some(1.0)
    );
    assert_eq!(
        handled(&service, "ServerReflectionInfo", "INVALID_ARGUMENT"),
        Some(1.0),
        "the first reflection version"
    );
}

#[test]
fn health_requests_that_cannot_be_decoded_are_invalid_arguments() {
    let service = TestService::start();
    let client = raw_client(service.grpc_addr);
    let check = raw_method(MethodType::Unary, "/grpc.health.v1.Health/Check");
    let status = failed(
        client.unary_call(&check, &NAME_NOT_UTF8.to_vec(), call_options()),
        "Check",
    );
    assert_invalid(&status, &["`service`", "UTF-8"], "Check");
    let watch = raw_method(MethodType::ServerStreaming, "/grpc.health.v1.Health/Watch");
    let stream = client
        .server_streaming(&watch, &NAME_NOT_UTF8.to_vec(), call_options())
        .expect("call starts");
    let status = failed(block_on(stream.try_collect::<Vec<_>>()), "Watch");
    assert_invalid(&status, &["`service`", "UTF-8"], "Watch");
    for method in ["Check", "Watch"] {
        let counted = handled(&service, method, "INVALID_ARGUMENT");
        assert_eq!(counted, Some(1.0), "{method}");
    }
}

#[test]
fn without_the_token_an_undecodable_request_is_unauthenticated() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    let client = raw_client(service.grpc_addr);
    let create = raw_method(MethodType::Unary, "/entities.v1.EntityService/CreateEntity");
    let bytes = NAME_NOT_UTF8.to_vec();
    let refused = failed(
        client.unary_call(&create, &bytes, call_options()),
        "no token",
    );
    assert_eq!(
        refused.code(),
        RpcStatusCode::UNAUTHENTICATED,
        "{refused:?}"
    );
    let with_token = call_options_with(bearer("s3cret"));
    let status = failed(client.unary_call(&create, &bytes, with_token), "token");
    assert_invalid(&status, &["`name`"], "with the token");
}

#[test]
fn an_undecodable_request_gets_an_access_line_with_its_code() {
    let server = Binary::server(&[]).env("RUST_LOG", "access=info").serve();
    let client = raw_client(server.grpc_addr);
    let create = raw_method(MethodType::Unary, "/entities.v1.EntityService/CreateEntity");
    let status = failed(
        client.unary_call(&create, &NAME_NOT_UTF8.to_vec(), call_options()),
        "CreateEntity",
    );
    assert_invalid(&status, &["`name`"], "CreateEntity");
    let line = "grpc method=entities.v1.EntityService/CreateEntity code=INVALID_ARGUMENT ";
    assert_eventually(
        LOG_LIMIT,
        || server.stderr_text().contains(line),
        || format!("no access line {line:?}: {}", server.stderr_tail()),
    );
}
