//! Group commit, for every backing that writes (the journal, PostgreSQL):
//! one writer thread takes the creates queued while its last batch was
//! being made durable as its next batch, makes the whole batch durable at
//! once ([`BatchLog::append`]: one write and one sync, or one transaction),
//! publishes it into the store's index and answers each waiting create.
//! Creates that arrive together share the cost of one commit.

use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use futures_channel::oneshot;

use crate::backing::{Answer, CommitError, Index};
use crate::entity::Entity;
use crate::validation::NewEntity;

/// Where a batch is made durable.
pub trait BatchLog: Send + 'static {
    /// Makes `batch` durable under the next ids, in order, and returns the
    /// entities as stored; on failure none of them is stored and their ids
    /// go to later creates.
    fn append(&mut self, batch: Vec<NewEntity>) -> Result<Vec<Arc<Entity>>, CommitError>;

    /// The graceful end, after the last batch.
    fn close(self);
}

/// A message to the writer thread.
enum Request {
    /// Make this entity durable, then answer on `done`.
    Create {
        new: NewEntity,
        done: oneshot::Sender<Answer>,
    },
    /// Finish what was queued before, then close the log.
    Stop,
}

/// The running writer thread: where creates are queued.
pub struct Writer {
    requests: Sender<Request>,
    /// Joined by [`Writer::close`].
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the thread `name`, writing batches of at most `max_batch`
    /// creates to `log` and publishing each into `index`.
    pub fn start<L: BatchLog>(
        name: &str,
        log: L,
        max_batch: usize,
        index: Arc<dyn Index>,
    ) -> io::Result<Self> {
        let (requests, receiver) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(log, max_batch, &*index, &receiver))?;
        Ok(Self {
            requests,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a create for the next batch.
    pub fn submit(&self, new: NewEntity) -> oneshot::Receiver<Answer> {
        let (done, answer) = oneshot::channel();
        // A send fails only once the writer has stopped; `done` then drops
        // with the request and the receiver reports the stop.
        let _ = self.requests.send(Request::Create { new, done });
        answer
    }

    /// Graceful end: what was queued is committed and answered, then the
    /// log closes; later creates are answered [`CommitError::Stopped`].
    pub fn close(&self) {
        let thread = crate::sync::lock(&self.thread).take();
        if let Some(thread) = thread {
            let _ = self.requests.send(Request::Stop);
            if thread.join().is_err() {
                log::error!("a group-commit writer panicked");
            }
        }
    }
}

/// Serves requests until [`Request::Stop`] or until every sender is gone.
fn run<L: BatchLog>(mut log: L, max_batch: usize, index: &dyn Index, requests: &Receiver<Request>) {
    let mut stopping = false;
    while !stopping {
        let Ok(first) = requests.recv() else { break };
        let mut batch = Vec::new();
        let mut waiting = Vec::new();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                Request::Create { new, done } => {
                    batch.push(new);
                    waiting.push(done);
                }
                Request::Stop => stopping = true,
            }
            if !stopping && batch.len() < max_batch {
                next = requests.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        match log.append(batch) {
            Ok(entities) => {
                index.extend(&entities);
                for (done, entity) in waiting.into_iter().zip(entities) {
                    let _ = done.send(Ok(entity));
                }
            }
            Err(error) => {
                for done in waiting {
                    let _ = done.send(Err(error.clone()));
                }
            }
        }
    }
    log.close();
}
