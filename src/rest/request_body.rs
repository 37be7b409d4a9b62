//! Reading a request body from its connection: at most a size limit, and
//! within a deadline for the whole body, not just each read.
//!
//! Bodies tiny_http has not read before handing the request over (see
//! [`super::framing`]) come straight from the socket, where each read is
//! bounded only by the idle timeout the listener gave it. So before each
//! read the socket's read timeout is set to what is left of the body's
//! time, and set back to the idle timeout once the body is in.
//!
//! A body the handler left unread (a 401, 404, 405, 413 …) is read and
//! dropped after the answer is chosen, up to [`DRAIN_CAP`] bytes and within
//! the same deadline, so that the connection can serve the next request;
//! when that cannot be done (too large, too slow, malformed, or a client
//! waiting for `100 Continue`), the answer closes the connection instead.

use std::time::{Duration, Instant};

use super::closing::Closer;
use super::framing::Body;
use super::limits::DRAIN_CAP;
use super::routes::{BodyError, BodySource};
use super::socket::ConnectionSocket;

/// A tiny_http request body, read with a size limit and an overall deadline.
pub struct RequestBody<'r> {
    request: &'r mut tiny_http::Request,
    framing: Body,
    /// Finds the connection's socket, for the deadline of bodies on the wire.
    closer: &'r Closer,
    deadline: Instant,
    /// The connection's read timeout between requests.
    idle_timeout: Duration,
    /// The socket, once looked for (only when a body on the wire is read).
    socket: Option<Option<ConnectionSocket>>,
    /// Whether any of the body was asked for (which, after
    /// `Expect: 100-continue`, sends `100 Continue`).
    started: bool,
    /// Whether the body was read to its end.
    complete: bool,
}

impl<'r> RequestBody<'r> {
    pub fn new(
        request: &'r mut tiny_http::Request,
        framing: Body,
        closer: &'r Closer,
        timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            request,
            framing,
            closer,
            deadline: Instant::now() + timeout,
            idle_timeout,
            socket: None,
            started: false,
            complete: false,
        }
    }

    /// The request whose body this is.
    pub fn request(&self) -> &tiny_http::Request {
        self.request
    }

    fn socket(&mut self) -> Option<&ConnectionSocket> {
        if self.socket.is_none() {
            let found = self
                .framing
                .on_the_wire()
                .then(|| self.closer.socket_of(self.request))
                .flatten();
            self.socket = Some(found);
        }
        self.socket.as_ref().and_then(Option::as_ref)
    }
}

impl RequestBody<'_> {
    /// Declared body bytes left unread (those tiny_http would drain).
    pub fn unread(&self) -> usize {
        match self.framing {
            Body::Pending { length } if !self.complete => length,
            _ => 0,
        }
    }

    /// Whether bytes of the body may still be on the connection.
    pub fn left_on_the_wire(&self) -> bool {
        self.framing.on_the_wire() && !self.complete
    }

    /// Reads and drops what the handler left of the body, where that can
    /// keep the connection (see the module documentation).
    pub fn drain_unread(&mut self) {
        let too_large = matches!(self.framing, Body::Pending { length } if length > DRAIN_CAP);
        let awaits_continue = !self.started && header(self.request, "Expect").is_some();
        if self.left_on_the_wire() && !too_large && !awaits_continue {
            self.drain(DRAIN_CAP);
        }
    }

    /// One read from the body, bounded by the deadline.
    fn read_some(&mut self, buffer: &mut [u8]) -> Result<usize, BodyError> {
        self.started = true;
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BodyError::TooSlow);
        }
        let idle = self.idle_timeout;
        if let Some(socket) = self.socket() {
            socket.set_read_timeout(left.min(idle));
        }
        self.request
            .as_reader()
            .read(buffer)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => BodyError::TooSlow,
                _ => BodyError::Io(e.to_string()),
            })
    }

    /// The body has ended: the connection reads as between requests again.
    fn finished(&mut self) {
        self.complete = true;
        let idle = self.idle_timeout;
        if let Some(socket) = self.socket() {
            socket.set_read_timeout(idle);
        }
    }

    /// Reads and drops the rest of the body, up to `cap` bytes and the deadline.
    fn drain(&mut self, cap: usize) {
        let mut left = cap;
        let mut chunk = [0u8; 8192];
        while left > 0 {
            match self.read_some(&mut chunk) {
                Ok(0) => return self.finished(),
                Ok(read) => left = left.saturating_sub(read),
                Err(_) => return,
            }
        }
    }
}

/// The first value of a request header.
pub(super) fn header<'r>(request: &'r tiny_http::Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

impl BodySource for RequestBody<'_> {
    fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let declared = self.request.body_length();
        if declared.is_some_and(|len| len > limit) {
            return Err(BodyError::TooLarge(limit));
        }
        let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
        let mut chunk = [0u8; 8192];
        loop {
            let read = self.read_some(&mut chunk)?;
            if read == 0 {
                return match declared {
                    Some(declared) if body.len() < declared => Err(BodyError::Io(format!(
                        "the body ended after {} of its {declared} bytes",
                        body.len()
                    ))),
                    _ => {
                        self.finished();
                        Ok(body)
                    }
                };
            }
            if body.len() + read > limit {
                return Err(BodyError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk[..read]);
        }
    }
}
