//! The command line beyond `serve`: a gRPC client for every RPC (a small
//! grpcurl for this service), the seed's demo, and a gRPC load generator.

mod client;
mod demo;
mod load;
mod output;

pub use client::{run_client, ClientArgs};
pub use demo::{run_demo, DemoArgs};
pub use load::{run_load, LoadArgs};
pub use output::exit_code;

use grpcio::Channel;

use crate::grpc::client::ChannelThreads;

/// Default server address of the client and the demo.
pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";

/// Half-closes a client stream. The server may answer and finish the call
/// while the close is in flight; grpcio then reports `RpcFinished`, which is
/// not a failure: the call's real outcome comes from the receiving side.
async fn close_stream<M, S>(sink: &mut S) -> Result<(), grpcio::Error>
where
    S: futures_util::Sink<(M, grpcio::WriteFlags), Error = grpcio::Error> + Unpin,
{
    match futures_util::SinkExt::close(sink).await {
        Err(grpcio::Error::RpcFinished(_)) => Ok(()),
        other => other,
    }
}

/// A channel for one command-line run.
fn channel(addr: &str) -> Channel {
    crate::grpc::client::connect(addr, ChannelThreads::Own("grpc-cli"))
}
