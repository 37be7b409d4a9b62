//! The service's error currency: a gRPC status code and a message. Both
//! protocols speak it: the gRPC server sends it as is, and the REST gateway
//! maps its code to an HTTP status with [`http_status`], the one table.

use grpcio::{RpcStatus, RpcStatusCode};

use crate::backing::CommitError;
use crate::store::WatchError;
use crate::validation::ValidationError;

/// A failed operation: what went wrong, as a gRPC status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: RpcStatusCode,
    pub message: String,
}

impl Status {
    /// A status with this code and message.
    pub fn new(code: RpcStatusCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// INVALID_ARGUMENT with this message.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(RpcStatusCode::INVALID_ARGUMENT, message)
    }

    /// NOT_FOUND for an entity id, worded as the contract says.
    pub fn entity_not_found(id: i64) -> Self {
        Self::new(RpcStatusCode::NOT_FOUND, format!("entity {id} not found"))
    }

    /// INTERNAL with this message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(RpcStatusCode::INTERNAL, message)
    }

    /// The status code's name, e.g. `NOT_FOUND`.
    pub fn code_name(&self) -> &'static str {
        code_name(self.code)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code_name(), self.message)
    }
}

impl std::error::Error for Status {}

impl From<ValidationError> for Status {
    fn from(error: ValidationError) -> Self {
        Self::invalid_argument(error.to_string())
    }
}

impl From<WatchError> for Status {
    fn from(error: WatchError) -> Self {
        let code = match error {
            WatchError::TooManyWatchers => RpcStatusCode::RESOURCE_EXHAUSTED,
            WatchError::Closed => RpcStatusCode::UNAVAILABLE,
        };
        Self::new(code, error.to_string())
    }
}

impl From<CommitError> for Status {
    /// Not durable, so not acknowledged: UNAVAILABLE, worth a retry.
    fn from(error: CommitError) -> Self {
        Self::new(RpcStatusCode::UNAVAILABLE, error.to_string())
    }
}

impl From<Status> for RpcStatus {
    fn from(status: Status) -> Self {
        RpcStatus::with_message(status.code, status.message)
    }
}

impl From<grpcio::Error> for Status {
    /// A client-side call error: the server's status, or UNAVAILABLE / INTERNAL
    /// for failures that never reached a status.
    fn from(error: grpcio::Error) -> Self {
        match error {
            // A send on a call that already ended carries the call's status.
            grpcio::Error::RpcFailure(status) | grpcio::Error::RpcFinished(Some(status)) => {
                Self::new(status.code(), status.message().to_string())
            }
            grpcio::Error::RemoteStopped | grpcio::Error::QueueShutdown => {
                Self::new(RpcStatusCode::UNAVAILABLE, error.to_string())
            }
            other => Self::internal(other.to_string()),
        }
    }
}

/// The HTTP status for a gRPC status code: the googleapis / grpc-gateway v2 table.
pub fn http_status(code: RpcStatusCode) -> u16 {
    match code {
        RpcStatusCode::OK => 200,
        RpcStatusCode::CANCELLED => 499,
        RpcStatusCode::INVALID_ARGUMENT => 400,
        RpcStatusCode::DEADLINE_EXCEEDED => 504,
        RpcStatusCode::NOT_FOUND => 404,
        RpcStatusCode::ALREADY_EXISTS => 409,
        RpcStatusCode::PERMISSION_DENIED => 403,
        RpcStatusCode::UNAUTHENTICATED => 401,
        RpcStatusCode::RESOURCE_EXHAUSTED => 429,
        RpcStatusCode::FAILED_PRECONDITION => 400,
        RpcStatusCode::ABORTED => 409,
        RpcStatusCode::OUT_OF_RANGE => 400,
        RpcStatusCode::UNIMPLEMENTED => 501,
        RpcStatusCode::UNAVAILABLE => 503,
        // UNKNOWN, INTERNAL, DATA_LOSS and anything unrecognised.
        _ => 500,
    }
}

/// The canonical name of a gRPC status code, e.g. `DEADLINE_EXCEEDED`.
pub fn code_name(code: RpcStatusCode) -> &'static str {
    match code {
        RpcStatusCode::OK => "OK",
        RpcStatusCode::CANCELLED => "CANCELLED",
        RpcStatusCode::UNKNOWN => "UNKNOWN",
        RpcStatusCode::INVALID_ARGUMENT => "INVALID_ARGUMENT",
        RpcStatusCode::DEADLINE_EXCEEDED => "DEADLINE_EXCEEDED",
        RpcStatusCode::NOT_FOUND => "NOT_FOUND",
        RpcStatusCode::ALREADY_EXISTS => "ALREADY_EXISTS",
        RpcStatusCode::PERMISSION_DENIED => "PERMISSION_DENIED",
        RpcStatusCode::RESOURCE_EXHAUSTED => "RESOURCE_EXHAUSTED",
        RpcStatusCode::FAILED_PRECONDITION => "FAILED_PRECONDITION",
        RpcStatusCode::ABORTED => "ABORTED",
        RpcStatusCode::OUT_OF_RANGE => "OUT_OF_RANGE",
        RpcStatusCode::UNIMPLEMENTED => "UNIMPLEMENTED",
        RpcStatusCode::INTERNAL => "INTERNAL",
        RpcStatusCode::UNAVAILABLE => "UNAVAILABLE",
        RpcStatusCode::DATA_LOSS => "DATA_LOSS",
        RpcStatusCode::UNAUTHENTICATED => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_code_as_grpc_gateway_does() {
        let table = [
            (RpcStatusCode::CANCELLED, 499),
            (RpcStatusCode::UNKNOWN, 500),
            (RpcStatusCode::INVALID_ARGUMENT, 400),
            (RpcStatusCode::DEADLINE_EXCEEDED, 504),
            (RpcStatusCode::NOT_FOUND, 404),
            (RpcStatusCode::ALREADY_EXISTS, 409),
            (RpcStatusCode::PERMISSION_DENIED, 403),
            (RpcStatusCode::UNAUTHENTICATED, 401),
            (RpcStatusCode::RESOURCE_EXHAUSTED, 429),
            (RpcStatusCode::FAILED_PRECONDITION, 400),
            (RpcStatusCode::ABORTED, 409),
            (RpcStatusCode::OUT_OF_RANGE, 400),
            (RpcStatusCode::UNIMPLEMENTED, 501),
            (RpcStatusCode::INTERNAL, 500),
            (RpcStatusCode::UNAVAILABLE, 503),
            (RpcStatusCode::DATA_LOSS, 500),
        ];
        for (code, http) in table {
            assert_eq!(http_status(code), http, "{}", code_name(code));
        }
    }
}
