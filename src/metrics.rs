//! Prometheus metrics of one service instance, served at `GET /metrics`.
//! Each instance has its own registry, so several services in one process
//! (as in tests) never mix their figures. Label values are bounded: routes
//! are patterns, methods outside the standard set count as `OTHER`.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::store::Store;

/// Latency buckets, in seconds: 50 µs to 5 s.
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// The gRPC call kinds, as `grpc_type` label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcKind {
    Unary,
    ClientStream,
    ServerStream,
    BidiStream,
}

impl RpcKind {
    fn label(self) -> &'static str {
        match self {
            RpcKind::Unary => "unary",
            RpcKind::ClientStream => "client_stream",
            RpcKind::ServerStream => "server_stream",
            RpcKind::BidiStream => "bidi_stream",
        }
    }
}

/// The counters, histograms and gauges of one service.
pub struct Metrics {
    /// The store this process serves, read for the gauges at each render.
    store: Arc<Store>,
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    grpc_handled: IntCounterVec,
    grpc_handling: HistogramVec,
    entities: IntGauge,
    watchers: IntGauge,
}

impl Metrics {
    /// A fresh registry with every metric at zero, its gauges describing `store`.
    pub fn new(store: Arc<Store>) -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "REST requests answered."),
            &["method", "route", "code"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "REST request latency.")
                .buckets(BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric");
        let grpc_handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "gRPC calls completed, by status code.",
            ),
            &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
        )
        .expect("valid metric");
        let grpc_handling = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "gRPC call latency until completion.",
            )
            .buckets(BUCKETS.to_vec()),
            &["grpc_type", "grpc_service", "grpc_method"],
        )
        .expect("valid metric");
        let entities = IntGauge::new("entities", "Entities stored.").expect("valid metric");
        let watchers =
            IntGauge::new("entity_watchers", "Open WatchEntities streams.").expect("valid metric");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(grpc_handled.clone()),
            Box::new(grpc_handling.clone()),
            Box::new(entities.clone()),
            Box::new(watchers.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        // The backing keeps its own figures (its threads start first).
        for collector in store.backing_collectors() {
            registry.register(collector).expect("unique metric names");
        }
        Self {
            store,
            registry,
            http_requests,
            http_duration,
            grpc_handled,
            grpc_handling,
            entities,
            watchers,
        }
    }

    /// Records one answered REST request.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = bounded_method(method);
        let code = status.to_string();
        self.http_requests
            .with_label_values(&[method, route, &code])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// Records one completed gRPC call.
    pub fn observe_grpc(
        &self,
        kind: RpcKind,
        service: &str,
        method: &str,
        code: &str,
        elapsed: Duration,
    ) {
        self.grpc_handled
            .with_label_values(&[kind.label(), service, method, code])
            .inc();
        self.grpc_handling
            .with_label_values(&[kind.label(), service, method])
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the gauges read from the store now.
    pub fn render(&self) -> String {
        self.entities.set(self.store.len() as i64);
        self.watchers.set(self.store.watcher_count() as i64);
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            log::error!("cannot encode metrics: {error}");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// Standard methods keep their name; anything else is `OTHER`.
fn bounded_method(method: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .copied()
        .find(|m| *m == method)
        .unwrap_or("OTHER")
}
