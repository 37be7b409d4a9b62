//! Bounded polling: a test waits for the condition it is about to assert,
//! never for a fixed time.

use std::time::{Duration, Instant};

use entity_service::Running;

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(10);

/// How long an open watch may take to register with the store.
const WATCHERS_LIMIT: Duration = Duration::from_secs(5);

/// Polls `condition` every 10 ms until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Like [`wait_until`], failing the test with `message()` (built after the
/// last poll, so it can show the state the condition saw) when time is up.
#[track_caller]
pub fn assert_eventually(
    limit: Duration,
    condition: impl FnMut() -> bool,
    message: impl FnOnce() -> String,
) {
    if !wait_until(limit, condition) {
        panic!("not within {limit:?}: {}", message());
    }
}

/// Waits until exactly `count` watches are registered with the store.
#[track_caller]
pub fn wait_for_watchers(service: &Running, count: usize) {
    assert_eventually(
        WATCHERS_LIMIT,
        || service.store().watcher_count() == count,
        || {
            format!(
                "expected {count} open watcher(s), have {}",
                service.store().watcher_count()
            )
        },
    );
}
