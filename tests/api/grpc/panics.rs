//! Creates that panic, through the `entities::create` fail point: the
//! binary runs as a child process with `FAILPOINTS` set (so no panic
//! reaches the test process) and two completion queues. A panicking create
//! fails its call with INTERNAL, uses no id, and nothing else.

use entity_service::proto::entities_grpc::EntityServiceClient;
use grpcio::RpcStatusCode;

use super::{create, get, list_ids, Rpc};
use crate::helpers::child::{Binary, Server};
use crate::helpers::grpc::{self, call_options, create_many, create_request, expect_code};
use crate::helpers::prerequisites::failpoints;

/// The service as a child process with two completion queues, and a client
/// to it. Its `entities::create` fail point runs `rounds` times through
/// `actions`, one action per create (fail crate syntax: `1*panic->1*off`
/// panics once, then lets one create pass).
fn serve_with_create_actions(actions: &str, rounds: i64) -> (Server, EntityServiceClient) {
    let all = vec![actions; rounds as usize].join("->");
    let server = Binary::server(&["--grpc-completion-queues", "2"])
        .env("FAILPOINTS", &format!("entities::create={all}"))
        .serve();
    let client = grpc::entity_client(server.grpc_addr);
    (server, client)
}

/// A CreateEntity that the fail point makes panic: the call fails INTERNAL.
#[track_caller]
fn assert_create_panics(client: &EntityServiceClient) {
    let call = client.create_entity_opt(&create_request("panics", ""), call_options());
    expect_code(call, RpcStatusCode::INTERNAL);
}

#[test]
fn a_panicking_create_fails_internal_uses_no_id_and_the_server_keeps_working() {
    if !failpoints() {
        return;
    }
    const ROUNDS: i64 = 6;
    let (_server, client) = serve_with_create_actions("1*panic->1*off", ROUNDS);
    for round in 1..=ROUNDS {
        assert_create_panics(&client);
        let name = format!("after panic {round}");
        assert_eq!(create(&client, &name, "").id, round, "round {round}");
        assert_eq!(get(&client, round).unwrap().name, name, "round {round}");
    }
    assert_eq!(list_ids(&client, 0, 0), (1..=ROUNDS).collect::<Vec<_>>());
}

#[test]
fn panics_in_a_row_leave_every_kind_of_call_working() {
    if !failpoints() {
        return;
    }
    const PANICS: usize = 8;
    let (_server, client) = serve_with_create_actions(&format!("{PANICS}*panic"), 1);
    for _ in 0..PANICS {
        assert_create_panics(&client);
    }
    for rpc in Rpc::ALL {
        rpc.call(&client, call_options())
            .unwrap_or_else(|e| panic!("{rpc:?} after {PANICS} panics: {e:?}"));
    }
    assert_eq!(list_ids(&client, 0, 0), [1, 2], "the two creates since");
}

#[test]
fn a_panic_inside_create_entities_fails_internal_naming_its_index_and_keeps_earlier_ones() {
    if !failpoints() {
        return;
    }
    const ROUNDS: i64 = 4;
    let (_server, client) = serve_with_create_actions("1*off->1*panic", ROUNDS);
    for round in 1..=ROUNDS {
        let kept = format!("kept {round}");
        let requests = vec![
            create_request(&kept, ""),
            create_request("panics", ""),
            create_request("never", ""),
        ];
        let status = expect_code(
            create_many(&client, call_options(), requests),
            RpcStatusCode::INTERNAL,
        );
        let message = status.message();
        assert!(message.contains("index 1"), "round {round}: {message:?}");
        let stored = list_ids(&client, 0, 0);
        assert_eq!(stored, (1..=round).collect::<Vec<_>>(), "round {round}");
        assert_eq!(get(&client, round).unwrap().name, kept);
    }
    // Still working, unary and streaming.
    assert_eq!(create(&client, "after", "").id, ROUNDS + 1);
    let response = create_many(&client, call_options(), vec![create_request("bulk", "")])
        .expect("a bulk create after the panics");
    assert_eq!(response.ids, [ROUNDS + 2]);
}
