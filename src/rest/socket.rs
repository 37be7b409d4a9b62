//! The socket under a tiny_http request, for what tiny_http 0.12 offers no
//! way to do: close a connection after an answer, bound a body read by a
//! deadline, close every connection at the end of a stop.
//!
//! tiny_http keeps its sockets to itself, but they are this process's
//! descriptors: the socket of a request is the one whose local port is our
//! listener's and whose peer is the request's remote address (a live TCP
//! connection is unique by those). We find it among `/proc/self/fd` and
//! work on a duplicate of it, so the check and the action concern one and
//! the same socket even if tiny_http closes its descriptor meanwhile.
//! Looking costs one pass over the descriptors, so it is done only for the
//! requests that need it (bodies read from the socket, answers that close).

use std::net::{Shutdown, SocketAddr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use socket2::SockRef;

/// A duplicate of one accepted connection's socket.
pub struct ConnectionSocket {
    fd: OwnedFd,
}

impl ConnectionSocket {
    /// The socket of the connection from `peer` to our listener's `port`.
    pub fn find(port: u16, peer: SocketAddr) -> Option<Self> {
        sockets_on(port)
            .find(|(_, remote)| *remote == peer)
            .map(|(socket, _)| socket)
    }

    /// Ends the connection both ways: what the client sent and nobody has
    /// read yet reads as the end, and nothing more is written after what
    /// was flushed. tiny_http's reader and writer then finish on their own.
    pub fn close(&self) {
        let _ = SockRef::from(&self.fd).shutdown(Shutdown::Both);
    }

    /// Ends the reading side only: a pending or future read returns what is
    /// already queued, then the end.
    pub fn stop_reading(&self) {
        let _ = SockRef::from(&self.fd).shutdown(Shutdown::Read);
    }

    /// Ends the writing side after what was flushed.
    pub fn stop_writing(&self) {
        let _ = SockRef::from(&self.fd).shutdown(Shutdown::Write);
    }

    /// Bounds each read on the connection (also tiny_http's own reads).
    pub fn set_read_timeout(&self, timeout: Duration) {
        let _ =
            SockRef::from(&self.fd).set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
    }
}

/// Every accepted connection on our listener's `port`, with its peer.
pub fn sockets_on(port: u16) -> impl Iterator<Item = (ConnectionSocket, SocketAddr)> {
    let entries = std::fs::read_dir("/proc/self/fd").into_iter().flatten();
    entries.filter_map(move |entry| {
        let number: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let fd = duplicate(number)?;
        let socket = SockRef::from(&fd);
        let local = socket.local_addr().ok()?.as_socket()?;
        let peer = socket.peer_addr().ok()?.as_socket()?;
        (local.port() == port).then_some((ConnectionSocket { fd }, peer))
    })
}

/// A close-on-exec duplicate of descriptor `number`, if it is open.
fn duplicate(number: i32) -> Option<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor (or fails); the new
    // one is ours alone, so OwnedFd may own and close it.
    let copy = unsafe { libc::fcntl(number, libc::F_DUPFD_CLOEXEC, 0) };
    (copy >= 0).then(|| unsafe { OwnedFd::from_raw_fd(copy) })
}
