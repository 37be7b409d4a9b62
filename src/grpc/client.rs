//! The blocking gRPC client the REST gateway (and the command line) use:
//! one shared channel, calls with a deadline, the request id and the token
//! passed on as metadata.

use std::sync::Arc;
use std::time::Duration;

use grpcio::{CallOption, Channel, ChannelBuilder, EnvBuilder, Environment, MetadataBuilder};

use super::call::REQUEST_ID_KEY;
use crate::proto::entities::{CreateEntityRequest, GetEntityRequest, ListEntitiesRequest};
use crate::proto::entities_grpc::EntityServiceClient;
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::HealthCheckRequest;
use crate::proto::health_grpc::HealthClient;
use crate::status::Status;
use crate::store::Entity;

/// Per-call details passed upstream.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallMetadata<'a> {
    /// Sent as `x-request-id`.
    pub request_id: Option<&'a str>,
    /// Sent as `authorization` (the full header value, e.g. `Bearer …`).
    pub authorization: Option<&'a str>,
}

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
    ChannelBuilder::new(env)
        .initial_reconnect_backoff(Duration::from_millis(100))
        .max_reconnect_backoff(Duration::from_secs(1))
        .connect(target)
}

/// A blocking EntityService (and Health) client with a per-call deadline.
#[derive(Clone)]
pub struct BlockingClient {
    client: EntityServiceClient,
    health: HealthClient,
    deadline: Duration,
}

impl BlockingClient {
    /// A client over a shared channel.
    pub fn new(channel: Channel, deadline: Duration) -> Self {
        Self {
            client: EntityServiceClient::new(channel.clone()),
            health: HealthClient::new(channel),
            deadline,
        }
    }

    /// Health.Check of the whole server: Ok when it answers SERVING in time.
    pub fn check_health(&self, metadata: CallMetadata) -> Result<(), Status> {
        let reply = self
            .health
            .check_opt(&HealthCheckRequest::new(), self.options(metadata)?)?;
        match reply.status.enum_value() {
            Ok(ServingStatus::SERVING) => Ok(()),
            other => {
                let reported = match other {
                    Ok(status) => format!("{status:?}"),
                    Err(number) => format!("status {number}"),
                };
                Err(Status::new(
                    grpcio::RpcStatusCode::UNAVAILABLE,
                    format!("upstream reports {reported}"),
                ))
            }
        }
    }

    /// The underlying generated client, for streaming calls.
    pub fn raw(&self) -> &EntityServiceClient {
        &self.client
    }

    /// Call options: the deadline plus the request id and token as metadata.
    pub fn options(&self, metadata: CallMetadata) -> Result<CallOption, Status> {
        let mut headers = MetadataBuilder::with_capacity(2);
        if let Some(id) = metadata.request_id {
            headers
                .add_str(REQUEST_ID_KEY, id)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
        }
        if let Some(authorization) = metadata.authorization {
            headers
                .add_str("authorization", authorization)
                .map_err(|_| {
                    Status::new(
                        grpcio::RpcStatusCode::UNAUTHENTICATED,
                        "malformed authorization header",
                    )
                })?;
        }
        Ok(CallOption::default()
            .timeout(self.deadline)
            .headers(headers.build()))
    }

    /// GetEntity.
    pub fn get(&self, id: i64, metadata: CallMetadata) -> Result<Entity, Status> {
        let mut request = GetEntityRequest::new();
        request.id = id;
        let reply = self
            .client
            .get_entity_opt(&request, self.options(metadata)?)?;
        Ok(reply.into())
    }

    /// CreateEntity.
    pub fn create(
        &self,
        name: String,
        description: String,
        metadata: CallMetadata,
    ) -> Result<Entity, Status> {
        let mut request = CreateEntityRequest::new();
        request.name = name;
        request.description = description;
        let reply = self
            .client
            .create_entity_opt(&request, self.options(metadata)?)?;
        Ok(reply.into())
    }

    /// ListEntities, collected.
    pub fn list(
        &self,
        start_id: i64,
        limit: u32,
        metadata: CallMetadata,
    ) -> Result<Vec<Entity>, Status> {
        use futures_util::TryStreamExt;
        let mut request = ListEntitiesRequest::new();
        request.start_id = start_id;
        request.limit = limit;
        let stream = self
            .client
            .list_entities_opt(&request, self.options(metadata)?)?;
        let entities: Vec<_> = futures_executor::block_on(stream.try_collect())?;
        Ok(entities.into_iter().map(Entity::from).collect())
    }
}
