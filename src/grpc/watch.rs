//! WatchEntities streams, served as tasks on the completion queue: the
//! stream's sends complete and the next one starts on the same thread, so a
//! watcher keeps up with creates (a thread per watch waiting for each write
//! fell behind bursts).
//!
//! A watch first replays the stored entities with id > after_id (in chunks,
//! taking the store lock briefly for each), then forwards each new entity
//! from the store's crossbeam feed; the store wakes the task through the
//! watch's waker. It ends when the client cancels or its deadline passes
//! (the call's close event wakes the task at once), when the service stops
//! (status OK), or when the client reads so slowly that it falls
//! [`WATCH_BUFFER`] entities behind (RESOURCE_EXHAUSTED), so a stuck watcher
//! never slows creates or grows memory.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{select, Either};
use futures_util::{SinkExt, Stream};
use grpcio::{RpcStatus, RpcStatusCode, ServerStreamingSink, WriteFlags};

use super::stream::close_stream;
use crate::proto::entities::Entity;
use crate::store::{Store, Watch, WATCH_BUFFER};

/// Entities replayed per store lock.
const REPLAY_CHUNK: usize = 256;

type Message = Result<(Entity, WriteFlags), grpcio::Error>;

/// How a stage of the stream ended.
enum Ended {
    /// All sent.
    Done,
    /// The call ended (cancel, deadline) while sending.
    CallGone,
    /// The watcher fell too far behind.
    Overflowed,
}

/// Serves one watch, as a task on the completion queue; returns the call's
/// final code.
pub async fn serve(
    store: Arc<Store>,
    watch: Watch,
    mut sink: ServerStreamingSink<Entity>,
) -> RpcStatusCode {
    let watch = &watch;
    let mut next = watch.replay_from;
    let mut ended = Ended::Done;
    while next <= watch.replay_to {
        let room = (watch.replay_to - next + 1) as usize;
        let chunk = store.list(next, room.min(REPLAY_CHUNK));
        let Some(last) = chunk.last() else { break };
        next = last.id + 1;
        let count = chunk.len();
        let mut messages =
            futures_util::stream::iter(chunk.into_iter().enumerate().map(|(i, entity)| {
                // Let the transport batch all but the last message of the chunk.
                Ok((
                    Entity::from(&*entity),
                    WriteFlags::default().buffer_hint(i + 1 < count),
                ))
            }));
        ended = send_unless_overflowed(&mut sink, &mut messages, watch).await;
        if !matches!(ended, Ended::Done) {
            break;
        }
    }
    if matches!(ended, Ended::Done) {
        ended = send_unless_overflowed(&mut sink, &mut Feed { watch }, watch).await;
    }
    match ended {
        // The feed ended: overflow, or the service is stopping.
        Ended::Done if watch.overflowed.load(Ordering::SeqCst) => fail_overflowed(sink).await,
        Ended::Done => close_stream(sink).await,
        Ended::CallGone => RpcStatusCode::CANCELLED,
        Ended::Overflowed => fail_overflowed(sink).await,
    }
}

/// Sends every message, unless the watcher overflows first (which also
/// ends a send stuck on a client that does not read).
async fn send_unless_overflowed(
    sink: &mut ServerStreamingSink<Entity>,
    messages: &mut (impl Stream<Item = Message> + Unpin),
    watch: &Watch,
) -> Ended {
    let overflow = futures_util::future::poll_fn(|cx| {
        watch.waker.register(cx.waker());
        if watch.overflowed.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    });
    let sending = sink.send_all(messages);
    match select(sending, std::pin::pin!(overflow)).await {
        Either::Left((Ok(()), _)) => Ended::Done,
        Either::Left((Err(_), _)) => Ended::CallGone,
        Either::Right(((), _)) => Ended::Overflowed,
    }
}

async fn fail_overflowed(sink: ServerStreamingSink<Entity>) -> RpcStatusCode {
    let status = RpcStatus::with_message(
        RpcStatusCode::RESOURCE_EXHAUSTED,
        format!(
            "watcher fell more than {WATCH_BUFFER} entities behind; \
             watch again with after_id set to the last id received"
        ),
    );
    let _ = sink.fail(status).await;
    RpcStatusCode::RESOURCE_EXHAUSTED
}

/// The store's crossbeam feed as an async stream; ends when the feed does.
struct Feed<'a> {
    watch: &'a Watch,
}

impl Feed<'_> {
    fn message(&self, entity: &crate::entity::Entity) -> Message {
        // Hint batching only when another entity is already waiting, so the
        // last one of a burst is always flushed.
        let more = !self.watch.feed.is_empty();
        Ok((
            Entity::from(entity),
            WriteFlags::default().buffer_hint(more),
        ))
    }
}

impl Stream for Feed<'_> {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        use crossbeam_channel::TryRecvError;
        match self.watch.feed.try_recv() {
            Ok(entity) => return Poll::Ready(Some(self.message(&entity))),
            Err(TryRecvError::Disconnected) => return Poll::Ready(None),
            Err(TryRecvError::Empty) => {}
        }
        // Register, then look again, so an entity offered in between is not missed.
        self.watch.waker.register(cx.waker());
        match self.watch.feed.try_recv() {
            Ok(entity) => Poll::Ready(Some(self.message(&entity))),
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }
}
