//! The bench's fake LLM upstream: a minimal OpenAI-compatible `POST /v1/chat/completions`
//! that streams at once, run as a child process of its own (`parlor-bench --fake-upstream`).
//!
//! Its own process, so its sockets do not count against the bench's (or Parlor's) open-file
//! limit when 10,000 streams are held, and its work does not blur the bench's timings. The
//! test kit's fake upstream is dev-only, so the bench carries this one.
//!
//! It speaks HTTP/1.1 and, to a client that starts with it, HTTP/2 (h2c, as a provider with
//! `http2 = true` on an `http` base URL does), with no limit on the streams of a connection
//! (a real server's is often 100–250; see the README's provider section).
//!
//! The model name picks the behaviour:
//! - `instant`: the whole answer in one write, role chunk, two deltas, the finish chunk and
//!   `[DONE]`: an upstream whose own time to first delta is as small as it gets.
//! - `stall`: the role chunk and the first delta, then nothing but an SSE comment every 10 s
//!   (so the connection stays alive and Parlor's idle timeout never fires), forever.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::io::Write;
use std::time::Duration;

/// The first delta's text; the bench looks for it in both responses.
pub(crate) const FIRST_DELTA: &str = "Zebra";

fn chunk(delta: &str, finish: Option<&str>) -> String {
    let choice = serde_json::json!({"index": 0, "delta": {"content": delta}, "finish_reason": finish});
    let body = serde_json::json!({"id": "b", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]});
    format!("data: {body}\n\n")
}

fn role_chunk() -> String {
    let choice =
        serde_json::json!({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null});
    let body = serde_json::json!({"id": "b", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]});
    format!("data: {body}\n\n")
}

async fn completions(body: Bytes) -> Response {
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let stall = request["model"] == "stall";
    let first = format!("{}{}", role_chunk(), chunk(FIRST_DELTA, None));
    let body = if stall {
        let keep_alive = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Some((Ok::<_, Infallible>(Bytes::from_static(b": keep-alive\n\n")), ()))
        });
        let head = futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(first)) });
        Body::from_stream(futures::StreamExt::chain(head, keep_alive))
    } else {
        let whole = format!("{first}{}{}data: [DONE]\n\n", chunk(" crossing", None), chunk("", Some("stop")));
        // A stream of one piece, as a real upstream answers (chunked, no length).
        Body::from_stream(futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(whole)) }))
    };
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// Serves on a port of the kernel's choice, prints `ADDR` on stdout for the parent, and runs
/// until killed.
pub(crate) async fn serve() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(out, "{addr}")?;
    out.flush()?;
    let router = axum::Router::new().route("/v1/chat/completions", axum::routing::post(completions));
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    // No cap on one connection's streams (hyper's default is 200): Parlor sends all its
    // replies over one connection when its provider has `http2 = true`.
    http.http2().max_concurrent_streams(None);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (http, service) = (http.clone(), service.clone());
        tokio::spawn(async move {
            let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
        });
    }
}
