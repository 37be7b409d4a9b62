//! What every gRPC call shares: the token check, the request id, the echoed
//! metadata, the panic guard, the access log line and the call metrics.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{FutureExt, SinkExt, TryStreamExt};
use grpcio::{
    DuplexSink, Metadata, MetadataBuilder, RequestStream, RpcContext, RpcStatusCode,
    ServerStreamingSink, UnarySink, WriteFlags,
};

use super::decode::Decoded;
use super::method::Method;
use crate::auth::Auth;
use crate::metrics::Metrics;
use crate::request_id;
use crate::status::Status;

/// Metadata key carrying the request id, in both directions.
pub const REQUEST_ID_KEY: &str = "x-request-id";
/// ASCII metadata echoed byte for byte in the initial metadata.
pub const ECHO_INITIAL_KEY: &str = "x-echo-initial";
/// Binary metadata echoed byte for byte in the initial metadata.
pub const ECHO_BIN_KEY: &str = "x-echo-bin";

/// What a service applies to each of its calls: its token check (or none)
/// and where the call's metrics go.
#[derive(Clone)]
pub struct CallGate {
    pub auth: Auth,
    pub metrics: Arc<Metrics>,
}

/// One call in progress: identifies it in logs and times it.
pub struct CallScope {
    /// The client's `x-request-id` if safe, else a generated one.
    pub request_id: String,
    /// The RPC being served.
    pub method: &'static Method,
    metrics: Arc<Metrics>,
    started: Instant,
}

/// How a call began: its scope, the initial metadata to send back, and
/// whether it may proceed: the token check, then its request message.
pub struct CallStart<Req = ()> {
    pub scope: CallScope,
    pub headers: Metadata,
    /// The decoded request (`()` for methods whose requests are a stream).
    pub admitted: Result<Req, Status>,
}

impl CallGate {
    /// Reads the request metadata: request id, echo keys and, when a token
    /// is required, the bearer token; an admitted call proceeds with its
    /// request, or fails INVALID_ARGUMENT when that could not be decoded.
    pub fn begin<Req>(
        &self,
        ctx: &RpcContext,
        method: &'static Method,
        message: Decoded<Req>,
    ) -> CallStart<Req> {
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
        let admitted = if self.auth.allows(authorization) {
            message.map_err(Status::from)
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
                metrics: Arc::clone(&self.metrics),
                started: Instant::now(),
            },
            headers: headers.build(),
            admitted,
        }
    }
}

impl CallScope {
    /// Logs the access line and records the metrics of the finished call.
    pub fn finish(&self, code: RpcStatusCode) {
        let elapsed = self.started.elapsed();
        let code = crate::status::code_name(code);
        let method = self.method;
        self.metrics
            .observe_grpc(method.kind, method.service, method.name, code, elapsed);
        log::info!(
            target: "access",
            "grpc method={}/{} code={code} latency_us={} request_id={}",
            method.service,
            method.name,
            elapsed.as_micros(),
            self.request_id
        );
    }
}

/// Runs handler logic, turning a panic into INTERNAL for this call alone, so
/// no completion-queue thread ever unwinds.
pub fn guarded<T>(work: impl FnOnce() -> Result<T, Status>) -> Result<T, Status> {
    crate::containment::contain(work).unwrap_or_else(|_| Err(Status::internal("internal error")))
}

/// Runs a spawned call future, logging instead of unwinding if it panics.
pub fn spawn_guarded(
    ctx: &RpcContext,
    method: &'static Method,
    call: impl std::future::Future<Output = ()> + Send + 'static,
) {
    ctx.spawn(AssertUnwindSafe(call).catch_unwind().map(move |outcome| {
        if outcome.is_err() {
            log::error!(
                "{}: call future panicked; the call was cancelled",
                method.name
            );
        }
    }));
}

/// Logs and counts a unary call, then sends its result (counted first, so
/// a client that scrapes metrics right after its answer sees its call).
pub fn reply_unary<T: Send + 'static>(
    ctx: &RpcContext,
    scope: CallScope,
    sink: UnarySink<T>,
    result: Result<T, Status>,
) {
    reply_unary_when(ctx, scope, sink, std::future::ready(result));
}

/// [`reply_unary`] for a result that is not there yet (a create waiting for
/// the journal's sync): the call waits as a task, so the completion-queue
/// thread serves other calls meanwhile.
pub fn reply_unary_when<T: Send + 'static>(
    ctx: &RpcContext,
    scope: CallScope,
    sink: UnarySink<T>,
    result: impl std::future::Future<Output = Result<T, Status>> + Send + 'static,
) {
    let method = scope.method;
    spawn_guarded(ctx, method, async move {
        let result = result.await;
        scope.finish(match &result {
            Ok(_) => RpcStatusCode::OK,
            Err(status) => status.code,
        });
        let sent = match result {
            Ok(reply) => sink.success(reply).await,
            Err(status) => sink.fail(status.into()).await,
        };
        if let Err(error) = sent {
            log::debug!("{}: reply not delivered: {error}", method.name);
        }
    });
}

/// Logs and counts a server-streaming call that fails before its first
/// message, then sends its status.
pub fn fail_server_stream<T: Send + 'static>(
    ctx: &RpcContext,
    scope: CallScope,
    sink: ServerStreamingSink<T>,
    status: Status,
) {
    spawn_guarded(ctx, scope.method, async move {
        scope.finish(status.code);
        let _ = sink.fail(status.into()).await;
    });
}

/// Serves a bidirectional stream: answers each request as it arrives, in
/// order, each flushed at once (so ping-pong clients work). An error from
/// `answer`, or a request that cannot be decoded, ends the call with that
/// status. Returns the call's final code.
pub async fn answer_each<Req, Resp>(
    mut requests: RequestStream<Decoded<Req>>,
    mut sink: DuplexSink<Resp>,
    mut answer: impl FnMut(Req) -> Result<Resp, Status>,
) -> RpcStatusCode {
    let mut index = 0usize;
    loop {
        let request = match requests.try_next().await {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(_) => return RpcStatusCode::CANCELLED,
        };
        let answered = request
            .map_err(|error| at_index("message", index, error.into()))
            .and_then(&mut answer);
        index += 1;
        match answered {
            Ok(response) => {
                if sink.send((response, WriteFlags::default())).await.is_err() {
                    return RpcStatusCode::CANCELLED;
                }
            }
            Err(status) => {
                let code = status.code;
                let _ = sink.fail(status.into()).await;
                return code;
            }
        }
    }
    match sink.close().await {
        Ok(()) => RpcStatusCode::OK,
        Err(_) => RpcStatusCode::CANCELLED,
    }
}

/// `status` for the `what` at `index` of a request stream, e.g.
/// "entity at index 2: name must not be empty".
pub fn at_index(what: &str, index: usize, status: Status) -> Status {
    let message = format!("{what} at index {index}: {}", status.message);
    Status::new(status.code, message)
}
