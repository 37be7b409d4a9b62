//! The REST listener: a tiny_http server and a fixed pool of worker threads.
//!
//! tiny_http's accept thread ends on the first accept error (EMFILE,
//! ECONNABORTED, or the accept timeout that SO_RCVTIMEO on the listener
//! implies). We keep the listening socket ourselves and hand tiny_http a
//! duplicate; when its accept thread dies, the first worker to notice starts
//! a new tiny_http server (a new *generation*) on another duplicate, while a
//! drainer thread keeps answering the old generation's open connections
//! until they go idle. The listener never closes, so no connection is lost.
//!
//! Socket options set on the listener are inherited by accepted sockets
//! (Linux): TCP_NODELAY, and SO_RCVTIMEO / SO_SNDTIMEO = the idle timeout,
//! which closes idle keep-alive connections and bounds each read or write.

use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::reply::Reply;
use super::routes::{BodyError, BodySource, Gateway, Incoming, Route};
use crate::request_id;

/// Largest request head (request line and headers) answered normally;
/// larger ones get 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Settings for the REST listener.
#[derive(Clone, Debug)]
pub struct RestServerOptions {
    pub addr: SocketAddr,
    pub threads: usize,
    /// Idle keep-alive connections are closed after this; also bounds each socket read/write.
    pub idle_timeout: Duration,
    /// A request body must arrive within this time.
    pub body_timeout: Duration,
}

/// A running REST listener.
pub struct RestServer {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// The bound address.
    pub addr: SocketAddr,
}

struct Generation {
    id: u64,
    http: tiny_http::Server,
}

struct Shared {
    /// Our own handle on the listening socket: tiny_http gets duplicates.
    listener: TcpListener,
    current: Mutex<Arc<Generation>>,
    /// Old generations still answering their open connections.
    draining: Mutex<Vec<Arc<Generation>>>,
    next_generation: AtomicU64,
    stopping: AtomicBool,
    gateway: Gateway,
    options: RestServerOptions,
}

/// Binds the listening socket with the options accepted sockets inherit.
fn bind(options: &RestServerOptions) -> std::io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(options.addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(options.idle_timeout))?;
    socket.set_write_timeout(Some(options.idle_timeout))?;
    socket.bind(&options.addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

impl RestServer {
    /// Binds and starts the worker pool.
    pub fn start(options: RestServerOptions, gateway: Gateway) -> std::io::Result<Self> {
        let listener = bind(&options)?;
        let addr = listener.local_addr()?;
        let first = Arc::new(Generation {
            id: 0,
            http: new_http_server(&listener)?,
        });
        let shared = Arc::new(Shared {
            listener,
            current: Mutex::new(first),
            draining: Mutex::new(Vec::new()),
            next_generation: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            gateway,
            options,
        });
        let workers = (0..shared.options.threads.max(1))
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("http-worker-{i}"))
                    .spawn(move || shared.work())
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self {
            shared,
            workers,
            addr,
        })
    }

    /// Stops accepting, lets workers finish the requests they are serving,
    /// and returns once they have. Idle keep-alive connections do not delay it.
    pub fn stop(self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let generations: Vec<Arc<Generation>> = {
            let mut all = vec![self.shared.current()];
            all.extend(lock(&self.shared.draining).iter().cloned());
            all
        };
        for generation in &generations {
            for _ in 0..self.workers.len() + 1 {
                generation.http.unblock();
            }
        }
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

fn new_http_server(listener: &TcpListener) -> std::io::Result<tiny_http::Server> {
    tiny_http::Server::from_listener(listener.try_clone()?, None)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn current(&self) -> Arc<Generation> {
        Arc::clone(&lock(&self.current))
    }

    fn work(self: Arc<Self>) {
        while !self.stopping.load(Ordering::SeqCst) {
            let generation = self.current();
            match generation.http.recv() {
                Ok(request) => self.serve(request),
                Err(_) if self.stopping.load(Ordering::SeqCst) => break,
                Err(error) => self.replace_generation(&generation, error),
            }
        }
    }

    /// Called when a generation's `recv` fails: either we were moved on to a
    /// newer generation (nothing to do), or its accept thread died.
    fn replace_generation(self: &Arc<Self>, dead: &Arc<Generation>, error: std::io::Error) {
        let mut current = lock(&self.current);
        if current.id != dead.id || error.to_string() == "thread unblocked" {
            return;
        }
        match error.kind() {
            std::io::ErrorKind::WouldBlock => {
                log::debug!(
                    "REST accept idle for {:?}; re-arming",
                    self.options.idle_timeout
                )
            }
            _ => log::warn!("REST accept failed ({error}); starting a new acceptor"),
        }
        let mut backoff = Duration::from_millis(10);
        let http = loop {
            match new_http_server(&self.listener) {
                Ok(http) => break http,
                Err(error) if !self.stopping.load(Ordering::SeqCst) => {
                    log::warn!(
                        "cannot restart the REST acceptor yet ({error}); retrying in {backoff:?}"
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(_) => return,
            }
        };
        *current = Arc::new(Generation {
            id: self.next_generation.fetch_add(1, Ordering::Relaxed),
            http,
        });
        drop(current);
        lock(&self.draining).push(Arc::clone(dead));
        // Wake the workers still waiting on the old queue so they move on.
        for _ in 0..self.options.threads {
            dead.http.unblock();
        }
        let shared = Arc::clone(self);
        let old = Arc::clone(dead);
        let spawned = std::thread::Builder::new()
            .name("http-drain".into())
            .spawn(move || shared.drain(old));
        if let Err(error) = spawned {
            log::error!("cannot start a drainer for old REST connections: {error}");
        }
    }

    /// Answers an old generation's connections until none has sent a request
    /// for a whole idle timeout (by then the socket timeouts have closed them).
    fn drain(&self, old: Arc<Generation>) {
        let quiet_limit = self.options.idle_timeout + Duration::from_secs(1);
        let mut last_request = Instant::now();
        while !self.stopping.load(Ordering::SeqCst) && last_request.elapsed() < quiet_limit {
            if let Ok(Some(request)) = old.http.recv_timeout(Duration::from_millis(500)) {
                last_request = Instant::now();
                self.serve(request);
            }
        }
        lock(&self.draining).retain(|g| g.id != old.id);
    }

    /// Answers one request and logs it.
    fn serve(&self, mut request: tiny_http::Request) {
        let started = Instant::now();
        let request_id =
            request_id::accept_or_generate(header(&request, "X-Request-Id").map(str::as_bytes));
        let method = request.method().as_str().to_string();
        let url = request.url().to_string();
        let route = Route::of(url.split('?').next().unwrap_or("")).pattern();
        let head_bytes = method.len()
            + url.len()
            + request
                .headers()
                .iter()
                .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
                .sum::<usize>();
        let reply = if head_bytes > MAX_HEAD_BYTES {
            Reply::error(
                431,
                format!("request head is larger than {MAX_HEAD_BYTES} bytes"),
            )
        } else {
            self.answer(&mut request, &method, &url, &request_id, route)
        };
        let status = reply.status;
        // Counted before the answer leaves, so a client that reads /metrics
        // right after its answer always sees its own request counted.
        self.gateway
            .metrics()
            .observe_http(&method, route, status, started.elapsed());
        if let Err(error) = request.respond(into_response(reply, &request_id)) {
            log::debug!("response not delivered: {error}");
        }
        log::info!(
            target: "access",
            "http method={method} route={route} status={status} latency_us={} request_id={request_id}",
            started.elapsed().as_micros()
        );
    }
}

impl Shared {
    /// Runs the gateway on a request; a panic becomes a 500 for this request only.
    fn answer(
        &self,
        request: &mut tiny_http::Request,
        method: &str,
        url: &str,
        request_id: &str,
        route: &str,
    ) -> Reply {
        let authorization = header(request, "Authorization").map(str::to_string);
        catch_unwind(AssertUnwindSafe(|| {
            let incoming = Incoming {
                method,
                url,
                authorization: authorization.as_deref(),
                request_id,
            };
            let mut body = RequestBody {
                request,
                timeout: self.options.body_timeout,
            };
            self.gateway.handle(&incoming, &mut body)
        }))
        .unwrap_or_else(|_| {
            log::error!("REST handler panicked on {method} {route}");
            Reply::error(500, "internal error")
        })
    }
}

fn header<'r>(request: &'r tiny_http::Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn into_response(reply: Reply, request_id: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    let mut add = |name: &str, value: &str| {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    };
    add("Content-Type", reply.content_type);
    add("X-Request-Id", request_id);
    for (name, value) in &reply.headers {
        add(name, value);
    }
    response
}

/// Reads and drops what is left of an oversized body (up to a cap), so that a
/// chunked body does not leave the connection mid-message: tiny_http drains
/// Content-Length bodies itself, but not chunked ones, and it cannot be told
/// to close the connection instead.
fn discard_rest(reader: &mut dyn std::io::Read, limit: usize) {
    let cap = (limit as u64).saturating_mul(16).max(1 << 20);
    let _ = std::io::copy(&mut std::io::Read::take(reader, cap), &mut std::io::sink());
}

/// A tiny_http request body, read with a size limit and an overall deadline.
struct RequestBody<'r> {
    request: &'r mut tiny_http::Request,
    timeout: Duration,
}

impl BodySource for RequestBody<'_> {
    fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.request.body_length().is_some_and(|len| len > limit) {
            return Err(BodyError::TooLarge(limit));
        }
        let started = Instant::now();
        let mut body = Vec::with_capacity(self.request.body_length().unwrap_or(0).min(limit));
        let mut chunk = [0u8; 8192];
        let reader = self.request.as_reader();
        loop {
            let read = reader.read(&mut chunk).map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => BodyError::TooSlow,
                _ => BodyError::Io(e.to_string()),
            })?;
            if read == 0 {
                return Ok(body);
            }
            if body.len() + read > limit {
                discard_rest(reader, limit);
                return Err(BodyError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk[..read]);
            if started.elapsed() > self.timeout {
                return Err(BodyError::TooSlow);
            }
        }
    }
}
