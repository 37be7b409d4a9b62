//! What every gRPC call shares: the token check, the request id, the echoed
//! metadata, the panic guard and the access log line.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use grpcio::{Metadata, MetadataBuilder, RpcContext, RpcStatusCode};

use crate::auth::Auth;
use crate::request_id;
use crate::status::Status;

/// Metadata key carrying the request id, in both directions.
pub const REQUEST_ID_KEY: &str = "x-request-id";
/// ASCII metadata echoed byte for byte in the initial metadata.
pub const ECHO_INITIAL_KEY: &str = "x-echo-initial";
/// Binary metadata echoed byte for byte in the initial metadata.
pub const ECHO_BIN_KEY: &str = "x-echo-bin";

/// One call in progress: identifies it in logs and times it.
pub struct CallScope {
    /// The client's `x-request-id` if safe, else a generated one.
    pub request_id: String,
    /// The RPC's method name, e.g. `GetEntity`.
    pub method: &'static str,
    started: Instant,
}

/// How a call began: its scope, the initial metadata to send back, and
/// whether it may proceed (the token check).
pub struct CallStart {
    pub scope: CallScope,
    pub headers: Metadata,
    pub admitted: Result<(), Status>,
}

impl CallScope {
    /// Reads the request metadata: request id, echo keys and, when `auth` is
    /// set, the bearer token.
    pub fn begin(ctx: &RpcContext, method: &'static str, auth: &Auth) -> CallStart {
        let request = ctx.request_headers();
        let mut client_request_id = None;
        let mut authorization = None;
        let mut echoes: Vec<(&str, &[u8])> = Vec::new();
        for (key, value) in request.iter() {
            match key {
                REQUEST_ID_KEY => client_request_id = Some(value),
                "authorization" => authorization = Some(value),
                ECHO_INITIAL_KEY | ECHO_BIN_KEY => echoes.push((key, value)),
                _ => {}
            }
        }
        let request_id = request_id::accept_or_generate(client_request_id);
        let mut headers = MetadataBuilder::with_capacity(1 + echoes.len());
        headers
            .add_str(REQUEST_ID_KEY, &request_id)
            .expect("request ids are printable ASCII");
        for (key, value) in echoes {
            // Values arrived as valid metadata, so they are valid to send back.
            let added = if key == ECHO_BIN_KEY {
                headers.add_bytes(key, value).map(|_| ())
            } else {
                std::str::from_utf8(value)
                    .map_err(|e| grpcio::Error::InvalidMetadata(e.to_string()))
                    .and_then(|text| headers.add_str(key, text).map(|_| ()))
            };
            if let Err(error) = added {
                log::debug!("not echoing {key}: {error}");
            }
        }
        let admitted = if auth.allows(authorization) {
            Ok(())
        } else {
            Err(Status::new(
                RpcStatusCode::UNAUTHENTICATED,
                "missing or invalid bearer token",
            ))
        };
        CallStart {
            scope: CallScope {
                request_id,
                method,
                started: Instant::now(),
            },
            headers: headers.build(),
            admitted,
        }
    }

    /// Logs the access line for the finished call.
    pub fn finish(&self, code: RpcStatusCode) {
        log::info!(
            target: "access",
            "grpc method={} code={} latency_us={} request_id={}",
            self.method,
            crate::status::code_name(code),
            self.started.elapsed().as_micros(),
            self.request_id
        );
    }
}

/// Runs handler logic, turning a panic into INTERNAL for this call alone, so
/// no completion-queue thread ever unwinds.
pub fn guarded<T>(work: impl FnOnce() -> Result<T, Status>) -> Result<T, Status> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            log::error!("handler panicked: {what}");
            Err(Status::internal("internal error"))
        }
    }
}
