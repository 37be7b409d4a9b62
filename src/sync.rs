//! Locking that survives a panic elsewhere. Every mutex in this crate guards
//! state that each critical section changes in one step (a push, a retain, a
//! flag), so a thread that panicked while holding a lock cannot have left the
//! state half updated, and the lock is safe to take over.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering the guard if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
