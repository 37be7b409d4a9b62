//! `serve` settings: each a command-line flag and an environment variable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::grpc::LocalTransport;

/// Where REST handlers get entities from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// Through the blocking gRPC client (the gRPC hop).
    Grpc,
    /// Straight from the shared store.
    Direct,
}

/// The default of each `serve` flag, written once: clap's `--help` and
/// [`Config::default`] both read these.
pub mod defaults {
    /// `--http-addr`.
    pub const HTTP_ADDR: &str = "127.0.0.1:8000";
    /// `--grpc-addr`.
    pub const GRPC_ADDR: &str = "127.0.0.1:50051";
    /// `--deadline-ms`.
    pub const DEADLINE_MS: u64 = 1000;
    /// `--max-body-bytes`.
    pub const MAX_BODY_BYTES: usize = 64 * 1024;
    /// `--http-idle-timeout-ms`.
    pub const HTTP_IDLE_TIMEOUT_MS: u64 = 30_000;
    /// `--http-body-timeout-ms`.
    pub const HTTP_BODY_TIMEOUT_MS: u64 = 10_000;
    /// `--grpc-completion-queues`: the server and this process's own client
    /// share one completion-queue thread, which on small machines beats more.
    pub const GRPC_COMPLETION_QUEUES: u16 = 1;
    /// `--grpc-max-message-bytes`.
    pub const GRPC_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
    /// `--grpc-keepalive-time-ms`.
    pub const GRPC_KEEPALIVE_TIME_MS: u64 = 60_000;
    /// `--grpc-keepalive-timeout-ms`.
    pub const GRPC_KEEPALIVE_TIMEOUT_MS: u64 = 20_000;
    /// REST workers when `--http-threads` is not given, as (per core, at
    /// least), by what a worker waits on: nothing (direct: the store answers
    /// at once), this process's own gRPC server (tens of microseconds a
    /// call), or a remote upstream (a network round trip a call). Workers
    /// beyond the requests in flight only add thread switches.
    pub const HTTP_THREADS_DIRECT: (usize, usize) = (1, 2);
    /// See [`HTTP_THREADS_DIRECT`].
    pub const HTTP_THREADS_HOP: (usize, usize) = (2, 4);
    /// See [`HTTP_THREADS_DIRECT`].
    pub const HTTP_THREADS_UPSTREAM: (usize, usize) = (8, 16);
    /// With `--data-dir` or `--database-url`, whatever the backend: a
    /// create's worker waits for a journal sync or a commit, and only
    /// creates in flight together share one.
    pub const HTTP_THREADS_DURABLE: (usize, usize) = (8, 16);
}

/// Everything `serve` needs.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// REST listen address (port 0 = any free port).
    #[arg(long, env = "ENTITY_HTTP_ADDR", default_value = defaults::HTTP_ADDR)]
    pub http_addr: String,
    /// gRPC listen address (port 0 = any free port).
    #[arg(long, env = "ENTITY_GRPC_ADDR", default_value = defaults::GRPC_ADDR)]
    pub grpc_addr: String,
    /// How REST handlers reach the store.
    #[arg(long, env = "ENTITY_BACKEND", value_enum, default_value_t = BackendKind::Grpc)]
    pub backend: BackendKind,
    /// gRPC server the REST gateway calls (default: this process's own).
    #[arg(long, env = "ENTITY_GRPC_UPSTREAM", value_name = "HOST:PORT")]
    pub grpc_upstream: Option<String>,
    /// REST worker threads (default, per core: 1 with --backend direct (at
    /// least 2), 2 through this process's gRPC server (at least 4), 8 through
    /// --grpc-upstream or with --data-dir or --database-url (at least 16)).
    #[arg(long, env = "ENTITY_HTTP_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub http_threads: Option<u16>,
    /// Deadline of each gRPC call the REST gateway makes, in milliseconds.
    #[arg(long, env = "ENTITY_DEADLINE_MS", default_value_t = defaults::DEADLINE_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub deadline_ms: u64,
    /// Bearer token required on every entity call (unset = open; empty = an error).
    #[arg(long, env = "ENTITY_AUTH_TOKEN", hide_env_values = true, value_parser = non_empty_token)]
    pub auth_token: Option<String>,
    /// Largest accepted REST request body, in bytes.
    #[arg(long, env = "ENTITY_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Idle keep-alive REST connections are closed after this many milliseconds.
    #[arg(long, env = "ENTITY_HTTP_IDLE_TIMEOUT_MS", default_value_t = defaults::HTTP_IDLE_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_idle_timeout_ms: u64,
    /// A REST request body must arrive within this many milliseconds (else 408).
    #[arg(long, env = "ENTITY_HTTP_BODY_TIMEOUT_MS", default_value_t = defaults::HTTP_BODY_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_body_timeout_ms: u64,
    /// gRPC completion queues (threads) of the server, shared with this
    /// process's own client (on small machines more queues only add thread
    /// switches).
    #[arg(long, env = "ENTITY_GRPC_COMPLETION_QUEUES", default_value_t = defaults::GRPC_COMPLETION_QUEUES, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub grpc_completion_queues: u16,
    /// How the REST gateway reaches this process's own gRPC server:
    /// in-process (the C core's in-process transport: no HTTP/2, no socket)
    /// or HTTP/2 over a Unix socket pair.
    #[arg(long, env = "ENTITY_GRPC_LOCAL_TRANSPORT", value_enum, default_value_t = LocalTransport::InProcess)]
    pub grpc_local_transport: LocalTransport,
    /// Largest gRPC request message accepted, in bytes (larger:
    /// RESOURCE_EXHAUSTED, nothing stored); replies are not limited.
    #[arg(long, env = "ENTITY_GRPC_MAX_MESSAGE_BYTES", default_value_t = defaults::GRPC_MAX_MESSAGE_BYTES)]
    pub grpc_max_message_bytes: usize,
    /// Interval of HTTP/2 keepalive pings on gRPC connections, in milliseconds.
    #[arg(long, env = "ENTITY_GRPC_KEEPALIVE_TIME_MS", default_value_t = defaults::GRPC_KEEPALIVE_TIME_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub grpc_keepalive_time_ms: u64,
    /// How long a keepalive ping may go unanswered before the connection is closed, in milliseconds.
    #[arg(long, env = "ENTITY_GRPC_KEEPALIVE_TIMEOUT_MS", default_value_t = defaults::GRPC_KEEPALIVE_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub grpc_keepalive_timeout_ms: u64,
    /// Keep the entities in a journal in this directory (created if missing),
    /// synced before each create is answered; unset = memory only.
    #[arg(long, env = "ENTITY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep the entities in this PostgreSQL database
    /// (postgres://user@host:port/db), shared by every instance given the
    /// same one; conflicts with --data-dir.
    #[arg(
        long,
        env = "ENTITY_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true,
        conflicts_with = "data_dir"
    )]
    pub database_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_addr: defaults::HTTP_ADDR.into(),
            grpc_addr: defaults::GRPC_ADDR.into(),
            backend: BackendKind::Grpc,
            grpc_upstream: None,
            http_threads: None,
            deadline_ms: defaults::DEADLINE_MS,
            auth_token: None,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            http_idle_timeout_ms: defaults::HTTP_IDLE_TIMEOUT_MS,
            http_body_timeout_ms: defaults::HTTP_BODY_TIMEOUT_MS,
            grpc_completion_queues: defaults::GRPC_COMPLETION_QUEUES,
            grpc_local_transport: LocalTransport::InProcess,
            grpc_max_message_bytes: defaults::GRPC_MAX_MESSAGE_BYTES,
            grpc_keepalive_time_ms: defaults::GRPC_KEEPALIVE_TIME_MS,
            grpc_keepalive_timeout_ms: defaults::GRPC_KEEPALIVE_TIMEOUT_MS,
            data_dir: None,
            database_url: None,
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

    /// How long a REST request body may take to arrive.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.http_body_timeout_ms)
    }

    /// REST worker threads: `--http-threads`, else a count that fits the
    /// backend and the machine's cores.
    pub fn http_threads(&self) -> usize {
        self.http_threads.map(usize::from).unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let (per_core, at_least) = match (self.backend, &self.grpc_upstream) {
                _ if self.data_dir.is_some() || self.database_url.is_some() => {
                    defaults::HTTP_THREADS_DURABLE
                }
                (BackendKind::Direct, _) => defaults::HTTP_THREADS_DIRECT,
                (BackendKind::Grpc, None) => defaults::HTTP_THREADS_HOP,
                (BackendKind::Grpc, Some(_)) => defaults::HTTP_THREADS_UPSTREAM,
            };
            (cores * per_core).max(at_least)
        })
    }
}

/// Why an empty token is refused (at parse time and at start).
pub const EMPTY_TOKEN: &str =
    "the auth token is empty; give a token, or leave it unset to serve without one";

/// `--auth-token` / `ENTITY_AUTH_TOKEN`: an empty value would read as "no
/// token", serving everything openly to an operator who meant to lock it.
fn non_empty_token(value: &str) -> Result<String, &'static str> {
    if value.is_empty() {
        Err(EMPTY_TOKEN)
    } else {
        Ok(value.to_string())
    }
}

/// Where this machine reaches a listener bound to `addr`: loopback when it is
/// bound to the unspecified address.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
    };
    SocketAddr::new(ip, addr.port())
}

/// Resolves `host:port` to its first socket address.
pub fn resolve(addr: &str) -> std::io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr} resolves to no address")))
}
