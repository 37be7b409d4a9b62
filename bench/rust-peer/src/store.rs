//! The in-memory store: entities in a `Mutex<Vec<Entity>>` (id k at index
//! k − 1) and a broadcast channel that tells watchers of each new one.

use std::sync::Mutex;

use tokio::sync::broadcast;
use tonic::Status;

use crate::proto::Entity;

/// Longest accepted name and description, in characters.
const MAX_NAME_CHARS: usize = 256;
const MAX_DESCRIPTION_CHARS: usize = 4096;

/// New entities a slow watcher may fall behind by before its watch ends.
const WATCH_BUFFER: usize = 1024;

pub struct Store {
    entities: Mutex<Vec<Entity>>,
    /// Every created entity, sent while the lock is held so watchers see ids in order.
    created: broadcast::Sender<Entity>,
}

impl Store {
    pub fn new() -> Self {
        Self {
            entities: Mutex::new(Vec::new()),
            created: broadcast::channel(WATCH_BUFFER).0,
        }
    }

    pub fn get(&self, id: i64) -> Result<Entity, Status> {
        let entities = self.lock();
        usize::try_from(id)
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|index| entities.get(index))
            .cloned()
            .ok_or_else(|| Status::not_found(format!("entity {id} not found")))
    }

    /// Validates, then stores under the next id.
    pub fn create(&self, name: String, description: String) -> Result<Entity, Status> {
        validate(&name, &description)?;
        let mut entities = self.lock();
        let entity = Entity {
            id: entities.len() as i64 + 1,
            name,
            description,
        };
        entities.push(entity.clone());
        let _ = self.created.send(entity.clone()); // no watcher: nothing to tell
        Ok(entity)
    }

    /// Entities in id order from max(start_id, 1); `limit` 0 means all.
    pub fn list(&self, start_id: i64, limit: u32) -> Vec<Entity> {
        let entities = self.lock();
        let from = usize::try_from(start_id.max(1) - 1).unwrap_or(usize::MAX);
        let limit = if limit == 0 {
            usize::MAX
        } else {
            limit as usize
        };
        entities.iter().skip(from).take(limit).cloned().collect()
    }

    /// The entities with id > after_id, and a receiver of those created afterwards.
    pub fn watch(&self, after_id: i64) -> (Vec<Entity>, broadcast::Receiver<Entity>) {
        let entities = self.lock();
        let receiver = self.created.subscribe();
        let from = usize::try_from(after_id.max(0)).unwrap_or(usize::MAX);
        (entities.iter().skip(from).cloned().collect(), receiver)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entity>> {
        // A panic while holding the lock leaves the vector whole: push is the only write.
        self.entities
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The contract's rules: a name that is not blank, at most 256 characters;
/// a description of at most 4096.
fn validate(name: &str, description: &str) -> Result<(), Status> {
    if name.trim().is_empty() {
        return Err(Status::invalid_argument("name must not be empty"));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(Status::invalid_argument(format!(
            "name is {chars} characters long; at most {MAX_NAME_CHARS} allowed"
        )));
    }
    let chars = description.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        return Err(Status::invalid_argument(format!(
            "description is {chars} characters long; at most {MAX_DESCRIPTION_CHARS} allowed"
        )));
    }
    Ok(())
}
