//! Drives a grpcio server-streaming sink from a plain OS thread, for streams
//! that wait on something other than the completion queue (the watch feed,
//! health changes). Every wait is a crossbeam `select!` on the call's own
//! wake-ups, so the thread learns at once when the client cancels or the
//! deadline passes, without polling and without a send.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crossbeam_channel::{select, Receiver, Sender};
use futures_util::Sink;
use grpcio::{RpcStatus, RpcStatusCode, ServerStreamingSink, WriteFlags};

/// How often a blocked send asks whether to give up.
const GIVE_UP_CHECK: Duration = Duration::from_millis(100);

/// Why a send did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// The client cancelled, its deadline passed, or the call otherwise ended.
    CallGone,
    /// The caller's give-up condition became true while the send was blocked.
    GaveUp,
}

/// Wakes the driving thread through a channel.
struct WakeSignal(Sender<()>);

impl Wake for WakeSignal {
    fn wake(self: Arc<Self>) {
        let _ = self.0.try_send(());
    }
}

/// A server-streaming sink owned by a thread.
pub struct ThreadSink<T> {
    sink: ServerStreamingSink<T>,
    waker: Waker,
    woken: Receiver<()>,
}

impl<T> ThreadSink<T> {
    /// Takes over a sink.
    pub fn new(sink: ServerStreamingSink<T>) -> Self {
        let (wake_tx, woken) = crossbeam_channel::bounded(1);
        Self {
            sink,
            waker: Waker::from(Arc::new(WakeSignal(wake_tx))),
            woken,
        }
    }

    /// Signals that something happened on the call; use it in `select!`
    /// after [`ThreadSink::check_call`] armed it.
    pub fn woken(&self) -> &Receiver<()> {
        &self.woken
    }

    fn poll<R>(
        &mut self,
        op: impl FnOnce(Pin<&mut ServerStreamingSink<T>>, &mut Context) -> Poll<R>,
    ) -> Poll<R> {
        let mut cx = Context::from_waker(&self.waker);
        op(Pin::new(&mut self.sink), &mut cx)
    }

    /// Whether the call is still alive; also arms the wake-up for its end.
    pub fn check_call(&mut self) -> Result<(), SendError> {
        match self.poll(|sink, cx| sink.poll_flush(cx)) {
            Poll::Ready(Err(_)) => Err(SendError::CallGone),
            _ => Ok(()),
        }
    }

    fn wait(&self, give_up: &dyn Fn() -> bool) -> Result<(), SendError> {
        select! {
            recv(self.woken) -> _ => Ok(()),
            default(GIVE_UP_CHECK) => if give_up() { Err(SendError::GaveUp) } else { Ok(()) },
        }
    }

    /// Sends one message and waits until the transport took it, giving up
    /// if `give_up()` turns true meanwhile (e.g. the client stopped reading).
    pub fn send(&mut self, message: T, give_up: &dyn Fn() -> bool) -> Result<(), SendError> {
        loop {
            match self.poll(|sink, cx| sink.poll_ready(cx)) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(_)) => return Err(SendError::CallGone),
                Poll::Pending => self.wait(give_up)?,
            }
        }
        Pin::new(&mut self.sink)
            .start_send((message, WriteFlags::default()))
            .map_err(|_| SendError::CallGone)?;
        loop {
            match self.poll(|sink, cx| sink.poll_flush(cx)) {
                Poll::Ready(Ok(())) => return Ok(()),
                Poll::Ready(Err(_)) => return Err(SendError::CallGone),
                Poll::Pending => self.wait(give_up)?,
            }
        }
    }

    /// Ends the stream with OK; CANCELLED if the call was already gone.
    pub fn close(mut self) -> RpcStatusCode {
        loop {
            match self.poll(|sink, cx| sink.poll_close(cx)) {
                Poll::Ready(Ok(())) => return RpcStatusCode::OK,
                Poll::Ready(Err(_)) => return RpcStatusCode::CANCELLED,
                Poll::Pending => {
                    let _ = self.woken.recv_timeout(GIVE_UP_CHECK);
                }
            }
        }
    }

    /// Ends the stream with this status.
    pub fn fail(self, status: RpcStatus) -> RpcStatusCode {
        let code = status.code();
        let _ = futures_executor::block_on(self.sink.fail(status));
        code
    }
}
