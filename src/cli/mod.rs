//! The command line beyond `serve`: a gRPC client for every RPC (a small
//! grpcurl for this service), the seed's demo, and a gRPC load generator,
//! all calling through [`BlockingClient`].

mod client;
mod demo;
mod load;
mod output;

pub use client::{run_client, ClientArgs};
pub use demo::{run_demo, DemoArgs};
pub use load::{run_load, LoadArgs};
pub use output::exit_code;

use std::time::Duration;

use crate::grpc::client::{connect, ChannelThreads, MetadataError};
use crate::grpc::BlockingClient;

/// Default server address of the client and the demo.
pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";

/// A client for one command-line run, on a channel of its own whose thread
/// names start with `name_prefix`.
fn blocking_client(addr: &str, name_prefix: &'static str, deadline: Duration) -> BlockingClient {
    BlockingClient::new(connect(addr, ChannelThreads::Own(name_prefix)), deadline)
}

/// A metadata entry the command line cannot send, as a usage error naming its option.
fn usage_error(error: MetadataError) -> String {
    match error {
        MetadataError::Authorization(e) => format!("--token: {e}"),
        MetadataError::Entry { key, source } => format!("--header {key}: {source}"),
        other => other.to_string(),
    }
}
