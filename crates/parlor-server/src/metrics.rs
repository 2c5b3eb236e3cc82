//! Prometheus metrics at `GET /metrics` (public): requests counted and timed by method,
//! matched route and status.
//!
//! The `metrics` facade records into one process-wide recorder, which can be installed only
//! once; tests start many apps in one process, so [`handle`] installs it on first use and
//! every app after shares it. That makes this module's `OnceLock` the one global of the
//! server: it holds no app state, only the process's counters, which is what a scrape reads.
//! Other modules record with the `metrics` macros (`metrics::counter!(...)`) and their
//! series appear here without further wiring.

use crate::app::AppState;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Request latency buckets, in seconds: from a cached read to a slow model's whole answer.
const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .expect("buckets are not empty")
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
/// `unmatched`) and `status`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format.", content_type = "text/plain", body = String)),
)]
async fn render() -> Response {
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
    metrics::histogram!("http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}
