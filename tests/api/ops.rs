//! Operability through real clients: what monitoring, load balancers and
//! generic gRPC tools see of the service, one subject per module.
//!
//! - `health`: gRPC Health Check and Watch, and REST `/healthz`.
//! - `metrics`: `/metrics`, its counters, gauges and content type.
//! - `reflection`: gRPC server reflection, v1 and v1alpha.

mod health;
mod metrics;
mod reflection;
