//! The gateway's channel to this process's own gRPC server, without TCP.
//!
//! By default it is the C core's in-process transport, the one gRPC C++
//! offers as `Server::InProcessChannel`: a call still goes through the C
//! core's call API, the server's filters and our handlers as a call from
//! outside does, its messages still serialized as protobuf, but no HTTP/2
//! framing, no socket and no poller wake-up lie between client and server.
//! grpcio exposes neither that transport nor the core server it needs, so
//! build.rs links every binary with `--wrap=grpc_server_add_channel_from_fd`:
//! grpcio's [`Server::add_channel_from_fd`] then reaches
//! [`__wrap_grpc_server_add_channel_from_fd`], which, when asked to, keeps
//! the core server's address (and closes the descriptor) instead of passing
//! the call on.
//!
//! `--grpc-local-transport socket-pair` uses one end of a
//! `socketpair(AF_UNIX)` for the server and the other for a direct channel:
//! HTTP/2 through the kernel without the TCP stack.
//!
//! No call may start on an in-process channel once the server has begun to
//! shut down: the C core (1.56) then clears the callback that takes a new
//! call, and calls it all the same, a jump to address zero. Every local
//! call goes through [`LocalChannels::enter`], which the server closes
//! before it shuts down ([`LocalGate`]).
//!
//! A socket-pair channel does not reconnect by itself: once it fails,
//! [`LocalChannels::open`] makes a new one; the REST gateway does so when a
//! call fails UNAVAILABLE and a health probe on the same channel fails too.
//! An in-process channel cannot break while the server serves, so it is
//! never replaced (a replaced one would keep its server half until the
//! server ends). The TCP port stays for outside clients, and
//! `--grpc-upstream` stays on TCP.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::ptr;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, Weak};

use grpcio::{Channel, Environment, Server};

use super::client;

/// The target and authority a socket-pair channel names (there is no address).
const LOCAL_TARGET: &str = "localhost";

/// How the gateway's channel reaches this process's own server
/// (`--grpc-local-transport`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LocalTransport {
    /// The C core's in-process transport: no HTTP/2, no socket.
    #[default]
    InProcess,
    /// HTTP/2 over a Unix socket pair.
    SocketPair,
}

/// Whether the server still takes calls on its local channels: open from
/// its start until it begins to shut down. Calls hold it shared while they
/// run; closing it waits for them.
#[derive(Clone)]
pub struct LocalGate(Arc<RwLock<bool>>);

/// Held while a call on a local channel runs.
pub type LocalCall<'g> = RwLockReadGuard<'g, bool>;

impl LocalGate {
    pub(super) fn open() -> Self {
        Self(Arc::new(RwLock::new(true)))
    }

    /// Closes the gate once the calls inside have ended; none enters again.
    pub(super) fn close(&self) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = false;
    }

    fn enter(&self) -> Option<LocalCall<'_>> {
        let open = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (*open).then_some(open)
    }
}

/// Opens channels to one server.
pub struct LocalChannels {
    /// Weak: the gateway must not keep a stopped server alive.
    server: Weak<Mutex<Server>>,
    env: Arc<Environment>,
    transport: LocalTransport,
    gate: LocalGate,
    /// A duplicate of the client end of the last socket pair, so that tests
    /// can break it ([`sever`](Self::sever)).
    last: Mutex<Option<OwnedFd>>,
}

impl LocalChannels {
    pub(super) fn new(
        server: Weak<Mutex<Server>>,
        env: Arc<Environment>,
        transport: LocalTransport,
        gate: LocalGate,
    ) -> Self {
        Self {
            server,
            env,
            transport,
            gate,
            last: Mutex::new(None),
        }
    }

    /// Permission to make a call on a channel from here, held for the
    /// call's length; None once the server has begun to shut down.
    pub fn enter(&self) -> Option<LocalCall<'_>> {
        self.gate.enter()
    }

    /// Whether a channel from here can break while the server serves (and
    /// so is worth replacing when it seems to have).
    pub fn can_break(&self) -> bool {
        self.transport == LocalTransport::SocketPair
    }

    /// A new channel to the server: to be called before anything can stop
    /// the server, or while [`entered`](Self::enter) (not entering again: a
    /// stop waiting to close the gate would hold a second entry back).
    pub fn open(&self) -> io::Result<Channel> {
        let server = self
            .server
            .upgrade()
            .ok_or_else(|| io::Error::other("the gRPC server has stopped"))?;
        match self.transport {
            LocalTransport::InProcess => self.open_in_process(&server),
            LocalTransport::SocketPair => self.open_socket_pair(&server),
        }
    }

    fn open_in_process(&self, server: &Mutex<Server>) -> io::Result<Channel> {
        let core = core_server(&mut crate::sync::lock(server))?;
        // The client's minimal stack, with its deadline filter: the message
        // size filter a direct channel has by default (a limit on answers
        // from our own server) cost 7% of the hop's instructions.
        let args = client::builder(Arc::clone(&self.env))
            .raw_cfg_int(c"grpc.minimal_stack".into(), 1)
            .raw_cfg_int(c"grpc.enable_deadline_checking".into(), 1)
            .build_args();
        // SAFETY: `core` is the started server `server` holds, alive while
        // the Arc upgraded by `open` is; the C core copies the arguments and
        // hands back a channel (never null: a lame one on failure) whose
        // ownership passes to grpcio's Channel, which destroys it.
        let channel = unsafe {
            let raw = grpc_inproc_channel_create(core, args.as_ptr().cast(), ptr::null_mut());
            Channel::new(self.env.pick_cq(), Arc::clone(&self.env), raw.cast())
        };
        Ok(channel)
    }

    fn open_socket_pair(&self, server: &Mutex<Server>) -> io::Result<Channel> {
        let (client_end, server_end) = socket_pair()?;
        let kept = client_end.try_clone()?;
        // SAFETY: the server was started (GrpcServer::start starts it before
        // anything can reach it), and the descriptor is one end of a
        // connected, non-blocking stream socket pair whose ownership passes
        // to the C core, which closes it when the transport ends.
        unsafe {
            crate::sync::lock(server).add_channel_from_fd(server_end.into_raw_fd());
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

    /// Breaks the last socket pair (both directions shut down), as a failing
    /// transport would: for tests of the gateway's recovery. False with the
    /// in-process transport, which has no socket to break.
    #[doc(hidden)]
    pub fn sever(&self) -> bool {
        let last = crate::sync::lock(&self.last);
        let Some(fd) = last.as_ref() else {
            return false;
        };
        // SAFETY: shuts down a socket this struct holds open.
        unsafe {
            libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR);
        }
        true
    }
}

extern "C" {
    /// `grpc_inproc_channel_create` of the C core (declared in a C++ header,
    /// hence the mangled name); linked from grpcio-sys's library.
    #[link_name = "_Z26grpc_inproc_channel_createP11grpc_serverPK17grpc_channel_argsPv"]
    fn grpc_inproc_channel_create(
        server: *mut c_void,
        args: *const c_void,
        reserved: *mut c_void,
    ) -> *mut c_void;

    /// The C core's own `grpc_server_add_channel_from_fd`, under the name
    /// the linker's `--wrap` gives it.
    fn __real_grpc_server_add_channel_from_fd(server: *mut c_void, fd: c_int, creds: *mut c_void);
}

thread_local! {
    /// Set while [`core_server`] asks for the core server's address: the
    /// address handed over, once it has been.
    static CAPTURE: Cell<Option<*mut c_void>> = const { Cell::new(None) };
}

/// The core server under grpcio's `server`: its `add_channel_from_fd` is
/// called with a descriptor that [`__wrap_grpc_server_add_channel_from_fd`]
/// closes, keeping the address it is called with.
fn core_server(server: &mut Server) -> io::Result<*mut c_void> {
    let (spare, peer) = socket_pair()?;
    drop(peer);
    CAPTURE.with(|capture| capture.set(Some(ptr::null_mut())));
    // SAFETY: the wrapper takes the descriptor's ownership and closes it;
    // were the call passed on, the C core would own a socket whose peer is
    // already closed, a transport that ends at once.
    unsafe { server.add_channel_from_fd(spare.into_raw_fd()) };
    match CAPTURE.with(|capture| capture.take()) {
        Some(core) if !core.is_null() => Ok(core),
        _ => Err(io::Error::other(
            "the in-process transport needs this binary linked with \
             --wrap=grpc_server_add_channel_from_fd (see build.rs)",
        )),
    }
}

/// What grpcio's `Server::add_channel_from_fd` reaches (see the module
/// documentation): while [`core_server`] asks, it keeps the server's address
/// and closes the descriptor; otherwise it is the C core's function.
///
/// # Safety
///
/// The C core's contract for `grpc_server_add_channel_from_fd`.
#[no_mangle]
pub unsafe extern "C" fn __wrap_grpc_server_add_channel_from_fd(
    server: *mut c_void,
    fd: c_int,
    creds: *mut c_void,
) {
    let asked = CAPTURE.with(|capture| {
        let asked = capture.get().is_some();
        if asked {
            capture.set(Some(server));
        }
        asked
    });
    if asked {
        // SAFETY: the caller handed this descriptor's ownership over.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
        // grpcio's insecure credentials are released by grpcio itself.
        let _ = creds;
    } else {
        // SAFETY: the caller's arguments, passed on unchanged.
        unsafe { __real_grpc_server_add_channel_from_fd(server, fd, creds) }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use grpcio::{CallOption, Client, Marshaller, Method, MethodType, ServiceBuilder};

    use super::*;
    use crate::grpc::{GrpcServer, GrpcServerOptions};
    use crate::proto::health::{HealthCheckRequest, HealthCheckResponse};

    const ECHO: Method<HealthCheckRequest, HealthCheckResponse> = Method {
        ty: MethodType::Unary,
        name: "/test.Echo/Check",
        req_mar: Marshaller {
            ser: grpcio::pb_ser,
            de: grpcio::pb_de,
        },
        resp_mar: Marshaller {
            ser: grpcio::pb_ser,
            de: grpcio::pb_de,
        },
    };

    /// A started server with one method that answers at once.
    fn echo_server() -> GrpcServer {
        let service = ServiceBuilder::new()
            .add_unary_handler(&ECHO, |ctx, _request, sink| {
                ctx.spawn(async move {
                    let _ = sink.success(HealthCheckResponse::new()).await;
                });
            })
            .build();
        let options = GrpcServerOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            completion_queues: 1,
            max_message_bytes: 1 << 20,
            keepalive_time: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
        };
        GrpcServer::start(&options, vec![service]).expect("a started server")
    }

    fn call(channel: &Channel) -> grpcio::Result<HealthCheckResponse> {
        let options = CallOption::default().timeout(Duration::from_secs(5));
        Client::new(channel.clone()).unary_call(&ECHO, &HealthCheckRequest::new(), options)
    }

    #[test]
    fn local_calls_are_let_in_while_the_server_serves_and_never_after() {
        for transport in [LocalTransport::InProcess, LocalTransport::SocketPair] {
            let server = echo_server();
            let local = server.local_channels(transport);
            let channel = local.open().expect("a channel");
            {
                let _entered = local.enter().expect("open while serving");
                call(&channel).expect("answered");
            }
            assert_eq!(local.can_break(), transport == LocalTransport::SocketPair);
            server.stop(Duration::from_secs(1));
            assert!(
                local.enter().is_none(),
                "{transport:?}: entered after the stop"
            );
            assert!(
                local.open().is_err(),
                "{transport:?}: opened after the stop"
            );
        }
    }
}
