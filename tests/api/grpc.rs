//! The gRPC contract through the real grpcio client (`entities.v1.EntityService`).
//!
//! - `unary`: GetEntity and CreateEntity, and ids under concurrent creates.
//! - `server_streams`: ListEntities and WatchEntities.
//! - `client_streams`: CreateEntities (client streaming) and LookupEntities (bidi).
//! - `every_call`: what holds for all six RPCs: echoed metadata, request ids, auth.
//! - `panics`: creates that panic (the `entities::create` fail point) in a child process.
//! - `undecodable`: request messages that are not valid protobuf, sent as raw bytes.
//! - `message_limits`: `--grpc-max-message-bytes` limits requests, never replies.
//! - `compression`: gzip-compressed requests.
//! - `gateway_credentials`: what the REST gateway's hop passes on as credentials.
//!
//! What the submodules share is here: short calls that fail the test on an
//! error, and [`Rpc`], one typical call of each kind.

mod client_streams;
mod compression;
mod every_call;
mod gateway_credentials;
mod message_limits;
mod panics;
mod server_streams;
mod unary;
mod undecodable;

use entity_service::proto::entities::Entity;
use entity_service::proto::entities_grpc::EntityServiceClient;
use futures_executor::block_on;
use futures_util::{SinkExt, TryStreamExt};
use grpcio::{CallOption, Metadata, WriteFlags};

use crate::helpers::grpc::{
    self, call_options, create_request, get_request, list_request, watch_request,
};
use crate::helpers::TestService;

/// CreateEntity with the default call options; an error fails the test.
#[track_caller]
fn create(client: &EntityServiceClient, name: &str, description: &str) -> Entity {
    client
        .create_entity_opt(&create_request(name, description), call_options())
        .unwrap_or_else(|e| panic!("create {name:?} failed: {e:?}"))
}

/// GetEntity with the default call options.
fn get(client: &EntityServiceClient, id: i64) -> grpcio::Result<Entity> {
    client.get_entity_opt(&get_request(id), call_options())
}

/// The ids ListEntities streams; an error fails the test.
#[track_caller]
fn list_ids(client: &EntityServiceClient, start_id: i64, limit: u32) -> Vec<i64> {
    let stream = client
        .list_entities_opt(&list_request(start_id, limit), call_options())
        .expect("list call starts");
    ids(&grpc::collect(stream).expect("list succeeds"))
}

/// The ids of these entities, in order.
fn ids(entities: &[Entity]) -> Vec<i64> {
    entities.iter().map(|e| e.id).collect()
}

/// An entity's fields, for comparisons with literals.
fn fields(entity: &Entity) -> (i64, &str, &str) {
    (entity.id, &entity.name, &entity.description)
}

/// Stores `count` entities named `e1`, `e2`, … with descriptions `d1`, …
/// straight into the (empty) store of `service`.
#[track_caller]
fn seed_numbered(service: &TestService, count: i64) {
    for n in 1..=count {
        let id = service.seed(&format!("e{n}"), &format!("d{n}"));
        assert_eq!(id, n, "seeding expects an empty store");
    }
}

/// A started service with `count` numbered entities ([`seed_numbered`]),
/// and a client to it.
#[track_caller]
fn start_seeded(count: i64) -> (TestService, EntityServiceClient) {
    let service = TestService::start();
    seed_numbered(&service, count);
    let client = grpc::entity_client(service.grpc_addr);
    (service, client)
}

/// The six RPCs of EntityService, for what must hold for every kind of call.
#[derive(Clone, Copy, Debug)]
enum Rpc {
    CreateEntity,
    GetEntity,
    ListEntities,
    WatchEntities,
    CreateEntities,
    LookupEntities,
}

impl Rpc {
    /// Every RPC; CreateEntity first, so that entity 1 exists for the others
    /// even on an empty store.
    const ALL: [Rpc; 6] = [
        Rpc::CreateEntity,
        Rpc::GetEntity,
        Rpc::ListEntities,
        Rpc::WatchEntities,
        Rpc::CreateEntities,
        Rpc::LookupEntities,
    ];

    /// Makes one typical call of this kind (entity 1 must exist) and checks
    /// what it answered; the initial metadata the server sent, or the error
    /// the call ended with.
    fn call(self, client: &EntityServiceClient, option: CallOption) -> grpcio::Result<Metadata> {
        let what = format!("{self:?}");
        block_on(async {
            match self {
                Rpc::CreateEntity => {
                    let mut call =
                        client.create_entity_async_opt(&create_request("created", ""), option)?;
                    let headers = call.headers().await?.clone();
                    assert_eq!(call.message().await?.name, "created", "{what}");
                    Ok(headers)
                }
                Rpc::GetEntity => {
                    let mut call = client.get_entity_async_opt(&get_request(1), option)?;
                    let headers = call.headers().await?.clone();
                    assert_eq!(call.message().await?.id, 1, "{what}");
                    Ok(headers)
                }
                Rpc::ListEntities => {
                    let mut stream = client.list_entities_opt(&list_request(1, 1), option)?;
                    let headers = stream.headers().await?.clone();
                    let listed: Vec<Entity> = stream.try_collect().await?;
                    assert_eq!(ids(&listed), [1], "{what}");
                    Ok(headers)
                }
                Rpc::WatchEntities => {
                    // Entity 1 is replayed at once, and the headers come with it.
                    let mut stream = client.watch_entities_opt(&watch_request(0), option)?;
                    let first = stream.try_next().await?.map(|e| e.id);
                    assert_eq!(first, Some(1), "{what}");
                    let headers = stream.headers().await?.clone();
                    stream.cancel();
                    Ok(headers)
                }
                Rpc::CreateEntities => {
                    let (mut sink, mut receiver) = client.create_entities_opt(option)?;
                    // A refused call may end before the send or the half-close;
                    // the receiver tells how it ended.
                    let request = create_request("streamed", "");
                    let _ = sink.send((request, WriteFlags::default())).await;
                    let _ = sink.close().await;
                    let headers = receiver.headers().await?.clone();
                    assert_eq!(receiver.message().await?.created, 1, "{what}");
                    Ok(headers)
                }
                Rpc::LookupEntities => {
                    let (mut sink, mut receiver) = client.lookup_entities_opt(option)?;
                    let _ = sink.send((get_request(1), WriteFlags::default())).await;
                    let answer = receiver.try_next().await?;
                    assert!(
                        answer.as_ref().is_some_and(|a| a.found),
                        "{what}: {answer:?}"
                    );
                    let headers = receiver.headers().await?.clone();
                    grpc::half_close(&mut sink).await;
                    assert_eq!(receiver.try_next().await?, None, "{what} ends OK");
                    Ok(headers)
                }
            }
        })
    }
}
