//! entity-service: one entity store (`id`, `name`, `description`) served over
//! gRPC (grpcio) and a REST/JSON gateway (tiny_http), in one process.
//!
//! # Layout
//! - [`store`]: the shared `Mutex<Vec<…>>` of entities and the watch feed.
//! - [`backing`]: the one boundary between the store and what keeps its
//!   entities, and [`group_commit`], the writer thread both backings share:
//!   - [`journal`]: with `--data-dir`, the append-only journal the store is
//!     rebuilt from;
//!   - [`database`]: with `--database-url`, PostgreSQL shared by several
//!     instances, the store a replicated prefix of its table.
//! - [`validation`]: the one check of a create request.
//! - [`entities`]: the contract's operations on the store, errors as [`status::Status`].
//! - [`status`]: the error currency and the one gRPC→HTTP status table.
//! - [`auth`], [`request_id`], [`call_metadata`]: bearer tokens, request ids,
//!   and what a request passes on to its backend, for both protocols.
//! - [`readiness`]: whether the process serves, waits for its database or is
//!   stopping (gRPC health, `/healthz`, the stop sequence).
//! - [`grpc`]: the EntityService, health, reflection, their server, and the
//!   blocking client.
//! - [`metrics`]: the Prometheus metrics of one service instance.
//! - [`logging`]: access and event lines on stderr, one write per line
//!   (timestamps from `second_text`, as REST answers' `Date`).
//! - [`rest`]: the tiny_http worker pool, routes, and the backend trait
//!   (gRPC client or direct store).
//! - [`app`]: [`Service::start`] wires it all up and returns a [`Running`]
//!   service with its bound ports and a graceful `stop`.
//! - [`config`]: the `serve` flags.
//! - [`cli`]: the command-line gRPC client and the demo.
//!
//! The REST gateway reaches the store through a blocking gRPC call (by
//! default to this process's own server), so REST shows what the hop costs.

pub mod app;
pub mod auth;
pub mod backing;
pub mod call_metadata;
pub mod cli;
pub mod config;
mod containment;
pub mod database;
pub mod entities;
pub mod entity;
pub mod group_commit;
pub mod grpc;
pub mod journal;
pub mod logging;
pub mod metrics;
pub mod proto;
pub mod readiness;
pub mod request_id;
pub mod rest;
mod second_text;
pub mod status;
pub mod store;
mod sync;
pub mod validation;

pub use app::{Running, Service, StartError};
pub use config::{BackendKind, Config};
pub use grpc::LocalTransport;
