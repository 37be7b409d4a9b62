//! Watchers beside 10,000 concurrent creates: one that does not read is
//! cut off with RESOURCE_EXHAUSTED without holding the creates up, and one
//! that reads receives every entity, in order.

use std::time::Duration;

use entity_service::proto::entities::Entity;
use entity_service::proto::entities_grpc::EntityServiceClient;
use grpcio::{ClientSStreamReceiver, RpcStatusCode};

use crate::helpers::grpc::{self, call_options, create_request, expect_code, watch_request};
use crate::helpers::lock::serial;
use crate::helpers::wait::wait_for_watchers;
use crate::helpers::TestService;

/// Entities created by the flood.
const CREATES: usize = 10_000;

/// Threads the creates come from, each on a connection of its own.
const CREATORS: usize = 4;

/// Large enough that an unread stream fills the transport's flow-control
/// windows well before 10,000 entities, so the watcher's own buffer overflows.
const DESCRIPTION_BYTES: usize = 2048;

/// The deadline of a watch: a hang bound on a stream that stops moving.
const WATCH_DEADLINE: Duration = Duration::from_secs(60);

/// A watch from the start, on a connection of its own (the client keeps it).
fn open_watch(service: &TestService) -> (EntityServiceClient, ClientSStreamReceiver<Entity>) {
    let client = grpc::separate_entity_client(service.grpc_addr);
    let stream = client
        .watch_entities_opt(&watch_request(0), grpc::deadline(WATCH_DEADLINE))
        .expect("watch starts");
    (client, stream)
}

/// 10,000 unary creates from 4 threads. Each has the 5 s call deadline, so
/// a create held up by a watcher fails the test.
fn create_10k_from_4_threads(service: &TestService) {
    let description = "d".repeat(DESCRIPTION_BYTES);
    let creators: Vec<_> = (0..CREATORS)
        .map(|t| {
            let client = grpc::separate_entity_client(service.grpc_addr);
            let description = description.clone();
            std::thread::spawn(move || {
                for n in 0..CREATES / CREATORS {
                    let request = create_request(&format!("t{t} n{n}"), &description);
                    client
                        .create_entity_opt(&request, call_options())
                        .unwrap_or_else(|e| panic!("create t{t} n{n}: {e:?}"));
                }
            })
        })
        .collect();
    for creator in creators {
        creator.join().expect("creator thread");
    }
    assert_eq!(service.store().len(), CREATES);
}

#[test]
fn a_watcher_that_does_not_read_is_cut_off_with_resource_exhausted_without_holding_up_creates() {
    let _serial = serial();
    let service = TestService::start();
    let (_client, mut stuck) = open_watch(&service);
    wait_for_watchers(&service, 1);

    create_10k_from_4_threads(&service);
    // Dropped from the feed once it fell behind.
    wait_for_watchers(&service, 0);

    // Read now: a gap-free prefix, then RESOURCE_EXHAUSTED.
    let mut received = 0;
    let end = loop {
        assert!(received <= CREATES, "more entities than were created");
        match grpc::next_outcome(&mut stuck) {
            Ok(Some(entity)) => {
                received += 1;
                assert_eq!(
                    entity.id, received as i64,
                    "the stuck watcher's prefix has a gap"
                );
            }
            end => break end,
        }
    };
    expect_code(end, RpcStatusCode::RESOURCE_EXHAUSTED);
    assert!(
        received < CREATES,
        "a cut-off watcher cannot have received all {CREATES}"
    );
    drop(stuck);
    assert_eq!(service.store().watcher_count(), 0);
}

#[test]
fn a_reading_watcher_receives_all_10k_concurrent_creates_in_order_beside_a_stuck_one() {
    let _serial = serial();
    let service = TestService::start();
    let (_stuck_client, stuck) = open_watch(&service);
    let (_reading_client, mut reading) = open_watch(&service);
    wait_for_watchers(&service, 2);

    // The reading watcher: every entity, in order, as fast as it can.
    let reader = std::thread::spawn(move || {
        let mut ids = Vec::with_capacity(CREATES);
        while ids.len() < CREATES {
            match grpc::next_outcome(&mut reading) {
                Ok(Some(entity)) => ids.push(entity.id),
                end => return (ids, Some(format!("{end:?}")), reading),
            }
        }
        (ids, None, reading)
    });

    create_10k_from_4_threads(&service);
    let (ids, end, reading) = reader.join().expect("reader thread");
    assert_eq!(
        end,
        None,
        "the reading watcher's stream ended after {} of {CREATES} entities",
        ids.len()
    );
    assert!(
        ids.iter().copied().eq(1..=CREATES as i64),
        "the reading watcher did not get ids 1..={CREATES} in order"
    );

    // Both streams gone: no watcher left behind.
    drop(reading);
    drop(stuck);
    wait_for_watchers(&service, 0);
}
