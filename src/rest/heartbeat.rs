//! Short connections of the REST listener to itself, which keep tiny_http
//! 0.12 serving:
//! - the idle timeout on the listener also bounds each `accept`; a
//!   heartbeat now and then keeps the acceptor (and the keep-alive
//!   connections it owns) in service while no client connects, so
//!   retirements only follow real accept errors;
//! - tiny_http's connection pool leaves connections queued with no thread
//!   to take them when many arrive at once: it counts a thread woken for
//!   one connection as still idle, so the connections accepted before that
//!   thread wakes are queued behind it, and each waits until some pool
//!   thread ends a connection (bursts of 100 to 400 new connections to a
//!   new server saw requests wait up to 2 s in 1 run of 3 to 10). Every
//!   heartbeat is a connection of its own that ends at once, after which
//!   its thread takes the next queued connection. So while requests come,
//!   the supervisor counts the connections whose request nobody reads
//!   ([`UnreadWatch`]) and sends as many heartbeats; it looks only for a
//!   while after a burst of new connections, since looking costs a system
//!   call or two per connection.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::socket::sockets_on;

/// Heartbeats sent at once, at most.
const MAX_BURST: usize = 64;

/// Opens one short connection to the listener at `addr`, or `count` of
/// them (at most [`MAX_BURST`]). Each may take up to `timeout` to connect.
pub fn send(addr: SocketAddr, count: usize, timeout: Duration) {
    for _ in 0..count.min(MAX_BURST) {
        if TcpStream::connect_timeout(&addr, timeout).is_err() {
            return;
        }
    }
}

/// A rise of this many TCP sockets in use (on this host, both ends of
/// loopback connections counted) between two looks is a burst of new
/// connections.
const BURST_SOCKETS: u64 = 8;
/// How long after a burst the connections are looked at.
const LOOK_AFTER_BURST: Duration = Duration::from_secs(1);

/// Finds connections left unread after a burst of new ones. Looking at
/// every connection costs a system call or two each, so it is done only
/// for a while after the host's count of TCP sockets jumped.
pub struct UnreadWatch {
    port: u16,
    sockets_in_use: u64,
    look_until: Option<Instant>,
}

impl UnreadWatch {
    /// Watches the connections accepted on local `port`.
    pub fn new(port: u16) -> Self {
        Self {
            port,
            sockets_in_use: tcp_sockets_in_use().unwrap_or(0),
            look_until: None,
        }
    }

    /// The connections whose request nobody reads, while a burst is recent;
    /// else 0.
    pub fn unread(&mut self) -> usize {
        let in_use = tcp_sockets_in_use().unwrap_or(0);
        if in_use >= self.sockets_in_use + BURST_SOCKETS {
            self.look_until = Some(Instant::now() + LOOK_AFTER_BURST);
        }
        self.sockets_in_use = in_use;
        match self.look_until {
            Some(until) if Instant::now() < until => unread_connections(self.port),
            _ => 0,
        }
    }
}

/// TCP sockets in use in this network namespace (`/proc/net/sockstat`).
fn tcp_sockets_in_use() -> Option<u64> {
    let stats = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = stats.lines().find(|line| line.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    words.find(|&word| word == "inuse")?;
    words.next()?.parse().ok()
}

/// This process's connections on local `port` with bytes waiting in their
/// receive queue: requests no connection thread is reading (or, for an
/// instant, one not read yet). Each counted once, however many descriptors
/// this process holds for it.
fn unread_connections(port: u16) -> usize {
    let unread: HashSet<u64> = sockets_on(port)
        .filter(|(socket, _)| socket.unread_bytes() > 0)
        .filter_map(|(socket, _)| socket.identity())
        .collect();
    unread.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_connection_whose_request_nobody_reads() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        assert_eq!(unread_connections(port), 0);
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while unread_connections(port) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(unread_connections(port), 1);
    }
}
