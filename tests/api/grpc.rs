//! The gRPC contract through the real grpcio client (`entities.v1.EntityService`).
