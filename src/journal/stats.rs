//! The journal's own metrics: its size, its records and the latency of each
//! sync. The writer keeps them from its start, before the service's registry
//! exists; [`JournalStats::collectors`] hands them to that registry.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, IntGauge};

/// Sync latency buckets, in seconds: 50 µs (a sync of a page cache hit) to 5 s.
const SYNC_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// Figures of the journal for `/metrics`, kept by the writer.
pub struct JournalStats {
    bytes: IntGauge,
    records: IntGauge,
    /// Its `_count` is the number of syncs.
    sync_seconds: Histogram,
}

impl JournalStats {
    pub(super) fn new(bytes: u64, records: u64) -> Self {
        let gauge = |name: &str, help: &str, value: u64| {
            let gauge = IntGauge::new(name, help).expect("valid metric");
            gauge.set(value as i64);
            gauge
        };
        Self {
            bytes: gauge(
                "journal_bytes",
                "Size of the journal file, in bytes.",
                bytes,
            ),
            records: gauge(
                "journal_records",
                "Records (entities) in the journal.",
                records,
            ),
            sync_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "journal_sync_seconds",
                    "Latency of each journal sync (fdatasync); one sync per batch of creates.",
                )
                .buckets(SYNC_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
        }
    }

    /// The metrics, to register with the service's registry.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.bytes.clone()),
            Box::new(self.records.clone()),
            Box::new(self.sync_seconds.clone()),
        ]
    }

    /// The journal's size in bytes (its file header and whole batches).
    pub fn bytes(&self) -> u64 {
        self.bytes.get() as u64
    }

    /// Records in the journal (= entities stored).
    pub fn records(&self) -> u64 {
        self.records.get() as u64
    }

    pub(super) fn set(&self, bytes: u64, records: i64) {
        self.bytes.set(bytes as i64);
        self.records.set(records);
    }

    pub(super) fn observe_sync(&self, elapsed: Duration) {
        self.sync_seconds.observe(elapsed.as_secs_f64());
    }
}
