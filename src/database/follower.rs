//! Keeping this instance's index up with the table: the follower thread
//! runs catch-up queries, the listener thread hears of commits.
//!
//! What the index applies is decided only by a catch-up query, in id order,
//! from the index's end: notifications just wake the follower. A round
//! starts when a read asks for one (a GET past the end, a List that reached
//! it), when the listener hears a commit, and at least every
//! [`POLL_INTERVAL`] as a safety net; every request queued while a round
//! runs is answered by the next, so a read is only answered by a query that
//! began after it asked, and concurrent reads share one query.
//!
//! The listener LISTENs first, then asks for a catch-up, on every
//! (re)connection, so no commit falls between the two.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use fallible_iterator::FallibleIterator;
use futures_channel::oneshot;

use super::connection::{Backoff, Settings};
use super::rows::{ReadError, PAGE};
use super::schema::{self, SchemaError, CHANNEL};
use super::session::Session;
use super::stats::ErrorKind;
use super::Shared;
use crate::backing::CommitError;
use crate::readiness::Readiness;

/// A catch-up round runs at least this often, notification or not.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long the listener waits for a notification before it checks
/// whether it should stop.
const LISTEN_TICK: Duration = Duration::from_millis(250);

/// What the follower thread is asked.
pub enum Signal {
    /// Run a round soon (a commit was heard, or a watch reached the end).
    Wake,
    /// Run a round that starts after now and say how it went.
    Wait(oneshot::Sender<Result<(), CommitError>>),
    /// Answer what is queued and end.
    Stop,
}

/// The follower thread's state.
pub struct Follower {
    settings: Settings,
    session: Option<Session>,
    backoff: Backoff,
    /// Why the last round failed, told to reads while the backoff runs.
    last_error: String,
    shared: Arc<Shared>,
    readiness: Arc<Readiness>,
}

impl Follower {
    /// A follower starting with `session` (connected and migrated at
    /// start), or with none when the database was not reached.
    pub fn new(
        settings: Settings,
        session: Option<Session>,
        shared: Arc<Shared>,
        readiness: Arc<Readiness>,
    ) -> Self {
        Self {
            settings,
            session,
            backoff: Backoff::new(),
            last_error: "the database has not been reached yet".into(),
            shared,
            readiness,
        }
    }

    /// Serves rounds until [`Signal::Stop`].
    pub fn run(mut self, signals: &Receiver<Signal>) {
        loop {
            let timeout = if self.session.is_some() {
                POLL_INTERVAL
            } else {
                self.backoff.remaining().max(Backoff::FIRST)
            };
            let first = match signals.recv_timeout(timeout) {
                Ok(signal) => Some(signal),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut waiting = Vec::new();
            let mut stopping = false;
            for signal in first.into_iter().chain(signals.try_iter()) {
                match signal {
                    Signal::Wake => {}
                    Signal::Wait(done) => waiting.push(done),
                    Signal::Stop => stopping = true,
                }
            }
            if stopping {
                for done in waiting {
                    let _ = done.send(Err(CommitError::Stopped));
                }
                if let Some(session) = self.session.take() {
                    let _ = session.client.close();
                }
                return;
            }
            let outcome = self.round();
            for done in waiting {
                let _ = done.send(outcome.clone());
            }
        }
    }

    /// One catch-up: reads every entity after the index's end into it. A
    /// connection that broke while idle (a database restarted, a proxy cut)
    /// is only found out by using it, so a read that fails on a kept
    /// connection gets one more try on a new one before the round fails.
    fn round(&mut self) -> Result<(), CommitError> {
        if self.session.as_ref().is_some_and(Session::is_closed) {
            self.session = None;
        }
        let kept = self.session.is_some();
        if !kept && !self.backoff.due() {
            return Err(CommitError::Unavailable(self.last_error.clone()));
        }
        match self.read_to_end() {
            Err(_) if kept && self.session.is_none() => {
                // Losing a connection that worked is not a failed attempt
                // to connect: the backoff starts afresh with this one.
                self.backoff.succeeded();
                self.read_to_end()
            }
            outcome => outcome,
        }?;
        self.shared.stats.indexed(self.shared.index.len());
        if !self.readiness.is_ready() {
            log::info!(
                "database {}: caught up at {} entities; serving",
                self.settings.describe(),
                self.shared.index.len()
            );
            self.readiness.mark_ready();
        }
        Ok(())
    }

    /// Connects if there is no session, then reads every entity after the
    /// index's end into it, a page at a time. A failure other than a
    /// refused statement drops the session.
    fn read_to_end(&mut self) -> Result<(), CommitError> {
        if self.session.is_none() {
            match self.connect() {
                Ok(session) => {
                    self.backoff.succeeded();
                    self.session = Some(session);
                }
                Err(reason) => {
                    self.backoff.failed();
                    self.last_error = reason;
                    return Err(CommitError::Unavailable(self.last_error.clone()));
                }
            }
        }
        let session = self.session.as_mut().expect("connected above");
        loop {
            let len = self.shared.index.len();
            self.shared.stats.catch_up_query();
            match session.read(len, i64::MAX) {
                Ok(entities) => {
                    let read = entities.len() as i64;
                    if let Some(last) = entities.last() {
                        self.shared.stats.saw_committed(last.id);
                    }
                    self.shared.index.extend(&entities);
                    if read < PAGE {
                        return Ok(());
                    }
                }
                Err(error) => {
                    let kind = match &error {
                        ReadError::Database(error) => ErrorKind::of(error),
                        ReadError::NotUtf8 { .. } => ErrorKind::Statement,
                    };
                    self.shared.stats.error(kind);
                    log::warn!("database follower: catch-up failed: {error}");
                    self.last_error = error.to_string();
                    if kind != ErrorKind::Statement {
                        self.session = None;
                        self.backoff.failed();
                    }
                    return Err(CommitError::Unavailable(self.last_error.clone()));
                }
            }
        }
    }

    /// Connects and, until the schema is known to be there, migrates it.
    fn connect(&mut self) -> Result<Session, String> {
        let mut client = self.settings.connect().map_err(|error| {
            self.shared.stats.error(ErrorKind::Connect);
            log::warn!(
                "database {}: cannot connect: {error}",
                self.settings.describe()
            );
            error.to_string()
        })?;
        if !self.shared.schema_ready() {
            if let Err(error) = schema::migrate(&mut client) {
                if let SchemaError::Newer(_) = error {
                    log::error!("database {}: {error}", self.settings.describe());
                } else {
                    self.shared.stats.error(ErrorKind::Statement);
                    log::warn!("database {}: {error}", self.settings.describe());
                }
                return Err(error.to_string());
            }
            self.shared.set_schema_ready();
        }
        Session::prepare(client).map_err(|error| {
            self.shared.stats.error(ErrorKind::of(&error));
            super::stats::reason(&error)
        })
    }
}

/// The listener thread: LISTEN on its own connection, wake the follower on
/// each notification, reconnect (LISTEN, then a catch-up) when the
/// connection breaks; ends once `stopping` is set.
pub fn listen(
    settings: &Settings,
    follower: &Sender<Signal>,
    shared: &Shared,
    stopping: &AtomicBool,
) {
    let mut backoff = Backoff::new();
    let mut connected_before = false;
    while !stopping.load(Ordering::SeqCst) {
        if !backoff.due() {
            std::thread::sleep(backoff.remaining().min(LISTEN_TICK));
            continue;
        }
        let mut client = match settings.connect() {
            Ok(client) => client,
            Err(error) => {
                shared.stats.error(ErrorKind::Connect);
                log::debug!("database listener: cannot connect: {error}");
                backoff.failed();
                continue;
            }
        };
        if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            shared.stats.error(ErrorKind::of(&error));
            backoff.failed();
            continue;
        }
        backoff.succeeded();
        if connected_before {
            shared.stats.listener_reconnected();
            log::info!("database listener: listening again");
        }
        connected_before = true;
        // What was committed before the LISTEN took effect.
        let _ = follower.send(Signal::Wake);
        while !stopping.load(Ordering::SeqCst) {
            let mut notifications = client.notifications();
            let mut heard = notifications.timeout_iter(LISTEN_TICK);
            let outcome = loop {
                match heard.next() {
                    Ok(Some(notification)) => {
                        if let Ok(last_id) = notification.payload().parse::<i64>() {
                            shared.stats.saw_committed(last_id);
                        }
                        let _ = follower.send(Signal::Wake);
                    }
                    Ok(None) => break Ok(()),
                    Err(error) => break Err(error),
                }
            };
            drop(heard);
            drop(notifications);
            if let Err(error) = &outcome {
                log::warn!("database listener: {error}");
            }
            if outcome.is_err() || client.is_closed() {
                shared.stats.error(ErrorKind::ConnectionLost);
                log::warn!("database listener: connection lost; reconnecting");
                backoff.failed();
                break;
            }
        }
    }
}
