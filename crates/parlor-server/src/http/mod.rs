//! The HTTP API: one module per resource, each owning its routes; the error type, the
//! extractors and pagination shared by all.
//!
//! Every API route is served under `/api/` and, identically, `/api/v1/`. Trailing slashes
//! are stripped before routing (see [`crate::app`]), so routes are declared without them.

pub mod attachments;
pub mod chatbots;
pub mod contacts;
pub mod conversations;
pub mod error;
pub mod extract;
pub mod health;
pub mod inboxes;
pub mod messages;
pub mod pagination;
pub mod validate;
pub mod web_chats;

use crate::app::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use error::ApiError;

/// The API routes, relative to `/api` (or `/api/v1`).
fn api() -> Router<AppState> {
    Router::new()
        .merge(chatbots::router())
        .merge(web_chats::router())
        .merge(inboxes::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(attachments::router())
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
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(req.method().to_string())
}
