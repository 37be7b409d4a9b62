//! The entity: the one domain type every layer names (the store, the
//! journal, the gRPC and REST sides, the CLI), and its conversions to and
//! from the wire message.

use crate::proto::entities as wire;

/// A stored entity. Ids start at 1, increase by 1 and are never reused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    pub id: i64,
    pub name: String,
    pub description: String,
}

impl From<&Entity> for wire::Entity {
    fn from(entity: &Entity) -> Self {
        let mut wire = wire::Entity::new();
        wire.id = entity.id;
        wire.name = entity.name.clone();
        wire.description = entity.description.clone();
        wire
    }
}

impl From<wire::Entity> for Entity {
    fn from(wire: wire::Entity) -> Self {
        Self {
            id: wire.id,
            name: wire.name,
            description: wire.description,
        }
    }
}
