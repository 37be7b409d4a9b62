//! How our streams send, answer and end, shared by the handlers of every
//! service: a server stream sent to its end, a bidirectional stream answered
//! message by message, and the status naming a stream's faulty message.

use std::future::Future;

use futures_util::{SinkExt, Stream, TryStreamExt};
use grpcio::{DuplexSink, RequestStream, RpcStatusCode, ServerStreamingSink, WriteFlags};

use super::decode::Decoded;
use crate::status::Status;

/// Sends every message of a server stream, then ends it with OK;
/// CANCELLED if the call ended first (cancel, deadline).
pub async fn send_then_close<T>(
    mut sink: ServerStreamingSink<T>,
    messages: &mut (impl Stream<Item = grpcio::Result<(T, WriteFlags)>> + Unpin),
) -> RpcStatusCode {
    match sink.send_all(messages).await {
        Ok(()) => close_stream(sink).await,
        Err(_) => RpcStatusCode::CANCELLED,
    }
}

/// Ends a server stream with `status` before any message; returns its code.
pub async fn fail_stream<T>(sink: ServerStreamingSink<T>, status: Status) -> RpcStatusCode {
    let code = status.code;
    let _ = sink.fail(status.into()).await;
    code
}

/// Ends a server stream with OK; CANCELLED if the call ended first.
pub async fn close_stream<T>(mut sink: ServerStreamingSink<T>) -> RpcStatusCode {
    match sink.close().await {
        Ok(()) => RpcStatusCode::OK,
        Err(_) => RpcStatusCode::CANCELLED,
    }
}

/// Serves a bidirectional stream: answers each request as it arrives, in
/// order, each flushed at once (so ping-pong clients work). `answer` starts
/// each response (a future: it may wait for a catch-up); its error, or a
/// request that cannot be decoded, ends the call with that status. Returns
/// the call's final code.
pub async fn answer_each<Req, Resp, Answer>(
    mut requests: RequestStream<Decoded<Req>>,
    mut sink: DuplexSink<Resp>,
    mut answer: impl FnMut(Req) -> Result<Answer, Status>,
) -> RpcStatusCode
where
    Answer: Future<Output = Result<Resp, Status>>,
{
    let mut index = 0usize;
    loop {
        let request = match requests.try_next().await {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(_) => return RpcStatusCode::CANCELLED,
        };
        let started = request
            .map_err(|error| at_index("message", index, error.into()))
            .and_then(&mut answer);
        let answered = match started {
            Ok(response) => response.await,
            Err(status) => Err(status),
        };
        index += 1;
        match answered {
            Ok(response) => {
                if sink.send((response, WriteFlags::default())).await.is_err() {
                    return RpcStatusCode::CANCELLED;
                }
            }
            Err(status) => {
                let code = status.code;
                let _ = sink.fail(status.into()).await;
                return code;
            }
        }
    }
    match sink.close().await {
        Ok(()) => RpcStatusCode::OK,
        Err(_) => RpcStatusCode::CANCELLED,
    }
}

/// `status` for the `what` at `index` of a request stream, e.g.
/// "entity at index 2: name must not be empty".
pub fn at_index(what: &str, index: usize, status: Status) -> Status {
    let message = format!("{what} at index {index}: {}", status.message);
    Status::new(status.code, message)
}
