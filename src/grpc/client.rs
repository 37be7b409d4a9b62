//! The blocking gRPC client the REST gateway and the command line use: the
//! one place channels are opened and request metadata (request id, token,
//! extra entries) is built, and every EntityService RPC and Health.Check as a
//! blocking call with the client's deadline.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, TryStreamExt};
use grpcio::{
    CallOption, Channel, ChannelBuilder, ClientCStreamSender, EnvBuilder, Environment, Metadata,
    MetadataBuilder, RpcStatusCode, WriteFlags,
};

use super::call::REQUEST_ID_KEY;
use crate::call_metadata::CallMetadata;
use crate::entity::Entity;
use crate::proto::entities::{
    CreateEntitiesResponse, CreateEntityRequest, GetEntityRequest, ListEntitiesRequest,
    LookupEntityResponse, WatchEntitiesRequest,
};
use crate::proto::entities_grpc::EntityServiceClient;
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::HealthCheckRequest;
use crate::proto::health_grpc::HealthClient;
use crate::status::Status;

/// Which completion-queue threads a channel's calls run on.
pub enum ChannelThreads {
    /// One thread of the channel's own, its name starting with this prefix.
    Own(&'static str),
    /// An existing environment's, e.g. the server's, so that a call to this
    /// process's own server stays on the server's thread.
    Shared(Arc<Environment>),
}

/// Opens a channel to `target` (HOST:PORT) that reconnects quickly after the
/// upstream comes back, rather than backing off for minutes. (The minimum
/// backoff is left alone: the C core also uses it as the connect timeout.)
///
/// The C core's retry filter is off: no call here has a retry policy, yet
/// the filter buffers every call's messages for a possible transparent retry,
/// which cost about a tenth of the gateway's CPU per request.
pub fn connect(target: &str, threads: ChannelThreads) -> Channel {
    let env = match threads {
        ChannelThreads::Own(name_prefix) => Arc::new(
            EnvBuilder::new()
                .cq_count(1)
                .name_prefix(name_prefix)
                .build(),
        ),
        ChannelThreads::Shared(env) => env,
    };
    builder(env)
        .initial_reconnect_backoff(Duration::from_millis(100))
        .max_reconnect_backoff(Duration::from_secs(1))
        .connect(target)
}

/// The settings every channel of ours shares (see [`connect`]; the local
/// channel of [`super::local`] too).
pub fn builder(env: Arc<Environment>) -> ChannelBuilder {
    ChannelBuilder::new(env).enable_retry(false)
}

/// A metadata value as gRPC carries it.
#[derive(Clone, Debug)]
pub enum MetadataValue {
    /// Printable ASCII, for a key not ending in `-bin`.
    Text(String),
    /// Any bytes, for a key ending in `-bin`.
    Binary(Vec<u8>),
}

/// Metadata a client sends with every call, beside each call's own
/// [`CallMetadata`]: the command line's `--token` and `--header`s.
#[derive(Clone, Debug, Default)]
pub struct ClientMetadata {
    /// Sent as `authorization` unless the call names its own (see [`bearer`]).
    pub authorization: Option<String>,
    /// Further entries, sent in this order.
    pub extra: Vec<(String, MetadataValue)>,
}

/// The `authorization` value that presents `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A metadata entry gRPC cannot carry; the call was not made.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The call's request id.
    #[error("request id: {0}")]
    RequestId(grpcio::Error),
    /// The call's or the client's authorization value.
    #[error("authorization: {0}")]
    Authorization(grpcio::Error),
    /// One of the client's extra entries, named by its key.
    #[error("{key}: {source}")]
    Entry { key: String, source: grpcio::Error },
}

impl From<MetadataError> for Status {
    fn from(error: MetadataError) -> Self {
        match error {
            MetadataError::Authorization(_) => Status::new(
                RpcStatusCode::UNAUTHENTICATED,
                "malformed authorization header",
            ),
            MetadataError::RequestId(source) => Status::invalid_argument(source.to_string()),
            entry @ MetadataError::Entry { .. } => Status::invalid_argument(entry.to_string()),
        }
    }
}

/// Builds a call's request metadata: its request id, its authorization (else
/// the client's), then the client's extra entries.
fn request_metadata(
    call: CallMetadata,
    client: &ClientMetadata,
) -> Result<Metadata, MetadataError> {
    let mut headers = MetadataBuilder::with_capacity(2 + client.extra.len());
    if let Some(id) = call.request_id {
        headers
            .add_str(REQUEST_ID_KEY, id)
            .map_err(MetadataError::RequestId)?;
    }
    if let Some(authorization) = call.authorization.or(client.authorization.as_deref()) {
        headers
            .add_str("authorization", authorization)
            .map_err(MetadataError::Authorization)?;
    }
    for (key, value) in &client.extra {
        let added = match value {
            MetadataValue::Text(text) => headers.add_str(key, text),
            MetadataValue::Binary(bytes) => headers.add_bytes(key, bytes),
        };
        added.map_err(|source| MetadataError::Entry {
            key: key.clone(),
            source,
        })?;
    }
    Ok(headers.build())
}

/// Which server stream of entities to read.
#[derive(Clone, Copy, Debug)]
pub enum EntityStream {
    /// ListEntities: id order from `start_id`, at most `limit` (0 = all).
    List { start_id: i64, limit: u32 },
    /// WatchEntities: ids above `after_id`, then each new entity, until the
    /// call ends.
    Watch { after_id: i64 },
}

/// A blocking EntityService (and Health) client with a per-call deadline.
#[derive(Clone)]
pub struct BlockingClient {
    client: EntityServiceClient,
    health: HealthClient,
    /// None: calls run until they end by themselves (a watch until Ctrl-C).
    deadline: Option<Duration>,
    metadata: Arc<ClientMetadata>,
}

impl BlockingClient {
    /// A client over a shared channel.
    pub fn new(channel: Channel, deadline: Duration) -> Self {
        Self {
            client: EntityServiceClient::new(channel.clone()),
            health: HealthClient::new(channel),
            deadline: Some(deadline),
            metadata: Arc::default(),
        }
    }

    /// The same client (deadline, metadata) over another channel.
    pub fn over(&self, channel: Channel) -> Self {
        Self {
            client: EntityServiceClient::new(channel.clone()),
            health: HealthClient::new(channel),
            deadline: self.deadline,
            metadata: Arc::clone(&self.metadata),
        }
    }

    /// The same client with another deadline (None: no deadline).
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The same client sending `metadata` with every call; checked here, so a
    /// bad entry fails before any call is made.
    pub fn with_metadata(mut self, metadata: ClientMetadata) -> Result<Self, MetadataError> {
        request_metadata(CallMetadata::default(), &metadata)?;
        self.metadata = Arc::new(metadata);
        Ok(self)
    }

    /// Call options: the deadline and the call's metadata.
    fn options(&self, call: CallMetadata) -> Result<CallOption, Status> {
        let options = CallOption::default().headers(request_metadata(call, &self.metadata)?);
        Ok(match self.deadline {
            Some(deadline) => options.timeout(deadline),
            None => options,
        })
    }

    /// Health.Check of `service` ("" = the whole server): the status it reports.
    pub fn health_status(
        &self,
        service: &str,
        call: CallMetadata,
    ) -> Result<protobuf::EnumOrUnknown<ServingStatus>, Status> {
        let mut request = HealthCheckRequest::new();
        request.service = service.to_string();
        Ok(self.health.check_opt(&request, self.options(call)?)?.status)
    }

    /// Health.Check of the whole server: Ok when it answers SERVING in time.
    pub fn check_health(&self, call: CallMetadata) -> Result<(), Status> {
        let reported = match self.health_status("", call)?.enum_value() {
            Ok(ServingStatus::SERVING) => return Ok(()),
            Ok(status) => format!("{status:?}"),
            Err(number) => format!("status {number}"),
        };
        Err(Status::new(
            RpcStatusCode::UNAVAILABLE,
            format!("upstream reports {reported}"),
        ))
    }

    /// GetEntity.
    pub fn get(&self, id: i64, call: CallMetadata) -> Result<Entity, Status> {
        let reply = self
            .client
            .get_entity_opt(&get_request(id), self.options(call)?)?;
        Ok(reply.into())
    }

    /// GetEntity, with the initial metadata the server answered with.
    pub fn get_with_headers(
        &self,
        id: i64,
        call: CallMetadata,
    ) -> Result<(Metadata, Entity), Status> {
        let mut pending = self
            .client
            .get_entity_async_opt(&get_request(id), self.options(call)?)?;
        let (headers, reply, _trailers) = pending.receive_sync()?;
        Ok((headers, reply.into()))
    }

    /// CreateEntity.
    pub fn create(
        &self,
        name: String,
        description: String,
        call: CallMetadata,
    ) -> Result<Entity, Status> {
        let reply = self
            .client
            .create_entity_opt(&create_request(name, description), self.options(call)?)?;
        Ok(reply.into())
    }

    /// ListEntities, collected.
    pub fn list(
        &self,
        start_id: i64,
        limit: u32,
        call: CallMetadata,
    ) -> Result<Vec<Entity>, Status> {
        let mut entities = Vec::new();
        let stream = EntityStream::List { start_id, limit };
        self.each_entity(stream, call, |entity| entities.push(entity))?;
        Ok(entities)
    }

    /// ListEntities or WatchEntities, handing each entity to `on_entity` as it
    /// arrives: Ok when the server ended the stream, else the call's status
    /// (e.g. DEADLINE_EXCEEDED, how a watch with a deadline ends).
    pub fn each_entity(
        &self,
        stream: EntityStream,
        call: CallMetadata,
        mut on_entity: impl FnMut(Entity),
    ) -> Result<(), Status> {
        let options = self.options(call)?;
        let mut entities = match stream {
            EntityStream::List { start_id, limit } => {
                let mut request = ListEntitiesRequest::new();
                request.start_id = start_id;
                request.limit = limit;
                self.client.list_entities_opt(&request, options)?
            }
            EntityStream::Watch { after_id } => {
                let mut request = WatchEntitiesRequest::new();
                request.after_id = after_id;
                self.client.watch_entities_opt(&request, options)?
            }
        };
        futures_executor::block_on(async {
            while let Some(entity) = entities.try_next().await? {
                on_entity(entity.into());
            }
            Ok(())
        })
    }

    /// CreateEntities: sends each request as the iterator yields it (it stops
    /// being read once the server has ended the call), then the server's answer.
    pub fn create_many(
        &self,
        requests: impl IntoIterator<Item = CreateEntityRequest>,
        call: CallMetadata,
    ) -> Result<CreateEntitiesResponse, Status> {
        let (mut sink, receiver) = self.client.create_entities_opt(self.options(call)?)?;
        let flags = WriteFlags::default().buffer_hint(true);
        // A failed send means the server ended the call; its status follows.
        let _ = send_each(&mut sink, requests, flags);
        let _ = futures_executor::block_on(sink.close());
        Ok(futures_executor::block_on(receiver)?)
    }

    /// CreateEntities that sends `requests` one by one, runs `before_cancel`,
    /// then cancels the call; returns how the call ended (CANCELLED unless the
    /// server ended it first).
    pub fn create_then_cancel(
        &self,
        requests: impl IntoIterator<Item = CreateEntityRequest>,
        call: CallMetadata,
        before_cancel: impl FnOnce() -> Result<(), Status>,
    ) -> Result<Result<CreateEntitiesResponse, Status>, Status> {
        let (mut sink, mut receiver) = self.client.create_entities_opt(self.options(call)?)?;
        send_each(&mut sink, requests, WriteFlags::default())?;
        before_cancel()?;
        receiver.cancel();
        drop(sink);
        Ok(futures_executor::block_on(receiver).map_err(Status::from))
    }

    /// LookupEntities as ping-pong: sends one id, waits for its answer (handed
    /// to `on_answer` with the id asked), then sends the next.
    pub fn lookup(
        &self,
        ids: impl IntoIterator<Item = i64>,
        call: CallMetadata,
        mut on_answer: impl FnMut(i64, LookupEntityResponse),
    ) -> Result<(), Status> {
        let (mut sink, mut answers) = self.client.lookup_entities_opt(self.options(call)?)?;
        futures_executor::block_on(async {
            for id in ids {
                sink.send((get_request(id), WriteFlags::default())).await?;
                let answer = answers
                    .try_next()
                    .await?
                    .ok_or_else(|| Status::internal("the server ended the stream early"))?;
                on_answer(id, answer);
            }
            // The server may finish the call while the half-close is in flight;
            // grpcio then reports RpcFinished, which is not a failure.
            match sink.close().await {
                Ok(()) | Err(grpcio::Error::RpcFinished(_)) => {}
                Err(error) => return Err(error.into()),
            }
            while answers.try_next().await?.is_some() {}
            Ok(())
        })
    }
}

fn get_request(id: i64) -> GetEntityRequest {
    let mut request = GetEntityRequest::new();
    request.id = id;
    request
}

/// A CreateEntity (or CreateEntities) request.
pub fn create_request(
    name: impl Into<String>,
    description: impl Into<String>,
) -> CreateEntityRequest {
    let mut request = CreateEntityRequest::new();
    request.name = name.into();
    request.description = description.into();
    request
}

/// Sends each request in turn; stops at the first failed send.
fn send_each(
    sink: &mut ClientCStreamSender<CreateEntityRequest>,
    requests: impl IntoIterator<Item = CreateEntityRequest>,
    flags: WriteFlags,
) -> Result<(), Status> {
    futures_executor::block_on(async {
        for request in requests {
            sink.send((request, flags)).await?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(metadata: &Metadata) -> Vec<(String, Vec<u8>)> {
        metadata
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_vec()))
            .collect()
    }

    #[test]
    fn request_metadata_puts_the_call_first_and_its_authorization_wins() {
        let client = ClientMetadata {
            authorization: Some(bearer("client")),
            extra: vec![
                ("x-echo-initial".into(), MetadataValue::Text("hi".into())),
                ("X-Echo-Bin".into(), MetadataValue::Binary(vec![0, 255])),
            ],
        };
        let own = CallMetadata {
            request_id: Some("r-1"),
            authorization: Some("Bearer call"),
        };
        let built = request_metadata(own, &client).expect("valid entries");
        let expected: Vec<(String, Vec<u8>)> = vec![
            ("x-request-id".into(), b"r-1".to_vec()),
            ("authorization".into(), b"Bearer call".to_vec()),
            ("x-echo-initial".into(), b"hi".to_vec()),
            ("x-echo-bin".into(), vec![0, 255]),
        ];
        assert_eq!(entries(&built), expected);
        let inherited = request_metadata(CallMetadata::default(), &client).expect("valid");
        assert_eq!(entries(&inherited)[0].1, b"Bearer client".to_vec());
    }

    #[test]
    fn request_metadata_names_the_entry_it_cannot_send() {
        let bad_entry = ClientMetadata {
            authorization: None,
            extra: vec![("bad key".into(), MetadataValue::Text("1".into()))],
        };
        match request_metadata(CallMetadata::default(), &bad_entry) {
            Err(MetadataError::Entry { key, .. }) => assert_eq!(key, "bad key"),
            other => panic!("expected an entry error, got {other:?}"),
        }
        let bad_token = CallMetadata {
            request_id: None,
            authorization: Some("Bearer a\nb"),
        };
        let status = Status::from(
            request_metadata(bad_token, &ClientMetadata::default()).expect_err("not printable"),
        );
        assert_eq!(status.code, RpcStatusCode::UNAUTHENTICATED);
    }
}
