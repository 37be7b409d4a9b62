//! The REST listener: a tiny_http server (see [`super::acceptor`]) and a
//! fixed pool of worker threads that answer its requests.
//!
//! Socket options set on the listener are inherited by accepted sockets
//! (Linux): TCP_NODELAY, and SO_RCVTIMEO / SO_SNDTIMEO = the idle timeout,
//! which closes idle keep-alive connections and bounds each read or write,
//! so a client that trickles a request cannot hold a connection forever.
//! Workers wait for requests with a short timeout, so they move to a new
//! acceptor generation, and notice a stop, without being woken.
//!
//! Requests are taken one at a time, and each head is checked (see
//! [`super::framing`]) before the next request is taken: tiny_http may
//! already have parsed a later request from the same connection (a body it
//! misread as one), and a refused head marks its connection closed first.
//!
//! A stop drains: workers keep answering until no request has come for
//! [`DRAIN_QUIET`] (or the body timeout has passed since the stop began),
//! so whatever clients sent before it gets its answer. Then the listener
//! stops accepting, every connection still open is closed, and requests
//! tiny_http parsed after that are let go without an answer (never its
//! empty 500).

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::acceptor::Acceptor;
use super::closing::Closer;
use super::framing::{self, Body};
use super::heartbeat;
use super::limits::MAX_HEAD_BYTES;
use super::reply::Reply;
use super::request_body::{header, RequestBody};
use super::routes::{Gateway, Incoming, Target};
use super::socket::sockets_on;
use crate::logging::Escaped;
use crate::request_id;
use crate::sync::lock;

/// How long a worker waits for a request before looking around again.
const WORKER_POLL: Duration = Duration::from_millis(250);
/// The same while retired generations may still send requests (rare: only
/// after accept errors), which workers then also answer.
const WORKER_POLL_WITH_RETIRED: Duration = Duration::from_millis(2);
/// How long workers wait for a request while a stop drains.
const DRAIN_POLL: Duration = Duration::from_millis(20);
/// A stop's drain ends once no request has come for this long: requests
/// sent before the stop have reached the queue by then.
const DRAIN_QUIET: Duration = Duration::from_millis(200);
/// How often the supervisor checks that the accept queue drains.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(250);
/// Longest time between two heartbeat connections to our own listener
/// while requests come.
const HEARTBEAT_MAX_PERIOD: Duration = Duration::from_millis(100);
/// The same once no request has come for [`QUIET_AFTER`]: each heartbeat is
/// a task for one of tiny_http's connection threads, which end after 5 s
/// without one, so frequent heartbeats would keep ~50 idle threads alive
/// after a burst of connections; at this pace about five stay.
const QUIET_HEARTBEAT_PERIOD: Duration = Duration::from_secs(1);
/// How long without a request before the heartbeat slows down.
const QUIET_AFTER: Duration = Duration::from_secs(2);
/// Checks in a row in which the accept queue grew before the acceptor is
/// presumed dead: a live one, however busy, keeps taking connections, while
/// behind a dead one the heartbeats alone make the queue grow at every check.
const WATCHDOG_STRIKES: u32 = 8;

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
    threads: Vec<JoinHandle<()>>,
    /// The bound address.
    pub addr: SocketAddr,
}

struct Shared {
    acceptor: Acceptor,
    /// Where the supervisor connects to keep the acceptor from timing out.
    heartbeat_addr: SocketAddr,
    stopping: AtomicBool,
    /// When the stop began.
    stop_began: OnceLock<Instant>,
    /// When a worker last took a request.
    last_request: Mutex<Instant>,
    /// Held while a request is taken and its head checked.
    taking: Mutex<()>,
    gateway: Gateway,
    closer: Closer,
    options: RestServerOptions,
}

/// A request just taken from tiny_http.
enum Taken {
    /// To answer; the framing of its body, or the refusal of its head.
    Serve(tiny_http::Request, Result<Body, Reply>),
    /// From a connection we closed: let go without an answer.
    Discard(tiny_http::Request),
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
    /// Binds and starts the worker pool and the supervisor.
    pub fn start(options: RestServerOptions, gateway: Gateway) -> std::io::Result<Self> {
        let listener = bind(&options)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            acceptor: Acceptor::new(listener, options.idle_timeout)?,
            heartbeat_addr: crate::config::reachable(addr),
            stopping: AtomicBool::new(false),
            stop_began: OnceLock::new(),
            last_request: Mutex::new(Instant::now()),
            taking: Mutex::new(()),
            gateway,
            closer: Closer::new(addr.port(), options.idle_timeout),
            options,
        });
        let mut threads = Vec::new();
        for i in 0..shared.options.threads.max(1) {
            let worker = Arc::clone(&shared);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("http-worker-{i}"))
                    .spawn(move || worker.work())?,
            );
        }
        let supervisor = Arc::clone(&shared);
        threads.push(
            std::thread::Builder::new()
                .name("http-supervisor".into())
                .spawn(move || supervisor.supervise())?,
        );
        Ok(Self {
            shared,
            threads,
            addr,
        })
    }

    /// Answers what clients have sent (the drain), then stops accepting,
    /// closes every connection, and returns. Idle keep-alive connections do
    /// not delay it; a client still sending delays it at most the body timeout.
    pub fn stop(self) {
        let _ = self.shared.stop_began.set(Instant::now());
        self.shared.stopping.store(true, Ordering::SeqCst);
        for thread in self.threads {
            let _ = thread.join();
        }
        self.shared.close_everything();
    }
}

impl Shared {
    fn running(&self) -> bool {
        !self.stopping.load(Ordering::SeqCst)
    }

    fn work(&self) {
        loop {
            match self.take() {
                Some(Taken::Serve(request, framing)) => self.serve(request, framing),
                Some(Taken::Discard(request)) => {
                    let unread = request.body_length().unwrap_or(0);
                    self.closer.discard(request, unread);
                }
                None if self.drained() => return,
                None => {}
            }
        }
    }

    /// Whether a stop has begun and its drain is over.
    fn drained(&self) -> bool {
        let Some(began) = self.stop_began.get() else {
            return false;
        };
        lock(&self.last_request).elapsed() >= DRAIN_QUIET
            || began.elapsed() >= self.options.body_timeout
    }

    /// The next request and the check of its head, in the order tiny_http
    /// queued them (one taker at a time), or None after a wait.
    fn take(&self) -> Option<Taken> {
        let _turn = lock(&self.taking);
        if self.drained() {
            // The stop's drain ended while this worker waited for its turn.
            return None;
        }
        let request = self.next_request()?;
        *lock(&self.last_request) = Instant::now();
        if self.closer.is_closed(&request) {
            return Some(Taken::Discard(request));
        }
        let framing = framing::check(request.method().as_str(), request.headers());
        if framing.is_err() {
            let socket = self.closer.socket_of(&request);
            self.closer.mark_closed(&request, socket.as_ref());
        }
        Some(Taken::Serve(request, framing))
    }

    fn next_request(&self) -> Option<tiny_http::Request> {
        let mut poll = if self.running() {
            WORKER_POLL
        } else {
            DRAIN_POLL
        };
        if self.acceptor.has_retired() {
            if let Some(request) = self.acceptor.try_retired_request() {
                return Some(request);
            }
            poll = WORKER_POLL_WITH_RETIRED;
        }
        let generation = self.acceptor.current();
        match generation.http.recv_timeout(poll) {
            Ok(request) => request,
            Err(error) => {
                self.acceptor
                    .replace(&generation, &error.to_string(), &|| self.running());
                None
            }
        }
    }

    /// The end of a stop: no more connections, every open one closed, and
    /// what tiny_http still parses from them let go without an answer.
    fn close_everything(&self) {
        self.acceptor.stop_listening();
        for (socket, _) in sockets_on(self.heartbeat_addr.port()) {
            socket.close();
        }
        let quiet_since = Instant::now();
        while quiet_since.elapsed() < DRAIN_POLL * 5 {
            match self.acceptor.try_any_request() {
                Some(request) => {
                    let unread = request.body_length().unwrap_or(0);
                    self.closer.discard(request, unread);
                }
                None => std::thread::sleep(DRAIN_POLL / 4),
            }
        }
    }

    /// Keeps the acceptor from timing out, and replaces an acceptor that died
    /// without a word (its accept queue keeps growing).
    fn supervise(&self) {
        // Heartbeats (see [`heartbeat`]): often while requests come, with
        // one more for each connection whose request nobody reads; while
        // none come they slow down, and the watchdog with them (each check
        // must see a heartbeat behind a dead acceptor).
        let busy_every = (self.options.idle_timeout / 3).min(HEARTBEAT_MAX_PERIOD);
        let quiet_every = (self.options.idle_timeout / 3).min(QUIET_HEARTBEAT_PERIOD);
        let tick = WATCHDOG_PERIOD.min(busy_every);
        let mut strikes = 0;
        let mut last_queue = 0;
        let mut last_check = Instant::now();
        let mut last_heartbeat = Instant::now();
        let mut unread_watch = heartbeat::UnreadWatch::new(self.heartbeat_addr.port());
        while self.running() {
            std::thread::sleep(tick);
            let quiet = lock(&self.last_request).elapsed() >= QUIET_AFTER;
            let heartbeat_every = if quiet { quiet_every } else { busy_every };
            let unread = unread_watch.unread();
            if unread > 0 || last_heartbeat.elapsed() >= heartbeat_every {
                last_heartbeat = Instant::now();
                heartbeat::send(self.heartbeat_addr, unread.max(1), tick);
            }
            if last_check.elapsed() < WATCHDOG_PERIOD.max(heartbeat_every) {
                continue;
            }
            last_check = Instant::now();
            let queue = self.acceptor.accept_queue().unwrap_or(0);
            strikes = if queue > last_queue { strikes + 1 } else { 0 };
            last_queue = queue;
            if strikes >= WATCHDOG_STRIKES {
                strikes = 0;
                let stalled = self.acceptor.current();
                self.acceptor
                    .replace(&stalled, "accept queue keeps growing", &|| self.running());
            }
        }
    }

    /// Answers one request and logs it. An answer on a connection whose
    /// body was not read to its end (or whose head was refused) closes it.
    fn serve(&self, mut request: tiny_http::Request, framing: Result<Body, Reply>) {
        let started = Instant::now();
        let request_id =
            request_id::accept_or_generate(header(&request, "X-Request-Id").map(str::as_bytes));
        let method = request.method().as_str().to_string();
        let url = request.url().to_string();
        let target = Target::of(&url);
        let route = target.route.pattern();
        let declared = request.body_length().unwrap_or(0);
        let (reply, closes, unread) = match framing {
            Err(refusal) => (refusal, true, declared),
            Ok(framing) if head_bytes(&request) > MAX_HEAD_BYTES => (
                Reply::error(
                    431,
                    format!("request head is larger than {MAX_HEAD_BYTES} bytes"),
                ),
                framing.on_the_wire(),
                declared,
            ),
            Ok(framing) => {
                let mut body = RequestBody::new(
                    &mut request,
                    framing,
                    &self.closer,
                    self.options.body_timeout,
                    self.options.idle_timeout,
                );
                let reply = self.answer(&mut body, &method, target, &request_id);
                body.drain_unread();
                (reply, body.left_on_the_wire(), body.unread())
            }
        };
        let status = reply.status;
        // Counted before the answer leaves, so a client that reads /metrics
        // right after its answer always sees its own request counted.
        self.gateway
            .metrics()
            .observe_http(&method, route, status, started.elapsed());
        if closes {
            self.closer
                .answer_and_close(request, &reply, &request_id, unread);
        } else if let Err(error) = reply.send(request, &request_id) {
            log::debug!("response not delivered: {error}");
        }
        log::info!(
            target: "access",
            "http method={} route={route} status={status} latency_us={} request_id={request_id}",
            Escaped(&method),
            started.elapsed().as_micros()
        );
    }
}

impl Shared {
    /// Runs the gateway on a request; a panic becomes a 500 for this request only.
    fn answer(
        &self,
        body: &mut RequestBody<'_>,
        method: &str,
        target: Target<'_>,
        request_id: &str,
    ) -> Reply {
        let authorization = header(body.request(), "Authorization").map(str::to_string);
        crate::containment::contain(|| {
            let incoming = Incoming {
                method,
                target,
                authorization: authorization.as_deref(),
                request_id,
            };
            self.gateway.handle(&incoming, body)
        })
        .unwrap_or_else(|_| {
            log::error!(
                "REST handler panicked on {} {}",
                Escaped(method),
                target.route.pattern()
            );
            Reply::error(500, "internal error")
        })
    }
}

/// The size of a request's head, as counted against [`MAX_HEAD_BYTES`].
fn head_bytes(request: &tiny_http::Request) -> usize {
    request.method().as_str().len()
        + request.url().len()
        + request
            .headers()
            .iter()
            .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
            .sum::<usize>()
}
