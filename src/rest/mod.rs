//! The REST side: a tiny_http worker pool whose handlers reach entities
//! through a [`Backend`], the gRPC client or the store itself; the API's
//! OpenAPI document and its Swagger UI page.

mod acceptor;
pub mod backend;
pub mod bodies;
mod closing;
pub mod docs;
pub mod framing;
mod heartbeat;
pub mod limits;
pub mod openapi;
pub mod query;
pub mod reply;
mod request_body;
pub mod routes;
pub mod server;
mod socket;

pub use backend::{Backend, DirectBackend, GrpcBackend};
pub use routes::Gateway;
pub use server::{RestServer, RestServerOptions};
