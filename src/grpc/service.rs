//! `entities.v1.EntityService`: the six RPCs over the shared store.
//!
//! Handlers run on completion-queue threads, so they never block: unary and
//! streaming work is a few store operations, and WatchEntities, which waits
//! for new entities, is a task on the completion queue woken by the store
//! (see [`super::watch`]). Each handler is only its own logic, handed to the
//! call wrapper ([`CallGate`]), which runs it inside [`guarded`], so a panic
//! fails one call with INTERNAL instead of killing a completion-queue thread.
//!
//! CreateEntities stores each entity as it arrives: when the client cancels
//! midway, or a later message is invalid or cannot be decoded, the entities
//! created before stay.
//! With a journal, up to [`STREAM_WINDOW`] of a stream's creates wait for
//! their sync at once, so they share syncs; each id is acknowledged only
//! once its record is synced.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use futures_util::{FutureExt, TryStreamExt};
use grpcio::{
    ClientStreamingSink, DuplexSink, RequestStream, RpcContext, RpcStatusCode, ServerStreamingSink,
    ServiceBuilder, UnarySink, WriteFlags,
};

use super::call::{guarded, CallGate, ReadRequests};
use super::decode::{method, Decoded};
use super::method::methods;
use super::stream::{at_index, fail_stream, send_then_close};
use super::watch;
use crate::entities::Entities;
use crate::proto::entities::{
    CreateEntitiesResponse, CreateEntityRequest, Entity, GetEntityRequest, ListEntitiesRequest,
    LookupEntityResponse, WatchEntitiesRequest,
};
use crate::status::Status;
use crate::store::{Created, Creation};

methods! {
    SERVICE_NAME = "entities.v1.EntityService";
    GET_ENTITY = "GetEntity", Unary;
    CREATE_ENTITY = "CreateEntity", Unary;
    LIST_ENTITIES = "ListEntities", ServerStream;
    WATCH_ENTITIES = "WatchEntities", ServerStream;
    CREATE_ENTITIES = "CreateEntities", ClientStream;
    LOOKUP_ENTITIES = "LookupEntities", BidiStream;
}

/// The EntityService implementation; cheap to clone (one per completion queue).
#[derive(Clone)]
pub struct EntityService {
    entities: Entities,
    gate: CallGate,
}

impl EntityService {
    /// A service over these entities; `gate` holds the token check and metrics.
    pub fn new(entities: Entities, gate: CallGate) -> Self {
        Self { entities, gate }
    }

    /// The grpcio service definition to register with a server; requests
    /// are decoded by the handlers ([`super::decode`]).
    pub fn into_grpc_service(self) -> grpcio::Service {
        let (mut get, mut create, mut list) = (self.clone(), self.clone(), self.clone());
        let (mut watch, mut create_many, mut lookup) = (self.clone(), self.clone(), self);
        ServiceBuilder::new()
            .add_unary_handler(&method(&GET_ENTITY), move |ctx, req, sink| {
                get.get_entity(ctx, req, sink)
            })
            .add_unary_handler(&method(&CREATE_ENTITY), move |ctx, req, sink| {
                create.create_entity(ctx, req, sink)
            })
            .add_server_streaming_handler(&method(&LIST_ENTITIES), move |ctx, req, sink| {
                list.list_entities(ctx, req, sink)
            })
            .add_server_streaming_handler(&method(&WATCH_ENTITIES), move |ctx, req, sink| {
                watch.watch_entities(ctx, req, sink)
            })
            .add_client_streaming_handler(&method(&CREATE_ENTITIES), move |ctx, req, sink| {
                create_many.create_entities(ctx, req, sink)
            })
            .add_duplex_streaming_handler(&method(&LOOKUP_ENTITIES), move |ctx, req, sink| {
                lookup.lookup_entities(ctx, req, sink)
            })
            .build()
    }

    fn get_entity(
        &mut self,
        ctx: RpcContext,
        req: Decoded<GetEntityRequest>,
        sink: UnarySink<Entity>,
    ) {
        // Past the end of the index, the answer waits for a catch-up.
        self.gate.unary_when(&ctx, &GET_ENTITY, req, sink, |req| {
            let found = self.entities.get(req.id);
            Ok(async move { found.await.map(|e| Entity::from(&*e)) })
        });
    }

    fn create_entity(
        &mut self,
        ctx: RpcContext,
        req: Decoded<CreateEntityRequest>,
        sink: UnarySink<Entity>,
    ) {
        // With a journal the answer waits for the sync.
        self.gate
            .unary_when(&ctx, &CREATE_ENTITY, req, sink, |req| {
                let creation = self.entities.create(req.name, req.description)?;
                Ok(async move {
                    let entity = creation.await?;
                    Ok(Entity::from(&*entity))
                })
            });
    }

    fn list_entities(
        &mut self,
        ctx: RpcContext,
        req: Decoded<ListEntitiesRequest>,
        sink: ServerStreamingSink<Entity>,
    ) {
        self.gate
            .server_stream(&ctx, &LIST_ENTITIES, req, sink, |req| {
                let listing = self.entities.list(req.start_id, req.limit);
                Ok(|sink| send_list(sink, listing))
            });
    }

    fn watch_entities(
        &mut self,
        ctx: RpcContext,
        req: Decoded<WatchEntitiesRequest>,
        sink: ServerStreamingSink<Entity>,
    ) {
        self.gate
            .server_stream(&ctx, &WATCH_ENTITIES, req, sink, |req| {
                let store = self.entities.store();
                let opened = store.watch(req.after_id).map_err(Status::from)?;
                let store = Arc::clone(store);
                Ok(|sink| watch::serve(store, opened, sink))
            });
    }

    fn create_entities(
        &mut self,
        ctx: RpcContext,
        requests: RequestStream<Decoded<CreateEntityRequest>>,
        sink: ClientStreamingSink<CreateEntitiesResponse>,
    ) {
        let logic = CreateEach(self.entities.clone());
        self.gate
            .client_stream(&ctx, &CREATE_ENTITIES, requests, sink, logic);
    }

    fn lookup_entities(
        &mut self,
        ctx: RpcContext,
        requests: RequestStream<Decoded<GetEntityRequest>>,
        sink: DuplexSink<LookupEntityResponse>,
    ) {
        let entities = self.entities.clone();
        self.gate
            .bidi_stream(&ctx, &LOOKUP_ENTITIES, requests, sink, move |request| {
                Ok(lookup_response(&entities, request.id))
            });
    }
}

/// Sends the listed entities, the transport batching all but the last.
async fn send_list(
    sink: ServerStreamingSink<Entity>,
    listing: impl Future<Output = Result<Vec<Arc<crate::entity::Entity>>, Status>>,
) -> RpcStatusCode {
    let entities = match listing.await {
        Ok(entities) => entities,
        Err(status) => return fail_stream(sink, status).await,
    };
    let count = entities.len();
    let mut messages =
        futures_util::stream::iter(entities.into_iter().enumerate().map(|(i, entity)| {
            let flags = WriteFlags::default().buffer_hint(i + 1 < count);
            Ok((Entity::from(&*entity), flags))
        }));
    send_then_close(sink, &mut messages).await
}

/// How many of one CreateEntities stream's creates may wait for the journal
/// at once: enough for them to share syncs, few enough to bound the memory.
const STREAM_WINDOW: usize = 256;

/// CreateEntities' logic: creates each streamed entity in order.
struct CreateEach(Entities);

impl ReadRequests<CreateEntityRequest> for CreateEach {
    type Reply = CreateEntitiesResponse;

    fn read(
        self,
        requests: &mut RequestStream<Decoded<CreateEntityRequest>>,
    ) -> impl Future<Output = Result<CreateEntitiesResponse, Option<Status>>> + Send {
        create_each(self.0, requests)
    }
}

/// Creates each streamed entity in order. `Err(Some(status))` ends the call
/// with that status; `Err(None)` means the client went away (what was
/// created stays). A message that cannot be decoded ends the call like an
/// invalid one.
async fn create_each(
    entities: Entities,
    requests: &mut RequestStream<Decoded<CreateEntityRequest>>,
) -> Result<CreateEntitiesResponse, Option<Status>> {
    let mut response = CreateEntitiesResponse::new();
    // Creates not yet acknowledged, with their index in the stream.
    let mut waiting: VecDeque<(usize, Creation)> = VecDeque::new();
    let mut index = 0usize;
    while let Some(request) = requests.try_next().await.map_err(|_| None)? {
        let created = request
            .map_err(Status::from)
            .and_then(|request| guarded(|| entities.create(request.name, request.description)));
        match created {
            Ok(mut creation) => {
                // Done at once in memory: no queue needed.
                match waiting.is_empty().then(|| (&mut creation).now_or_never()) {
                    Some(Some(done)) => response.ids.push(acknowledged(index, done)?),
                    _ => waiting.push_back((index, creation)),
                }
            }
            Err(status) => {
                // Those sent before stay created; a failure among them came first.
                acknowledge(&mut waiting, &mut response.ids, 0).await?;
                return Err(Some(at_index("entity", index, status)));
            }
        }
        acknowledge(&mut waiting, &mut response.ids, STREAM_WINDOW - 1).await?;
        index += 1;
    }
    acknowledge(&mut waiting, &mut response.ids, 0).await?;
    response.created = response.ids.len() as u32;
    Ok(response)
}

/// Waits, oldest first, until at most `keep` creates are waiting, adding
/// each acknowledged id to `ids`.
async fn acknowledge(
    waiting: &mut VecDeque<(usize, Creation)>,
    ids: &mut Vec<i64>,
    keep: usize,
) -> Result<(), Option<Status>> {
    while waiting.len() > keep {
        let Some((index, creation)) = waiting.pop_front() else {
            break;
        };
        ids.push(acknowledged(index, creation.await)?);
    }
    Ok(())
}

/// The id of a completed create, or the call's error naming its index.
fn acknowledged(index: usize, done: Created) -> Result<i64, Option<Status>> {
    done.map(|entity| entity.id)
        .map_err(|error| Some(at_index("entity", index, Status::from(error))))
}

fn lookup_response(
    entities: &Entities,
    id: i64,
) -> impl Future<Output = Result<LookupEntityResponse, Status>> + Send {
    let found = entities.lookup(id);
    async move {
        let mut response = LookupEntityResponse::new();
        response.id = id;
        if let Some(entity) = found.await? {
            response.found = true;
            response.entity = protobuf::MessageField::some(Entity::from(&*entity));
        }
        Ok(response)
    }
}
