//! `grpc.health.v1.Health`: Check and Watch, open without a token.
//!
//! The service reports SERVING for "" and `entities.v1.EntityService` until a
//! graceful stop begins, then NOT_SERVING; an unknown service name is
//! NOT_FOUND for Check and SERVICE_UNKNOWN for Watch. Watch streams run on a
//! thread each (see [`ThreadSink`]) and send every change.

use std::sync::Arc;

use crossbeam_channel::select;
use grpcio::{RpcContext, RpcStatusCode, ServerStreamingSink, ServiceBuilder, UnarySink};

use super::call::{fail_server_stream, guarded, reply_unary, CallGate};
use super::decode::{method, Decoded};
use super::method::methods;
use super::thread_sink::ThreadSink;
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::{HealthCheckRequest, HealthCheckResponse};
use crate::readiness::Readiness;
use crate::status::Status;

methods! {
    SERVICE_NAME = "grpc.health.v1.Health";
    CHECK = "Check", Unary;
    WATCH = "Watch", ServerStream;
}

/// The status of a service name, or None when the name is unknown.
fn status(readiness: &Readiness, service: &str) -> Option<ServingStatus> {
    if !is_known(service) {
        return None;
    }
    Some(if readiness.is_serving() {
        ServingStatus::SERVING
    } else {
        ServingStatus::NOT_SERVING
    })
}

fn is_known(service: &str) -> bool {
    service.is_empty() || service == super::service::SERVICE_NAME
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    let mut response = HealthCheckResponse::new();
    response.status = status.into();
    response
}

/// The Health service; open to all callers.
#[derive(Clone)]
pub struct HealthService {
    state: Arc<Readiness>,
    gate: CallGate,
}

impl HealthService {
    /// A service reporting `state`; `gate` must not require a token.
    pub fn new(state: Arc<Readiness>, gate: CallGate) -> Self {
        Self { state, gate }
    }

    /// The grpcio service definition to register with a server; requests
    /// are decoded by the handlers ([`super::decode`]).
    pub fn into_grpc_service(self) -> grpcio::Service {
        let (mut check, mut watch) = (self.clone(), self);
        ServiceBuilder::new()
            .add_unary_handler(&method(&CHECK), move |ctx, req, sink| {
                check.check(ctx, req, sink)
            })
            .add_server_streaming_handler(&method(&WATCH), move |ctx, req, sink| {
                watch.watch(ctx, req, sink)
            })
            .build()
    }

    fn check(
        &mut self,
        ctx: RpcContext,
        req: Decoded<HealthCheckRequest>,
        mut sink: UnarySink<HealthCheckResponse>,
    ) {
        let start = self.gate.begin(&ctx, &CHECK, req);
        sink.set_headers(start.headers);
        let result = start.admitted.and_then(|req| {
            guarded(|| {
                status(&self.state, &req.service)
                    .map(response)
                    .ok_or_else(|| {
                        Status::new(
                            RpcStatusCode::NOT_FOUND,
                            format!("unknown service {:?}", req.service),
                        )
                    })
            })
        });
        reply_unary(&ctx, start.scope, sink, result);
    }

    fn watch(
        &mut self,
        ctx: RpcContext,
        req: Decoded<HealthCheckRequest>,
        mut sink: ServerStreamingSink<HealthCheckResponse>,
    ) {
        let start = self.gate.begin(&ctx, &WATCH, req);
        sink.set_headers(start.headers);
        let scope = start.scope;
        let req = match start.admitted {
            Ok(req) => req,
            Err(status) => return fail_server_stream(&ctx, scope, sink, status),
        };
        let state = Arc::clone(&self.state);
        let spawned = std::thread::Builder::new()
            .name("health-watch".into())
            .spawn(move || {
                let code = watch_status(&state, &req.service, ThreadSink::new(sink));
                scope.finish(code);
            });
        if let Err(error) = spawned {
            log::error!("cannot start a health watch thread: {error}");
        }
    }
}

/// Sends the current status, then each change, until the call or the service ends.
fn watch_status(
    state: &Readiness,
    service: &str,
    mut sink: ThreadSink<HealthCheckResponse>,
) -> RpcStatusCode {
    let Some(changes) = state.subscribe().map(|s| s.changes) else {
        return sink.close();
    };
    let mut last = None;
    loop {
        let now = status(state, service).unwrap_or(ServingStatus::SERVICE_UNKNOWN);
        if last != Some(now) {
            if sink.send(response(now)).is_err() {
                return RpcStatusCode::CANCELLED;
            }
            last = Some(now);
        }
        if sink.check_call().is_err() {
            return RpcStatusCode::CANCELLED;
        }
        select! {
            recv(changes) -> change => if change.is_err() {
                return sink.close(); // the service is going away
            },
            recv(sink.woken()) -> _ => {}
        }
    }
}
