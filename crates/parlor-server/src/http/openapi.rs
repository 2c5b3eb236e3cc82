//! The OpenAPI 3.1 document, generated from the code, and the pages that serve it.
//!
//! The document is never written by hand: each handler carries `#[utoipa::path]`, each
//! resource module registers its handlers with `utoipa_axum::routes!` on an `OpenApiRouter`,
//! and [`super::routes`] merges those routers. The app's router and this document are two
//! halves of that one value, so a handler registered this way is served and documented
//! together, and the test suite compares the router's own route table with the document to
//! catch anything added around it.
//!
//! Shared pieces live here: the DRF error shapes (`Detail`, `FieldErrors`), the error
//! response groups handlers list in `responses(...)`, the `Api-Key` security scheme, the
//! document's description (the DRF-derived choices `API.md` leaves open), and the two public
//! routes `GET /api/schema/` (the JSON) and `GET /api/docs/` (swagger-ui, compiled in).

use super::pagination::OriginalPath;
use super::widget::VisitorScheme;
use crate::app::AppState;
use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr, Schema};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The name of the security scheme every authenticated operation lists.
pub(crate) const API_KEY: &str = "Api-Key";

/// Where the docs page lives; its routes are the only ones the document does not list (a
/// page and its assets, not API operations).
pub(crate) const DOCS_PATH: &str = "/api/docs";

/// The document's fixed parts; the paths come from the handlers (see [`document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parlor API",
        description = include_str!("openapi.md"),
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Detail, FieldErrors, NestedFieldErrors, BadRequestBody, NestedBadRequestBody)),
    modifiers(&ApiKeyScheme, &VisitorScheme),
    tags(
        (name = "chatbots", description = "Chatbots: what they know and how they answer."),
        (name = "knowledge", description = "A chatbot's knowledge documents; an FAQ entry is a document whose title is the question."),
        (name = "web chats", description = "Web chats, the channels contacts reach a chatbot through; each is an inbox."),
        (name = "inboxes", description = "The read-only inbox view of web chats."),
        (name = "contacts", description = "The people who talk to chatbots."),
        (name = "conversations", description = "Conversations between a contact and a chatbot (or agents)."),
        (name = "messages", description = "Messages of conversations."),
        (name = "attachments", description = "Files messages carry."),
        (name = "widget", description = "The web chat widget: its script and hosted page, and the public visitor API it uses (no API key: a visitor session token, scoped to the visitor's own conversations; `allowedOrigins` enforced with CORS)."),
        (name = "operations", description = "Health, readiness, metrics and this document; public, without a key."),
    ),
)]
struct ApiDoc;

/// Adds the `Api-Key` scheme: `Authorization: Api-Key <key>`.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Api-Key <key>`, the key printed by `parlor serve`'s first start or `parlor key create`. \
                 `Bearer <key>` and `Token <key>` are accepted too; the scheme word is case-insensitive.",
            ))),
        );
    }
}

/// The whole document: the handlers' paths under the fixed parts, with the contract's path
/// spelling (API paths end with `/`; routes are declared without it, see [`super`]).
pub(crate) fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::routes().into_openapi());
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths.into_iter().map(|(path, item)| (contract_path(&path), item)).collect();
    doc
}

/// `/api/chatbots/{id}` → `/api/chatbots/{id}/`; paths outside `/api/` (`/healthz`) stay.
pub(crate) fn contract_path(route: &str) -> String {
    if route.starts_with("/api/") && !route.ends_with('/') { format!("{route}/") } else { route.to_string() }
}

/// The document as served, rendered once: it is a function of the code alone.
fn document_json() -> &'static Arc<serde_json::Value> {
    static DOC: OnceLock<Arc<serde_json::Value>> = OnceLock::new();
    DOC.get_or_init(|| Arc::new(serde_json::to_value(document()).expect("the document serializes")))
}

/// `/api/schema` and `/api/docs`, relative to the root.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(schema))
        .route(DOCS_PATH, get(docs_page))
        .route(&format!("{DOCS_PATH}/{{*rest}}"), get(docs_asset))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/schema",
    tag = "operations",
    operation_id = "schema",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object),
    ),
)]
async fn schema() -> Json<Arc<serde_json::Value>> {
    Json(document_json().clone())
}

/// swagger-ui's settings: this server's document, authorizations kept across reloads.
fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("/api/schema/").persist_authorization(true)))
        .clone()
}

/// The docs page. Routing strips the trailing slash, but the page's assets are relative
/// (`./swagger-ui.css`), so the page must be loaded as `/api/docs/`: without the slash it
/// redirects there (swagger-ui's own router does the same, but would loop with our
/// slash-stripping).
async fn docs_page(original: Option<axum::Extension<OriginalPath>>) -> Response {
    match original {
        Some(axum::Extension(OriginalPath(p))) if p.ends_with('/') => swagger_file(""),
        _ => Redirect::permanent(&format!("{DOCS_PATH}/")).into_response(),
    }
}

async fn docs_asset(Path(rest): Path<String>) -> Response {
    swagger_file(&rest)
}

fn swagger_file(tail: &str) -> Response {
    match utoipa_swagger_ui::serve(tail, swagger_config()) {
        Ok(Some(file)) => {
            let mut r = (StatusCode::OK, file.bytes.into_owned()).into_response();
            if let Ok(ct) = HeaderValue::from_str(&file.content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            if file.gzpipped {
                r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            r
        }
        Ok(None) => super::error::ApiError::NotFound.into_response(),
        Err(e) => super::error::ApiError::Internal(format!("swagger-ui: {e}")).into_response(),
    }
}

// ---------------------------------------------------------------------------------------
/// One Server-Sent Event of a `text/event-stream` response, as a client's parser sees it
/// (`data` is JSON text; `event` is absent for the completions stream's unnamed events).
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only: events are built by the stream handlers")]
pub(crate) struct ServerSentEvent {
    /// The event's JSON payload, as text.
    data: String,
    /// The event name (`message`, `delta`); absent for unnamed events.
    event: Option<String>,
    /// A resumable id, for `Last-Event-ID`.
    id: Option<String>,
    /// Reconnection delay, never sent by Parlor.
    retry: Option<u64>,
}

// Error shapes, for `responses(...)`.

/// Every error that is not about fields: `{"detail": "message"}`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only: errors are built by `ApiError`")]
pub(crate) struct Detail {
    #[schema(example = "Not found.")]
    detail: String,
}

/// DRF field errors: `{"field": ["message", ...]}`, every field at once; errors not tied to
/// one field under `nonFieldErrors`.
pub(crate) struct FieldErrors;

impl PartialSchema for FieldErrors {
    fn schema() -> RefOr<Schema> {
        json_schema(serde_json::json!({
            "type": "object",
            "description": "DRF field errors: each key is a field (camelCase) or `nonFieldErrors`, each value its messages.",
            "minProperties": 1,
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"name": ["This field is required."]},
        }))
    }
}

impl ToSchema for FieldErrors {
    fn name() -> Cow<'static, str> {
        "FieldErrors".into()
    }
}

/// DRF field errors for nested input: an object field nests an object of errors, a list
/// field a list with one error object per item (`{}` for an item without errors).
pub(crate) struct NestedFieldErrors;

impl PartialSchema for NestedFieldErrors {
    fn schema() -> RefOr<Schema> {
        json_schema(serde_json::json!({
            "type": "object",
            "description": "DRF field errors, nested like the input: an object field's errors are an object, a list field's a list with one object per item.",
            "minProperties": 1,
            "additionalProperties": {"anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "array", "items": {"type": "object"}},
                {"type": "object"},
            ]},
            "example": {"canvas": {"title": ["This field is required."]}},
        }))
    }
}

impl ToSchema for NestedFieldErrors {
    fn name() -> Cow<'static, str> {
        "NestedFieldErrors".into()
    }
}

/// A schema written as JSON (for shapes Rust types cannot express, such as a map of lists).
fn json_schema(v: serde_json::Value) -> RefOr<Schema> {
    RefOr::T(serde_json::from_value(v).expect("a valid schema"))
}

/// 400: field errors, or `{"detail"}` for a body that is not JSON at all.
pub(crate) struct BadRequestBody;

impl PartialSchema for BadRequestBody {
    fn schema() -> RefOr<Schema> {
        json_schema(serde_json::json!({"anyOf": [
            {"$ref": "#/components/schemas/FieldErrors"},
            {"$ref": "#/components/schemas/Detail"},
        ]}))
    }
}

impl ToSchema for BadRequestBody {}

/// 400 for nested input.
pub(crate) struct NestedBadRequestBody;

impl PartialSchema for NestedBadRequestBody {
    fn schema() -> RefOr<Schema> {
        json_schema(serde_json::json!({"anyOf": [
            {"$ref": "#/components/schemas/NestedFieldErrors"},
            {"$ref": "#/components/schemas/Detail"},
        ]}))
    }
}

impl ToSchema for NestedBadRequestBody {}

/// The 429 of the rate limits, with `Retry-After`.
const THROTTLED: &str = "Throttled: `{\"detail\": \"Request was throttled. Expected available in N seconds.\"}` with `Retry-After: N` (only when rate limits are configured).";

/// Errors of an authenticated operation on one row (read, delete, actions).
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum ReadErrors {
    /// No key, a header of another shape, or an unknown or revoked key (`WWW-Authenticate: Api-Key`).
    #[response(status = 401)]
    Unauthorized(Detail),
    /// No such row in this organization (or an id that is not a UUID): `{"detail": "Not found."}`.
    #[response(status = 404)]
    NotFound(Detail),
    /// The method is not served on this path; `Allow` lists those that are.
    #[response(status = 405)]
    MethodNotAllowed(Detail),
    #[response(status = 429, description = THROTTLED, headers(("Retry-After" = u64, description = "Seconds until a request may succeed.")))]
    Throttled(Detail),
}

/// Errors of an authenticated list.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum ListErrors {
    /// A filter that does not parse (`["Must be a valid UUID."]`).
    #[response(status = 400)]
    BadRequest(FieldErrors),
    /// No key, a header of another shape, or an unknown or revoked key.
    #[response(status = 401)]
    Unauthorized(Detail),
    /// A page past the end (`Invalid page.`), a cursor that does not decode (`Invalid cursor`),
    /// or a parent row (in the path) that does not exist.
    #[response(status = 404)]
    NotFound(Detail),
    /// The method is not served on this path.
    #[response(status = 405)]
    MethodNotAllowed(Detail),
    #[response(status = 429, description = THROTTLED, headers(("Retry-After" = u64)))]
    Throttled(Detail),
}

/// Errors of an authenticated operation with a JSON body.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum WriteErrors {
    /// Field errors (all of them at once), or `{"detail": "JSON parse error - ..."}`.
    #[response(status = 400)]
    BadRequest(BadRequestBody),
    /// No key, a header of another shape, or an unknown or revoked key.
    #[response(status = 401)]
    Unauthorized(Detail),
    /// The row in the path does not exist in this organization.
    #[response(status = 404)]
    NotFound(Detail),
    /// The method is not served on this path.
    #[response(status = 405)]
    MethodNotAllowed(Detail),
    /// The client paused longer than the body timeout while sending the body.
    #[response(status = 408)]
    RequestTimeout(Detail),
    /// The body is larger than the JSON limit (1 MiB by default).
    #[response(status = 413)]
    PayloadTooLarge(Detail),
    /// A body that is not `application/json`: `Unsupported media type "…" in request.`
    #[response(status = 415)]
    UnsupportedMediaType(Detail),
    #[response(status = 429, description = THROTTLED, headers(("Retry-After" = u64)))]
    Throttled(Detail),
}

/// [`WriteErrors`] for bodies with nested input (messages).
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum NestedWriteErrors {
    /// Field errors, nested like the input, or `{"detail": "JSON parse error - ..."}`.
    #[response(status = 400)]
    BadRequest(NestedBadRequestBody),
    /// No key, a header of another shape, or an unknown or revoked key.
    #[response(status = 401)]
    Unauthorized(Detail),
    /// The row in the path does not exist in this organization.
    #[response(status = 404)]
    NotFound(Detail),
    /// The method is not served on this path.
    #[response(status = 405)]
    MethodNotAllowed(Detail),
    /// The client paused longer than the body timeout while sending the body.
    #[response(status = 408)]
    RequestTimeout(Detail),
    /// The body is larger than the JSON limit (1 MiB by default).
    #[response(status = 413)]
    PayloadTooLarge(Detail),
    /// A body that is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(Detail),
    #[response(status = 429, description = THROTTLED, headers(("Retry-After" = u64)))]
    Throttled(Detail),
}
