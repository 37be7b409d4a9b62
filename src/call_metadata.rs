//! What a request carries to the backend that serves it, whichever protocol
//! that backend speaks: the request id and the caller's credentials.

/// Per-call details passed on to the backend (as gRPC metadata when the
/// backend is the gRPC client).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallMetadata<'a> {
    /// The request id (sent as `x-request-id`).
    pub request_id: Option<&'a str>,
    /// The caller's full `Authorization` value, e.g. `Bearer …` (the gRPC
    /// backend sends what [`crate::auth::forwarded`] makes of it as
    /// `authorization`).
    pub authorization: Option<&'a str>,
}
