//! One lock for the tests that load the machine (thousands of connections,
//! descriptor exhaustion, 10k-create floods): they run one at a time, so
//! their bounds do not compete with each other for the cores.

use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Held for the whole test: `let _serial = serial();`. A test that failed
/// while holding it does not block the others.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
