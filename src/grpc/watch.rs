//! WatchEntities streams: one thread per open watch, fed by the store's
//! crossbeam watch feed.
//!
//! A watch first replays the stored entities with id > after_id (in chunks,
//! taking the store lock briefly for each), then forwards each new entity.
//! It ends when the client cancels or its deadline passes (noticed at once:
//! the call's close event wakes the thread, not the next create), when the
//! service stops (status OK), or when the client reads so slowly that it
//! falls [`WATCH_BUFFER`](crate::store::WATCH_BUFFER) entities behind
//! (RESOURCE_EXHAUSTED), so a stuck watcher never slows creates or grows memory.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crossbeam_channel::{select, Receiver, Sender};
use futures_util::Sink;
use grpcio::{RpcStatus, RpcStatusCode, ServerStreamingSink, WriteFlags};

use super::call::CallScope;
use crate::proto::entities::Entity;
use crate::store::{Store, Watch};

/// Entities replayed per store lock.
const REPLAY_CHUNK: usize = 256;
/// How often a blocked send re-checks whether the watcher has overflowed.
const OVERFLOW_CHECK: Duration = Duration::from_millis(100);

/// Starts the thread that serves one watch.
pub fn spawn(store: Arc<Store>, watch: Watch, sink: ServerStreamingSink<Entity>, scope: CallScope) {
    let spawned = std::thread::Builder::new()
        .name("watch".into())
        .spawn(move || {
            let stream = WatchStream::new(sink, watch.overflowed.clone());
            let code = stream.run(&store, &watch);
            scope.finish(code);
        });
    if let Err(error) = spawned {
        // The sink was moved into the closure and dropped: the call is cancelled.
        log::error!("cannot start a watch thread: {error}");
    }
}

/// Why a stream ended early.
enum Ended {
    /// The client cancelled, its deadline passed, or the call otherwise finished.
    CallGone,
    /// The watcher fell too far behind.
    Overflowed,
}

/// A wake-up for the watch thread: the call's events arrive on a channel.
struct WakeSignal(Sender<()>);

impl Wake for WakeSignal {
    fn wake(self: Arc<Self>) {
        let _ = self.0.try_send(());
    }
}

/// Drives a grpcio sink from a plain thread: every wait is a crossbeam
/// `select!` on the call's wake-ups and the watch feed.
struct WatchStream {
    sink: ServerStreamingSink<Entity>,
    waker: Waker,
    woken: Receiver<()>,
    overflowed: Arc<std::sync::atomic::AtomicBool>,
}

impl WatchStream {
    fn new(
        sink: ServerStreamingSink<Entity>,
        overflowed: Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        let (wake_tx, woken) = crossbeam_channel::bounded(1);
        Self {
            sink,
            waker: Waker::from(Arc::new(WakeSignal(wake_tx))),
            woken,
            overflowed,
        }
    }

    fn run(mut self, store: &Store, watch: &Watch) -> RpcStatusCode {
        match self.replay(store, watch).and_then(|()| self.forward(watch)) {
            Ok(()) => self.close(),
            Err(Ended::CallGone) => RpcStatusCode::CANCELLED,
            Err(Ended::Overflowed) => self.fail_overflowed(),
        }
    }

    fn replay(&mut self, store: &Store, watch: &Watch) -> Result<(), Ended> {
        let mut next = watch.replay_from;
        while next <= watch.replay_to {
            let room = (watch.replay_to - next + 1) as usize;
            let chunk = store.list(next, room.min(REPLAY_CHUNK));
            if chunk.is_empty() {
                break;
            }
            for entity in chunk {
                next = entity.id + 1;
                self.send(Entity::from(&*entity))?;
            }
        }
        Ok(())
    }

    fn forward(&mut self, watch: &Watch) -> Result<(), Ended> {
        loop {
            // Register for the call's close event, then wait for either.
            self.check_call()?;
            select! {
                recv(watch.feed) -> next => match next {
                    Ok(entity) => self.send(Entity::from(&*entity))?,
                    Err(_) if self.overflowed.load(Ordering::SeqCst) => return Err(Ended::Overflowed),
                    Err(_) => return Ok(()), // the service is stopping
                },
                recv(self.woken) -> _ => {}
            }
        }
    }

    fn poll<T>(
        &mut self,
        op: impl FnOnce(Pin<&mut ServerStreamingSink<Entity>>, &mut Context) -> Poll<T>,
    ) -> Poll<T> {
        let mut cx = Context::from_waker(&self.waker);
        op(Pin::new(&mut self.sink), &mut cx)
    }

    /// Whether the call is still alive; also arms the wake-up for its end.
    fn check_call(&mut self) -> Result<(), Ended> {
        match self.poll(|sink, cx| sink.poll_flush(cx)) {
            Poll::Ready(Err(_)) => Err(Ended::CallGone),
            _ => Ok(()),
        }
    }

    /// Waits for the sink to make progress, giving up if the watcher overflows.
    fn wait(&self) -> Result<(), Ended> {
        select! {
            recv(self.woken) -> _ => Ok(()),
            default(OVERFLOW_CHECK) => {
                if self.overflowed.load(Ordering::SeqCst) {
                    Err(Ended::Overflowed)
                } else {
                    Ok(())
                }
            }
        }
    }

    fn send(&mut self, entity: Entity) -> Result<(), Ended> {
        loop {
            match self.poll(|sink, cx| sink.poll_ready(cx)) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(_)) => return Err(Ended::CallGone),
                Poll::Pending => self.wait()?,
            }
        }
        Pin::new(&mut self.sink)
            .start_send((entity, WriteFlags::default()))
            .map_err(|_| Ended::CallGone)?;
        loop {
            match self.poll(|sink, cx| sink.poll_flush(cx)) {
                Poll::Ready(Ok(())) => return Ok(()),
                Poll::Ready(Err(_)) => return Err(Ended::CallGone),
                Poll::Pending => self.wait()?,
            }
        }
    }

    fn close(&mut self) -> RpcStatusCode {
        loop {
            match self.poll(|sink, cx| sink.poll_close(cx)) {
                Poll::Ready(Ok(())) => return RpcStatusCode::OK,
                Poll::Ready(Err(_)) => return RpcStatusCode::CANCELLED,
                Poll::Pending => {
                    let _ = self.woken.recv_timeout(OVERFLOW_CHECK);
                }
            }
        }
    }

    fn fail_overflowed(self) -> RpcStatusCode {
        let status = RpcStatus::with_message(
            RpcStatusCode::RESOURCE_EXHAUSTED,
            format!(
                "watcher fell more than {} entities behind; reconnect with after_id set to the last id received",
                crate::store::WATCH_BUFFER
            ),
        );
        let code = status.code();
        let _ = futures_executor::block_on(self.sink.fail(status));
        code
    }
}
