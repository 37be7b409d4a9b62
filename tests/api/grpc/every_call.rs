//! What holds for all six RPCs alike: the initial metadata echoes
//! `x-request-id`, `x-echo-initial` and `x-echo-bin`; an unsafe or absent
//! request id is replaced by a generated one; and with a token set, every
//! call needs `authorization: Bearer <token>`.

use grpcio::{Metadata, MetadataBuilder, RpcStatusCode};

use super::{seed_numbered, start_seeded, Rpc};
use crate::helpers::grpc::{
    self, bearer, call_options, call_options_with, expect_code, get_request, header, header_str,
    metadata,
};
use crate::helpers::TestService;

/// The ASCII value sent as `x-echo-initial`.
const ECHO_TEXT: &str = "Hello, World! ~ 123 {a=b}";

/// Every byte value, 0x00 and 0xff included, twice and in two orders: the
/// value sent as `x-echo-bin`.
fn all_bytes() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend((0..=255u8).rev());
    bytes
}

/// Metadata with this request id and both echo headers.
fn echo_metadata(request_id: &str) -> Metadata {
    let mut builder = MetadataBuilder::new();
    builder.add_str("x-request-id", request_id).unwrap();
    builder.add_str("x-echo-initial", ECHO_TEXT).unwrap();
    builder.add_bytes("x-echo-bin", &all_bytes()).unwrap();
    builder.build()
}

#[test]
fn every_call_echoes_its_request_id_and_echo_headers_in_initial_metadata() {
    let (_service, client) = start_seeded(1);
    for rpc in Rpc::ALL {
        let request_id = format!("req-{rpc:?}.123");
        let headers = rpc
            .call(&client, call_options_with(echo_metadata(&request_id)))
            .unwrap_or_else(|e| panic!("{rpc:?}: {e:?}"));
        let echoed = header_str(&headers, "x-request-id");
        assert_eq!(echoed.as_deref(), Some(&*request_id), "{rpc:?}");
        let text = header(&headers, "x-echo-initial");
        assert_eq!(text, Some(ECHO_TEXT.as_bytes()), "{rpc:?}: x-echo-initial");
        let bytes = header(&headers, "x-echo-bin");
        assert_eq!(bytes, Some(&all_bytes()[..]), "{rpc:?}: x-echo-bin");
    }
}

#[test]
fn an_absent_or_unsafe_request_id_is_replaced_by_a_generated_one() {
    let (_service, client) = start_seeded(1);
    let too_long = "a".repeat(129);
    let longest = "b".repeat(128);
    // (case, the id sent, whether it is kept)
    let cases: [(&str, Option<&str>, bool); 5] = [
        ("absent", None, false),
        ("spaces", Some("has spaces in it"), false),
        ("129 bytes", Some(&too_long), false),
        ("quote and semicolon", Some("semi;colon\"quote"), false),
        ("128 bytes, the longest kept", Some(&longest), true),
    ];
    for rpc in Rpc::ALL {
        for (case, sent, kept) in cases {
            let option = match sent {
                Some(id) => call_options_with(metadata(&[("x-request-id", id)])),
                None => call_options(),
            };
            let headers = rpc
                .call(&client, option)
                .unwrap_or_else(|e| panic!("{rpc:?}, {case}: {e:?}"));
            let echoed = header_str(&headers, "x-request-id")
                .unwrap_or_else(|| panic!("{rpc:?}, {case}: no x-request-id"));
            if kept {
                assert_eq!(Some(&*echoed), sent, "{rpc:?}, {case}");
                continue;
            }
            assert_ne!(
                Some(&*echoed),
                sent,
                "{rpc:?}, {case}: an unsafe id is echoed"
            );
            let safe = !echoed.is_empty()
                && echoed.len() <= 128
                && echoed.bytes().all(|b| b.is_ascii_graphic());
            assert!(
                safe,
                "{rpc:?}, {case}: the generated id {echoed:?} is not safe"
            );
        }
    }
}

#[test]
fn every_call_needs_the_bearer_token() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    seed_numbered(&service, 1);
    let client = grpc::entity_client(service.grpc_addr);
    let refused = [
        ("no token", None),
        ("a wrong token", Some(bearer("wrong"))),
        ("a prefix of the token", Some(bearer("s3cre"))),
        ("the token and more", Some(bearer("s3cret-and-more"))),
        (
            "the Basic scheme",
            Some(metadata(&[("authorization", "Basic s3cret")])),
        ),
        ("no scheme", Some(metadata(&[("authorization", "s3cret")]))),
    ];
    for rpc in Rpc::ALL {
        for (case, headers) in &refused {
            let option = headers.clone().map_or_else(call_options, call_options_with);
            match rpc.call(&client, option) {
                Ok(_) => panic!("{rpc:?} with {case}: succeeded"),
                Err(e) => assert_eq!(
                    grpc::status_code(e),
                    RpcStatusCode::UNAUTHENTICATED,
                    "{rpc:?} with {case}"
                ),
            }
        }
    }
    assert_eq!(service.store().len(), 1, "a refused call stored something");
    assert_eq!(
        service.store().watcher_count(),
        0,
        "a refused watch is open"
    );
    // The token is checked before anything else: even an invalid id is UNAUTHENTICATED.
    expect_code(
        client.get_entity_opt(&get_request(0), call_options()),
        RpcStatusCode::UNAUTHENTICATED,
    );

    for rpc in Rpc::ALL {
        rpc.call(&client, call_options_with(bearer("s3cret")))
            .unwrap_or_else(|e| panic!("{rpc:?} with the token: {e:?}"));
    }
    assert_eq!(service.store().len(), 3, "both authorized creates stored");
}
