//! gRPC server reflection, v1 and v1alpha: what a generic client (grpcurl,
//! `buf curl`) learns about the services and their methods.

use entity_service::proto::{reflection_v1, reflection_v1alpha};
use futures_executor::block_on;
use futures_util::{SinkExt, TryStreamExt};
use grpcio::WriteFlags;
use protobuf::descriptor::FileDescriptorProto;
use protobuf::Message;

use crate::helpers::grpc::{self, call_options};
use crate::helpers::TestService;

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
