//! Locks that survive a panic elsewhere: a test that failed while holding
//! one does not fail or block the tests after it. `lock` takes any mutex of
//! the tests, `read` and `write` any reader-writer lock; `serial` is the
//! lock for the tests that load the machine.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, taking the guard over if a panicking thread poisoned it:
/// what the tests keep behind a mutex (captured output, a ledger of
/// creates) changes in one step, so it is never left half updated.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Shares `rw` with the other readers, taking it over if poisoned.
pub fn read<T>(rw: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    rw.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Holds `rw` alone, taking it over if poisoned.
pub fn write<T>(rw: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    rw.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held for the whole test by the tests that load the machine (thousands
/// of connections, descriptor exhaustion, 10k-create floods), so that they
/// run one at a time and their bounds do not compete for the cores:
/// `let _serial = serial();`.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    lock(&SERIAL)
}
