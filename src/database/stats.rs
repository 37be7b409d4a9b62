//! The database's figures for `/metrics`: commits and their latency,
//! entities per commit, how far this instance's index is behind the table,
//! catch-up queries, listener reconnects and errors by kind.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use postgres::error::SqlState;
use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

/// Commit latency buckets, in seconds: 100 µs to 5 s.
const COMMIT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Entities-per-commit buckets.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// What went wrong with the database, as the `kind` label of
/// `database_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A connection attempt failed.
    Connect,
    /// A connection broke (server gone, restarted, network).
    ConnectionLost,
    /// A statement ran past the statement timeout.
    Timeout,
    /// The connection broke during COMMIT: the outcome is unknown.
    CommitOutcomeUnknown,
    /// The server refused a statement (or its rows could not be read).
    Statement,
}

impl ErrorKind {
    const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::ConnectionLost,
        ErrorKind::Timeout,
        ErrorKind::CommitOutcomeUnknown,
        ErrorKind::Statement,
    ];

    fn label(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::ConnectionLost => "connection_lost",
            ErrorKind::Timeout => "timeout",
            ErrorKind::CommitOutcomeUnknown => "commit_outcome_unknown",
            ErrorKind::Statement => "statement",
        }
    }

    /// The kind of a failed statement.
    pub fn of(error: &postgres::Error) -> Self {
        match error.code() {
            Some(&SqlState::QUERY_CANCELED) => ErrorKind::Timeout,
            Some(_) if !error.is_closed() => ErrorKind::Statement,
            _ => ErrorKind::ConnectionLost,
        }
    }
}

/// What a failed statement or connection says, for an answer or a log line:
/// the server's own message when it sent one (the crate's `Display` says
/// only "db error" then).
pub fn reason(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    }
}

/// The database's metrics, kept by its threads.
pub struct DatabaseStats {
    /// Its `_count` is the number of commits.
    commit_seconds: Histogram,
    entities_per_commit: Histogram,
    lag: IntGauge,
    catch_up_queries: IntCounter,
    listener_reconnects: IntCounter,
    errors: IntCounterVec,
    /// The highest id known to be committed (from notifications and reads).
    committed_last_id: AtomicI64,
}

impl DatabaseStats {
    pub fn new() -> Self {
        let errors = IntCounterVec::new(
            Opts::new("database_errors_total", "Database errors, by kind."),
            &["kind"],
        )
        .expect("valid metric");
        for kind in ErrorKind::ALL {
            errors.with_label_values(&[kind.label()]);
        }
        Self {
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "database_commit_seconds",
                    "Latency of each commit of a batch of creates (one transaction).",
                )
                .buckets(COMMIT_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            entities_per_commit: Histogram::with_opts(
                HistogramOpts::new(
                    "database_entities_per_commit",
                    "Entities created by each commit.",
                )
                .buckets(BATCH_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            lag: IntGauge::new(
                "database_replication_lag_ids",
                "Entities committed in the database and not yet in this instance's index.",
            )
            .expect("valid metric"),
            catch_up_queries: IntCounter::new(
                "database_catch_up_queries_total",
                "Queries that read committed entities into this instance's index.",
            )
            .expect("valid metric"),
            listener_reconnects: IntCounter::new(
                "database_listener_reconnects_total",
                "Times the LISTEN connection was made again after it broke.",
            )
            .expect("valid metric"),
            errors,
            committed_last_id: AtomicI64::new(0),
        }
    }

    /// The metrics, to register with the service's registry.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.commit_seconds.clone()),
            Box::new(self.entities_per_commit.clone()),
            Box::new(self.lag.clone()),
            Box::new(self.catch_up_queries.clone()),
            Box::new(self.listener_reconnects.clone()),
            Box::new(self.errors.clone()),
        ]
    }

    pub fn committed(&self, entities: usize, elapsed: Duration, last_id: i64) {
        self.commit_seconds.observe(elapsed.as_secs_f64());
        self.entities_per_commit.observe(entities as f64);
        self.saw_committed(last_id);
    }

    /// Some process committed entities up to `last_id`.
    pub fn saw_committed(&self, last_id: i64) {
        self.committed_last_id.fetch_max(last_id, Ordering::Relaxed);
    }

    /// The index now holds `len` entities.
    pub fn indexed(&self, len: i64) {
        let behind = self.committed_last_id.load(Ordering::Relaxed) - len;
        self.lag.set(behind.max(0));
    }

    pub fn catch_up_query(&self) {
        self.catch_up_queries.inc();
    }

    pub fn listener_reconnected(&self) {
        self.listener_reconnects.inc();
    }

    pub fn error(&self, kind: ErrorKind) {
        self.errors.with_label_values(&[kind.label()]).inc();
    }
}

impl Default for DatabaseStats {
    fn default() -> Self {
        Self::new()
    }
}
