//! The operations of the contract on the shared store, with their errors as
//! [`Status`]: the gRPC handlers and the direct REST backend both call these,
//! so the rules (id ≥ 1, validation, list bounds) exist once.
//!
//! Reads are futures: with a database shared by several processes, a read
//! that reaches past the end of this process's index first catches up with
//! what the others committed (awaited on a completion-queue task, or
//! blocked on by a REST worker). Without one they are ready at once.

use std::future::Future;
use std::sync::Arc;

use crate::entity::Entity;
use crate::status::Status;
use crate::store::{Creation, Store};
use crate::validation::NewEntity;

/// The entity operations over one store.
#[derive(Clone, Default)]
pub struct Entities {
    store: Arc<Store>,
}

impl Entities {
    /// Operations over this store.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// GetEntity: INVALID_ARGUMENT for id < 1, NOT_FOUND when absent.
    pub fn get(&self, id: i64) -> impl Future<Output = Result<Arc<Entity>, Status>> + Send {
        let store = Arc::clone(&self.store);
        async move {
            if id < 1 {
                return Err(Status::invalid_argument(format!(
                    "id must be at least 1, got {id}"
                )));
            }
            if let Some(entity) = store.get(id) {
                return Ok(entity);
            }
            store.catch_up().await?;
            store.get(id).ok_or_else(|| Status::entity_not_found(id))
        }
    }

    /// LookupEntities: the entity, or None when absent or id < 1.
    pub fn lookup(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<Option<Arc<Entity>>, Status>> + Send {
        let store = Arc::clone(&self.store);
        async move {
            if id < 1 {
                return Ok(None);
            }
            if let Some(entity) = store.get(id) {
                return Ok(Some(entity));
            }
            store.catch_up().await?;
            Ok(store.get(id))
        }
    }

    /// CreateEntity: validates, then stores under the next id. The entity is
    /// acknowledged once the returned [`Creation`] completes (at once in
    /// memory, after the sync with a journal); a failure to make it durable
    /// converts into UNAVAILABLE with `Status::from`.
    ///
    /// Fail point `entities::create` (feature `failpoints`): lets tests make
    /// a create panic, to prove the handlers around it survive.
    pub fn create(&self, name: String, description: String) -> Result<Creation, Status> {
        fail::fail_point!("entities::create");
        let new = NewEntity::validate(name, description)?;
        Ok(self.store.create(new))
    }

    /// ListEntities: id order from max(start_id, 1), at most `limit` (0 = all).
    pub fn list(
        &self,
        start_id: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Arc<Entity>>, Status>> + Send {
        let store = Arc::clone(&self.store);
        let limit = limit as usize;
        async move {
            let listed = store.list(start_id, limit);
            if limit != 0 && listed.len() == limit {
                return Ok(listed);
            }
            // The list reached the end of the index.
            let catch_up = store.catch_up();
            if catch_up.is_done() {
                return Ok(listed);
            }
            catch_up.await?;
            Ok(store.list(start_id, limit))
        }
    }
}
