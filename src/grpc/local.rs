//! The gateway's channel to this process's own gRPC server without TCP: one
//! end of a `socketpair(AF_UNIX)` is handed to the server, the other to a
//! channel. The C core then builds a direct channel (no resolver, load
//! balancing, subchannel or retry layer) and the kernel moves the bytes
//! without the TCP stack. The TCP port stays for outside clients, and
//! `--grpc-upstream` stays on TCP.
//!
//! A direct channel cannot reconnect: once its socket breaks, every call
//! on it fails. [`LocalChannels::open`] makes a new pair; the REST gateway
//! does so when a call fails UNAVAILABLE and a health probe on the same
//! channel fails too.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

use grpcio::{Channel, Environment, Server};

use super::client;

/// The target and authority the local channel names (there is no address).
const LOCAL_TARGET: &str = "localhost";

/// Opens channels to one server over socket pairs.
pub struct LocalChannels {
    /// Weak: the gateway must not keep a stopped server alive.
    server: Weak<Mutex<Server>>,
    env: Arc<Environment>,
    /// A duplicate of the client end of the last pair, so that tests can
    /// break it ([`sever`](Self::sever)).
    last: Mutex<Option<OwnedFd>>,
}

impl LocalChannels {
    pub(super) fn new(server: Weak<Mutex<Server>>, env: Arc<Environment>) -> Self {
        Self {
            server,
            env,
            last: Mutex::new(None),
        }
    }

    /// A new channel to the server over a new socket pair.
    pub fn open(&self) -> io::Result<Channel> {
        let server = self
            .server
            .upgrade()
            .ok_or_else(|| io::Error::other("the gRPC server has stopped"))?;
        let (client_end, server_end) = socket_pair()?;
        let kept = client_end.try_clone()?;
        // SAFETY: the server was started (GrpcServer::start starts it before
        // anything can reach it), and the descriptor is one end of a
        // connected, non-blocking stream socket pair whose ownership passes
        // to the C core, which closes it when the transport ends.
        unsafe {
            crate::sync::lock(&server).add_channel_from_fd(server_end.into_raw_fd());
        }
        // SAFETY: as above, for the other end, owned by the channel from now on.
        let channel = unsafe {
            client::builder(Arc::clone(&self.env))
                .default_authority(LOCAL_TARGET)
                .connect_from_fd(LOCAL_TARGET, client_end.into_raw_fd())
        };
        *crate::sync::lock(&self.last) = Some(kept);
        Ok(channel)
    }

    /// Breaks the last pair (both directions shut down), as a failing
    /// transport would: for tests of the gateway's recovery.
    #[doc(hidden)]
    pub fn sever(&self) {
        if let Some(fd) = crate::sync::lock(&self.last).as_ref() {
            // SAFETY: shuts down a socket this struct holds open.
            unsafe {
                libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR);
            }
        }
    }
}

/// A connected pair of non-blocking, close-on-exec Unix stream sockets.
fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into the array it is given.
    let made = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if made != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
