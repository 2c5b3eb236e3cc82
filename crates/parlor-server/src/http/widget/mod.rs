//! The web chat widget: a public visitor API under `/api/widget/{webChat}/`, and the assets
//! that use it (`/widget/{webChat}.js`, the hosted page `/chat/{webChat}`).
//!
//! A website's visitors never see an organization's API key. The widget starts a *visitor
//! session* instead: a new contact, and a random 256-bit token (stored only as its SHA-256
//! digest, like API keys) that the browser keeps and sends as `Authorization: Visitor
//! <token>`. The token reaches that contact's own conversations in that one web chat and
//! nothing else: every other API route still wants an API key, and a conversation of another
//! visitor answers 404 exactly like one that does not exist.
//!
//! Every request under `/api/widget/{webChat}/` first passes [`gate`]: the web chat must
//! exist and serve the widget, the request's `Origin` must be one of its `allowedOrigins`
//! (any when the list is empty), it must be active, and the client IP and session must be
//! within their rate limits. The gate also answers CORS preflights and adds the CORS headers,
//! so the widget works from any allowed site.

mod api;
mod assets;
mod gate;
mod uploads;

pub(crate) use gate::{Gate, gate};

use super::error::ApiError;
use crate::app::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use parlor_core::id::OrgId;
use parlor_core::model::{VisitorSession, WebChat};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

/// The visitor API, relative to `/api` (and `/api/v1`).
pub(crate) fn router() -> OpenApiRouter<AppState> {
    api::router().merge(uploads::router())
}

/// The script and the hosted page, relative to the root.
pub(crate) fn assets_router() -> OpenApiRouter<AppState> {
    assets::router()
}

/// The security scheme visitor operations list.
pub(crate) const VISITOR: &str = "Visitor";

/// Visitor tokens start with this, so they are told apart from API keys (`prl_`) at a glance.
const TOKEN_PREFIX: &str = "pvs_";

/// Adds the `Visitor` scheme to the document: `Authorization: Visitor <token>`.
pub(crate) struct VisitorScheme;

impl utoipa::Modify for VisitorScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            VISITOR,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Visitor <token>`, the token `POST /api/widget/{webChat}/sessions/` returned. It reaches only \
                 that visitor's own conversations in that web chat.",
            ))),
        );
    }
}

/// The web chat a widget request names, as checked by [`gate`] (it exists, serves the
/// widget, the origin is allowed, it is active). Handlers take this instead of reading the
/// path, so none can skip the checks.
#[derive(Clone, Debug)]
pub(crate) struct WidgetChat {
    pub(crate) org: OrgId,
    pub(crate) web_chat: WebChat,
}

impl<S: Send + Sync> FromRequestParts<S> for WidgetChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<WidgetChat>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("a widget route was reached without the gate".into()))
    }
}

/// A widget visitor, identified by its session token, on the web chat its session belongs
/// to. Taking this extractor is what makes a handler need a visitor.
#[derive(Clone, Debug)]
pub(crate) struct Visitor {
    pub(crate) session: VisitorSession,
    pub(crate) chat: WebChat,
}

/// `Authorization: Visitor <token>`; the scheme word is case-insensitive.
fn visitor_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::VisitorUnauthorized("Authentication credentials were not provided."));
    };
    let invalid = ApiError::VisitorUnauthorized("Invalid visitor token format.");
    let value = value.to_str().map_err(|_| invalid)?;
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case(VISITOR) => Ok(token),
        _ => Err(ApiError::VisitorUnauthorized("Invalid visitor token format.")),
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let chat = WidgetChat::from_request_parts(parts, state).await?;
        let token = visitor_token(&parts.headers)?;
        let session = state.store.find_visitor_session(&crate::keys::hash(token)).await?;
        // A token of another web chat is as unknown here as a made-up one.
        match session {
            Some(s) if s.web_chat == chat.web_chat.id && s.org == chat.org => {
                Ok(Visitor { session: s, chat: chat.web_chat })
            }
            _ => Err(ApiError::VisitorUnauthorized("Invalid visitor token.")),
        }
    }
}

/// A new session token: 256 random bits.
fn new_token() -> String {
    let key = crate::keys::generate();
    format!("{TOKEN_PREFIX}{}", &key[crate::keys::KEY_PREFIX.len()..])
}
