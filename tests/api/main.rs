//! The integration tests, as one test binary.
//!
//! Every test binary links the whole gRPC C core, so one binary is linked
//! once instead of once per area. Each area is a module; what they share
//! lives once in [`helpers`].
//!
//! - `helpers`: the service in-process, the HTTP and gRPC clients, child processes, waits.
//! - `cli`: `entity-service client …` and `demo` as subprocesses.
//! - `database`: `--database-url`: instances sharing one PostgreSQL database,
//!   outages, restarts and crashes, the schema.
//! - `edge`: hostile clients at the REST edge: framing, upgrades, slow bodies,
//!   stops with requests sent, forged log lines, an empty token, huge lengths.
//! - `front`: the nginx front (`deploy/front.sh`) before the binary: what
//!   tiny_http cannot be fixed from outside never reaches the service.
//! - `grpc`: the gRPC contract through the grpcio client.
//! - `hardening`: idle and hostile connections, descriptor exhaustion, slow watchers.
//! - `journal`: `--data-dir`: restarts, crashes, torn tails, corruption, disk errors.
//! - `lifecycle`: start-up, bind failures, signals and graceful stops.
//! - `openapi`: /openapi.json against the router, and the /docs page.
//! - `ops`: health, /healthz, /metrics, reflection.
//! - `rest`: the REST/JSON contract.
//! - `third_party`: schemathesis, openapi-spec-validator, a real browser on
//!   /docs and `buf curl`, where `.ci/run` installed them.

mod helpers;

mod cli;
mod database;
mod edge;
mod front;
mod grpc;
mod hardening;
mod journal;
mod lifecycle;
mod openapi;
mod ops;
mod rest;
mod third_party;
