//! The gRPC side: the EntityService implementation, the server that hosts it,
//! and the blocking client the REST gateway calls it through.

pub mod call;
pub mod client;
pub mod server;
pub mod service;
mod thread_sink;
mod watch;

pub use client::{BlockingClient, CallMetadata};
pub use server::{GrpcServer, GrpcServerOptions};
pub use service::EntityService;
