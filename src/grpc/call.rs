//! What every gRPC call shares, written once per call kind: the token
//! check, the request id, the echoed metadata, the panic guard, the access
//! log line and the call metrics. A handler passes its own logic to
//! [`CallGate::unary`] (or the streaming ones) and does nothing else.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use grpcio::{
    ClientStreamingSink, DuplexSink, Metadata, MetadataBuilder, RequestStream, RpcContext,
    RpcStatusCode, ServerStreamingSink, UnarySink,
};

use super::decode::Decoded;
use super::method::Method;
use super::stream::answer_each;
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
struct CallScope {
    /// The client's `x-request-id` if safe, else a generated one.
    request_id: String,
    /// The RPC being served.
    method: &'static Method,
    metrics: Arc<Metrics>,
    started: Instant,
}

/// How a call began: its scope, the initial metadata to send back, and
/// whether it may proceed: the token check, then its request message.
struct CallStart<Req> {
    scope: CallScope,
    headers: Metadata,
    /// The decoded request (`()` for methods whose requests are a stream).
    admitted: Result<Req, Status>,
}

impl CallGate {
    /// Reads the request metadata: request id, echo keys and, when a token
    /// is required, the bearer token; an admitted call proceeds with its
    /// request, or fails INVALID_ARGUMENT when that could not be decoded.
    fn begin<Req>(
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
    fn finish(&self, code: RpcStatusCode) {
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

impl CallGate {
    /// Serves a unary call: `logic` turns the admitted request into the
    /// reply; its error or panic fails the call.
    pub fn unary<Req, Resp: Send + 'static>(
        &self,
        ctx: &RpcContext,
        method: &'static Method,
        request: Decoded<Req>,
        sink: UnarySink<Resp>,
        logic: impl FnOnce(Req) -> Result<Resp, Status>,
    ) {
        self.unary_when(ctx, method, request, sink, |request| {
            logic(request).map(|reply| std::future::ready(Ok(reply)))
        });
    }

    /// A unary call whose reply is not there at once (a create waiting for
    /// the journal's sync): `logic` starts the work and returns the future
    /// of the reply, which the call awaits as a task, so the
    /// completion-queue thread serves other calls meanwhile.
    pub fn unary_when<Req, Resp, Reply>(
        &self,
        ctx: &RpcContext,
        method: &'static Method,
        request: Decoded<Req>,
        mut sink: UnarySink<Resp>,
        logic: impl FnOnce(Req) -> Result<Reply, Status>,
    ) where
        Resp: Send + 'static,
        Reply: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        let start = self.begin(ctx, method, request);
        sink.set_headers(start.headers);
        let started = start
            .admitted
            .and_then(|request| guarded(|| logic(request)));
        let scope = start.scope;
        spawn_guarded(ctx, method, async move {
            let result = match started {
                Ok(reply) => reply.await,
                Err(status) => Err(status),
            };
            // Counted before it is sent, so a client that scrapes metrics
            // right after its answer sees its call.
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

    /// Serves a server-streaming call: `open` turns the admitted request into
    /// what serves the stream, a task that takes the sink and returns the
    /// call's final code; its error or panic fails the call before the first
    /// message.
    pub fn server_stream<Req, Resp, Serve, Served>(
        &self,
        ctx: &RpcContext,
        method: &'static Method,
        request: Decoded<Req>,
        mut sink: ServerStreamingSink<Resp>,
        open: impl FnOnce(Req) -> Result<Serve, Status>,
    ) where
        Resp: Send + 'static,
        Serve: FnOnce(ServerStreamingSink<Resp>) -> Served,
        Served: Future<Output = RpcStatusCode> + Send + 'static,
    {
        let start = self.begin(ctx, method, request);
        sink.set_headers(start.headers);
        let opened = start.admitted.and_then(|request| guarded(|| open(request)));
        let scope = start.scope;
        match opened {
            Ok(serve) => {
                let served = serve(sink);
                spawn_guarded(ctx, method, async move { scope.finish(served.await) });
            }
            Err(status) => spawn_guarded(ctx, method, async move {
                scope.finish(status.code);
                let _ = sink.fail(status.into()).await;
            }),
        }
    }

    /// Serves a client-streaming call: `logic` reads the admitted request
    /// stream and returns the reply or why the call ends.
    pub fn client_stream<Req, Logic>(
        &self,
        ctx: &RpcContext,
        method: &'static Method,
        mut requests: RequestStream<Decoded<Req>>,
        mut sink: ClientStreamingSink<Logic::Reply>,
        logic: Logic,
    ) where
        Req: Send + 'static,
        Logic: ReadRequests<Req>,
    {
        let start = self.begin(ctx, method, Ok(()));
        sink.set_headers(start.headers);
        let admitted = start.admitted;
        let scope = start.scope;
        spawn_guarded(ctx, method, async move {
            let result = match admitted {
                Ok(()) => logic.read(&mut requests).await,
                Err(status) => Err(Some(status)),
            };
            match result {
                Ok(response) => {
                    // grpcio ends the request stream of a cancelled call as
                    // if the client had half-closed: only the reply tells
                    // whether the client is still there, so the call is
                    // counted once the reply is delivered.
                    let code = match sink.success(response).await {
                        Ok(()) => RpcStatusCode::OK,
                        Err(_) => RpcStatusCode::CANCELLED,
                    };
                    scope.finish(code);
                }
                Err(Some(status)) => {
                    scope.finish(status.code);
                    let _ = sink.fail(status.into()).await;
                }
                // The client went away: nobody to answer.
                Err(None) => scope.finish(RpcStatusCode::CANCELLED),
            }
            // Only now: grpcio cancels a call whose request stream is
            // dropped unfinished, which would replace the status just sent.
            drop(requests);
        });
    }

    /// Serves a bidirectional call: `answer` turns each admitted request
    /// into the future of its response (see [`answer_each`]); its error or
    /// panic ends the call.
    pub fn bidi_stream<Req, Resp, Answer>(
        &self,
        ctx: &RpcContext,
        method: &'static Method,
        requests: RequestStream<Decoded<Req>>,
        mut sink: DuplexSink<Resp>,
        mut answer: impl FnMut(Req) -> Result<Answer, Status> + Send + 'static,
    ) where
        Req: Send + 'static,
        Resp: Send + 'static,
        Answer: Future<Output = Result<Resp, Status>> + Send,
    {
        let start = self.begin(ctx, method, Ok(()));
        sink.set_headers(start.headers);
        let admitted = start.admitted;
        let scope = start.scope;
        spawn_guarded(ctx, method, async move {
            let code = match admitted {
                Ok(()) => answer_each(requests, sink, |request| guarded(|| answer(request))).await,
                Err(status) => {
                    let code = status.code;
                    let _ = sink.fail(status.into()).await;
                    code
                }
            };
            scope.finish(code);
        });
    }
}

/// The logic of a client-streaming call. It borrows the request stream, so
/// the call wrapper keeps the stream until the call's status is sent.
pub trait ReadRequests<Req>: Send + 'static {
    type Reply: Send + 'static;

    /// Reads the requests and returns the reply; `Err(Some(status))` ends
    /// the call with that status, `Err(None)` means the client went away.
    fn read(
        self,
        requests: &mut RequestStream<Decoded<Req>>,
    ) -> impl Future<Output = Result<Self::Reply, Option<Status>>> + Send;
}

/// Runs handler logic, turning a panic into INTERNAL for this call alone, so
/// no completion-queue thread ever unwinds.
pub fn guarded<T>(work: impl FnOnce() -> Result<T, Status>) -> Result<T, Status> {
    crate::containment::contain(work).unwrap_or_else(|_| Err(Status::internal("internal error")))
}

/// Runs a spawned call future, logging instead of unwinding if it panics.
fn spawn_guarded(
    ctx: &RpcContext,
    method: &'static Method,
    call: impl Future<Output = ()> + Send + 'static,
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
