//! The HTTP API: one module per resource, each owning its routes; the error type, the
//! extractors and pagination shared by all.
//!
//! Every API route is served under `/api/` and, identically, `/api/v1/`. Trailing slashes
//! are stripped before routing (see [`crate::app`]), so routes are declared without them.

pub mod attachments;
pub mod chatbots;
pub mod completions;
pub mod contacts;
pub mod conversations;
pub mod error;
pub mod extract;
pub mod health;
pub mod inboxes;
pub mod knowledge;
pub mod messages;
pub mod pagination;
pub mod records;
pub mod validate;
pub mod web_chats;

use crate::app::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use error::ApiError;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The API routes, relative to `/api` (or `/api/v1`).
fn api() -> Router<AppState> {
    Router::new()
        .merge(chatbots::router())
        .merge(completions::router())
        .merge(web_chats::router())
        .merge(inboxes::router())
        .merge(knowledge::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(attachments::router())
        .merge(records::router())
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let limit = state.limits.json_body;
    Router::new()
        .nest("/api", api())
        .nest("/api/v1", api())
        .merge(health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
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
