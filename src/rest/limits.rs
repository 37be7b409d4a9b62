//! The REST side's fixed limits, in one place: the server enforces them and
//! the OpenAPI document states them. (Limits an operator sets, the body size
//! and the body timeout, are flags: see [`crate::config`].)

/// Largest request head (request line and headers) answered normally;
/// larger ones get 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Default and largest `limit` for `GET /entities`.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
pub const MAX_LIST_LIMIT: u32 = 1000;

/// The most bytes of an unread body read and dropped to keep a connection.
pub const DRAIN_CAP: usize = 1 << 20;

/// The largest unread body whose drain buffer tiny_http may allocate (it
/// allocates the declared length when it drops a request).
pub const MAX_DRAIN_BYTES: usize = 64 << 20;
