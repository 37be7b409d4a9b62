//! Hardening: idle and hostile connections, descriptor exhaustion, slow
//! watchers, upstream loss. Every peer is on loopback, every loop is bounded
//! in count and every wait in time; the tests that load the whole machine
//! hold the [`serial`](crate::helpers::lock::serial) lock.
//!
//! - `idle`: idle keep-alive connections and the listener's accept timeout.
//! - `malformed`: hostile HTTP: garbage, oversized heads, bodies that are
//!   not JSON, broken framing.
//! - `request_ids`: request ids that try to inject headers.
//! - `descriptors`: the binary run out of file descriptors, and its recovery.
//! - `watchers`: watchers that do and do not read beside 10,000 creates.
//! - `upstream`: a gateway whose upstream goes away and comes back.

mod descriptors;
mod idle;
mod malformed;
mod request_ids;
mod upstream;
mod watchers;
