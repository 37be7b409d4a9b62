//! The gRPC side: the EntityService implementation, health and reflection,
//! the server that hosts them, and the blocking client the REST gateway and
//! the command line call through.

pub mod call;
pub mod client;
mod decode;
pub mod health;
pub mod local;
pub mod method;
pub mod reflection;
pub mod server;
pub mod service;
mod stream;
mod watch;
mod wire;

pub use client::BlockingClient;
pub use health::HealthService;
pub use local::{LocalChannels, LocalTransport};
pub use reflection::{DescriptorIndex, ReflectionService};
pub use server::{GrpcServer, GrpcServerError, GrpcServerOptions};
pub use service::EntityService;
