//! `grpc.health.v1.Health`: Check and Watch, open without a token.
//!
//! The service reports SERVING for "" and `entities.v1.EntityService` until a
//! graceful stop begins, then NOT_SERVING; an unknown service name is
//! NOT_FOUND for Check and SERVICE_UNKNOWN for Watch. Watch streams run on a
//! thread each (see [`ThreadSink`]) and send every change.

use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_channel::{select, Receiver, Sender, TrySendError};
use grpcio::{RpcContext, RpcStatusCode, ServerStreamingSink, UnarySink};

use super::call::{guarded, reply_unary, CallGate, Method};
use super::thread_sink::ThreadSink;
use crate::metrics::RpcKind;
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::{HealthCheckRequest, HealthCheckResponse};
use crate::proto::health_grpc;
use crate::status::Status;

/// The health service's full name.
pub const SERVICE_NAME: &str = "grpc.health.v1.Health";

static CHECK: Method = Method {
    service: SERVICE_NAME,
    name: "Check",
    kind: RpcKind::Unary,
};
static WATCH: Method = Method {
    service: SERVICE_NAME,
    name: "Watch",
    kind: RpcKind::ServerStream,
};

/// The serving status this process reports, shared by the gRPC service,
/// `GET /healthz` (direct backend) and the stop sequence.
#[derive(Default)]
pub struct HealthState {
    inner: Mutex<StateInner>,
}

#[derive(Default)]
struct StateInner {
    stopping: bool,
    closed: bool,
    watchers: Vec<Sender<()>>,
}

impl HealthState {
    fn lock(&self) -> MutexGuard<'_, StateInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The status of a service name, or None when the name is unknown.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        if !is_known(service) {
            return None;
        }
        Some(if self.lock().stopping {
            ServingStatus::NOT_SERVING
        } else {
            ServingStatus::SERVING
        })
    }

    /// Whether the service as a whole is serving.
    pub fn is_serving(&self) -> bool {
        !self.lock().stopping
    }

    /// A graceful stop began: report NOT_SERVING and tell the watchers.
    pub fn begin_stop(&self) {
        let mut inner = self.lock();
        inner.stopping = true;
        // A full channel already holds a pending signal; only drop the gone.
        inner
            .watchers
            .retain(|watcher| !matches!(watcher.try_send(()), Err(TrySendError::Disconnected(_))));
    }

    /// The service is going away: end every Watch stream.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.watchers.clear();
    }

    /// A channel that signals each status change; None once closed.
    fn subscribe(&self) -> Option<Receiver<()>> {
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        // Drop subscribers whose stream ended (a full channel is a live one).
        inner
            .watchers
            .retain(|w| !matches!(w.try_send(()), Err(TrySendError::Disconnected(_))));
        inner.watchers.push(tx);
        Some(rx)
    }
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
    state: Arc<HealthState>,
    gate: CallGate,
}

impl HealthService {
    /// A service reporting `state`; `gate` must not require a token.
    pub fn new(state: Arc<HealthState>, gate: CallGate) -> Self {
        Self { state, gate }
    }

    /// The grpcio service definition to register with a server.
    pub fn into_grpc_service(self) -> grpcio::Service {
        health_grpc::create_health(self)
    }
}

impl health_grpc::Health for HealthService {
    fn check(
        &mut self,
        ctx: RpcContext,
        req: HealthCheckRequest,
        mut sink: UnarySink<HealthCheckResponse>,
    ) {
        let start = self.gate.begin(&ctx, &CHECK);
        sink.set_headers(start.headers);
        let result = start.admitted.and_then(|()| {
            guarded(|| {
                self.state
                    .status(&req.service)
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
        req: HealthCheckRequest,
        mut sink: ServerStreamingSink<HealthCheckResponse>,
    ) {
        let start = self.gate.begin(&ctx, &WATCH);
        sink.set_headers(start.headers);
        let scope = start.scope;
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
    state: &HealthState,
    service: &str,
    mut sink: ThreadSink<HealthCheckResponse>,
) -> RpcStatusCode {
    let Some(changes) = state.subscribe() else {
        return sink.close();
    };
    let mut last = None;
    loop {
        let now = state
            .status(service)
            .unwrap_or(ServingStatus::SERVICE_UNKNOWN);
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
