//! A thread a test runs beside itself (a peer that accepts, a client that
//! trickles), told to stop and joined when it goes out of scope, so a
//! failing test never leaves it running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A running background thread; dropping it stops and joins it.
pub struct Background {
    /// Set on drop; the work checks it between steps.
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Runs `work` on a thread of its own; `work` returns once the flag it
    /// is given is set (or when it is done).
    pub fn spawn(work: impl FnOnce(&AtomicBool) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || work(&flag));
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
