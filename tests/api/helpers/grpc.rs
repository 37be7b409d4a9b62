//! The tests' one gRPC client factory: channels and clients for an address,
//! call options that always carry a deadline, metadata, request builders,
//! and the ways a test reads a call's outcome.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use entity_service::proto::entities::{
    CreateEntitiesResponse, CreateEntityRequest, Entity, GetEntityRequest, ListEntitiesRequest,
    WatchEntitiesRequest,
};
use entity_service::proto::entities_grpc::EntityServiceClient;
use entity_service::proto::health::HealthCheckRequest;
use entity_service::proto::health_grpc::HealthClient;
use entity_service::proto::{reflection_v1_grpc, reflection_v1alpha_grpc};
use futures_executor::block_on;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use grpcio::{
    CallOption, Channel, ChannelBuilder, ClientSStreamReceiver, EnvBuilder, Environment, GrpcSlice,
    Marshaller, MessageReader, Metadata, MetadataBuilder, Method, MethodType, RpcStatus,
    RpcStatusCode, StreamingCallSink, WriteFlags,
};

/// The deadline of every call made with [`call_options`]: no test can hang
/// on a call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The environment (one completion-queue thread) the shared channels use.
fn shared_env() -> Arc<Environment> {
    static ENV: OnceLock<Arc<Environment>> = OnceLock::new();
    Arc::clone(ENV.get_or_init(|| Arc::new(EnvBuilder::new().cq_count(1).build())))
}

/// A channel to `addr`. Channels to one address share grpc's global
/// subchannel pool, so they may share a connection.
pub fn channel(addr: SocketAddr) -> Channel {
    channel_with(addr, |builder| builder)
}

/// A channel to `addr` with these builder settings (compression, limits…).
pub fn channel_with(
    addr: SocketAddr,
    configure: impl FnOnce(ChannelBuilder) -> ChannelBuilder,
) -> Channel {
    configure(ChannelBuilder::new(shared_env())).connect(&addr.to_string())
}

/// A channel on a connection and environment of its own: for tests that
/// load the server from several threads, or need a connection no other
/// client shares.
pub fn separate_channel(addr: SocketAddr) -> Channel {
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    ChannelBuilder::new(env)
        .use_local_subchannel_pool(true)
        .connect(&addr.to_string())
}

/// An EntityService client to `addr`.
pub fn entity_client(addr: SocketAddr) -> EntityServiceClient {
    EntityServiceClient::new(channel(addr))
}

/// An EntityService client on a connection of its own ([`separate_channel`]).
pub fn separate_entity_client(addr: SocketAddr) -> EntityServiceClient {
    EntityServiceClient::new(separate_channel(addr))
}

/// A `grpc.health.v1.Health` client to `addr`.
pub fn health_client(addr: SocketAddr) -> HealthClient {
    HealthClient::new(channel(addr))
}

/// A `grpc.reflection.v1` client to `addr`.
pub fn reflection_v1_client(addr: SocketAddr) -> reflection_v1_grpc::ServerReflectionClient {
    reflection_v1_grpc::ServerReflectionClient::new(channel(addr))
}

/// A `grpc.reflection.v1alpha` client to `addr`.
pub fn reflection_v1alpha_client(
    addr: SocketAddr,
) -> reflection_v1alpha_grpc::ServerReflectionClient {
    reflection_v1alpha_grpc::ServerReflectionClient::new(channel(addr))
}

/// A client that sends and receives messages as raw bytes, so a test can
/// send what no protobuf encoder would: call it with [`raw_method`].
pub fn raw_client(addr: SocketAddr) -> grpcio::Client {
    grpcio::Client::new(channel(addr))
}

/// The method at `path` (`/package.Service/Method`) with messages passed as
/// they are, byte for byte.
pub fn raw_method(ty: MethodType, path: &'static str) -> Method<Vec<u8>, Vec<u8>> {
    let bytes = || Marshaller {
        ser: raw_ser,
        de: raw_de,
    };
    Method {
        ty,
        name: path,
        req_mar: bytes(),
        resp_mar: bytes(),
    }
}

fn raw_ser(message: &Vec<u8>, buffer: &mut GrpcSlice) -> grpcio::Result<()> {
    *buffer = GrpcSlice::from(message.as_slice());
    Ok(())
}

fn raw_de(mut reader: MessageReader) -> grpcio::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|error| grpcio::Error::Codec(Box::new(error)))?;
    Ok(bytes)
}

/// Call options with the [`CALL_TIMEOUT`] deadline.
pub fn call_options() -> CallOption {
    deadline(CALL_TIMEOUT)
}

/// Call options with this deadline (for calls meant to run long).
pub fn deadline(timeout: Duration) -> CallOption {
    CallOption::default().timeout(timeout)
}

/// Call options with the [`CALL_TIMEOUT`] deadline and these headers.
pub fn call_options_with(headers: Metadata) -> CallOption {
    call_options().headers(headers)
}

/// Metadata of these ASCII key/value pairs.
pub fn metadata(entries: &[(&str, &str)]) -> Metadata {
    let mut builder = MetadataBuilder::new();
    for (key, value) in entries {
        builder.add_str(key, value).expect("valid ASCII metadata");
    }
    builder.build()
}

/// Metadata with `authorization: Bearer <token>`.
pub fn bearer(token: &str) -> Metadata {
    metadata(&[("authorization", &format!("Bearer {token}"))])
}

/// The value of the first entry with this key.
pub fn header<'a>(md: &'a Metadata, key: &str) -> Option<&'a [u8]> {
    md.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// The value of the first entry with this key, as text.
pub fn header_str(md: &Metadata, key: &str) -> Option<String> {
    header(md, key).map(|v| String::from_utf8(v.to_vec()).expect("ASCII header value"))
}

/// The server's status of a failed call; any other error fails the test.
#[track_caller]
pub fn rpc_status(error: grpcio::Error) -> RpcStatus {
    match error {
        grpcio::Error::RpcFailure(status) => status,
        other => panic!("expected an RPC failure with a status, got {other:?}"),
    }
}

/// The status code of a failed call.
#[track_caller]
pub fn status_code(error: grpcio::Error) -> RpcStatusCode {
    rpc_status(error).code()
}

/// Asserts the call failed with `code`; its status.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(
    result: grpcio::Result<T>,
    code: RpcStatusCode,
) -> RpcStatus {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(error) => {
            let status = rpc_status(error);
            assert_eq!(status.code(), code, "status: {status:?}");
            status
        }
    }
}

/// A GetEntity request.
pub fn get_request(id: i64) -> GetEntityRequest {
    let mut request = GetEntityRequest::new();
    request.id = id;
    request
}

/// A ListEntities request.
pub fn list_request(start_id: i64, limit: u32) -> ListEntitiesRequest {
    let mut request = ListEntitiesRequest::new();
    request.start_id = start_id;
    request.limit = limit;
    request
}

/// A WatchEntities request.
pub fn watch_request(after_id: i64) -> WatchEntitiesRequest {
    let mut request = WatchEntitiesRequest::new();
    request.after_id = after_id;
    request
}

/// A CreateEntity request.
pub fn create_request(name: &str, description: &str) -> CreateEntityRequest {
    let mut request = CreateEntityRequest::new();
    request.name = name.to_string();
    request.description = description.to_string();
    request
}

/// A health Check/Watch request for this service name.
pub fn health_request(service: &str) -> HealthCheckRequest {
    let mut request = HealthCheckRequest::new();
    request.service = service.to_string();
    request
}

/// The next message of a server stream; an end or an error fails the test.
#[track_caller]
pub fn next_message<T>(stream: &mut ClientSStreamReceiver<T>) -> T {
    block_on(stream.next())
        .expect("stream ended early")
        .expect("stream item is not an error")
}

/// How a server stream goes on: its next message, `Ok(None)` for a clean
/// end, or the error it ended with.
pub fn next_outcome<T>(stream: &mut ClientSStreamReceiver<T>) -> grpcio::Result<Option<T>> {
    block_on(stream.try_next())
}

/// Every message of a server stream until it ends, or the error it ended with.
pub fn collect<T>(stream: ClientSStreamReceiver<T>) -> grpcio::Result<Vec<T>> {
    block_on(stream.try_collect())
}

/// Half-closes a client or bidi stream. grpcio reports `RpcFinished(None)`
/// when the server's OK status is seen before the half-close batch itself
/// completes (a client-side race): the call ended OK, so that counts as done.
/// Callers still check the call's outcome on the receiving side.
pub async fn half_close<T>(sink: &mut StreamingCallSink<T>) {
    match sink.close().await {
        Ok(()) | Err(grpcio::Error::RpcFinished(None)) => {}
        Err(error) => panic!("half-close failed: {error:?}"),
    }
}

/// Streams these requests to CreateEntities and half-closes. Send errors are
/// ignored (the server may end the call early); the result is the call's.
pub fn create_many(
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

/// What LookupEntities answers for these ids on one call, one request at a
/// time: the entity, or None when not found (answers checked to come in
/// request order).
#[track_caller]
pub fn lookup_each(client: &EntityServiceClient, wanted: &[i64]) -> Vec<Option<Entity>> {
    let (mut sink, mut receiver) = client
        .lookup_entities_opt(call_options())
        .expect("call starts");
    block_on(async {
        let mut found = Vec::new();
        for &id in wanted {
            sink.send((get_request(id), WriteFlags::default()))
                .await
                .expect("send");
            let answer = receiver.try_next().await.expect("an answer");
            let answer = answer.expect("not the end of the stream");
            assert_eq!(answer.id, id, "answers come in request order");
            assert_eq!(answer.found, answer.entity.is_some(), "{answer:?}");
            found.push(answer.entity.into_option());
        }
        half_close(&mut sink).await;
        found
    })
}
