//! `grpc.health.v1.Health`: Check and Watch, open without a token.
//!
//! The service reports SERVING for "" and `entities.v1.EntityService` until a
//! graceful stop begins, then NOT_SERVING; an unknown service name is
//! NOT_FOUND for Check and SERVICE_UNKNOWN for Watch. A Watch stream is a
//! task on the completion queue, like WatchEntities: it sends every change,
//! woken by the readiness subscription or by the call's end (cancel,
//! deadline), and never holds a thread.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crossbeam_channel::TryRecvError;
use futures_util::Stream;
use grpcio::{
    RpcContext, RpcStatusCode, ServerStreamingSink, ServiceBuilder, UnarySink, WriteFlags,
};

use super::call::CallGate;
use super::decode::{method, Decoded};
use super::method::methods;
use super::stream::{close_stream, send_then_close};
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::{HealthCheckRequest, HealthCheckResponse};
use crate::readiness::{Readiness, Subscription};
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
        sink: UnarySink<HealthCheckResponse>,
    ) {
        self.gate.unary(&ctx, &CHECK, req, sink, |req| {
            status(&self.state, &req.service)
                .map(response)
                .ok_or_else(|| {
                    Status::new(
                        RpcStatusCode::NOT_FOUND,
                        format!("unknown service {:?}", req.service),
                    )
                })
        });
    }

    fn watch(
        &mut self,
        ctx: RpcContext,
        req: Decoded<HealthCheckRequest>,
        sink: ServerStreamingSink<HealthCheckResponse>,
    ) {
        self.gate.server_stream(&ctx, &WATCH, req, sink, |req| {
            let state = Arc::clone(&self.state);
            Ok(|sink| watch_status(state, req.service, sink))
        });
    }
}

/// Sends the current status, then each change, until the call or the
/// service ends; returns the call's final code.
async fn watch_status(
    state: Arc<Readiness>,
    service: String,
    sink: ServerStreamingSink<HealthCheckResponse>,
) -> RpcStatusCode {
    let Some(subscription) = state.subscribe() else {
        return close_stream(sink).await;
    };
    let mut changes = StatusChanges {
        state,
        service,
        subscription,
        last: None,
    };
    // The changes end when the service is going away.
    send_then_close(sink, &mut changes).await
}

/// A service's serving status as an async stream: the current one first,
/// then each change; ends when the process closes its readiness.
struct StatusChanges {
    state: Arc<Readiness>,
    service: String,
    subscription: Subscription,
    last: Option<ServingStatus>,
}

impl StatusChanges {
    /// The status now, as a message if it differs from the last one sent.
    fn changed(&mut self) -> Option<Message> {
        let now = status(&self.state, &self.service).unwrap_or(ServingStatus::SERVICE_UNKNOWN);
        if self.last == Some(now) {
            return None;
        }
        self.last = Some(now);
        Some(Ok((response(now), WriteFlags::default())))
    }
}

type Message = grpcio::Result<(HealthCheckResponse, WriteFlags)>;

impl Stream for StatusChanges {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        if self.last.is_none() {
            return Poll::Ready(self.changed());
        }
        // Register before looking, so a change signalled in between is not missed.
        self.subscription.waker.register(cx.waker());
        loop {
            match self.subscription.changes.try_recv() {
                Ok(()) => {
                    if let Some(message) = self.changed() {
                        return Poll::Ready(Some(message));
                    }
                }
                Err(TryRecvError::Empty) => return Poll::Pending,
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
            }
        }
    }
}
