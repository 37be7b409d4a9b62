//! Builds and runs the grpcio server: its own completion-queue threads,
//! bound before anything else starts so a bad address fails fast.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use grpcio::{ChannelBuilder, Server, ServerBuilder, ServerCredentials};

use super::local::{LocalChannels, LocalGate, LocalTransport};

/// A message size limit of none, as the C core spells it.
const UNLIMITED: i32 = -1;

/// Why the gRPC server could not start.
#[derive(Debug, thiserror::Error)]
pub enum GrpcServerError {
    #[error("cannot build the gRPC server: {0}")]
    Build(#[source] grpcio::Error),
    #[error("cannot bind the gRPC listener to {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A started gRPC server and the port it bound.
pub struct GrpcServer {
    /// Shared (weakly) with [`LocalChannels`], which adds channels to it.
    server: Arc<Mutex<Server>>,
    /// The completion-queue threads, shared with this process's own client.
    pub env: Arc<grpcio::Environment>,
    /// The address it listens on, with the bound port.
    pub addr: std::net::SocketAddr,
    /// Closed before the server shuts down (see [`LocalGate`]).
    local_gate: LocalGate,
}

/// Settings for the gRPC server.
pub struct GrpcServerOptions {
    pub addr: std::net::SocketAddr,
    pub completion_queues: usize,
    /// Largest request message accepted; larger ones fail RESOURCE_EXHAUSTED.
    /// Replies are not limited (see [`GrpcServer::start`]).
    pub max_message_bytes: usize,
    /// HTTP/2 keepalive ping interval and how long to wait for its answer.
    pub keepalive_time: Duration,
    pub keepalive_timeout: Duration,
}

impl GrpcServer {
    /// Binds and starts the server with these services.
    pub fn start(
        options: &GrpcServerOptions,
        services: Vec<grpcio::Service>,
    ) -> Result<Self, GrpcServerError> {
        let env = Arc::new(
            grpcio::EnvBuilder::new()
                .cq_count(options.completion_queues.max(1))
                .name_prefix("grpc-server")
                .build(),
        );
        // No SO_REUSEPORT: a second server on a taken port must fail to bind,
        // not silently share it.
        let max_message = i32::try_from(options.max_message_bytes).unwrap_or(i32::MAX);
        // Only what the server receives is limited. A reply is bounded by
        // what was accepted (an entity by its create request plus an id; a
        // CreateEntities reply by its stream's length), so a send limit
        // could only fail a reply whose create was already stored.
        let args = ChannelBuilder::new(env.clone())
            .reuse_port(false)
            .max_receive_message_len(max_message)
            .max_send_message_len(UNLIMITED)
            .keepalive_time(options.keepalive_time)
            .keepalive_timeout(options.keepalive_timeout)
            .build_args();
        let mut builder = ServerBuilder::new(env.clone()).channel_args(args);
        for service in services {
            builder = builder.register_service(service);
        }
        let mut server = builder.build().map_err(GrpcServerError::Build)?;
        let port = server
            .add_listening_port(options.addr.to_string(), ServerCredentials::insecure())
            .map_err(|error| GrpcServerError::Bind {
                addr: options.addr,
                source: why_bind_failed(options.addr, error),
            })?;
        server.start();
        let mut addr = options.addr;
        addr.set_port(port);
        Ok(Self {
            server: Arc::new(Mutex::new(server)),
            env,
            addr,
            local_gate: LocalGate::open(),
        })
    }

    /// Channels to this server over `transport`, on its completion queues.
    pub fn local_channels(&self, transport: LocalTransport) -> LocalChannels {
        LocalChannels::new(
            Arc::downgrade(&self.server),
            Arc::clone(&self.env),
            transport,
            self.local_gate.clone(),
        )
    }

    /// Stops accepting calls, lets running calls finish for up to `grace`,
    /// then cancels the rest.
    pub fn stop(self, grace: Duration) {
        self.local_gate.close();
        let shutdown = crate::sync::lock(&self.server).shutdown();
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let _ = futures_executor::block_on(shutdown);
            let _ = done_tx.send(());
        });
        if done_rx.recv_timeout(grace).is_err() {
            log::warn!("gRPC calls still running after {grace:?}; cancelling them");
            crate::sync::lock(&self.server).cancel_all_calls();
            let _ = done_rx.recv_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for GrpcServer {
    /// However the server ends (stopped, or dropped with its service), no
    /// local call starts after it.
    fn drop(&mut self) {
        self.local_gate.close();
    }
}

/// The C core reports a failed bind without its reason; binding the same
/// address once more with the standard library recovers it (address in use,
/// permission denied, no such address).
fn why_bind_failed(addr: std::net::SocketAddr, error: grpcio::Error) -> std::io::Error {
    match std::net::TcpListener::bind(addr) {
        Err(reason) => reason,
        Ok(_) => std::io::Error::other(error.to_string()),
    }
}
