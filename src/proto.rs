//! Generated protobuf messages and grpcio stubs (see build.rs).

#![allow(clippy::all, missing_docs, unused_qualifications)]

include!(concat!(env!("OUT_DIR"), "/proto/mod.rs"));

/// Every file descriptor of the served .proto files, dependencies included,
/// as a serialized `FileDescriptorSet`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
