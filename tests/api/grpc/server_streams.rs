//! ListEntities and WatchEntities: id order, start and limit, replay then
//! live entities, and every way a watch ends (deadline, cancel, drop, stop,
//! falling behind).

use std::time::Duration;

use entity_service::proto::entities::Entity;
use entity_service::proto::entities_grpc::EntityServiceClient;
use grpcio::{CallOption, ClientSStreamReceiver, RpcStatusCode};

use super::{create, fields, ids, list_ids, seed_numbered, start_seeded};
use crate::helpers::grpc::{
    self, call_options, create_many, create_request, deadline, expect_code, list_request,
    watch_request,
};
use crate::helpers::lock::serial;
use crate::helpers::wait::{assert_eventually, wait_for_watchers};
use crate::helpers::TestService;

/// How long a watch may stay open in the tests that read it to its end: a
/// hang bound for reads that wait on the server.
const WATCH_LIMIT: Duration = Duration::from_secs(20);
/// How long a closed watch may take to leave the store: a hang bound.
const FREED_LIMIT: Duration = Duration::from_secs(5);

/// A watch stream.
type Watch = ClientSStreamReceiver<Entity>;

/// A watch of the entities after `after_id`; a failure to start fails the test.
#[track_caller]
fn watch(client: &EntityServiceClient, after_id: i64, option: CallOption) -> Watch {
    client
        .watch_entities_opt(&watch_request(after_id), option)
        .expect("watch starts")
}

/// Asserts that the next message of `stream` is the seeded entity `id` (`e{id}`, `d{id}`).
#[track_caller]
fn assert_next_seeded(stream: &mut Watch, id: i64, case: &str) {
    let entity = grpc::next_message(stream);
    let (name, description) = (format!("e{id}"), format!("d{id}"));
    assert_eq!(fields(&entity), (id, &*name, &*description), "{case}");
}

#[test]
fn list_streams_in_id_order_from_start_id_up_to_limit() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    for (start_id, limit) in [(0, 0), (1, 10)] {
        let listed = list_ids(&client, start_id, limit);
        assert!(
            listed.is_empty(),
            "empty store, start_id {start_id} limit {limit}: {listed:?}"
        );
    }

    seed_numbered(&service, 5);
    let all: &[i64] = &[1, 2, 3, 4, 5];
    let cases: [(i64, u32, &[i64]); 14] = [
        (0, 0, all),
        (1, 0, all),
        (-7, 0, all),
        (i64::MIN, 0, all),
        (3, 0, &[3, 4, 5]),
        (5, 0, &[5]),
        (6, 0, &[]),
        (i64::MAX, 0, &[]),
        (0, 2, &[1, 2]),
        (2, 2, &[2, 3]),
        (4, 10, &[4, 5]),
        (1, 1, &[1]),
        (1, u32::MAX, all),
        (9, 3, &[]),
    ];
    for (start_id, limit, expected) in cases {
        let listed = list_ids(&client, start_id, limit);
        assert_eq!(listed, expected, "start_id {start_id} limit {limit}");
    }
    let mut stream = client
        .list_entities_opt(&list_request(0, 0), call_options())
        .expect("list call starts");
    for &id in all {
        assert_next_seeded(&mut stream, id, "every field is listed");
    }
}

#[test]
fn list_streams_many_large_entities_completely() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let description = "x".repeat(4096);
    let requests = (1..=600)
        .map(|n| create_request(&format!("big {n}"), &description))
        .collect();
    let response = create_many(&client, call_options(), requests).expect("bulk create");
    assert_eq!(response.created, 600);

    let stream = client
        .list_entities_opt(&list_request(0, 0), call_options())
        .expect("list call starts");
    let listed = grpc::collect(stream).expect("list succeeds");
    assert_eq!(ids(&listed), (1..=600).collect::<Vec<_>>());
    assert!(listed.iter().all(|e| e.description == description));
}

#[test]
fn watch_replays_ids_after_after_id_then_streams_new_ones_live() {
    let cases: [(i64, &[i64]); 5] = [
        (1, &[2, 3]),
        (0, &[1, 2, 3]),
        (-5, &[1, 2, 3]),
        (i64::MIN, &[1, 2, 3]),
        (100, &[]),
    ];
    for (after_id, replayed) in cases {
        let case = format!("after_id {after_id}");
        let (service, client) = start_seeded(3);
        let mut stream = watch(&client, after_id, call_options());
        for &id in replayed {
            assert_next_seeded(&mut stream, id, &case);
        }
        wait_for_watchers(&service, 1);
        // Created after the watch is open: each arrives live, in order, once.
        for id in 4..=6 {
            create(&client, &format!("e{id}"), &format!("d{id}"));
        }
        for id in 4..=6 {
            assert_next_seeded(&mut stream, id, &case);
        }
    }
}

#[test]
fn watch_replays_more_than_one_chunk_in_order_without_gaps() {
    let (service, client) = start_seeded(700);
    let mut stream = watch(&client, 10, call_options());
    let replayed: Vec<i64> = (11..=700)
        .map(|_| grpc::next_message(&mut stream).id)
        .collect();
    assert_eq!(replayed, (11..=700).collect::<Vec<_>>());
    wait_for_watchers(&service, 1);
    create(&client, "after replay", "");
    assert_eq!(grpc::next_message(&mut stream).id, 701);
}

#[test]
fn two_watchers_each_receive_every_new_entity() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let mut watches: Vec<_> = (0..2).map(|_| watch(&client, 0, call_options())).collect();
    wait_for_watchers(&service, 2);
    for n in 1..=3 {
        create(&client, &format!("e{n}"), &format!("d{n}"));
    }
    for (watcher, stream) in watches.iter_mut().enumerate() {
        for id in 1..=3 {
            assert_next_seeded(stream, id, &format!("watcher {watcher}"));
        }
    }
}

#[test]
fn watch_opened_during_concurrent_creates_sees_every_id_once_in_order() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 150;
    const LAST: i64 = 20 + (THREADS * PER_THREAD) as i64;
    let service = TestService::start();
    seed_numbered(&service, 20);
    let addr = service.grpc_addr;
    let creators: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let client = grpc::entity_client(addr);
                for i in 0..PER_THREAD {
                    create(&client, &format!("c{t}-{i}"), "");
                }
            })
        })
        .collect();
    // Open the watch once the creates are under way: whatever the split
    // between replay and live feed, nothing may be missed or repeated.
    assert_eventually(
        WATCH_LIMIT,
        || service.store().len() > 20,
        || "the creator threads created nothing".into(),
    );
    let client = grpc::entity_client(addr);
    let mut stream = watch(&client, 5, deadline(WATCH_LIMIT));
    for creator in creators {
        creator.join().expect("creator thread");
    }
    let received: Vec<i64> = (6..=LAST)
        .map(|_| grpc::next_message(&mut stream).id)
        .collect();
    assert_eq!(received, (6..=LAST).collect::<Vec<_>>());
}

#[test]
fn silent_watch_ends_with_deadline_exceeded_and_frees_the_watcher() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let mut stream = watch(&client, 0, deadline(Duration::from_secs(2)));
    wait_for_watchers(&service, 1);
    expect_code(
        grpc::next_outcome(&mut stream),
        RpcStatusCode::DEADLINE_EXCEEDED,
    );
    wait_for_watchers(&service, 0);
}

/// Closes a held watch stream: cancels it and keeps it, or drops it.
type Close = fn(&mut Option<Watch>);

#[test]
fn a_cancelled_or_dropped_watch_frees_its_watcher_without_a_create() {
    let (service, client) = start_seeded(1);
    let cases: [(&str, Close); 2] = [
        ("cancelled", |held| held.as_mut().expect("open").cancel()),
        ("dropped", |held| *held = None),
    ];
    for (case, close) in cases {
        let mut stream = watch(&client, 0, deadline(Duration::from_secs(60)));
        assert_next_seeded(&mut stream, 1, case);
        wait_for_watchers(&service, 1);
        let mut held = Some(stream);
        close(&mut held);
        // The call's close event frees it: no create comes to wake it up.
        assert_eventually(
            FREED_LIMIT,
            || service.store().watcher_count() == 0,
            || format!("{case}: the watcher is still registered"),
        );
        assert_eq!(service.store().len(), 1, "{case}: no create in between");
    }
}

#[test]
fn a_watch_being_read_ends_ok_when_the_server_stops() {
    let (service, client) = start_seeded(2);
    let mut stream = watch(&client, 0, deadline(WATCH_LIMIT));
    assert_next_seeded(&mut stream, 1, "replay");
    assert_next_seeded(&mut stream, 2, "replay");
    wait_for_watchers(&service, 1);
    // The client is blocked reading when the stop begins; the read is bounded
    // by the call's deadline.
    let reader = std::thread::spawn(move || grpc::next_outcome(&mut stream).map(|e| e.is_some()));
    service.stop_within(Duration::from_secs(10), "stop while a watch is read");
    let end = reader.join().expect("reader thread");
    assert!(
        matches!(end, Ok(false)),
        "the watch should end OK, got {end:?}"
    );
}

#[test]
fn slow_watcher_falling_more_than_1024_behind_gets_resource_exhausted() {
    let _serial = serial();
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let mut stream = watch(&client, 0, deadline(Duration::from_secs(30)));
    wait_for_watchers(&service, 1);

    // Never read while creating: large entities fill the transport's flow
    // control windows, then the watcher's 1024-entity buffer.
    let description = "w".repeat(4096);
    let mut created = 0usize;
    while service.store().watcher_count() == 1 && created < 20_000 {
        let batch = (0..500)
            .map(|n| create_request(&format!("flood {}", created + n + 1), &description))
            .collect();
        let response = create_many(&client, call_options(), batch).expect("bulk create");
        created += response.created as usize;
    }
    wait_for_watchers(&service, 0);

    // Reading now: entities in id order without gaps, then RESOURCE_EXHAUSTED.
    let mut received = 0;
    let status = loop {
        match grpc::next_outcome(&mut stream) {
            Ok(Some(entity)) => {
                received += 1;
                assert_eq!(entity.id, received, "entities arrive in order without gaps");
            }
            Ok(None) => panic!("ended OK after {received} entities, expected RESOURCE_EXHAUSTED"),
            Err(error) => break grpc::rpc_status(error),
        }
    };
    assert_eq!(
        status.code(),
        RpcStatusCode::RESOURCE_EXHAUSTED,
        "{status:?}"
    );
    assert!(
        (received as usize) < created,
        "a cut-off watcher cannot have received all {created} entities"
    );
}
