//! [`LlmEngine`]: one provider's client, implementing [`parlor_core::engine::Engine`].
//!
//! `generate` sends the request and waits (bounded by `timeout`) for the response headers;
//! every failure up to there is an `Err` from `generate`, so the caller knows nothing was
//! produced. A streamed answer is then read lazily by [`crate::stream`]; a server that
//! ignores `stream: true` and answers with one JSON completion is read here, whole, and
//! replayed as one delta and `Done`. Nothing is retried: a retry after text was yielded would
//! repeat it, and a refused connection retried at once is almost always refused again.

use crate::config::{ConfigError, ProviderConfig};
use crate::prompt;
use crate::stream::{self, Body, Fault};
use crate::wire::{self, ChatRequest, Completion, StreamOptions};
use async_trait::async_trait;
use futures::StreamExt;
use parlor_core::engine::{Engine, EngineError, EngineEvent, EngineStream, GenerateRequest};
use parlor_core::model::FinishReason;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::fmt;

/// How much of an error body is read, to find the message in it.
const ERROR_BODY_READ: usize = 16 * 1024;
/// How much of an error body (or its message) goes into `EngineError::Status` (~1 KiB):
/// enough to explain, small enough for a log line and a client's error event.
const ERROR_BODY_KEEP: usize = 1024;
/// The largest non-streaming completion accepted; a bound so a broken server cannot make us
/// buffer without end.
const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// A configured OpenAI-compatible provider.
pub struct LlmEngine {
    name: String,
    config: ProviderConfig,
    client: reqwest::Client,
}

impl LlmEngine {
    /// Builds the provider's HTTP client (one per provider, so connections are pooled).
    pub fn new(name: &str, config: ProviderConfig) -> Result<Self, ConfigError> {
        // Connecting is part of the `timeout` budget; a connect that times out is reported
        // as unreachable, as no connection was ever made.
        let builder = reqwest::Client::builder().connect_timeout(config.timeout);
        let builder = match (config.http2, config.base_url.starts_with("http://")) {
            (false, _) => builder.http1_only(),
            // No TLS handshake to offer HTTP/2 in: the server is taken to speak it (h2c).
            (true, true) => builder.http2_prior_knowledge(),
            // Offered in the TLS handshake (ALPN); HTTP/1.1 if the server declines.
            (true, false) => builder,
        };
        let client = builder
            .build()
            .map_err(|e| ConfigError::Client { provider: name.to_owned(), reason: error_chain(&e) })?;
        Ok(LlmEngine { name: name.to_owned(), config, client })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn send_error(&self, e: reqwest::Error) -> EngineError {
        if e.is_timeout() && !e.is_connect() {
            return EngineError::Timeout;
        }
        // Refused, DNS, TLS, a connect that timed out, or the connection closed before any
        // response: in each the provider could not be reached. `without_url` keeps a key
        // someone wrote into the URL out of the message.
        EngineError::Unreachable(format!("{}: {}", self.name, error_chain(&e.without_url())))
    }
}

impl fmt::Debug for LlmEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `config`'s key is redacted by `ApiKey`'s own `Debug`.
        f.debug_struct("LlmEngine").field("name", &self.name).field("config", &self.config).finish()
    }
}

#[async_trait]
impl Engine for LlmEngine {
    async fn generate(&self, req: GenerateRequest) -> Result<EngineStream, EngineError> {
        let body = ChatRequest {
            model: &req.model,
            messages: prompt::messages(&req),
            temperature: req.temperature,
            stream: true,
            stream_options: StreamOptions { include_usage: true },
        };
        let mut request = self
            .client
            .post(self.config.endpoint())
            .header(ACCEPT, "text/event-stream, application/json")
            .json(&body);
        if let Some(key) = &self.config.api_key {
            // reqwest marks the header sensitive, so its own `Debug` hides it too.
            request = request.bearer_auth(key.expose());
        }
        tracing::debug!(provider = %self.name, model = %req.model, "sending chat completion");

        let response = match tokio::time::timeout(self.config.timeout, request.send()).await {
            Err(_) => return Err(EngineError::Timeout),
            Ok(Err(e)) => return Err(self.send_error(e)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
        let mut body = stream::idle_bounded(response.bytes_stream(), self.config.idle_timeout);

        if !status.is_success() {
            // A fault while reading an error body only shortens it.
            let (text, _) = read_capped(&mut body, ERROR_BODY_READ).await;
            return Err(EngineError::Status { status: status.as_u16(), body: error_body_message(&text) });
        }
        if is_json {
            let events = read_completion(&mut body).await?;
            return Ok(futures::stream::iter(events.into_iter().map(Ok)).boxed());
        }
        Ok(stream::events(body))
    }
}

/// Reads a non-streaming completion and turns it into the events a stream would have given.
async fn read_completion(body: &mut Body) -> Result<Vec<EngineEvent>, EngineError> {
    let bytes = match read_capped(body, MAX_JSON_BODY + 1).await {
        (_, Some(fault)) => return Err(fault.into_error()),
        (bytes, None) if bytes.len() > MAX_JSON_BODY => {
            return Err(EngineError::Malformed(format!("completion larger than {MAX_JSON_BODY} bytes")));
        }
        (bytes, None) => bytes,
    };
    let completion: Completion = serde_json::from_slice(&bytes).map_err(|e| {
        EngineError::Malformed(format!("{e} in completion {}", cut(&String::from_utf8_lossy(&bytes), 200)))
    })?;
    if let Some(error) = completion.error {
        return Err(EngineError::Status {
            status: 200,
            body: cut(&wire::error_message(&error), ERROR_BODY_KEEP),
        });
    }
    let choices = completion.choices.unwrap_or_default();
    let Some(choice) = choices.into_iter().find(|c| c.index.unwrap_or(0) == 0) else {
        return Err(EngineError::Malformed("completion without choices".to_owned()));
    };
    let text = choice
        .message
        .and_then(|m| m.content)
        .map(wire::Content::into_text)
        .or(choice.text)
        .unwrap_or_default();
    let finish = choice.finish_reason.as_deref().map_or(FinishReason::Stop, wire::finish_reason);
    let mut events = Vec::with_capacity(2);
    if !text.is_empty() {
        events.push(EngineEvent::Delta(text));
    }
    events.push(EngineEvent::Done { finish, usage: completion.usage.map(Into::into) });
    Ok(events)
}

/// Reads the body until it ends or holds at least `cap` bytes. A fault comes back with what
/// was read before it (an error body cut short is still worth showing).
async fn read_capped(body: &mut Body, cap: usize) -> (Vec<u8>, Option<Fault>) {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.next().await {
            None => break,
            Some(Ok(chunk)) => out.extend_from_slice(&chunk),
            Some(Err(fault)) => return (out, Some(fault)),
        }
    }
    (out, None)
}

/// The message of an error body, when it is OpenAI's `{"error": {"message": …}}` (or a
/// similar shape), else the body itself; cut to about 1 KiB either way.
fn error_body_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let message = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => {
            match value.get("error").or_else(|| value.get("detail")).or_else(|| value.get("message")) {
                Some(error) => wire::error_message(error),
                None => text.trim().to_owned(),
            }
        }
        Err(_) => text.trim().to_owned(),
    };
    cut(&message, ERROR_BODY_KEEP)
}

/// `s` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// An error and its sources on one line: reqwest's own message ("error sending request")
/// says little; the cause ("Connection refused") says what happened.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = s.source();
    }
    out
}
