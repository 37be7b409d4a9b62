//! `entities.v1.EntityService`: the six RPCs over the shared store.
//!
//! Handlers run on completion-queue threads, so they never block: unary and
//! streaming work is a few store operations, and WatchEntities, which waits
//! for new entities, gets a thread of its own (see [`super::watch`]).
//! Every piece of our logic runs inside [`guarded`], so a panic fails one
//! call with INTERNAL instead of killing a completion-queue thread.
//!
//! CreateEntities stores each entity as it arrives: when the client cancels
//! midway, or a later message is invalid, the entities created before stay.

use futures_util::{SinkExt, TryStreamExt};
use grpcio::{
    ClientStreamingSink, DuplexSink, RequestStream, RpcContext, RpcStatusCode, ServerStreamingSink,
    UnarySink, WriteFlags,
};

use super::call::{answer_each, guarded, reply_unary, spawn_guarded, CallGate, CallStart, Method};
use super::watch;
use crate::entities::Entities;
use crate::metrics::RpcKind;
use crate::proto::entities::{
    CreateEntitiesResponse, CreateEntityRequest, Entity, GetEntityRequest, ListEntitiesRequest,
    LookupEntityResponse, WatchEntitiesRequest,
};
use crate::proto::entities_grpc;
use crate::status::Status;

/// The service's full name.
pub const SERVICE_NAME: &str = "entities.v1.EntityService";

macro_rules! methods {
    ($($constant:ident = $name:literal, $kind:ident;)*) => {
        $(static $constant: Method = Method { service: SERVICE_NAME, name: $name, kind: RpcKind::$kind };)*
    };
}

methods! {
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

    /// The grpcio service definition to register with a server.
    pub fn into_grpc_service(self) -> grpcio::Service {
        entities_grpc::create_entity_service(self)
    }

    fn begin(&self, ctx: &RpcContext, method: &'static Method) -> CallStart {
        self.gate.begin(ctx, method)
    }
}

impl entities_grpc::EntityService for EntityService {
    fn get_entity(&mut self, ctx: RpcContext, req: GetEntityRequest, mut sink: UnarySink<Entity>) {
        let start = self.begin(&ctx, &GET_ENTITY);
        sink.set_headers(start.headers);
        let result = start
            .admitted
            .and_then(|()| guarded(|| self.entities.get(req.id).map(|e| Entity::from(&*e))));
        reply_unary(&ctx, start.scope, sink, result);
    }

    fn create_entity(
        &mut self,
        ctx: RpcContext,
        req: CreateEntityRequest,
        mut sink: UnarySink<Entity>,
    ) {
        let start = self.begin(&ctx, &CREATE_ENTITY);
        sink.set_headers(start.headers);
        let result = start.admitted.and_then(|()| {
            guarded(|| {
                self.entities
                    .create(req.name, req.description)
                    .map(|e| Entity::from(&*e))
            })
        });
        reply_unary(&ctx, start.scope, sink, result);
    }

    fn list_entities(
        &mut self,
        ctx: RpcContext,
        req: ListEntitiesRequest,
        mut sink: ServerStreamingSink<Entity>,
    ) {
        let start = self.begin(&ctx, &LIST_ENTITIES);
        sink.set_headers(start.headers);
        let scope = start.scope;
        let listed = start
            .admitted
            .and_then(|()| guarded(|| Ok(self.entities.list(req.start_id, req.limit))));
        spawn_guarded(&ctx, scope.method, async move {
            let entities = match listed {
                Ok(entities) => entities,
                Err(status) => {
                    scope.finish(status.code);
                    let _ = sink.fail(status.into()).await;
                    return;
                }
            };
            let count = entities.len();
            let mut messages =
                futures_util::stream::iter(entities.into_iter().enumerate().map(|(i, entity)| {
                    // Let the transport batch all but the last message.
                    let flags = WriteFlags::default().buffer_hint(i + 1 < count);
                    Ok((Entity::from(&*entity), flags))
                }));
            let code = match sink.send_all(&mut messages).await {
                Ok(()) => match sink.close().await {
                    Ok(()) => RpcStatusCode::OK,
                    Err(_) => RpcStatusCode::CANCELLED,
                },
                Err(_) => RpcStatusCode::CANCELLED,
            };
            scope.finish(code);
        });
    }

    fn watch_entities(
        &mut self,
        ctx: RpcContext,
        req: WatchEntitiesRequest,
        mut sink: ServerStreamingSink<Entity>,
    ) {
        let start = self.begin(&ctx, &WATCH_ENTITIES);
        sink.set_headers(start.headers);
        let scope = start.scope;
        let opened = start.admitted.and_then(|()| {
            guarded(|| {
                self.entities
                    .store()
                    .watch(req.after_id)
                    .map_err(Status::from)
            })
        });
        match opened {
            Ok(opened) => {
                let store = self.entities.store().clone();
                watch::spawn(&ctx, store, opened, sink, scope);
            }
            Err(status) => {
                spawn_guarded(&ctx, scope.method, async move {
                    scope.finish(status.code);
                    let _ = sink.fail(status.into()).await;
                });
            }
        }
    }

    fn create_entities(
        &mut self,
        ctx: RpcContext,
        mut requests: RequestStream<CreateEntityRequest>,
        mut sink: ClientStreamingSink<CreateEntitiesResponse>,
    ) {
        let start = self.begin(&ctx, &CREATE_ENTITIES);
        sink.set_headers(start.headers);
        let scope = start.scope;
        let admitted = start.admitted;
        let entities = self.entities.clone();
        spawn_guarded(&ctx, scope.method, async move {
            let result = match admitted {
                Ok(()) => create_each(&entities, &mut requests).await,
                Err(status) => Err(Some(status)),
            };
            match result {
                Ok(response) => {
                    scope.finish(RpcStatusCode::OK);
                    let _ = sink.success(response).await;
                }
                Err(Some(status)) => {
                    scope.finish(status.code);
                    let _ = sink.fail(status.into()).await;
                }
                // The client went away: what was created stays; nobody to answer.
                Err(None) => scope.finish(RpcStatusCode::CANCELLED),
            }
        });
    }

    fn lookup_entities(
        &mut self,
        ctx: RpcContext,
        requests: RequestStream<GetEntityRequest>,
        mut sink: DuplexSink<LookupEntityResponse>,
    ) {
        let start = self.begin(&ctx, &LOOKUP_ENTITIES);
        sink.set_headers(start.headers);
        let scope = start.scope;
        let admitted = start.admitted;
        let entities = self.entities.clone();
        spawn_guarded(&ctx, scope.method, async move {
            let code = match admitted {
                Ok(()) => {
                    answer_each(requests, sink, |request| {
                        guarded(|| Ok(lookup_response(&entities, request.id)))
                    })
                    .await
                }
                Err(status) => {
                    let code = status.code;
                    let _ = sink.fail(status.into()).await;
                    code
                }
            };
            scope.finish(code);
        });
    }
}

/// Creates each streamed entity in order. `Err(Some(status))` ends the call
/// with that status; `Err(None)` means the client went away.
async fn create_each(
    entities: &Entities,
    requests: &mut RequestStream<CreateEntityRequest>,
) -> Result<CreateEntitiesResponse, Option<Status>> {
    let mut response = CreateEntitiesResponse::new();
    let mut index = 0usize;
    while let Some(request) = requests.try_next().await.map_err(|_| None)? {
        let created = guarded(|| entities.create(request.name, request.description));
        match created {
            Ok(entity) => response.ids.push(entity.id),
            Err(status) => {
                let message = format!("entity at index {index}: {}", status.message);
                return Err(Some(Status::new(status.code, message)));
            }
        }
        index += 1;
    }
    response.created = response.ids.len() as u32;
    Ok(response)
}

fn lookup_response(entities: &Entities, id: i64) -> LookupEntityResponse {
    let mut response = LookupEntityResponse::new();
    response.id = id;
    if let Some(entity) = entities.lookup(id) {
        response.found = true;
        response.entity = protobuf::MessageField::some(Entity::from(&*entity));
    }
    response
}
