//! The gRPC service: the six RPCs of entities.v1.EntityService over the store.

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::proto::entity_service_server::EntityService;
use crate::proto::{
    CreateEntitiesResponse, CreateEntityRequest, Entity, GetEntityRequest, ListEntitiesRequest,
    LookupEntityResponse, WatchEntitiesRequest,
};
use crate::store::Store;

type EntityStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

pub struct Service {
    pub store: Arc<Store>,
}

#[tonic::async_trait]
impl EntityService for Service {
    async fn get_entity(
        &self,
        request: Request<GetEntityRequest>,
    ) -> Result<Response<Entity>, Status> {
        self.store.get(request.into_inner().id).map(Response::new)
    }

    async fn create_entity(
        &self,
        request: Request<CreateEntityRequest>,
    ) -> Result<Response<Entity>, Status> {
        let CreateEntityRequest { name, description } = request.into_inner();
        self.store.create(name, description).map(Response::new)
    }

    type ListEntitiesStream = EntityStream<Entity>;

    async fn list_entities(
        &self,
        request: Request<ListEntitiesRequest>,
    ) -> Result<Response<Self::ListEntitiesStream>, Status> {
        let ListEntitiesRequest { start_id, limit } = request.into_inner();
        let entities = self.store.list(start_id, limit);
        Ok(Response::new(Box::pin(tokio_stream::iter(
            entities.into_iter().map(Ok),
        ))))
    }

    type WatchEntitiesStream = EntityStream<Entity>;

    /// The stored entities past `after_id`, then each new one; a watcher that
    /// falls too far behind is ended with RESOURCE_EXHAUSTED.
    async fn watch_entities(
        &self,
        request: Request<WatchEntitiesRequest>,
    ) -> Result<Response<Self::WatchEntitiesStream>, Status> {
        let (stored, receiver) = self.store.watch(request.into_inner().after_id);
        let live = BroadcastStream::new(receiver).map(|received| {
            received.map_err(|_| Status::resource_exhausted("watcher fell behind the new entities"))
        });
        Ok(Response::new(Box::pin(
            tokio_stream::iter(stored.into_iter().map(Ok)).chain(live),
        )))
    }

    async fn create_entities(
        &self,
        request: Request<Streaming<CreateEntityRequest>>,
    ) -> Result<Response<CreateEntitiesResponse>, Status> {
        let mut requests = request.into_inner();
        let mut ids = Vec::new();
        while let Some(next) = requests.next().await {
            let index = ids.len();
            let CreateEntityRequest { name, description } = next.map_err(|status| {
                Status::invalid_argument(format!("message {index}: {}", status.message()))
            })?;
            let entity = self.store.create(name, description).map_err(|status| {
                Status::invalid_argument(format!("message {index}: {}", status.message()))
            })?;
            ids.push(entity.id);
        }
        Ok(Response::new(CreateEntitiesResponse {
            created: ids.len() as u32,
            ids,
        }))
    }

    type LookupEntitiesStream = EntityStream<LookupEntityResponse>;

    async fn lookup_entities(
        &self,
        request: Request<Streaming<GetEntityRequest>>,
    ) -> Result<Response<Self::LookupEntitiesStream>, Status> {
        let store = Arc::clone(&self.store);
        let answers = request.into_inner().map(move |next| {
            let id = next?.id;
            let entity = store.get(id).ok();
            Ok(LookupEntityResponse {
                id,
                found: entity.is_some(),
                entity,
            })
        });
        Ok(Response::new(Box::pin(answers)))
    }
}
