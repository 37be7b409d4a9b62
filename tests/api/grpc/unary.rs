//! GetEntity and CreateEntity: ids, stored fields, validation limits in
//! characters, error codes and messages, and ids under concurrent creates.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_executor::block_on;
use grpcio::RpcStatusCode;

use super::{create, fields, get, list_ids, seed_numbered};
use crate::helpers::grpc::{self, call_options, create_request, deadline, expect_code};
use crate::helpers::lock::serial;
use crate::helpers::TestService;

#[test]
fn created_entities_get_ids_from_one_and_read_back_exactly_as_sent() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let n256 = "n".repeat(256);
    let e256 = "é".repeat(256);
    let crab256 = "🦀".repeat(256);
    let d4096 = "d".repeat(4096);
    let wide4096 = "ж".repeat(4096); // 8192 bytes
    let cases: [(&str, &str, &str); 8] = [
        ("plain", "widget", "a small widget ✓"),
        ("padding kept", "  padded name\t", " padded description "),
        ("256 one-byte characters", &n256, ""),
        ("256 two-byte characters", &e256, ""),
        ("256 four-byte characters", &crab256, ""),
        ("4096-character description", "max description", &d4096),
        ("4096 two-byte characters", "wide description", &wide4096),
        ("empty description", "empty description", ""),
    ];
    for (id, (case, name, description)) in (1..).zip(cases) {
        let created = create(&client, name, description);
        assert_eq!(fields(&created), (id, name, description), "{case}");
        let fetched = get(&client, id).unwrap_or_else(|e| panic!("{case}: get: {e:?}"));
        assert_eq!(fetched, created, "{case}");
    }
    assert_eq!(service.store().len(), cases.len());
}

#[test]
fn invalid_creates_name_the_field_and_use_no_id() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let n257 = "n".repeat(257);
    let e257 = "é".repeat(256) + "a";
    let crab257 = "🦀".repeat(257);
    let d4097 = "d".repeat(4097);
    let wide4097 = "ж".repeat(4096) + "x";
    let d5000 = "d".repeat(5000);
    let cases: [(&str, &str, &str, &[&str]); 9] = [
        ("empty name", "", "desc", &["name"]),
        ("space name", " ", "desc", &["name"]),
        ("blank name", " \t\n\r ", "desc", &["name"]),
        (
            "257 one-byte characters",
            &n257,
            "",
            &["name", "257 characters"],
        ),
        (
            "257 mixed characters",
            &e257,
            "",
            &["name", "257 characters"],
        ),
        (
            "257 four-byte characters",
            &crab257,
            "",
            &["name", "257 characters"],
        ),
        ("4097-character description", "x", &d4097, &["description"]),
        ("4097 mostly two-byte", "x", &wide4097, &["description"]),
        ("5000-character description", "x", &d5000, &["description"]),
    ];
    // A valid create before and after each rejected one: no gap in the ids.
    assert_eq!(create(&client, "first", "").id, 1);
    for (valid, (case, name, description, words)) in (2..).zip(cases) {
        let status = expect_code(
            client.create_entity_opt(&create_request(name, description), call_options()),
            RpcStatusCode::INVALID_ARGUMENT,
        );
        for word in words {
            assert!(
                status.message().contains(word),
                "{case}: the message should say {word:?}: {:?}",
                status.message()
            );
        }
        assert_eq!(create(&client, case, "").id, valid, "{case} used an id");
    }
    let stored = cases.len() as i64 + 1;
    assert_eq!(service.store().len() as i64, stored);
    expect_code(get(&client, stored + 1), RpcStatusCode::NOT_FOUND);
}

#[test]
fn get_below_one_is_invalid_argument_and_absent_is_not_found_naming_the_id() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let status = expect_code(get(&client, 1), RpcStatusCode::NOT_FOUND);
    assert_eq!(status.message(), "entity 1 not found", "empty store");

    seed_numbered(&service, 2);
    let cases = [
        (0, RpcStatusCode::INVALID_ARGUMENT, None),
        (-1, RpcStatusCode::INVALID_ARGUMENT, None),
        (i64::MIN, RpcStatusCode::INVALID_ARGUMENT, None),
        (
            3,
            RpcStatusCode::NOT_FOUND,
            Some("entity 3 not found".to_string()),
        ),
        (
            i64::MAX,
            RpcStatusCode::NOT_FOUND,
            Some(format!("entity {} not found", i64::MAX)),
        ),
    ];
    for (id, code, message) in cases {
        let status = match get(&client, id) {
            Ok(entity) => panic!("id {id}: expected {code:?}, got {entity:?}"),
            Err(error) => grpc::rpc_status(error),
        };
        assert_eq!(status.code(), code, "id {id}: {status:?}");
        if let Some(message) = message {
            assert_eq!(status.message(), message, "id {id}");
        }
    }
}

#[test]
fn concurrent_creates_get_ids_exactly_1_to_4000_and_are_all_readable() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 500;
    const TOTAL: i64 = (THREADS * PER_THREAD) as i64;
    let _serial = serial();
    let service = TestService::start();
    let addr = service.grpc_addr;

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let client = grpc::separate_entity_client(addr);
                // Start all the calls, then wait for them: they are in flight together.
                let receivers: Vec<_> = (0..PER_THREAD)
                    .map(|i| {
                        let request = create_request(&format!("t{t}-{i}"), &format!("thread {t}"));
                        client
                            .create_entity_async_opt(&request, deadline(Duration::from_secs(30)))
                            .expect("call starts")
                    })
                    .collect();
                let created: Vec<(i64, String)> = receivers
                    .into_iter()
                    .map(|receiver| {
                        let entity = block_on(receiver).expect("create succeeds");
                        (entity.id, entity.name)
                    })
                    .collect();
                created
            })
        })
        .collect();
    let mut created = Vec::new();
    for worker in workers {
        created.extend(worker.join().expect("worker thread"));
    }

    let unique: BTreeSet<i64> = created.iter().map(|(id, _)| *id).collect();
    assert_eq!(created.len(), unique.len(), "every id is given once");
    let every_id: Vec<i64> = (1..=TOTAL).collect();
    assert_eq!(unique.into_iter().collect::<Vec<_>>(), every_id);
    assert_eq!(service.store().len() as i64, TOTAL);
    let client = grpc::entity_client(addr);
    for (id, name) in &created {
        let entity = get(&client, *id).unwrap_or_else(|e| panic!("get {id}: {e:?}"));
        assert_eq!(&entity.name, name, "entity {id}");
    }
    assert_eq!(list_ids(&client, 0, 0), every_id);
}
