//! rust-peer: entity-service's benchmark peer. The same service (the
//! entities.v1 gRPC contract, the REST routes bench.sh drives, an in-memory
//! store) written as a Rust user would without entity-service's design
//! constraints: tonic for gRPC and axum for REST, on one tokio runtime.
//!
//! Layout: `store` (the `Mutex<Vec<Entity>>` and the watch feed), `grpc`
//! (the six RPCs), `rest` (the routes and the two backends: the hop through
//! a tonic client to this process's own gRPC server, or the store directly).
//!
//! It prints `REST listening on http://HOST:PORT` and `gRPC listening on
//! HOST:PORT` once both listen, and stops on SIGTERM or SIGINT (exit 0).

mod grpc;
mod rest;
mod store;

mod proto {
    tonic::include_proto!("entities.v1");
}

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use clap::{Parser, ValueEnum};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};

use proto::entity_service_client::EntityServiceClient;
use proto::entity_service_server::EntityServiceServer;
use rest::Backend;
use store::Store;

/// How long each server gets to finish its requests once told to stop.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Parser)]
#[command(about = "entity-service's benchmark peer: tonic + axum on one tokio runtime")]
struct Args {
    /// REST listen address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    http_addr: SocketAddr,
    /// gRPC listen address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:50051")]
    grpc_addr: SocketAddr,
    /// What REST handlers call: this process's gRPC server (the hop) or the store.
    #[arg(long, value_enum, default_value_t = BackendKind::Grpc)]
    backend: BackendKind,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendKind {
    Grpc,
    Direct,
}

type Failure = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = Args::parse();
    let store = Arc::new(Store::new());

    let incoming = TcpIncoming::bind(args.grpc_addr)?.with_nodelay(Some(true));
    let grpc_addr = incoming.local_addr()?;
    let (stop_grpc, grpc_stop) = oneshot::channel::<()>();
    let service = EntityServiceServer::new(grpc::Service {
        store: Arc::clone(&store),
    });
    let mut grpc_server = tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async { grpc_stop.await.unwrap_or(()) }),
    );

    let backend = match args.backend {
        BackendKind::Grpc => {
            let channel = Endpoint::from_shared(format!("http://{grpc_addr}"))?
                .connect()
                .await?;
            Backend::Grpc(EntityServiceClient::new(channel))
        }
        BackendKind::Direct => Backend::Direct(store),
    };
    let listener = TcpListener::bind(args.http_addr).await?;
    let http_addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true); // the answer goes out now, not after the peer's ACK
    });
    let (stop_rest, rest_stop) = oneshot::channel::<()>();
    let rest = axum::serve(listener, rest::router(backend))
        .with_graceful_shutdown(async { rest_stop.await.unwrap_or(()) });
    let mut rest_server = tokio::spawn(async move { rest.await });

    let mut stdout = std::io::stdout();
    writeln!(stdout, "REST listening on http://{http_addr}")?;
    writeln!(stdout, "gRPC listening on {grpc_addr}")?;
    stdout.flush()?;

    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        ended = &mut grpc_server => return Err(format!("the gRPC server stopped on its own: {:?}", ended?).into()),
        ended = &mut rest_server => return Err(format!("the REST server stopped on its own: {:?}", ended?).into()),
    }
    // REST first: in hop mode its last requests still need the gRPC server.
    let _ = stop_rest.send(());
    let _ = tokio::time::timeout(STOP_GRACE, rest_server).await;
    let _ = stop_grpc.send(());
    let _ = tokio::time::timeout(STOP_GRACE, grpc_server).await;
    Ok(())
}
