//! Drives a grpcio server-streaming sink from a plain OS thread, for streams
//! that wait on a crossbeam channel (health changes). Every wait is a
//! crossbeam `select!` on the call's own wake-ups, so the thread learns at
//! once when the client cancels or the deadline passes, without polling and
//! without a send.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use futures_util::Sink;
use grpcio::{RpcStatusCode, ServerStreamingSink, WriteFlags};

/// Longest wait between looks at the sink (a safety net for lost wake-ups).
const RECHECK: Duration = Duration::from_millis(100);

/// The client cancelled, its deadline passed, or the call otherwise ended.
#[derive(Debug, PartialEq, Eq)]
pub struct CallGone;

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
    pub fn check_call(&mut self) -> Result<(), CallGone> {
        match self.poll(|sink, cx| sink.poll_flush(cx)) {
            Poll::Ready(Err(_)) => Err(CallGone),
            _ => Ok(()),
        }
    }

    /// Sends one message and waits until the transport took it.
    pub fn send(&mut self, message: T) -> Result<(), CallGone> {
        loop {
            match self.poll(|sink, cx| sink.poll_ready(cx)) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(_)) => return Err(CallGone),
                Poll::Pending => {
                    let _ = self.woken.recv_timeout(RECHECK);
                }
            }
        }
        Pin::new(&mut self.sink)
            .start_send((message, WriteFlags::default()))
            .map_err(|_| CallGone)?;
        loop {
            match self.poll(|sink, cx| sink.poll_flush(cx)) {
                Poll::Ready(Ok(())) => return Ok(()),
                Poll::Ready(Err(_)) => return Err(CallGone),
                Poll::Pending => {
                    let _ = self.woken.recv_timeout(RECHECK);
                }
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
                    let _ = self.woken.recv_timeout(RECHECK);
                }
            }
        }
    }
}
