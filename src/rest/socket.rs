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
//! A pass over the descriptors is done only for the requests that need it
//! (bodies read from the socket, answers that close), and it remembers
//! where every connection was, so the next lookup of a connection still
//! open costs one check; the heartbeat also passes over them for a second
//! after a burst of new connections (see [`super::heartbeat`]).

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Mutex;
use std::time::Duration;

use socket2::SockRef;

use crate::sync::lock;

/// Finds the sockets of connections to our listener, by peer.
pub struct SocketFinder {
    /// Our listener's port (the local port of every connection).
    port: u16,
    /// Where each connection was at the last pass over the descriptors.
    known: Mutex<HashMap<SocketAddr, i32>>,
}

impl SocketFinder {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The socket of the connection from `peer`.
    pub fn find(&self, peer: SocketAddr) -> Option<ConnectionSocket> {
        let mut known = lock(&self.known);
        if let Some(&number) = known.get(&peer) {
            if let Some((socket, remote)) = connection_at(number, self.port) {
                if remote == peer {
                    return Some(socket);
                }
            }
        }
        known.clear();
        let mut found = None;
        for (number, socket, remote) in connections_on(self.port) {
            known.insert(remote, number);
            if remote == peer {
                found = Some(socket);
            }
        }
        found
    }
}

/// A duplicate of one accepted connection's socket.
pub struct ConnectionSocket {
    fd: OwnedFd,
}

impl ConnectionSocket {
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

    /// What tells this socket from any other open at the same time (its
    /// inode), if it can be read.
    pub fn identity(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        // SAFETY: fstat writes at most one `stat` into the zeroed buffer.
        unsafe {
            let mut stat: libc::stat = std::mem::zeroed();
            (libc::fstat(self.fd.as_raw_fd(), &mut stat) == 0).then_some(stat.st_ino)
        }
    }

    /// Bytes received on the connection and not read yet (0 if unknown).
    pub fn unread_bytes(&self) -> usize {
        use std::os::fd::AsRawFd;
        let mut bytes: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int into `bytes`.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::FIONREAD, &mut bytes) };
        if rc == 0 {
            usize::try_from(bytes).unwrap_or(0)
        } else {
            0
        }
    }

    /// Bounds each read on the connection (also tiny_http's own reads).
    pub fn set_read_timeout(&self, timeout: Duration) {
        let _ =
            SockRef::from(&self.fd).set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
    }
}

/// Every accepted connection on our listener's `port`, with its peer.
pub fn sockets_on(port: u16) -> impl Iterator<Item = (ConnectionSocket, SocketAddr)> {
    connections_on(port).map(|(_, socket, peer)| (socket, peer))
}

/// Every accepted connection on `port`: descriptor number, socket, peer.
fn connections_on(port: u16) -> impl Iterator<Item = (i32, ConnectionSocket, SocketAddr)> {
    let entries = std::fs::read_dir("/proc/self/fd").into_iter().flatten();
    entries.filter_map(move |entry| {
        let number: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let (socket, peer) = connection_at(number, port)?;
        Some((number, socket, peer))
    })
}

/// The connection on `port` that descriptor `number` is, with its peer.
fn connection_at(number: i32, port: u16) -> Option<(ConnectionSocket, SocketAddr)> {
    let fd = duplicate(number)?;
    let socket = SockRef::from(&fd);
    let local = socket.local_addr().ok()?.as_socket()?;
    let peer = socket.peer_addr().ok()?.as_socket()?;
    (local.port() == port).then_some((ConnectionSocket { fd }, peer))
}

/// A close-on-exec duplicate of descriptor `number`, if it is open.
fn duplicate(number: i32) -> Option<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor (or fails); the new
    // one is ours alone, so OwnedFd may own and close it.
    let copy = unsafe { libc::fcntl(number, libc::F_DUPFD_CLOEXEC, 0) };
    (copy >= 0).then(|| unsafe { OwnedFd::from_raw_fd(copy) })
}
