//! [`DatabaseProxy`]: a TCP relay on a loopback port in front of the
//! server, so one instance can lose its database (every connection closed,
//! new ones closed at once) and get it back, while the server itself and
//! every other instance go on untouched.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::server_addr;
use crate::helpers::background::Background;
use crate::helpers::lock::lock;

/// How long the relay waits for the server to accept a connection.
const UPSTREAM_CONNECT: Duration = Duration::from_secs(3);
/// How often the accept loop looks for a new connection.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// A relay to the database server; dropping it closes every connection.
pub struct DatabaseProxy {
    /// Where it listens: the host and port of a URL that goes through it.
    pub addr: SocketAddr,
    links: Arc<Links>,
    /// The accept loop, ended on drop.
    _accepting: Background,
}

/// The relayed connections, and whether the relay is cut.
#[derive(Default)]
struct Links {
    /// Set while cut; changed under the lock, so that no connection is
    /// relayed after a cut closed the others.
    state: Mutex<LinkState>,
    /// Connections relayed since the start.
    relayed: AtomicUsize,
}

#[derive(Default)]
struct LinkState {
    cut: bool,
    /// Both ends of each relayed connection, to shut down on a cut.
    streams: Vec<TcpStream>,
}

impl DatabaseProxy {
    /// Relays a free loopback port to the test server.
    pub fn start() -> Self {
        let upstream = server_addr();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("bound address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let links = Arc::new(Links::default());
        let relay = Arc::clone(&links);
        let accepting = Background::spawn(move |stop| {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => relay.accept(client, upstream),
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(ACCEPT_POLL);
                    }
                    Err(_) => std::thread::sleep(ACCEPT_POLL),
                }
            }
        });
        Self {
            addr,
            links,
            _accepting: accepting,
        }
    }

    /// The database goes away: every relayed connection is closed, and new
    /// ones are closed as soon as they are accepted.
    pub fn cut(&self) {
        let mut state = lock(&self.links.state);
        state.cut = true;
        for stream in state.streams.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// The database comes back: new connections are relayed again.
    pub fn restore(&self) {
        lock(&self.links.state).cut = false;
    }

    /// How many connections were relayed so far.
    pub fn relayed(&self) -> usize {
        self.links.relayed.load(Ordering::SeqCst)
    }
}

impl Drop for DatabaseProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

impl Links {
    /// Relays `client` to the server, unless cut (then it is closed).
    fn accept(&self, client: TcpStream, upstream: SocketAddr) {
        if lock(&self.state).cut {
            return;
        }
        let Ok(server) = TcpStream::connect_timeout(&upstream, UPSTREAM_CONNECT) else {
            return;
        };
        let ends = [&client, &server].map(|stream| {
            let _ = stream.set_nodelay(true);
            stream.set_nonblocking(false).and(stream.try_clone())
        });
        let [Ok(client_end), Ok(server_end)] = ends else {
            return;
        };
        let mut state = lock(&self.state);
        if state.cut {
            return;
        }
        state.streams.extend([client_end, server_end]);
        self.relayed.fetch_add(1, Ordering::SeqCst);
        drop(state);
        pump(&client, &server);
        pump(&server, &client);
    }
}

/// Copies `from` to `to` on a thread of its own until either end closes,
/// then closes both.
fn pump(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        let _ = from.shutdown(Shutdown::Both);
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
