//! Generated protobuf messages and grpcio stubs (see build.rs), plus the
//! conversions between the wire `Entity` and the store's.

#![allow(clippy::all, missing_docs, unused_qualifications)]

include!(concat!(env!("OUT_DIR"), "/proto/mod.rs"));

/// Every file descriptor of the served .proto files, dependencies included,
/// as a serialized `FileDescriptorSet`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

impl From<&crate::store::Entity> for entities::Entity {
    fn from(entity: &crate::store::Entity) -> Self {
        let mut wire = entities::Entity::new();
        wire.id = entity.id;
        wire.name = entity.name.clone();
        wire.description = entity.description.clone();
        wire
    }
}

impl From<entities::Entity> for crate::store::Entity {
    fn from(wire: entities::Entity) -> Self {
        Self {
            id: wire.id,
            name: wire.name,
            description: wire.description,
        }
    }
}
