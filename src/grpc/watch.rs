//! WatchEntities streams: one thread per open watch, fed by the store's
//! crossbeam watch feed.
//!
//! A watch first replays the stored entities with id > after_id (in chunks,
//! taking the store lock briefly for each), then forwards each new entity.
//! It ends when the client cancels or its deadline passes (noticed at once,
//! see [`ThreadSink`]), when the service stops (status OK), or when the
//! client reads so slowly that it falls [`WATCH_BUFFER`] entities behind
//! (RESOURCE_EXHAUSTED), so a stuck watcher never slows creates or grows memory.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::select;
use grpcio::{RpcStatus, RpcStatusCode, ServerStreamingSink};

use super::call::CallScope;
use super::thread_sink::{SendError, ThreadSink};
use crate::proto::entities::Entity;
use crate::store::{Store, Watch, WATCH_BUFFER};

/// Entities replayed per store lock.
const REPLAY_CHUNK: usize = 256;

/// Starts the thread that serves one watch.
pub fn spawn(store: Arc<Store>, watch: Watch, sink: ServerStreamingSink<Entity>, scope: CallScope) {
    let spawned = std::thread::Builder::new()
        .name("watch".into())
        .spawn(move || {
            let code = serve(&store, &watch, ThreadSink::new(sink));
            scope.finish(code);
        });
    if let Err(error) = spawned {
        // The sink was moved into the closure and dropped: the call is cancelled.
        log::error!("cannot start a watch thread: {error}");
    }
}

fn serve(store: &Store, watch: &Watch, mut sink: ThreadSink<Entity>) -> RpcStatusCode {
    let overflowed = || watch.overflowed.load(Ordering::SeqCst);
    let outcome = replay(store, watch, &mut sink, &overflowed)
        .and_then(|()| forward(watch, &mut sink, &overflowed));
    match outcome {
        Ok(()) => sink.close(),
        Err(SendError::CallGone) => RpcStatusCode::CANCELLED,
        Err(SendError::GaveUp) => sink.fail(RpcStatus::with_message(
            RpcStatusCode::RESOURCE_EXHAUSTED,
            format!(
                "watcher fell more than {WATCH_BUFFER} entities behind; \
                 watch again with after_id set to the last id received"
            ),
        )),
    }
}

fn replay(
    store: &Store,
    watch: &Watch,
    sink: &mut ThreadSink<Entity>,
    overflowed: &dyn Fn() -> bool,
) -> Result<(), SendError> {
    let mut next = watch.replay_from;
    while next <= watch.replay_to {
        let room = (watch.replay_to - next + 1) as usize;
        let chunk = store.list(next, room.min(REPLAY_CHUNK));
        if chunk.is_empty() {
            break;
        }
        for entity in chunk {
            next = entity.id + 1;
            sink.send(Entity::from(&*entity), overflowed)?;
        }
    }
    Ok(())
}

fn forward(
    watch: &Watch,
    sink: &mut ThreadSink<Entity>,
    overflowed: &dyn Fn() -> bool,
) -> Result<(), SendError> {
    loop {
        // Arm the wake-up for the call's end, then wait for either.
        sink.check_call()?;
        select! {
            recv(watch.feed) -> next => match next {
                Ok(entity) => sink.send(Entity::from(&*entity), overflowed)?,
                Err(_) if overflowed() => return Err(SendError::GaveUp),
                Err(_) => return Ok(()), // the service is stopping
            },
            recv(sink.woken()) -> _ => {}
        }
    }
}
