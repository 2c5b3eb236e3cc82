//! The HTTP API: one module per resource, each owning its routes; the error type, the
//! extractors and pagination shared by all.
//!
//! Every API route is served under `/api/` and, identically, `/api/v1/`. Trailing slashes
//! are stripped before routing (see [`crate::app`]), so routes are declared without them.
//!
//! Routes are registered only through `utoipa_axum::routes!` on an `OpenApiRouter`, whose
//! router half is served and whose document half is the OpenAPI document ([`openapi`]): a
//! handler joins both at once, or neither.

pub mod attachments;
pub mod chatbots;
pub mod completions;
pub mod contacts;
pub mod conversations;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod inboxes;
pub mod key_cache;
pub mod knowledge;
pub mod limits;
pub mod messages;
pub mod openapi;
pub mod pagination;
pub mod records;
pub mod uploads;
pub mod validate;
pub mod web_chats;
pub mod webhook_records;
pub mod widget;

use crate::app::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use error::ApiError;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

/// The API routes, relative to `/api` (or `/api/v1`).
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(chatbots::router())
        .merge(completions::router())
        .merge(web_chats::router())
        .merge(inboxes::router())
        .merge(knowledge::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(events::router())
        .merge(messages::router())
        .merge(attachments::router())
        .merge(widget::router())
        .merge(webhook_records::router())
        .merge(records::router())
        .merge(uploads::router())
}

/// Every route with its documentation: the API under `/api`, and the public operations
/// routes. `/api/v1` serves the same API routes (see [`router`]); the document lists the
/// `/api` form.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .nest("/api", api())
        .merge(health::router())
        .merge(crate::metrics::router())
        .merge(openapi::router())
        .merge(widget::assets_router())
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let limit = state.limits.json_body;
    // The recorder must exist before the first request is counted.
    crate::metrics::handle();
    let (routes, _) = routes().split_for_parts();
    let (v1, _) = api().split_for_parts();
    let rate_limits = limits::RateLimits::new(&state.limits);
    Router::new()
        .merge(routes)
        .nest("/api/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        // Inside the routes, so the metrics see the matched route and the limits the key.
        .layer(axum::middleware::from_fn_with_state(rate_limits, limits::rate_limit))
        // Outside the rate limits, so their 429s carry the widget's CORS headers too.
        .layer(axum::middleware::from_fn_with_state(widget::Gate::new(&state), widget::gate))
        .layer(limits::body_timeout(&state.limits))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        // Outermost last: a request id is set first, so the trace span and the response
        // both carry it; a panic anywhere below becomes the contract's 500, not a dropped
        // connection.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The header that carries a request's id, in logs and in the response.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::Internal("a handler panicked".into()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(req.method().to_string())
}
