//! CreateEntities (client streaming) and LookupEntities (bidi): creates in
//! order, the first invalid message by index, what a cancel keeps, and
//! lookups answered one at a time.

use std::time::Duration;

use entity_service::proto::entities_grpc::EntityServiceClient;
use futures_executor::block_on;
use futures_util::{SinkExt, TryStreamExt};
use grpcio::{RpcStatusCode, WriteFlags};

use super::{create, get, start_seeded};
use crate::helpers::child::Binary;
use crate::helpers::grpc::{
    self, call_options, create_many, create_request, expect_code, get_request, half_close,
};
use crate::helpers::metrics::sample;
use crate::helpers::wait::assert_eventually;
use crate::helpers::TestService;

/// How long the server may take to act on what a client stream sent: a hang bound.
const SERVER_LIMIT: Duration = Duration::from_secs(5);

#[test]
fn create_entities_creates_each_in_order_and_reports_their_ids() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    // Each call's ids follow what the calls before it created.
    for (case, count) in [("no messages", 0), ("four", 4), ("four more", 4)] {
        let before = service.store().len() as i64;
        let requests = (1..=count)
            .map(|n| create_request(&format!("{case} {n}"), "b"))
            .collect();
        let response = create_many(&client, call_options(), requests)
            .unwrap_or_else(|e| panic!("{case}: {e:?}"));
        let expected: Vec<i64> = (before + 1..=before + count).collect();
        assert_eq!(response.ids, expected, "{case}");
        assert_eq!(i64::from(response.created), count, "{case}");
        for (n, id) in (1..).zip(expected) {
            let entity = get(&client, id).unwrap_or_else(|e| panic!("{case}: get {id}: {e:?}"));
            assert_eq!(entity.name, format!("{case} {n}"), "{case}");
        }
    }
    assert_eq!(service.store().len(), 8);
}

#[test]
fn create_entities_stops_at_the_first_invalid_message_naming_its_index() {
    let too_long = "d".repeat(4097);
    let cases = [
        (
            "blank name at index 2",
            // The last one is invalid too, but never reached.
            vec![
                ("zero", ""),
                ("one", ""),
                ("   ", ""),
                ("three", ""),
                ("", ""),
            ],
            2,
        ),
        (
            "too long a description at index 0",
            vec![("x", too_long.as_str()), ("ok", "")],
            0,
        ),
    ];
    for (case, messages, index) in cases {
        let service = TestService::start();
        let client = grpc::entity_client(service.grpc_addr);
        let requests = messages.iter().map(|(n, d)| create_request(n, d)).collect();
        let status = expect_code(
            create_many(&client, call_options(), requests),
            RpcStatusCode::INVALID_ARGUMENT,
        );
        let message = status.message();
        assert!(
            message.contains(&format!("index {index}")),
            "{case}: {message:?}"
        );
        for later in index + 1..messages.len() {
            let named = message.contains(&format!("index {later}"));
            assert!(!named, "{case}: names index {later}: {message:?}");
        }
        // Only the ones before the invalid one are kept, and it used no id.
        assert_eq!(service.store().len(), index, "{case}");
        for (id, (name, _)) in (1..).zip(&messages[..index]) {
            let entity = get(&client, id).unwrap_or_else(|e| panic!("{case}: get {id}: {e:?}"));
            assert_eq!(&entity.name, name, "{case}");
        }
        let next = index as i64 + 1;
        expect_code(get(&client, next), RpcStatusCode::NOT_FOUND);
        assert_eq!(create(&client, "after", "").id, next, "{case}");
    }
}

#[test]
fn create_entities_cancelled_midway_keeps_what_was_created() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    cancel_after_creating(&client, 3);
    // Once the server has counted the call as handled, it creates nothing
    // more for it; it counts it as cancelled, never as OK.
    let handled = |code| {
        let labels = [("grpc_method", "CreateEntities"), ("grpc_code", code)];
        sample(
            &service.metrics_text(),
            "grpc_server_handled_total",
            &labels,
        )
    };
    assert_eventually(
        SERVER_LIMIT,
        || handled("CANCELLED") == Some(1.0),
        || {
            let (cancelled, ok) = (handled("CANCELLED"), handled("OK"));
            format!("not counted as CANCELLED: CANCELLED {cancelled:?}, OK {ok:?}")
        },
    );
    assert_eq!(handled("OK"), None, "a cancelled call is not OK");
    assert_eq!(service.store().len(), 3);
    for n in 1..=3 {
        assert_eq!(get(&client, n).unwrap().name, format!("kept {n}"));
    }
    assert_eq!(create(&client, "next", "").id, 4);
}

/// Streams `count` creates to CreateEntities, waits until the server has
/// created them all, then cancels the call.
#[track_caller]
fn cancel_after_creating(client: &EntityServiceClient, count: i64) {
    let (mut sink, receiver) = client
        .create_entities_opt(call_options())
        .expect("call starts");
    block_on(async {
        for n in 1..=count {
            let request = create_request(&format!("kept {n}"), "");
            sink.send((request, WriteFlags::default()))
                .await
                .expect("send");
        }
    });
    assert_eventually(
        SERVER_LIMIT,
        || get(client, count).is_ok(),
        || format!("the server should create each entity as it arrives (no entity {count})"),
    );
    sink.cancel();
    expect_code(block_on(receiver), RpcStatusCode::CANCELLED);
}

#[test]
fn a_cancelled_create_entities_is_logged_as_cancelled() {
    let server = Binary::server(&[]).env("RUST_LOG", "access=info").serve();
    let client = grpc::entity_client(server.grpc_addr);
    cancel_after_creating(&client, 2);
    let line = "grpc method=entities.v1.EntityService/CreateEntities code=";
    let logged = |code: &str| server.stderr_text().contains(&format!("{line}{code} "));
    assert_eventually(
        SERVER_LIMIT,
        || logged("CANCELLED"),
        || format!("no CANCELLED access line: {}", server.stderr_tail()),
    );
    assert!(!logged("OK"), "logged as OK too: {}", server.stderr_tail());
}

#[test]
fn lookup_entities_answers_each_request_before_the_next_is_sent() {
    let (_service, client) = start_seeded(3);
    let cases = [
        (2, true),
        (7, false),
        (0, false),
        (-4, false),
        (1, true),
        (3, true),
        (2, true),
    ];
    let (mut sink, mut receiver) = client
        .lookup_entities_opt(call_options())
        .expect("call starts");
    block_on(async {
        for (id, found) in cases {
            sink.send((get_request(id), WriteFlags::default()))
                .await
                .expect("send");
            // Ping-pong: the answer must come before any further request or
            // the half-close (the call deadline fails the test otherwise).
            let answer = receiver
                .try_next()
                .await
                .expect("an answer, not an error")
                .expect("an answer, not the end of the stream");
            assert_eq!((answer.id, answer.found), (id, found), "id {id}");
            let entity = answer.entity.as_ref();
            let expected = found.then(|| (id, format!("e{id}"), format!("d{id}")));
            let got = entity.map(|e| (e.id, e.name.clone(), e.description.clone()));
            assert_eq!(
                got, expected,
                "id {id}: the entity is set exactly when found"
            );
        }
        half_close(&mut sink).await;
        let end = receiver.try_next().await;
        assert!(
            matches!(end, Ok(None)),
            "ends OK after the half-close: {end:?}"
        );
    });
}

#[test]
fn lookup_entities_sees_entities_created_during_the_stream() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let (mut sink, mut receiver) = client
        .lookup_entities_opt(call_options())
        .expect("call starts");
    block_on(async {
        sink.send((get_request(1), WriteFlags::default()))
            .await
            .expect("send");
        let before = receiver.try_next().await.unwrap().expect("an answer");
        assert!(!before.found && before.entity.is_none(), "{before:?}");

        let late = client
            .create_entity_async_opt(&create_request("late", ""), call_options())
            .expect("call starts")
            .await
            .expect("create succeeds");
        assert_eq!(late.id, 1);

        sink.send((get_request(1), WriteFlags::default()))
            .await
            .expect("send");
        let after = receiver.try_next().await.unwrap().expect("an answer");
        assert!(after.found, "{after:?}");
        assert_eq!(after.entity.name, "late");

        half_close(&mut sink).await;
        assert!(receiver.try_next().await.unwrap().is_none());
    });
}

#[test]
fn lookup_entities_with_no_requests_ends_ok_without_answers() {
    let (_service, client) = start_seeded(1);
    let (mut sink, receiver) = client
        .lookup_entities_opt(call_options())
        .expect("call starts");
    let answers: Vec<_> = block_on(async {
        half_close(&mut sink).await;
        receiver.try_collect().await
    })
    .expect("the call ends OK");
    assert!(answers.is_empty(), "{answers:?}");
}
