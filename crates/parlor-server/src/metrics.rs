//! Prometheus metrics at `GET /metrics` (public): requests counted and timed by method,
//! matched route and status; streams open; engine latency and tokens; the database pools.
//!
//! The `metrics` facade records into one process-wide recorder, which can be installed only
//! once; tests start many apps in one process, so [`handle`] installs it on first use and
//! every app after shares it. That makes this module's `OnceLock` the one global of the
//! server: it holds no app state, only the process's counters, which is what a scrape reads.
//! Other modules record with the `metrics` macros (`metrics::counter!(...)`) and their
//! series appear here without further wiring.

use crate::app::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parlor_core::engine::Usage;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Request latency buckets, in seconds: from a cached read to a slow model's whole answer.
const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

const HTTP_DURATION: &str = "http_request_duration_seconds";
const ENGINE_FIRST_TOKEN: &str = "parlor_engine_first_token_seconds";
const ENGINE_DURATION: &str = "parlor_engine_duration_seconds";

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Histograms, not the exporter's default summaries: buckets add up across instances.
        let builder = || {
            [HTTP_DURATION, ENGINE_FIRST_TOKEN, ENGINE_DURATION].iter().fold(
                PrometheusBuilder::new(),
                |b, name| {
                    b.set_buckets_for_metric(Matcher::Full((*name).into()), LATENCY_BUCKETS)
                        .expect("buckets are not empty")
                },
            )
        };
        match builder().install_recorder() {
            Ok(handle) => handle,
            Err(e) => {
                // Another recorder owns the process (an embedding program's): serve an
                // empty page rather than fail the app.
                tracing::warn!(error = %e, "metrics: a recorder is already installed; /metrics stays empty");
                builder().build_recorder().handle()
            }
        }
    })
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(render))
}

/// The metrics in Prometheus's text format: `http_requests_total` and
/// `http_request_duration_seconds` (a histogram; for a stream, the time to its first byte),
/// each labelled `method`, `route` (the matched route, e.g. `/api/chatbots/{id}`, or
/// `unmatched`) and `status`; `parlor_open_streams` (a gauge by `kind`: `completions`,
/// `events`); `parlor_engine_first_token_seconds` and `parlor_engine_duration_seconds`
/// (histograms from a reply's start, by `engine`: `knowledge`, `provider`);
/// `parlor_engine_tokens_total` (by `engine` and `type`: `prompt`, `completion`, as the
/// provider reports them); `parlor_db_pool_connections` (by `pool` and `state`: `idle`,
/// `in_use`) and `parlor_db_pool_max_connections` (by `pool`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format.", content_type = "text/plain", body = String)),
)]
async fn render(State(state): State<AppState>) -> Response {
    // Pool gauges are read when scraped: sqlx keeps the counts, so this costs no query.
    for p in state.store.pool_stats() {
        let gauge =
            |s: &'static str| metrics::gauge!("parlor_db_pool_connections", "pool" => p.pool, "state" => s);
        gauge("idle").set(f64::from(p.idle));
        gauge("in_use").set(f64::from(p.open.saturating_sub(p.idle)));
        metrics::gauge!("parlor_db_pool_max_connections", "pool" => p.pool).set(f64::from(p.max));
    }
    let mut r = handle().render().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

/// Middleware: counts and times each request. It runs inside the router, where the matched
/// route is known; labels use that template, never the raw path, so ids and junk URLs cannot
/// blow up the number of series.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = match *req.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => req.method().as_str().to_string(),
        _ => "other".to_string(),
    };
    let start = Instant::now();
    let response = next.run(req).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(start.elapsed().as_secs_f64());
    response
}

/// A reply's first piece of text came, `after` its start (retrieval included: for the
/// knowledge engine that is most of its work).
pub(crate) fn engine_first_token(engine: &'static str, after: Duration) {
    metrics::histogram!(ENGINE_FIRST_TOKEN, "engine" => engine).record(after.as_secs_f64());
}

/// A reply ended (however) after `took`; `usage` when the provider reported tokens.
pub(crate) fn engine_reply(engine: &'static str, took: Duration, usage: Option<&Usage>) {
    metrics::histogram!(ENGINE_DURATION, "engine" => engine).record(took.as_secs_f64());
    if let Some(u) = usage {
        metrics::counter!("parlor_engine_tokens_total", "engine" => engine, "type" => "prompt")
            .increment(u.prompt_tokens);
        metrics::counter!("parlor_engine_tokens_total", "engine" => engine, "type" => "completion")
            .increment(u.completion_tokens);
    }
}
