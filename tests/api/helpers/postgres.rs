//! The PostgreSQL server the `--database-url` tests use: where it is
//! (`ENTITY_TEST_DATABASE_URL`, default [`DEFAULT_URL`]), whether it answers,
//! a fresh database per test ([`TestDatabase`], dropped with the test), and
//! [`DatabaseProxy`], a TCP relay in front of it that a test cuts and
//! restores to take the database away from one instance alone.
//!
//! The server is shared by every test, and one test restarts it: a test
//! that only uses it holds [`server`] (shared), the restart holds
//! [`server_alone`] (exclusive). Without a server both say so loudly
//! and the test returns (under CI it fails), as [`requires`] does for tools.

mod proxy;

use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use ::postgres::{Client, NoTls};

use super::lock::{read, write};
use super::prerequisites::{announce, requires};

pub use proxy::DatabaseProxy;

/// The server when `ENTITY_TEST_DATABASE_URL` is unset: the machine's
/// cluster with trust authentication on loopback, as `.ci/run` sets it up.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long a connection to the server may take before it counts as absent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Shared by the tests that use the server, held alone by the one that
/// restarts it.
static SERVER: RwLock<()> = RwLock::new(());

/// The server's URL (its maintenance database: the tests create theirs).
pub fn server_url() -> String {
    std::env::var("ENTITY_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// The server for a test that uses it beside others: a shared hold on it,
/// or None (after the loud line; a failure under CI) when none answers.
#[track_caller]
pub fn server() -> Option<RwLockReadGuard<'static, ()>> {
    let guard = read(&SERVER);
    present().then_some(guard)
}

/// The server for a test that stops or restarts it: held alone, or None as
/// for [`server`].
#[track_caller]
pub fn server_alone() -> Option<RwLockWriteGuard<'static, ()>> {
    let guard = write(&SERVER);
    present().then_some(guard)
}

/// Whether the server answers, as a prerequisite of the test.
#[track_caller]
fn present() -> bool {
    let url = Url::parse(&server_url());
    requires(
        &format!("a PostgreSQL server at {}", url.host_port),
        server_answers(),
        "start one, or point ENTITY_TEST_DATABASE_URL at one; .ci/run starts the machine's cluster",
    )
}

/// Whether a connection to the server succeeds now.
pub fn server_answers() -> bool {
    connect(&server_url()).is_ok()
}

/// A connection to the database at `url`, within [`CONNECT_TIMEOUT`].
pub fn connect(url: &str) -> Result<Client, ::postgres::Error> {
    let mut config = ::postgres::Config::from_str(url)?;
    config.connect_timeout(CONNECT_TIMEOUT);
    config.connect(NoTls)
}

/// The server's URL in parts, so that a test can name another database on
/// it or reach it through a proxy.
#[derive(Clone, Debug)]
struct Url {
    /// `postgres://user[:password]@`.
    scheme_and_user: String,
    /// `host:port` as written (the port may be missing).
    host_port: String,
    /// `?…`, or empty.
    query: String,
}

impl Url {
    fn parse(url: &str) -> Self {
        let (scheme, rest) = url
            .split_once("://")
            .unwrap_or_else(|| panic!("ENTITY_TEST_DATABASE_URL is not a URL: {url:?}"));
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (format!("{user}@"), host_port),
            None => (String::new(), authority),
        };
        let query = tail.find('?').map_or("", |start| &tail[start..]);
        Self {
            scheme_and_user: format!("{scheme}://{user}"),
            host_port: host_port.to_string(),
            query: query.to_string(),
        }
    }

    /// The URL of `database` on this server, or through `via` when given.
    fn with(&self, database: &str, via: Option<SocketAddr>) -> String {
        let host_port = via.map_or_else(|| self.host_port.clone(), |addr| addr.to_string());
        format!(
            "{}{host_port}/{database}{}",
            self.scheme_and_user, self.query
        )
    }

    /// The server's socket address (port 5432 when the URL has none).
    fn socket_addr(&self) -> SocketAddr {
        let has_port = self
            .host_port
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
        let host_port = if has_port {
            self.host_port.clone()
        } else {
            format!("{}:5432", self.host_port)
        };
        host_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("cannot resolve the database server {host_port:?}"))
    }
}

/// A database of its own on the server, `entity_test_<random>`, dropped
/// (connections and all) when the test ends.
pub struct TestDatabase {
    name: String,
    server: Url,
}

impl TestDatabase {
    /// Creates an empty database with a name no other test uses.
    #[track_caller]
    pub fn create() -> Self {
        let name = format!("entity_test_{:016x}", fastrand::u64(..));
        admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("CREATE DATABASE {name}: {error}"));
        Self {
            name,
            server: Url::parse(&server_url()),
        }
    }

    /// The URL the service is given for it.
    pub fn url(&self) -> String {
        self.server.with(&self.name, None)
    }

    /// The URL of this database reached through `proxy`.
    pub fn url_via(&self, proxy: &DatabaseProxy) -> String {
        self.server.with(&self.name, Some(proxy.addr))
    }

    /// A connection of the test's own, to look at the tables directly.
    #[track_caller]
    pub fn client(&self) -> Client {
        connect(&self.url()).unwrap_or_else(|error| panic!("connect to {}: {error}", self.name))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let dropped = connect(&server_url()).and_then(|mut client| {
            client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
        });
        if let Err(error) = dropped {
            announce(&format!("test database {} left behind: {error}", self.name));
        }
    }
}

/// A connection to the server's maintenance database.
#[track_caller]
fn admin() -> Client {
    connect(&server_url()).unwrap_or_else(|error| panic!("connect to the server: {error}"))
}

/// The server's address, for the proxy to relay to.
fn server_addr() -> SocketAddr {
    Url::parse(&server_url()).socket_addr()
}
