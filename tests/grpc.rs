//! gRPC contract tests: the whole service started in-process on port 0,
//! exercised through the real grpcio client (`entities.v1.EntityService`).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use entity_service::proto::entities::{
    CreateEntitiesResponse, CreateEntityRequest, Entity, GetEntityRequest, ListEntitiesRequest,
    LookupEntityResponse, WatchEntitiesRequest,
};
use entity_service::proto::entities_grpc::EntityServiceClient;
use entity_service::Running;
use futures_executor::block_on;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use grpcio::{CallOption, Metadata, MetadataBuilder, RpcStatus, RpcStatusCode, WriteFlags};

use common::create_request;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Every call gets a deadline so that no test can hang.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

fn opt() -> CallOption {
    CallOption::default().timeout(CALL_TIMEOUT)
}

fn opt_with(headers: Metadata) -> CallOption {
    opt().headers(headers)
}

fn metadata(entries: &[(&str, &str)]) -> Metadata {
    let mut builder = MetadataBuilder::new();
    for (key, value) in entries {
        builder.add_str(key, value).expect("valid ASCII metadata");
    }
    builder.build()
}

fn bearer(token: &str) -> Metadata {
    metadata(&[("authorization", &format!("Bearer {token}"))])
}

/// The value of the first entry with this key.
fn header<'a>(md: &'a Metadata, key: &str) -> Option<&'a [u8]> {
    md.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn header_str(md: &Metadata, key: &str) -> Option<String> {
    header(md, key).map(|v| String::from_utf8(v.to_vec()).expect("ASCII header value"))
}

/// The server's status of a failed call.
#[track_caller]
fn rpc_status(error: grpcio::Error) -> RpcStatus {
    match error {
        grpcio::Error::RpcFailure(status) => status,
        other => panic!("expected an RPC failure with a status, got {other:?}"),
    }
}

#[track_caller]
fn expect_code<T: std::fmt::Debug>(result: grpcio::Result<T>, code: RpcStatusCode) -> RpcStatus {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(error) => {
            let status = rpc_status(error);
            assert_eq!(status.code(), code, "status: {status:?}");
            status
        }
    }
}

fn get_req(id: i64) -> GetEntityRequest {
    let mut request = GetEntityRequest::new();
    request.id = id;
    request
}

fn list_req(start_id: i64, limit: u32) -> ListEntitiesRequest {
    let mut request = ListEntitiesRequest::new();
    request.start_id = start_id;
    request.limit = limit;
    request
}

fn watch_req(after_id: i64) -> WatchEntitiesRequest {
    let mut request = WatchEntitiesRequest::new();
    request.after_id = after_id;
    request
}

fn create(client: &EntityServiceClient, name: &str, description: &str) -> Entity {
    client
        .create_entity_opt(&create_request(name, description), opt())
        .unwrap_or_else(|e| panic!("create {name:?} failed: {e:?}"))
}

fn get(client: &EntityServiceClient, id: i64) -> grpcio::Result<Entity> {
    client.get_entity_opt(&get_req(id), opt())
}

/// Creates `count` entities named `e1`, `e2`, … (descriptions `d1`, …).
fn seed(client: &EntityServiceClient, count: i64) {
    for n in 1..=count {
        let entity = create(client, &format!("e{n}"), &format!("d{n}"));
        assert_eq!(entity.id, n, "seeding expects an empty store");
    }
}

fn list(client: &EntityServiceClient, start_id: i64, limit: u32) -> Vec<Entity> {
    let stream = client
        .list_entities_opt(&list_req(start_id, limit), opt())
        .expect("list call starts");
    block_on(stream.try_collect::<Vec<_>>()).expect("list succeeds")
}

fn ids(entities: &[Entity]) -> Vec<i64> {
    entities.iter().map(|e| e.id).collect()
}

/// Streams these requests to CreateEntities and half-closes. Send errors are
/// ignored (the server may end the call early); the result is the call's.
fn create_many(
    client: &EntityServiceClient,
    option: CallOption,
    requests: Vec<CreateEntityRequest>,
) -> grpcio::Result<CreateEntitiesResponse> {
    let (mut sink, receiver) = client.create_entities_opt(option).expect("call starts");
    block_on(async move {
        for request in requests {
            if sink.send((request, WriteFlags::default())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
        receiver.await
    })
}

/// Half-closes a client or bidi stream. grpcio reports `RpcFinished(None)`
/// when the server's OK status is seen before the half-close batch itself
/// completes (a client-side race): the call ended OK, so that counts as done.
/// Callers still check the call's outcome on the receiving side.
async fn half_close<T>(sink: &mut grpcio::StreamingCallSink<T>) {
    match sink.close().await {
        Ok(()) | Err(grpcio::Error::RpcFinished(None)) => {}
        Err(error) => panic!("half-close failed: {error:?}"),
    }
}

fn wait_for_watchers(service: &Running, count: usize) {
    assert!(
        common::wait_until(Duration::from_secs(2), || service.store().watcher_count()
            == count),
        "expected {count} open watcher(s), have {}",
        service.store().watcher_count()
    );
}

fn next_entity(stream: &mut grpcio::ClientSStreamReceiver<Entity>) -> Entity {
    block_on(stream.next())
        .expect("stream ended early")
        .expect("stream item is not an error")
}

fn entity_summary(entity: &Entity) -> (i64, String, String) {
    (entity.id, entity.name.clone(), entity.description.clone())
}

// ---------------------------------------------------------------------------
// GetEntity / CreateEntity
// ---------------------------------------------------------------------------

#[test]
fn create_entity_assigns_sequential_ids_starting_at_one_and_returns_stored_fields() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    for n in 1..=5 {
        let entity = create(&client, &format!("name {n}"), &format!("description {n}"));
        assert_eq!(entity.id, n);
        assert_eq!(entity.name, format!("name {n}"));
        assert_eq!(entity.description, format!("description {n}"));
    }
    assert_eq!(service.store().len(), 5);

    service.stop();
}

#[test]
fn get_entity_returns_what_was_created() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let created = create(&client, "widget", "a small widget ✓");
    let fetched = get(&client, created.id).expect("get succeeds");
    assert_eq!(fetched, created);
    assert_eq!(
        entity_summary(&fetched),
        (1, "widget".to_string(), "a small widget ✓".to_string())
    );

    service.stop();
}

#[test]
fn get_entity_with_id_below_one_is_invalid_argument() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    create(&client, "present", "");

    for id in [0, -1, i64::MIN] {
        expect_code(get(&client, id), RpcStatusCode::INVALID_ARGUMENT);
    }

    service.stop();
}

#[test]
fn get_entity_absent_is_not_found_with_exact_message() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let status = expect_code(get(&client, 1), RpcStatusCode::NOT_FOUND);
    assert_eq!(status.message(), "entity 1 not found");

    seed(&client, 2);
    let status = expect_code(get(&client, 3), RpcStatusCode::NOT_FOUND);
    assert_eq!(status.message(), "entity 3 not found");

    let status = expect_code(get(&client, i64::MAX), RpcStatusCode::NOT_FOUND);
    assert_eq!(status.message(), format!("entity {} not found", i64::MAX));

    service.stop();
}

#[test]
fn create_entity_rejects_empty_or_blank_name_without_using_an_id() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    for name in ["", " ", " \t\n\r "] {
        let status = expect_code(
            client.create_entity_opt(&create_request(name, "desc"), opt()),
            RpcStatusCode::INVALID_ARGUMENT,
        );
        assert!(
            status.message().contains("name"),
            "message should say the name is wrong: {:?}",
            status.message()
        );
    }
    assert_eq!(service.store().len(), 0);
    assert_eq!(
        create(&client, "first", "").id,
        1,
        "rejected creates used up ids"
    );

    service.stop();
}

#[test]
fn create_entity_name_limit_is_256_characters_not_bytes() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    // 256 characters, whatever their width in bytes: accepted.
    for name in ["n".repeat(256), "é".repeat(256), "🦀".repeat(256)] {
        assert_eq!(create(&client, &name, "").name, name);
    }
    // 257 characters: rejected.
    for name in ["n".repeat(257), "é".repeat(256) + "a", "🦀".repeat(257)] {
        let status = expect_code(
            client.create_entity_opt(&create_request(&name, ""), opt()),
            RpcStatusCode::INVALID_ARGUMENT,
        );
        assert!(
            status.message().contains("name") && status.message().contains("257 characters"),
            "message should say the name is 257 characters long: {:?}",
            status.message()
        );
    }
    assert_eq!(service.store().len(), 3);
    assert_eq!(create(&client, "next", "").id, 4);

    service.stop();
}

#[test]
fn create_entity_description_limit_is_4096_characters() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let max = "d".repeat(4096);
    let stored = create(&client, "max description", &max);
    assert_eq!(stored.description, max);
    let wide = "ж".repeat(4096); // 8192 bytes
    assert_eq!(create(&client, "wide description", &wide).description, wide);
    assert_eq!(create(&client, "empty description", "").description, "");

    for description in ["d".repeat(4097), "ж".repeat(4096) + "x"] {
        let status = expect_code(
            client.create_entity_opt(&create_request("too long", &description), opt()),
            RpcStatusCode::INVALID_ARGUMENT,
        );
        assert!(
            status.message().contains("description"),
            "message should say the description is wrong: {:?}",
            status.message()
        );
    }
    assert_eq!(service.store().len(), 3);
    assert_eq!(create(&client, "next", "").id, 4);

    service.stop();
}

#[test]
fn create_entity_stores_name_untrimmed() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let created = create(&client, "  padded name\t", " padded description ");
    assert_eq!(created.name, "  padded name\t");
    assert_eq!(created.description, " padded description ");
    let fetched = get(&client, created.id).unwrap();
    assert_eq!(fetched.name, "  padded name\t");
    assert_eq!(fetched.description, " padded description ");

    service.stop();
}

#[test]
fn rejected_creates_between_valid_ones_leave_no_gap_in_ids() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    assert_eq!(create(&client, "a", "").id, 1);
    expect_code(
        client.create_entity_opt(&create_request("", ""), opt()),
        RpcStatusCode::INVALID_ARGUMENT,
    );
    expect_code(
        client.create_entity_opt(&create_request("x", &"d".repeat(5000)), opt()),
        RpcStatusCode::INVALID_ARGUMENT,
    );
    assert_eq!(create(&client, "b", "").id, 2);
    expect_code(get(&client, 3), RpcStatusCode::NOT_FOUND);

    service.stop();
}

// ---------------------------------------------------------------------------
// ListEntities
// ---------------------------------------------------------------------------

#[test]
fn list_entities_on_empty_store_ends_ok_with_nothing() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    assert!(list(&client, 0, 0).is_empty());
    assert!(list(&client, 1, 10).is_empty());

    service.stop();
}

#[test]
fn list_entities_streams_in_id_order_from_start_id() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 5);

    let all = list(&client, 0, 0);
    assert_eq!(ids(&all), vec![1, 2, 3, 4, 5]);
    assert_eq!(entity_summary(&all[2]), (3, "e3".into(), "d3".into()));

    assert_eq!(ids(&list(&client, 1, 0)), vec![1, 2, 3, 4, 5]);
    assert_eq!(ids(&list(&client, -7, 0)), vec![1, 2, 3, 4, 5]);
    assert_eq!(ids(&list(&client, i64::MIN, 0)), vec![1, 2, 3, 4, 5]);
    assert_eq!(ids(&list(&client, 3, 0)), vec![3, 4, 5]);
    assert_eq!(ids(&list(&client, 5, 0)), vec![5]);
    assert!(list(&client, 6, 0).is_empty());
    assert!(list(&client, i64::MAX, 0).is_empty());

    service.stop();
}

#[test]
fn list_entities_honours_limit() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 5);

    assert_eq!(ids(&list(&client, 0, 2)), vec![1, 2]);
    assert_eq!(ids(&list(&client, 2, 2)), vec![2, 3]);
    assert_eq!(ids(&list(&client, 4, 10)), vec![4, 5]);
    assert_eq!(ids(&list(&client, 1, 1)), vec![1]);
    assert_eq!(ids(&list(&client, 1, u32::MAX)), vec![1, 2, 3, 4, 5]);
    assert!(list(&client, 9, 3).is_empty());

    service.stop();
}

#[test]
fn list_entities_streams_many_large_entities_completely() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    let description = "x".repeat(4096);
    let requests = (1..=600)
        .map(|n| create_request(&format!("big {n}"), &description))
        .collect();
    let response = create_many(&client, opt(), requests).expect("bulk create succeeds");
    assert_eq!(response.created, 600);

    let listed = list(&client, 0, 0);
    assert_eq!(ids(&listed), (1..=600).collect::<Vec<_>>());
    assert!(listed.iter().all(|e| e.description == description));

    service.stop();
}

// ---------------------------------------------------------------------------
// WatchEntities
// ---------------------------------------------------------------------------

#[test]
fn watch_replays_entities_after_after_id_then_streams_new_ones_live() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 3);

    let mut stream = client
        .watch_entities_opt(&watch_req(1), opt())
        .expect("watch starts");
    assert_eq!(
        entity_summary(&next_entity(&mut stream)),
        (2, "e2".into(), "d2".into())
    );
    assert_eq!(next_entity(&mut stream).id, 3);
    wait_for_watchers(&service, 1);

    // Created after the watch is open: must arrive live, in order, each once.
    create(&client, "live 4", "d4");
    assert_eq!(
        entity_summary(&next_entity(&mut stream)),
        (4, "live 4".into(), "d4".into())
    );
    create(&client, "live 5", "");
    create(&client, "live 6", "");
    assert_eq!(next_entity(&mut stream).id, 5);
    assert_eq!(next_entity(&mut stream).id, 6);

    stream.cancel();
    drop(stream);
    service.stop();
}

#[test]
fn watch_with_after_id_zero_or_negative_replays_everything() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 3);

    for after_id in [0, -5, i64::MIN] {
        let mut stream = client
            .watch_entities_opt(&watch_req(after_id), opt())
            .expect("watch starts");
        let replayed: Vec<i64> = (0..3).map(|_| next_entity(&mut stream).id).collect();
        assert_eq!(replayed, vec![1, 2, 3], "after_id {after_id}");
        stream.cancel();
    }

    service.stop();
}

#[test]
fn watch_with_after_id_beyond_end_replays_nothing_and_gets_only_new_entities() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 2);

    let mut stream = client
        .watch_entities_opt(&watch_req(100), opt())
        .expect("watch starts");
    wait_for_watchers(&service, 1);
    create(&client, "third", "");
    // Entities 1 and 2 must not be replayed: the first message is the new one.
    assert_eq!(next_entity(&mut stream).id, 3);

    stream.cancel();
    service.stop();
}

#[test]
fn watch_replays_more_than_one_chunk_in_order_without_gaps() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    let requests = (1..=700)
        .map(|n| create_request(&format!("r{n}"), ""))
        .collect();
    assert_eq!(create_many(&client, opt(), requests).unwrap().created, 700);

    let mut stream = client
        .watch_entities_opt(&watch_req(10), opt())
        .expect("watch starts");
    let replayed: Vec<i64> = (11..=700).map(|_| next_entity(&mut stream).id).collect();
    assert_eq!(replayed, (11..=700).collect::<Vec<_>>());
    wait_for_watchers(&service, 1);
    create(&client, "after replay", "");
    assert_eq!(next_entity(&mut stream).id, 701);

    stream.cancel();
    service.stop();
}

#[test]
fn two_watchers_each_receive_every_new_entity() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let mut first = client.watch_entities_opt(&watch_req(0), opt()).unwrap();
    let mut second = client.watch_entities_opt(&watch_req(0), opt()).unwrap();
    wait_for_watchers(&service, 2);
    seed(&client, 3);
    for stream in [&mut first, &mut second] {
        let got: Vec<i64> = (0..3).map(|_| next_entity(stream).id).collect();
        assert_eq!(got, vec![1, 2, 3]);
    }

    first.cancel();
    second.cancel();
    service.stop();
}

#[test]
fn watch_opened_during_concurrent_creates_sees_every_id_once_in_order() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 150;
    const TOTAL: i64 = (THREADS * PER_THREAD) as i64;

    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 20);

    let addr = service.grpc_addr;
    let creators: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let client = common::grpc_client(addr);
                for i in 0..PER_THREAD {
                    create(&client, &format!("c{t}-{i}"), "");
                }
            })
        })
        .collect();
    // Open the watch while the creates are running: whatever the split
    // between replay and live feed, nothing may be missed or repeated.
    std::thread::sleep(Duration::from_millis(20));
    let mut stream = client
        .watch_entities_opt(
            &watch_req(5),
            CallOption::default().timeout(Duration::from_secs(20)),
        )
        .expect("watch starts");
    for creator in creators {
        creator.join().expect("creator thread");
    }
    let received: Vec<i64> = (6..=20 + TOTAL)
        .map(|_| next_entity(&mut stream).id)
        .collect();
    assert_eq!(received, (6..=20 + TOTAL).collect::<Vec<_>>());

    stream.cancel();
    service.stop();
}

#[test]
fn silent_watch_ends_with_deadline_exceeded_and_frees_the_watcher() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let started = Instant::now();
    let mut stream = client
        .watch_entities_opt(
            &watch_req(0),
            CallOption::default().timeout(Duration::from_millis(500)),
        )
        .expect("watch starts");
    let first = block_on(stream.next()).expect("the stream yields an error, not a clean end");
    expect_code(first, RpcStatusCode::DEADLINE_EXCEEDED);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "deadline took {:?}",
        started.elapsed()
    );
    wait_for_watchers(&service, 0);

    service.stop();
}

#[test]
fn cancelled_watch_frees_its_watcher_promptly_without_a_create() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 1);

    let mut stream = client
        .watch_entities_opt(
            &watch_req(0),
            CallOption::default().timeout(Duration::from_secs(60)),
        )
        .expect("watch starts");
    assert_eq!(next_entity(&mut stream).id, 1);
    wait_for_watchers(&service, 1);

    stream.cancel();
    let freed = common::wait_until(Duration::from_secs(2), || {
        service.store().watcher_count() == 0
    });
    assert!(
        freed,
        "watcher still counted 2 s after the client cancelled (no create in between)"
    );
    assert_eq!(service.store().len(), 1, "no create happened in between");

    drop(stream);
    service.stop();
}

#[test]
fn dropped_watch_stream_frees_its_watcher_promptly_without_a_create() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 1);

    let mut stream = client
        .watch_entities_opt(
            &watch_req(0),
            CallOption::default().timeout(Duration::from_secs(60)),
        )
        .expect("watch starts");
    assert_eq!(next_entity(&mut stream).id, 1);
    wait_for_watchers(&service, 1);

    drop(stream);
    let freed = common::wait_until(Duration::from_secs(2), || {
        service.store().watcher_count() == 0
    });
    assert!(
        freed,
        "watcher still counted 2 s after the client dropped the stream (no create in between)"
    );
    assert_eq!(service.store().len(), 1, "no create happened in between");

    service.stop();
}

#[test]
fn watch_ends_ok_when_the_server_stops() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 2);

    let mut stream = client
        .watch_entities_opt(
            &watch_req(0),
            CallOption::default().timeout(Duration::from_secs(10)),
        )
        .expect("watch starts");
    assert_eq!(next_entity(&mut stream).id, 1);
    assert_eq!(next_entity(&mut stream).id, 2);
    wait_for_watchers(&service, 1);

    let started = Instant::now();
    let stopper = std::thread::spawn(move || service.stop());
    let end = block_on(stream.next());
    assert!(
        end.is_none(),
        "expected the stream to end OK when the server stops, got {end:?}"
    );
    stopper.join().expect("stop does not panic");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stop with an open watch took {:?}",
        started.elapsed()
    );
}

#[test]
fn slow_watcher_falling_more_than_1024_behind_gets_resource_exhausted() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let mut stream = client
        .watch_entities_opt(
            &watch_req(0),
            CallOption::default().timeout(Duration::from_secs(30)),
        )
        .expect("watch starts");
    wait_for_watchers(&service, 1);

    // Never read while creating: large entities fill the transport's flow
    // control windows, then the watcher's 1024-entity buffer.
    let description = "w".repeat(4096);
    let mut created = 0usize;
    while service.store().watcher_count() == 1 && created < 20_000 {
        let batch = (0..500)
            .map(|n| create_request(&format!("flood {}", created + n + 1), &description))
            .collect();
        created += create_many(&client, opt(), batch)
            .expect("bulk create")
            .created as usize;
    }
    eprintln!("stopped flooding after {created} entities");
    assert!(
        common::wait_until(Duration::from_secs(2), || service.store().watcher_count()
            == 0),
        "watcher not cut off after {created} entities were created while it read nothing"
    );

    // Reading now: entities in id order without gaps, then RESOURCE_EXHAUSTED.
    let mut expected_id = 1;
    let status = loop {
        match block_on(stream.next()) {
            Some(Ok(entity)) => {
                assert_eq!(
                    entity.id, expected_id,
                    "entities arrive in order without gaps"
                );
                expected_id += 1;
            }
            Some(Err(error)) => break rpc_status(error),
            None => panic!(
                "stream ended OK after {} entities, expected RESOURCE_EXHAUSTED",
                expected_id - 1
            ),
        }
    };
    assert_eq!(
        status.code(),
        RpcStatusCode::RESOURCE_EXHAUSTED,
        "{status:?}"
    );
    assert!(
        ((expected_id - 1) as usize) < created,
        "a cut-off watcher cannot have received every entity"
    );

    service.stop();
}

// ---------------------------------------------------------------------------
// CreateEntities
// ---------------------------------------------------------------------------

#[test]
fn create_entities_creates_each_in_order_and_reports_ids() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    create(&client, "existing", "");

    let requests = (1..=4)
        .map(|n| create_request(&format!("bulk {n}"), "b"))
        .collect();
    let response = create_many(&client, opt(), requests).expect("bulk create succeeds");
    assert_eq!(response.created, 4);
    assert_eq!(response.ids, vec![2, 3, 4, 5]);
    for (n, id) in (1..=4).zip(2..=5) {
        assert_eq!(get(&client, id).unwrap().name, format!("bulk {n}"));
    }

    service.stop();
}

#[test]
fn create_entities_with_no_messages_creates_nothing() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let response = create_many(&client, opt(), Vec::new()).expect("empty bulk create succeeds");
    assert_eq!(response.created, 0);
    assert!(response.ids.is_empty());
    assert_eq!(service.store().len(), 0);

    service.stop();
}

#[test]
fn create_entities_stops_at_first_invalid_message_naming_its_index_and_keeps_earlier_ones() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let requests = vec![
        create_request("zero", ""),
        create_request("one", ""),
        create_request("   ", ""), // index 2: blank name
        create_request("three", ""),
        create_request("", ""), // also invalid, but never reached
    ];
    let status = expect_code(
        create_many(&client, opt(), requests),
        RpcStatusCode::INVALID_ARGUMENT,
    );
    assert!(
        status.message().contains("index 2"),
        "message should name index 2: {:?}",
        status.message()
    );
    assert!(
        !status.message().contains("index 4"),
        "{:?}",
        status.message()
    );
    assert_eq!(
        service.store().len(),
        2,
        "only the two before the invalid one are kept"
    );
    assert_eq!(get(&client, 1).unwrap().name, "zero");
    assert_eq!(get(&client, 2).unwrap().name, "one");
    expect_code(get(&client, 3), RpcStatusCode::NOT_FOUND);
    assert_eq!(
        create(&client, "after", "").id,
        3,
        "the invalid message used up no id"
    );

    service.stop();
}

#[test]
fn create_entities_invalid_first_message_is_index_0() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let status = expect_code(
        create_many(
            &client,
            opt(),
            vec![
                create_request("x", &"d".repeat(4097)),
                create_request("ok", ""),
            ],
        ),
        RpcStatusCode::INVALID_ARGUMENT,
    );
    assert!(
        status.message().contains("index 0"),
        "{:?}",
        status.message()
    );
    assert_eq!(service.store().len(), 0);

    service.stop();
}

#[test]
fn create_entities_cancelled_midway_keeps_what_was_created() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let (mut sink, receiver) = client.create_entities_opt(opt()).expect("call starts");
    block_on(async {
        for n in 1..=3 {
            sink.send((
                create_request(&format!("kept {n}"), ""),
                WriteFlags::default(),
            ))
            .await
            .expect("send");
        }
    });
    assert!(
        common::wait_until(Duration::from_secs(2), || service.store().len() == 3),
        "the server should create each entity as it arrives (have {})",
        service.store().len()
    );

    sink.cancel();
    let outcome = block_on(receiver);
    expect_code(outcome, RpcStatusCode::CANCELLED);
    drop(sink);

    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(service.store().len(), 3);
    for n in 1..=3 {
        assert_eq!(get(&client, n).unwrap().name, format!("kept {n}"));
    }
    assert_eq!(create(&client, "next", "").id, 4);

    service.stop();
}

// ---------------------------------------------------------------------------
// LookupEntities
// ---------------------------------------------------------------------------

#[test]
fn lookup_entities_answers_each_request_before_the_next_is_sent() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 3);

    let (mut sink, mut receiver) = client.lookup_entities_opt(opt()).expect("call starts");
    let answers: Vec<LookupEntityResponse> = block_on(async {
        let mut answers = Vec::new();
        for id in [2, 7, 0, -4, 1, 3, 2] {
            sink.send((get_req(id), WriteFlags::default()))
                .await
                .expect("send");
            // Ping-pong: the answer must come before any further request or
            // the half-close (the call deadline fails the test otherwise).
            let answer = receiver
                .next()
                .await
                .expect("an answer, not the end of the stream")
                .expect("an answer, not an error");
            assert_eq!(answer.id, id, "the answer echoes the request's id");
            answers.push(answer);
        }
        half_close(&mut sink).await;
        assert!(
            receiver.next().await.is_none(),
            "the stream ends OK after the client half-closes"
        );
        answers
    });

    let found: Vec<bool> = answers.iter().map(|a| a.found).collect();
    assert_eq!(found, vec![true, false, false, false, true, true, true]);
    for answer in &answers {
        if answer.found {
            let entity = answer.entity.as_ref().expect("entity set when found");
            assert_eq!(entity.id, answer.id);
            assert_eq!(entity.name, format!("e{}", answer.id));
            assert_eq!(entity.description, format!("d{}", answer.id));
        } else {
            assert!(
                answer.entity.is_none(),
                "entity must be unset when not found: {answer:?}"
            );
        }
    }

    service.stop();
}

#[test]
fn lookup_entities_sees_entities_created_during_the_stream() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);

    let (mut sink, mut receiver) = client.lookup_entities_opt(opt()).expect("call starts");
    block_on(async {
        sink.send((get_req(1), WriteFlags::default()))
            .await
            .unwrap();
        let before = receiver.next().await.unwrap().unwrap();
        assert!(!before.found);
        assert!(before.entity.is_none());

        let late = client
            .create_entity_async_opt(&create_request("late", ""), opt())
            .expect("call starts")
            .await
            .expect("create succeeds");
        assert_eq!(late.id, 1);

        sink.send((get_req(1), WriteFlags::default()))
            .await
            .unwrap();
        let after = receiver.next().await.unwrap().unwrap();
        assert!(after.found);
        assert_eq!(after.entity.as_ref().unwrap().name, "late");

        half_close(&mut sink).await;
        assert!(receiver.next().await.is_none());
    });

    service.stop();
}

#[test]
fn lookup_entities_with_no_requests_ends_ok_without_answers() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 1);

    let (mut sink, receiver) = client.lookup_entities_opt(opt()).expect("call starts");
    let answers = block_on(async {
        half_close(&mut sink).await;
        receiver.try_collect::<Vec<_>>().await
    })
    .expect("the call ends OK");
    assert!(answers.is_empty(), "{answers:?}");

    service.stop();
}

// ---------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------

fn all_bytes() -> Vec<u8> {
    // Every byte value, including 0x00 and 0xff, twice and in two orders.
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend((0..=255u8).rev());
    bytes
}

fn echo_metadata(request_id: Option<&str>) -> Metadata {
    let mut builder = MetadataBuilder::new();
    if let Some(id) = request_id {
        builder.add_str("x-request-id", id).unwrap();
    }
    builder
        .add_str("x-echo-initial", "Hello, World! ~ 123 {a=b}")
        .unwrap();
    builder.add_bytes("x-echo-bin", &all_bytes()).unwrap();
    builder.build()
}

#[track_caller]
fn assert_echoed(headers: &Metadata, request_id: &str) {
    assert_eq!(
        header_str(headers, "x-request-id").as_deref(),
        Some(request_id)
    );
    assert_eq!(
        header(headers, "x-echo-initial"),
        Some(&b"Hello, World! ~ 123 {a=b}"[..]),
        "x-echo-initial echoed byte for byte"
    );
    assert_eq!(
        header(headers, "x-echo-bin"),
        Some(&all_bytes()[..]),
        "x-echo-bin echoed byte for byte"
    );
}

#[test]
fn unary_call_echoes_request_id_and_echo_metadata_in_initial_metadata() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    create(&client, "one", "");

    let mut receiver = client
        .get_entity_async_opt(&get_req(1), opt_with(echo_metadata(Some("req-abc.123"))))
        .expect("call starts");
    let (headers, entity, _trailers) = receiver.receive_sync().expect("call succeeds");
    assert_eq!(entity.id, 1);
    assert_echoed(&headers, "req-abc.123");

    let mut receiver = client
        .create_entity_async_opt(
            &create_request("two", ""),
            opt_with(echo_metadata(Some("create-42"))),
        )
        .expect("call starts");
    let (headers, entity, _trailers) = receiver.receive_sync().expect("call succeeds");
    assert_eq!(entity.id, 2);
    assert_echoed(&headers, "create-42");

    service.stop();
}

#[test]
fn streaming_calls_echo_request_id_and_echo_metadata_in_initial_metadata() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    seed(&client, 2);

    // Server streaming.
    let mut stream = client
        .list_entities_opt(&list_req(0, 0), opt_with(echo_metadata(Some("list-1"))))
        .unwrap();
    let headers = block_on(stream.headers())
        .expect("initial metadata")
        .clone();
    assert_echoed(&headers, "list-1");
    assert_eq!(
        ids(&block_on(stream.try_collect::<Vec<_>>()).unwrap()),
        vec![1, 2]
    );

    // Watch.
    let mut watch = client
        .watch_entities_opt(&watch_req(0), opt_with(echo_metadata(Some("watch-1"))))
        .unwrap();
    let headers = block_on(watch.headers()).expect("initial metadata").clone();
    assert_echoed(&headers, "watch-1");
    watch.cancel();

    // Client streaming.
    let (mut sink, mut receiver) = client
        .create_entities_opt(opt_with(echo_metadata(Some("bulk-1"))))
        .unwrap();
    block_on(async {
        sink.send((create_request("bulk", ""), WriteFlags::default()))
            .await
            .unwrap();
        half_close(&mut sink).await;
    });
    let headers = block_on(receiver.headers())
        .expect("initial metadata")
        .clone();
    assert_echoed(&headers, "bulk-1");
    assert_eq!(block_on(receiver.message()).unwrap().ids, vec![3]);

    // Bidi streaming.
    let (mut sink, mut receiver) = client
        .lookup_entities_opt(opt_with(echo_metadata(Some("lookup-1"))))
        .unwrap();
    block_on(async {
        sink.send((get_req(1), WriteFlags::default()))
            .await
            .unwrap();
        let headers = receiver.headers().await.expect("initial metadata").clone();
        assert_echoed(&headers, "lookup-1");
        assert!(receiver.next().await.unwrap().unwrap().found);
        half_close(&mut sink).await;
        assert!(receiver.next().await.is_none());
    });

    service.stop();
}

#[test]
fn request_id_is_generated_when_absent() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    create(&client, "one", "");

    let mut receiver = client.get_entity_async_opt(&get_req(1), opt()).unwrap();
    let (headers, _, _) = receiver.receive_sync().unwrap();
    let generated = header_str(&headers, "x-request-id").expect("x-request-id present");
    assert!(!generated.is_empty());
    assert!(
        generated.bytes().all(|b| b.is_ascii_graphic()),
        "generated id is printable: {generated:?}"
    );

    let mut stream = client.list_entities_opt(&list_req(0, 0), opt()).unwrap();
    let headers = block_on(stream.headers()).unwrap().clone();
    let generated = header_str(&headers, "x-request-id").expect("x-request-id present");
    assert!(!generated.is_empty());
    block_on(stream.try_collect::<Vec<_>>()).unwrap();

    service.stop();
}

#[test]
fn unsafe_request_id_is_replaced_by_a_generated_one() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    create(&client, "one", "");

    let too_long = "a".repeat(129);
    for unsafe_id in ["has spaces in it", too_long.as_str(), "semi;colon\"quote"] {
        let mut receiver = client
            .get_entity_async_opt(
                &get_req(1),
                opt_with(metadata(&[("x-request-id", unsafe_id)])),
            )
            .unwrap();
        let (headers, _, _) = receiver.receive_sync().unwrap();
        let echoed = header_str(&headers, "x-request-id").expect("x-request-id present");
        assert!(!echoed.is_empty());
        assert_ne!(echoed, unsafe_id, "unsafe id must not be echoed");
        assert!(
            !echoed.contains(' ') && echoed.len() <= 128,
            "replacement must itself be safe: {echoed:?}"
        );
    }

    // The longest safe id (128 bytes) is kept.
    let longest = "b".repeat(128);
    let mut receiver = client
        .get_entity_async_opt(
            &get_req(1),
            opt_with(metadata(&[("x-request-id", &longest)])),
        )
        .unwrap();
    let (headers, _, _) = receiver.receive_sync().unwrap();
    assert_eq!(
        header_str(&headers, "x-request-id").as_deref(),
        Some(longest.as_str())
    );

    service.stop();
}

// ---------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------

fn spawn_with_token() -> Running {
    common::spawn_with(|config| config.auth_token = Some("s3cret".to_string()))
}

#[test]
fn auth_unary_calls_need_the_bearer_token() {
    let service = spawn_with_token();
    let client = common::grpc_client(service.grpc_addr);

    // Missing token.
    expect_code(
        client.create_entity_opt(&create_request("nope", ""), opt()),
        RpcStatusCode::UNAUTHENTICATED,
    );
    // Wrong tokens.
    for wrong in [
        bearer("wrong"),
        bearer("s3cre"),
        bearer("s3cret-and-more"),
        metadata(&[("authorization", "Basic s3cret")]),
        metadata(&[("authorization", "s3cret")]),
    ] {
        expect_code(
            client.create_entity_opt(&create_request("nope", ""), opt_with(wrong)),
            RpcStatusCode::UNAUTHENTICATED,
        );
    }
    assert_eq!(
        service.store().len(),
        0,
        "unauthenticated creates must not store anything"
    );

    // Right token.
    let created = client
        .create_entity_opt(&create_request("yes", ""), opt_with(bearer("s3cret")))
        .expect("authorized create succeeds");
    assert_eq!(created.id, 1);

    expect_code(
        client.get_entity_opt(&get_req(1), opt()),
        RpcStatusCode::UNAUTHENTICATED,
    );
    expect_code(
        client.get_entity_opt(&get_req(1), opt_with(bearer("wrong"))),
        RpcStatusCode::UNAUTHENTICATED,
    );
    // Auth is checked before anything else: even an invalid id is UNAUTHENTICATED.
    expect_code(
        client.get_entity_opt(&get_req(0), opt()),
        RpcStatusCode::UNAUTHENTICATED,
    );
    let fetched = client
        .get_entity_opt(&get_req(1), opt_with(bearer("s3cret")))
        .expect("authorized get succeeds");
    assert_eq!(fetched.name, "yes");

    service.stop();
}

#[test]
fn auth_streaming_calls_need_the_bearer_token() {
    let service = spawn_with_token();
    let client = common::grpc_client(service.grpc_addr);
    client
        .create_entity_opt(&create_request("one", ""), opt_with(bearer("s3cret")))
        .unwrap();

    // ListEntities (server streaming).
    for option in [opt(), opt_with(bearer("wrong"))] {
        let stream = client.list_entities_opt(&list_req(0, 0), option).unwrap();
        expect_code(
            block_on(stream.try_collect::<Vec<_>>()),
            RpcStatusCode::UNAUTHENTICATED,
        );
    }
    let stream = client
        .list_entities_opt(&list_req(0, 0), opt_with(bearer("s3cret")))
        .unwrap();
    assert_eq!(
        ids(&block_on(stream.try_collect::<Vec<_>>()).unwrap()),
        vec![1]
    );

    // WatchEntities.
    for option in [opt(), opt_with(bearer("wrong"))] {
        let mut stream = client.watch_entities_opt(&watch_req(0), option).unwrap();
        let first = block_on(stream.next()).expect("an error, not a clean end");
        expect_code(first, RpcStatusCode::UNAUTHENTICATED);
    }
    assert_eq!(service.store().watcher_count(), 0);
    let mut stream = client
        .watch_entities_opt(&watch_req(0), opt_with(bearer("s3cret")))
        .unwrap();
    assert_eq!(next_entity(&mut stream).id, 1);
    stream.cancel();

    // CreateEntities (client streaming).
    for option in [opt(), opt_with(bearer("wrong"))] {
        expect_code(
            create_many(&client, option, vec![create_request("nope", "")]),
            RpcStatusCode::UNAUTHENTICATED,
        );
    }
    assert_eq!(service.store().len(), 1);
    let response = create_many(
        &client,
        opt_with(bearer("s3cret")),
        vec![create_request("two", "")],
    )
    .unwrap();
    assert_eq!(response.ids, vec![2]);

    // LookupEntities (bidi).
    for option in [opt(), opt_with(bearer("wrong"))] {
        let (mut sink, receiver) = client.lookup_entities_opt(option).unwrap();
        let outcome = block_on(async {
            let _ = sink.send((get_req(1), WriteFlags::default())).await;
            let _ = sink.close().await;
            receiver.try_collect::<Vec<_>>().await
        });
        expect_code(outcome, RpcStatusCode::UNAUTHENTICATED);
    }
    let (mut sink, mut receiver) = client
        .lookup_entities_opt(opt_with(bearer("s3cret")))
        .unwrap();
    block_on(async {
        sink.send((get_req(2), WriteFlags::default()))
            .await
            .unwrap();
        let answer = receiver.next().await.unwrap().unwrap();
        assert!(answer.found);
        half_close(&mut sink).await;
        assert!(receiver.next().await.is_none());
    });

    service.stop();
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

#[test]
fn concurrent_creates_get_ids_exactly_1_to_4000_and_are_all_readable() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 500;

    let service = common::spawn();
    let addr = service.grpc_addr;

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let client = common::grpc_client(addr);
                let option = || CallOption::default().timeout(Duration::from_secs(30));
                // Start all 500 calls, then wait for them: they are in flight together.
                let receivers: Vec<_> = (0..PER_THREAD)
                    .map(|i| {
                        client
                            .create_entity_async_opt(
                                &create_request(&format!("t{t}-{i}"), &format!("thread {t}")),
                                option(),
                            )
                            .expect("call starts")
                    })
                    .collect();
                receivers
                    .into_iter()
                    .map(|receiver| {
                        let entity = block_on(receiver).expect("create succeeds");
                        (entity.id, entity.name)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();

    let mut created = Vec::new();
    for worker in workers {
        created.extend(worker.join().expect("worker thread"));
    }
    assert_eq!(created.len(), THREADS * PER_THREAD);
    let unique: BTreeSet<i64> = created.iter().map(|(id, _)| *id).collect();
    assert_eq!(unique.len(), THREADS * PER_THREAD, "every id is given once");
    assert_eq!(
        unique.iter().copied().collect::<Vec<_>>(),
        (1..=(THREADS * PER_THREAD) as i64).collect::<Vec<_>>()
    );
    assert_eq!(service.store().len(), THREADS * PER_THREAD);

    let client = common::grpc_client(addr);
    for (id, name) in &created {
        let entity = get(&client, *id).unwrap_or_else(|e| panic!("get {id}: {e:?}"));
        assert_eq!(&entity.name, name, "entity {id}");
    }
    let listed = list(&client, 0, 0);
    assert_eq!(
        ids(&listed),
        (1..=(THREADS * PER_THREAD) as i64).collect::<Vec<_>>()
    );

    service.stop();
}
