//! How this process connects to PostgreSQL: the URL's settings plus the
//! timeouts that make a dead server or network show up as an error instead
//! of a hang, and the backoff between attempts.

use std::time::{Duration, Instant};

use postgres::config::SslMode;
use postgres::{Client, Config, NoTls};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// TCP keepalives on every connection: the first probe after this much
/// silence, then one every [`KEEPALIVE_INTERVAL`], [`KEEPALIVE_RETRIES`] in all.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
const KEEPALIVE_RETRIES: u32 = 3;
/// Data sent but not acknowledged for this long closes the connection.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Settings of each session: the server cancels any statement of ours that
/// runs longer than 10 s, and keeps its notices (`CREATE TABLE IF NOT
/// EXISTS` … "skipping") to itself.
const SESSION_OPTIONS: &str = "-c statement_timeout=10000 -c client_min_messages=warning";

/// Why `--database-url` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("invalid database URL: {0}")]
    Invalid(#[source] postgres::Error),
    #[error(
        "the database URL asks for sslmode=require, but this build connects without TLS \
         (use sslmode=disable or prefer, or reach the server over a trusted network)"
    )]
    TlsRequired,
}

/// The connection settings of one database.
#[derive(Clone)]
pub struct Settings {
    config: Config,
}

impl Settings {
    /// Reads a `postgres://user@host:port/db` URL (or libpq's `key=value`
    /// form); timeouts it does not set get this module's defaults.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let mut config = url.parse::<Config>().map_err(UrlError::Invalid)?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(UrlError::TlsRequired);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        if config.get_keepalives_interval().is_none() {
            config.keepalives_interval(KEEPALIVE_INTERVAL);
        }
        if config.get_keepalives_retries().is_none() {
            config.keepalives_retries(KEEPALIVE_RETRIES);
        }
        let options = match config.get_options() {
            Some(options) => format!("{options} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_string(),
        };
        config
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .options(&options);
        if config.get_application_name().is_none() {
            config.application_name("entity-service");
        }
        Ok(Self { config })
    }

    /// One connection attempt.
    pub fn connect(&self) -> Result<Client, postgres::Error> {
        self.config.connect(NoTls)
    }

    /// The database's name and first host, for log lines (no password).
    pub fn describe(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(host)) => host.clone(),
            Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self
            .config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres");
        format!("{db} at {host}:{port}")
    }
}

/// The wait between connection attempts: doubles from [`Backoff::FIRST`]
/// up to [`Backoff::MOST`] while attempts fail, and starts over after one
/// succeeds.
pub struct Backoff {
    delay: Duration,
    next_attempt: Instant,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(50);
    pub const MOST: Duration = Duration::from_secs(2);

    pub fn new() -> Self {
        Self {
            delay: Self::FIRST,
            next_attempt: Instant::now(),
        }
    }

    /// Whether an attempt may be made now.
    pub fn due(&self) -> bool {
        Instant::now() >= self.next_attempt
    }

    /// How long until the next attempt may be made.
    pub fn remaining(&self) -> Duration {
        self.next_attempt.saturating_duration_since(Instant::now())
    }

    /// An attempt failed: wait longer before the next.
    pub fn failed(&mut self) {
        self.next_attempt = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(Self::MOST);
    }

    /// An attempt succeeded.
    pub fn succeeded(&mut self) {
        self.delay = Self::FIRST;
        self.next_attempt = Instant::now();
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}
