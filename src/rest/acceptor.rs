//! Keeps the REST listener accepting, whatever happens to tiny_http's accept
//! thread.
//!
//! tiny_http 0.12 accepts on a thread of its own that ends for good on the
//! first accept error (EMFILE, ECONNABORTED, or the accept timeout that
//! SO_RCVTIMEO on the listener implies), and that dies silently if it runs
//! out of descriptors right after an accept. So we keep the listening socket
//! ourselves and hand each tiny_http server (a *generation*) a duplicate.
//! When a generation's acceptor ends — reported as an error from `recv`, or
//! noticed by the watchdog because the kernel's accept queue stops draining —
//! a new generation starts on another duplicate (with a growing pause while
//! new ones keep dying, e.g. out of descriptors). The old generation's open
//! connections are still answered until they have been quiet for an idle
//! timeout, by which time the socket timeouts have closed them. The listening
//! socket itself never closes, so no connection is refused or lost.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sync::lock;

/// One tiny_http server on a duplicate of the listener.
pub struct Generation {
    id: u64,
    /// The tiny_http server: its accept thread and its request queue.
    pub http: tiny_http::Server,
    started: Instant,
}

/// A replaced generation whose connections may still send requests.
struct Retired {
    generation: Arc<Generation>,
    last_request: Instant,
}

/// Pause before starting another generation when the last one died young.
struct Backoff {
    pause: Duration,
}

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// A generation that lived at least this long died of something passing.
const HEALTHY_LIFETIME: Duration = Duration::from_secs(1);

/// The listening socket and the generations accepting on it.
pub struct Acceptor {
    listener: TcpListener,
    current: Mutex<Arc<Generation>>,
    retired: Mutex<Vec<Retired>>,
    /// How many retired generations there are (read without the lock).
    retired_count: AtomicUsize,
    /// Serializes replacements (and holds their backoff).
    replacing: Mutex<Backoff>,
    next_id: AtomicU64,
    idle_timeout: Duration,
}

fn new_http_server(listener: &TcpListener) -> std::io::Result<tiny_http::Server> {
    tiny_http::Server::from_listener(listener.try_clone()?, None)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

impl Acceptor {
    /// Starts the first generation on `listener`.
    pub fn new(listener: TcpListener, idle_timeout: Duration) -> std::io::Result<Self> {
        let first = Generation {
            id: 0,
            http: new_http_server(&listener)?,
            started: Instant::now(),
        };
        Ok(Self {
            listener,
            current: Mutex::new(Arc::new(first)),
            retired: Mutex::new(Vec::new()),
            retired_count: AtomicUsize::new(0),
            replacing: Mutex::new(Backoff { pause: FIRST_PAUSE }),
            next_id: AtomicU64::new(1),
            idle_timeout,
        })
    }

    /// The generation accepting now.
    pub fn current(&self) -> Arc<Generation> {
        Arc::clone(&lock(&self.current))
    }

    /// Replaces `dead` with a new generation, unless that already happened.
    /// `keep_going` is asked between attempts (false: the server is stopping).
    pub fn replace(&self, dead: &Arc<Generation>, why: &str, keep_going: &dyn Fn() -> bool) {
        let mut backoff = lock(&self.replacing);
        if self.current().id != dead.id {
            return;
        }
        if dead.started.elapsed() < HEALTHY_LIFETIME {
            // New acceptors keep dying (out of descriptors?): pause, longer each time.
            log::warn!(
                "REST acceptor ended again ({why}); restarting in {:?}",
                backoff.pause
            );
            std::thread::sleep(backoff.pause);
            backoff.pause = (backoff.pause * 2).min(MAX_PAUSE);
        } else {
            backoff.pause = FIRST_PAUSE;
            if why.contains("Resource temporarily unavailable") {
                log::debug!("REST accept timed out while idle; re-arming");
            } else {
                log::warn!("REST acceptor ended ({why}); starting a new one");
            }
        }
        let http = loop {
            match new_http_server(&self.listener) {
                Ok(http) => break http,
                Err(error) if keep_going() => {
                    log::warn!(
                        "cannot restart the REST acceptor yet ({error}); retrying in {:?}",
                        backoff.pause
                    );
                    std::thread::sleep(backoff.pause);
                    backoff.pause = (backoff.pause * 2).min(MAX_PAUSE);
                }
                Err(_) => return,
            }
        };
        let fresh = Arc::new(Generation {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            http,
            started: Instant::now(),
        });
        let old = std::mem::replace(&mut *lock(&self.current), fresh);
        let mut retired = lock(&self.retired);
        retired.push(Retired {
            generation: old,
            last_request: Instant::now(),
        });
        self.retired_count.store(retired.len(), Ordering::SeqCst);
    }

    /// Whether any retired generation may still send requests.
    pub fn has_retired(&self) -> bool {
        self.retired_count.load(Ordering::SeqCst) > 0
    }

    /// A request waiting on a retired generation's connections, if any.
    /// Generations quiet for longer than the idle timeout are let go.
    pub fn try_retired_request(&self) -> Option<tiny_http::Request> {
        let mut retired = lock(&self.retired);
        let quiet_limit = self.idle_timeout + Duration::from_secs(1);
        retired.retain(|r| r.last_request.elapsed() < quiet_limit);
        self.retired_count.store(retired.len(), Ordering::SeqCst);
        retired.iter_mut().find_map(|entry| {
            let request = entry.generation.http.try_recv().ok().flatten()?;
            entry.last_request = Instant::now();
            Some(request)
        })
    }

    /// Stops accepting for good: tiny_http's accept thread gets an error
    /// and ends, and new connections are refused. (Connections the kernel
    /// had queued but nobody accepted yet are reset.)
    pub fn stop_listening(&self) {
        let _ = socket2::SockRef::from(&self.listener).shutdown(std::net::Shutdown::Read);
    }

    /// A request waiting in any generation's queue, without waiting.
    pub fn try_any_request(&self) -> Option<tiny_http::Request> {
        if let Ok(Some(request)) = self.current().http.try_recv() {
            return Some(request);
        }
        lock(&self.retired)
            .iter()
            .find_map(|entry| entry.generation.http.try_recv().ok().flatten())
    }

    /// Connections the kernel has accepted but the acceptor has not taken
    /// (TCP_INFO of the listening socket), or None if it cannot be read.
    pub fn accept_queue(&self) -> Option<u32> {
        use std::os::fd::AsRawFd;
        // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes into it.
        unsafe {
            let mut info: libc::tcp_info = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
            let rc = libc::getsockopt(
                self.listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            );
            // For a listening socket the kernel reports its accept queue here.
            (rc == 0).then_some(info.tcpi_unacked)
        }
    }
}
