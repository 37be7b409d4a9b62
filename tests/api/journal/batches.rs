//! Journals with a chosen batch layout, written by the service itself: the
//! writer is held at its sync while the next batch's creates queue, so each
//! group of names becomes exactly one batch (one write, one sync).

use std::time::Duration;

use entity_service::validation::NewEntity;

use tempfile::TempDir;

use super::{in_process, journal_path, start_in, FailPoint};
use crate::helpers::metrics::sample;
use crate::helpers::wait::assert_eventually;

/// How long the writer may take to write a batch: a hang bound.
const WRITE_LIMIT: Duration = Duration::from_secs(10);

/// Writes one batch per group of (name, description) into the journal in
/// `dir`, in order, ids from 1 on, then stops the service gracefully. The
/// first group holds one entity: the writer takes the first create alone.
/// Names must be unique and occur nowhere else in the journal.
pub fn write_batches(dir: &TempDir, groups: &[&[(&str, &str)]]) {
    assert!(
        groups.first().is_some_and(|g| g.len() == 1),
        "the first batch holds one entity"
    );
    let _one_at_a_time = in_process();
    let service = start_in(dir);
    let held = FailPoint("journal::sync");
    fail::cfg(held.0, "pause").expect("fail point set");
    let mut pending = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        for (name, description) in group.iter() {
            let new = NewEntity::validate(name.to_string(), description.to_string())
                .unwrap_or_else(|error| panic!("{name:?} is invalid: {error}"));
            pending.push(service.store().create(new));
        }
        if index > 0 {
            // Lets the held sync of the batch before go on: the writer then
            // takes this whole group, writes it and holds at its sync.
            fail::cfg(held.0, "pause").expect("fail point set");
        }
        let (last, _) = group.last().expect("a group is not empty");
        wait_for_written(dir, last);
    }
    drop(held);
    for creation in pending {
        creation.wait().expect("create acknowledged");
    }
    let syncs = sample(&service.metrics_text(), "journal_sync_seconds_count", &[]);
    assert_eq!(syncs, Some(groups.len() as f64), "one sync per batch");
    service.stop();
}

/// Waits until the journal file holds `name`'s bytes.
fn wait_for_written(dir: &TempDir, name: &str) {
    let journal = journal_path(dir);
    assert_eventually(
        WRITE_LIMIT,
        || std::fs::read(&journal).is_ok_and(|bytes| offset_of(&bytes, name).is_some()),
        || format!("{name:?} never reached the journal"),
    );
}

/// Where `text` first occurs in `bytes`.
pub fn offset_of(bytes: &[u8], text: &str) -> Option<usize> {
    bytes
        .windows(text.len())
        .position(|window| window == text.as_bytes())
}
