//! Reading a streamed chat completion: body bytes → server-sent events → [`EngineEvent`]s.
//!
//! The body is read lazily, as the caller polls, with no task of its own: dropping the
//! stream drops the connection. Each read of the body is bounded by the idle timeout, so a
//! stalled provider ends the reply with `Timeout` instead of hanging it (SSE comments such
//! as `: ping` count as life). The stream yields one `Delta` per non-empty piece of content,
//! then exactly one `Done`, or an `Err` that ends it:
//!
//! - `data: [DONE]`: `Done`, with the `finish_reason` seen (`Stop` when none was).
//! - the body ends without `[DONE]`: `Done` when a `finish_reason` came (the text is
//!   complete; only the usage chunk may be missing), else `Cut`.
//! - a payload that is not JSON of the chunk shape: `Malformed`; an error payload (OpenAI and
//!   vLLM report failures after the headers this way): `Status` with status 200.
//! - a transport error: `Cut`; silence longer than the idle timeout: `Timeout`. Once a
//!   `finish_reason` has come, faults only cost the usage, so they end with `Done` too.

use crate::engine::{cut, error_chain};
use crate::wire::{self, Chunk};
use bytes::Bytes;
use eventsource_stream::{EventStream, EventStreamError, Eventsource};
use futures::stream::{self as fstream, BoxStream};
use futures::{Stream, StreamExt};
use parlor_core::engine::{EngineError, EngineEvent, EngineStream, Usage};
use parlor_core::model::FinishReason;
use std::time::Duration;

/// A response body whose every read is bounded by the idle timeout.
pub(crate) type Body = BoxStream<'static, Result<Bytes, Fault>>;

/// Why reading the body stopped early.
#[derive(Debug)]
pub(crate) enum Fault {
    /// Nothing arrived for longer than the idle timeout.
    Idle,
    /// The connection failed (reset, closed mid-chunk, …).
    Transport(reqwest::Error),
}

impl Fault {
    pub(crate) fn into_error(self) -> EngineError {
        match self {
            Fault::Idle => EngineError::Timeout,
            Fault::Transport(e) if e.is_timeout() => EngineError::Timeout,
            Fault::Transport(e) => {
                tracing::debug!(error = %error_chain(&e), "provider body failed");
                EngineError::Cut
            }
        }
    }
}

/// Wraps a response body so that each read waits at most `idle`. The first fault ends it.
pub(crate) fn idle_bounded(
    body: impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    idle: Duration,
) -> Body {
    fstream::unfold(Some(body.boxed()), move |body| async move {
        let mut body = body?;
        match tokio::time::timeout(idle, body.next()).await {
            Err(_) => Some((Err(Fault::Idle), None)),
            Ok(None) => None,
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(body))),
            Ok(Some(Err(e))) => Some((Err(Fault::Transport(e)), None)),
        }
    })
    .boxed()
}

/// The engine events of a streamed completion.
pub(crate) fn events(body: Body) -> EngineStream {
    let reader = Reader { events: body.eventsource(), finish: None, usage: None, ended: false };
    fstream::unfold(reader, |mut reader| async move {
        let item = reader.next().await?;
        Some((item, reader))
    })
    .boxed()
}

struct Reader {
    events: EventStream<Body>,
    /// The `finish_reason` of choice 0, once one came.
    finish: Option<FinishReason>,
    /// The last usage reported (OpenAI sends `"usage": null` on every chunk but the last).
    usage: Option<Usage>,
    /// `Done` or an error was yielded: nothing more comes.
    ended: bool,
}

impl Reader {
    async fn next(&mut self) -> Option<Result<EngineEvent, EngineError>> {
        if self.ended {
            return None;
        }
        loop {
            let event = match self.events.next().await {
                None => return Some(self.end(EngineError::Cut)),
                Some(Err(e)) => return Some(self.end(sse_error(e))),
                Some(Ok(event)) => event,
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                self.ended = true;
                return Some(Ok(self.done(self.finish.unwrap_or(FinishReason::Stop))));
            }
            let chunk: Chunk = match serde_json::from_str(data) {
                Ok(chunk) => chunk,
                Err(e) => {
                    return Some(
                        self.end(EngineError::Malformed(format!("{e} in chunk {}", cut(data, 200)))),
                    );
                }
            };
            if let Some(error) = chunk.error {
                let body = cut(&wire::error_message(&error), 1024);
                return Some(self.end(EngineError::Status { status: 200, body }));
            }
            if let Some(usage) = chunk.usage {
                self.usage = Some(usage.into());
            }
            let mut text = String::new();
            for choice in chunk.choices.unwrap_or_default() {
                if choice.index.unwrap_or(0) != 0 {
                    continue;
                }
                if let Some(content) = choice.delta.and_then(|d| d.content) {
                    text.push_str(&content.into_text());
                }
                if let Some(reason) = choice.finish_reason {
                    self.finish = Some(wire::finish_reason(&reason));
                }
            }
            if !text.is_empty() {
                return Some(Ok(EngineEvent::Delta(text)));
            }
        }
    }

    /// Ends the stream on a fault: with `Done` when the reply was already complete, else
    /// with the error.
    fn end(&mut self, error: EngineError) -> Result<EngineEvent, EngineError> {
        self.ended = true;
        match self.finish {
            Some(finish) => {
                if error != EngineError::Cut {
                    tracing::warn!(%error, "provider stream failed after finish_reason; reply kept");
                }
                Ok(self.done(finish))
            }
            None => Err(error),
        }
    }

    fn done(&self, finish: FinishReason) -> EngineEvent {
        EngineEvent::Done { finish, usage: self.usage }
    }
}

fn sse_error(e: EventStreamError<Fault>) -> EngineError {
    match e {
        EventStreamError::Transport(fault) => fault.into_error(),
        EventStreamError::Utf8(e) => EngineError::Malformed(format!("stream is not UTF-8: {e}")),
        EventStreamError::Parser(e) => EngineError::Malformed(format!("not a server-sent event stream: {e}")),
    }
}
