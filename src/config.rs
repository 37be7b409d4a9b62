//! `serve` settings: each a command-line flag and an environment variable.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Where REST handlers get entities from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// Through the blocking gRPC client (the gRPC hop).
    Grpc,
    /// Straight from the shared store.
    Direct,
}

/// Everything `serve` needs.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// REST listen address (port 0 = any free port).
    #[arg(long, env = "ENTITY_HTTP_ADDR", default_value = "127.0.0.1:8000")]
    pub http_addr: String,
    /// gRPC listen address (port 0 = any free port).
    #[arg(long, env = "ENTITY_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: String,
    /// How REST handlers reach the store.
    #[arg(long, env = "ENTITY_BACKEND", value_enum, default_value_t = BackendKind::Grpc)]
    pub backend: BackendKind,
    /// gRPC server the REST gateway calls (default: this process's own).
    #[arg(long, env = "ENTITY_GRPC_UPSTREAM", value_name = "HOST:PORT")]
    pub grpc_upstream: Option<String>,
    /// REST worker threads (default: 8 per core, at least 16).
    #[arg(long, env = "ENTITY_HTTP_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub http_threads: Option<u16>,
    /// Deadline of each gRPC call the REST gateway makes, in milliseconds.
    #[arg(long, env = "ENTITY_DEADLINE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub deadline_ms: u64,
    /// Bearer token required on every entity call (unset = open).
    #[arg(long, env = "ENTITY_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Largest accepted REST request body, in bytes.
    #[arg(long, env = "ENTITY_MAX_BODY_BYTES", default_value_t = 65536)]
    pub max_body_bytes: usize,
    /// Idle keep-alive REST connections are closed after this many milliseconds.
    #[arg(long, env = "ENTITY_HTTP_IDLE_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_idle_timeout_ms: u64,
    /// gRPC completion queues (threads) of the server, shared with this
    /// process's own client (default 1: on small machines more queues only
    /// add thread switches).
    #[arg(long, env = "ENTITY_GRPC_COMPLETION_QUEUES", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub grpc_completion_queues: Option<u16>,
    /// Largest gRPC message accepted, in bytes (larger: RESOURCE_EXHAUSTED).
    #[arg(long, env = "ENTITY_GRPC_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub grpc_max_message_bytes: usize,
    /// Interval of HTTP/2 keepalive pings on gRPC connections, in milliseconds.
    #[arg(long, env = "ENTITY_GRPC_KEEPALIVE_TIME_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub grpc_keepalive_time_ms: u64,
    /// How long a keepalive ping may go unanswered before the connection is closed, in milliseconds.
    #[arg(long, env = "ENTITY_GRPC_KEEPALIVE_TIMEOUT_MS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub grpc_keepalive_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_addr: "127.0.0.1:8000".into(),
            grpc_addr: "127.0.0.1:50051".into(),
            backend: BackendKind::Grpc,
            grpc_upstream: None,
            http_threads: None,
            deadline_ms: 1000,
            auth_token: None,
            max_body_bytes: 65536,
            http_idle_timeout_ms: 30_000,
            grpc_completion_queues: None,
            grpc_max_message_bytes: 4 * 1024 * 1024,
            grpc_keepalive_time_ms: 60_000,
            grpc_keepalive_timeout_ms: 20_000,
        }
    }
}

impl Config {
    /// Both listeners on 127.0.0.1 with any free port: for tests and tools.
    pub fn ephemeral() -> Self {
        Self {
            http_addr: "127.0.0.1:0".into(),
            grpc_addr: "127.0.0.1:0".into(),
            ..Self::default()
        }
    }

    /// The per-call deadline of the REST gateway's gRPC calls.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    /// The REST idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.http_idle_timeout_ms)
    }

    /// REST worker threads.
    pub fn http_threads(&self) -> usize {
        self.http_threads
            .map(usize::from)
            .unwrap_or_else(|| (cores() * 8).max(16))
    }

    /// gRPC server completion queues.
    pub fn grpc_completion_queues(&self) -> usize {
        self.grpc_completion_queues
            .map(usize::from)
            .unwrap_or_else(cores)
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resolves `host:port` to its first socket address.
pub fn resolve(addr: &str) -> std::io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr} resolves to no address")))
}
