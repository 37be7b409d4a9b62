//! What every test module uses, written once. A test starts the real
//! service and talks to it through real clients; it never waits a fixed
//! time, and every wait on the service, a socket or a child has a bound, so
//! a hang fails the test instead of blocking the run.
//!
//! - [`service`]: [`TestService`], the whole service in-process on port 0
//!   (`Config::ephemeral()` adjusted by a closure, 8 HTTP threads). It derefs
//!   to `Running` (`http_addr`, `grpc_addr`, `store()`, `metrics_text()`,
//!   `begin_stop()`) and stops on drop; `stop()`, `stop_within()` and
//!   `stop_in_background()` are for tests that are about stopping, or that
//!   must not wait for it; `try_start_with()` for start failures; `seed()`
//!   stores an entity directly.
//! - [`http`]: the one HTTP/1.1 client. `http::get`/`post`/`request` are
//!   one-shots; `http::Connection` is a keep-alive connection that sends
//!   requests or raw bytes, reads a response (Content-Length or chunked), a
//!   head alone (HEAD, `100 Continue`), every response until the server
//!   closes, and tells a response from a close (`None`) from silence (a
//!   failure, or `Answer::Silent` from `answer()`); it can half-close and
//!   check without blocking whether the server closed. `Response` has status,
//!   headers (case-insensitive lookup), body, `raw_head` and `json()`.
//!   `request_bytes`/`chunked_post` build raw requests; `get_within`,
//!   `exchange_one`, `exchange_until_close` cover hostile-input tests.
//! - [`grpc`]: the one gRPC client factory: `channel`/`channel_with`,
//!   `entity_client`, `health_client`, `reflection_v1*_client`,
//!   `separate_*` (own environment and connection), `call_options()` (5 s
//!   deadline), `metadata`/`bearer`, `header_str`, `rpc_status`,
//!   `status_code`, `expect_code`, request builders, `next_message`,
//!   `next_outcome`, `collect`, `half_close`, `create_many`; `raw_client`
//!   and `raw_method` send and receive messages as raw bytes.
//! - [`child`]: the one way to run the binary as a child process.
//!   `Binary::server(extra).env(..).nofile(n).fsize(bytes).serve()` runs
//!   the service on free ports and reads its announced addresses (`nofile`
//!   and `fsize` set RLIMIT_NOFILE and RLIMIT_FSIZE); `Binary::new(args)` or
//!   `Binary::client(addr, args)` with `.stdin(..)` then `.run()` gives a
//!   `Run` (exit code, stdout, stderr) bounded by a limit, or `.spawn()`
//!   gives a `ChildProcess` to read live lines from, `signal()`,
//!   `wait_with_timeout()` or `finish()`. Children are killed on drop; their
//!   stderr is captured (`stderr_tail()` for failure messages).
//! - [`wait`]: `wait_until(limit, condition)`, `assert_eventually(limit,
//!   condition, message)` and `wait_for_watchers(&service, n)`.
//! - [`metrics`]: `scrape(http_addr)` and `sample(text, name, labels)`: one
//!   series' value from the Prometheus text.
//! - [`net`]: `free_port()`, `closed_port()`, `SilentListener` (accepts and
//!   never answers), `raise_open_file_limit()`.
//! - [`lock`]: locks that survive a panic; `serial()` for tests that load the whole machine.
//!
//! Assertions about one area's contract (the REST error shape, the CLI's
//! output lines) stay in that area's module.

pub mod child;
pub mod grpc;
pub mod http;
pub mod lock;
pub mod metrics;
pub mod net;
pub mod prerequisites;
pub mod service;
pub mod wait;

pub use service::TestService;
