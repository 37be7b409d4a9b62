//! Answers that end their connection, and requests let go without one.
//!
//! tiny_http 0.12 cannot send `Connection: close` (it drops the header) nor
//! close a connection after an answer; and a request it drops unanswered
//! gets an empty 500. So an answer that must end its connection (a body
//! left unread, a head we refuse) is written here in full, with
//! `Connection: close`, onto the request's raw writer, and the socket is
//! then shut down (see [`super::socket`]). Requests that tiny_http has
//! already parsed from such a connection (pipelined, or a body it took for
//! a request) are let go without an answer: their connection is remembered
//! as closed (by peer address and socket, so a new connection that reuses
//! the address is not mistaken for it), and they never reach a handler.
//!
//! Letting go of a request whose body was not read makes tiny_http drain
//! the rest into a buffer of the declared length, allocated at once (a
//! length beyond memory aborts the process). With the socket shut down the
//! drain ends at once, so only the allocation matters: up to
//! [`MAX_DRAIN_BYTES`] it is harmless (untouched memory); beyond that the
//! body's reader is instead kept forever (`upgrade`, then forgotten), which
//! parks the connection's tiny_http thread and its two descriptors for the
//! life of the process. That is the only way tiny_http's API leaves to
//! avoid the allocation; each such request is logged.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::limits::MAX_DRAIN_BYTES;
use super::reply::Reply;
use super::socket::{ConnectionSocket, SocketFinder};
use crate::sync::lock;

/// A connection closed by an answer of ours.
struct Closed {
    at: Instant,
    /// Its socket (None if it could not be found).
    socket: Option<u64>,
}

/// Connections closed by an answer of ours, by peer, until they cannot send
/// any more requests.
pub struct Closer {
    sockets: SocketFinder,
    closed: Mutex<HashMap<SocketAddr, Closed>>,
    /// Whether `closed` has entries (checked without the lock).
    any_closed: AtomicBool,
    /// How long a closed connection is remembered: by then tiny_http has
    /// long parsed whatever it had read from it.
    remember: Duration,
    /// Connections parked forever to avoid tiny_http's drain allocation.
    parked: AtomicUsize,
}

impl Closer {
    pub fn new(port: u16, remember: Duration) -> Self {
        Self {
            sockets: SocketFinder::new(port),
            closed: Mutex::new(HashMap::new()),
            any_closed: AtomicBool::new(false),
            remember,
            parked: AtomicUsize::new(0),
        }
    }

    /// The socket of a request's connection, if it can be found.
    pub fn socket_of(&self, request: &tiny_http::Request) -> Option<ConnectionSocket> {
        self.sockets.find(*request.remote_addr()?)
    }

    /// Remembers that the connection of `request` (on `socket`, if known)
    /// is being closed, so later requests tiny_http parses from it are let go.
    pub fn mark_closed(&self, request: &tiny_http::Request, socket: Option<&ConnectionSocket>) {
        let Some(peer) = request.remote_addr() else {
            return;
        };
        let entry = Closed {
            at: Instant::now(),
            socket: socket.and_then(ConnectionSocket::identity),
        };
        let mut closed = lock(&self.closed);
        closed.retain(|_, c| c.at.elapsed() < self.remember);
        closed.insert(*peer, entry);
        self.any_closed.store(true, Ordering::SeqCst);
    }

    /// Whether `request` came on a connection we have closed.
    pub fn is_closed(&self, request: &tiny_http::Request) -> bool {
        let Some(peer) = request.remote_addr() else {
            return false;
        };
        if !self.any_closed.load(Ordering::SeqCst) || !self.remembers(peer) {
            return false;
        }
        let now = self.socket_of(request).and_then(|s| s.identity());
        let mut closed = lock(&self.closed);
        match (closed.get(peer).and_then(|c| c.socket), now) {
            (Some(then), Some(now)) if then != now => {
                // A new connection from the same address.
                closed.remove(peer);
                false
            }
            _ => true,
        }
    }

    /// Whether a connection from `peer` is remembered as closed.
    fn remembers(&self, peer: &SocketAddr) -> bool {
        let mut closed = lock(&self.closed);
        closed.retain(|_, c| c.at.elapsed() < self.remember);
        self.any_closed.store(!closed.is_empty(), Ordering::SeqCst);
        closed.contains_key(peer)
    }

    /// Writes `reply` with `Connection: close` and closes the connection.
    /// `unread` is how many declared body bytes were not read.
    pub fn answer_and_close(
        &self,
        request: tiny_http::Request,
        reply: &Reply,
        request_id: &str,
        unread: usize,
    ) {
        let socket = self.socket_of(&request);
        self.mark_closed(&request, socket.as_ref());
        if let Some(socket) = &socket {
            socket.stop_reading();
        }
        let head_only = request.method() == &tiny_http::Method::Head;
        if unread > MAX_DRAIN_BYTES {
            return self.park(request, Some((reply, request_id)), socket);
        }
        let mut writer = request.into_writer();
        let _ = writer.write_all(&reply.wire_bytes(request_id, true, head_only));
        let _ = writer.flush();
        if let Some(socket) = &socket {
            // Before the writer goes: nothing queued behind it is written.
            socket.stop_writing();
        }
        drop(writer);
    }

    /// Lets a request go without an answer. Its connection reads no more;
    /// writing ends with the answer that closed it (tiny_http writes the
    /// answers of one connection in order), or at the end of a stop.
    pub fn discard(&self, request: tiny_http::Request, unread: usize) {
        let socket = self.socket_of(&request);
        self.mark_closed(&request, socket.as_ref());
        if let Some(socket) = &socket {
            socket.stop_reading();
        }
        if unread > MAX_DRAIN_BYTES {
            return self.park(request, None, socket);
        }
        drop(request.into_writer());
    }

    /// Answers (if asked) through `upgrade`, which hands over the body's
    /// reader instead of dropping it, then forgets that reader.
    fn park(
        &self,
        request: tiny_http::Request,
        answer: Option<(&Reply, &str)>,
        socket: Option<ConnectionSocket>,
    ) {
        let declared = request.body_length().unwrap_or(0);
        let parked = self.parked.fetch_add(1, Ordering::Relaxed) + 1;
        log::warn!(
            "a request declared a {declared}-byte body: its connection is closed and parked \
             ({parked} so far; tiny_http would allocate the declared length)"
        );
        let status = answer.map_or(500, |(reply, _)| reply.status);
        let mut head = tiny_http::Response::empty(status);
        if let Some((reply, request_id)) = answer {
            for (name, value) in reply.header_lines(request_id) {
                if let Ok(header) = tiny_http::Header::from_bytes(name, value.as_bytes()) {
                    head.add_header(header);
                }
            }
        }
        // tiny_http adds `Connection: upgrade` and an empty `Upgrade`; with
        // no length, the body ends where the connection does.
        let mut stream = request.upgrade("", head);
        if let Some((reply, _)) = answer {
            let _ = stream.write_all(&reply.body);
            let _ = stream.flush();
        }
        if let Some(socket) = socket {
            match answer {
                Some(_) => socket.close(),
                None => socket.stop_reading(),
            }
        }
        std::mem::forget(stream);
    }
}
