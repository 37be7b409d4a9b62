//! What every test module uses, written once. A test starts the real
//! service and talks to it through real clients; it never waits a fixed
//! time, and every wait on the service, a socket or a child has a bound, so
//! a hang fails the test instead of blocking the run.
//!
//! Each module's own doc says what is in it; in short:
//! - [`service`]: the whole service in-process on port 0 ([`TestService`]).
//! - [`http`]: the one HTTP/1.1 client, down to raw bytes on a socket.
//! - [`grpc`]: the one gRPC client factory, request builders, call outcomes.
//! - [`child`]: the one way to run the binary as a child process, and the
//!   files and directories it is given.
//! - [`wait`]: bounded polling for a condition.
//! - [`metrics`]: one series' value from the Prometheus text.
//! - [`net`]: loopback ports and peers: free, closed, silent.
//! - [`background`]: a thread beside the test, stopped and joined on drop.
//! - [`lock`]: locks that survive a panic, and the serial lock of the tests
//!   that load the machine.
//! - [`prerequisites`]: what a test needs beyond the service (a tool, the
//!   `failpoints` feature), and the loud line when it is missing.
//! - [`postgres`]: the PostgreSQL server of the `--database-url` tests, a
//!   database per test, and a relay to cut one instance off from it.
//!
//! Assertions about one area's contract (the REST error shape, the CLI's
//! output lines) stay in that area's module.

pub mod background;
pub mod child;
pub mod grpc;
pub mod http;
pub mod lock;
pub mod metrics;
pub mod net;
pub mod postgres;
pub mod prerequisites;
pub mod service;
pub mod wait;

pub use service::TestService;
