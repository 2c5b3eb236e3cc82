//! A fake OpenAI-compatible chat-completions server, for driving the real client in tests.
//!
//! It is a small axum app on `127.0.0.1:0` (bound before it is spawned, so it is ready when
//! [`FakeLlm::start`] returns) that records every request it gets and answers each
//! `POST …/chat/completions` with the next scripted [`Reply`]. A reply is a status, a
//! content type, an optional delay before the headers and a list of [`Step`]s: writes of raw
//! bytes, pauses, a stall, an abort. That is the real wire format at the byte level, so tests
//! can split an event across TCP writes, put several in one, cut the connection mid-stream
//! or stop talking, as real servers and networks do.
//!
//! ```ignore
//! let fake = FakeLlm::start().await;
//! fake.push(Reply::stream(&["Hel", "lo"]));
//! // point a provider at fake.base_url(), generate, then:
//! assert_eq!(fake.requests()[0].model(), Some("llama3"));
//! ```

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, Version, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The pause between the writes of [`Reply::events`] and [`Reply::split`], so that each goes
/// out in its own TCP segment and reaches the client as its own read.
pub const WRITE_GAP: Duration = Duration::from_millis(5);

/// The prompt token count [`Reply::stream`] and [`Reply::completion`] report.
pub const FAKE_PROMPT_TOKENS: u64 = 10;

/// One part of a scripted response body.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes as one body chunk.
    Write(Vec<u8>),
    /// Wait before the next step.
    Pause(Duration),
    /// Send nothing more, but keep the connection open (a stalled provider).
    Stall,
    /// Fail the body: the server drops the connection without ending the chunked body.
    Abort,
}

impl Step {
    pub fn text(s: &str) -> Self {
        Step::Write(s.as_bytes().to_vec())
    }
}

/// One scripted response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// How long to wait before sending the response headers.
    pub header_delay: Duration,
    pub steps: Vec<Step>,
}

impl Reply {
    /// A `200 text/event-stream` reply made of `steps`.
    pub fn raw(steps: Vec<Step>) -> Self {
        Reply {
            status: 200,
            content_type: "text/event-stream".to_owned(),
            header_delay: Duration::ZERO,
            steps,
        }
    }

    /// A normal OpenAI stream, each event in its own write: a role-only chunk, one chunk per
    /// piece, a chunk with `finish_reason: "stop"`, the usage-only chunk (prompt
    /// [`FAKE_PROMPT_TOKENS`], completion = number of pieces) and `[DONE]`.
    pub fn stream(pieces: &[&str]) -> Self {
        let completion = pieces.len() as u64;
        let mut events = vec![role_chunk()];
        events.extend(pieces.iter().map(|p| delta_chunk(p)));
        events.push(finish_chunk("stop"));
        events.push(usage_chunk(FAKE_PROMPT_TOKENS, completion));
        Self::events(events.iter().map(Value::to_string).chain([DONE.to_owned()]))
    }

    /// Each payload framed as `data: <payload>\n\n`, in its own write, [`WRITE_GAP`] apart.
    /// Nothing is added: include `[DONE]` when the stream should end properly.
    pub fn events<I>(payloads: I) -> Self
    where
        I: IntoIterator,
        I::Item: std::fmt::Display,
    {
        let mut steps = Vec::new();
        for p in payloads {
            if !steps.is_empty() {
                steps.push(Step::Pause(WRITE_GAP));
            }
            steps.push(Step::text(&sse(&p.to_string())));
        }
        Self::raw(steps)
    }

    /// `raw` bytes written in pieces cut at the given byte offsets (which may fall inside an
    /// event, a line or a UTF-8 character), [`WRITE_GAP`] apart.
    pub fn split(raw: &[u8], at: &[usize]) -> Self {
        let mut steps = Vec::new();
        let mut start = 0;
        for &end in at.iter().chain([&raw.len()]) {
            let end = end.clamp(start, raw.len());
            if !steps.is_empty() {
                steps.push(Step::Pause(WRITE_GAP));
            }
            steps.push(Step::Write(raw[start..end].to_vec()));
            start = end;
        }
        Self::raw(steps)
    }

    /// A JSON reply with any status.
    pub fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            content_type: "application/json".to_owned(),
            header_delay: Duration::ZERO,
            steps: vec![Step::text(&body.to_string())],
        }
    }

    /// An error as OpenAI sends it: `{"error": {"message", "type", "param", "code"}}`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
        )
    }

    /// A whole (non-streaming) completion, as a server that ignores `stream: true` sends it;
    /// usage: prompt [`FAKE_PROMPT_TOKENS`], completion 1.
    pub fn completion(content: &str) -> Self {
        Self::json(
            200,
            &json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "fake",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": FAKE_PROMPT_TOKENS, "completion_tokens": 1,
                          "total_tokens": FAKE_PROMPT_TOKENS + 1}
            }),
        )
    }

    /// Waits `delay` before sending the headers (a slow first byte).
    pub fn delay_headers(mut self, delay: Duration) -> Self {
        self.header_delay = delay;
        self
    }

    /// Appends a step.
    pub fn then(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }
}

/// `data: <payload>\n\n`.
pub fn sse(payload: &str) -> String {
    format!("data: {payload}\n\n")
}

/// The payload that ends an OpenAI stream.
pub const DONE: &str = "[DONE]";

fn chunk(choices: Value, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake",
        "system_fingerprint": null,
        "choices": choices,
        "usage": usage
    })
}

/// The first chunk OpenAI sends: role only, empty content.
pub fn role_chunk() -> Value {
    chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]),
        Value::Null,
    )
}

/// A chunk carrying one piece of content.
pub fn delta_chunk(content: &str) -> Value {
    chunk(
        json!([{"index": 0, "delta": {"content": content}, "logprobs": null, "finish_reason": null}]),
        Value::Null,
    )
}

/// The chunk with the finish reason and an empty delta.
pub fn finish_chunk(reason: &str) -> Value {
    chunk(json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": reason}]), Value::Null)
}

/// The usage-only last chunk `stream_options.include_usage` asks for: empty `choices`.
pub fn usage_chunk(prompt_tokens: u64, completion_tokens: u64) -> Value {
    chunk(
        json!([]),
        json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
               "total_tokens": prompt_tokens + completion_tokens}),
    )
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `HTTP/1.1`, or `HTTP/2.0` from a client that spoke HTTP/2.
    pub version: axum::http::Version,
    /// The client's address: requests from one address came over one connection.
    pub peer: SocketAddr,
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    /// The body as JSON (`Value::String` of the raw text when it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }

    pub fn temperature(&self) -> Option<f64> {
        self.body.get("temperature").and_then(Value::as_f64)
    }

    /// The `messages` array (empty when absent).
    pub fn messages(&self) -> &[Value] {
        self.body.get("messages").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide its own failure behind ours.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running fake. Dropping it stops the server.
pub struct FakeLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FakeLlm {
    /// Binds `127.0.0.1:0` and serves. Panics when it cannot bind (a test setup failure).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("fake_llm: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake_llm: local address");
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(handle).with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            // Ends only when the test's runtime stops or the fake is dropped.
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
        });
        FakeLlm { addr, shared, server }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `base_url` to configure a provider with (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues a reply; queued replies are served in order, one per completion request.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// The reply served when the queue is empty. Without one, such a request gets a 500
    /// with an OpenAI error body saying no reply was scripted.
    pub fn set_default(&self, reply: Reply) {
        *lock(&self.shared.default) = Some(reply);
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A base URL nothing listens on: binds a port, then frees it. (Another process could take
/// the port in between; on a test machine that is rare enough.)
pub async fn refused_base_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("fake_llm: bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("fake_llm: local address");
    drop(listener);
    format!("http://{addr}/v1")
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    version: Version,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    lock(&shared.requests).push(RecordedRequest {
        version,
        peer,
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let reply = if method == Method::POST && uri.path().ends_with("/chat/completions") {
        let next = lock(&shared.script).pop_front();
        next.or_else(|| lock(&shared.default).clone())
            .unwrap_or_else(|| Reply::error(500, "fake_llm: no reply scripted for this request"))
    } else {
        Reply::error(404, "fake_llm: only POST …/chat/completions is served")
    };
    if !reply.header_delay.is_zero() {
        tokio::time::sleep(reply.header_delay).await;
    }
    let body = futures::stream::unfold(reply.steps.into_iter(), |mut steps| async move {
        loop {
            match steps.next()? {
                Step::Write(bytes) => return Some((Ok(Bytes::from(bytes)), steps)),
                Step::Pause(d) => tokio::time::sleep(d).await,
                Step::Stall => futures::future::pending::<()>().await,
                Step::Abort => return Some((Err(std::io::Error::other("fake_llm: abort")), steps)),
            }
        }
    });
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    if let Ok(value) = reply.content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
